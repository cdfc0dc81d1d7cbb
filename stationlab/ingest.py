"""Import logger files: content hash, parse, standardise, store; one outcome per file.

The same bytes twice are a no-op. A file that fails is recorded as failed with its reason and
nothing of it is stored; the other files still import.

Every import goes one way, :func:`import_received`: sniff, parse, resolve the station and its
configuration, store. A direct import (:func:`import_paths`, :func:`import_bytes`) receives the
file here first; a queued one is received into the raw store and the queue by
:func:`stationlab.fetch.receive` (fetch, upload) and claimed by a worker
(:mod:`stationlab.worker`). Only the :class:`Policy` differs: where the transaction comes from
and who makes new partitions.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from stationlab import archives, parse, standardise, storage
from stationlab.errors import (
    ArchiveError,
    ConfigError,
    DatabaseUnavailable,
    ImportRejected,
    ParseError,
    StationlabError,
    StorageConflict,
    StorageError,
)
from stationlab.storage import catalog

logger = logging.getLogger(__name__)

#: How many distinct values of a text column (a site name, say) the files row keeps.
TEXT_VALUES_KEPT = 20


@dataclass(frozen=True)
class Outcome:
    """What happened to one file."""

    path: str
    status: str  # "imported", "already imported" or "failed"
    station: str | None = None
    readings: int = 0
    duplicates: int = 0
    conflicts: int = 0
    unassigned: tuple[str, ...] = field(default=())
    error: str | None = None
    what: str = "readings"  # or "logger events", "diagnostic values"
    notes: tuple[str, ...] = field(default=())  # what the parser did not take as values
    #: The first and last stamp of the readings stored, for work after the commit.
    span: tuple[datetime, datetime] | None = field(default=None, compare=False, repr=False)

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def describe(self) -> str:
        """The one line ``stationlab import`` prints for this file."""
        if self.status == "failed":
            return f"{self.path}: failed: {self.error}"
        if self.status == "already imported":
            return f"{self.path}: already imported"
        text = (f"{self.path}: imported {self.readings:,} {self.what} into station "
                f"{self.station!r}")
        extra = []
        if self.duplicates:
            extra.append(f"{self.duplicates:,} already stored")
        if self.conflicts:
            extra.append(f"{self.conflicts:,} differ from stored values and were not imported "
                         "(see reading_conflicts)")
        if self.unassigned:
            extra.append("unassigned columns: " + ", ".join(self.unassigned))
        extra.extend(self.notes)
        return text + (f" ({'; '.join(extra)})" if extra else "")


def expand_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files named, and every file below the folders named, in a stable order.

    Raises
    ------
    StationlabError
        If a path does not exist.
    """
    files = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise StationlabError(f"{path}: no such file or folder")
    return files


def import_paths(paths: Iterable[str | os.PathLike], *, station: str | None = None,
                 dsn: str | None = None, source: str = "cli",
                 mappings: Iterable[str | os.PathLike] = (),
                 on_outcome: Callable[[Outcome], None] | None = None,
                 progress: bool | None = None,
                 statistics: timedelta | None = None) -> list[Outcome]:
    """Import files and folders (recursively) on one connection.

    An archive (zip, gz, 7z, tar; see :mod:`stationlab.archives`) imports each file inside it,
    named ``archive.zip!member.dat``, with one outcome each.

    Parameters
    ----------
    station
        Station name for every file; by default the station name the file's header gives.
    mappings
        Mapping files for generic CSV files (see :mod:`stationlab.parse.generic_csv`); a CSV
        file no vendor format recognises is read with the first mapping whose ``files`` pattern
        matches its name.
    on_outcome
        Called with each file's outcome as soon as it is known.
    progress
        Show a progress bar (default: when the terminal is interactive).
    statistics
        Store only each column's Avg, Std, Min and Max over intervals this long instead of
        every row (see :func:`stationlab.standardise.interval_statistics`), e.g. 10-minute
        statistics of a 20 Hz table.
    """
    from tqdm.auto import tqdm

    from stationlab.parse import generic_csv

    files = expand_paths(paths)
    loaded = [generic_csv.read_mapping(m) for m in mappings]
    outcomes = []
    with storage.connect(dsn, autocommit=True) as conn:
        bar = tqdm(files, desc="importing", unit="file", disable=None if progress is None
                   else not progress, leave=False)
        for path in bar:
            for outcome in import_archive_or_file(conn, path, station=station, source=source,
                                                  mappings=loaded, statistics=statistics):
                outcomes.append(outcome)
                if on_outcome:
                    on_outcome(outcome)
    return outcomes


