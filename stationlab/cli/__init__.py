"""The ``stationlab`` command line. Verb names and options are a contract: other tools call them."""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path

import click

from stationlab import __version__, config
from stationlab.errors import StationlabError
from stationlab.wording import plural


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


class Duration(click.ParamType):
    """A duration such as ``10min``, ``1h`` or ``30s``."""

    name = "duration"
    UNITS = {"s": 1, "min": 60, "h": 3600}

    def convert(self, value, param, ctx):
        if isinstance(value, timedelta):
            return value
        match = re.fullmatch(r"\s*(\d+)\s*(s|min|h)\s*", value)
        if not match or int(match[1]) == 0:
            self.fail(f"{value!r} is not a duration like 10min, 1h or 30s", param, ctx)
        return timedelta(seconds=int(match[1]) * self.UNITS[match[2]])


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
        if status.timescaledb:
            click.echo(f"timescaledb: {status.timescaledb}")
        elif backend == "plain" and status.kind == "embedded" and server.timescaledb_installed():
            click.echo("timescaledb: installed, not used (this database was migrated on plain "
                       "PostgreSQL before it was built; `stationlab db migrate --backend "
                       "timescaledb` switches an empty database)")
        for row in storage.catalog.summary(conn):
            click.echo(_describe_station(row))


def _describe_station(row: dict) -> str:
    span = ""
    if row["ts_first"] is not None:
        span = f", {row['ts_first']:%Y-%m-%d %H:%M} to {row['ts_last']:%Y-%m-%d %H:%M} UTC"
    return (f"station {row['station']}: {plural(row['n_channels'], 'channel')}, "
            f"{plural(row['n_files'], 'file')}, {plural(row['n_readings'], 'reading')}{span}")


@db.command("migrate")
@click.option("--backend", type=click.Choice(["plain", "timescaledb"]),
              help="Force a backend on a fresh database (default: detect).")
def db_migrate(backend: str | None) -> None:
    """Create or upgrade the schema; report the backend found (TimescaleDB or plain)."""
    _migrate(backend)


@db.command("compress")
@click.option("--station", help="Only the months holding this station's readings.")
def db_compress(station: str | None) -> None:
    """Compress every finished month not compressed yet (TimescaleDB), whatever the policy says."""
    from stationlab import storage

    with storage.connect(autocommit=True) as conn:
        if not storage.timescale.active(conn):
            click.echo("plain PostgreSQL has no compression; nothing to do")
            return
        if station is not None:
            _run(storage.catalog.require_station, conn, station)
        chunks = _run(storage.timescale.chunks_to_compress, conn, station=station)
        if not chunks:
            click.echo("nothing to compress: every finished month is compressed")
            return
        with click.progressbar(length=len(chunks), label="compressing", file=sys.stderr,
                               item_show_func=lambda c: c and f"{c['range_start']:%Y-%m}") as bar:
            result = _run(storage.timescale.compress, conn, chunks,
                          progress=lambda chunk: bar.update(1, chunk))
    click.echo(f"compressed {plural(result.chunks, 'chunk')} (30 days of readings each); "
               f"readings now take {result.bytes_after / 2**20:,.1f} MB "
               f"(were {result.bytes_before / 2**20:,.1f} MB)")


def _migrate(backend: str | None = None) -> None:
    from stationlab import storage

    with storage.connect(check=False) as conn:
        result = _run(storage.migrate, conn, backend=backend)
    names = {"plain": "plain PostgreSQL (range partitions)", "timescaledb": "TimescaleDB"}
    applied = ", ".join(result.applied) if result.applied else "none (up to date)"
    click.echo(f"backend: {names[result.backend]}; schema version {result.version}; "
               f"applied: {applied}")


@main.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True), metavar="PATH...")
@click.option("--station", help="Station for every file (default: from each file's header).")
@click.option("--parallel", type=click.IntRange(min=1), metavar="N",
              help="Store and queue the files, then import the queue with N workers.")
