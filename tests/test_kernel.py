"""The analysts' kernel (stationlab/kernel): Bokeh, Panel and HoloViews send their JavaScript
with the output, never a URL of a public CDN, whatever the cell asks for."""

from __future__ import annotations

import json
import queue
import re

import pytest
from jupyter_client.manager import KernelManager

from stationlab import kernel

#: What Bokeh's and Panel's loaders fetch: ``const js_urls = [...]`` and the like.
LOADS = re.compile(r"(?:const|var|let) (js_urls|css_urls|js_modules|js_exports) = "
                   r"(\[[^\]]*\]|\{[^}]*\})")
CELLS = {
    "holoviews": 'import holoviews as hv\nhv.extension("bokeh")',
    "panel": 'import panel as pn\npn.extension("tabulator", inline=False)',
    "bokeh": "from bokeh.io import output_notebook\noutput_notebook()",
}


def _outputs(code: str, kernel_env: str) -> str:
    """Everything a fresh kernel of the spec found via JUPYTER_PATH (or the plain ipykernel one)
    displays for ``code``."""
    from jupyter_client.kernelspec import KernelSpecManager

    manager = KernelSpecManager()
    if kernel_env == "stationlab":
        manager.kernel_dirs = [str(kernel.data_dir() / "kernels")]
    else:
        manager.kernel_dirs = []
        manager.ensure_native_kernel = True
    km = KernelManager(kernel_name="python3", kernel_spec_manager=manager)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        msg_id = kc.execute(code)
        shown = []
        while True:
            msg = kc.get_iopub_msg(timeout=120)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "error":
                pytest.fail("\n".join(msg["content"]["traceback"]))
            if msg["msg_type"] in ("display_data", "execute_result"):
                shown.append(json.dumps(msg["content"]["data"]))
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        return "\n".join(shown)
    except queue.Empty:
        pytest.fail(f"the kernel did not finish {code!r}")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_the_kernel_spec_sets_the_environment_the_module_names():
    spec = json.loads((kernel.data_dir() / "kernels" / "python3" / "kernel.json").read_text())
    assert spec["env"] == kernel.ENVIRONMENT
    assert "--ext=stationlab.kernel" in spec["argv"]


@pytest.mark.parametrize("library", sorted(CELLS))
def test_notebook_resources_are_inline(library):
    shown = _outputs(CELLS[library], "stationlab")
    fetched = LOADS.findall(shown)
    assert fetched, "no resource loader in the output"
    assert {found for _, found in fetched} <= {"[]", "{}"}
    # BokehJS itself came with the output (its source is some megabytes)
    assert "/* BEGIN bokeh.min.js */" in shown


def test_a_plain_kernel_would_have_fetched_from_a_cdn():
    """What the stationlab kernel prevents (so the test above can fail)."""
    fetched = dict(LOADS.findall(_outputs(CELLS["holoviews"], "plain")))
    assert "https://cdn.bokeh.org/bokeh/release/bokeh-" in fetched["js_urls"]
