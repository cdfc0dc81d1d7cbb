"""The ``stationlab`` command line. Verb names and options are a contract: other tools call them."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path

import click

from stationlab import __version__, config
from stationlab.errors import StationlabError


class Timestamp(click.ParamType):
    """An ISO 8601 date or time; without an offset it is UTC."""

    name = "timestamp"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date or time (e.g. 2016-01-09 or "
                      "2016-01-09T15:30Z)", param, ctx)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _run(func, *args, **kwargs):
    """Call into the package; turn its errors into a one-line message and exit status 1."""
    try:
        return func(*args, **kwargs)
    except StationlabError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
@click.version_option(__version__, prog_name="stationlab")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """Met-mast and lidar logger data: import, store in PostgreSQL, export."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@main.group()
def db() -> None:
    """The database: start, stop, describe, migrate."""


@db.command("up")
def db_up() -> None:
    """Start the embedded PostgreSQL under $STATIONLAB_HOME (nothing if STATIONLAB_DSN is set)."""
    from stationlab.storage import server

    if config.external_dsn() is not None:
        click.echo("using the external server named by STATIONLAB_DSN / PG*; nothing to start")
        return
    dsn = _run(server.up)
    click.echo(f"embedded PostgreSQL running in {server.data_dir()}")
    click.echo(f"dsn: {dsn}")


@db.command("down")
def db_down() -> None:
    """Stop the embedded PostgreSQL."""
    from stationlab.storage import server

    if config.external_dsn() is not None:
        click.echo("using an external server; nothing to stop")
        return
    stopped = _run(server.down)
    click.echo("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")


@db.command("status")
def db_status() -> None:
    """Which server is in use, whether it runs, and what the database holds."""
    from stationlab import storage
    from stationlab.storage import server

    status = _run(server.status)
    click.echo(f"server: {status.kind}, {'running' if status.running else 'not running'}")
    if status.data_dir:
        click.echo(f"data: {status.data_dir}")
    if status.pid:
        click.echo(f"pid: {status.pid}")
    if status.version:
        click.echo(f"version: PostgreSQL {status.version}")
    if status.dsn:
        click.echo(f"dsn: {status.dsn}")
    if not status.running:
        sys.exit(3)
    with storage.connect(status.dsn or "", check=False) as conn:
        backend = storage.db.recorded_backend(conn)
        if backend is None:
            click.echo("schema: not migrated (run `stationlab db migrate`)")
            return
        click.echo(f"backend: {backend}")
        for row in storage.catalog.summary(conn):
            click.echo(_describe_station(row))


def _describe_station(row: dict) -> str:
    span = ""
    if row["ts_first"] is not None:
        span = f", {row['ts_first']:%Y-%m-%d %H:%M} to {row['ts_last']:%Y-%m-%d %H:%M} UTC"
    return (f"station {row['station']}: {row['n_channels']} channels, {row['n_files']} files, "
            f"{row['n_readings']:,} readings{span}")


@db.command("migrate")
@click.option("--backend", type=click.Choice(["plain", "timescaledb"]),
              help="Force a backend on a fresh database (default: detect).")
def db_migrate(backend: str | None) -> None:
    """Create or upgrade the schema; report the backend found (TimescaleDB or plain)."""
    _migrate(backend)


def _migrate(backend: str | None = None) -> None:
    from stationlab import storage

    with storage.connect(check=False) as conn:
        result = _run(storage.migrate, conn, backend=backend)
    names = {"plain": "plain PostgreSQL (range partitions)", "timescaledb": "TimescaleDB"}
    applied = ", ".join(result.applied) if result.applied else "none (up to date)"
    click.echo(f"backend: {names[result.backend]}; schema version {result.version}; "
               f"applied: {applied}")


@main.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--station", help="Station for every file (default: from each file's header).")
@click.option("--mapping", "mappings", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="Mapping file (TOML) for generic CSV files; may be repeated. See "
                   "stationlab.parse.generic_csv for the format.")
def import_(paths: tuple[str, ...], station: str | None, mappings: tuple[str, ...]) -> None:
    """Import logger files and folders (recursively). Exits 1 if any file failed."""
    from stationlab import ingest

    outcomes = _run(ingest.import_paths, paths, station=station, mappings=mappings,
                    on_outcome=lambda o: click.echo(o.describe()))
    failed = sum(o.failed for o in outcomes)
    click.echo(f"{len(outcomes)} files: {len(outcomes) - failed} ok, {failed} failed")
    if failed:
        sys.exit(1)


@main.command("export")
@click.option("--station", required=True, help="Station name.")
@click.option("--format", "format_", type=click.Choice(["windographer"]), default="windographer",
              show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output file.")
@click.option("--start", type=Timestamp(), help="First time included (ISO 8601; UTC if no offset).")
@click.option("--end", type=Timestamp(), help="First time excluded (ISO 8601; UTC if no offset).")
def export(station: str, format_: str, out: Path, start, end) -> None:
    """Export a station's readings to a file."""
    from stationlab.export import export_station

    result = _run(export_station, station, out, format=format_, start=start, end=end)
    click.echo(_describe_export(result))


def _describe_export(result) -> str:
    span = "no readings"
    if result.ts_first is not None:
        span = f"{result.ts_first:%Y-%m-%d %H:%M} to {result.ts_last:%Y-%m-%d %H:%M} UTC"
    return (f"{result.path}: station {result.station}, {result.format}, {result.channels} "
            f"channels, {result.rows:,} rows, {result.readings:,} readings, {span}")


@main.command("formats")
def formats_() -> None:
    """List the logger file formats stationlab reads."""
    from stationlab import parse

    for fmt in parse.formats():
        click.echo(f"{fmt.name:14} {fmt.description}")


@main.command("demo")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the exports (default: $STATIONLAB_HOME/exports).")
def demo(out: Path | None) -> None:
    """Set up the database, import the bundled sample files, export each station."""
    from stationlab import ingest, storage
    from stationlab.export import export_station
    from stationlab.storage import server

    if config.external_dsn() is None:
        _run(server.up)
        click.echo(f"database: embedded PostgreSQL in {server.data_dir()}")
    else:
        click.echo("database: the external server named by STATIONLAB_DSN / PG*")
    _migrate()
    sample = files("stationlab").joinpath("sample_data", "loggers")
    outcomes = _run(ingest.import_paths, [Path(str(sample))],
                    on_outcome=lambda o: click.echo(o.describe()))
    out = out or config.home() / "exports"
    with storage.connect() as conn:
        stations = [row["station"] for row in storage.catalog.summary(conn)]
    click.echo("")
    for name in stations:
        result = _run(export_station, name, out / f"{name}.windographer.txt")
        click.echo(_describe_export(result))
    if any(o.failed for o in outcomes):
        sys.exit(1)
