"""Uploads, archives, the import queue and its CLI verbs against a real PostgreSQL."""

from __future__ import annotations

import gzip
import io
import stat
import zipfile

import py7zr
import pytest

from stationlab import archives, fetch, ingest, rawstore, worker
from stationlab.errors import ArchiveError

from .conftest import BAD, DAILY, DEMO, HOURLY, REPO
from .test_cli import stationlab


def count(conn, sql):
    return conn.execute(f"SELECT count(*) AS n FROM {sql}").fetchone()["n"]


def nested_archive(real_data) -> bytes:
    """month.7z holding day.zip (the hourly file and the daily file gzipped) and the demo."""
    day = io.BytesIO()
    with zipfile.ZipFile(day, "w") as z:
        z.writestr("TestLogger_Hourly_1.dat", (real_data / HOURLY).read_bytes())
        z.writestr("daily/TestLogger_Daily_1.dat.gz", gzip.compress(
            (real_data / DAILY).read_bytes()))
    month = io.BytesIO()
    with py7zr.SevenZipFile(month, "w") as a:
        a.writestr(day.getvalue(), "day.zip")
        a.writestr((real_data / DEMO).read_bytes(), "demo.csv")
    return month.getvalue()


def test_archives_open_recursively_and_name_their_members(real_data):
    members = archives.expand("month.7z", nested_archive(real_data))
    assert [m.name for m in members] == [
        "month.7z!day.zip!TestLogger_Hourly_1.dat",
        "month.7z!day.zip!daily/TestLogger_Daily_1.dat.gz!TestLogger_Daily_1.dat",
        "month.7z!demo.csv"]
    assert members[1].data == (real_data / DAILY).read_bytes()
    assert archives.expand("x.dat", b"plain") == [archives.Member("x.dat", b"plain")]
    with pytest.raises(ArchiveError, match=r"^broken.zip: not a readable zip archive"):
        archives.expand("broken.zip", nested_archive(real_data)[:0] + b"PK\x03\x04junk")
    with pytest.raises(ArchiveError, match=r"^broken.7z: not a readable 7z archive"):
        archives.expand("broken.7z", nested_archive(real_data)[:100])


def test_import_of_an_archive_gives_one_line_per_member(db, conn, real_data, tmp_path):
    path = tmp_path / "month.7z"
    path.write_bytes(nested_archive(real_data))
    run = stationlab("import", path)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == (f"{tmp_path}/month.7z!day.zip!TestLogger_Hourly_1.dat: imported 15 "
                        "readings into station 'TestLogger'")
    assert lines[1].startswith(f"{tmp_path}/month.7z!day.zip!daily/TestLogger_Daily_1.dat.gz!"
                               "TestLogger_Daily_1.dat: imported ")
    assert lines[2] == (f"{tmp_path}/month.7z!demo.csv: imported 5,640 readings into station "
                        "'some_site'")
    assert lines[3] == "3 files: 3 ok, 0 failed"
    names = [r["name"] for r in conn.execute("SELECT name FROM files ORDER BY file_id")]
    assert names[0] == "month.7z!day.zip!TestLogger_Hourly_1.dat"


def test_upload_stores_read_only_and_the_worker_imports(db, conn, home, real_data):
    received = fetch.upload_bytes("demo.csv", (real_data / DEMO).read_bytes(),
                                  station="north", author="ana")
    assert [r.describe() for r in received] == [
        "demo.csv: stored and queued for import (file 1)"]
    row = conn.execute("SELECT f.*, a.author, a.source AS arrival_source FROM files f "
                       "JOIN arrivals a USING (arrival_id)").fetchone()
    assert (row["status"], row["station_name"], row["author"]) == ("pending", "north", "ana")
    stored = home / "raw" / row["stored_path"]
    assert row["stored_path"] == rawstore.relative_path(row["sha256"])
    assert stored.read_bytes() == (real_data / DEMO).read_bytes()
    assert stat.S_IMODE(stored.stat().st_mode) == 0o444
    again = fetch.upload_bytes("copy.csv", (real_data / DEMO).read_bytes())
    assert again[0].describe() == "copy.csv: already received (file 1, pending)"
    report = worker.run_workers(2)
    assert [o.describe() for o in report.outcomes] == [
        "demo.csv: imported 5,640 readings into station 'north'"]
    assert count(conn, "readings") == 5640
    assert count(conn, "arrivals") == 2 and count(conn, "files") == 1
    row = conn.execute("SELECT status, imported_by FROM files").fetchone()
    assert row["status"] == "imported" and row["imported_by"]
    assert worker.run_workers(1).outcomes == []  # nothing left


