"""Pipeline runs (one row a notebook run, with its outcome) and the job locks that keep one run
of a job at a time."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from datetime import datetime

import polars as pl
import psycopg

from stationlab.storage.db import statements

queries = statements("runs.sql")

logger = logging.getLogger(__name__)

RUN_SCHEMA = {
    "run_id": pl.Int64, "job": pl.String, "notebook": pl.String, "parameters": pl.String,
    "status": pl.String, "scheduled_for": pl.Datetime("us", "UTC"),
    "started_at": pl.Datetime("us", "UTC"), "finished_at": pl.Datetime("us", "UTC"),
    "duration_s": pl.Float64, "error": pl.String, "output_path": pl.String, "host": pl.String}


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


