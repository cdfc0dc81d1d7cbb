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
def import_(paths: tuple[str, ...], station: str | None) -> None:
    """Import logger files and folders (recursively). Exits 1 if any file failed."""
    from stationlab import ingest

    outcomes = _run(ingest.import_paths, paths, station=station,
                    on_outcome=lambda o: click.echo(o.describe()))
    failed = sum(o.failed for o in outcomes)
    click.echo(f"{len(outcomes)} files: {len(outcomes) - failed} ok, {failed} failed")
    if failed:
        sys.exit(1)


EXPORT_FORMATS = ("windographer", "csv", "zip", "parquet")


@main.command("export")
@click.option("--station", required=True, help="Station name.")
@click.option("--format", "format_", type=click.Choice(EXPORT_FORMATS), default="windographer",
              show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output file.")
@click.option("--start", type=Timestamp(), help="First time included (ISO 8601; UTC if no offset).")
@click.option("--end", type=Timestamp(), help="First time excluded (ISO 8601; UTC if no offset).")
@click.option("--exclude-flag", "excluded_flags", multiple=True, metavar="CODE",
              help="Flag code whose values are left out (repeatable; recorded in the preamble; "
                   "takes effect on clean data). Windographer and zip only.")
@click.option("--missing", help="Text written for a missing value (default: empty). "
                                "Windographer and zip only.")
@click.option("--timestamp-format", help="strftime pattern of the stamps (default: "
                                         "%Y-%m-%d %H:%M). Windographer and zip only.")
@click.option("--separator", type=click.Choice(["tab", "comma"]),
              help="Field separator (default: tab). Windographer and zip only.")
def export(station: str, format_: str, out: Path, start, end, excluded_flags, missing,
           timestamp_format, separator) -> None:
    """Export a station's readings to a file, with a progress bar."""
    from stationlab.export import WindographerOptions, export_station

    given = {"excluded_flags": tuple(excluded_flags) or None, "missing": missing,
             "timestamp_format": timestamp_format, "separator": separator}
    given = {k: v for k, v in given.items() if v is not None}
    options = _run(WindographerOptions, **given) if given else None
    result = _run(export_station, station, out, format=format_, start=start, end=end,
                  options=options, progress=None)
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


@main.group()
def exports() -> None:
    """The exports store: every station's files made in advance, served as files."""


@exports.command("build")
@click.option("--station", "stations", multiple=True,
              help="Station to export (repeatable; default: every station).")
@click.option("--format", "formats", multiple=True, type=click.Choice(EXPORT_FORMATS),
              help="Format to make (repeatable; default: all).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Exports made at the same time (at most STATIONLAB_MAX_CONNECTIONS).")
def exports_build(stations: tuple[str, ...], formats: tuple[str, ...], workers: int) -> None:
    """Make the files of stations whose data changed since their last export."""
    from stationlab.export import store

    outcomes = _run(store.build_exports, stations or None, formats or EXPORT_FORMATS,
                    workers=workers, progress=None)
    for outcome in outcomes:
        click.echo(outcome.describe())
    built = sum(o.status == "built" for o in outcomes)
    click.echo(f"{built} built, {len(outcomes) - built} up to date, in {store.store_dir()}")


@exports.command("list")
def exports_list() -> None:
    """The ready files: station, format, rows, data version, when made, where."""
    from stationlab.export import store

    rows = _run(store.list_exports)
    if not rows:
        click.echo("no exports yet; run `stationlab exports build`")
    for row in rows:
        state = "stale" if row["stale"] else "current"
        if not row["present"]:
            state = "missing file"
        click.echo(f"{row['station']}\t{row['format']}\t{row['n_rows']:,} rows\t"
                   f"data version {row['data_version']} ({state})\t"
                   f"{row['created_at']:%Y-%m-%d %H:%M} UTC\t{row['path']}")


@exports.command("path")
@click.option("--station", required=True, help="Station name.")
@click.option("--format", "format_", type=click.Choice(EXPORT_FORMATS), default="windographer",
              show_default=True)
def exports_path(station: str, format_: str) -> None:
    """Print the path of a station's ready file in a format."""
    from stationlab.export import store

    click.echo(_run(store.ready_export, station, format_))
