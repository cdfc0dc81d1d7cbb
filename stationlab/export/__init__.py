"""Export a station's readings to files for analysis, streamed in time windows.

The database is read one calendar month at a time (binary COPY, the next month read while this one
is written), each window is pivoted to one column per channel with polars and appended to the
output, so memory stays flat whatever the size. One module per format: :mod:`.windographer`,
:mod:`.csv_file`, :mod:`.zip_by_type`, :mod:`.parquet_file`; :mod:`.store` makes every station's
files in advance and serves them.

What an export reads is the ``export_values`` query block (raw readings for now; clean data
switches that one block).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from stationlab import __version__, config, storage
from stationlab.errors import StationlabError
from stationlab.export import csv_file, flag_status, parquet_file, windographer, zip_by_type
from stationlab.export.layout import (
    Layout,
    column_names,
    logger_identity,
    order_channels,
    unit_symbol,
)
from stationlab.export.windographer import WindographerOptions
from stationlab.storage import catalog
from stationlab.storage.metadata import file_loggers
from stationlab.wording import plural

logger = logging.getLogger(__name__)

#: Export format name -> its writer module (``SUFFIX`` and ``write_file(path, frames, layout,
#: options)``).
WRITERS = {"windographer": windographer, "csv": csv_file, "zip": zip_by_type,
           "parquet": parquet_file}
FORMATS = tuple(WRITERS)
#: Formats that take :class:`WindographerOptions`.
TEXT_FORMATS = ("windographer", "zip")


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    path: Path
    station: str
    format: str
    rows: int
    channels: int
    readings: int
    ts_first: datetime | None
    ts_last: datetime | None
    data_version: int | None = None
    excluded_flags: tuple[str, ...] = ()  # clean: the flag codes whose readings were left out
    #: Channels of the station that hold no numbers (e.g. Campbell ``TMx``/``TMn``, the times of
    #: extremes), named as an export would name them: every format's columns hold numbers.
    not_exported: tuple[str, ...] = ()
    #: What a person should know before using the file: a header value that is a placeholder,
    #: an irregular time step.
    notes: tuple[str, ...] = ()


def month_windows(first: datetime, last: datetime) -> list[tuple[datetime, datetime]]:
    """Calendar months ``[start, end)`` covering ``[first, last]`` (clipped to them), in UTC.

    Months match the plain backend's partitions, so each window reads one partition.
    """
    first, last = first.astimezone(UTC), last.astimezone(UTC)
    end = last + timedelta(microseconds=1)
    windows, lower = [], first
    while lower < end:
        month = lower.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        upper = min((month + timedelta(days=32)).replace(day=1), end)
        windows.append((lower, upper))
        lower = upper
    return windows


def wide_windows(conn, channels: pl.DataFrame, names: list[str],
                 windows: list[tuple[datetime, datetime]], counts: list[int] | None = None,
                 *, clean: bool = False, excluded_codes: list[str] | None = None
                 ) -> Iterator[pl.DataFrame]:
    """Each window's values pivoted to ``ts`` plus one column per channel (named ``names``);
    ``clean``: calibrated values, readings under an excluding flag left blank (a time step whose
    every reading is excluded keeps its row).

    ``counts``, if given, gets each window's number of values appended.
    """
    ids = channels["channel_id"].to_list()
    rename = {str(i): n for i, n in zip(ids, names, strict=True)}
    values = storage.readings.iter_values(
        conn, ids, windows, query="export_clean_values" if clean else "export_values",
        params={"excluded_codes": excluded_codes} if clean else None)
    for long in values:
        if clean:  # excluded readings come as NaN (see export_clean_values)
            long = long.with_columns(pl.col("value").fill_nan(None))
        if counts is not None:
            counts.append(long["value"].count())
        if long.is_empty():
            yield pl.DataFrame(schema={"ts": pl.Datetime("us", "UTC"),
                                       **dict.fromkeys(names, pl.Float64)})
            continue
        wide = long.pivot(on="channel_id", index="ts", values="value", sort_columns=False)
        missing = [pl.lit(None, dtype=pl.Float64).alias(str(i)) for i in ids
                   if str(i) not in wide.columns]
        yield (wide.with_columns(missing).rename(rename)
               .select("ts", *names).sort("ts"))


def _options(format: str, options: WindographerOptions | None) -> WindographerOptions | None:
    if format not in WRITERS:
        raise StationlabError(f"unknown export format {format!r}; known: {', '.join(FORMATS)}")
    if format in TEXT_FORMATS:
        return options or WindographerOptions()
    if options is not None and options != WindographerOptions():
        raise StationlabError(f"the {format} format takes no text options (missing value, "
                              "timestamp format, separator, excluded flags, flag status); they "
                              "are for "
                              f"{' and '.join(TEXT_FORMATS)}")
    return None


def _logger_identities(conn, station: str) -> tuple[str, ...]:
    """What identifies each of a station's loggers (see :func:`layout.logger_identity`)."""
    found = (logger_identity(row, station)
             for row in file_loggers(conn, station))
    return tuple(dict.fromkeys(identity for identity in found if identity))


