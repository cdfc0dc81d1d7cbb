"""Heavy reads on a streaming replica (``STATIONLAB_READ_DSN``); writes stay on the primary.

A read server is accepted only when it copies this database: its ``stationlab_info`` holds the
primary's ``database_id`` (made by the first ``stationlab db migrate``). How far behind it is
comes from the replica itself (the WAL it has replayed, the age of its newest replayed
transaction) and, where the role may see it, from the primary's ``pg_stat_replication``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg

from stationlab import config
from stationlab.errors import ConfigError, StationlabError
from stationlab.storage.db import connect, queries, snapshot, storage_error

#: How a failed connection to the read server is named in its message.
WHAT = "the replica named by STATIONLAB_READ_DSN"


def _q(name: str) -> str:
    return queries("replica.sql")[name]


def read_dsn(dsn: str | None = None) -> str | None:
    """The replica's DSN, or ``None`` when reads go to the primary (no ``STATIONLAB_READ_DSN``,
    or one equal to the primary's ``dsn``)."""
    found = config.read_dsn()
    if found is None or found == dsn:
        return None
    return found


def database_id(conn: psycopg.Connection) -> str | None:
    """The id ``stationlab db migrate`` gave this database (copied by its replicas)."""
    try:
        row = conn.execute(_q("database_id")).fetchone()
    except psycopg.Error as exc:
        raise storage_error(exc, conn) from exc
    return row["value"] if row else None


def verify(read_conn: psycopg.Connection, primary_id: str | None) -> None:
    """Raise :class:`ConfigError` unless ``read_conn`` reads a copy of the database whose id is
    ``primary_id``."""
    if primary_id is None:
        raise ConfigError("the primary has no database id yet (it predates replicas): run "
                          "`stationlab db migrate` once on it, then let the replica catch up")
    found = database_id(read_conn)
    if found != primary_id:
        raise ConfigError(f"STATIONLAB_READ_DSN names database {read_conn.info.dbname!r} on "
                          f"{read_conn.info.host}:{read_conn.info.port}, which is not a replica "
                          "of the database STATIONLAB_DSN names (its stationlab database id "
                          f"is {found or 'missing'})")


def primary_id(dsn: str | None = None) -> str | None:
    """The primary's database id (one short connection)."""
    with connect(dsn, autocommit=True, check=False) as conn:
        return database_id(conn)


@contextlib.contextmanager
def reading(dsn: str | None = None, *, consistent: bool = False
            ) -> Iterator[psycopg.Connection]:
    """A connection for heavy reads: to the replica when ``STATIONLAB_READ_DSN`` names one
    (checked to copy this database), else to the primary; never one that writes.

    ``consistent``: one REPEATABLE READ read-only transaction (:func:`snapshot`), as an export
    reads; else an autocommit read-only session.
    """
    replica = read_dsn(dsn)
    expected = primary_id(dsn) if replica is not None else None
    target = replica if replica is not None else dsn
    what = WHAT if replica is not None else "PostgreSQL"
    opened = (snapshot(target, what=what) if consistent
              else connect(target, autocommit=True, read_only=True, what=what))
    with opened as conn:
        if replica is not None:
            verify(conn, expected)
        yield conn


@dataclass(frozen=True)
class ReplicaStatus:
    """How far a replica is behind its primary (what ``stationlab db status`` says)."""

    in_recovery: bool
    replay_lsn: str | None
    primary_lsn: str | None
    behind_bytes: int | None  # WAL the primary has written that the replica has not replayed
    replay_age_s: float | None  # age of the newest replayed transaction [s]
    replay_lag_s: float | None  # the primary's pg_stat_replication replay_lag, if visible [s]


def status(read_conn: psycopg.Connection, primary_conn: psycopg.Connection) -> ReplicaStatus:
    """Where the replica is against its primary."""
    try:
        position = read_conn.execute(_q("replica_position")).fetchone()
        lsn = primary_conn.execute(_q("primary_lsn")).fetchone()["lsn"]
        behind = None
        if position["replay_lsn"] is not None:
            behind = max(0, primary_conn.execute(_q("lsn_diff"), {
                "a": lsn, "b": position["replay_lsn"]}).fetchone()["bytes"])
        lags = [r["replay_lag_s"] for r in primary_conn.execute(_q("primary_replication"))
                if r["replay_lag_s"] is not None]
    except psycopg.Error as exc:
        raise storage_error(exc) from exc
    age = position["replay_age_s"]
    return ReplicaStatus(position["in_recovery"], position["replay_lsn"], lsn, behind,
                         None if age is None else float(age),
                         float(max(lags)) if lags else None)


def current_lsn(primary_conn: psycopg.Connection) -> str:
    """Where the primary's WAL ends now."""
    try:
        return primary_conn.execute(_q("primary_lsn")).fetchone()["lsn"]
    except psycopg.Error as exc:
        raise storage_error(exc, primary_conn) from exc


def wait_for(read_conn: psycopg.Connection, lsn: str, *, timeout_s: float = 60.0,
             poll_s: float = 0.05) -> None:
    """Return once the replica has replayed the primary's WAL up to ``lsn``.

    Raises
    ------
    StationlabError
        If it has not within ``timeout_s``. [s]
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            done = read_conn.execute(_q("replica_replayed"), {"lsn": lsn}).fetchone()["done"]
        except psycopg.Error as exc:
            raise storage_error(exc, read_conn) from exc
        if done:
            return
        if time.monotonic() > deadline:
            raise StationlabError(f"the replica has not replayed up to {lsn} within "
                                  f"{timeout_s:.0f} s")
        time.sleep(poll_s)
