"""The database as a whole: the embedded server, the schema, compression of finished months, the
login roles, and what the database holds.

The ``stationlab db`` commands call these; the SQL and the server handling stay in
:mod:`stationlab.storage`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stationlab import storage
from stationlab.storage.server import ServerStatus, data_dir, down, status, up

__all__ = ["Contents", "Grant", "ServerStatus", "compress", "connect", "contents", "data_dir",
           "down", "grant_analyst", "grant_pipeline", "migrate", "months_to_compress",
           "replica", "reading", "station_names", "status", "up"]


def connect():
    """A connection (autocommit) to the database stationlab uses, as a context manager; raises
    :class:`~stationlab.errors.ConfigError` naming the fix when it is missing or not migrated."""
    return storage.connect(autocommit=True)


def reading():
    """A connection for heavy reads (the replica's when ``STATIONLAB_READ_DSN`` names one), as a
    context manager."""
    return storage.replica.reading()


def replica(server: ServerStatus) -> tuple[str, storage.replica.ReplicaStatus] | None:
    """The replica ``STATIONLAB_READ_DSN`` names and where it is against the primary, or
    ``None`` when reads go to the primary."""
    dsn = server.dsn or ""
    if storage.replica.read_dsn(dsn) is None:
        return None
    with storage.connect(dsn, autocommit=True) as primary, \
            storage.replica.reading(dsn) as conn:
        return storage.replica.read_dsn(dsn), storage.replica.status(conn, primary)


def station_names(conn) -> list[str]:
    """Every station's name, in the order of :func:`contents`."""
    return [row["station"] for row in storage.catalog.summary(conn)]


@dataclass(frozen=True)
class Contents:
    """What a running server's database holds."""

    backend: str | None  # "plain" or "timescaledb"; None: not migrated
    timescaledb_unused: bool  # TimescaleDB is built here, but the schema was made without it
    stations: list[dict]  # per station: n_channels, n_files, n_readings, ts_first, ts_last


def contents(server: ServerStatus) -> Contents:
    """The backend the schema was migrated on and a summary per station, for ``db status``."""
    with storage.connect(server.dsn or "", check=False) as conn:
        backend = storage.db.recorded_backend(conn)
        if backend is None:
            return Contents(None, False, [])
        unused = (not server.timescaledb and backend == "plain" and server.kind == "embedded"
                  and bool(storage.server.timescaledb_installed()))
        return Contents(backend, unused, storage.catalog.summary(conn))


def migrate(backend: str | None = None):
    """Create or upgrade the schema (``backend`` forced on a fresh database, else detected);
    returns what :func:`stationlab.storage.migrate` applied."""
    with storage.connect(check=False) as conn:
        return storage.migrate(conn, backend=backend)


def months_to_compress(station: str | None = None) -> list[dict] | None:
    """The finished months (TimescaleDB chunks) not compressed yet, all or those holding
    ``station``'s readings; None on plain PostgreSQL, which has no compression."""
    with connect() as conn:
        if not storage.timescale.active(conn):
            return None
        if station is not None:
            storage.catalog.require_station(conn, station)
        return storage.timescale.chunks_to_compress(conn, station=station)


def compress(chunks: list[dict], *, progress: Callable[[dict], None] | None = None):
    """Compress the months :func:`months_to_compress` named, ``progress(chunk)`` after each;
    returns the chunks done and the readings' size before and after. [bytes]"""
    with connect() as conn:
        return storage.timescale.compress(conn, chunks, progress=progress)


@dataclass(frozen=True)
class Grant:
    """A login role made or updated."""

    created: bool  # False: it existed and was updated
    member_of: list[str]  # the stationlab group roles it belongs to
    dsn: str  # the connection string that logs in as it (without the password)


def grant_analyst(name: str, password: str | None = None,
                  calibrations: bool | None = None) -> Grant:
    """Create or update ``name``, a login role that reads everything and adds flags (with
    ``calibrations``: and edits calibrations; None leaves that as it is)."""
    return _grant(storage.roles.grant_analyst, name, password, calibrations)


def grant_pipeline(name: str, password: str | None = None) -> Grant:
    """Create or update ``name``, a login role for the scheduled jobs: reads and writes data,
    never changes the schema."""
    return _grant(storage.roles.grant_pipeline, name, password)


def _grant(grant, name: str, password: str | None, *args) -> Grant:
    with connect() as conn:
        created = grant(conn, name, password, *args)
        return Grant(created, storage.roles.role_memberships(conn, name),
                     storage.roles.dsn_for(conn.info.dsn, user=name))
