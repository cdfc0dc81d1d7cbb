"""The schema: declared once, equal to what the old migrations made; backend recorded; partitions
on demand."""

import re
from datetime import UTC, datetime

import pytest

from stationlab import storage
from stationlab.errors import ConfigError, StorageError

from . import old_migrations
from .conftest import BACKEND, timescaledb_preloaded


def _skip_without(backend, pg_server):
    if backend == "timescaledb" and not timescaledb_preloaded(pg_server):
        if BACKEND == "timescaledb":
            pytest.fail("STATIONLAB_TEST_BACKEND=timescaledb on a server without TimescaleDB")
        pytest.skip("no TimescaleDB on this server (the TimescaleDB pass runs this)")
    if why := old_migrations.available():
        pytest.skip(f"the migrations before the declared schema are read from git: {why}")


@pytest.mark.parametrize("backend", ["plain", "timescaledb"])
def test_fresh_migrate_equals_the_old_migrations_then_the_new(pg_server, empty_db, backend):
    """A fresh database gets the declared schema; one made by the 22 migrations folded into it
    (as every stationlab before the fold made its databases), then migrated, must be the same
    to the last column, index, function body and grant."""
    from tests.conftest import _create_database, _drop_database

    _skip_without(backend, pg_server)
    with storage.connect(empty_db, autocommit=True, check=False) as conn:
        result = storage.migrate(conn, backend=backend)
        fresh = storage.describe_schema(conn)
    old_dsn = _create_database(pg_server, "stationlab_old")
    try:
        with storage.connect(old_dsn, autocommit=True, check=False) as conn:
            old = old_migrations.apply(conn, backend)
            upgraded = storage.migrate(conn, backend=backend)
            migrated = storage.describe_schema(conn)
    finally:
        _drop_database(pg_server, "stationlab_old")
    assert result.backend == backend
    assert result.applied == [f"{storage.db.latest_version():04d}_schema"]
    assert (old[0], old[-1]) == ("0001_initial", "0022_fetch_attempts_station")
    assert storage.db.BASELINE == 22
    assert upgraded.applied == [f"{m.version:04d}_{m.name}" for m in storage.db.migrations()]
    assert result.version == upgraded.version == storage.db.latest_version()
    assert set(fresh) == {"describe_tables", "describe_columns", "describe_constraints",
                          "describe_indexes", "describe_functions", "describe_triggers",
                          "describe_views", "describe_privileges", "describe_flag_codes"}
    assert {t[0] for t in fresh["describe_tables"]} >= {
        "stations", "loggers", "measurement_points", "channels", "logger_configs", "readings",
        "files", "flags", "flag_codes", "reading_conflicts", "schema_migrations"}
    for key in fresh:
        assert fresh[key] == migrated[key], key


def test_a_database_older_than_the_declared_schema_is_refused_with_what_to_do(pg_server, empty_db):
    _skip_without("plain", pg_server)
    with storage.connect(empty_db, autocommit=True, check=False) as conn:
        old_migrations.apply(conn, "plain", upto=14)
        with pytest.raises(ConfigError, match=(
                r"has schema version 14, from a stationlab older than this one's first \(version "
                rf"22\); upgrade it with the stationlab of commit {storage.db.BASELINE_COMMIT}")):
            storage.migrate(conn, backend="plain")
        assert conn.execute("SELECT max(version) AS v FROM schema_migrations").fetchone()["v"] == 14
    with storage.connect(empty_db, check=False) as conn, pytest.raises(
            ConfigError, match="has schema version 14, this stationlab needs 22"):
        storage.db.check_schema(conn)


SCHEMA_FILES = ("schema.sql", "schema.plain.sql", "schema.timescaledb.sql")