@click.option("--mapping", "mappings", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="Mapping file (TOML) for generic CSV files; may be repeated; tried before "
                   "the standing ones in $STATIONLAB_HOME/mappings. See "
                   "stationlab.parse.generic_csv for the format.")
@click.option("--stats", "statistics", type=Duration(), metavar="INTERVAL",
              help="Store only each column's Avg, Std, Min and Max over INTERVAL (e.g. 10min), "
                   "computed like Campbell's output processing, instead of every row (for "
                   "20 Hz tables).")
def import_(paths: tuple[str, ...], station: str | None, parallel: int | None,
            mappings: tuple[str, ...], statistics: timedelta | None) -> None:
    """Import logger files, folders (recursively) and archives (zip, gz, 7z, tar: one line per
    file inside, named archive.zip!member.dat). Exits 1 if any file failed."""
    from stationlab import ingest

    if parallel:
        if statistics:
            raise click.UsageError("--stats imports directly: leave out --parallel")
        _import_parallel(paths, station, parallel, mappings)
        return
    outcomes = _run(ingest.import_paths, paths, station=station, mappings=mappings,
                    on_outcome=lambda o: click.echo(o.describe()), statistics=statistics)
    failed = sum(o.failed for o in outcomes)
    click.echo(f"{plural(len(outcomes), 'file')}: {len(outcomes) - failed} ok, {failed} failed")
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
@click.option("--clean", is_flag=True,
              help="Calibrated values, readings under an excluding flag left blank.")
@click.option("--exclude-flag", "excluded_flags", multiple=True, metavar="CODE",
              help="With --clean: flag codes whose readings are left out (repeatable; default: "
                   "each code's own setting); recorded in the preamble. Windographer and zip "
                   "only.")
@click.option("--missing", help="Text written for a missing value (default: empty). "
                                "Windographer and zip only.")
@click.option("--timestamp-format", help="strftime pattern of the stamps (default: "
                                         "%Y-%m-%d %H:%M). Windographer and zip only.")
@click.option("--separator", type=click.Choice(["tab", "comma"]),
              help="Field separator (default: tab). Windographer and zip only.")
@click.option("--flag-status", is_flag=True,
              help="After each data column, a column of the letters of the flags covering each "
                   "time step; the preamble says which flag each letter is. Windographer and "
                   "zip only.")
def export(station: str, format_: str, out: Path, start, end, clean: bool, excluded_flags,
           missing, timestamp_format, separator, flag_status: bool) -> None:
    """Export a station's readings to a file, with a progress bar."""
    from stationlab.export import WindographerOptions, export_station

    given = {"excluded_flags": tuple(excluded_flags) or None, "missing": missing,
             "timestamp_format": timestamp_format, "separator": separator,
             "flag_status": flag_status or None}
    given = {k: v for k, v in given.items() if v is not None}
    options = _run(WindographerOptions, **given) if given else None
    if excluded_flags and not clean:
        raise click.UsageError("--exclude-flag takes effect on clean data: add --clean")
    result = _run(export_station, station, out, format=format_, start=start, end=end,
                  options=options, progress=None, clean=clean)
    click.echo(_describe_export(result))


def _describe_export(result) -> str:
    span = "no readings"
    if result.ts_first is not None:
        span = f"{result.ts_first:%Y-%m-%d %H:%M} to {result.ts_last:%Y-%m-%d %H:%M} UTC"
    text = (f"{result.path}: station {result.station}, {result.format}, {result.channels} "
            f"channels, {result.rows:,} rows, {result.readings:,} readings, {span}")
    if result.not_exported:
        text += (f"\n  not exported: {plural(len(result.not_exported), 'channel')} of times or "
                 "text, "
                 f"not numbers ({', '.join(result.not_exported)}); "
                 "`Station.readings()` reads them")
    return text


@main.command("formats")
def formats_() -> None:
    """List the logger file formats stationlab reads, the real files each was proven on and what
    it knows only from documentation."""
    from stationlab import parse

    known = parse.formats()
    width = max(len(fmt.name) for fmt in known)
    for fmt in known:
        click.echo(f"{fmt.name:{width}}  {fmt.description}")
        for label, items in (("proven on", fmt.proven_on),
                             ("from documentation or assumed", fmt.from_docs)):
            if items:
                click.echo(f"{'':{width}}    {label}: {'; '.join(items)}")


