"""What only the TimescaleDB backend does: compress finished months, materialise the monthly
continuous aggregate after an import. On plain PostgreSQL both are no-ops.

Chunks are one month of ``readings`` (every station's), compressed segment by channel and
ordered by time (see ``schema.timescaledb.sql`` and ``docs/timescaledb.md``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from stationlab.storage.db import recorded_backend, statements, storage_error

queries = statements("timescale.sql")

logger = logging.getLogger(__name__)


def active(conn: psycopg.Connection) -> bool:
    """Whether this database was migrated on the TimescaleDB backend."""
    return recorded_backend(conn) == "timescaledb"


def refresh_monthly(conn: psycopg.Connection, ts_first: datetime, ts_last: datetime) -> None:
    """Materialise the calendar months ``[ts_first, ts_last]`` touch in ``readings_monthly``.

    A continuous aggregate is refreshed outside any transaction, so this runs after the import
    committed, on an autocommit connection; only the touched months are recounted. If it never
    runs (the process died in between), real-time aggregation still answers for months after the
    aggregate's watermark and the hourly policy catches up the rest.
    """
    if not active(conn):
        return
    if not conn.autocommit:
        raise ValueError("refresh_monthly needs an autocommit connection")
    try:
        conn.execute(queries()["refresh_monthly_aggregate"],
                     {"ts_first": ts_first, "ts_last": ts_last})
    except psycopg.Error as exc:
        raise storage_error(exc, conn) from exc


@dataclass(frozen=True)
class Compressed:
    """What :func:`compress` did: chunks compressed, ``readings`` on disk before and after."""

    chunks: int
    bytes_before: int
    bytes_after: int


def chunks_to_compress(conn: psycopg.Connection, *, station: str | None = None) -> list[dict]:
    """The finished months (chunks that ended before this month began) not compressed yet, or
    compressed before rows were added to them; with ``station``, only the months holding that
    station's readings. Each: ``chunk`` (its name), ``range_start``, ``range_end``."""
    try:
        return conn.execute(queries()["uncompressed_chunks"], {"station": station}).fetchall()
    except psycopg.Error as exc:
        raise storage_error(exc, conn) from exc


def compress(conn: psycopg.Connection, chunks: list[dict] | None = None, *,
             progress: Callable[[dict], None] | None = None) -> Compressed:
    """Compress ``chunks`` (default: every one :func:`chunks_to_compress` names), one
    transaction each, so an interruption keeps what is done; ``progress(chunk)`` after each. A
    chunk compressed before and written to since is recompressed, then vacuumed and reindexed."""
    if not conn.autocommit:
        raise ValueError("compress needs an autocommit connection")
    if chunks is None:
        chunks = chunks_to_compress(conn)
    size = queries()["readings_size"]
    try:
        before = conn.execute(size).fetchone()["bytes"]
        for chunk in chunks:
            with conn.transaction():
                conn.execute(queries()["compress_chunk"], {"chunk": chunk["chunk"]})
            if chunk.get("partial"):
                # A recompression deletes the rows written since into the chunk's own table
                # (a backfill): without this their space and their key's pages stay, and a
                # month recompressed once takes three times what it took compressed fresh.
                name = sql.Identifier(chunk["chunk_schema"], chunk["chunk_name"])
                for step in ("vacuum_chunk", "reindex_chunk"):
                    conn.execute(sql.SQL(queries()[step]).format(chunk=name))
            logger.info("compressed %s (%s)", chunk["chunk"], f"{chunk['range_start']:%Y-%m}")
            if progress:
                progress(chunk)
        after = conn.execute(size).fetchone()["bytes"]
    except psycopg.Error as exc:
        raise storage_error(exc, conn) from exc
    return Compressed(len(chunks), before, after)


def pre_restore(conn: psycopg.Connection) -> None:
    """Before restoring a dump into the empty database of ``conn``: the extension created and in
    restoring mode (its catalog comes from the dump, its background jobs wait)."""
    conn.execute(queries()["create_extension"])
    conn.execute(queries()["pre_restore"])


def post_restore(conn: psycopg.Connection) -> None:
    """After the restore: back to normal."""
    conn.execute(queries()["post_restore"])
