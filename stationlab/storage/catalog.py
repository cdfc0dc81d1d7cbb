"""Stations, loggers, measurement points, channels, logger configurations and files."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import polars as pl
import psycopg

from stationlab.errors import ImportRejected, StationlabError
from stationlab.storage.db import queries as db_queries
from stationlab.storage.db import statements

if TYPE_CHECKING:
    from stationlab.parse import ChannelHistory
    from stationlab.standardise import ChannelSpec

queries = statements("catalog.sql")

logger = logging.getLogger(__name__)


#: ``logger_configs.source`` of configurations taken from a logger's own sensor history.
HISTORY_SOURCE = "nrg_sensor_history"


@dataclass(frozen=True)
class LoggerRef:
    """The station, logger and logger table a file belongs to."""

    station_id: int
    station_name: str
    logger_id: int
    table_name: str | None
    utc_offset: timedelta
    created: bool


def ensure_station(conn: psycopg.Connection, name: str) -> int:
    """The id of the station called ``name``, created if missing."""
    row = conn.execute(queries()["station_by_name"], {"name": name}).fetchone()
    if row:
        return row["station_id"]
    return conn.execute(queries()["station_insert"], {"name": name}).fetchone()["station_id"]


def lock_station(conn: psycopg.Connection, name: str) -> None:
    """Serialise imports into one station until the caller's transaction ends.

    Two files of a station may overlap; importing them one after the other keeps the overlap
    check, the conflict report and the creation of channels exact.
    """
    conn.execute(queries()["station_lock"], {"name": name})


def resolve_logger(conn: psycopg.Connection, *, station: str, name: str, model: str,
                   serial_number: str, table_name: str | None, source: str,
                   station_given: bool = True) -> LoggerRef:
    """Find or create the logger that wrote a file, under ``station``.

    In order: a logger registered with the file's serial number (the same model preferred, as
    model strings differ between a file header and a document: ``CR1000`` and ``CR1000X``); else
    the one logger of the station's curated metadata (IEA Task 43 ``logger_main_config``) of the
    same model, when the serial numbers disagree; else a new logger of the station.

    Parameters
    ----------
    station
        The station the caller asks for, or the one the file's header names.
    station_given
        ``station`` was asked for (``--station``). If not, a logger whose serial number is
        registered at exactly one station lands there, whatever the file's header calls it.

    Raises
    ------
    ImportRejected
        If the logger with this serial number is registered at another station than the one
        asked for.
    """
    known = conn.execute(queries()["logger_by_serial"],
                         {"model": model, "serial_number": serial_number}).fetchall()
    known = [r for r in known if r["model"] == model] or known
    here = [r for r in known if r["station_name"] == station]
    stations = sorted({r["station_name"] for r in known})
    if known and not here:
        if station_given or len(stations) > 1:
            other = known[0]["station_name"]
            raise ImportRejected(
                f"{source}: written by logger {model} serial {serial_number}, which belongs to "
                f"station {other!r}, not {station!r}; import it with --station {other!r}, or "
                "move the logger in the station metadata first")
        station, here = stations[0], known
    if here:
        row = here[0]
        return LoggerRef(row["station_id"], station, row["logger_id"], table_name,
                         row["utc_offset"], False)
    documented = [r for r in conn.execute(db_queries("metadata.sql")["meta_documented_loggers"],
                                          {"station": station})
                  if _model_key(r["model"]) == _model_key(model)]
    if len(documented) == 1 and (model or serial_number):
        row = documented[0]
        logger.warning("%s: logger %s serial %s is not in the metadata of station %r, whose one "
                       "%s logger has serial %s; using that logger's configuration", source,
                       model, serial_number or "(none)", station, row["model"],
                       row["serial_number"] or "(none)")
        return LoggerRef(ensure_station(conn, station), station, row["logger_id"], table_name,
                         row["utc_offset"], False)
    station_id = ensure_station(conn, station)
    params = {"station_id": station_id, "name": name, "model": model,
              "serial_number": serial_number}
    row = conn.execute(queries()["logger_by_name"], params).fetchone()
    created = row is None
    if created:
        row = conn.execute(queries()["logger_insert"], params).fetchone()
    return LoggerRef(station_id, station, row["logger_id"], table_name, row["utc_offset"],
                     created)


def record_site(conn: psycopg.Connection, ref: LoggerRef, *, latitude: float | None = None,
                longitude: float | None = None, elevation_m: float | None = None,
                utc_offset: timedelta | None = None, source: str = "") -> None:
    """Store what a file header says of the site and clock: the station's latitude and longitude
    [deg] and elevation [m] where the station has none yet (curated metadata is never
    overwritten), the logger's own time zone where none is stored (a file that says another is
    logged, not stored)."""
    if latitude is not None or longitude is not None or elevation_m is not None:
        stored = conn.execute(queries()["station_fill_site"], {
            "station_id": ref.station_id, "latitude": latitude, "longitude": longitude,
            "elevation_m": elevation_m}).fetchone()
        for name, value in (("latitude", latitude), ("longitude", longitude),
                            ("elevation_m", elevation_m)):
            if value is not None and stored[name] != value:
                logger.info("%s: %s %s in the header; the station keeps %s", source, name,
                            value, stored[name])
    if utc_offset is not None:
        stored = conn.execute(queries()["logger_fill_time_zone"], {
            "logger_id": ref.logger_id, "utc_offset": utc_offset}).fetchone()
        if stored["header_utc_offset"] != utc_offset:
            logger.warning("%s: the header's time zone UTC%s differs from the logger's stored "
                           "UTC%s; kept", source, utc_offset, stored["header_utc_offset"])


def _model_key(model: str) -> str:
    """A logger model compared without case, spaces or punctuation."""
    return re.sub(r"[^a-z0-9]", "", model.lower())


def logger_configs(conn: psycopg.Connection, ref: LoggerRef) -> pl.DataFrame:
    """The column-to-channel configuration of a logger's table: column_name, channel_id, source,
    valid_from, valid_to. Open ends (-infinity, infinity) come back as nulls. ``source`` is
    ``file_header`` for configurations guessed from file headers, else curated metadata."""
    rows = conn.execute(queries()["logger_configs"], {
        "logger_id": ref.logger_id, "table_name": ref.table_name}).fetchall()
    return pl.DataFrame(
        rows,
        schema={"column_name": pl.String, "channel_id": pl.Int32, "source": pl.String,
                "valid_from": pl.Datetime("us", "UTC"), "valid_to": pl.Datetime("us", "UTC")},
        orient="row")


def create_channels(conn: psycopg.Connection, ref: LoggerRef, specs: list[ChannelSpec]) -> None:
    """Create measurement points, channels and open-ended logger configurations from specs.

    A point name another logger (or another table of the same logger) already uses gets this
    table's name added, so that, say, hourly and daily minima never share a channel.
    """
    for spec in specs:
        name = spec.point_name
        if conn.execute(queries()["point_owned_elsewhere"], {
                "station_id": ref.station_id, "name": name, "logger_id": ref.logger_id,
                "table_name": ref.table_name}).fetchone()["elsewhere"]:
            name = f"{name} ({ref.table_name})" if ref.table_name else f"{name} (2)"
        point_id = conn.execute(queries()["point_upsert"], {
            "station_id": ref.station_id, "name": name,
            "measurement_type": spec.measurement_type, "height_m": spec.height_m,
            "orientation_deg": spec.orientation_deg, "unit": spec.unit,
        }).fetchone()["measurement_point_id"]
        channel_id = conn.execute(queries()["channel_for_point"], {
            "station_id": ref.station_id, "measurement_point_id": point_id,
            "statistic": spec.statistic, "kind": spec.kind, "unit": spec.unit,
        }).fetchone()["channel_id"]
        conn.execute(queries()["config_insert"], {
            "logger_id": ref.logger_id, "table_name": ref.table_name,
            "column_name": spec.column_name, "channel_id": channel_id,
            "valid_from": "-infinity", "valid_to": "infinity", "source": "file_header"})


def station_columns(conn: psycopg.Connection, station_id: int) -> list[tuple[str, int]]:
    """``(column name, channel id)`` for every file column the station's loggers map."""
    rows = conn.execute(queries()["station_columns"], {"station_id": station_id}).fetchall()
    return [(r["column_name"], r["channel_id"]) for r in rows]