@main.command("demo")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the exports (default: the exports store, "
                   "$STATIONLAB_HOME/exports).")
def demo(out: Path | None) -> None:
    """Set up the database, import the bundled sample files, export each station."""
    from stationlab import ingest, storage
    from stationlab.export import export_station, store
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
    click.echo("")
    if out is None:  # into the exports store, where `exports list` and `exports path` find them
        built = _run(store.build_exports, formats=("windographer",), sources=("raw", "clean"),
                     progress=None)
        for outcome in built:
            click.echo(outcome.describe())
        click.echo(f"{plural(len(built), 'Windographer file')} (raw and clean) in "
                   f"{store.store_dir()}: `stationlab exports list` lists them")
    else:
        with storage.connect() as conn:
            stations = [row["station"] for row in storage.catalog.summary(conn)]
        for name in stations:
            result = _run(export_station, name, out / f"{name}.windographer.txt")
            click.echo(_describe_export(result))
    if any(o.failed for o in outcomes):
        sys.exit(1)


@main.group()
def flags() -> None:
    """Flags: import, export, list, add, remove."""


def _connection():
    from stationlab import storage

    return storage.connect(autocommit=True)


@flags.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--station", required=True, help="Station the flags belong to.")
@click.option("--author", help="Who is flagging (default: $STATIONLAB_AUTHOR or login name).")
def flags_import(file: str, station: str, author: str | None) -> None:
    """Import a brightwind cleaning file or a Windographer flag log (recognised by header)."""
    from stationlab import flags as flagging

    with _connection() as conn:
        result = _run(flagging.import_flag_file, conn, file, station, author=author)
    click.echo(f"{file}: {result.kind} flag file: {result.flags} flags added to {station}")
    if result.new_codes:
        click.echo("new flag codes: " + ", ".join(result.new_codes))
    if result.unmatched:
        click.echo("no channel matched: " + ", ".join(result.unmatched), err=True)
        sys.exit(1)


