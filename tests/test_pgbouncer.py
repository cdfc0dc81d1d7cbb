"""Everything through Debian's PgBouncer in transaction pooling mode (``STATIONLAB_POOLER``).

A pool of 4 server connections serves 3 worker processes of 4 threads each (12 clients), a
notebook run by papermill and the dashboards' queries; the server's time zone is not UTC, so a
session setting lost between transactions would show.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import papermill
import psycopg
import pytest

import stationlab
from stationlab import ingest, storage
from stationlab.dashboards.panels import DataRecovery, StationHealth
from stationlab.errors import StorageError
from tests import clusters
from tests.conftest import DEMO, REPO

#: Real files of several loggers, queued beforehand and imported by the workers.
QUEUED = ["nrg_logr/20220418_0700_000511_001183_statistical.dat",
          "nrg_logr/20220418_0800_000511_001184_statistical.dat",
          "nrg_logr/20220418_0900_000511_001185_statistical.dat",
          "nrg_symphoniepro/004310_2022-03-17_00.00_000835_meas.txt",
          "nrg_symphoniepro/004310_2022-03-17_06.10_000836_meas.txt",
          "nrg_symphoniepro/004310_2022-03-17_10.10_000837_meas.txt",
          "campbell_toa5/pytoa5/TestLogger_Hourly_1.dat",
          "campbell_toa5/pytoa5/TestLogger_Daily_1.dat",
          "windographer/windographer_demo_data1.txt"]

#: Per station: readings, and their sum, to compare the pooled import with a direct one.
TOTALS = """SELECT s.name, count(*) AS n, sum(r.value::numeric) AS total
FROM readings r JOIN channels c USING (channel_id) JOIN stations s USING (station_id)
GROUP BY s.name ORDER BY s.name"""


@pytest.fixture(scope="module")
def bouncer():
    """(server cluster, DSN through PgBouncer, direct DSN of a reference database)."""
    with clusters.primary() as server:
        direct = clusters.create_database(server, "stationlab")
        reference = clusters.create_database(server, "reference")
        for dsn in (direct, reference):
            with storage.connect(dsn, check=False) as conn:
                storage.migrate(conn, backend="plain")
        with clusters.pgbouncer(server, "stationlab", pool_size=4) as (port, log):
            yield server, f"postgresql://postgres@127.0.0.1:{port}/stationlab", reference, log


@pytest.fixture
def pooled(bouncer, monkeypatch, tmp_path):
    server, dsn, reference, log = bouncer
    monkeypatch.setenv("STATIONLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STATIONLAB_DSN", dsn)
    monkeypatch.setenv("STATIONLAB_POOLER", "transaction")
    monkeypatch.setenv("STATIONLAB_MAX_CONNECTIONS", "4")
    return bouncer


def _cli(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "stationlab", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_three_workers_of_four_connections_share_a_pool_of_four(pooled, real_data, tmp_path):
    server, dsn, reference, log = pooled
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    paths = [str(real_data / name) for name in QUEUED]
    upload = subprocess.run([sys.executable, "-m", "stationlab", "upload", *paths], env=env,
                            capture_output=True, text=True)
    assert upload.returncode == 0, upload.stdout + upload.stderr
    workers = [_cli("worker", "--concurrency", "4", env=env) for _ in range(3)]
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0], outputs
    with psycopg.connect(dsn, prepare_threshold=None) as conn:
        files = conn.execute("SELECT status, count(*) FROM files GROUP BY status").fetchall()
        pooled_totals = conn.execute(TOTALS).fetchall()
        imported_by = conn.execute("SELECT count(DISTINCT imported_by) FROM files").fetchone()[0]
    assert files == [("imported", len(QUEUED))]
    assert imported_by >= 2  # more than one worker process took files
    ingest.import_paths([real_data / name for name in QUEUED], dsn=reference)
    with psycopg.connect(reference) as conn:
        assert pooled_totals == conn.execute(TOTALS).fetchall()
    # The pool never grew past its 4 server connections.
    with psycopg.connect(server.dsn()) as conn:
        assert conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = 'stationlab' "
                            "AND backend_type = 'client backend'").fetchone()[0] <= 4


def test_sessions_through_the_pooler_keep_no_state(pooled, real_data):
    server, dsn, reference, log = pooled
    ingest.import_paths([real_data / DEMO], dsn=dsn)
    with stationlab.connect(read_only=True) as viewer, stationlab.connect() as writer:
        for _ in range(8):  # past psycopg's prepare threshold (5), on changing server sessions
            with viewer.reading() as conn:
                assert conn.execute("SHOW TimeZone").fetchone()["TimeZone"] == "UTC"
            with writer.reading() as conn:
                assert conn.execute("SHOW TimeZone").fetchone()["TimeZone"] == "UTC"
                assert conn.execute("SHOW transaction_read_only"
                                    ).fetchone()["transaction_read_only"] == "off"
            assert not StationHealth(viewer).loggers().is_empty()
            assert not DataRecovery(viewer).recovery(clean=True).is_empty()
        with pytest.raises(StorageError, match="read-only transaction"), \
                viewer.reading() as conn:
            conn.execute("DELETE FROM flags")
        # A read-only session left nothing behind: the writer writes on any server connection.
        mast = writer.station("some_site")
        ts = mast.readings(types=["wind_speed"])["ts"].unique().sort()
        for i in range(6):
            mast.add_flag(ts[i], ts[i + 1], "icing", reason=f"pooled {i}")
    # The pipeline lock is a transaction lock: held while its block runs, gone after.
    with storage.runs.job_lock(dsn, "job") as locked, \
            storage.runs.job_lock(dsn, "job") as again:
        assert locked and not again
    with storage.runs.job_lock(dsn, "job") as locked:
        assert locked


def test_a_notebook_runs_through_the_pooler(pooled, real_data, tmp_path):
    server, dsn, reference, log = pooled
    with psycopg.connect(dsn, prepare_threshold=None) as conn:
        if not conn.execute("SELECT 1 FROM stations WHERE name = 'some_site'").fetchone():
            ingest.import_paths([real_data / DEMO], dsn=dsn)
    notebooks = REPO / "notebooks"
    papermill.execute_notebook(str(notebooks / "explore_station.ipynb"),
                               str(tmp_path / "out.ipynb"), progress_bar=False,
                               cwd=str(notebooks))
    assert "prepared statement" not in Path(log).read_text()
