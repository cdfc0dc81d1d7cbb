"""The weekly station reports made, and where they were sent."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import psycopg

from stationlab.storage.db import statements

queries = statements("reports.sql")

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