@flags.command("export")
@click.option("--station", required=True)
@click.option("--format", "format_", type=click.Choice(["windographer"]), default="windographer",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Output file (default: standard output).")
def flags_export(station: str, format_: str, out: Path | None) -> None:
    """Export a station's active flags as a Windographer flag log."""
    from stationlab import flags as flagging

    with _connection() as conn:
        text = _run(flagging.windographer_flag_log, conn, station)
    if out is None:
        click.echo(text.replace("\r\n", "\n"), nl=False)
    else:
        out.write_bytes(text.encode())
        click.echo(f"{out}: {text.count(chr(10)) - 1} flag rows")


@flags.command("list")
@click.option("--station", required=True)
@click.option("--start", type=Timestamp())
@click.option("--end", type=Timestamp())
@click.option("--all", "include_removed", is_flag=True, help="Include removed flags.")
def flags_list(station: str, start, end, include_removed: bool) -> None:
    """List a station's flags: what, when, on what, by whom."""
    from stationlab import flags as flagging

    with _connection() as conn:
        table = _run(flagging.list_flags, conn, station, start=start, end=end,
                     include_removed=include_removed)
    for row in table.iter_rows(named=True):
        target = (row.get("channel_point_name") and f"{row['channel_point_name']} "
                  f"{row['statistic']}") or row.get("column_name") or row.get("point_name") \
            or "whole station"
        state = ""
        if row.get("deleted_at") is not None:
            state = f" [removed by {row['deleted_by']} {row['deleted_at']:%Y-%m-%d %H:%M}]"
        click.echo(f"{row['flag_id']:>6} {row['ts_from']:%Y-%m-%d %H:%M} to "
                   f"{row['ts_to']:%Y-%m-%d %H:%M} {row['code']:<12} {target}: {row['reason']} "
                   f"({row['source']}, {row['author']}, {row['created_at']:%Y-%m-%d %H:%M})"
                   f"{state}")
    click.echo(plural(table.height, "flag"))


@flags.command("add")
@click.option("--station", required=True)
@click.option("--start", type=Timestamp(), required=True)
@click.option("--end", type=Timestamp(), required=True)
@click.option("--code", required=True)
@click.option("--reason", default="")
@click.option("--channel", help="Channel id or export name (default: whole station).")
@click.option("--point", help="Measurement point name.")
@click.option("--author")
def flags_add(station, start, end, code, reason, channel, point, author) -> None:
    """Flag a period of a channel, a measurement point or the whole station."""
    from stationlab.api import Client

    with _connection() as conn:
        target = int(channel) if channel and channel.isdigit() else channel
        flag_id = _run(lambda: Client(conn).station(station).add_flag(
            start, end, code, reason=reason, channel=target, point=point, author=author))
    click.echo(f"flag {flag_id} added")


@flags.command("remove")
@click.argument("flag_id", type=int)
@click.option("--author")
def flags_remove(flag_id: int, author: str | None) -> None:
    """Remove a flag (its row is kept, marked removed)."""
    from stationlab import flags as flagging

    with _connection() as conn:
        _run(flagging.remove_flag, conn, flag_id, author=author)
    click.echo(f"flag {flag_id} removed")


@main.group()
def qc() -> None:
    """Automatic quality control."""


@qc.command("run")
@click.option("--station", required=True)
@click.option("--start", type=Timestamp())
@click.option("--end", type=Timestamp())
@click.option("--rule", "rules", multiple=True, help="Only these rules (repeatable).")
def qc_run(station: str, start, end, rules: tuple[str, ...]) -> None:
    """Run the QC rules over a period, replacing their earlier flags there."""
    from stationlab import qc as quality_control

    with _connection() as conn:
        result = _run(quality_control.run, conn, station, start=start, end=end,
                      rules=list(rules) or None)
    if result.start is None:
        click.echo(f"{station}: no readings to check")
        return
    click.echo(f"{station} {result.start:%Y-%m-%d %H:%M} to {result.end:%Y-%m-%d %H:%M} UTC: "
               + ", ".join(f"{name} {n}" for name, n in result.flags.items()))


@qc.command("rules")
@click.option("--station", help="Show the station's effective parameters.")
def qc_rules(station: str | None) -> None:
    """List the QC rules with their parameters per measurement type."""
    from stationlab import qc as quality_control

    settings = []
    if station:
        with _connection() as conn:
            settings = _run(quality_control.station_settings, conn, station)
    for rule in quality_control.RULES.values():
        click.echo(f"{rule.name} v{rule.version} -> {rule.code}: {rule.description}")
        types = sorted(set(rule.defaults) | {s["measurement_type"] for s in settings
                                             if s["rule"] == rule.name})
        for kind in types:
            params = quality_control.effective_params(rule, kind, settings)
            click.echo(f"    {kind}: {params if params is not None else 'disabled'}")


@qc.command("set")
@click.argument("rule")
@click.argument("params", nargs=-1, metavar="KEY=VALUE...")
@click.option("--station", required=True)
@click.option("--type", "measurement_type", default="*", show_default=True)
@click.option("--disable", is_flag=True)
def qc_set(rule: str, params: tuple[str, ...], station: str, measurement_type: str,
           disable: bool) -> None:
    """Override a rule's parameters at a station: stationlab qc set range high=60 --type ..."""
    from stationlab import qc as quality_control

    values = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="PARAMS")
        try:
            values[key] = float(value)
        except ValueError:
            raise click.BadParameter(f"{item!r}: the value must be a number") from None
    with _connection() as conn:
        _run(quality_control.configure, conn, station, rule, measurement_type=measurement_type,
             enabled=not disable, **values)
    click.echo(f"{station}: {rule} ({measurement_type}) "
               + ("disabled" if disable else f"set {values}"))
# --- Fetching, uploads and the import queue (issue 6) ---------------------------------------

