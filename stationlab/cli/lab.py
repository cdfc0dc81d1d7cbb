"""``stationlab dashboard`` (the dashboards and widget apps), ``stationlab lab`` (JupyterLab on
the notebooks) and ``stationlab demo`` (the bundled samples, imported and exported)."""

from __future__ import annotations

import sys
from importlib.resources import files
from pathlib import Path

import click

from stationlab import config
from stationlab.cli._common import _check_database, _connection, _run
from stationlab.wording import plural


@click.command("demo")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the exports (default: the exports store, "
                   "$STATIONLAB_HOME/exports).")
def demo(out: Path | None) -> None:
    """Set up the database, import the bundled sample files, export each station."""
    from stationlab import database, ingest
    from stationlab.cli.db import migrate
    from stationlab.cli.export import describe_export
    from stationlab.export import export_station, store

    if config.external_dsn() is None:
        _run(database.up)
        click.echo(f"database: embedded PostgreSQL in {database.data_dir()}")
    else:
        click.echo("database: the external server named by STATIONLAB_DSN / PG*")
    migrate()
    sample = files("stationlab").joinpath("sample_data", "loggers")
    outcomes = _run(ingest.import_paths, [Path(str(sample))],
                    on_outcome=lambda o: click.echo(o.describe()))
    click.echo("")
    if out is None:  # into the exports store, where `exports list` and `exports path` find them
        built = _run(store.build_exports, formats=("windographer",), sources=("raw", "clean"),
                     progress=None)
        for outcome in built:
            click.echo(outcome.describe())
        click.echo(f"{plural(len(built), 'Windographer file')} (raw and clean) in "
                   f"{store.store_dir()}: `stationlab exports list` lists them")
    else:
        with _connection() as conn:
            stations = database.station_names(conn)
        for name in stations:
            result = _run(export_station, name, out / f"{name}.windographer.txt")
            click.echo(describe_export(result))
    if any(o.failed for o in outcomes):
        sys.exit(1)


@click.command("dashboard")
@click.option("--port", type=int, default=5006, show_default=True)
@click.option("--address", default="127.0.0.1", show_default=True,
              help="Interface to listen on.")
@click.option("--prefix", help="URL prefix of every page (e.g. /services/dashboards/ behind "
                               "JupyterHub, which then requires its login).")
@click.option("--read-only", is_flag=True,
              help="Only the pages that read (always so off loopback and behind the hub).")
def dashboard(port: int, address: str, prefix: str | None, read_only: bool) -> None:
    """Serve the dashboards (station health, data recovery, explorer) and the widget apps.

    The flag, calibration and upload apps write with this server's database connection, so
    they are served on a loopback address only; elsewhere the dashboards are read-only.
    """
    from stationlab import dashboards

    _check_database()
    reason = dashboards.read_only_reason(address, read_only)
    if reason:
        click.echo("read-only: health, data recovery, the explorer and the weekly reports only "
                   f"({reason}); analysts flag and calibrate in their own JupyterLab, as their "
                   "own role")
    click.echo(f"dashboards on http://{address}:{port}{prefix or '/'} (Ctrl+C stops)")
    dashboards.serve(port=port, address=address, prefix=prefix, read_only=read_only)


@click.command("lab")
@click.option("--port", type=int, default=8888, show_default=True)
@click.option("--address", default="127.0.0.1", show_default=True,
              help="Interface to listen on.")
@click.option("--no-browser", is_flag=True, help="Do not open a web browser.")
def lab(port: int, address: str, no_browser: bool) -> None:
    """Open JupyterLab in notebooks/ against the database stationlab uses (the embedded one, or
    STATIONLAB_DSN / PG*): in its notebooks stationlab.connect() needs no argument, and plots and
    widgets render offline."""
    import os
    import secrets
    import socket

    from stationlab import kernel

    try:
        from jupyterlab.labapp import LabApp
    except ImportError as exc:
        raise click.ClickException(f"JupyterLab is not installed ({exc}): scripts/setup, or "
                                   "pip install jupyterlab") from exc

    _check_database()
    with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as probe:
        try:
            probe.bind((address, port))
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {address}:{port} ({exc.strerror}): "
                                       "choose another with --port or --address") from exc
    folder = _notebooks_dir()
    # the kernels, started in notebooks/, find the same server and render with stationlab.kernel
    os.environ["STATIONLAB_HOME"] = str(config.home())
    os.environ.update(kernel.environment())
    token = secrets.token_hex(24)
    host = socket.getfqdn() if address in ("0.0.0.0", "::", "") else address
    host = f"[{host}]" if ":" in host else host
    click.echo(f"JupyterLab in {folder} (Ctrl+C twice stops); open:")
    click.echo(f"http://{host}:{port}/lab?token={token}")
    os.environ[kernel.PUBLIC_URL] = f"http://{host}:{port}/"  # Panel's stylesheets from here
    sys.stdout.flush()
    argv = [f"--ServerApp.ip={address}", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", f"--ServerApp.root_dir={folder}",
            f"--IdentityProvider.token={token}", f"--ServerApp.open_browser={not no_browser}",
            *kernel.SERVER_OPTIONS]
    if os.geteuid() == 0:  # Jupyter refuses root unless told; a container or CI runs as root
        click.echo("running as root: notebooks and their kernels can change anything on this "
                   "machine", err=True)
        argv.append("--ServerApp.allow_root=True")
    LabApp.launch_instance(argv=argv)


def _notebooks_dir() -> Path:
    """The repository's notebooks/ (beside the package), or else ./notebooks, or else ``.``."""
    for folder in (Path(__file__).resolve().parents[2] / "notebooks", Path("notebooks")):
        if folder.is_dir():
            return folder.absolute()
    return Path.cwd()


COMMANDS = [demo, dashboard, lab]
