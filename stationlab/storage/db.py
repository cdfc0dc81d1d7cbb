"""Connections, the named SQL queries, and migrations."""

from __future__ import annotations

import contextlib
import functools
import importlib.resources
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

from stationlab.errors import ConfigError, DatabaseUnavailable, StorageConflict, StorageError

logger = logging.getLogger(__name__)

BACKENDS = ("plain", "timescaledb")

_BLOCK = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
_MIGRATION = re.compile(r"^(\d{4})_(\w+?)(?:\.(plain|timescaledb))?\.sql$")


@functools.cache
def queries(name: str) -> dict[str, str]:
    """The named blocks of ``sql/NAME`` (each storage module's statements are in the file
    named after it): ``-- name: x`` starts block ``x``."""
    text = importlib.resources.files("stationlab.storage").joinpath("sql", name).read_text()
    parts = _BLOCK.split(text)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def statements(name: str) -> Callable[[], dict[str, str]]:
    """A storage module's ``queries()``: the named blocks of its own ``sql/NAME``."""
    return functools.partial(queries, name)


def sql_file(name: str) -> str:
    """The text of a file under ``stationlab/storage/sql``."""
    return importlib.resources.files("stationlab.storage").joinpath("sql", name).read_text()


def connection_kwargs(*, read_only: bool = False) -> dict:
    """The keyword arguments of every stationlab connection (direct or pooled).

    Sessions run in UTC. Through a transaction pooler (``STATIONLAB_POOLER=transaction``) a
    session is no longer ours between transactions, so nothing is kept in it: no server-side
    prepared statements (``prepare_threshold=None``) and no startup ``options`` (PgBouncer
    refuses them); the time zone is then set with ``SET TIME ZONE``, a parameter PgBouncer
    tracks per client and restores on whichever server connection the client gets. ``read_only``
    sessions refuse writes: by ``default_transaction_read_only`` when direct, by ``BEGIN READ
    ONLY`` (:attr:`psycopg.Connection.read_only`) on every transaction through a pooler.
    """
    from stationlab import config

    kwargs: dict = {"row_factory": dict_row}
    if config.pooler() == "transaction":
        kwargs["prepare_threshold"] = None
    else:
        options = "-c TimeZone=UTC"
        if read_only:
            options += " -c default_transaction_read_only=on"
        kwargs["options"] = options
    return kwargs


def configure_session(conn: psycopg.Connection, *, read_only: bool = False) -> None:
    """What a new connection needs beyond :func:`connection_kwargs` (through a pooler)."""
    from stationlab import config

    if config.pooler() != "transaction":
        return
    if read_only:
        conn.read_only = True
    with conn.transaction():
        conn.execute(queries("db.sql")["session_utc"])  # tracked by PgBouncer: not session state


@contextlib.contextmanager
def connect(dsn: str | None = None, *, autocommit: bool = False, check: bool = True,
            read_only: bool = False, what: str = "PostgreSQL") -> Iterator[psycopg.Connection]:
    """Open a connection (to the server of :func:`stationlab.storage.server.dsn` by default).

    Sessions run in UTC. Driver errors become :class:`StorageError`. With ``check``, a database
    whose schema is missing or of another version raises :class:`ConfigError` naming the fix.
    ``read_only``: the session refuses writes. ``what`` names the server in the one-line
    message of a failed connection.
    """
    if dsn is None:
        from stationlab.storage import server
        dsn = server.dsn()
    try:
        conn = psycopg.connect(dsn, autocommit=autocommit,
                               **connection_kwargs(read_only=read_only))
    except psycopg.OperationalError as exc:
        raise ConfigError(f"cannot connect to {what}: {first_line(exc)}") from exc
    try:
        with conn:
            configure_session(conn, read_only=read_only)
            if check:
                check_schema(conn)
                if not autocommit:
                    conn.commit()
            yield conn
    except psycopg.Error as exc:
        raise storage_error(exc, conn) from exc


