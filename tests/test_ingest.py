"""Importing real logger files into a real PostgreSQL."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest

from stationlab import ingest

DEMO = "campbell_toa5/campbell_scientific_demo_data1.csv"
HOURLY = "campbell_toa5/pytoa5/TestLogger_Hourly_1.dat"
DAILY = "campbell_toa5/pytoa5/TestLogger_Daily_1.dat"


def count(conn, sql, params=None):
    return conn.execute(f"SELECT count(*) AS n FROM {sql}", params).fetchone()["n"]


def demo_lines(real_data) -> list[bytes]:
    return (real_data / DEMO).read_bytes().splitlines(keepends=True)


def test_import_demo_file(conn, db, real_data):
    outcome = ingest.import_paths([real_data / DEMO], dsn=db)[0]
    assert outcome.status == "imported"
    assert outcome.station == "some_site"
    assert outcome.readings == 188 * 30
    assert outcome.describe().endswith("imported 5,640 readings into station 'some_site'")
    assert count(conn, "readings") == 5640
    assert count(conn, "channels") == 30
    assert count(conn, "measurement_points") == 15
    row = conn.execute("SELECT * FROM files").fetchone()
    assert row["status"] == "imported" and row["format"] == "toa5"
    assert row["n_rows"] == 188 and row["n_inserted"] == 5640 and row["n_duplicates"] == 0
    assert row["ts_first"] == datetime(2016, 1, 9, 15, 20, tzinfo=UTC)
    assert row["ts_last"] == datetime(2016, 1, 10, 23, 40, tzinfo=UTC)
    assert row["header"]["text_columns"] == {"Site": ["demo_mast"]}
    assert row["header"]["interval_s"] == 600
    assert row["header"]["logger_serial"] == "E7000"
    point = conn.execute(
        "SELECT p.measurement_type, p.height_m, p.orientation_deg, c.statistic, c.unit "
        "FROM logger_configs lc JOIN channels c USING (channel_id) "
        "JOIN measurement_points p USING (measurement_point_id) "
        "WHERE lc.column_name = 'Spd80mNStd'").fetchone()
    assert point == {"measurement_type": "wind_speed", "height_m": 80.0, "orientation_deg": 0.0,
                     "statistic": "sd", "unit": "Metres/Second"}
    # Stamps: the row written at 15:30 (end of interval) is stored at 15:20 UTC (start).
    value = conn.execute(
        "SELECT r.value FROM readings r JOIN logger_configs lc USING (channel_id) "
        "WHERE lc.column_name = 'Spd80mN' AND r.ts = '2016-01-09 15:20+00'").fetchone()
    assert value["value"] == 8.37


def test_same_bytes_twice_is_a_no_op(conn, db, real_data):
    ingest.import_paths([real_data / DEMO], dsn=db)
    again = ingest.import_paths([real_data / DEMO], dsn=db)[0]
    assert again.status == "already imported"
    assert again.describe().endswith(": already imported")
    assert count(conn, "readings") == 5640
    assert count(conn, "files") == 1


def test_overlapping_files_import_cleanly_and_differences_are_reported(conn, db, real_data,
                                                                         tmp_path):
    lines = demo_lines(real_data)
    header, rows = lines[:4], [r for r in lines[4:] if r.strip()]
    first = tmp_path / "first.csv"
    first.write_bytes(b"".join(header + rows[:100]))
    second = tmp_path / "second.csv"
    changed = rows[60].replace(b",8.", b",9.", 1)  # one value differs from the first file
    assert changed != rows[60]
    second.write_bytes(b"".join(header + rows[50:60] + [changed] + rows[61:]))
    a, b = ingest.import_paths([first, second], dsn=db)
    assert (a.status, a.readings) == ("imported", 3000)
    assert b.status == "imported"
    assert b.readings == (188 - 100) * 30
    assert b.duplicates == 50 * 30 - 1
    assert b.conflicts == 1
    assert "1 differ from stored values" in b.describe()
    assert count(conn, "readings") == 5640
    conflict = conn.execute("SELECT * FROM reading_conflicts").fetchone()
    stored = conn.execute("SELECT value FROM readings WHERE channel_id = %s AND ts = %s",
                          (conflict["channel_id"], conflict["ts"])).fetchone()["value"]
    assert stored == conflict["stored_value"]  # the stored value is kept
    assert conflict["file_value"] - conflict["stored_value"] == pytest.approx(1.0)


BAD = {  # file -> (line, fragment of the message)
    "TestLogger_Hourly_Bad01.dat": 1,
    "TestLogger_Hourly_Bad04.dat": 1,
    "TestLogger_Hourly_Bad06.dat": 3,
    "TestLogger_Hourly_Bad12.dat": 2,
}


def test_bad_files_fail_with_their_line_and_the_others_import(conn, db, real_data, tmp_path):
    folder = tmp_path / "incoming"
    (folder / "sub").mkdir(parents=True)
    for name in BAD:
        shutil.copy(real_data / "campbell_toa5/pytoa5" / name, folder / name)
    shutil.copy(real_data / HOURLY, folder / "sub")
    outcomes = ingest.import_paths([folder], dsn=db)
    by_name = {o.path.rsplit("/", 1)[1]: o for o in outcomes}
    assert by_name["TestLogger_Hourly_1.dat"].status == "imported"
    for name, line in BAD.items():
        outcome = by_name[name]
        assert outcome.failed
        assert outcome.error.startswith(f"line {line}")
        assert name not in outcome.error  # the outcome names the file once
        assert outcome.describe().startswith(f"{folder / name}: failed: line {line}")
    failed = conn.execute("SELECT name, error_line FROM files WHERE status = 'failed' "
                          "ORDER BY name").fetchall()
    assert failed == [{"name": n, "error_line": line} for n, line in sorted(BAD.items())]
    assert count(conn, "readings") == 3 * 5


def test_text_in_a_numeric_column_stores_nothing_of_the_file(conn, db, real_data, tmp_path):
    lines = demo_lines(real_data)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"".join(lines[:10] + [lines[10].replace(b",8.", b",eight", 1)]
                             + lines[11:]))
    outcome = ingest.import_paths([bad], dsn=db)[0]
    assert outcome.failed
    assert outcome.error.startswith("line 11, column ")
    assert count(conn, "readings") == 0
    row = conn.execute("SELECT status, error_line, error_column FROM files").fetchone()
    assert row["status"] == "failed" and row["error_line"] == 11
    assert row["error_column"] is not None


def test_a_failure_while_storing_rolls_back_the_readings(conn, db, real_data):
    conn.execute("""
        CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'disk full (simulated)'; END $$;
        CREATE TRIGGER refuse BEFORE UPDATE OF status ON files FOR EACH ROW
            WHEN (NEW.status = 'imported') EXECUTE FUNCTION refuse();""")
    outcome = ingest.import_paths([real_data / DEMO], dsn=db)[0]
    assert outcome.failed and "disk full (simulated)" in outcome.error
    assert count(conn, "readings") == 0
    assert conn.execute("SELECT status FROM files").fetchone()["status"] == "failed"
    conn.execute("DROP TRIGGER refuse ON files")
    retried = ingest.import_paths([real_data / DEMO], dsn=db)[0]  # the same bytes, after a fix
    assert retried.status == "imported" and retried.readings == 5640


def test_a_file_for_the_wrong_station_is_refused(conn, db, real_data):
    assert ingest.import_paths([real_data / HOURLY], dsn=db)[0].station == "TestLogger"
    wrong = ingest.import_paths([real_data / DAILY], station="north_mast", dsn=db)[0]
    assert wrong.failed
    assert wrong.error == (
        "TestLogger_Daily_1.dat: written by logger CR1000X serial 12342, which belongs to "
        "station 'TestLogger', not 'north_mast'; import it with --station 'TestLogger', or move "
        "the logger in the station metadata first")
    assert count(conn, "stations") == 1
    right = ingest.import_paths([real_data / DAILY], station="TestLogger", dsn=db)[0]
    assert right.status == "imported"


def test_tables_of_one_logger_keep_separate_channels(conn, db, real_data):
    ingest.import_paths([real_data / DAILY, real_data / HOURLY], dsn=db)
    points = [r["name"] for r in conn.execute(
        "SELECT name FROM measurement_points ORDER BY name")]
    assert points == ["AirT_C(42)", "BattV", "BattV (Hourly)", "PTemp", "PTemp_C",
                      "PTemp_C (Hourly)", "RelHumid(3)"]
    # Daily's TMn/TMx columns are stored as timestamps (seconds since 1970).
    tmn = conn.execute(
        "SELECT r.ts, r.value FROM readings r JOIN logger_configs lc USING (channel_id) "
        "WHERE lc.column_name = 'BattV_TMn' ORDER BY r.ts").fetchall()
    assert tmn[0]["ts"] == datetime(2021, 6, 18, tzinfo=UTC)
    assert tmn[0]["value"] == datetime(2021, 6, 18, 16, 8, 30, tzinfo=UTC).timestamp()


def _curated_logger(conn, *, valid_to="infinity"):
    """Metadata someone entered: station 'demo', its logger, and one configured column."""
    conn.execute("INSERT INTO stations (name) VALUES ('demo')")
    conn.execute("INSERT INTO loggers (station_id, name, model, serial_number) "
                 "VALUES (1, 'demo_mast', 'CR1000', 'E7000')")
    conn.execute("INSERT INTO measurement_points (station_id, name, measurement_type, height_m) "
                 "VALUES (1, 'anemometer 80 m north', 'wind_speed', 80)")
    conn.execute("INSERT INTO channels (station_id, measurement_point_id, statistic) "
                 "VALUES (1, 1, 'avg')")
    conn.execute("INSERT INTO logger_configs (logger_id, column_name, channel_id, valid_to, "
                 "source) VALUES (1, 'Spd80mN', 1, %s, 'manual')", (valid_to,))


def test_columns_no_metadata_explains_are_unassigned_not_dropped(conn, db, real_data):
    _curated_logger(conn)
    outcome = ingest.import_paths([real_data / DEMO], station="demo", dsn=db)[0]
    assert outcome.readings == 5640
    assert len(outcome.unassigned) == 29 and "Spd80mS" in outcome.unassigned
    assert "unassigned columns: LoggerID, Spd80mS, Spd60mN" in outcome.describe()
    assert count(conn, "readings WHERE channel_id = 1") == 188
    assert count(conn, "channels WHERE measurement_point_id IS NULL") == 29


def test_readings_outside_a_configuration_period_go_to_an_unassigned_channel(conn, db,
                                                                              real_data):
    _curated_logger(conn, valid_to="2016-01-10 00:00+00")
    outcome = ingest.import_paths([real_data / DEMO], station="demo", dsn=db)[0]
    assert "Spd80mN" in outcome.unassigned
    rows = conn.execute(
        "SELECT c.measurement_point_id IS NULL AS unassigned, count(*) AS n, min(r.ts), max(r.ts) "
        "FROM readings r JOIN channels c USING (channel_id) "
        "WHERE c.channel_id = 1 OR c.column_name = 'Spd80mN' GROUP BY 1 ORDER BY 1").fetchall()
    # 44 rows stamped 09/01 plus the one stamped 10/01 00:00 (its interval starts 09/01 23:50).
    assert [(r["unassigned"], r["n"]) for r in rows] == [(False, 45), (True, 143)]
    assert rows[0]["max"] < datetime(2016, 1, 10, tzinfo=UTC) <= rows[1]["min"]


def test_a_logger_clock_offset_shifts_naive_stamps(conn, db, real_data):
    conn.execute("INSERT INTO stations (name) VALUES ('TestLogger')")
    conn.execute("INSERT INTO loggers (station_id, name, model, serial_number, utc_offset) "
                 "VALUES (1, 'Hourly', 'CR1000X', '12342', '-05:00')")
    ingest.import_paths([real_data / HOURLY], dsn=db)
    first = conn.execute("SELECT min(ts) AS ts FROM readings").fetchone()["ts"]
    # 2021-06-18 21:00 local (UTC-5) ends the hour that starts at 20:00 local = 01:00 UTC.
    assert first == datetime(2021, 6, 19, 1, 0, tzinfo=UTC)


def test_a_missing_path_is_an_error(db, tmp_path):
    from stationlab.errors import StationlabError

    with pytest.raises(StationlabError, match="nope.dat: no such file or folder"):
        ingest.import_paths([tmp_path / "nope.dat"], dsn=db)