def import_archive_or_file(conn, path: str | os.PathLike, *, station: str | None = None,
                           source: str = "cli", mappings: Iterable = (),
                           statistics: timedelta | None = None) -> list[Outcome]:
    """Import a file, or each file inside an archive; one outcome per file."""
    path = Path(path)
    data = path.read_bytes()
    try:
        members = archives.expand(path.name, data)
    except ArchiveError as exc:
        return [_archive_failed(conn, path, data, archives.failure(exc, path.name), source)]
    return [import_bytes(conn, m.data, name=m.name, label=str(path.parent / m.name),
                         station=station, source=source, mappings=mappings,
                         statistics=statistics) for m in members]


def import_file(conn, path: str | os.PathLike, *, station: str | None = None,
                source: str = "cli", mappings: Iterable = ()) -> Outcome:
    """Import one file on an autocommit connection; never raises for a bad file.

    ``mappings`` are :class:`~stationlab.parse.generic_csv.Mapping` objects for generic CSV
    files."""
    path = Path(path)
    return import_bytes(conn, path.read_bytes(), name=path.name, label=str(path),
                        station=station, source=source, mappings=mappings)


def import_bytes(conn, data: bytes, *, name: str, label: str | None = None,
                 station: str | None = None, source: str = "cli",
                 mappings: Iterable = (), statistics: timedelta | None = None) -> Outcome:
    """Import one file's bytes on an autocommit connection; never raises for a bad file.

    Parameters
    ----------
    name
        The file's name, recorded in the files row and used in messages.
    label
        How the outcome names the file (default ``name``), e.g. its full path.
    statistics
        Store interval statistics instead of the rows (see :func:`import_paths`).
    """
    label = label or name
    digest = catalog.sha256(data)
    with storage.transaction(conn):  # receive: the files row (the same bytes twice: a no-op)
        known = catalog.file_by_sha(conn, digest)
        if known and known["status"] == "imported":
            return Outcome(label, "already imported")
        file_id = catalog.register_file(conn, digest=digest, name=name, size=len(data),
                                        source=source)
    outcome = import_received(conn, data, file_id=file_id, name=name, label=label,
                              station=station, mappings=mappings, statistics=statistics)
    after_commit(conn, outcome)
    return outcome


def _archive_failed(conn, path: Path, data: bytes, error: str, source: str) -> Outcome:
    """Record an archive that cannot be opened as a failed file."""
    with storage.transaction(conn):
        file_id = catalog.register_file(conn, digest=catalog.sha256(data), name=path.name,
                                        size=len(data), source=source)
    _fail(conn, file_id, error, None)
    return Outcome(str(path), "failed", error=error)


def _internal_error(exc: Exception) -> str:
    return f"internal error ({type(exc).__name__}: {exc}); please report it"


class PartitionsNeeded(Exception):  # noqa: N818 - a signal to the worker, not an error
    """Raised inside a worker's transaction when the file needs partitions that do not exist.

    Creating a partition locks ``readings``; the worker rolls back, creates them in a short
    transaction of its own and claims again.
    """

    def __init__(self, ts_first, ts_last) -> None:
        super().__init__(f"partitions needed for {ts_first} to {ts_last}")
        self.ts_first = ts_first
        self.ts_last = ts_last


@dataclass(frozen=True)
class Policy:
    """What differs between a direct import and a queued one, and nothing else.

    The file's transaction is ``storage.transaction(conn)`` either way: a transaction of its
    own on a direct import's autocommit connection, a savepoint inside the transaction that
    holds a worker's claim on a queued one.
    """

    create_partitions: bool
    """Direct: months without partitions get them inside the file's transaction. Queued:
    :class:`PartitionsNeeded` asks the worker to roll back, make them briefly and claim again,
    so a long import never holds the lock a new partition takes."""
    passes_on: tuple[type[Exception], ...] = ()
    """Errors raised to the caller instead of failing the file (queued: the worker rolls back
    and the file stays pending)."""


DIRECT = Policy(create_partitions=True)
QUEUED = Policy(create_partitions=False,
                passes_on=(PartitionsNeeded, DatabaseUnavailable, StorageConflict))


