"""The TimescaleDB SQL on the real extension: detection, the migrated schema equal to the declared
one (hypertable, chunk interval, compression settings, continuous aggregate, policies), readings
inserted, deduplicated, aggregated, compressed and read back bit for bit.

Two fresh databases on the test server: one is migrated, the other gets the declared schema, and
the two are compared. Run in the TimescaleDB pass of the suite (``STATIONLAB_TEST_BACKEND=
timescaledb``, the embedded PostgreSQL 18 with the extension ``scripts/setup`` builds); skipped on
a server without it. What an import does on this backend: ``test_backend_timescaledb.py``.
"""

from __future__ import annotations

import contextlib
import os
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import psycopg
import pytest

from stationlab import storage
from stationlab.errors import ConfigError

from . import old_migrations
from .conftest import BACKEND, _create_database, _drop_database, timescaledb_preloaded

pytestmark = pytest.mark.timescaledb

INSERT = "INSERT INTO readings SELECT * FROM unnest(%s::int[], %s::timestamptz[], %s::float8[])"


@pytest.fixture(scope="module")
def servers(pg_server):
    """Two fresh databases on the test server, which has TimescaleDB preloaded in the
    TimescaleDB pass of the suite (skipped on a server without it, as Debian's PostgreSQL 15)."""
    if not timescaledb_preloaded(pg_server):
        if BACKEND == "timescaledb":
            pytest.fail("STATIONLAB_TEST_BACKEND=timescaledb on a server without TimescaleDB")
        pytest.skip("the test server has no TimescaleDB (the TimescaleDB pass runs these)")
    names = [f"stationlab_tsdb_{os.getpid()}_{i}" for i in range(2)]
    yield [SimpleNamespace(dsn=_create_database(pg_server, name)) for name in names]
    for name in names:
        _drop_database(pg_server, name)


@contextlib.contextmanager
def _connect(dsn: str, *, check: bool = True):
    """The one open connection to a server (closed on leaving the block)."""
    with storage.connect(dsn, autocommit=True, check=check) as conn:
        yield conn


def _extension_version(conn) -> str | None:
    row = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    return row["extversion"] if row else None


#: A hypertable by the name users know: a continuous aggregate's materialisation hypertable
#: (``_timescaledb_internal._materialized_hypertable_<id>``) by its view's name.
_RELATION = """
    coalesce(ca.view_schema || '.' || ca.view_name,
             {t}.hypertable_schema || '.' || {t}.hypertable_name) AS relation
    FROM {view} {t}
    LEFT JOIN timescaledb_information.continuous_aggregates ca
      ON ca.materialization_hypertable_schema = {t}.hypertable_schema
     AND ca.materialization_hypertable_name = {t}.hypertable_name
"""


def _timescaledb_description(conn) -> dict[str, list]:
    """What ``describe_schema`` cannot see: hypertables, chunk intervals, compression, continuous
    aggregates and policies (internal ids left out, so that two databases compare)."""
    return {
        "hypertables": conn.execute(
            "SELECT hypertable_schema, hypertable_name, num_dimensions, compression_enabled "
            "FROM timescaledb_information.hypertables ORDER BY 1, 2").fetchall(),
        "dimensions": conn.execute(
            "SELECT d.dimension_number, d.column_name, d.dimension_type, d.time_interval, "
            "d.integer_interval, d.num_partitions, "
            + _RELATION.format(t="d", view="timescaledb_information.dimensions")
            + " ORDER BY relation, 1").fetchall(),
        "compression": conn.execute(
            "SELECT coalesce(ca.view_schema || '.' || ca.view_name, "
            "                n.nspname || '.' || c.relname) AS relation, "
            "s.segmentby, s.orderby, s.compress_interval_length, s.index "
            "FROM timescaledb_information.hypertable_compression_settings s "
            "JOIN pg_class c ON c.oid = s.hypertable "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN timescaledb_information.continuous_aggregates ca "
            "  ON ca.materialization_hypertable_schema = n.nspname "
            " AND ca.materialization_hypertable_name = c.relname "
            "ORDER BY 1").fetchall(),
        "continuous_aggregates": conn.execute(
            "SELECT view_schema, view_name, materialized_only, compression_enabled, "
            "view_definition FROM timescaledb_information.continuous_aggregates "
            "ORDER BY 1, 2").fetchall(),
        "jobs": conn.execute(
            "SELECT j.proc_schema, j.proc_name, j.schedule_interval, j.scheduled, "
            "j.config - 'hypertable_id' - 'mat_hypertable_id' AS config, "
            + _RELATION.format(t="j", view="timescaledb_information.jobs")
            + " WHERE j.hypertable_name IS NOT NULL ORDER BY relation, 2").fetchall(),
    }


