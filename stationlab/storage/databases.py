"""Scratch databases on the same server (a backup's restore proof): create, check, drop."""

from __future__ import annotations

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from stationlab.errors import StorageError
from stationlab.storage.db import statements

queries = statements("databases.sql")


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