def first_line(exc: Exception) -> str:
    """The first line of a driver error's text (libpq adds hints on further lines)."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].strip()


def storage_error(exc: psycopg.Error, conn: psycopg.Connection | None = None) -> StorageError:
    """The stationlab error for a driver error: :class:`DatabaseUnavailable` when the server went
    away, :class:`StorageConflict` for a lost race, else :class:`StorageError`."""
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)):
        return StorageConflict(text)
    gone = (psycopg.errors.AdminShutdown, psycopg.errors.CrashShutdown,
            psycopg.errors.CannotConnectNow, psycopg.errors.ConnectionException)
    if isinstance(exc, gone) or (isinstance(exc, psycopg.OperationalError)
                                 and (conn is None or conn.broken or conn.closed)):
        return DatabaseUnavailable(f"the database is unavailable: {text}")
    return StorageError(text)


def check_schema(conn: psycopg.Connection) -> None:
    """Raise :class:`ConfigError` unless the database's schema is this stationlab's."""
    latest = latest_version()
    row = conn.execute(queries("db.sql")["schema_migrations_exist"]).fetchone()
    current = None
    if row["ok"]:
        current = conn.execute(queries("db.sql")["schema_version"]).fetchone()["v"]
    if current is None:
        raise ConfigError(f"database {conn.info.dbname!r} has no stationlab schema yet; "
                          "run `stationlab db migrate`")
    if current < latest:
        raise ConfigError(f"database {conn.info.dbname!r} has schema version {current}, this "
                          f"stationlab needs {latest}; run `stationlab db migrate`")
    if current > latest:
        raise ConfigError(f"database {conn.info.dbname!r} has schema version {current}, newer "
                          f"than this stationlab ({latest}); upgrade stationlab")


@contextlib.contextmanager
def snapshot(dsn: str | None = None, *, what: str = "PostgreSQL"
             ) -> Iterator[psycopg.Connection]:
    """A read-only connection whose reads all see one snapshot (REPEATABLE READ), so an export
    read over many statements is consistent even while imports run."""
    with connect(dsn, what=what) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        yield conn


@contextlib.contextmanager
def transaction(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """A transaction (or savepoint) in which driver errors become :class:`StorageError`."""
    try:
        with conn.transaction():
            yield conn
    except psycopg.Error as exc:
        raise storage_error(exc, conn) from exc


#: The schema version the first 22 migrations (0001_initial ... 0022_fetch_attempts_station) were
#: folded into: the declared schema files create it. A database older than it was made by a
#: stationlab whose migrations it still needs (the last with them is commit ``BASELINE_COMMIT``).
BASELINE = 22
BASELINE_COMMIT = "7ffb3ee"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    common: str | None
    backend: dict[str, str]


def migrations() -> list[Migration]:
    """The numbered migrations after :data:`BASELINE`, in order (``sql/migrations/``)."""
    found: dict[int, dict] = {}
    folder = importlib.resources.files("stationlab.storage").joinpath("sql/migrations")
    for entry in folder.iterdir() if folder.is_dir() else ():
        match = _MIGRATION.match(entry.name)
        if not match:
            continue
        version, name, backend = int(match[1]), match[2], match[3]
        item = found.setdefault(version, {"name": name, "common": None, "backend": {}})
        if backend:
            item["backend"][backend] = entry.read_text()
        else:
            item["common"] = entry.read_text()
    return [Migration(v, d["name"], d["common"], d["backend"]) for v, d in sorted(found.items())]


def latest_version() -> int:
    """The schema version this stationlab makes and needs."""
    return max([BASELINE, *(m.version for m in migrations())])


def detect_backend(conn: psycopg.Connection) -> str:
    """``timescaledb`` if the extension can be created in this database (installed and preloaded),
    else ``plain``."""
    available = conn.execute(queries("db.sql")["timescaledb_available"]).fetchone()
    if not available:
        return "plain"
    libraries = conn.execute(queries("db.sql")["preload_libraries"]).fetchone()["libs"]
    if "timescaledb" not in libraries:  # CREATE EXTENSION would fail, and drop the connection
        logger.warning("TimescaleDB is installed but not in the server's "
                       "shared_preload_libraries; using plain PostgreSQL")
        return "plain"
    try:
        with conn.transaction():
            conn.execute(queries("timescale.sql")["create_extension"])
    except psycopg.Error as exc:
        logger.warning("TimescaleDB is installed but cannot be enabled (%s); using plain "
                       "PostgreSQL", str(exc).strip())
        return "plain"
    return "timescaledb"


def recorded_backend(conn: psycopg.Connection) -> str | None:
    """The backend recorded by an earlier migrate, or ``None`` in a fresh database."""
    if conn.execute(queries("db.sql")["info_exists"]).fetchone()["ok"]:
        row = conn.execute(queries("db.sql")["info_get"], {"key": "backend"}).fetchone()
        return row["value"] if row else None
    return None


@dataclass(frozen=True)
class MigrateResult:
    backend: str
    applied: list[str]
    version: int


def migrate(conn: psycopg.Connection, *, backend: str | None = None) -> MigrateResult:
    """Create or upgrade the schema; detect the backend once and record it.

    A fresh database gets the declared schema (``schema.<backend>.sql``, then ``schema.sql``) at
    the latest version; an older one the migrations after its version.

    Parameters
    ----------
    backend
        Force ``"plain"`` or ``"timescaledb"`` on a fresh database; by default detected.
    """
    if backend is not None and backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    with conn.transaction():
        conn.execute(queries("db.sql")["migrate_lock"])
        recorded = recorded_backend(conn)
        if recorded and backend and recorded != backend:
            raise ConfigError(f"this database was set up for {recorded}, not {backend}")
        chosen = recorded or backend or detect_backend(conn)
        conn.execute(queries("db.sql")["create_schema_migrations"])
        current = conn.execute(queries("db.sql")["schema_version"]).fetchone()["v"]
        if current is None:
            _create_declared_schema(conn, chosen)
            applied = [f"{latest_version():04d}_schema"]
            conn.execute(queries("db.sql")["record_migration"],
                         {"version": latest_version(), "name": "schema"})
        elif current < BASELINE:
            raise ConfigError(
                f"database {conn.info.dbname!r} has schema version {current}, from a stationlab "
                f"older than this one's first (version {BASELINE}); upgrade it with the "
                f"stationlab of commit {BASELINE_COMMIT} (`stationlab db migrate`) first, then "
                "with this one")
        else:
            applied = _upgrade(conn, chosen, current)
        conn.execute(queries("db.sql")["info_set"], {"key": "backend", "value": chosen})
        conn.execute(queries("replica.sql")["database_id_set"])
        version = conn.execute(queries("db.sql")["schema_version"]).fetchone()["v"]
    for name in applied:
        logger.info("applied %s (%s)", name, chosen)
    return MigrateResult(chosen, applied, version)


def _upgrade(conn: psycopg.Connection, backend: str, current: int) -> list[str]:
    """Apply each migration after version ``current``: its common file, then its backend's."""
    applied = []
    for migration in migrations():
        if migration.version <= current:
            continue
        for text in (migration.common, migration.backend.get(backend)):
            if text:
                conn.execute(text)
        conn.execute(queries("db.sql")["record_migration"],
                     {"version": migration.version, "name": migration.name})
        applied.append(f"{migration.version:04d}_{migration.name}")
    return applied


def _create_declared_schema(conn: psycopg.Connection, backend: str) -> None:
    """The declared schema in an empty database, in the open transaction: the backend part first
    (so that schema.sql's role block grants on its readings and functions); those functions name
    tables schema.sql creates after them, as pg_dump allows."""
    conn.execute(queries("db.sql")["no_function_body_checks"])
    if backend == "timescaledb":
        conn.execute(queries("timescale.sql")["create_extension"])
    conn.execute(sql_file(f"schema.{backend}.sql"))
    conn.execute(sql_file("schema.sql"))


def describe_schema(conn: psycopg.Connection) -> dict[str, list]:
    """A comparable description of the public schema: tables, columns, constraints, indexes,
    functions and triggers, in a stable order."""
    return {name: [tuple(r.values()) for r in conn.execute(text)]
            for name, text in queries("db.sql").items() if name.startswith("describe_")}
