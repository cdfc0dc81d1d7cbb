"""``stationlab export`` (one file now) and ``stationlab exports`` (the store of files made in
advance: build, list, path)."""

from __future__ import annotations

from pathlib import Path

import click

from stationlab.cli._common import ExportFormat, Timestamp, _run
from stationlab.wording import plural


@click.command("export")
@click.option("--station", required=True, help="Station name.")
@click.option("--format", "format_", type=ExportFormat(), default="windographer",
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
    click.echo(describe_export(result))


def describe_export(result) -> str:
    """The line (and the note on channels left out) that says what an export wrote."""
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
    return text + "".join(f"\n  note: {note}" for note in result.notes)


@click.group("exports")
def exports() -> None:
    """The exports store: every station's files made in advance, served as files."""


@exports.command("build")
@click.option("--station", "stations", multiple=True,
              help="Station to export (repeatable; default: every station).")
@click.option("--format", "formats", multiple=True, type=ExportFormat(),
              help="Format to make (repeatable; default: all).")
@click.option("--source", "sources", multiple=True, type=click.Choice(["raw", "clean"]),
              help="Raw readings, or clean values (calibrated, excluded readings blank; made "
                   "again when calibrations or flags change); repeatable; default: raw.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Exports made at the same time (at most STATIONLAB_MAX_CONNECTIONS).")
def exports_build(stations: tuple[str, ...], formats: tuple[str, ...], sources: tuple[str, ...],
                  workers: int) -> None:
    """Make the files of stations whose data changed since their last export."""
    from stationlab.export import FORMATS, store

    outcomes = _run(store.build_exports, stations or None, formats or FORMATS,
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
@click.option("--format", "format_", type=ExportFormat(), default="windographer",
              show_default=True)
@click.option("--source", type=click.Choice(["raw", "clean"]), default="raw", show_default=True)
def exports_path(station: str, format_: str, source: str) -> None:
    """Print the path of a station's ready file in a format."""
    from stationlab.export import store

    click.echo(_run(store.ready_export, station, format_, source=source))


COMMANDS = [export, exports]
