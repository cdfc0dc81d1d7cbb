"""Heavy reads on a real streaming replica (``STATIONLAB_READ_DSN``), writes on the primary.

Debian's PostgreSQL 15 primary on 127.0.0.1, a replica made with ``pg_basebackup -R``; replay
is paused on the replica to show which server a read went to, and a read after the replica has
replayed the primary's WAL (no sleeps) sees the flag written through the primary.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from click.testing import CliRunner

import stationlab
from stationlab import ingest, storage
from stationlab.cli import main
from stationlab.errors import ConfigError, StorageError
from stationlab.export import export_station
from tests import clusters
from tests.conftest import DEMO


@pytest.fixture(scope="module")
def servers():
    """(primary, replica, DSN of the stationlab database on each)."""
    with clusters.primary() as primary:
        dsn = clusters.create_database(primary, "stationlab")
        with storage.connect(dsn, check=False) as conn:
            storage.migrate(conn, backend="plain")
        with clusters.replica(primary) as replica:
            yield primary, replica, dsn, replica.dsn("stationlab")


@pytest.fixture
def env(servers, monkeypatch, real_data, tmp_path):
    primary, replica, dsn, read_dsn = servers
    monkeypatch.setenv("STATIONLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STATIONLAB_DSN", dsn)
    monkeypatch.setenv("STATIONLAB_READ_DSN", read_dsn)
    with storage.connect(dsn, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM stations").fetchone():
            ingest.import_paths([real_data / DEMO], dsn=dsn)
    return servers


def caught_up(read_dsn: str, primary_dsn: str) -> None:
    with psycopg.connect(primary_dsn) as primary, \
            storage.connect(read_dsn, autocommit=True) as replica:
        lsn = primary.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
        storage.replica.wait_for(replica, lsn)


@pytest.fixture
def paused(env):
    """Replay stopped on the replica for the test (it resumes at the end)."""
    _, replica, dsn, read_dsn = env
    caught_up(read_dsn, dsn)
    with psycopg.connect(replica.dsn(), autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
    yield
    with psycopg.connect(replica.dsn(), autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_resume()")


def test_reads_go_to_the_replica_and_see_a_flag_once_it_has_replayed(env, paused):
    primary, replica, dsn, read_dsn = env
    with stationlab.connect() as client:
        assert client.conn.info.port == primary.port
        assert client.read_conn.info.port == replica.port
        mast = client.station("some_site")
        before = mast.readings(types=["wind_speed"], statistics=["avg"])
        channel = before["name"][0]
        stamps = before.filter(before["name"] == channel)["ts"].sort()
        start, end = stamps[0], stamps[3]
        flag_id = mast.add_flag(start, end, "icing", reason="rime on the cups", channel=channel)
        # The flag is on the primary at once ...
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT count(*) FROM flags WHERE flag_id = %s",
                                (flag_id,)).fetchone()[0] == 1
        assert flag_id in mast.flags()["flag_id"].to_list()  # flags are read on the primary
        # ... the paused replica has not replayed it: readings come from the replica.
        assert mast.readings(types=["wind_speed"], statistics=["avg"]).equals(before)
        with psycopg.connect(replica.dsn(), autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
        client.wait_for_replica()
        after = mast.readings(types=["wind_speed"], statistics=["avg"])
    hidden = before.filter((before["name"] == channel) & (before["ts"] >= start)
                           & (before["ts"] < end))
    assert hidden.height == 3
    assert after.equals(before.join(hidden.select("ts", "channel_id"), on=["ts", "channel_id"],
                                    how="anti"))


def test_an_export_reads_the_replica(env, paused, tmp_path):
    primary, replica, dsn, read_dsn = env
    with stationlab.connect(read_dsn=dsn) as client:  # reads on the primary
        mast = client.station("some_site")
        ts = mast.readings(types=["wind_speed"], statistics=["avg"])["ts"].unique().sort()
        mast.add_flag(ts[10], ts[12], "icing", reason="export test")
    def clock():
        return datetime(2024, 1, 1, tzinfo=UTC)

    stale = export_station("some_site", tmp_path / "stale.txt", clean=True, clock=clock)
    fresh = export_station("some_site", tmp_path / "fresh.txt", clean=True, dsn=dsn,
                           clock=clock)
    with psycopg.connect(replica.dsn(), autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_resume()")
    caught_up(read_dsn, dsn)
    replayed = export_station("some_site", tmp_path / "replayed.txt", clean=True, clock=clock)
    assert stale.readings == fresh.readings > replayed.readings
    # dsn= names the primary but reads still go where STATIONLAB_READ_DSN says: the paused
    # replica's files agree with each other and differ from the one made after replay.
    assert (tmp_path / "stale.txt").read_text() == (tmp_path / "fresh.txt").read_text()
    assert (tmp_path / "replayed.txt").read_text() != (tmp_path / "stale.txt").read_text()


def test_an_analyst_reads_on_the_replica_and_writes_on_the_primary_only(env):
    primary, replica, dsn, read_dsn = env
    result = CliRunner().invoke(main, ["db", "grant-analyst", "ana_replica"])
    assert result.exit_code == 0, result.output
    caught_up(read_dsn, dsn)  # the role is in the catalogue the replica copies
    ana, ana_read = primary.dsn("stationlab", "ana_replica"), replica.dsn("stationlab",
                                                                          "ana_replica")
    with stationlab.connect(ana, read_dsn=ana_read) as client:
        mast = client.station("some_site")
        rows = mast.readings(types=["wind_speed"], statistics=["avg"])
        assert rows.height > 0 and client.read_conn.info.port == replica.port
        assert not mast.recovery().is_empty()
        ts = rows["ts"].unique().sort()
        flag_id = mast.add_flag(ts[0], ts[1], "icing", reason="analyst")
        client.wait_for_replica()
        with storage.connect(ana_read, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) AS n FROM flags WHERE flag_id = %s",
                                (flag_id,)).fetchone()["n"] == 1
    with pytest.raises(StorageError, match="read-only transaction"), \
            storage.connect(ana_read, autocommit=True) as conn:
        conn.execute("DELETE FROM flags WHERE flag_id = %s", (flag_id,))


def test_db_status_says_how_stale_the_replica_is(env):
    primary, replica, dsn, read_dsn = env
    caught_up(read_dsn, dsn)
    result = CliRunner().invoke(main, ["db", "status"])
    assert result.exit_code == 0, result.output
    assert f"replica: {read_dsn}" in result.output
    assert "replica lag: " in result.output
    lag = [line for line in result.output.splitlines() if line.startswith("replica lag: ")][0]
    assert "caught up" in lag or "bytes of WAL behind the primary" in lag
    assert "replayed up to " in lag and "primary at " in lag
    if "primary measures a replay lag of " not in result.output:
        # PostgreSQL reports no replay lag (NULL) once a standby is caught up and idle; the
        # standby is still attached. (Whether the lag is NULL now is not asked: any WAL written
        # since, a checkpoint's, makes it a number again, as it did in one CI run.)
        with psycopg.connect(dsn) as conn:
            rows = conn.execute("SELECT replay_lag FROM pg_stat_replication").fetchall()
        assert rows


def test_a_bad_read_dsn_gets_one_line(env, monkeypatch):
    primary, replica, dsn, read_dsn = env
    monkeypatch.setenv("STATIONLAB_READ_DSN",
                       f"postgresql://postgres@127.0.0.1:{clusters.free_port()}/stationlab")
    for args in (["health"], ["db", "status"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1
        last = result.output.strip().splitlines()[-1]
        assert last.startswith("Error: cannot connect to the replica named by "
                               "STATIONLAB_READ_DSN: "), result.output
        assert "Traceback" not in result.output
    # Another stationlab database, not a copy of this one.
    other = clusters.create_database(primary, f"other_{clusters.free_port()}")
    with storage.connect(other, check=False) as conn:
        storage.migrate(conn, backend="plain")
    monkeypatch.setenv("STATIONLAB_READ_DSN", other)
    result = CliRunner().invoke(main, ["health"])
    assert result.exit_code == 1
    assert "is not a replica of the database STATIONLAB_DSN names" in result.output
    with stationlab.connect() as client, pytest.raises(ConfigError, match="not a replica"):
        client.station("some_site")