def import_received(conn, data: bytes, *, file_id: int, name: str, label: str | None = None,
                    station: str | None = None, mappings: Iterable = (),
                    statistics: timedelta | None = None, policy: Policy = DIRECT) -> Outcome:
    """Import a received file (its files row is ``file_id``), the one way every import goes:
    sniff, parse, resolve the station and its configuration, store. A bad file is marked
    failed, with nothing of it stored; it never raises, but for ``policy.passes_on``.

    ``mappings`` (:class:`~stationlab.parse.generic_csv.Mapping`) are tried for a generic CSV
    file before the standing ones; ``statistics`` stores interval statistics instead of the
    rows (see :func:`import_paths`).
    """
    label = label or name
    fmt = None
    try:
        fmt = parse.sniff(data[:parse.SNIFF_BYTES], source=name)
        options = _options(fmt, name, mappings)
        parsed = parse.parse_bytes(data, format=fmt, source=name, **options)
        given = station is not None
        station = _station_for(parsed, name, station)
        with storage.transaction(conn):
            catalog.lock_station(conn, station)
            if catalog.lock_file(conn, file_id) == "imported":  # the same bytes, just imported
                return Outcome(label, "already imported")
            ref = _resolve(conn, parsed, name, station, station_given=given)
            if ref.station_name != station:  # its logger is registered at another station
                catalog.lock_station(conn, ref.station_name)
            parsed = _with_offset(parsed, data, ref, name, options)
            if parsed.records != "readings":
                return _store_health(conn, parsed, file_id=file_id, label=label, ref=ref)
            if statistics is not None:
                parsed = standardise.interval_statistics(parsed, statistics)
            if not policy.create_partitions and parsed.data.height:
                first, last = parsed.data["ts"].min(), parsed.data["ts"].max()
                if storage.readings.partitions_missing(conn, first, last):
                    raise PartitionsNeeded(first, last)
            return _store_readings(conn, parsed, ref, file_id=file_id, label=label,
                                   station=ref.station_name)
    except policy.passes_on:
        raise
    except Exception as exc:  # a bad file, or a bug: either must not stop the other files
        error, line, column = _failure(exc, name, label)
    _fail(conn, file_id, error, fmt, line, column)
    return Outcome(label, "failed", error=error)


def _failure(exc: Exception, name: str, label: str) -> tuple[str, int | None, str | int | None]:
    """Why a file failed, and where in it (line, column) when a parser said."""
    if isinstance(exc, ParseError):
        return _parse_error_text(exc, name), exc.line, exc.column
    if isinstance(exc, ImportRejected | StorageError | ConfigError):
        return str(exc), None, None
    logger.exception("unexpected error importing %s", label)  # a bug: logged in full
    return _internal_error(exc), None, None


def _parse_error_text(exc: ParseError, name: str) -> str:
    """The reason a file failed, without its name where the name is the file's own (every line
    that shows the reason names the file already); an archive member's name is kept."""
    own = Path(name.rsplit(archives.MEMBER_SEPARATOR, 1)[-1]).name
    return exc.located() if exc.source in (name, own) else str(exc)


def _fail(conn, file_id: int, error: str, fmt: str | None, line: int | None = None,
          column: str | int | None = None) -> None:
    """Mark the file failed (in a transaction of its own, or a savepoint of the caller's)."""
    logger.info("import failed: %s", error)
    with storage.transaction(conn):
        catalog.mark_failed(conn, file_id, error=error, format=fmt, line=line, column=column)


def _station_for(parsed: parse.ParsedFile, name: str, station: str | None) -> str:
    stem = Path(name.rsplit(archives.MEMBER_SEPARATOR, 1)[-1]).stem
    return station or parsed.header.get("station_name") or stem


def _resolve(conn, parsed: parse.ParsedFile, name: str, station: str, *,
             station_given: bool) -> catalog.LoggerRef:
    """The logger of a file; it may belong to another station than the header names (its
    serial number is registered there), unless the station was given."""
    header = parsed.header
    ref = catalog.resolve_logger(
        conn, station=station, name=header.get("logger_name") or header.get("station_name")
        or station,
        model=header.get("logger_model", ""), serial_number=header.get("logger_serial", ""),
        table_name=header.get("table_name"), source=name, station_given=station_given)
    catalog.record_site(conn, ref, **header_site(header, name))
    return ref


#: Normalised header keys of the site (see :class:`stationlab.parse.ParsedFile`): key -> (name
#: in :func:`stationlab.storage.catalog.record_site`, lowest, highest).
SITE_KEYS = {"site_latitude": ("latitude", -90.0, 90.0),
             "site_longitude": ("longitude", -180.0, 180.0),
             "site_elevation_m": ("elevation_m", -500.0, 9000.0)}