def test_workers_read_generic_csv_with_given_and_standing_mappings(db, conn, home, real_data):
    mapping = REPO / "tests/data/demo_data.mapping.toml"
    run = stationlab("import", "--parallel", 2, "--mapping", mapping,
                     real_data / "generic_csv/demo_data2.csv")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "demo_data2.csv: imported 5,452 readings into station 'brightwind demo mast'" in \
        run.stdout.splitlines()
    # A fetched or uploaded CSV has no --mapping: the standing folder serves the workers.
    fetch.upload_bytes("demo_data3.csv",
                       (real_data / "generic_csv/demo_data3.csv").read_bytes())
    assert [o.status for o in worker.run_workers(1).outcomes] == ["failed"]
    (home / "mappings").mkdir()
    (home / "mappings" / "demo.toml").write_bytes(mapping.read_bytes())
    assert stationlab("retry").returncode == 0
    row = conn.execute("SELECT status, error FROM files WHERE name = 'demo_data3.csv'"
                       ).fetchone()
    assert row == {"status": "imported", "error": None}


def test_import_parallel_a_corrupt_file_is_quarantined_the_rest_imported(db, conn, home,
                                                                          real_data, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in (HOURLY, DAILY, BAD):
        (folder / name.rsplit("/", 1)[1]).write_bytes((real_data / name).read_bytes())
    (folder / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    run = stationlab("import", "--parallel", 3, folder)
    assert run.returncode == 1
    lines = set(run.stdout.splitlines())
    assert "broken.zip: failed: not a readable zip archive (File is not a zip file)" in lines
    assert "TestLogger_Hourly_1.dat: imported 15 readings into station 'TestLogger'" in lines
    assert any(line.startswith("TestLogger_Hourly_Bad06.dat: failed: line 3: ")
               for line in lines)
    assert "3 files: 2 imported, 1 failed" in lines
    listed = stationlab("files", "--failed")
    assert listed.returncode == 0, listed.stderr
    failed = listed.stdout.splitlines()
    assert failed[-1] == "2 files"
    # the file's name and the line once each
    assert any(line.startswith("file ") and ": failed: TestLogger_Hourly_Bad06.dat (from cli): "
               "line 3: " in line and line.count("Bad06") == 1 and line.count("line 3") == 1
               for line in failed)
    assert count(conn, "files WHERE status = 'imported'") == 2


def test_retry_imports_a_failed_file_after_a_fix(db, conn, home, real_data):
    conn.execute("""
        CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'disk full (simulated)'; END $$;
        CREATE TRIGGER refuse BEFORE UPDATE OF status ON files FOR EACH ROW
            WHEN (NEW.status = 'imported') EXECUTE FUNCTION refuse();""")
    fetch.upload_bytes("demo.csv", (real_data / DEMO).read_bytes())
    report = worker.run_workers(1)
    assert report.failed == 1 and "disk full (simulated)" in report.outcomes[0].error
    assert count(conn, "readings") == 0
    conn.execute("DROP TRIGGER refuse ON files")
    run = stationlab("retry", 1, 7)
    assert run.returncode == 1  # file 7 does not exist
    assert run.stdout.splitlines() == [
        "file 7: no such file", "1 failed file queued again",
        "demo.csv: imported 5,640 readings into station 'some_site'",
        "1 file: 1 imported, 0 failed"]
    assert count(conn, "readings") == 5640


def test_retry_says_what_to_do_with_a_file_imported_by_path(db, conn, home, real_data,
                                                           tmp_path):
    bad = tmp_path / "TestLogger_Hourly_Bad06.dat"
    bad.write_bytes((real_data / BAD).read_bytes())
    ingest.import_paths([bad])
    run = stationlab("retry", 1)
    assert run.returncode == 1
    assert run.stdout.splitlines()[0] == (
        "file 1: no copy in the raw store (imported by path); import "
        "TestLogger_Hourly_Bad06.dat again with `stationlab import`")


def test_retry_without_ids_names_the_failed_files_it_cannot_retry(db, conn, home, real_data,
                                                                  tmp_path):
    bad = tmp_path / "TestLogger_Hourly_Bad06.dat"
    bad.write_bytes((real_data / BAD).read_bytes())
    ingest.import_paths([bad])
    run = stationlab("retry")
    assert run.returncode == 1
    assert run.stdout.splitlines()[:2] == [
        "file 1: no copy in the raw store (imported by path); import "
        "TestLogger_Hourly_Bad06.dat again with `stationlab import`",
        "0 failed files queued again"]