def _import_parallel(paths: tuple[str, ...], station: str | None, workers: int,
                     mappings: tuple[str, ...]) -> None:
    from stationlab import fetch, worker
    from stationlab.parse import generic_csv

    loaded = [_run(generic_csv.read_mapping, m) for m in mappings]

    received = _run(fetch.upload_paths, paths, station=station, source="cli")
    failed = 0
    for item in received:
        if item.status == "already received" and item.file_status == "imported":
            click.echo(f"{item.name}: already imported")
        elif item.failed:
            failed += 1
            click.echo(item.describe())
    report = _run(worker.run_workers, workers, on_outcome=lambda o: click.echo(o.describe()),
                  mappings=loaded)
    failed += report.failed
    click.echo(report.describe())
    if failed:
        sys.exit(1)


@main.command("upload")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True), metavar="PATH...")
@click.option("--station", help="Station the files belong to (default: from each file's header).")
@click.option("--author", help="Who brings the files (default: the system user).")
def upload(paths: tuple[str, ...], station: str | None, author: str | None) -> None:
    """Add files by hand: store them in the raw store and queue them for `stationlab worker`.

    Archives queue each file inside them. Exits 1 if any file could not be queued.
    """
    from stationlab import fetch

    received = _run(fetch.upload_paths, paths, station=station, author=author,
                    on_received=lambda r: click.echo(r.describe()))
    if any(r.failed for r in received):
        sys.exit(1)


@main.command("fetch")
@click.option("--source", "source_name", metavar="NAME", help="Fetch only this source.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Sources configuration (default: $STATIONLAB_HOME/sources.toml).")
@click.option("--forever", is_flag=True, help="Keep fetching each source at its `every`.")
def fetch_(source_name: str | None, config_file: Path | None, forever: bool) -> None:
    """Copy new files from the configured sources into the raw store and queue them.

    Safe to run at any time: what was fetched before is not fetched again, and everything not
    fetched yet is. Exits 1 if a source or a file could not be fetched.
    """
    import time

    from stationlab import fetch, sources

    chosen = _run(fetch.select, _run(sources.load, config_file), source_name)
    last: dict[str, datetime] = {}
    while True:
        due = fetch.due(chosen, last, datetime.now(UTC)) if forever else chosen
        for source in due:
            last[source.name] = datetime.now(UTC)
        received = _run(fetch.fetch_sources, due,
                        on_received=lambda r: click.echo(r.describe()))
        queued = sum(r.status == "queued" for r in received)
        failed = sum(r.failed for r in received)
        click.echo(f"fetched {plural(len(due), 'source')}: {plural(queued, 'file')} queued, "
                   f"{failed} failed")
        if not forever:
            if failed:
                sys.exit(1)
            return
        time.sleep(min(s.every for s in chosen).total_seconds())


@main.command("worker")
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker threads; they share at most STATIONLAB_MAX_CONNECTIONS connections.")
@click.option("--forever", is_flag=True, help="Keep polling for new files instead of stopping "
              "when the queue is empty.")
def worker_(concurrency: int, forever: bool) -> None:
    """Import queued files until none is left; one line per file, then a summary."""
    from stationlab import worker

    report = _run(worker.run_workers, concurrency, forever=forever,
                  on_outcome=lambda o: click.echo(o.describe()))
    click.echo(report.describe())


@main.command("files")
@click.option("--failed", is_flag=True, help="Only failed files, with reason, line and column.")
@click.option("--status", type=click.Choice(["pending", "imported", "failed"]),
              help="Only files of this status.")
def files_(failed: bool, status: str | None) -> None:
    """List received files: id, status, name, and why a file failed."""
    from stationlab import storage

    with storage.connect(autocommit=True) as conn:
        rows = _run(storage.queue.list_files, conn, "failed" if failed else status)
    for row in rows:
        click.echo(_describe_file(row))
    click.echo(plural(len(rows), "file"))


def _describe_file(row: dict) -> str:
    text = f"file {row['file_id']}: {row['status']}: {row['name']} (from {row['source']})"
    if row["status"] == "failed":  # the reason says its line and column
        text += f": {row['error']}"
    return text


