"""What loggers say about themselves: event logs and diagnostics (for station health)."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import psycopg

from stationlab.storage.db import queries


def store_events(conn: psycopg.Connection, *, logger_id: int, file_id: int,
                 events: pl.DataFrame) -> int:
    """Store events (``ts, kind, code, message``); an event already stored is skipped.

    Returns
    -------
    How many events were new.
    """
    if events.height == 0:
        return 0
    cursor = conn.execute(queries()["events_insert"], {
        "logger_id": logger_id, "file_id": file_id, "ts": events["ts"].to_list(),
        "kind": events["kind"].to_list(), "code": events["code"].fill_null("").to_list(),
        "message": events["message"].fill_null("").to_list()})
    return cursor.rowcount


def store_diagnostics(conn: psycopg.Connection, *, logger_id: int, file_id: int,
                      values: pl.DataFrame) -> int:
    """Store diagnostic values (``ts, name, statistic, value, unit``); values already stored for
    the same quantity, statistic and time are skipped.

    Returns
    -------
    How many values were new.
    """
    if values.height == 0:
        return 0
    cursor = conn.execute(queries()["diagnostics_insert"], {
        "logger_id": logger_id, "file_id": file_id, "ts": values["ts"].to_list(),
        "name": values["name"].to_list(), "statistic": values["statistic"].to_list(),
        "value": values["value"].to_list(), "unit": values["unit"].to_list()})
    return cursor.rowcount


def events(conn: psycopg.Connection, logger_id: int) -> list[dict]:
    """A logger's events in time order."""
    return conn.execute(queries()["logger_events"], {"logger_id": logger_id}).fetchall()


def diagnostics(conn: psycopg.Connection, logger_id: int) -> list[dict]:
    """A logger's diagnostic values by quantity, statistic and time."""
    return conn.execute(queries()["logger_diagnostics"], {"logger_id": logger_id}).fetchall()


def recent_events(conn: psycopg.Connection, limit: int) -> pl.DataFrame:
    """The newest logger events of every station, newest first."""
    rows = conn.execute(queries()["recent_logger_events"], {"limit": limit}).fetchall()
    return pl.DataFrame(rows, schema={
        "station": pl.String, "logger": pl.String, "ts": pl.Datetime("us", "UTC"),
        "kind": pl.String, "code": pl.String, "message": pl.String}, orient="row")


def supply_voltages(conn: psycopg.Connection, since: datetime) -> pl.DataFrame:
    """Diagnostic values in volts (supply and battery voltages) since a time."""
    rows = conn.execute(queries()["supply_voltages"], {"since": since}).fetchall()
    return pl.DataFrame(rows, schema={
        "station": pl.String, "logger": pl.String, "ts": pl.Datetime("us", "UTC"),
        "name": pl.String, "statistic": pl.String, "value": pl.Float64}, orient="row")
