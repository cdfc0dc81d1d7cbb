"""Pipeline runs, alerts, job locks, roles and scratch databases (SQL in queries.sql)."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from datetime import datetime

import polars as pl
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from stationlab.errors import ConfigError, StorageError
from stationlab.storage.db import queries

logger = logging.getLogger(__name__)

RUN_SCHEMA = {
    "run_id": pl.Int64, "job": pl.String, "notebook": pl.String, "parameters": pl.String,
    "status": pl.String, "scheduled_for": pl.Datetime("us", "UTC"),
    "started_at": pl.Datetime("us", "UTC"), "finished_at": pl.Datetime("us", "UTC"),
    "duration_s": pl.Float64, "error": pl.String, "output_path": pl.String, "host": pl.String}
ALERT_SCHEMA = {
    "alert_id": pl.Int64, "incident": pl.String, "kind": pl.String, "subject": pl.String,
    "message": pl.String, "link": pl.String, "run_id": pl.Int64,
    "raised_at": pl.Datetime("us", "UTC"), "sent_to": pl.List(pl.String),
    "send_error": pl.String, "resolved_at": pl.Datetime("us", "UTC"),
    "resolved_sent_to": pl.List(pl.String)}


def start_run(conn: psycopg.Connection, job: str, notebook: str, parameters: dict,
              output_path: str, host: str, scheduled_for: datetime | None = None) -> int:
    """Record a run as ``running``; returns its id."""
    row = conn.execute(queries()["run_start"], {
        "job": job, "notebook": notebook, "parameters": json.dumps(parameters, default=str),
        "scheduled_for": scheduled_for, "output_path": output_path, "host": host}).fetchone()
    return row["run_id"]


def finish_run(conn: psycopg.Connection, run_id: int, status: str,
               error: str | None = None) -> dict:
    """Record a run's end (``success`` or ``failed``); returns the run's row."""
    conn.execute(queries()["run_finish"], {"run_id": run_id, "status": status, "error": error})
    return conn.execute(queries()["run_get"], {"run_id": run_id}).fetchone()


def history(conn: psycopg.Connection, job: str | None = None, limit: int = 50) -> pl.DataFrame:
    """The newest runs first (of one job, or all)."""
    rows = conn.execute(queries()["runs_history"], {"job": job, "limit": limit}).fetchall()
    for row in rows:
        row["parameters"] = json.dumps(row["parameters"], sort_keys=True)
    return pl.DataFrame(rows, schema=RUN_SCHEMA, orient="row")


def last_scheduled(conn: psycopg.Connection) -> dict[str, datetime]:
    """Per job, the newest schedule time a run was started for."""
    return {r["job"]: r["scheduled_for"]
            for r in conn.execute(queries()["runs_last_scheduled"]).fetchall()}


@contextlib.contextmanager
def job_lock(dsn: str | None, job: str) -> Iterator[bool]:
    """Hold the job's advisory lock while the block runs; yields False (and holds nothing) if
    another session holds it.

    The lock is a transaction lock held open on a connection of its own: a session lock would
    stay behind on whichever server connection a transaction pooler gave us, and its unlock
    could go to another one.
    """
    from stationlab.storage.db import connect

    with connect(dsn, check=False) as conn:
        locked = conn.execute(queries()["job_try_lock"], {"job": job}).fetchone()["locked"]
        try:
            yield locked
        finally:
            if not conn.closed:
                conn.rollback()  # ends the transaction: releases the lock


def open_alert(conn: psycopg.Connection, *, incident: str, kind: str, subject: str,
               message: str, link: str | None = None, run_id: int | None = None) -> int | None:
    """Record an alert unless its incident is already open; returns its id, or None."""
    row = conn.execute(queries()["alert_open"], {
        "incident": incident, "kind": kind, "subject": subject, "message": message,
        "link": link, "run_id": run_id}).fetchone()
    return row["alert_id"] if row else None


def alert_sent(conn: psycopg.Connection, alert_id: int, sent_to: list[str],
               send_error: str | None) -> None:
    """Record where an alert went, and what failed while sending it."""
    conn.execute(queries()["alert_sent"], {"alert_id": alert_id, "sent_to": sent_to,
                                            "send_error": send_error})


def resolve_alerts(conn: psycopg.Connection, incidents: list[str]) -> list[str]:
    """Close open incidents; returns those that were open."""
    rows = conn.execute(queries()["alerts_resolve"], {"incidents": incidents}).fetchall()
    return [r["incident"] for r in rows]


def open_incidents(conn: psycopg.Connection, prefix: str) -> list[str]:
    """Open incidents whose key starts with ``prefix``."""
    return [r["incident"] for r in
            conn.execute(queries()["alerts_open_like"], {"prefix": prefix}).fetchall()]


def alerts(conn: psycopg.Connection, *, open_only: bool = False) -> pl.DataFrame:
    """Alerts, oldest first."""
    rows = conn.execute(queries()["alerts_list"], {"open_only": open_only}).fetchall()
    return pl.DataFrame(rows, schema=ALERT_SCHEMA, orient="row")


REPORT_SCHEMA = {
    "report_id": pl.Int64, "station": pl.String, "run_id": pl.Int64,
    "made_at": pl.Datetime("us", "UTC"), "week_to": pl.Datetime("us", "UTC"),
    "html_path": pl.String, "pdf_path": pl.String, "sent_to": pl.List(pl.String),
    "send_error": pl.String}


def record_report(conn: psycopg.Connection, *, station: str, run_id: int | None,
                  week_to: datetime | None, html_path: str, pdf_path: str | None,
                  sent_to: list[str], send_error: str | None) -> int:
    """Record a weekly station report made; returns its id."""
    return conn.execute(queries()["report_record"], {
        "station": station, "run_id": run_id, "week_to": week_to, "html_path": html_path,
        "pdf_path": pdf_path, "sent_to": sent_to, "send_error": send_error}).fetchone()[
        "report_id"]


def latest_reports(conn: psycopg.Connection, station: str | None = None) -> pl.DataFrame:
    """Each station's newest weekly report (``station``: only that one), by station."""
    rows = conn.execute(queries()["reports_latest"], {"station": station}).fetchall()
    return pl.DataFrame(rows, schema=REPORT_SCHEMA, orient="row")