@pytest.fixture(scope="module")
def declared(servers):
    """Server 1: the backend detected on the fresh database, then the 22 migrations folded into
    the declared schema (as the stationlabs before the fold made databases) and a migrate."""
    with _connect(servers[1].dsn, check=False) as conn:
        before = _extension_version(conn)
        detected = storage.db.detect_backend(conn)
        after = _extension_version(conn)
        detected_again = storage.db.detect_backend(conn)
        idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        skipped = old_migrations.available()
        if not skipped:
            old_migrations.apply(conn, "timescaledb")
            storage.migrate(conn)
        return SimpleNamespace(
            before=before, detected=detected, after=after, detected_again=detected_again,
            idle=idle, skipped=skipped,
            schema=storage.describe_schema(conn), timescaledb=_timescaledb_description(conn))


@pytest.fixture(scope="module")
def migrated(servers):
    """Server 0: a fresh database migrated with the detected backend."""
    with _connect(servers[0].dsn, check=False) as conn:
        before = _extension_version(conn)
        result = storage.migrate(conn)
        return SimpleNamespace(
            dsn=servers[0].dsn, before=before, result=result,
            schema=storage.describe_schema(conn), timescaledb=_timescaledb_description(conn))


def test_detect_backend_finds_timescaledb(declared):
    assert declared.before is None  # a fresh database: nothing created yet
    assert declared.detected == "timescaledb"
    assert declared.after is not None and declared.after.startswith("2.")
    assert declared.detected_again == "timescaledb"  # the extension already there is fine too
    assert declared.idle  # detect_backend leaves no transaction open


def test_migrate_picks_timescaledb_and_makes_readings_a_compressed_hypertable(migrated):
    result = migrated.result
    assert migrated.before is None
    assert result.backend == "timescaledb"
    assert result.applied == [f"{storage.db.latest_version():04d}_schema"]
    assert result.version == storage.db.latest_version()
    tsdb = migrated.timescaledb
    assert tsdb["hypertables"] == [{"hypertable_schema": "public", "hypertable_name": "readings",
                                    "num_dimensions": 1, "compression_enabled": True}]
    dimensions = {d["relation"]: d for d in tsdb["dimensions"]}
    readings = dimensions["public.readings"]
    assert (readings["column_name"], readings["dimension_type"]) == ("ts", "Time")
    # INTERVAL '1 month' becomes fixed 30-day chunks in TimescaleDB.
    assert readings["time_interval"] == timedelta(days=30)
    compression = {c["relation"]: c for c in tsdb["compression"]}["public.readings"]
    assert (compression["segmentby"], compression["orderby"]) == ("channel_id", "ts")
    jobs = {(j["relation"], j["proc_name"]): j for j in tsdb["jobs"]}
    policy = jobs["public.readings", "policy_compression"]
    assert policy["scheduled"] and policy["config"] == {"compress_after": "60 days"}
    # 0006: readings_monthly, a real-time continuous aggregate with a refresh policy.
    [monthly] = tsdb["continuous_aggregates"]
    assert (monthly["view_name"], monthly["materialized_only"]) == ("readings_monthly", False)
    refresh = jobs["public.readings_monthly", "policy_refresh_continuous_aggregate"]
    assert refresh["scheduled"] and refresh["config"] == {
        "start_offset": None, "end_offset": "01:00:00"}

    with _connect(migrated.dsn) as conn:  # check_schema accepts the migrated database
        assert storage.db.recorded_backend(conn) == "timescaledb"
        again = storage.migrate(conn)
        assert (again.backend, again.applied) == ("timescaledb", [])
        with pytest.raises(ConfigError, match="set up for timescaledb, not plain"):
            storage.migrate(conn, backend="plain")


def test_declared_schema_equals_migrated_schema(migrated, declared):
    if declared.skipped:
        pytest.skip(f"the migrations before the declared schema are read from git: "
                    f"{declared.skipped}")
    # describe_schema copes with TimescaleDB as it is: nothing is filtered. The extension lives in
    # the public schema, so its API functions (create_hypertable, time_bucket, ...) are part of
    # describe_functions on both sides.
    assert set(migrated.schema) == set(declared.schema)
    for key in migrated.schema:
        assert migrated.schema[key] == declared.schema[key], key
    for key in migrated.timescaledb:  # hypertables, chunks, compression, aggregates, jobs
        assert migrated.timescaledb[key] == declared.timescaledb[key], key
    tables = {t[0]: t for t in migrated.schema["describe_tables"]}
    assert tables["readings"][1:] == ("r", "")  # a hypertable, not a partitioned table
    assert ("readings", "PRIMARY KEY (channel_id, ts)", "p", "readings_pkey") in \
        migrated.schema["describe_constraints"]
    own = {f[0] for f in migrated.schema["describe_functions"]}
    assert {"ensure_readings_partitions", "time_bucket", "create_hypertable"} <= own