def create_history_configs(conn: psycopg.Connection, ref: LoggerRef,
                           entries: list[ChannelHistory], statistics: dict[str, str | None],
                           units: dict[str, str | None]) -> int:
    """Measurement points, channels and logger configurations from a logger's sensor history.

    Each entry holds from its effective date (or the start) to the next entry's of the same
    channel (or for ever), with the logger's scale factor and offset, and the entry's source
    (:data:`HISTORY_SOURCE` for NRG files). A point is named after the channel, height and bearing
    (``"Ch2 85m 189deg"``), so a column moved to another height or boom lands on another point.
    ``statistics`` and ``units`` give each column's statistic and unit.

    Returns
    -------
    How many configurations were created.
    """
    by_channel: dict[str, list[ChannelHistory]] = {}
    for entry in entries:
        by_channel.setdefault(entry.channel, []).append(entry)
    created = 0
    for channel_entries in by_channel.values():
        channel_entries.sort(key=lambda e: (e.effective_from is not None, e.effective_from))
        ends = [e.effective_from for e in channel_entries[1:]] + [None]
        for entry, end in zip(channel_entries, ends, strict=True):
            point_id = _history_point(conn, ref, entry)
            for column in entry.columns:
                channel_id = conn.execute(queries()["channel_for_point"], {
                    "station_id": ref.station_id, "measurement_point_id": point_id,
                    "statistic": statistics.get(column), "kind": "number",
                    "unit": units.get(column) or entry.unit}).fetchone()["channel_id"]
                conn.execute(queries()["config_insert_calibrated"], {
                    "logger_id": ref.logger_id, "table_name": ref.table_name,
                    "column_name": column, "channel_id": channel_id, "slope": entry.slope,
                    "offset": entry.offset, "valid_from": entry.effective_from or "-infinity",
                    "valid_to": end or "infinity", "source": entry.source})
                created += 1
    return created