#: A header's ``utc_offset``: ``-07:00``, ``+05:30``, ``+00:00``.
UTC_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


def header_site(header: dict[str, str], source: str) -> dict:
    """The site's latitude, longitude [deg], elevation [m] and the logger's time zone from the
    normalised header keys, whatever the format; a value that cannot be read is logged and
    left out (a file's data do not fail over its site)."""
    site: dict = {"source": source}
    for key, (name, low, high) in SITE_KEYS.items():
        text = (header.get(key) or "").strip()
        if not text:
            continue
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            logger.warning("%s: %s %r is not a number in [%g, %g]; not stored", source, key,
                           text, low, high)
            continue
        site[name] = value
    text = (header.get("utc_offset") or "").strip()
    match = UTC_OFFSET.match(text)
    if match and int(match[2]) <= 14 and int(match[3]) < 60:
        sign = -1 if match[1] == "-" else 1
        site["utc_offset"] = sign * timedelta(hours=int(match[2]), minutes=int(match[3]))
    elif text:
        logger.warning("%s: utc_offset %r is not like -07:00; not stored", source, text)
    return site


def _with_offset(parsed: parse.ParsedFile, data: bytes, ref: catalog.LoggerRef,
                 name: str, options: dict) -> parse.ParsedFile:
    if ref.utc_offset:
        # The logger's clock runs at a fixed offset: read its naive stamps again with it.
        return parse.parse_bytes(data, format=parsed.format, source=name,
                                 **{**options, "utc_offset": ref.utc_offset})
    return parsed


def after_commit(conn, outcome: Outcome) -> None:
    """Work an imported file needs once its transaction committed, on an autocommit connection:
    on TimescaleDB, the continuous aggregate's months it touched are materialised."""
    if outcome.span is not None and outcome.readings:
        try:
            storage.timescale.refresh_monthly(conn, *outcome.span)
        except StorageError as exc:  # the readings are stored; the hourly policy catches up
            logger.warning("%s: monthly statistics not refreshed yet (%s)", outcome.path, exc)


def _store_readings(conn, parsed: parse.ParsedFile, ref: catalog.LoggerRef, *, file_id: int,
                    label: str, station: str) -> Outcome:
    """Channels, readings and the files row of one file, inside the caller's transaction."""
    configs = catalog.logger_configs(conn, ref)
    if parsed.channel_history:
        configs = _history_configs(conn, parsed, ref, configs)
    if (configs["source"] == "file_header").all():
        # No curated metadata: describe the columns no earlier file header described.
        known = set(configs["column_name"])
        new = [s for s in standardise.describe_columns(parsed) if s.column_name not in known]
        if new:
            catalog.create_channels(conn, ref, new)
            configs = catalog.logger_configs(conn, ref)
    unmatched = standardise.unmatched_columns(parsed, configs)
    if unmatched:
        columns = {c.name: c for c in parsed.columns}
        ids = catalog.unassigned_channels(conn, ref, [
            (name, columns[name].statistic, _kind(columns[name]), columns[name].unit)
            for name in unmatched])
        configs = standardise.with_fallback(configs, ids)
    stored_columns = [c.name for c in standardise.stored_columns(parsed)]
    channel_ids = configs.filter(pl.col("column_name").is_in(stored_columns))["channel_id"]
    ts_first, ts_last = parsed.data["ts"].min(), parsed.data["ts"].max()
    seen: set[int] = set()

    def months() -> Iterator[pl.DataFrame]:
        for month in standardise.readings_by_month(parsed, configs):
            seen.update(month["channel_id"].unique().to_list())
            yield month

    stored = storage.readings.store_readings(
        conn, months(), file_id=file_id, channel_ids=sorted(set(channel_ids.to_list())),
        ts_first=ts_first, ts_last=ts_last)
    if stored.readings:
        storage.clean.after_import(
            conn, sorted(seen), stored.monthly,
            int(parsed.interval.total_seconds()) if parsed.interval else None)
    catalog.mark_imported(
        conn, file_id, format=parsed.format, station_id=ref.station_id,
        logger_id=ref.logger_id, table_name=ref.table_name, n_rows=parsed.data.height,
        n_readings=stored.readings, n_inserted=stored.inserted, n_duplicates=stored.duplicates,
        n_conflicts=stored.conflicts, ts_first=ts_first, ts_last=ts_last,
        header=_header_record(parsed))
    logger.info("%s: %d readings, %d inserted (%s)", label, stored.readings, stored.inserted,
                stored.path)
    return Outcome(label, "imported", station=station, readings=stored.inserted,
                   duplicates=stored.duplicates, conflicts=stored.conflicts,
                   unassigned=tuple(unmatched), notes=parsed.value_notes,
                   span=(ts_first, ts_last) if stored.inserted else None)