# --- readings ------------------------------------------------------------------------------------

DAY0 = datetime(2024, 1, 20, tzinfo=UTC)
DAYS = 40  # more than one 30-day chunk
STEP = timedelta(minutes=10)
PER_DAY = 144
#: Values that a lossy or sloppy path would change: read back bit for bit after compression.
AWKWARD = [0.1, 1 / 3, -0.0, 5e-324, -2.5e-310, 1.7976931348623157e308, -1.7976931348623157e308,
           3.141592653589793, 2.0 ** 53 + 2, -123456.789, float("inf"), float("-inf")]


@dataclass(frozen=True)
class Reading:
    channel_id: int
    ts: datetime
    value: float


def _readings() -> list[Reading]:
    """Channels 1 and 2: every 10 minutes for 40 days, value = 1000 * channel + i / 4 (exact in
    binary, so sums are exact); channel 3: a few awkward values."""
    rows = [Reading(channel, DAY0 + i * STEP, 1000.0 * channel + i / 4)
            for channel in (1, 2) for i in range(DAYS * PER_DAY)]
    rows += [Reading(3, DAY0 + timedelta(days=i, hours=7), v) for i, v in enumerate(AWKWARD)]
    return rows


def _expected_daily(rows: list[Reading]) -> dict[tuple[int, datetime], tuple]:
    buckets = defaultdict(list)
    for r in rows:
        if r.channel_id in (1, 2):
            buckets[r.channel_id, r.ts.replace(hour=0, minute=0)].append(r.value)
    return {key: (len(v), sum(v), min(v), max(v)) for key, v in buckets.items()}


def _expected_monthly(rows: list[Reading]) -> dict[tuple[int, datetime], tuple]:
    buckets = defaultdict(list)
    for r in rows:
        if r.channel_id in (1, 2):
            buckets[r.channel_id, r.ts.replace(day=1, hour=0, minute=0)].append(r.value)
    return {key: (len(v), sum(v), min(v), max(v)) for key, v in buckets.items()}


def _monthly(conn) -> dict[tuple[int, datetime], tuple]:
    """readings_monthly, the continuous aggregate of schema.timescaledb.sql."""
    rows = conn.execute(
        "SELECT channel_id, month, n, total, minimum, maximum FROM readings_monthly "
        "WHERE channel_id IN (1, 2) ORDER BY 1, 2").fetchall()
    return {(r["channel_id"], r["month"]): (r["n"], r["total"], r["minimum"], r["maximum"])
            for r in rows}


def _insert(conn, rows: list[Reading], *, on_conflict: bool = False) -> int:
    sql = INSERT + (" ON CONFLICT DO NOTHING" if on_conflict else "")
    cur = conn.execute(sql, ([r.channel_id for r in rows], [r.ts for r in rows],
                             [r.value for r in rows]))
    return cur.rowcount


