"""Generic wide CSV files with a mapping file: the brightwind demo mast and floating lidar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stationlab import ingest, parse
from stationlab.errors import ConfigError, ParseError
from stationlab.parse import generic_csv, parse_bytes

from .conftest import REPO

DATA = REPO / "tests" / "data"
DEMO_MAPPING = DATA / "demo_data.mapping.toml"
LIDAR_MAPPING = DATA / "floating_lidar.mapping.toml"


@pytest.mark.parametrize("name", ["demo_data2.csv", "demo_data3.csv", "demo_data4.csv"])
def test_the_three_stamp_layouts_read_the_same(real_data, name):
    mapping = generic_csv.read_mapping(DEMO_MAPPING)
    parsed = parse.read(real_data / "generic_csv" / name, format="generic_csv", mapping=mapping)
    assert parsed.format == "generic_csv"
    assert parsed.data.height == 188
    assert parsed.interval == timedelta(minutes=10)
    assert parsed.data.row(0)[:4] == (datetime(2016, 1, 9, 15, 30, tzinfo=UTC), 8.37, 7.911,
                                      8.16)
    assert parsed.data["Spd80mNStd"][1] == 0.897
    columns = {c.name: c for c in parsed.columns}
    assert columns["Spd80mNStd"] == parse.Column("Spd80mNStd", "sd", "m/s")
    assert columns["PrcpTot"].statistic == "sum"
    history = {h.channel: h for h in parsed.channel_history}
    assert (history["Spd80mS"].point_name, history["Spd80mS"].height_m,
            history["Spd80mS"].bearing_deg, history["Spd80mS"].measurement_type) == (
        "Spd80mS", 80.0, 180.0, "wind_speed")
    assert history["Dir78mSStd"].point_name == "Dir78mS"


def test_import_gives_each_column_its_point_height_orientation_and_statistic(conn, db,
                                                                             real_data):
    outcomes = ingest.import_paths(
        [real_data / "generic_csv", real_data / "floating_lidar"],
        mappings=[DEMO_MAPPING, LIDAR_MAPPING])
    assert [(o.status, o.readings, o.duplicates) for o in outcomes] == [
        ("imported", 5452, 0), ("imported", 0, 5452), ("imported", 0, 5452),
        ("imported", 6353, 0)]
    assert outcomes[0].station == "brightwind demo mast"
    rows = conn.execute("""
        SELECT lc.column_name, p.name, p.measurement_type, p.height_m, p.orientation_deg,
               c.statistic, lc.source
        FROM logger_configs lc JOIN channels c USING (channel_id)
        JOIN measurement_points p USING (measurement_point_id)
        WHERE lc.column_name IN ('Spd80mNStd', 'Dir38mS', 'BattMin', 'Spd_50m')
        ORDER BY 1""").fetchall()
    assert [tuple(r.values()) for r in rows] == [
        ("BattMin", "BattMin", "voltage", None, None, "min", "mapping_file"),
        ("Dir38mS", "Dir38mS", "wind_direction", 38.0, 180.0, "avg", "mapping_file"),
        ("Spd80mNStd", "Spd80mN", "wind_speed", 80.0, 0.0, "sd", "mapping_file"),
        ("Spd_50m", "Spd_50m", "wind_speed", 50.0, None, "avg", "mapping_file")]


def test_a_csv_without_a_mapping_fails_saying_how_to_give_one(conn, db, home, real_data):
    outcome = ingest.import_file(conn, real_data / "generic_csv/demo_data2.csv")
    assert outcome.status == "failed"
    assert outcome.error == (
        "line 1: a generic CSV file needs a mapping file that says what its "
        "columns hold: pass --mapping FILE, or put it in the standing mappings folder "
        f"{home / 'mappings'} (format: see stationlab.parse.generic_csv)")
    other = ingest.import_paths([real_data / "generic_csv/demo_data2.csv"],
                                mappings=[LIDAR_MAPPING])
    assert other[0].error.endswith(f"the mappings there ({LIDAR_MAPPING}) do not match "
                                   "'demo_data2.csv'")


def test_standing_mappings_serve_every_import_after_those_given(conn, db, home, real_data):
    (home / "mappings").mkdir()
    standing = home / "mappings" / "demo.toml"
    standing.write_text(DEMO_MAPPING.read_text().replace(
        'station = "brightwind demo mast"', 'station = "standing"'))
    outcome = ingest.import_file(conn, real_data / "generic_csv/demo_data2.csv")
    assert (outcome.status, outcome.station) == ("imported", "standing")
    given = ingest.import_paths([real_data / "generic_csv/demo_data3.csv"],
                                mappings=[DEMO_MAPPING])
    assert (given[0].status, given[0].station) == ("imported", "brightwind demo mast")


def test_a_broken_standing_mapping_fails_only_the_csv_files(conn, db, home, real_data):
    (home / "mappings").mkdir()
    (home / "mappings" / "bad.toml").write_text("files = [\n")
    outcomes = ingest.import_paths([real_data / "generic_csv/demo_data2.csv",
                                    real_data / "campbell_toa5/pytoa5/TestLogger_Hourly_1.dat"])
    assert [o.status for o in outcomes] == ["failed", "imported"]
    assert outcomes[0].error.startswith(f"{home / 'mappings' / 'bad.toml'}: cannot read the "
                                        "mapping file")


def test_stamps_at_the_end_of_the_interval_and_an_offset(tmp_path):
    mapping = generic_csv.parse_mapping({
        "timestamp": {"column": "time", "convention": "end", "utc_offset": "+01:00"},
        "columns": {"ws": {"point": "WS 100m", "statistic": "avg", "height_m": 100.0}}})
    data = b"time;ws;note\n2024-01-01 01:10;5.5;a\n2024-01-01 01:20;;b\n"
    parsed = parse_bytes(data, format="generic_csv", source="x.csv", mapping=mapping)
    assert parsed.data["ts"].to_list() == [datetime(2024, 1, 1, 0, 0, tzinfo=UTC),
                                           datetime(2024, 1, 1, 0, 10, tzinfo=UTC)]
    assert parsed.data["ws"].to_list() == [5.5, None]
    assert [c.kind for c in parsed.columns] == ["number", "text"]


@pytest.mark.parametrize(("doc", "message"), [
    ({"timestamp": {"convention": "middle"}}, "timestamp.convention is 'middle'"),
    ({"timestamp": {"utc_offset": "5h"}}, "timestamp.utc_offset '5h' is not like +01:00"),
    ({"columns": {"a": {"statistic": "mean"}}}, "columns.a.statistic 'mean' is not one of"),
    ({"columns": {"a": {"hieght_m": 3}}}, "columns.a: unknown key(s) hieght_m"),
    ({"separator": "|"}, "separator '|' is not one of"),
])
def test_a_wrong_mapping_names_the_key(doc, message):
    with pytest.raises(ConfigError, match="^m.toml: " + message.replace("(", r"\(")
                       .replace(")", r"\)").replace("+", r"\+").replace("|", r"\|")):
        generic_csv.parse_mapping(doc, name="m.toml")


def test_an_unreadable_mapping_file_says_so(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("files = [\n")
    with pytest.raises(ConfigError, match="bad.toml: cannot read the mapping file"):
        generic_csv.read_mapping(path)


def test_a_missing_timestamp_column_is_named(real_data):
    mapping = generic_csv.parse_mapping({"timestamp": {"column": "Time"}}, name="m.toml")
    with pytest.raises(ParseError, match=r"no column 'Time' \(timestamp.column of m.toml\)"):
        parse.read(real_data / "floating_lidar/demo_floating_lidar_data.csv", format="generic_csv",
                                     mapping=mapping)
