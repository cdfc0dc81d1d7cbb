"""Stations, loggers, measurement points, channels, logger configurations and files."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import polars as pl
import psycopg

from stationlab.errors import ImportRejected
from stationlab.storage.db import queries

if TYPE_CHECKING:
    from stationlab.standardise import ChannelSpec


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


def resolve_logger(conn: psycopg.Connection, *, station: str, name: str, model: str,
                   serial_number: str, table_name: str | None, source: str) -> LoggerRef:
    """Find or create the logger that wrote a file, under ``station``.

    Raises
    ------
    ImportRejected
        If a logger with this model and serial number is already registered at another station.
    """
    known = conn.execute(queries()["logger_by_serial"],
                         {"model": model, "serial_number": serial_number}).fetchall()
    elsewhere = [r for r in known if r["station_name"] != station]
    if elsewhere and len(elsewhere) == len(known):
        other = elsewhere[0]["station_name"]
        raise ImportRejected(
            f"{source}: written by logger {model} serial {serial_number}, which belongs to "
            f"station {other!r}, not {station!r}; import it with --station {other!r}, or move "
            "the logger in the station metadata first")
    station_id = ensure_station(conn, station)
    params = {"station_id": station_id, "name": name, "model": model,
              "serial_number": serial_number}
    row = conn.execute(queries()["logger_by_name"], params).fetchone()
    created = row is None
    if created:
        row = conn.execute(queries()["logger_insert"], params).fetchone()
    return LoggerRef(station_id, station, row["logger_id"], table_name, row["utc_offset"],
                     created)


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
        "height_m": pl.Float64, "orientation_deg": pl.Float64}, orient="row")


def station(conn: psycopg.Connection, name: str) -> dict | None:
    """A station's row (name, latitude, longitude, elevation_m), or ``None``."""
    return conn.execute(queries()["station_by_name"], {"name": name}).fetchone()


def summary(conn: psycopg.Connection) -> list[dict]:
    """Per station: channels, imported files, readings and their time range."""
    return conn.execute(queries()["summary"]).fetchall()
