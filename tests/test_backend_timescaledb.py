"""What the real TimescaleDB backend changes: writes into compressed months, the compression
policy running beside an import, the continuous aggregate after a backfill, flags and clean
readings on compressed chunks, backup and restore, and the embedded server's set-up.

These need a test server with TimescaleDB preloaded: the embedded one ``scripts/setup`` builds
it into, as in the TimescaleDB pass of ``.ci/run`` (``STATIONLAB_TEST_BACKEND=timescaledb``).
On another server they are skipped, or fail when that pass asked for TimescaleDB.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import psycopg
import pytest
from click.testing import CliRunner

from stationlab import backup, ingest, storage
from stationlab.cli import main

from .conftest import BACKEND
from .test_export_generated import _generator
from .test_import_bulk import YEAR_ROWS

pytestmark = pytest.mark.timescaledb


@pytest.fixture(scope="module")
def timescaledb_server(pg_server) -> str:
    with psycopg.connect(pg_server) as conn:
        preloaded = conn.execute("SHOW shared_preload_libraries").fetchone()[0]
    if "timescaledb" not in preloaded:
        if BACKEND == "timescaledb":
            pytest.fail("STATIONLAB_TEST_BACKEND=timescaledb but the test server has no "
                        "TimescaleDB preloaded")
        pytest.skip("the test server has no TimescaleDB (the TimescaleDB pass runs these)")
    return pg_server


def _migrated(pg_server, name: str, backend: str) -> str:
    from .conftest import _create_database
    dsn = _create_database(pg_server, name)
    with storage.connect(dsn, autocommit=True, check=False) as conn:
        storage.migrate(conn, backend=backend)
    return dsn


@pytest.fixture
def both(timescaledb_server, request):
    """A fresh database of each backend on the one server: ``{backend: dsn}``."""
    from .conftest import _drop_database
    stem = f"stationlab_both_{request.node.name[:20].lower()}"
    dsns = {backend: _migrated(timescaledb_server, f"{stem}_{backend}", backend)
            for backend in ("plain", "timescaledb")}
    yield dsns
    for backend in dsns:
        _drop_database(timescaledb_server, f"{stem}_{backend}")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    """One year of the generated mast (1 sensor, 4 statistics), and a file of its second half
    plus the first half of the next year with one value changed inside the first year."""
    folder = tmp_path_factory.mktemp("tsfiles")
    generate = _generator().generate
    one, two = folder / "mast_1y.dat", folder / "mast_2y.dat"
    generate(one, years=1, sensors=1, station="ts_mast")
    generate(two, years=2, sensors=1, station="ts_mast")
    lines = two.read_bytes().splitlines(keepends=True)
    half = YEAR_ROWS // 2
    body = lines[4 + half:4 + 3 * half]
    fields = body[100].split(b",")
    fields[2] = b"999.5"  # a reading stored from the first file, now different: a conflict
    body[100] = b",".join(fields)
    middle = folder / "mast_mid.dat"
    middle.write_bytes(b"".join(lines[:4] + body))
    sparse = folder / "mast_every_other_row.dat"
    sparse.write_bytes(b"".join(lines[:4] + lines[4::2]))
    return {"one": one, "two": two, "middle": middle, "sparse": sparse}


def imported(outcome: ingest.Outcome) -> ingest.Outcome:
    assert outcome.status == "imported", outcome.error
    return outcome


def compress_all(dsn: str) -> int:
    with storage.connect(dsn, autocommit=True) as conn:
        return storage.timescale.compress(conn).chunks


def stored(dsn: str) -> list[tuple]:
    """Every reading, per channel (both databases made theirs in the same order), and the
    conflicts recorded."""
    with storage.connect(dsn, autocommit=True) as conn:
        readings = conn.execute("""
            SELECT channel_id, count(*) AS n, sum(value) AS total,
                   md5(string_agg(ts::text || '=' || value::text, ',' ORDER BY ts)) AS digest
            FROM readings GROUP BY channel_id ORDER BY channel_id""").fetchall()
        conflicts = conn.execute("""
            SELECT channel_id, ts, stored_value, file_value FROM reading_conflicts
            ORDER BY 1, 2""").fetchall()
    return [tuple(r.values()) for r in readings], [tuple(r.values()) for r in conflicts]


def counts(outcome: ingest.Outcome) -> tuple[int, int, int]:
    return outcome.readings, outcome.duplicates, outcome.conflicts


def test_an_overlapping_file_into_compressed_months_counts_as_on_plain(both, files):
    outcomes = {}
    for backend, dsn in both.items():
        imported(ingest.import_paths([files["one"]], dsn=dsn)[0])
        if backend == "timescaledb":
            assert compress_all(dsn) >= 12
        [outcomes[backend]] = ingest.import_paths([files["middle"]], dsn=dsn)
        imported(outcomes[backend])
    # Half a year of duplicates, more than TimescaleDB's default cap of 100,000 decompressed
    # rows per transaction.
    assert outcomes["timescaledb"].duplicates > 100_000
    assert counts(outcomes["timescaledb"]) == counts(outcomes["plain"])
    assert outcomes["timescaledb"].conflicts == 1
    assert stored(both["timescaledb"]) == stored(both["plain"])
    with storage.connect(both["timescaledb"], autocommit=True) as conn:
        left = storage.timescale.chunks_to_compress(conn)
        assert left, "the backfilled months are partially compressed"
        storage.timescale.compress(conn, left)
        assert storage.timescale.chunks_to_compress(conn) == []
        # The recompressed rows' space is given back: the chunks' own tables and keys are as
        # empty as after a first compression (not three times the month's compressed size).
        for chunk in left:
            sizes = conn.execute("SELECT pg_relation_size(%(c)s::regclass) AS heap, "
                                 "pg_indexes_size(%(c)s::regclass) AS keys",
                                 {"c": chunk["chunk"]}).fetchone()
            assert sizes == {"heap": 0, "keys": sizes["keys"]} and sizes["keys"] <= 32768, chunk
    assert stored(both["timescaledb"]) == stored(both["plain"])


def test_filling_every_other_row_of_compressed_months_is_not_capped(both, files):
    """New readings between compressed ones of the same channel: every compressed batch of the
    channel is touched, by more new readings than TimescaleDB's default cap of 100,000
    decompressed rows per transaction (lifted for imports, see ``store_readings``)."""
    outcomes = {}
    for backend, dsn in both.items():
        imported(ingest.import_paths([files["sparse"]], dsn=dsn)[0])
        if backend == "timescaledb":
            compress_all(dsn)
        outcomes[backend] = imported(ingest.import_paths([files["two"]], dsn=dsn)[0])
    assert outcomes["timescaledb"].readings > 100_000
    assert counts(outcomes["timescaledb"]) == counts(outcomes["plain"])
    assert stored(both["timescaledb"]) == stored(both["plain"])


def _recount(conn) -> list[tuple]:
    return [tuple(r.values()) for r in conn.execute("""
        SELECT channel_id, time_bucket(INTERVAL '1 month', ts) AS month, count(*) AS n,
               sum(value::numeric) AS total, min(value), max(value)
        FROM readings GROUP BY 1, 2 ORDER BY 1, 2""")]


def _aggregate(conn) -> list[tuple]:
    return [tuple(r.values()) for r in conn.execute("""
        SELECT channel_id, month, n, round(total::numeric, 6) AS total, minimum, maximum
        FROM readings_monthly ORDER BY 1, 2""")]


def test_the_continuous_aggregate_is_materialised_and_right_after_a_backfill(both, files):
    dsn = both["timescaledb"]
    imported(ingest.import_paths([files["one"]], dsn=dsn)[0])
    compress_all(dsn)
    imported(ingest.import_paths([files["middle"]], dsn=dsn)[0])
    with storage.connect(dsn, autocommit=True) as conn:
        assert _aggregate(conn) == _recount(conn)
        # Materialised, not computed on the fly: the watermark is past the last month.
        watermark = conn.execute("""
            SELECT _timescaledb_functions.to_timestamp(
                       _timescaledb_functions.cagg_watermark(mat_hypertable_id)) AS at
            FROM _timescaledb_catalog.continuous_agg
            WHERE user_view_name = 'readings_monthly'""").fetchone()["at"]
        last = conn.execute("SELECT max(ts) AS ts FROM readings").fetchone()["ts"]
        assert watermark > last
    with storage.connect(both["plain"], autocommit=True) as conn:
        imported(ingest.import_paths([files["one"]], dsn=both["plain"])[0])
        imported(ingest.import_paths([files["middle"]], dsn=both["plain"])[0])
        plain = _aggregate(conn)
    with storage.connect(dsn, autocommit=True) as conn:
        assert _aggregate(conn) == plain


def test_a_file_imported_while_the_compression_policy_runs(both, files):
    dsn = both["timescaledb"]
    imported(ingest.import_paths([files["one"]], dsn=dsn)[0])
    with storage.connect(dsn, autocommit=True) as conn:
        job = conn.execute("""
            SELECT job_id FROM timescaledb_information.jobs
            WHERE proc_name = 'policy_compression' AND hypertable_name = 'readings'
            """).fetchone()["job_id"]
    errors = []

    def policy():
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("CALL run_job(%s)", (job,))
        except psycopg.Error as exc:  # pragma: no cover - reported below
            errors.append(exc)

    runner = threading.Thread(target=policy)
    runner.start()
    [outcome] = ingest.import_paths([files["middle"]], dsn=dsn)
    runner.join(timeout=600)
    assert not errors
    imported(outcome)
    imported(ingest.import_paths([files["one"]], dsn=both["plain"])[0])
    [plain] = ingest.import_paths([files["middle"]], dsn=both["plain"])
    assert counts(outcome) == counts(plain)
    assert stored(dsn) == stored(both["plain"])


def test_flags_and_clean_readings_on_compressed_chunks(db, mast, timescaledb_server):
    if BACKEND != "timescaledb":
        pytest.skip("the test databases are plain in this pass")
    start, end = datetime(2016, 1, 1, tzinfo=UTC), datetime(2016, 2, 1, tzinfo=UTC)
    mast.add_flag(datetime(2016, 1, 10, 0, 0, tzinfo=UTC), datetime(2016, 1, 10, 6, 0, tzinfo=UTC),
                  code="icing", reason="before compression")
    before = mast.readings(start=start, end=end, clean=True)
    assert compress_all(db) == 1
    assert mast.readings(start=start, end=end, clean=True).equals(before)
    mast.add_flag(datetime(2016, 1, 9, 18, 0, tzinfo=UTC), datetime(2016, 1, 9, 20, 0, tzinfo=UTC),
                  code="icing", reason="after compression")
    after = mast.readings(start=start, end=end, clean=True)
    assert 0 < after.height < before.height
    everything = mast.readings(start=start, end=end, clean=True, include_flagged=True)
    assert before.height < everything.height == 5640


def test_backup_and_restore_of_a_compressed_timescaledb_database(db, mast, home,
                                                                 timescaledb_server):
    if BACKEND != "timescaledb":
        pytest.skip("the test databases are plain in this pass")
    compress_all(db)
    result = backup.backup(home / "backups", dsn=db)  # restores into a scratch database
    assert result.readings == 5640
    from .conftest import _create_database, _drop_database
    target = _create_database(timescaledb_server, "stationlab_restored")
    try:
        with backup.timescaledb_restore(target):
            backup._run([str(backup.find_tool("pg_restore", 18)), "--no-owner",
                         "--exit-on-error", "--dbname", target, str(result.path)], "pg_restore")
        with storage.connect(target, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) AS n FROM readings").fetchone()["n"] == 5640
            assert conn.execute("""SELECT count(*) FILTER (WHERE is_compressed) AS n
                                   FROM timescaledb_information.chunks
                                   WHERE hypertable_name = 'readings'""").fetchone()["n"] == 1
            assert storage.timescale.active(conn)
    finally:
        _drop_database(timescaledb_server, "stationlab_restored")


def test_db_compress_compresses_finished_months_once(db, mast, timescaledb_server):
    if BACKEND != "timescaledb":
        pytest.skip("the test databases are plain in this pass")
    runner = CliRunner()
    first = runner.invoke(main, ["db", "compress", "--station", "some_site"])
    assert first.exit_code == 0, first.output
    assert "compressed 1 chunk" in first.output
    again = runner.invoke(main, ["db", "compress"])
    assert again.exit_code == 0 and "nothing to compress" in again.output
    unknown = runner.invoke(main, ["db", "compress", "--station", "nowhere"])
    assert unknown.exit_code == 1 and "no station called 'nowhere'" in unknown.output