@main.command("retry")
@click.argument("file_ids", nargs=-1, type=int, metavar="[FILE_ID]...")
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True)
def retry(file_ids: tuple[int, ...], concurrency: int) -> None:
    """Put failed files (all, or those named) back in the queue, then import the queue."""
    from stationlab import storage, worker

    with storage.connect(autocommit=True) as conn:
        # read before retrying: a file put back in the queue is no longer 'failed'
        named = (_run(storage.queue.files_by_id, conn, list(file_ids)) if file_ids
                 else _run(storage.queue.list_files, conn, "failed"))
        queued = _run(storage.queue.retry_failed, conn, list(file_ids) or None)
    found = {r["file_id"] for r in named}
    problems = [f"file {i}: no such file" for i in file_ids if i not in found]
    for row in named:
        if row["file_id"] in queued:
            continue
        if row["status"] != "failed":
            problems.append(f"file {row['file_id']}: {row['status']}, not failed; nothing to "
                            "retry")
        else:
            problems.append(f"file {row['file_id']}: no copy in the raw store (imported by "
                            f"path); import {row['name']} again with `stationlab import`")
    for line in problems:
        click.echo(line)
    click.echo(f"{plural(len(queued), 'failed file')} queued again")
    report = _run(worker.run_workers, concurrency, on_outcome=lambda o: click.echo(o.describe()))
    click.echo(report.describe())
    if problems or report.failed:
        sys.exit(1)


@main.group()
def meta() -> None:
    """Station metadata: IEA Task 43 WRA data model documents."""


@meta.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                metavar="FILE.json")
def meta_import(path: Path) -> None:
    """Import an IEA Task 43 WRA data model JSON document (one station per measurement
    location, named after it); it is validated first and every violation listed."""
    from stationlab import metadata

    for outcome in _run(metadata.import_document, path):
        click.echo(outcome.describe())


@meta.command("export")
@click.option("--station", required=True, help="Station name.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Output file (default: standard output).")
def meta_export(station: str, out: Path | None) -> None:
    """Write a station's metadata as an IEA Task 43 WRA data model JSON document."""
    from stationlab import metadata

    text = metadata.document_text(_run(metadata.export_station, station))
    if out is None:
        click.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    click.echo(f"{out}: metadata of station {station}", err=True)




@main.command("dashboard")
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

    def check():  # fail now, with the fix named, if the database is not usable
        with _connection():
            pass

    _run(check)
    reason = dashboards.read_only_reason(address, read_only)
    if reason:
        click.echo("read-only: health, data recovery, the explorer and the weekly reports only "
                   f"({reason}); analysts flag and calibrate in their own JupyterLab, as their "
                   "own role")
    click.echo(f"dashboards on http://{address}:{port}{prefix or '/'} (Ctrl+C stops)")
    dashboards.serve(port=port, address=address, prefix=prefix, read_only=read_only)




@main.command("lab")
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

    def check():  # fail now, with the fix named, if the database is not usable
        with _connection():
            pass

    _run(check)
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
    for folder in (Path(__file__).resolve().parent.parent / "notebooks", Path("notebooks")):
        if folder.is_dir():
            return folder.absolute()
    return Path.cwd()


_password_option = click.option(
    "--password-env", metavar="VAR", help="Set the role's password from this environment variable.")


@db.command("grant-analyst")
@click.argument("name")
@_password_option
@click.option("--calibrations/--no-calibrations", default=None,
              help="Also (or no longer) record and correct sensor calibrations, as the "
                   "calibration editor does (member of stationlab_calibrator). Default: as is.")
def db_grant_analyst(name: str, password_env: str | None, calibrations: bool | None) -> None:
    """Create or update NAME, a login role that can read everything and add flags, nothing more
    (with --calibrations: and edit calibrations)."""
    from stationlab import storage

    _grant("analyst", name, password_env, storage.runs.grant_analyst, calibrations)


@db.command("grant-pipeline")
@click.argument("name")
@_password_option
def db_grant_pipeline(name: str, password_env: str | None) -> None:
    """Create or update NAME, a login role for the scheduled jobs: reads and writes data (and
    makes the partitions of new months), never changes the schema."""
    from stationlab import storage

    _grant("pipeline", name, password_env, storage.runs.grant_pipeline)


