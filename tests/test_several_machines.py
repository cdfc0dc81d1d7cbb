"""Workers on several machines: two "machines" are two sets of processes with their own
``STATIONLAB_HOME`` and temporary folder, sharing only what a worker needs, the database
(``STATIONLAB_DSN``) and the object store (``STATIONLAB_RAW_STORE``, with ``AWS_*``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from stationlab import ingest, storage

from .conftest import DAILY, DEMO, HOURLY, _create_database, _drop_database
from .test_reliability import count, wait_for_line, worker_connections

#: What identifies a reading whatever the database's ids: station, channel, time, value.
CHECKSUM = """
SELECT count(*) AS n, md5(string_agg(concat_ws('|', s.name, c.table_name, c.column_name,
       c.statistic, c.unit, extract(epoch FROM r.ts), r.value::text), ',' ORDER BY
       s.name, c.table_name, c.column_name, c.statistic, c.unit, r.ts)) AS digest
FROM readings r JOIN channels c USING (channel_id) JOIN stations s USING (station_id)
"""


class Machine:
    """One machine: its own home and TMPDIR; the database and the store named as on any other."""

    def __init__(self, folder, name: str) -> None:
        self.name = name
        self.home, self.tmp = folder / name / "home", folder / name / "tmp"
        self.home.mkdir(parents=True)
        self.tmp.mkdir()
        shared = ("STATIONLAB_DSN", "STATIONLAB_RAW_STORE", "STATIONLAB_EXPORTS_STORE",
                  "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL")
        self.env = {**{k: v for k, v in os.environ.items()
                       if not k.startswith(("STATIONLAB_", "AWS_"))},
                    **{k: os.environ[k] for k in shared},
                    "STATIONLAB_HOME": str(self.home), "TMPDIR": str(self.tmp)}

    def run(self, *args) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "stationlab", *map(str, args)],
                              capture_output=True, text=True, env=self.env, timeout=300)

    def start_worker(self, **env) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "stationlab", "worker"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**self.env, **{k: str(v) for k, v in env.items()}})


@pytest.fixture
def direct_db(pg_server, template_db):
    """A second migrated database, for a direct import of the same files."""
    name = f"stationlab_direct_{os.getpid()}"
    dsn = _create_database(pg_server, name, template=template_db)
    yield dsn
    _drop_database(pg_server, name)


def test_two_machines_share_the_queue_and_a_kill_9_loses_nothing(
        db, conn, s3_stores, tmp_path, real_data, direct_db, monkeypatch):
    a, b = Machine(tmp_path, "a"), Machine(tmp_path, "b")
    run = a.run("upload", real_data / DEMO, real_data / HOURLY)
    assert run.returncode == 0, run.stderr
    assert count(conn, "files WHERE status = 'pending'") == 2

    # Machine b's worker takes a file uploaded on a, and is killed before it commits.
    killed = b.start_worker(STATIONLAB_WORKER_PAUSE_S=600)
    wait_for_line(killed.stderr, "pausing before commit")
    killed.send_signal(signal.SIGKILL)
    killed.communicate()
    assert killed.returncode == -signal.SIGKILL
    while worker_connections(conn):  # the server notices the dead client and rolls back
        conn.execute("SELECT pg_sleep(0.05)")
    assert count(conn, "readings") == 0
    assert count(conn, "files WHERE status = 'pending'") == 2

    # Machine b again: it imports both files of machine a, the killed one included.
    worker_b = b.start_worker()
    out, err = worker_b.communicate(timeout=300)
    assert (worker_b.returncode, out.splitlines()[-1]) == (0, "2 files: 2 imported, 0 failed"), err
    # And the other way: a file uploaded on b is imported by a's worker.
    assert b.run("upload", real_data / DAILY).returncode == 0
    worker_a = a.start_worker()
    out, err = worker_a.communicate(timeout=300)
    assert (worker_a.returncode, out.splitlines()[-1]) == (0, "1 file: 1 imported, 0 failed"), err

    importers = {r["name"]: r["imported_by"].split(":")[1].split("/")[0] for r in conn.execute(
        "SELECT name, imported_by FROM files WHERE status = 'imported'")}
    assert importers == {"campbell_scientific_demo_data1.csv": str(worker_b.pid),
                         "TestLogger_Hourly_1.dat": str(worker_b.pid),
                         "TestLogger_Daily_1.dat": str(worker_a.pid)}
    assert count(conn, "files WHERE n_inserted = n_readings") == 3
    for machine in (a, b):  # nothing of the store on either machine's disk
        assert not (machine.home / "raw").exists()
        assert list(machine.tmp.iterdir()) == []

    # The union is exact: the same readings as a direct import of the same files elsewhere.
    monkeypatch.delenv("STATIONLAB_RAW_STORE")
    monkeypatch.setenv("STATIONLAB_HOME", str(tmp_path / "direct"))
    outcomes = ingest.import_paths([real_data / p for p in (DEMO, HOURLY, DAILY)], dsn=direct_db)
    assert not any(o.failed for o in outcomes)
    with storage.connect(direct_db, autocommit=True) as direct:
        expected = direct.execute(CHECKSUM).fetchone()
    assert conn.execute(CHECKSUM).fetchone() == expected
    assert expected["n"] == conn.execute(
        "SELECT sum(n_inserted) AS n FROM files").fetchone()["n"] > 188 * 30 + 15