def export_station(station: str, out: str | Path, *, format: str = "windographer",
                   start: datetime | None = None, end: datetime | None = None,
                   options: WindographerOptions | None = None, dsn: str | None = None,
                   clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                   progress: bool | None = False, clean: bool = False) -> ExportResult:
    """Write a station's readings in ``[start, end)`` to ``out``: raw, or with ``clean``
    calibrated with readings under an excluding flag left blank.

    Parameters
    ----------
    format
        One of :data:`FORMATS`.
    start, end
        The period; by default everything stored. [UTC]
    options
        For the text formats (Windographer, zip): missing-value text, stamp format, separator,
        excluded flag codes, flag-status columns.
    clock
        Gives the creation time written in the file (pass a fixed one for reproducible output).
    progress
        Show a bar over the windows (``None``: when the terminal is interactive).

    Raises
    ------
    StationlabError
        For an unknown station or format, or options the format does not take.
    """
    from tqdm.auto import tqdm

    options = _options(format, options)
    out = Path(out)
    # One snapshot, on the replica when STATIONLAB_READ_DSN names one.
    with storage.replica.reading(dsn, consistent=True) as conn:
        storage.exports.set_parallel_workers(conn, config.export_parallel_workers())
        meta = catalog.require_station(conn, station)
        every = catalog.station_channels(conn, station)
        channels = order_channels(every.filter(pl.col("kind") == "number"))
        others = every.filter(pl.col("kind") != "number")
        not_exported = tuple(column_names(order_channels(others))) if others.height else ()
        ids = channels["channel_id"].to_list()
        span = storage.readings.readings_span(conn, ids, start, end)
        first, last = span["ts_first"], span["ts_last"]
        windows = month_windows(first, last) if first is not None else []
        names = column_names(channels)
        coverage, code_letters, legend = None, {}, ()
        if options is not None and options.flag_status:
            coverage, code_letters, legend = _flags_over(
                conn, ids, windows[0][0] if windows else start,
                windows[-1][1] if windows else end)
        layout = Layout(station=station, channels=channels, names=names,
                        created=clock(), version=__version__, latitude=meta["latitude"],
                        longitude=meta["longitude"], elevation_m=meta["elevation_m"],
                        flag_legend=legend, loggers=_logger_identities(conn, station))
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".partial")
        bar = tqdm(windows, desc=f"exporting {station}", unit="month", leave=False,
                   disable=None if progress is None else not progress)
        counts: list[int] = []
        excluded, left_out = None, ()
        if clean:
            excluded = list(options.excluded_flags) if options and options.excluded_flags \
                else None
            left_out = tuple(excluded or storage.readings.excluded_by_default(conn))
            if options is not None and not options.excluded_flags:
                # the preamble says which codes were left out
                options = replace(options, excluded_flags=left_out)
        frames = wide_windows(conn, channels, layout.names, windows, counts, clean=clean,
                              excluded_codes=excluded)
        written = frames
        if coverage is not None:
            written = flag_status.add_status_to_windows(
                frames, coverage, dict(zip(ids, names, strict=True)), code_letters)
        try:
            rows = WRITERS[format].write_file(tmp, _advance(written, bar), layout, options)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            written.close()
            frames.close()
            bar.close()
        tmp.replace(out)
    logger.info("exported %s: %d rows x %d channels to %s", station, rows, len(ids), out)
    return ExportResult(out, station, format, rows, len(ids), sum(counts), first, last,
                        meta["data_version"], left_out, not_exported,
                        export_notes(format, meta, channels))


def export_notes(format: str, station: dict, channels: pl.DataFrame) -> tuple[str, ...]:
    """What a person should know of an export of ``channels`` before using it: the station's
    position written as 0 where it is not known (the text formats' header), and channels of
    several averaging intervals in one file (its time step then irregular)."""
    notes = []
    if format in TEXT_FORMATS and (station["latitude"] is None or station["longitude"] is None):
        notes.append("the station's position is not known: the header says latitude N 0, "
                     "longitude E 0 (an IEA Task 43 document gives it: `stationlab meta import`)")
    counts = (channels.filter(pl.col("interval_s").is_not_null())
              .group_by("interval_s").len().sort("interval_s"))
    if counts.height > 1:
        each = ", ".join(f"{_seconds(s)}: {plural(n, 'channel')}" for s, n in counts.iter_rows())
        notes.append(f"channels of {counts.height} averaging intervals ({each}) share the file, "
                     "so its time step is irregular; Windographer expects one")
    return tuple(notes)


def _seconds(seconds: float) -> str:
    """``10 min``, ``1 h``, ``1 day``, ``30 s``."""
    for size, unit in ((86400, "day"), (3600, "h"), (60, "min")):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}" + ("s" if unit == "day" and n != 1 else "")
    return f"{seconds:g} s"


def _flags_over(conn, ids: list[int], start: datetime | None, end: datetime | None
                ) -> tuple[pl.DataFrame, dict[str, str], tuple[str, ...]]:
    """For flag-status columns: the flags over the channels and period, each code's letter,
    and the preamble lines naming them."""
    coverage = storage.flags.flag_coverage(conn, ids, start, end)
    code_letters = flag_status.letters(coverage["code"])
    descriptions = dict(storage.flags.flag_codes(conn).select("code", "description")
                        .iter_rows())
    return coverage, code_letters, tuple(flag_status.legend(code_letters, descriptions))


def _advance(frames: Iterator[pl.DataFrame], bar) -> Iterator[pl.DataFrame]:
    for frame in frames:
        yield frame
        bar.update()


__all__ = ["FORMATS", "ExportResult", "Layout", "WindographerOptions", "column_names",
           "export_station", "month_windows", "order_channels", "unit_symbol"]
