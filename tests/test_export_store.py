"""The exports store: files made in advance with a manifest, made again only when data changed."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from stationlab import ingest
from stationlab.errors import StationlabError
from stationlab.export import store
from stationlab.export.store import ExportNotReady, build_exports, list_exports, ready_export

from .test_calibration import install_anemometer
from .test_cli import stationlab

CLOCK = lambda: datetime(2026, 11, 28, 9, 15, tzinfo=UTC)  # noqa: E731


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("STATIONLAB_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def two_stations(db, real_data):
    ingest.import_paths([real_data / "campbell_toa5/pytoa5/TestLogger_Hourly_1.dat",
                         real_data / "campbell_toa5/campbell_scientific_demo_data1.csv"], dsn=db)
    return ["TestLogger", "some_site"]


def test_build_makes_every_file_once_and_records_it(conn, home, two_stations):
    first = build_exports(clock=CLOCK)
    assert [(o.station, o.format, o.status) for o in first] == [
        (s, f, "built") for s in ("TestLogger", "some_site")
        for f in ("windographer", "csv", "zip", "parquet")]
    path = home / "exports" / "TestLogger" / "TestLogger.windographer.txt"
    assert first[0].path == path and path.is_file()
    rows = conn.execute("SELECT e.*, s.name FROM exports e JOIN stations s USING (station_id) "
                        "ORDER BY export_id").fetchall()
    assert len(rows) == 8
    wind = rows[0]
    assert (wind["name"], wind["format"], wind["source"], wind["n_rows"], wind["n_channels"],
            wind["n_readings"], wind["data_version"]) == ("TestLogger", "windographer", "raw", 3,
                                                          5, 15, 1)
    assert bytes(wind["sha256"]) == hashlib.sha256(path.read_bytes()).digest()
    assert wind["size_bytes"] == path.stat().st_size
    assert wind["options"] == {"excluded_flags": [], "missing": "",
                               "timestamp_format": "%Y-%m-%d %H:%M", "separator": "tab",
                               "flag_status": False}
    assert wind["created_at"] == CLOCK()
    assert (wind["period_start"], wind["period_end"]) == (None, None)
    assert wind["ts_first"] == datetime(2021, 6, 18, 20, tzinfo=UTC)
    assert rows[3]["options"] == {}  # parquet takes no text options

    second = build_exports(clock=lambda: CLOCK() + timedelta(hours=1))
    assert {o.status for o in second} == {"up to date"}
    assert conn.execute("SELECT count(*) AS n FROM exports").fetchone()["n"] == 8
    assert ready_export("TestLogger", "windographer") == path


def test_an_import_makes_only_that_station_stale_and_rebuilt(conn, db, home, two_stations,
                                                            real_data):
    build_exports(clock=CLOCK)
    ingest.import_paths([real_data / "campbell_toa5/pytoa5/TestLogger_Daily_1.dat"], dsn=db)
    listed = {(r["station"], r["format"]): r for r in list_exports()}
    assert listed[("TestLogger", "csv")]["stale"] and not listed[("some_site", "csv")]["stale"]
    assert ready_export("TestLogger", "csv").is_file()  # the old file is served meanwhile

    again = build_exports(clock=CLOCK)
    assert [(o.station, o.status) for o in again if o.status == "built"] == [
        ("TestLogger", "built")] * 4
    assert {o.status for o in again if o.station == "some_site"} == {"up to date"}
    latest = conn.execute("SELECT n_rows, e.data_version FROM exports e JOIN stations s "
                          "USING (station_id) WHERE s.name = 'TestLogger' AND format = 'csv' "
                          "ORDER BY export_id DESC LIMIT 1").fetchone()
    assert latest == {"n_rows": 5, "data_version": 2}
    # The same file again, or one that adds nothing, does not make data stale.
    ingest.import_paths([real_data / "campbell_toa5/pytoa5/TestLogger_Daily_1.dat"], dsn=db)
    assert {o.status for o in build_exports(["TestLogger"], ["csv"])} == {"up to date"}


def test_a_file_gone_from_the_store_is_made_again(home, two_stations):
    build_exports(["some_site"], ["csv"], clock=CLOCK)
    ready_export("some_site", "csv").unlink()
    with pytest.raises(ExportNotReady, match=r"the csv export of station 'some_site' is missing "
                       r"from the exports store \(.*\); run `stationlab exports build "
                       r"--station some_site`"):
        ready_export("some_site", "csv")
    assert [o.status for o in build_exports(["some_site"], ["csv"])] == ["built"]


def test_asking_for_what_is_not_there_says_what_to_run(home, two_stations):
    with pytest.raises(ExportNotReady, match="no parquet export of station 'some_site' is ready; "
                       "run `stationlab exports build --station some_site`"):
        ready_export("some_site", "parquet")
    with pytest.raises(StationlabError, match="unknown export format 'pdf'"):
        build_exports(formats=["pdf"])
    with pytest.raises(StationlabError, match="no station called 'north'; stations: TestLogger, "
                       "some_site"):
        build_exports(["north"])


def test_station_names_make_safe_folders(home):
    assert store.store_path("TestLogger", 1, "zip") == home / "exports/TestLogger/TestLogger.zip"
    assert store.store_path("../a b/c", 7, "csv") == home / "exports/a_b_c-7/a_b_c.csv"


def test_exports_build_list_and_path_commands(home, two_stations):
    run = stationlab("exports", "build", "--station", "TestLogger", "--format", "csv")
    assert run.returncode == 0, run.stderr
    path = home / "exports" / "TestLogger" / "TestLogger.csv"
    assert run.stdout.splitlines() == [
        f"TestLogger csv: built 3 rows (data version 1) -> {path}",
        f"1 built, 0 up to date, in {home / 'exports'}"]
    again = stationlab("exports", "build", "--station", "TestLogger", "--format", "csv")
    assert again.stdout.splitlines()[0] == f"TestLogger csv: up to date ({path})"
    listed = stationlab("exports", "list")
    assert listed.stdout.startswith("TestLogger\tcsv\traw\t3 rows\tdata version 1 (current)\t")
    assert listed.stdout.strip().endswith(str(path))
    assert stationlab("exports", "path", "--station", "TestLogger", "--format", "csv"
                      ).stdout.strip() == str(path)
    missing = stationlab("exports", "path", "--station", "some_site", "--format", "zip")
    assert missing.returncode == 1
    assert "no zip export of station 'some_site' is ready" in missing.stderr


def _csv_rows(path) -> list[list[str]]:
    return [line.split(",") for line in path.read_text().splitlines()[1:]]


def test_clean_files_are_made_again_when_flags_or_calibrations_change(conn, home, two_stations):
    from stationlab import flags

    first = build_exports(formats=["csv"], sources=["raw", "clean"], clock=CLOCK)
    assert [(o.station, o.source, o.status) for o in first] == [
        ("TestLogger", "raw", "built"), ("TestLogger", "clean", "built"),
        ("some_site", "raw", "built"), ("some_site", "clean", "built")]
    clean = ready_export("TestLogger", "csv", source="clean")
    assert clean == home / "exports/TestLogger/TestLogger.clean.csv"
    assert _csv_rows(clean) == _csv_rows(ready_export("TestLogger", "csv"))  # no flags yet
    row = conn.execute("SELECT source, inputs_digest, options FROM exports WHERE path = %s",
                       (str(clean),)).fetchone()
    assert row["source"] == "clean" and len(row["inputs_digest"]) == 32
    assert {o.status for o in build_exports(formats=["csv"], sources=["raw", "clean"])} == {
        "up to date"}

    flag = flags.add_flag(conn, "TestLogger", datetime(2021, 6, 18, 21, tzinfo=UTC),
                          datetime(2021, 6, 18, 22, tzinfo=UTC), "bad", reason="broken")
    listed = {(r["station"], r["source"]): r["stale"] for r in list_exports()}
    assert listed == {("TestLogger", "raw"): False, ("TestLogger", "clean"): True,
                      ("some_site", "raw"): False, ("some_site", "clean"): False}
    again = build_exports(formats=["csv"], sources=["raw", "clean"], clock=CLOCK)
    assert [(o.station, o.source) for o in again if o.status == "built"] == [
        ("TestLogger", "clean")]
    rows = {r[0]: r[1:] for r in _csv_rows(clean)}
    assert set(rows["2021-06-18T21:00:00Z"]) == {""}  # a bad hour: every value blank
    assert "" not in rows["2021-06-18T20:00:00Z"]

    flags.remove_flag(conn, flag)  # back to what it was: made again, as before
    assert [o.source for o in build_exports(formats=["csv"], sources=["clean"])
            if o.status == "built"] == ["clean"]
    assert _csv_rows(clean) == _csv_rows(ready_export("TestLogger", "csv"))

    # A certificate for some_site's 80 m anemometer: its clean file only is made again.
    install_anemometer(conn, "Spd80mN", (0.04577, 0.2528, "-infinity", "infinity"))
    rebuilt = build_exports(formats=["csv"], sources=["raw", "clean"], clock=CLOCK)
    assert [(o.station, o.source) for o in rebuilt if o.status == "built"] == [
        ("some_site", "clean")]
    raw, calibrated = (_csv_rows(ready_export("some_site", "csv", source=s))
                       for s in ("raw", "clean"))
    assert raw[0][1] == "8.37"  # Speed 80m 0deg Mean, first row
    assert float(calibrated[0][1]) == pytest.approx(8.3368520, abs=1e-6)  # as test_calibration


def test_a_stale_clean_file_is_served_with_a_warning_and_named_in_messages(
        conn, home, two_stations, caplog):
    from stationlab import flags

    with pytest.raises(ExportNotReady, match="no csv export of clean data of station "
                       "'some_site' is ready; run `stationlab exports build --station some_site "
                       "--source clean`"):
        ready_export("some_site", "csv", source="clean")
    build_exports(["some_site"], ["csv"], sources=["clean"], clock=CLOCK)
    flags.add_flag(conn, "some_site", datetime(2016, 1, 9, tzinfo=UTC),
                   datetime(2016, 1, 10, tzinfo=UTC), "icing")
    assert ready_export("some_site", "csv", source="clean").is_file()
    assert "predates its latest data" in caplog.text
    with pytest.raises(StationlabError, match="unknown export source 'cleaned'"):
        build_exports(sources=["cleaned"])


def test_exports_commands_take_the_source(home, two_stations):
    run = stationlab("exports", "build", "--station", "some_site", "--format", "windographer",
                     "--source", "clean")
    assert run.returncode == 0, run.stderr
    path = home / "exports" / "some_site" / "some_site.clean.windographer.txt"
    assert run.stdout.splitlines()[0].startswith("some_site windographer clean: built ")
    assert stationlab("exports", "path", "--station", "some_site", "--source", "clean"
                      ).stdout.strip() == str(path)
    assert "Excluded flags: bad, icing, maintenance, missing, tower_shadow" in \
        path.read_text().splitlines()
    assert "\tclean\t" in stationlab("exports", "list").stdout
