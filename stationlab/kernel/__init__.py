"""The analysts' Python kernel: stationlab's plots and widgets render in JupyterLab offline.

BokehJS, Panel's and HoloViews' JavaScript are sent with the notebook output ("inline") instead of
being fetched from public CDNs, which field offices and locked-down networks cannot reach. The
kernel spec in ``share/kernels/python3`` (found through ``JUPYTER_PATH``, which ``stationlab lab``
and ``hub/jupyterhub_config.py`` set with :func:`environment`) starts IPython with this extension
and with ``PANEL_INLINE`` and ``BOKEH_RESOURCES`` set, so no notebook has to ask:

- ``PANEL_INLINE=true``: ``pn.extension(...)`` inlines, even when a cell passes ``inline=False``
  (Panel reads the variable first);
- ``BOKEH_RESOURCES=inline``: ``bokeh.io.output_notebook()``;
- this extension: ``hv.extension("bokeh")``, whose own ``inline`` defaults to ``False``, gets the
  inline resources too (Panel's notebook loader is given Bokeh's ``INLINE`` in place of ``CDN``).

Panel inlines only the stylesheets of what it first renders; the ones a widget asks for later (a
theme's ``default.css`` when a plot is replaced, ``loading.css``, ``markdown.css``) are links to its
CDN. This module is also a Jupyter server extension (enabled by ``etc/jupyter_server_config.d``):
it serves Panel's own ``dist`` folder at ``<base url>stationlab/panel/<version>/dist/`` and, when
the server knows the full URL its users open, sets ``PANEL_CDN_ROOT`` (Panel's setting for
air-gapped sites) to it for the kernels the server starts: on the hub ``JUPYTERHUB_PUBLIC_URL``
(``STATIONLAB_HUB_PUBLIC_URL``), under ``stationlab lab`` the URL it prints. Panel mangles a
root without a scheme and host (it strips its own base URL "/" from it), so with no full URL
known the links stay on the CDN.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path

#: The environment of every analyst kernel (also in ``share/kernels/python3/kernel.json``).
ENVIRONMENT = {"PANEL_INLINE": "true", "BOKEH_RESOURCES": "inline"}

#: Options of the Jupyter server (``stationlab lab`` and the hub's single-user servers): nothing
#: fetched from outside either, no extension manager querying PyPI, no news feed, no update check.
SERVER_OPTIONS = ["--LabApp.extension_manager=readonly", "--LabApp.news_url=None",
                  "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]

#: The module whose ``CDN`` resources become ``INLINE``.
_LOADER = "panel.io.notebook"

#: Where the Jupyter server serves Panel's ``dist`` folder, under its base URL.
PANEL_ROOT = "stationlab/panel/"

#: The variable ``stationlab lab`` sets to the URL it prints (the hub sets its own).
PUBLIC_URL = "STATIONLAB_LAB_PUBLIC_URL"


def data_dir() -> Path:
    """The Jupyter data folder holding the kernel spec (an entry of ``JUPYTER_PATH``)."""
    return Path(__file__).resolve().parent / "share"


def config_dir() -> Path:
    """The Jupyter config folder (an entry of ``JUPYTER_CONFIG_PATH``): JupyterLab's page config
    offers no build with node (extensions come from wheels) and asks nothing about news."""
    return Path(__file__).resolve().parent / "etc"


def jupyter_path(current: str | None = None) -> str:
    """``JUPYTER_PATH`` with :func:`data_dir` first (``current``: the value it had)."""
    return os.pathsep.join([str(data_dir()), *([current] if current else [])])


def jupyter_config_path(current: str | None = None) -> str:
    """``JUPYTER_CONFIG_PATH`` with :func:`config_dir` first (``current``: the value it had)."""
    return os.pathsep.join([str(config_dir()), *([current] if current else [])])


def environment(current: dict | None = None) -> dict[str, str]:
    """``JUPYTER_PATH`` and ``JUPYTER_CONFIG_PATH`` for a Jupyter server whose kernels and
    JupyterLab are stationlab's (``current``: the environment they extend)."""
    current = os.environ if current is None else current
    return {"JUPYTER_PATH": jupyter_path(current.get("JUPYTER_PATH")),
            "JUPYTER_CONFIG_PATH": jupyter_config_path(current.get("JUPYTER_CONFIG_PATH"))}


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "stationlab.kernel"}]


def _load_jupyter_server_extension(serverapp) -> None:
    """Jupyter server's hook: Panel's stylesheets from this server (see the module's docstring)."""
    from jupyter_server.utils import url_path_join
    from tornado.web import StaticFileHandler

    spec = importlib.util.find_spec("panel")  # found, not imported: the server does not need it
    if spec is None or not spec.submodule_search_locations:
        return
    dist = Path(next(iter(spec.submodule_search_locations))) / "dist"
    base_url = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(r".*$", [
        (url_path_join(base_url, PANEL_ROOT, r"[^/]+/dist/(.*)"), StaticFileHandler,
         {"path": str(dist)})])
    # The full URL of this server as its users open it (the hub's includes /user/<name>/).
    public = os.environ.get("JUPYTERHUB_PUBLIC_URL") or os.environ.get(PUBLIC_URL)
    if public and "://" in public:
        # The kernels this server starts inherit its environment; a site's own setting stays.
        os.environ.setdefault("PANEL_CDN_ROOT", url_path_join(public, PANEL_ROOT))


def _inline(module) -> None:
    module.CDN = module.INLINE


class _PatchAfterImport(importlib.abc.MetaPathFinder):
    """Applies :func:`_inline` to Panel's notebook loader the moment it is imported, before any
    other module (HoloViews' renderer) takes a reference to it."""

    def find_spec(self, name, path=None, target=None):
        if name != _LOADER:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module):
            original(module)
            _inline(module)

        loader.exec_module = exec_module
        return spec


def load_ipython_extension(ipython=None) -> None:
    """IPython's hook (``--ext=stationlab.kernel``): inline resources from here on."""
    os.environ.update(ENVIRONMENT)
    if _LOADER in sys.modules:
        _inline(sys.modules[_LOADER])
    elif not any(isinstance(f, _PatchAfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchAfterImport())
