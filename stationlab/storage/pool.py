"""The bounded pool of database connections a process shares among its workers.

Its size is :func:`stationlab.config.max_connections` (``STATIONLAB_MAX_CONNECTIONS``): however
many worker threads run, one process never holds more connections than that. Connections carry
an ``application_name`` (``stationlab-worker`` by default) so ``pg_stat_activity`` shows them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from stationlab import config
from stationlab.errors import DatabaseUnavailable
from stationlab.storage.db import (
    check_schema,
    configure_session,
    connection_kwargs,
    storage_error,
)

logger = logging.getLogger(__name__)

#: How long a worker waits for a pooled connection before it reports the database unavailable.
#: [s]
CONNECTION_WAIT_S = 10.0


def open_pool(dsn: str | None = None, *, application_name: str = "stationlab-worker",
              max_size: int | None = None) -> ConnectionPool:
    """Open a pool of at most ``max_size`` (default :func:`config.max_connections`) autocommit
    connections; close it with ``pool.close()``. Opening does not wait for the server."""
    if dsn is None:
        from stationlab.storage import server
        dsn = server.dsn()
    size = max_size or config.max_connections()
    pool = ConnectionPool(
        dsn, min_size=1, max_size=size, open=False, check=ConnectionPool.check_connection,
        kwargs={"autocommit": True, **connection_kwargs(), "application_name": application_name},
        configure=configure_session, name=application_name, reconnect_timeout=24 * 3600.0)
    pool.open(wait=False)
    logger.debug("connection pool %s: at most %d connections", application_name, size)
    return pool


@contextlib.contextmanager
def pooled(pool: ConnectionPool, *, check: bool = False) -> Iterator[psycopg.Connection]:
    """A connection from the pool; driver and pool errors become stationlab errors.

    Raises
    ------
    DatabaseUnavailable
        If no connection could be had within :data:`CONNECTION_WAIT_S`, or the server went away.
    """
    try:
        with pool.connection(timeout=CONNECTION_WAIT_S) as conn:
            if check:
                check_schema(conn)
            yield conn
    except PoolTimeout as exc:
        raise DatabaseUnavailable(
            f"the database is unavailable: no connection within {CONNECTION_WAIT_S:.0f} s "
            f"({exc})") from exc
    except psycopg.Error as exc:
        raise storage_error(exc) from exc
