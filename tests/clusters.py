"""Debian's PostgreSQL 15 clusters and PgBouncer on 127.0.0.1 for the multi-machine tests.

Each cluster lives in a temporary folder owned by the ``postgres`` system user (the binaries
refuse to run as root), listens on a free port and stops (``-m immediate``) at the end. A
primary has ``wal_level = replica`` and lets 127.0.0.1 replicate; :func:`replica` makes a
streaming replica of it with ``pg_basebackup -R``. Without the binaries the tests skip, or fail
with ``CI`` set.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

PGBIN = Path("/usr/lib/postgresql/15/bin")
PGBOUNCER = Path("/usr/sbin/pgbouncer")


def require(*programs: Path) -> None:
    """Skip (or with ``CI`` set, fail) unless every program is installed."""
    missing = [str(p) for p in programs if not os.access(p, os.X_OK)]
    if not missing:
        return
    reason = (f"{', '.join(missing)} not installed (Debian's postgresql-15 and pgbouncer; "
              ".ci/run installs them)")
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True,
                          capture_output=True, text=True, **kwargs)


def _folder(prefix: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    shutil.chown(folder, "postgres")
    return folder


@dataclass
class Cluster:
    data: Path
    port: int

    def dsn(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def start(self, settings: dict[str, str]) -> None:
        options = " ".join([f"-p {self.port}", f"-k {self.data}",
                            *(f"-c {k}={v}" for k, v in settings.items())])
        _as_postgres(str(PGBIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "120",
                     "-l", str(self.data / "server.log"), "-o", options, "start")

    def stop(self) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(PGBIN / "pg_ctl"), "-D",
                        str(self.data), "-m", "immediate", "stop"], capture_output=True)

    def log(self) -> str:
        path = self.data / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


#: Settings every test cluster starts with.
SETTINGS = {"listen_addresses": "127.0.0.1", "fsync": "off", "wal_level": "replica",
            "max_wal_senders": "4", "hot_standby": "on", "max_connections": "50",
            "timezone": "'Pacific/Auckland'"}  # not UTC: stationlab must set its own


@contextlib.contextmanager
def primary(**settings: str):
    """A running PostgreSQL 15 primary that 127.0.0.1 may replicate from."""
    require(PGBIN / "initdb", PGBIN / "pg_ctl", PGBIN / "pg_basebackup")
    base = _folder("stationlab-pg15-")
    data = base / "data"
    cluster = Cluster(data, free_port())
    try:
        _as_postgres(str(PGBIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                     "-E", "UTF8")
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        cluster.start({**SETTINGS, **settings})
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def replica(source: Cluster):
    """A streaming replica of ``source`` made with ``pg_basebackup -R``, running."""
    base = _folder("stationlab-pg15-replica-")
    data = base / "data"
    cluster = Cluster(data, free_port())
    try:
        _as_postgres(str(PGBIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(source.port),
                     "-U", "postgres", "-D", str(data), "-R", "-X", "stream",
                     "--checkpoint=fast")  # a spread checkpoint kept the backup waiting ~100 s
        cluster.start(SETTINGS)
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


def create_database(cluster: Cluster, name: str) -> str:
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    return cluster.dsn(name)


@contextlib.contextmanager
def pgbouncer(server: Cluster, database: str, *, pool_size: int):
    """PgBouncer on 127.0.0.1 in transaction pooling mode, ``pool_size`` server connections
    to ``database`` on ``server``; yields its port."""
    require(PGBOUNCER)
    base = _folder("stationlab-pgbouncer-")
    port = free_port()
    ini = base / "pgbouncer.ini"
    ini.write_text(f"""[databases]
{database} = host=127.0.0.1 port={server.port} dbname={database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {base / 'users.txt'}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 200
max_db_connections = {pool_size}
logfile = {base / 'pgbouncer.log'}
pidfile = {base / 'pgbouncer.pid'}
""")
    (base / "users.txt").write_text('"postgres" ""\n')
    for path in base.iterdir():
        shutil.chown(path, "postgres")
    process = subprocess.Popen(["runuser", "-u", "postgres", "--", str(PGBOUNCER), str(ini)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:  # ready once it accepts a client and reaches the server through a pool
            try:
                with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/{database}",
                                     prepare_threshold=None) as conn:
                    conn.execute("SELECT 1")
                break
            except psycopg.OperationalError as exc:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = base / "pgbouncer.log"
                    raise RuntimeError("pgbouncer did not start: "
                                       + (log.read_text() if log.exists() else "no log")
                                       ) from exc
                time.sleep(0.1)
        yield port, base / "pgbouncer.log"
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)
