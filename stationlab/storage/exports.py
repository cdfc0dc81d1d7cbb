"""The exports manifest: which files the export job produced, from which data version."""

from __future__ import annotations

import json

import psycopg

from stationlab.storage.db import statements

queries = statements("exports.sql")


def data_versions(conn: psycopg.Connection, stations: list[str] | None = None) -> list[dict]:
    """Per station (all, or those named): ``station_id``, ``station``, ``data_version``."""
    return conn.execute(queries()["station_data_versions"], {"stations": stations}).fetchall()


def clean_inputs_digest(conn: psycopg.Connection, station_id: int) -> str:
    """A digest of what turns a station's raw readings into clean ones (its calibration
    segments, active flags and the flag codes; see schema.sql)."""
    return conn.execute(queries()["clean_inputs_digest"], {"station_id": station_id}
                        ).fetchone()["digest"]


def record(conn: psycopg.Connection, **fields) -> int:
    """Add a manifest row (fields as in the ``export_insert`` query); returns its id."""
    fields["options"] = json.dumps(fields.get("options") or {}, sort_keys=True)
    return conn.execute(queries()["export_insert"], fields).fetchone()["export_id"]


def latest(conn: psycopg.Connection, station: str, format: str, source: str = "raw"
           ) -> dict | None:
    """The newest manifest row of a station's export in a format, with the station's current
    ``station_data_version``; ``None`` if none was made."""
    return conn.execute(queries()["export_latest"],
                        {"station": station, "format": format, "source": source}).fetchone()


def newest(conn: psycopg.Connection) -> list[dict]:
    """The newest manifest row of every (station, format, source), by station id."""
    return conn.execute(queries()["export_list"]).fetchall()


def set_parallel_workers(conn: psycopg.Connection, workers: int) -> None:
    """Bound the server's parallel workers per query for this session."""
    conn.execute(queries()["set_parallel_workers"], {"workers": str(workers)})