def _options(fmt: str, name: str, mappings: Iterable) -> dict:
    """Parser options for a file: a generic CSV gets the first mapping whose pattern matches it,
    of those given and then the standing ones (read now, so that a mapping added to the folder
    serves the next file)."""
    if fmt != "generic_csv":
        return {}
    from stationlab.parse import generic_csv

    path = Path(name.rsplit(archives.MEMBER_SEPARATOR, 1)[-1])
    return {"mapping": generic_csv.mapping_for(
        path, [*mappings, *generic_csv.standing_mappings()])}


def _history_configs(conn, parsed: parse.ParsedFile, ref, configs: pl.DataFrame) -> pl.DataFrame:
    """Configurations from the logger's own sensor history, for columns that have none yet."""
    configured = set(configs["column_name"])
    entries = [replace(e, columns=tuple(c for c in e.columns if c not in configured))
               for e in parsed.channel_history]
    entries = [e for e in entries if e.columns]
    if not entries:
        return configs
    created = catalog.create_history_configs(
        conn, ref, entries, statistics={c.name: c.statistic for c in parsed.columns},
        units={c.name: c.unit for c in parsed.columns})
    logger.info("%s: %d logger configurations from the sensor history", parsed.source, created)
    return catalog.logger_configs(conn, ref)


def _store_health(conn, parsed: parse.ParsedFile, *, file_id: int, label: str,
                  ref) -> Outcome:
    """Store a logger's events or diagnostics (not readings) with the file's row, inside the
    caller's transaction."""
    frame = parsed.data
    if parsed.records == "events":
        what, rows = "logger events", frame
        inserted = storage.health.store_events(conn, logger_id=ref.logger_id,
                                                file_id=file_id, events=frame)
    else:
        what, rows = "diagnostic values", _diagnostics_long(parsed)
        inserted = storage.health.store_diagnostics(conn, logger_id=ref.logger_id,
                                                     file_id=file_id, values=rows)
    catalog.mark_imported(
        conn, file_id, format=parsed.format, station_id=ref.station_id,
        logger_id=ref.logger_id, table_name=ref.table_name, n_rows=frame.height,
        n_readings=rows.height, n_inserted=inserted, n_duplicates=rows.height - inserted,
        n_conflicts=0, ts_first=frame["ts"].min(), ts_last=frame["ts"].max(),
        header=dict(parsed.header) | {"records": parsed.records})
    return Outcome(label, "imported", station=ref.station_name, readings=inserted,
                   duplicates=rows.height - inserted, what=what)


def _diagnostics_long(parsed: parse.ParsedFile) -> pl.DataFrame:
    """``ts, name, statistic, value, unit`` of a diagnostics file, missing values dropped."""
    parts = [parsed.data.select(
        "ts", pl.lit(c.processing or c.name).alias("name"),
        pl.lit(c.statistic or "sample").alias("statistic"), pl.col(c.name).alias("value"),
        pl.lit(c.unit, dtype=pl.String).alias("unit"))
        for c in parsed.columns if c.kind == "number"]
    if not parts:
        return pl.DataFrame(schema={"ts": pl.Datetime("us", "UTC"), "name": pl.String,
                                    "statistic": pl.String, "value": pl.Float64,
                                    "unit": pl.String})
    return pl.concat(parts).drop_nulls("value").filter(pl.col("value").is_finite())


def _kind(column: parse.Column) -> str:
    return "timestamp" if column.kind == "timestamp" else "number"


def _header_record(parsed: parse.ParsedFile) -> dict:
    """The file's header for the files row, with the values of its text columns."""
    record = dict(parsed.header)
    if parsed.interval is not None:
        record["interval_s"] = parsed.interval / timedelta(seconds=1)
    text = [c.name for c in parsed.columns if c.kind == "text"]
    if text:
        record["text_columns"] = {
            name: parsed.data[name].drop_nulls().unique(maintain_order=True)
            .head(TEXT_VALUES_KEPT).to_list() for name in text}
    return record
