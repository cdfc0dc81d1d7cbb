"""What loggers say about themselves: event logs and diagnostics (for station health)."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import psycopg
from psycopg import sql

from stationlab.storage.db import statements

queries = statements("health.sql")


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


WINDOW_SCHEMA = {
    "channel_id": pl.Int32, "n_day": pl.Int64, "n_week": pl.Int64, "valid_day": pl.Int64,
    "valid_week": pl.Int64, "bad_day": pl.Int64, "out_day": pl.Int64,
    "out_since": pl.Datetime("us", "UTC"), "first_ts": pl.Datetime("us", "UTC"),
    "last_ts": pl.Datetime("us", "UTC"), "last_value": pl.Float64,
    "flat_since": pl.Datetime("us", "UTC"), "n_flat": pl.Int64, "step_s": pl.Float64,
    "bad_rules": pl.String, "bad_since": pl.Datetime("us", "UTC")}
PAIR_SCHEMA = {"a": pl.Int32, "b": pl.Int32, "day_back": pl.Int32, "sector": pl.Int32,
               "n": pl.Int64, "sum_a": pl.Float64, "sum_b": pl.Float64}
VANE_SCHEMA = {"a": pl.Int32, "b": pl.Int32, "n": pl.Int64, "mean_diff_deg": pl.Float64}


def newest_reading(conn: psycopg.Connection, station_id: int) -> datetime | None:
    """The station's newest reading stamp."""
    return conn.execute(queries()["health_newest_reading"],
                        {"station_id": station_id}).fetchone()["ts_last"]


def channel_windows(conn: psycopg.Connection, limits: pl.DataFrame, *, week_from: datetime,
                    day_from: datetime, until: datetime) -> pl.DataFrame:
    """Per channel (``limits``: channel_id, low, high) the counts the health checks judge, over
    ``[week_from, until)`` and ``[day_from, until)`` (see ``health_channel_windows``)."""
    rows = conn.execute(queries()["health_channel_windows"], {
        "channel_ids": limits["channel_id"].to_list(), "low": limits["low"].to_list(),
        "high": limits["high"].to_list(), "week_from": week_from, "day_from": day_from,
        "until": until}).fetchall()
    return pl.DataFrame(rows, schema=WINDOW_SCHEMA, orient="row")


def anemometer_pairs(conn: psycopg.Connection, pairs: pl.DataFrame, *, week_from: datetime,
                     until: datetime, min_speed: float, halfwidth: float) -> pl.DataFrame:
    """Sums of paired speeds per pair, day back and direction sector outside tower shadow
    (``pairs``: a, b, vane, shadow_a, shadow_b [deg]; ``min_speed`` [m/s], ``halfwidth``
    [deg]); a pair whose vane is null is summed over all directions (sector -1)."""
    if pairs.height == 0:
        return pl.DataFrame(schema=PAIR_SCHEMA)
    ids = sorted(set(pairs["a"].to_list() + pairs["b"].to_list()
                     + pairs["vane"].drop_nulls().to_list()))
    rows = conn.execute(queries()["health_anemometer_pairs"], {
        "a": pairs["a"].to_list(), "b": pairs["b"].to_list(), "vane": pairs["vane"].to_list(),
        "shadow_a": pairs["shadow_a"].to_list(), "shadow_b": pairs["shadow_b"].to_list(),
        "channel_ids": ids, "week_from": week_from, "until": until, "min_speed": min_speed,
        "halfwidth": halfwidth}).fetchall()
    return pl.DataFrame(rows, schema=PAIR_SCHEMA, orient="row")


def vane_pairs(conn: psycopg.Connection, pairs: pl.DataFrame, *, week_from: datetime,
               until: datetime) -> pl.DataFrame:
    """The mean absolute difference of paired vanes (``pairs``: a, b) [deg]."""
    if pairs.height == 0:
        return pl.DataFrame(schema=VANE_SCHEMA)
    ids = sorted(set(pairs["a"].to_list() + pairs["b"].to_list()))
    rows = conn.execute(queries()["health_vane_pairs"], {
        "a": pairs["a"].to_list(), "b": pairs["b"].to_list(), "channel_ids": ids,
        "week_from": week_from, "until": until}).fetchall()
    return pl.DataFrame(rows, schema=VANE_SCHEMA, orient="row")


def _with_supply_values(query: str) -> sql.Composed:
    """A statement reading the supply voltages of ``health_supply_values`` as ``{values}``: the
    one place that says which readings and diagnostics are a logger's supply."""
    return sql.SQL(queries()[query]).format(values=sql.SQL(queries()["health_supply_values"]))