def _daily(conn) -> dict[tuple[int, datetime], tuple]:
    rows = conn.execute(
        "SELECT channel_id, time_bucket('1 day', ts) AS day, count(*) AS n, sum(value) AS total, "
        "min(value) AS low, max(value) AS high "
        "FROM readings WHERE channel_id IN (1, 2) GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
    return {(r["channel_id"], r["day"]): (r["n"], r["total"], r["low"], r["high"]) for r in rows}


def _all(conn) -> list[tuple[int, datetime, str]]:
    return [(r["channel_id"], r["ts"], r["value"].hex()) for r in conn.execute(
        "SELECT channel_id, ts, value FROM readings ORDER BY channel_id, ts")]


def _exact(rows: list[Reading]) -> list[tuple[int, datetime, str]]:
    return sorted((r.channel_id, r.ts, r.value.hex()) for r in rows)


@pytest.fixture(scope="module")
def loaded(migrated):
    """Server 0 after migration, with the readings inserted once."""
    rows = _readings()
    with _connect(migrated.dsn) as conn:
        created = storage.readings.ensure_partitions(conn, rows[0].ts, rows[-1].ts)
        inserted = _insert(conn, rows)
    return SimpleNamespace(dsn=migrated.dsn, rows=rows, created=created, inserted=inserted)


def test_readings_insert_aggregate_and_ignore_duplicates(loaded):
    rows = loaded.rows
    assert loaded.created == 0  # ensure_readings_partitions is a no-op on a hypertable
    assert loaded.inserted == len(rows) == 2 * DAYS * PER_DAY + len(AWKWARD)
    expected = _expected_daily(rows)
    # Worked by hand: channel 1 on its first day holds 1000 + i/4 for i in 0..143.
    assert expected[1, DAY0] == (144, 144 * 1000 + 143 * 144 / 8, 1000.0, 1035.75)
    assert expected[2, DAY0 + timedelta(days=39)] == (144, 144 * 2000 + (5616 + 5759) * 144 / 8,
                                                       3404.0, 3439.75)
    with _connect(loaded.dsn) as conn:
        chunks = conn.execute("SELECT count(*) AS n FROM show_chunks('readings')").fetchone()
        assert chunks["n"] >= 2
        assert _daily(conn) == expected
        assert len(expected) == 2 * DAYS
        assert _all(conn) == _exact(rows)

        # The same readings again, and the same keys with other values: nothing changes.
        assert _insert(conn, rows, on_conflict=True) == 0
        changed = [Reading(r.channel_id, r.ts, r.value + 1) for r in rows[::97]]
        assert _insert(conn, changed, on_conflict=True) == 0
        assert conn.execute("SELECT count(*) AS n FROM readings").fetchone()["n"] == len(rows)
        assert _daily(conn) == expected

        # readings_monthly answers in real time (nothing is materialised yet), in calendar
        # months as date_trunc('month', ts, 'UTC') in the plain backend's table.
        monthly = _expected_monthly(rows)
        assert sorted(monthly) == [(c, datetime(2024, m, 1, tzinfo=UTC))
                                   for c in (1, 2) for m in (1, 2)]
        assert monthly[1, datetime(2024, 1, 1, tzinfo=UTC)][0] == 12 * PER_DAY
        assert _monthly(conn) == monthly
        conn.execute("SELECT refresh_readings_monthly(%s, %s, %s)",  # a no-op here
                     ([1, 2], rows[0].ts, rows[-1].ts))
        conn.execute(storage.db.queries("clean.sql")["add_monthly"], {  # so is this
            "channel_ids": [1], "months": [DAY0], "n": [1], "total": [1.0], "minimum": [1.0],
            "maximum": [1.0]})
        assert _monthly(conn) == monthly
        # An import copies every month into the hypertable; TimescaleDB makes the chunks.
        load = conn.execute("SELECT readings_load_table(%s) AS name", (DAY0,)).fetchone()
        assert load["name"] == "readings"

        # The product's named query on the hypertable.
        span = conn.execute(storage.db.queries("readings.sql")["readings_range"], {
            "channel_ids": [1], "start": DAY0 + timedelta(days=1),
            "end": DAY0 + timedelta(days=2)}).fetchone()
        assert span == {"ts_first": DAY0 + timedelta(days=1),
                        "ts_last": DAY0 + timedelta(days=2) - STEP, "n_readings": PER_DAY}


def test_compressed_readings_read_back_exactly(loaded):
    rows = loaded.rows
    with _connect(loaded.dsn) as conn:
        chunks = [r["c"] for r in conn.execute(
            "SELECT compress_chunk(c, if_not_compressed => true) AS c "
            "FROM show_chunks('readings') c")]
        assert len(chunks) >= 2
        state = conn.execute(
            "SELECT count(*) AS n, bool_and(is_compressed) AS all_compressed "
            "FROM timescaledb_information.chunks WHERE hypertable_name = 'readings'").fetchone()
        assert state == {"n": len(chunks), "all_compressed": True}
        stats = conn.execute("SELECT number_compressed_chunks AS n "
                             "FROM hypertable_compression_stats('readings')").fetchone()
        assert stats["n"] == len(chunks)

        assert _all(conn) == _exact(rows)  # bit for bit, -0.0, denormals and infinities too
        assert _daily(conn) == _expected_daily(rows)
        one = conn.execute("SELECT value FROM readings WHERE channel_id = 2 AND ts = %s",
                           (DAY0 + 1000 * STEP,)).fetchone()
        assert one["value"] == 2250.0

        # The continuous aggregate over compressed chunks, real time and then materialised.
        assert _monthly(conn) == _expected_monthly(rows)
        conn.execute("CALL refresh_continuous_aggregate('readings_monthly', NULL, NULL)")
        assert _monthly(conn) == _expected_monthly(rows)
        where = conn.execute(
            "SELECT materialization_hypertable_schema AS s, materialization_hypertable_name AS t "
            "FROM timescaledb_information.continuous_aggregates "
            "WHERE view_name = 'readings_monthly'").fetchone()
        stored = conn.execute(psycopg.sql.SQL(
            "SELECT channel_id, month, n, total, minimum, maximum FROM {} "
            "WHERE channel_id IN (1, 2)").format(psycopg.sql.Identifier(where["s"], where["t"])))
        assert {(r["channel_id"], r["month"]): (r["n"], r["total"], r["minimum"], r["maximum"])
                for r in stored} == _expected_monthly(rows)  # really materialised

        # Duplicates into compressed chunks are still ignored.
        assert _insert(conn, rows[:500], on_conflict=True) == 0
        assert conn.execute("SELECT count(*) AS n FROM readings").fetchone()["n"] == len(rows)
