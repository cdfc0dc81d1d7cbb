"""Alerts: an incident (a failed run, a quiet logger, a failing sensor) opened once, sent,
resolved."""

from __future__ import annotations

import polars as pl
import psycopg

from stationlab.storage.db import statements

queries = statements("alerts.sql")

ALERT_SCHEMA = {
    "alert_id": pl.Int64, "incident": pl.String, "kind": pl.String, "subject": pl.String,
    "message": pl.String, "link": pl.String, "run_id": pl.Int64,
    "raised_at": pl.Datetime("us", "UTC"), "sent_to": pl.List(pl.String),
    "send_error": pl.String, "resolved_at": pl.Datetime("us", "UTC"),
    "resolved_sent_to": pl.List(pl.String)}


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


def station_open_alerts(conn: psycopg.Connection, station: str) -> pl.DataFrame:
    """The open alerts about one station (its loggers, channels, imports and the fetch sources
    feeding it, see ``alerts_open_for_station``), oldest first."""
    rows = conn.execute(queries()["alerts_open_for_station"], {"station": station}).fetchall()
    return pl.DataFrame(rows, schema=ALERT_SCHEMA, orient="row")


def open_alert_details(conn: psycopg.Connection, incidents: list[str]) -> list[dict]:
    """The open alerts of these incidents: alert_id, incident, kind, subject, link, raised_at."""
    return conn.execute(queries()["alerts_open_detail"], {"incidents": incidents}).fetchall()


def alert_resolved_sent(conn: psycopg.Connection, alert_id: int, sent_to: list[str]) -> None:
    """Record where an alert's "resolved" message went."""
    conn.execute(queries()["alert_resolved_sent"], {"alert_id": alert_id, "sent_to": sent_to})
