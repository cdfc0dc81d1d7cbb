"""Scratch databases on the same server (a backup's restore proof, the tests' and benchmarks'
databases copied from a template): create, check, drop."""

from __future__ import annotations

import time

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from stationlab.errors import StorageError
from stationlab.storage.db import statements

queries = statements("databases.sql")


def create_database(dsn: str, name: str, *, template: str | None = None) -> str:
    """Create a database on the server of ``dsn`` (dropped first if it exists), empty or a copy
    of ``template``; returns its DSN."""
    _admin(dsn, "database_drop", name)
    if template is None:
        _admin(dsn, "database_create", name)
    else:
        _copy(dsn, name, template)
    return make_conninfo(dsn, dbname=name)


def _copy(dsn: str, name: str, template: str, attempts: int = 5) -> None:
    """``CREATE DATABASE name TEMPLATE template``. A database someone is connected to cannot be
    copied, and TimescaleDB's launcher looks into every database now and then: its session is
    sent away and the copy tried again."""
    statement = sql.SQL(queries()["database_copy"]).format(name=sql.Identifier(name),
                                                           template=sql.Identifier(template))
    for attempt in range(1, attempts + 1):
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                try:
                    conn.execute(statement)
                    return
                except psycopg.errors.ObjectInUse:
                    if attempt == attempts:
                        raise
                    conn.execute(queries()["database_sessions_end"], {"name": template})
        except psycopg.Error as exc:
            raise StorageError(f"copying database {template!r} to {name!r} failed: "
                               f"{exc}".strip()) from exc
        time.sleep(0.2 * attempt)


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