def _history_point(conn: psycopg.Connection, ref: LoggerRef, entry: ChannelHistory) -> int:
    name = entry.point_name or f"Ch{entry.channel}"
    if entry.point_name is None and entry.height_m is not None:
        name += f" {entry.height_m:g}m"
    if entry.point_name is None and entry.bearing_deg is not None:
        name += f" {entry.bearing_deg:g}deg"
    params = {"station_id": ref.station_id, "name": name,
              "measurement_type": entry.measurement_type, "height_m": entry.height_m,
              "orientation_deg": entry.bearing_deg, "unit": entry.unit}
    point_id = conn.execute(queries()["point_upsert"], params).fetchone()["measurement_point_id"]
    conn.execute(queries()["point_update"], {**params, "measurement_point_id": point_id})
    return point_id


def unassigned_channels(conn: psycopg.Connection, ref: LoggerRef,
                        columns: list[tuple[str, str | None, str, str | None]]) -> dict[str, int]:
    """Channels for file columns no configuration explains: ``(name, statistic, kind, unit)``
    each; created if missing. Returns column name -> channel id."""
    result = {}
    for name, statistic, kind, unit in columns:
        result[name] = conn.execute(queries()["channel_unassigned"], {
            "station_id": ref.station_id, "logger_id": ref.logger_id,
            "table_name": ref.table_name, "column_name": name,
            "statistic": statistic, "kind": kind, "unit": unit}).fetchone()["channel_id"]
    return result


def sha256(data: bytes) -> bytes:
    """The content address of a file's bytes."""
    return hashlib.sha256(data).digest()


