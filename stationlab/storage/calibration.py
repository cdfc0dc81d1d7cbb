"""Sensors and their calibration certificates."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import psycopg

from stationlab.errors import StationlabError, StorageError
from stationlab.storage.db import statements

queries = statements("calibration.sql")

SENSOR_SCHEMA = {"sensor_id": pl.Int32, "sensor_type": pl.String, "oem": pl.String,
                 "model": pl.String, "serial_number": pl.String, "stations": pl.String,
                 "points": pl.String}
CALIBRATION_SCHEMA = {
    "calibration_id": pl.Int32, "sensor_id": pl.Int32, "slope": pl.Float64, "offset": pl.Float64,
    "calibration_date": pl.Date, "certificate": pl.String,
    "valid_from": pl.Datetime("us", "UTC"), "valid_to": pl.Datetime("us", "UTC"),
    "author": pl.String, "created_at": pl.Datetime("us", "UTC")}
HISTORY_SCHEMA = CALIBRATION_SCHEMA | {"replaced_at": pl.Datetime("us", "UTC"),
                                       "replaced_by": pl.String, "change": pl.String}
#: The fields of a calibration that a person sets.
FIELDS = ("slope", "offset", "calibration_date", "certificate", "valid_from", "valid_to")


def sensors(conn: psycopg.Connection, station: str | None = None) -> pl.DataFrame:
    """Sensors (installed at ``station``, or all) with the stations and points they served."""
    rows = conn.execute(queries()["sensors_list"], {"station": station}).fetchall()
    return pl.DataFrame(rows, schema=SENSOR_SCHEMA, orient="row")


def insert_sensor(conn: psycopg.Connection, *, sensor_type: str, oem: str, model: str,
                  serial_number: str) -> int:
    """Register a sensor; returns its id."""
    try:
        return conn.execute(queries()["sensor_insert"], {
            "sensor_type": sensor_type, "oem": oem, "model": model,
            "serial_number": serial_number}).fetchone()["sensor_id"]
    except psycopg.errors.UniqueViolation as exc:
        raise StationlabError(f"a sensor {oem} {model} serial {serial_number} is already "
                              "registered") from exc


def install_sensor(conn: psycopg.Connection, sensor_id: int, measurement_point_id: int,
                   valid_from: datetime | None, valid_to: datetime | None) -> int:
    """Mount a sensor on a measurement point over ``[valid_from, valid_to)``."""
    try:
        return conn.execute(queries()["sensor_install"], {
            "sensor_id": sensor_id, "measurement_point_id": measurement_point_id,
            "valid_from": valid_from or "-infinity", "valid_to": valid_to or "infinity",
        }).fetchone()["sensor_installation_id"]
    except psycopg.errors.ExclusionViolation as exc:
        raise StationlabError("another sensor is installed on that measurement point in that "
                              f"period: {exc.diag.message_primary}") from exc


def calibrations(conn: psycopg.Connection, sensor_id: int) -> pl.DataFrame:
    """A sensor's calibrations in time order; open period ends are null."""
    rows = conn.execute(queries()["calibrations_list"], {"sensor_id": sensor_id}).fetchall()
    return pl.DataFrame(rows, schema=CALIBRATION_SCHEMA, orient="row")


def calibration_history(conn: psycopg.Connection, sensor_id: int) -> pl.DataFrame:
    """Earlier versions of a sensor's calibrations, newest first: each row as it was until
    ``replaced_at``, when ``replaced_by`` corrected (``change``: ``corrected``) or removed it
    (``deleted``)."""
    rows = conn.execute(queries()["calibration_history"], {"sensor_id": sensor_id}).fetchall()
    return pl.DataFrame(rows, schema=HISTORY_SCHEMA, orient="row")


def _params(values: dict) -> dict:
    params = dict.fromkeys(FIELDS)
    params["offset"] = 0.0
    params.update(values)
    return params


def write_calibration(conn: psycopg.Connection, *, sensor_id: int, author: str,
                      calibration_id: int | None = None, **values) -> int:
    """Insert a calibration, or correct ``calibration_id``; returns the calibration's id.

    The database refuses a zero slope and overlapping periods of one sensor; both come back as a
    :class:`StationlabError` that says so.
    """
    params = _params(values) | {"sensor_id": sensor_id, "author": author,
                                "calibration_id": calibration_id}
    name = "calibration_insert" if calibration_id is None else "calibration_update"
    try:
        with conn.transaction():
            row = conn.execute(queries()[name], params).fetchone()
    except psycopg.errors.ExclusionViolation as exc:
        raise StationlabError(f"this calibration's period overlaps another calibration of the "
                              f"same sensor ({exc.diag.message_primary}); end the other one "
                              "first or change the dates") from exc
    except psycopg.errors.CheckViolation as exc:
        raise StationlabError("a calibration needs a non-zero slope and a period that starts "
                              f"before it ends ({exc.diag.message_primary})") from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        user = conn.info.user
        raise StorageError(f"{user} may read calibrations but not change them "
                           f"({exc.diag.message_primary}); the database owner allows it with "
                           f"`stationlab db grant-analyst {user} --calibrations`") from exc
    if row is None:
        raise StationlabError(f"no calibration {calibration_id}")
    return row["calibration_id"]


def preview_clean(conn: psycopg.Connection, channel_ids: list[int], start: datetime,
                  end: datetime, change: dict) -> pl.DataFrame:
    """Clean readings as they would be with ``change`` (keyword arguments of
    :func:`write_calibration`) applied; nothing is kept: the change is rolled back."""
    from stationlab.storage.clean import clean_readings

    result = None
    with conn.transaction():
        write_calibration(conn, **change)
        result = clean_readings(conn, channel_ids, start, end, include_flagged=True)
        raise psycopg.Rollback()
    return result


def sensor_channels(conn: psycopg.Connection, sensor_id: int) -> list[int]:
    """The numeric channels of the measurement points the sensor was installed on."""
    rows = conn.execute(queries()["sensor_channels"], {"sensor_id": sensor_id}).fetchall()
    return [row["channel_id"] for row in rows]