def supply_daily(conn: psycopg.Connection, *, at: datetime | None, days: int,
                 names: list[str]) -> pl.DataFrame:
    """Daily minimum supply voltage per logger, by day back from its newest value (or ``at``)
    [V]; ``names``: ILIKE patterns of the diagnostics that are supply voltages."""
    rows = conn.execute(_with_supply_values("health_supply_daily"), {
        "until": at, "since": None, "station_id": None, "days": days,
        "names": names}).fetchall()
    return pl.DataFrame(rows, schema={
        "station": pl.String, "logger_id": pl.Int32, "logger": pl.String,
        "until": pl.Datetime("us", "UTC"), "day_back": pl.Int32, "v_min": pl.Float64,
        "n": pl.Int64}, orient="row")


def supply_series(conn: psycopg.Connection, *, station_id: int, since: datetime,
                  until: datetime, names: list[str]) -> pl.DataFrame:
    """A station's supply voltages over ``[since, until]``, the ones :func:`supply_daily` judges,
    by logger, series and time [V]; ``names`` as there."""
    rows = conn.execute(_with_supply_values("health_supply_series"), {
        "station_id": station_id, "since": since, "until": until, "names": names}).fetchall()
    return pl.DataFrame(rows, schema={
        "logger": pl.String, "series": pl.String, "ts": pl.Datetime("us", "UTC"),
        "value": pl.Float64}, orient="row")


def logger_faults(conn: psycopg.Connection, *, at: datetime | None) -> pl.DataFrame:
    """FAULT events per logger in its last day of events."""
    rows = conn.execute(queries()["health_logger_faults"], {"at": at}).fetchall()
    return pl.DataFrame(rows, schema={
        "station": pl.String, "logger_id": pl.Int32, "logger": pl.String, "n_faults": pl.Int64,
        "since": pl.Datetime("us", "UTC"), "faults": pl.String}, orient="row")


def clock_jumps(conn: psycopg.Connection, *, tolerance_s: float) -> pl.DataFrame:
    """Per logger, the newest file of a table whose clock jumped (else its newest file):
    ``ahead`` (stamped after its arrival) or ``behind`` (stamped before ``earlier_last``, the
    newest stamp of the files of that table received before it), by more than the tolerance. [s]
    """
    rows = conn.execute(queries()["health_clock"], {"tolerance_s": tolerance_s}).fetchall()
    return pl.DataFrame(rows, schema={
        "station": pl.String, "logger_id": pl.Int32, "logger": pl.String, "file": pl.String,
        "ts_last": pl.Datetime("us", "UTC"), "received_at": pl.Datetime("us", "UTC"),
        "earlier_last": pl.Datetime("us", "UTC"), "ahead": pl.Boolean, "behind": pl.Boolean},
        orient="row")


def import_failures(conn: psycopg.Connection) -> pl.DataFrame:
    """Per station, its newest files failed in a row (``n_failed``, 0: the newest imported)."""
    rows = conn.execute(queries()["health_import_failures"]).fetchall()
    return pl.DataFrame(rows, schema={
        "station": pl.String, "n_failed": pl.Int64, "since": pl.Datetime("us", "UTC"),
        "newest_name": pl.String, "newest_error": pl.String}, orient="row")


def record_fetch_attempt(conn: psycopg.Connection, source: str, ok: bool,
                         error: str | None = None, station: str | None = None) -> None:
    """Record one fetch of a source, whether it could be listed and the station the source is
    configured for (``None``: its files say)."""
    conn.execute(queries()["fetch_attempt_record"], {"source": source, "ok": ok, "error": error,
                                                     "station": station})


def fetch_failures(conn: psycopg.Connection) -> pl.DataFrame:
    """Per fetch source, its newest attempts failed in a row (``n_failed``)."""
    rows = conn.execute(queries()["health_fetch_failures"]).fetchall()
    return pl.DataFrame(rows, schema={
        "source": pl.String, "n_failed": pl.Int64, "since": pl.Datetime("us", "UTC"),
        "last_error": pl.String}, orient="row")


def logger_health(conn: psycopg.Connection) -> pl.DataFrame:
    """Per logger: newest reading and file, files imported and failed."""
    rows = conn.execute(queries()["logger_health"]).fetchall()
    return pl.DataFrame(rows, schema={
        "station": pl.String, "logger_id": pl.Int32, "logger": pl.String, "model": pl.String,
        "serial_number": pl.String, "last_reading": pl.Datetime("us", "UTC"),
        "last_file_at": pl.Datetime("us", "UTC"), "files_imported": pl.Int64,
        "files_failed": pl.Int64}, orient="row")


def failed_files(conn: psycopg.Connection) -> pl.DataFrame:
    """Files whose import failed, with the reason."""
    rows = conn.execute(queries()["failed_files"]).fetchall()
    return pl.DataFrame(rows, schema={
        "file_id": pl.Int64, "name": pl.String, "source": pl.String, "format": pl.String,
        "error": pl.String, "error_line": pl.Int32, "error_column": pl.String,
        "attempts": pl.Int32, "received_at": pl.Datetime("us", "UTC")}, orient="row")