def _statements(text: str) -> list[str]:
    """The statements of a schema file with comments and function bodies ($$...$$) left out."""
    text = re.sub(r"\$\$.*?\$\$", "$$ $$", text, flags=re.DOTALL)
    text = re.sub(r"--[^\n]*", "", text)
    return [" ".join(s.split()) for s in text.split(";") if s.strip()]


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_declared_schema_has_one_create_per_table_and_no_alter_or_migration_header(name):
    text = storage.db.sql_file(name)
    assert not re.findall(r"^--\s*00\d\d", text, flags=re.MULTILINE)  # no "-- 0006:" headers
    statements = _statements(text)
    tables = [m[1] for s in statements
              if (m := re.match(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", s, flags=re.IGNORECASE))]
    assert tables and len(tables) == len(set(tables)), sorted(tables)
    # TimescaleDB switches compression on with its own ALTER TABLE ... SET (timescaledb.*): the
    # only ALTER allowed. No ADD COLUMN, no constraint dropped or added after the CREATE.
    alters = [s for s in statements if re.match(r"ALTER\s+(TABLE|FUNCTION|VIEW)", s, re.I)
              and not re.match(r"ALTER TABLE readings SET \( timescaledb\.compress,", s)]
    assert alters == []
    for kind in ("FUNCTION", "VIEW"):  # each defined once, in its final form
        names = [m[1] for s in statements
                 if (m := re.match(rf"CREATE (?:OR REPLACE )?{kind} (\w+)", s))]
        assert len(names) == len(set(names)), sorted(names)
        assert not [s for s in statements if s.startswith(f"CREATE OR REPLACE {kind}")]


def test_declared_schema_creates_every_table_once_across_its_files():
    tables = {}
    for name in SCHEMA_FILES:
        for s in _statements(storage.db.sql_file(name)):
            if m := re.match(r"CREATE (TABLE|MATERIALIZED VIEW) (\w+)", s):
                tables.setdefault(m[2], []).append(name)
    backend = {t for t, files in tables.items() if "schema.sql" not in files}
    assert backend == {"readings", "readings_monthly"}  # one per backend file, nowhere else
    assert all(files == ["schema.sql"] for t, files in tables.items() if t not in backend)
    assert all(sorted(tables[t]) == ["schema.plain.sql", "schema.timescaledb.sql"]
               for t in backend)
    # the role block comes once, at the end of schema.sql
    text = storage.db.sql_file("schema.sql")
    for name in SCHEMA_FILES:
        grants = re.findall(r"^(?:GRANT|REVOKE|ALTER DEFAULT PRIVILEGES)\b",
                            storage.db.sql_file(name), flags=re.MULTILINE)
        assert bool(grants) == (name == "schema.sql"), name
    last_create = max(m.start() for m in re.finditer(r"^CREATE ", text, flags=re.MULTILINE))
    first_grant = re.search(r"^(GRANT|REVOKE|DO \$\$)", text, flags=re.MULTILINE).start()
    assert last_create < first_grant
    assert text.count("CREATE ROLE") == 1


def test_readings_is_partitioned_by_time_and_keyed(plain_conn):
    conn = plain_conn
    tables = {t[0]: t for t in storage.describe_schema(conn)["describe_tables"]}
    assert tables["readings"][1:] == ("p", "RANGE (ts)")
    constraints = storage.describe_schema(conn)["describe_constraints"]
    assert ("readings", "PRIMARY KEY (channel_id, ts)", "p", "readings_pkey") in constraints


def test_migrate_twice_is_a_no_op_and_backend_is_recorded(conn):
    again = storage.migrate(conn)
    assert again.applied == []
    assert again.backend == BACKEND
    assert storage.db.recorded_backend(conn) == BACKEND
    other = {"plain": "timescaledb", "timescaledb": "plain"}[BACKEND]
    with pytest.raises(ConfigError, match=f"set up for {BACKEND}, not {other}"):
        storage.migrate(conn, backend=other)


def test_detect_backend_is_timescaledb_only_where_it_is_loaded(empty_db, pg_server):
    expected = "timescaledb" if timescaledb_preloaded(pg_server) else "plain"
    with storage.connect(empty_db, autocommit=True, check=False) as conn:
        assert storage.db.detect_backend(conn) == expected


def test_partitions_are_created_on_demand(plain_conn):
    conn = plain_conn

    def partitions():
        return [r["relname"] for r in conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'readings'::regclass ORDER BY 1")]

    assert partitions() == []
    created = storage.readings.ensure_partitions(
        conn, datetime(2016, 1, 31, 23, 50, tzinfo=UTC),
        datetime(2016, 3, 1, tzinfo=UTC))
    assert created == 3
    assert partitions() == ["readings_y2016m01", "readings_y2016m02", "readings_y2016m03"]
    assert storage.readings.ensure_partitions(
        conn, datetime(2016, 2, 1, tzinfo=UTC),
        datetime(2016, 2, 2, tzinfo=UTC)) == 0
    with pytest.raises(StorageError, match="no partition of relation"), \
            storage.transaction(conn):
        conn.execute("INSERT INTO readings VALUES (1, '2017-01-01', 1.0)")


def test_partitions_are_the_utc_months_whatever_the_session_time_zone(plain_conn):
    """Stepping a month at a time in New York's time zone from 1 January 00:00 UTC (31 December
    19:00 there) lands on 29 March 23:00 UTC after two steps, and would never reach May."""
    conn = plain_conn
    conn.execute("SET TIME ZONE 'America/New_York'")
    first, last = datetime(2024, 1, 15, tzinfo=UTC), datetime(2024, 5, 15, tzinfo=UTC)
    assert storage.readings.partitions_missing(conn, first, last) == 5
    assert storage.readings.ensure_partitions(conn, first, last) == 5
    assert storage.readings.partitions_missing(conn, first, last) == 0
    bounds = conn.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'readings'::regclass "
        "ORDER BY 1").fetchall()
    assert [b["relname"] for b in bounds] == [f"readings_y2024m0{m}" for m in range(1, 6)]
    conn.execute("SET TIME ZONE 'UTC'")
    assert "FROM ('2024-05-01 00:00:00+00') TO ('2024-06-01 00:00:00+00')" in conn.execute(
        "SELECT pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_class c "
        "WHERE c.relname = 'readings_y2024m05'").fetchone()["bound"]


def test_logger_configs_may_not_overlap(conn):
    conn.execute("INSERT INTO stations (name) VALUES ('s')")
    conn.execute("INSERT INTO loggers (station_id, name) VALUES (1, 'l')")
    conn.execute("INSERT INTO channels (station_id, logger_id, column_name) VALUES (1, 1, 'a')")
    conn.execute("INSERT INTO logger_configs (logger_id, column_name, channel_id, valid_to) "
                 "VALUES (1, 'a', 1, '2020-01-01')")
    conn.execute("INSERT INTO logger_configs (logger_id, column_name, channel_id, valid_from) "
                 "VALUES (1, 'a', 1, '2020-01-01')")
    with pytest.raises(StorageError, match="already has a configuration overlapping"), \
            storage.transaction(conn):
        conn.execute("INSERT INTO logger_configs (logger_id, column_name, channel_id, "
                     "valid_from, valid_to) VALUES (1, 'a', 1, '2019-06-01', '2019-07-01')")


def test_flag_codes_are_append_only(conn):
    conn.execute("INSERT INTO flag_codes (code, description) VALUES ('new', 'a new code')")
    with pytest.raises(StorageError, match="append-only"), storage.transaction(conn):
        conn.execute("UPDATE flag_codes SET description = 'changed' WHERE code = 'bad'")
    with pytest.raises(StorageError, match="append-only"), storage.transaction(conn):
        conn.execute("DELETE FROM flag_codes WHERE code = 'new'")


def test_calibration_periods_of_a_sensor_may_not_overlap_and_slope_is_not_zero(conn):
    conn.execute("INSERT INTO sensors (sensor_type, serial_number) VALUES ('anemometer', 'A1')")
    conn.execute("INSERT INTO calibrations (sensor_id, slope, \"offset\", valid_to) "
                 "VALUES (1, 0.046, 0.21, '2020-01-01')")
    with pytest.raises(StorageError, match=r"calibrations \[2019-06-01 00:00:00\+00, infinity\) "
                       r"overlaps \[-infinity, 2020-01-01 00:00:00\+00\) of the same sensor_id"), \
            storage.transaction(conn):
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("INSERT INTO calibrations (sensor_id, slope, valid_from) "
                     "VALUES (1, 0.05, '2019-06-01')")
    with pytest.raises(StorageError, match="calibrations_slope_check"), storage.transaction(conn):
        conn.execute("INSERT INTO calibrations (sensor_id, slope, valid_from) "
                     "VALUES (1, 0, '2020-01-01')")
    conn.execute("INSERT INTO calibrations (sensor_id, slope, valid_from) "
                 "VALUES (1, 0.05, '2020-01-01')")