def _grant(kind: str, name: str, password_env: str | None, grant, *args) -> None:
    import os

    from stationlab import storage

    password = None
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            raise click.ClickException(f"${password_env} is not set")
    with storage.connect(autocommit=True) as conn:
        created = _run(grant, conn, name, password, *args)
        dsn = storage.runs.dsn_for(conn.info.dsn, user=name)
        member = storage.runs.role_memberships(conn, name)
    click.echo(f"{kind} role {name} {'created' if created else 'updated'} "
               f"(member of {', '.join(member)})")
    click.echo(f"STATIONLAB_DSN for {name}: {dsn}")


@main.group()
def pipelines() -> None:
    """Scheduled notebook jobs: run one, run what is due, show the history."""


def _pipelines_config(path):
    from stationlab import pipelines as jobs

    return _run(jobs.load_config, path)


_config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False),
    help="The schedule (default: $STATIONLAB_PIPELINES or ./pipelines/schedule.toml).")


@pipelines.command("run")
@click.argument("job")
@_config_option
@click.option("-p", "--parameter", "parameters", multiple=True, metavar="KEY=VALUE",
              help="Override a notebook parameter (VALUE read as JSON if it parses).")
@click.option("--scheduled-for", type=Timestamp(), hidden=True)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as one JSON line.")
def pipelines_run(job: str, config_path, parameters, scheduled_for, as_json: bool) -> None:
    """Run JOB's notebook now. Exits 1 if it failed, 2 if it was already running."""
    import dataclasses
    import json

    from stationlab import pipelines as jobs

    overrides = {}
    for item in parameters:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE")
        try:
            overrides[key] = json.loads(value)
        except ValueError:
            overrides[key] = value
    cfg = _pipelines_config(config_path)
    result = _run(jobs.run_job, cfg, job, parameters=overrides, scheduled_for=scheduled_for,
                  progress=not as_json)
    click.echo(json.dumps(dataclasses.asdict(result)) if as_json else result.describe())
    if result.status != "success":
        sys.exit(1 if result.status == "failed" else 2)


@pipelines.command("due")
@_config_option
def pipelines_due(config_path) -> None:
    """Run every job whose cron time has come (for cron or a systemd timer). Exits 1 if any
    failed."""
    from stationlab import pipelines as jobs

    cfg = _pipelines_config(config_path)
    results = _run(jobs.run_due, cfg, on_result=lambda r: click.echo(r.describe()))
    if not results:
        click.echo("nothing due")
    if any(r.status == "failed" for r in results):
        sys.exit(1)


@pipelines.command("history")
@click.option("--job", help="Only this job.")
@click.option("--limit", type=int, default=20, show_default=True)
def pipelines_history(job: str | None, limit: int) -> None:
    """The newest runs: job, status, start, duration, executed notebook, error."""
    from stationlab import pipelines as jobs

    table = _run(jobs.history, job, limit=limit)
    for row in table.iter_rows(named=True):
        duration = f"{row['duration_s']:.1f} s" if row["duration_s"] is not None else "-"
        click.echo(f"{row['run_id']:>6} {row['job']:<10} {row['status']:<8} "
                   f"{row['started_at']:%Y-%m-%d %H:%M:%S} {duration:>9} {row['output_path']}")
        if row["error"]:
            click.echo(f"       {row['error']}")
    click.echo(plural(table.height, "run"))


@pipelines.command("alerts")
@click.option("--open", "open_only", is_flag=True, help="Only incidents still open.")
def pipelines_alerts(open_only: bool) -> None:
    """Alerts raised: incident, when, where sent, whether resolved."""
    from stationlab import storage

    with storage.connect(autocommit=True) as conn:
        table = _run(storage.runs.alerts, conn, open_only=open_only)
    for row in table.iter_rows(named=True):
        state = "open" if row["resolved_at"] is None else f"resolved {row['resolved_at']:%F %T}"
        click.echo(f"{row['alert_id']:>5} {row['raised_at']:%Y-%m-%d %H:%M} {row['incident']} "
                   f"[{state}] {row['subject']} -> {', '.join(row['sent_to']) or 'not sent'}")
        if row["send_error"]:
            click.echo(f"      {row['send_error']}")
    click.echo(plural(table.height, "alert"))


