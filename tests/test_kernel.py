"""The analysts' kernel (stationlab/kernel): Bokeh, Panel and HoloViews send their JavaScript
with the output, never a URL of a public CDN, whatever the cell asks for."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def jupyter_server(tmp_path_factory):
    """A Jupyter server with stationlab's environment under a hub-like base URL (``/user/x/``),
    told its public URL as the hub tells it; yields its root URL and token."""
    port, token = _free_port(), "stationlab-test"
    env = {**os.environ, **kernel.environment(),
           "JUPYTERHUB_PUBLIC_URL": f"http://127.0.0.1:{port}/user/x/",
           "JUPYTER_RUNTIME_DIR": str(tmp_path_factory.mktemp("runtime"))}
    env.pop("PANEL_CDN_ROOT", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
         f"--port={port}", "--ip=127.0.0.1", f"--IdentityProvider.token={token}",
         "--ServerApp.base_url=/user/x/", *kernel.SERVER_OPTIONS],
        env=env, cwd=tmp_path_factory.mktemp("notebooks"), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    root = f"http://127.0.0.1:{port}/user/x/"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{root}api/status?token={token}", timeout=5).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail("the Jupyter server did not start:\n" + server.stderr.read())
            time.sleep(0.5)
    yield root, token
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)
    server.stderr.close()


def _run_in_a_kernel(root: str, token: str, code: str) -> str:
    """What ``code`` prints in a new kernel the server starts (REST API, kernel websocket)."""
    from tornado.websocket import websocket_connect

    request = urllib.request.Request(f"{root}api/kernels?token={token}", method="POST",
                                     data=json.dumps({"name": "python3"}).encode())
    with urllib.request.urlopen(request, timeout=30) as answer:
        kernel_id = json.load(answer)["id"]

    async def execute() -> str:
        ws = await websocket_connect(
            f"ws{root[4:]}api/kernels/{kernel_id}/channels?token={token}")
        msg_id = uuid.uuid4().hex
        ws.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                       "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False}}))
        printed = []
        while True:
            msg = json.loads(await ws.read_message())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "error":
                pytest.fail("\n".join(msg["content"]["traceback"]))
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                ws.close()
                return "".join(printed)

    try:
        return asyncio.run(asyncio.wait_for(execute(), 120))
    finally:
        urllib.request.urlopen(urllib.request.Request(
            f"{root}api/kernels/{kernel_id}?token={token}", method="DELETE"), timeout=30).close()


def test_stylesheets_panel_asks_for_later_come_from_the_analysts_own_server(jupyter_server):
    """Panel inlines what it renders first; the stylesheets of later updates (loading.css, a
    Markdown pane's, the theme's) are links. In the analysts' kernels they point at their own
    server, by its full public URL (Panel mangles a path without a host), which serves Panel's
    files; not at cdn.holoviz.org."""
    import panel

    root, token = jupyter_server
    printed = _run_in_a_kernel(root, token, (
        "import panel as pn\n"
        "from panel.io.resources import CDN_DIST\n"
        "print(CDN_DIST)\n"
        "print(*pn.pane.Markdown('x')._stylesheets)\n"))
    dist, stylesheet = printed.split()
    assert dist == f"{root}{kernel.PANEL_ROOT}{panel.__version__}/dist/"
    assert stylesheet == f"{dist}css/markdown.css"
    for path in ("css/markdown.css", "css/loading.css", "bundled/theme/default.css"):
        with urllib.request.urlopen(f"{dist}{path}?v=1",
                                    timeout=30) as answer:
            assert answer.read() == (Path(panel.__file__).parent / "dist" / path).read_bytes()