def server_version(conn: psycopg.Connection) -> int:
    """The server's major version (15, 18, ...)."""
    return conn.execute(queries()["server_version"]).fetchone()["version_num"] // 10000


def grant_analyst(conn: psycopg.Connection, name: str, password: str | None = None,
                  calibrations: bool | None = None) -> bool:
    """Create (or update) an analyst's LOGIN role, a member of ``stationlab_analyst``, allowed to
    connect to this database. Returns True if the role was created.

    ``calibrations``: also (``True``) or no longer (``False``) a member of
    ``stationlab_calibrator``, who records and corrects sensor calibrations; ``None`` leaves it.
    """
    extra = {} if calibrations is None else {"stationlab_calibrator": calibrations}
    return _grant_login(conn, name, "stationlab_analyst", password, extra)


def grant_pipeline(conn: psycopg.Connection, name: str, password: str | None = None) -> bool:
    """Create (or update) a LOGIN role for the scheduled jobs, a member of
    ``stationlab_pipeline`` (reads and writes data, never the schema; migration 0012), allowed
    to connect to this database. Returns True if the role was created."""
    return _grant_login(conn, name, "stationlab_pipeline", password, {})


def _grant_login(conn: psycopg.Connection, name: str, group: str, password: str | None,
                 extra: dict[str, bool]) -> bool:
    """A LOGIN role in ``group`` (and in or out of the ``extra`` groups) that may connect."""
    ident = sql.Identifier(name)
    try:
        with conn.transaction():
            created = not conn.execute(queries()["role_exists"], {"name": name}).fetchone()
            key = "role_create_login" if created else "role_grant"
            conn.execute(sql.SQL(queries()[key]).format(name=ident, group=sql.Identifier(group)))
            for other, member in extra.items():
                conn.execute(sql.SQL(queries()["role_grant" if member else "role_revoke"]).format(
                    name=ident, group=sql.Identifier(other)))
            if password is not None:
                conn.execute(sql.SQL(queries()["role_set_password"]).format(
                    name=ident, password=sql.Literal(password)))
            conn.execute(sql.SQL(queries()["role_grant_connect"]).format(
                name=ident, database=sql.Identifier(conn.info.dbname)))
    except psycopg.errors.InsufficientPrivilege as exc:
        raise StorageError(f"cannot create role {name!r}: connect as a role with CREATEROLE "
                           f"(the database owner); PostgreSQL said: {exc}".strip()) from exc
    except psycopg.errors.UndefinedObject as exc:
        raise ConfigError(f"a role stationlab needs is missing ({exc.diag.message_primary}); "
                          "run `stationlab db migrate` first") from exc
    return created


def role_memberships(conn: psycopg.Connection, name: str) -> list[str]:
    """The stationlab group roles a login role is a member of, by name."""
    return [r["rolname"] for r in conn.execute(queries()["role_memberships"], {"name": name})]


def dsn_for(dsn: str, **changes) -> str:
    """The DSN with some connection parameters changed (``dbname=``, ``user=``, ...)."""
    return make_conninfo(dsn, **changes)


def dsn_parts(dsn: str) -> dict:
    """A DSN's connection parameters."""
    return conninfo_to_dict(dsn)


def create_database(dsn: str, name: str) -> str:
    """Create an empty database on the server of ``dsn`` (dropped first if it exists); returns
    its DSN."""
    _admin(dsn, "database_drop", name)
    _admin(dsn, "database_create", name)
    return make_conninfo(dsn, dbname=name)


def drop_database(dsn: str, name: str) -> None:
    """Drop a database of the server of ``dsn`` (disconnecting its sessions)."""
    _admin(dsn, "database_drop", name)


def _admin(dsn: str, query: str, name: str) -> None:
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL(queries()[query]).format(name=sql.Identifier(name)))
    except psycopg.Error as exc:
        raise StorageError(f"{query.replace('_', ' ')} {name!r} failed: {exc}".strip()) from exc


def restore_check(dsn: str) -> dict:
    """What a restored database holds: schema version and counts of readings, files, flags."""
    try:
        with psycopg.connect(dsn, row_factory=psycopg.rows.dict_row) as conn:
            return conn.execute(queries()["restore_check"]).fetchone()
    except psycopg.Error as exc:
        raise StorageError(f"the restored database cannot be read: {exc}".strip()) from exc


def open_alert_details(conn: psycopg.Connection, incidents: list[str]) -> list[dict]:
    """The open alerts of these incidents: alert_id, incident, kind, subject, link, raised_at."""
    return conn.execute(queries()["alerts_open_detail"], {"incidents": incidents}).fetchall()


def alert_resolved_sent(conn: psycopg.Connection, alert_id: int, sent_to: list[str]) -> None:
    """Record where an alert's "resolved" message went."""
    conn.execute(queries()["alert_resolved_sent"], {"alert_id": alert_id, "sent_to": sent_to})
