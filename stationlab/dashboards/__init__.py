"""Panel dashboards and the widget apps, served together by ``stationlab dashboard``.

The index page (``/``) links each route. Every browser session gets its own database
connection, closed when the session ends.
"""

from __future__ import annotations

import importlib.resources
import logging
import os
import secrets

import panel as pn

from stationlab.dashboards.panels import DataRecovery, StationExplorer, StationHealth

logger = logging.getLogger(__name__)

#: Route -> title, in the order the index page lists them.
TITLES = {"health": "Station health", "recovery": "Data recovery",
          "explorer": "Station explorer", "flags": "Flag editor",
          "calibration": "Calibration editor", "upload": "Upload logger files"}


def _session_client(dsn: str | None):
    import stationlab

    client = stationlab.connect(dsn)
    if pn.state.curdoc is not None:
        pn.state.on_session_destroyed(lambda _context: client.close())
    return client


def page(route: str, client, dsn: str | None = None) -> pn.viewable.Viewable:
    """The app behind ``route`` (one of :data:`TITLES`) on ``client``'s connection; uploads
    import through their own connection to ``dsn``."""
    from stationlab.calibration import CalibrationRepository
    from stationlab.widgets import CalibrationEditor, FlagEditor, UploadWidget, import_upload

    pn.extension("tabulator")
    body = {
        "health": lambda: StationHealth(client),
        "recovery": lambda: DataRecovery(client),
        "explorer": lambda: StationExplorer(client),
        "flags": lambda: FlagEditor(client),
        "calibration": lambda: CalibrationEditor(CalibrationRepository(client.conn)),
        "upload": lambda: UploadWidget(lambda name, data, station:
                                       import_upload(name, data, station, dsn=dsn)),
    }[route]()
    return pn.Column(f"# {TITLES[route]}", "[All dashboards](./)", body,
                     sizing_mode="stretch_width")


def routes(dsn: str | None = None) -> dict:
    """Route -> function building the page for a new session."""
    return {route: (lambda route=route: page(route, _session_client(dsn), dsn))
            for route in TITLES}


def serve(*, port: int = 5006, address: str = "127.0.0.1", dsn: str | None = None,
          show: bool = False, threaded: bool = False, prefix: str | None = None):
    """Serve the dashboards (blocks unless ``threaded``); ``/`` is the index page.

    Parameters
    ----------
    prefix
        URL prefix of every page, e.g. ``/services/dashboards/`` behind JupyterHub. When the hub
        started this process as its service, pages are for hub-logged-in users only.
    """
    from stationlab.dashboards import hub_auth

    os.environ.setdefault("BOKEH_RESOURCES", "server")  # no CDN: works offline
    origins = [f"{address}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"]
    extra = {}
    if hub_auth.running_under_hub():
        # Browsers reach us through the hub's proxy, under the hub's own host name.
        origins = ["*"]
        extra = {"auth_provider": hub_auth.HubAuthProvider(),
                 "cookie_secret": secrets.token_hex(32)}
    logger.info("serving dashboards on http://%s:%s%s", address, port, prefix or "/")
    index = importlib.resources.files("stationlab.dashboards").joinpath("index.html")
    return pn.serve(routes(dsn), port=port, address=address, websocket_origin=origins,
                    show=show, title=TITLES, threaded=threaded, start=True, index=str(index),
                    **({"prefix": prefix} if prefix else {}), **extra)