@main.group()
def exports() -> None:
    """The exports store: every station's files made in advance, served as files."""


@exports.command("build")
@click.option("--station", "stations", multiple=True,
              help="Station to export (repeatable; default: every station).")
@click.option("--format", "formats", multiple=True, type=click.Choice(EXPORT_FORMATS),
              help="Format to make (repeatable; default: all).")
@click.option("--source", "sources", multiple=True, type=click.Choice(["raw", "clean"]),
              help="Raw readings, or clean values (calibrated, excluded readings blank; made "
                   "again when calibrations or flags change); repeatable; default: raw.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Exports made at the same time (at most STATIONLAB_MAX_CONNECTIONS).")
def exports_build(stations: tuple[str, ...], formats: tuple[str, ...], sources: tuple[str, ...],
                  workers: int) -> None:
    """Make the files of stations whose data changed since their last export."""
    from stationlab.export import store

    outcomes = _run(store.build_exports, stations or None, formats or EXPORT_FORMATS,
                    sources=sources or ("raw",), workers=workers, progress=None)
    for outcome in outcomes:
        click.echo(outcome.describe())
    built = sum(o.status == "built" for o in outcomes)
    click.echo(f"{built} built, {len(outcomes) - built} up to date, in {store.store_dir()}")


@exports.command("list")
def exports_list() -> None:
    """The ready files: station, format, source, rows, data version, when made, where."""
    from stationlab.export import store

    rows = _run(store.list_exports)
    if not rows:
        click.echo("no exports yet; run `stationlab exports build`")
    for row in rows:
        state = "stale" if row["stale"] else "current"
        if not row["present"]:
            state = "missing file"
        click.echo(f"{row['station']}\t{row['format']}\t{row['source']}\t{row['n_rows']:,} rows\t"
                   f"data version {row['data_version']} ({state})\t"
                   f"{row['created_at']:%Y-%m-%d %H:%M} UTC\t{row['path']}")


@exports.command("path")
@click.option("--station", required=True, help="Station name.")
@click.option("--format", "format_", type=click.Choice(EXPORT_FORMATS), default="windographer",
              show_default=True)
@click.option("--source", type=click.Choice(["raw", "clean"]), default="raw", show_default=True)
def exports_path(station: str, format_: str, source: str) -> None:
    """Print the path of a station's ready file in a format."""
    from stationlab.export import store

    click.echo(_run(store.ready_export, station, format_, source=source))


@main.command("health")
@click.option("--station", help="Only this station (default: every station).")
@click.option("--at", "at", type=Timestamp(),
              help="End the windows here (default: each station's newest reading).")
def health_(station: str | None, at) -> None:
    """Sensor health: one line per sensor not ok; exits 1 when any has failed."""
    from stationlab import health, storage

    failed = 0
    try:
        with _connection() as conn:
            names = ([station] if station
                     else [r["station"] for r in storage.catalog.summary(conn)])
            for name in names:
                table = health.sensor_health(conn, name, at)
                for row in table.filter(table["state"] != "ok").iter_rows(named=True):
                    click.echo(f"{row['name']} {row['state']}: {row['reason']} since "
                               f"{row['since']:%Y-%m-%dT%H:%MZ}")
                counts = {s: int((table["state"] == s).sum()) for s in health.STATES}
                end = table["window_to"].max()
                click.echo(f"{name}: {table.height} sensors, {counts['failed']} failed, "
                           f"{counts['suspect']} suspect, {counts['ok']} ok"
                           + (f" (windows end {end:%Y-%m-%dT%H:%MZ})" if end
                              else " (no readings)"))
                failed += counts["failed"]
    except StationlabError as exc:  # no such station, no database, an old schema
        raise click.ClickException(str(exc)) from exc
    if failed:
        sys.exit(1)
