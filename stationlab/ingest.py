"""Import logger files: content hash, parse, standardise, store; one outcome per file.

The same bytes twice are a no-op. A file that fails is recorded as failed with its reason and
nothing of it is stored; the other files still import.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import polars as pl

from stationlab import parse, standardise, storage
from stationlab.errors import ImportRejected, ParseError, StationlabError, StorageError
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
                 progress: bool | None = None) -> list[Outcome]:
    """Import files and folders (recursively) on one connection.

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
            outcome = import_file(conn, path, station=station, source=source, mappings=loaded)
            outcomes.append(outcome)
            if on_outcome:
                on_outcome(outcome)
    return outcomes


def import_file(conn, path: str | os.PathLike, *, station: str | None = None,
                source: str = "cli", mappings: Iterable = ()) -> Outcome:
    """Import one file on an autocommit connection; never raises for a bad file.

    ``mappings`` are :class:`~stationlab.parse.generic_csv.Mapping` objects for generic CSV
    files."""
    path = Path(path)
    data = path.read_bytes()
    digest = catalog.sha256(data)
    with storage.transaction(conn):
        known = catalog.file_by_sha(conn, digest)
        if known and known["status"] == "imported":
            return Outcome(str(path), "already imported")
        file_id = catalog.register_file(conn, digest=digest, name=path.name, size=len(data),
                                        source=source)
    fmt = None
    try:
        fmt = parse.sniff(data[:parse.SNIFF_BYTES], source=path.name)
        options = _options(fmt, path, mappings)
        parsed = parse.parse_bytes(data, format=fmt, source=path.name, **options)
        return _store(conn, parsed, data, file_id=file_id, path=path, station=station,
                      options=options)
    except ParseError as exc:
        _fail(conn, file_id, str(exc), fmt, exc.line, exc.column)
        return Outcome(str(path), "failed", error=str(exc))
    except (ImportRejected, StorageError) as exc:
        _fail(conn, file_id, str(exc), fmt)
        return Outcome(str(path), "failed", error=str(exc))
    except Exception as exc:  # a bug must not stop the other files; it is logged in full
        logger.exception("unexpected error importing %s", path)
        error = f"internal error ({type(exc).__name__}: {exc}); please report it"
        _fail(conn, file_id, error, fmt)
        return Outcome(str(path), "failed", error=error)


def _options(fmt: str, path: Path, mappings: Iterable) -> dict:
    """Parser options for a file: a generic CSV gets the mapping whose pattern matches it."""
    if fmt != "generic_csv":
        return {}
    from stationlab.parse import generic_csv

    return {"mapping": generic_csv.mapping_for(path, list(mappings))}


def _fail(conn, file_id: int, error: str, fmt: str | None, line: int | None = None,
          column: str | int | None = None) -> None:
    logger.info("import failed: %s", error)
    with storage.transaction(conn):
        catalog.mark_failed(conn, file_id, error=error, format=fmt, line=line, column=column)


def _store(conn, parsed: parse.ParsedFile, data: bytes, *, file_id: int, path: Path,
           station: str | None, options: dict) -> Outcome:
    header = parsed.header
    station = station or header.get("station_name") or path.stem
    with storage.transaction(conn):
        ref = catalog.resolve_logger(
            conn, station=station, name=header.get("station_name") or station,
            model=header.get("logger_model", ""), serial_number=header.get("logger_serial", ""),
            table_name=header.get("table_name"), source=path.name)
    if ref.utc_offset:
        # The logger's clock runs at a fixed offset: read its naive stamps again with it.
        parsed = parse.parse_bytes(data, format=parsed.format, source=path.name,
                                   **{**options, "utc_offset": ref.utc_offset})
    if parsed.records != "readings":
        return _store_health(conn, parsed, file_id=file_id, path=path, ref=ref)
    if parsed.data.height:
        storage.readings.ensure_partitions(conn, parsed.data["ts"].min(), parsed.data["ts"].max())
    with storage.transaction(conn):
        if catalog.lock_file(conn, file_id) == "imported":
            return Outcome(str(path), "already imported")
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
        long, unmatched = standardise.to_long(parsed, configs)
        if unmatched:
            columns = {c.name: c for c in parsed.columns}
            ids = catalog.unassigned_channels(conn, ref, [
                (name, columns[name].statistic, _kind(columns[name]), columns[name].unit)
                for name in unmatched])
            long = long.with_columns(pl.col("channel_id").fill_null(
                pl.col("column_name").replace_strict(ids, default=None, return_dtype=pl.Int32)))
        stored = storage.readings.store_readings(conn, [long.select("channel_id", "ts", "value")],
                                                 file_id=file_id)
        catalog.mark_imported(
            conn, file_id, format=parsed.format, station_id=ref.station_id,
            logger_id=ref.logger_id, table_name=ref.table_name, n_rows=parsed.data.height,
            n_readings=long.height,
            n_inserted=stored.inserted, n_duplicates=stored.duplicates,
            n_conflicts=stored.conflicts,
            ts_first=parsed.data["ts"].min(), ts_last=parsed.data["ts"].max(),
            header=_header_record(parsed))
    logger.info("%s: %d readings, %d inserted (%s)", path.name, long.height, stored.inserted,
                stored.path)
    return Outcome(str(path), "imported", station=station, readings=stored.inserted,
                   duplicates=stored.duplicates, conflicts=stored.conflicts,
                   unassigned=tuple(unmatched))


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


def _store_health(conn, parsed: parse.ParsedFile, *, file_id: int, path: Path,
                  ref) -> Outcome:
    """Store a logger's events or diagnostics (not readings) with the file's row."""
    frame = parsed.data
    with storage.transaction(conn):
        if catalog.lock_file(conn, file_id) == "imported":
            return Outcome(str(path), "already imported")
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
    return Outcome(str(path), "imported", station=ref.station_name, readings=inserted,
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
