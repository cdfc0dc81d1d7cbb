"""Flags (who marked which readings as bad, and why), their codes, and the QC rules' settings
per station that make flags automatically."""

from __future__ import annotations

import json
from datetime import datetime

import polars as pl
import psycopg

from stationlab.errors import StationlabError, StorageError
from stationlab.storage.db import statements

queries = statements("flags.sql")

FLAG_LIST_SCHEMA = {
    "flag_id": pl.Int64, "ts_from": pl.Datetime("us", "UTC"), "ts_to": pl.Datetime("us", "UTC"),
    "code": pl.String, "reason": pl.String, "author": pl.String, "source": pl.String,
    "rule_name": pl.String, "rule_version": pl.Int32, "created_at": pl.Datetime("us", "UTC"),
    "deleted_at": pl.Datetime("us", "UTC"), "deleted_by": pl.String, "supersedes": pl.Int64,
    "channel_id": pl.Int32, "measurement_point_id": pl.Int32, "point_name": pl.String,
    "column_name": pl.String, "channel_point_name": pl.String, "statistic": pl.String}


def flag_codes(conn: psycopg.Connection) -> pl.DataFrame:
    """The flag codes: code, version, description, excluded_by_default."""
    return pl.DataFrame(conn.execute(queries()["flag_codes"]).fetchall(), schema={
        "code": pl.String, "version": pl.Int32, "description": pl.String,
        "excluded_by_default": pl.Boolean}, orient="row")


def ensure_flag_code(conn: psycopg.Connection, code: str, description: str,
                     excluded_by_default: bool = True) -> bool:
    """Add a flag code if it is new (codes are append-only). Returns True if it was added."""
    if conn.execute(queries()["flag_code_exists"], {"code": code}).fetchone():
        return False
    conn.execute(queries()["flag_code_insert"], {
        "code": code, "description": description, "excluded_by_default": excluded_by_default})
    return True


def insert_flag(conn: psycopg.Connection, **flag) -> int:
    """Insert a flag row; keys as in the ``flag_insert`` query (missing ones are NULL)."""
    params = {k: None for k in ("measurement_point_id", "channel_id", "rule_name",
                                "rule_version", "supersedes")}
    params.update(source="manual", reason="")
    params.update(flag)
    try:
        with conn.transaction():
            return conn.execute(queries()["flag_insert"], params).fetchone()["flag_id"]
    except psycopg.errors.ForeignKeyViolation as exc:
        raise StationlabError(f"unknown flag code {params['code']!r} (see `stationlab flags "
                              "codes`)" if "flag_codes" in str(exc) else str(exc)) from exc
    except psycopg.errors.CheckViolation as exc:
        raise StationlabError(f"flag period {params['ts_from']} to {params['ts_to']} is empty or "
                              "reversed" if "ts_from" in str(exc) or "flags_check" in str(exc)
                              else str(exc)) from exc
    except psycopg.Error as exc:  # e.g. an analyst's role may not add rule flags
        raise StorageError(str(exc).strip()) from exc


def get_flag(conn: psycopg.Connection, flag_id: int) -> dict:
    """A flag row, locked for the caller's transaction."""
    row = conn.execute(queries()["flag_get"], {"flag_id": flag_id}).fetchone()
    if row is None:
        raise StationlabError(f"no flag {flag_id}")
    return row


def delete_flag(conn: psycopg.Connection, flag_id: int, author: str) -> bool:
    """Soft-delete a flag (its row stays, marked removed by ``author``)."""
    try:
        with conn.transaction():
            return conn.execute(queries()["flag_delete"],
                                {"flag_id": flag_id, "author": author}).rowcount == 1
    except psycopg.errors.InsufficientPrivilege as exc:  # e.g. someone else's flag
        raise StorageError(exc.diag.message_primary) from exc


def list_flags(conn: psycopg.Connection, station: str, *, start: datetime | None = None,
               end: datetime | None = None, include_deleted: bool = False) -> pl.DataFrame:
    """Flags of a station overlapping ``[start, end)``, oldest first, with what they cover."""
    rows = conn.execute(queries()["flags_list"], {
        "station": station, "start": start, "end": end,
        "include_deleted": include_deleted}).fetchall()
    return pl.DataFrame(rows, schema=FLAG_LIST_SCHEMA, orient="row")


def take_rule_flags(conn: psycopg.Connection, station_id: int, rule_name: str,
                    start: datetime, end: datetime) -> list[dict]:
    """Remove a rule's flags overlapping ``[start, end)``; returns them (to keep what lies
    outside the period)."""
    return conn.execute(queries()["rule_flags_in_period"], {
        "station_id": station_id, "rule_name": rule_name, "start": start, "end": end}).fetchall()


def qc_settings(conn: psycopg.Connection, station: str) -> list[dict]:
    """A station's QC overrides: rule, measurement_type ('*' = all), params, enabled."""
    return conn.execute(queries()["qc_settings"], {"station": station}).fetchall()


def set_qc_setting(conn: psycopg.Connection, station_id: int, rule: str, measurement_type: str,
                   params: dict, enabled: bool) -> None:
    """Store a station's QC override for a rule (and measurement type)."""
    conn.execute(queries()["qc_setting_upsert"], {
        "station_id": station_id, "rule": rule, "measurement_type": measurement_type,
        "params": json.dumps(params), "enabled": enabled})


def flag_coverage(conn: psycopg.Connection, channel_ids: list[int], start: datetime | None,
                  end: datetime | None) -> pl.DataFrame:
    """Active flags spread over the channels they cover: channel_id, ts_from, ts_to, code, ..."""
    rows = conn.execute(queries()["flag_coverage"], {
        "channel_ids": channel_ids, "start": start, "end": end}).fetchall()
    return pl.DataFrame(rows, schema={
        "channel_id": pl.Int32, "ts_from": pl.Datetime("us", "UTC"),
        "ts_to": pl.Datetime("us", "UTC"), "code": pl.String, "reason": pl.String,
        "source": pl.String, "flag_id": pl.Int64}, orient="row")
