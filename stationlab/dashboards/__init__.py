"""Panel dashboards and the widget apps, served together by ``stationlab dashboard``.

The index page (``/``) links each route. Every browser session gets its own database
connection, closed when the session ends.

Who may change data: the flag, calibration and upload pages write with the server's own
connection, so they are served only where the person at the browser is the one who started the
server, on a loopback address. On any other address, and behind JupyterHub (where the hub's
login says who someone is but the service still holds one connection for everybody), the
dashboards are read-only: only :data:`READ_ONLY` pages, each on a read-only database session.
The pages read through :meth:`stationlab.Client.reading`: on the replica when
``STATIONLAB_READ_DSN`` names one.
Analysts flag and calibrate in their own JupyterLab, where the widgets connect as their own role.
"""

from __future__ import annotations

import importlib.resources
import ipaddress
import logging
import os
import secrets

import panel as pn

from stationlab.dashboards.panels import DataRecovery, StationExplorer, StationHealth, StationReport

logger = logging.getLogger(__name__)

#: Route -> title, in the order the index page lists them.
TITLES = {"health": "Station health", "recovery": "Data recovery",
          "explorer": "Station explorer", "report": "Weekly reports", "flags": "Flag editor",
          "calibration": "Calibration editor", "upload": "Upload logger files"}
#: The pages that only read.
READ_ONLY = ("health", "recovery", "explorer", "report")


def loopback(address: str) -> bool:
    """Whether ``address`` (an IP address or a host name) reaches this machine only."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:  # a host name other machines may resolve to us
        return False


def _session_client(dsn: str | None, read_only: bool = False):
    import stationlab

    client = stationlab.connect(dsn, read_only=read_only)
    if pn.state.curdoc is not None:
        pn.state.on_session_destroyed(lambda _context: client.close())
    return client


def _session_arg(name: str) -> str:
    """A ``?name=`` argument of the page's URL (empty outside a served page)."""
    values = (pn.state.session_args or {}).get(name) or [b""]
    return values[0].decode(errors="replace")


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
        "report": lambda: StationReport(client, station=_session_arg("station")),
        "flags": lambda: FlagEditor(client),
        "calibration": lambda: CalibrationEditor(CalibrationRepository(client.conn)),
        "upload": lambda: UploadWidget(lambda name, data, station:
                                       import_upload(name, data, station, dsn=dsn)),
    }[route]()
    return pn.Column(f"# {TITLES[route]}", "[All dashboards](./)", body,
                     sizing_mode="stretch_width")


def routes(dsn: str | None = None, *, read_only: bool = False) -> dict:
    """Route -> function building the page for a new session; ``read_only``: only the
    :data:`READ_ONLY` pages, on read-only sessions."""
    return {route: (lambda route=route: page(route, _session_client(dsn, read_only), dsn))
            for route in (READ_ONLY if read_only else TITLES)}


def read_only_reason(address: str, read_only: bool = False) -> str | None:
    """Why the dashboards on ``address`` are read-only (``None`` if they are not)."""
    from stationlab.dashboards import hub_auth

    if read_only:
        return "--read-only was given"
    if hub_auth.running_under_hub():
        return "behind JupyterHub every visitor would write as this service's database role"
    if not loopback(address):
        return f"{address} is not a loopback address and these pages have no login"
    return None


def serve(*, port: int = 5006, address: str = "127.0.0.1", dsn: str | None = None,
          show: bool = False, threaded: bool = False, prefix: str | None = None,
          read_only: bool = False):
    """Serve the dashboards (blocks unless ``threaded``); ``/`` is the index page.

    Parameters
    ----------
    prefix
        URL prefix of every page, e.g. ``/services/dashboards/`` behind JupyterHub. When the hub
        started this process as its service, pages are for hub-logged-in users only.
    read_only
        Serve only the pages that read; they are read-only anyway off loopback and behind the
        hub (:func:`read_only_reason`).
    """
    from stationlab.dashboards import hub_auth

    reason = read_only_reason(address, read_only)
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
    pages = routes(dsn, read_only=reason is not None)
    return pn.serve(pages, port=port, address=address, websocket_origin=origins, show=show,
                    title={route: TITLES[route] for route in pages}, threaded=threaded,
                    start=True, index=str(index),
                    **({"prefix": prefix} if prefix else {}), **extra)
