"""``stationlab import``, ``formats`` and the import queue: ``upload``, ``fetch``, ``worker``,
``files``, ``retry``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from stationlab.cli._common import Duration, _run
from stationlab.wording import plural


@click.command("import")
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


@click.command("formats")
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


@click.command("upload")
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


@click.command("fetch")
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


@click.command("worker")
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


@click.command("files")
@click.option("--failed", is_flag=True, help="Only failed files, with reason, line and column.")
@click.option("--status", type=click.Choice(["pending", "imported", "failed"]),
              help="Only files of this status.")
def files_(failed: bool, status: str | None) -> None:
    """List received files: id, status, name, and why a file failed."""
    from stationlab import worker

    rows = _run(worker.list_files, "failed" if failed else status)
    for row in rows:
        click.echo(_describe_file(row))
    click.echo(plural(len(rows), "file"))


def _describe_file(row: dict) -> str:
    text = f"file {row['file_id']}: {row['status']}: {row['name']} (from {row['source']})"
    if row["status"] == "failed":  # the reason says its line and column
        text += f": {row['error']}"
    return text


@click.command("retry")
@click.argument("file_ids", nargs=-1, type=int, metavar="[FILE_ID]...")
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True)
def retry(file_ids: tuple[int, ...], concurrency: int) -> None:
    """Put failed files (all, or those named) back in the queue, then import the queue."""
    from stationlab import worker

    named, queued = _run(worker.retry_failed, file_ids)
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


COMMANDS = [import_, formats_, upload, fetch_, worker_, files_, retry]
