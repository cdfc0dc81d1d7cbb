"""The raw store's record (arrivals, what each source fetched) and the import queue.

The ``files`` table is the queue: a pending row with a ``stored_path`` waits for a worker. A
worker claims one with ``FOR UPDATE SKIP LOCKED`` inside the transaction that stores its readings,
so a worker killed mid-import leaves the row pending and nothing of it stored. Files of one
station (``station_name`` known on arrival) are claimed in arrival order: a file waits while an
earlier pending file of its station is being imported.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from stationlab.errors import StorageError
from stationlab.storage.db import statements

queries = statements("queue.sql")


@dataclass(frozen=True)
class Claim:
    """A pending file a worker holds (the row is locked by the worker's transaction)."""

    file_id: int
    sha256: bytes
    name: str
    source: str
    stored_path: str
    station_name: str | None


def record_arrival(conn: psycopg.Connection, *, source: str, original_name: str, digest: bytes,
                   size: int, stored_path: str, station_name: str | None = None,
                   author: str | None = None) -> int:
    """Record a file that arrived (its bytes already in the raw store); returns its id."""
    try:
        with conn.transaction():
            return conn.execute(queries()["arrival_insert"], {
                "source": source, "original_name": original_name, "sha256": digest,
                "size_bytes": size, "stored_path": stored_path, "station_name": station_name,
                "author": author,
            }).fetchone()["arrival_id"]
    except psycopg.errors.InsufficientPrivilege as exc:
        user = conn.info.user
        raise StorageError(f"{user} may not bring files into the database "
                           f"({exc.diag.message_primary}): files are imported by the pipelines' "
                           "role; give the file to whoever runs the imports (`stationlab "
                           "import FILE`), or put it where a fetch source picks it up") from exc


def fetched_keys(conn: psycopg.Connection, source: str) -> set[tuple[str, str]]:
    """``(remote_path, remote_key)`` of every file a source has fetched."""
    return {(r["remote_path"], r["remote_key"])
            for r in conn.execute(queries()["fetched_keys"], {"source": source})}


def record_fetched(conn: psycopg.Connection, *, source: str, remote_path: str, remote_key: str,
                   arrival_id: int) -> None:
    """Remember that a source fetched a remote file in this version."""
    conn.execute(queries()["fetched_insert"], {
        "source": source, "remote_path": remote_path, "remote_key": remote_key,
        "arrival_id": arrival_id})


def enqueue(conn: psycopg.Connection, *, digest: bytes, name: str, source: str, size: int,
            arrival_id: int | None, stored_path: str, station_name: str | None = None,
            error: str | None = None) -> dict:
    """Queue stored bytes for import (or, with ``error``, record them as failed at once).

    Bytes already known keep their row and status. Returns ``file_id``, ``status``, ``error`` and
    ``created``.
    """
    params = {"sha256": digest, "name": name, "source": source, "size_bytes": size,
              "arrival_id": arrival_id, "stored_path": stored_path,
              "station_name": station_name, "error": error}
    return conn.execute(queries()["file_fail_new" if error else "file_enqueue"],
                        params).fetchone()


def claim_next(conn: psycopg.Connection) -> Claim | None:
    """Lock the next pending file for the caller's transaction, or ``None`` if none is free."""
    row = conn.execute(queries()["file_claim"]).fetchone()
    return Claim(**row) if row else None


def set_imported_by(conn: psycopg.Connection, file_id: int, worker: str) -> None:
    """Record which worker imported a file."""
    conn.execute(queries()["file_imported_by"], {"file_id": file_id, "worker": worker})


def list_files(conn: psycopg.Connection, status: str | None = None) -> list[dict]:
    """The files rows (all, or of one status), oldest first."""
    return conn.execute(queries()["files_list"], {"status": status}).fetchall()


def files_by_id(conn: psycopg.Connection, file_ids: list[int]) -> list[dict]:
    """``file_id``, ``name``, ``status``, ``stored_path`` of some files."""
    return conn.execute(queries()["files_by_id"], {"file_ids": file_ids}).fetchall()


def retry_failed(conn: psycopg.Connection, file_ids: list[int] | None = None) -> list[int]:
    """Put failed files that have a stored copy back in the queue; returns their ids."""
    rows = conn.execute(queries()["files_retry"], {"file_ids": file_ids}).fetchall()
    return sorted(r["file_id"] for r in rows)


def counts(conn: psycopg.Connection) -> dict[str, int]:
    """How many files have each status."""
    return {r["status"]: r["n"] for r in conn.execute(queries()["queue_counts"])}