def file_by_sha(conn: psycopg.Connection, digest: bytes) -> dict | None:
    """The files row of these bytes, if they were received before."""
    return conn.execute(queries()["file_by_sha"], {"sha256": digest}).fetchone()


def register_file(conn: psycopg.Connection, *, digest: bytes, name: str, size: int,
                  source: str = "cli") -> int:
    """Insert (or find) the files row of these bytes; returns its id."""
    return conn.execute(queries()["file_insert"], {
        "sha256": digest, "name": name, "source": source, "size_bytes": size,
    }).fetchone()["file_id"]


def lock_file(conn: psycopg.Connection, file_id: int) -> str:
    """Lock a files row for the caller's transaction; returns its current status."""
    return conn.execute(queries()["file_lock"], {"file_id": file_id}).fetchone()["status"]


def mark_imported(conn: psycopg.Connection, file_id: int, **fields) -> None:
    """Record a successful import (fields as in the ``file_imported`` query).

    If the file added readings, its station's ``data_version`` goes up in the same transaction,
    so exports made from older data are known to be stale.
    """
    fields["header"] = json.dumps(fields.get("header") or {})
    conn.execute(queries()["file_imported"], {"file_id": file_id, **fields})
    if fields.get("n_inserted"):
        conn.execute(queries()["station_data_changed"], {"station_id": fields["station_id"]})


def mark_failed(conn: psycopg.Connection, file_id: int, *, error: str, format: str | None = None,
                line: int | None = None, column: str | int | None = None) -> None:
    """Record why a file failed; nothing of it is stored."""
    conn.execute(queries()["file_failed"], {
        "file_id": file_id, "error": error, "format": format, "error_line": line,
        "error_column": None if column is None else str(column)})


def station_channels(conn: psycopg.Connection, station: str) -> pl.DataFrame:
    """The channels of a station with their metadata, in export order."""
    rows = conn.execute(queries()["station_channels"], {"station": station}).fetchall()
    return pl.DataFrame(rows, schema={
        "channel_id": pl.Int32, "statistic": pl.String, "kind": pl.String, "unit": pl.String,
        "column_name": pl.String, "point_name": pl.String, "measurement_type": pl.String,
        "height_m": pl.Float64, "orientation_deg": pl.Float64, "interval_s": pl.Int32},
        orient="row")


def station(conn: psycopg.Connection, name: str) -> dict | None:
    """A station's row (name, latitude, longitude, elevation_m), or ``None``."""
    return conn.execute(queries()["station_by_name"], {"name": name}).fetchone()


def require_station(conn: psycopg.Connection, name: str) -> dict:
    """A station's row, as :func:`station`; raises naming the known stations when there is none.

    Raises
    ------
    StationlabError
        ``no station called 'x'; stations: a, b``.
    """
    row = station(conn, name)
    if row is None:
        known = ", ".join(s["station"] for s in summary(conn)) or "none yet"
        raise StationlabError(f"no station called {name!r}; stations: {known}")
    return row


def summary(conn: psycopg.Connection) -> list[dict]:
    """Per station: channels, imported files, readings and their time range."""
    return conn.execute(queries()["summary"]).fetchall()


CHANNEL_SCHEMA = {
    "channel_id": pl.Int32, "station_id": pl.Int32, "measurement_point_id": pl.Int32,
    "statistic": pl.String, "kind": pl.String, "unit": pl.String, "interval_s": pl.Int32,
    "logger_id": pl.Int32, "table_name": pl.String, "column_name": pl.String,
    "point_name": pl.String, "measurement_type": pl.String, "height_m": pl.Float64,
    "orientation_deg": pl.Float64,
}


def channel_table(conn: psycopg.Connection, station: str) -> pl.DataFrame:
    """Every channel of a station with its measurement point's metadata."""
    rows = conn.execute(queries()["channel_table"], {"station": station}).fetchall()
    return pl.DataFrame(rows, schema=CHANNEL_SCHEMA, orient="row")
