"""The fast import path: months without a partition are loaded into a table of their own, keyed
after loading and attached; the monthly rollup is added to, not recounted.

The source is ``bench/generate.py``'s mast cut down to one sensor (4 statistics): two years of
10-minute rows with gaps, 24 monthly partitions.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from stationlab import ingest

from .test_export_generated import _generator

#: One year of rows of the generated mast, and a little over (its files start on 2019-01-01).
YEAR_ROWS = 52_560


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict:
    """Generated files: one and two years of one mast, the second half of year one plus the first
    half of year two, and two years of a second mast (another station and logger)."""
    folder = tmp_path_factory.mktemp("bulk")
    generate = _generator().generate
    files = {"one": folder / "mast_1y.dat", "two": folder / "mast_2y.dat",
             "other": folder / "other_2y.dat", "middle": folder / "mast_mid.dat"}
    generate(files["one"], years=1, sensors=1, station="bulk_mast")
    generate(files["two"], years=2, sensors=1, station="bulk_mast")
    generate(files["other"], years=2, sensors=1, station="other_mast")
    text = files["other"].read_bytes().replace(b'"31337"', b'"42424"', 1)
    files["other"].write_bytes(text)
    lines = files["two"].read_bytes().splitlines(keepends=True)
    half = YEAR_ROWS // 2
    files["middle"].write_bytes(b"".join(lines[:4] + lines[4 + half:4 + 3 * half]))
    return files


@pytest.fixture
def db(plain_db):
    """These tests are about range partitions: the plain backend, in either pass of the suite
    (the TimescaleDB backend's imports: tests/test_backend_timescaledb.py)."""
    return plain_db


def imported(outcome: ingest.Outcome) -> ingest.Outcome:
    assert outcome.status == "imported", outcome.error
    return outcome


def partitions(conn) -> list[dict]:
    """Every partition of ``readings``: its bounds, constraints and indexes."""
    return conn.execute("""
        SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bounds,
               array(SELECT contype::text || ':' || pg_get_constraintdef(k.oid)
                     FROM pg_constraint k WHERE k.conrelid = c.oid ORDER BY 1) AS constraints,
               array(SELECT pg_get_indexdef(i.indexrelid) || ' of ' || p.relname
                     FROM pg_index i
                     LEFT JOIN pg_inherits h ON h.inhrelid = i.indexrelid
                     LEFT JOIN pg_class p ON p.oid = h.inhparent
                     WHERE i.indrelid = c.oid ORDER BY 1) AS indexes
        FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid
        WHERE h.inhparent = 'readings'::regclass
        ORDER BY c.relname""").fetchall()


def assert_rollup_is_a_recount(conn) -> None:
    """The monthly rollup, kept by adding each import's part, equals a count from scratch."""
    kept = conn.execute("SELECT * FROM readings_monthly ORDER BY channel_id, month").fetchall()
    conn.execute("SELECT refresh_readings_monthly(array(SELECT channel_id FROM channels), "
                 "'-infinity', 'infinity')")
    recount = conn.execute("SELECT * FROM readings_monthly ORDER BY channel_id, month").fetchall()
    assert len(kept) == len(recount) > 0
    for mine, theirs in zip(kept, recount, strict=True):
        assert mine == theirs | {"total": pytest.approx(theirs["total"], rel=1e-12)}


def test_a_fresh_import_makes_partitions_like_declared_ones(conn, db, sources):
    outcome = imported(ingest.import_paths([sources["two"]], dsn=db)[0])
    conn.execute("SELECT ensure_readings_partitions('2031-01-01', '2031-01-01')")
    made = partitions(conn)
    assert len(made) == 25
    declared = made.pop()  # 2031-01, made by CREATE TABLE ... PARTITION OF
    assert declared["name"] == "readings_y2031m01"

    def shape(partition: dict) -> tuple:
        return (partition["constraints"],
                [i.replace(partition["name"], "<p>") for i in partition["indexes"]])

    for partition in made:
        assert shape(partition) == shape(declared), partition["name"]
    assert made[0]["bounds"] == ("FOR VALUES FROM ('2019-01-01 00:00:00+00') "
                                 "TO ('2019-02-01 00:00:00+00')")
    assert conn.execute("SELECT count(*) AS n FROM readings").fetchone()["n"] == outcome.readings
    assert_rollup_is_a_recount(conn)


def test_overlapping_files_extend_into_new_months_and_keep_the_rollup(conn, db, sources):
    one = imported(ingest.import_paths([sources["one"]], dsn=db)[0])
    assert len(partitions(conn)) == 12
    middle = imported(ingest.import_paths([sources["middle"]], dsn=db)[0])
    assert middle.duplicates > 0 and middle.readings > 0 and middle.conflicts == 0
    assert len(partitions(conn)) == 19  # its last rows are in July of the second year
    two = imported(ingest.import_paths([sources["two"]], dsn=db)[0])
    assert two.duplicates == one.readings + middle.readings  # all in the two-year file
    total = one.readings + middle.readings + two.readings
    assert conn.execute("SELECT count(*) AS n FROM readings").fetchone()["n"] == total
    assert len(partitions(conn)) == 24
    assert_rollup_is_a_recount(conn)


def test_two_stations_importing_the_same_new_months_at_once(conn, db, sources):
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda path: ingest.import_paths([path], dsn=db)[0],
                                 [sources["two"], sources["other"]]))
    assert {imported(o).station for o in outcomes} == {"bulk_mast", "other_mast"}
    assert len(partitions(conn)) == 24
    stored = conn.execute("SELECT count(*) AS n FROM readings").fetchone()["n"]
    assert stored == sum(o.readings for o in outcomes)
    assert_rollup_is_a_recount(conn)
