"""Windographer export: golden output, exact round trip through the Windographer parser."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from stationlab import ingest, parse
from stationlab.errors import StationlabError
from stationlab.export import column_names, export_station

CLOCK = lambda: datetime(2026, 11, 28, 9, 15, tzinfo=UTC)  # noqa: E731

GOLDEN = (
    "Created 28-11-2026 09:15 by stationlab 0.1.0 (Windographer text format)\r\n"
    "\r\n"
    "Latitude = N 0.000000\r\n"
    "Longitude = E 0.000000\r\n"
    "Elevation = 0 m\r\n"
    "Calm threshold = 0 m/s\r\n"
    "Logger = CR1000X serial 12342\r\n"
    "\r\n"
    "Included flags: <Unflagged data>\r\n"
    "Excluded flags: <None>\r\n"
    "\r\n"
    "Time stamps are in UTC.\r\n"
    "Time stamps indicate the beginning of the time step.\r\n"
    "\r\n"
    "Date/Time\tTemperature (AirT_C(42)) Sample [C]\tHumidity (RelHumid(3)) Mean [%]\t"
    "Temperature (PTemp_C) Min [C]\tTemperature (PTemp_C) Max [C]\tVoltage (BattV) Mean [V]\r\n"
    "2021-06-18 20:00\t26.29\t49.31\t28.62\t30.82\t13.23\r\n"
    "2021-06-18 21:00\t25.14\t54.85\t27.14\t28.62\t13.31\r\n"
    "2021-06-18 22:00\t23.64\t63.28\t25.62\t27.14\t13.36\r\n"
)


def test_windographer_export_is_golden(db, real_data, tmp_path):
    ingest.import_paths([real_data / "campbell_toa5/pytoa5/TestLogger_Hourly_1.dat"], dsn=db)
    result = export_station("TestLogger", tmp_path / "out.txt", clock=CLOCK)
    assert (tmp_path / "out.txt").read_bytes().decode() == GOLDEN
    assert (result.rows, result.channels, result.readings) == (3, 5, 15)
    assert result.ts_first == datetime(2021, 6, 18, 20, tzinfo=UTC)
    assert not (tmp_path / "out.txt.partial").exists()
    # the header's 0/0 is a placeholder, and the export says so
    assert result.notes == (
        "the station's position is not known: the header says latitude N 0, longitude E 0 (an "
        "IEA Task 43 document gives it: `stationlab meta import`)",)


def test_an_export_says_when_its_time_step_is_irregular_and_not_when_the_position_is_known(
        conn, db, real_data, tmp_path):
    ingest.import_paths([real_data / f"campbell_toa5/pytoa5/TestLogger_{table}_1.dat"
                         for table in ("Hourly", "Daily")], dsn=db)
    conn.execute("UPDATE stations SET latitude = 44.33889, longitude = -73.11202 "
                 "WHERE name = 'TestLogger'")
    result = export_station("TestLogger", tmp_path / "out.txt", clock=CLOCK)
    assert "Latitude = N 44.338890" in (tmp_path / "out.txt").read_text()
    assert result.notes == (
        "channels of 2 averaging intervals (1 h: 5 channels, 1 day: 4 channels) share the "
        "file, so its time step is irregular; Windographer expects one",)
    from stationlab.cli.export import describe_export

    assert describe_export(result).splitlines()[-1] == "  note: " + result.notes[0]
    parquet = export_station("TestLogger", tmp_path / "out.parquet", format="parquet")
    assert parquet.notes == result.notes  # no header there, the same stamps


def stored_wide(conn, station: str) -> pl.DataFrame:
    rows = conn.execute(
        "SELECT r.channel_id, r.ts, r.value FROM readings r JOIN channels c USING (channel_id) "
        "JOIN stations s USING (station_id) WHERE s.name = %s AND c.kind = 'number'",
        (station,)).fetchall()
    return pl.DataFrame(rows).pivot(on="channel_id", index="ts", values="value").sort("ts")


def test_reading_the_export_back_gives_exactly_the_stored_values(conn, db, real_data,
                                                                   tmp_path):
    ingest.import_paths([real_data / "campbell_toa5/campbell_scientific_demo_data1.csv"],
                        dsn=db)
    export_station("some_site", tmp_path / "demo.txt", clock=CLOCK)
    back = parse.read(tmp_path / "demo.txt", format="windographer")
    stored = stored_wide(conn, "some_site")
    channels = conn.execute(
        "SELECT c.channel_id, c.statistic, c.kind, c.unit, c.column_name, p.name AS point_name, "
        "p.measurement_type, p.height_m, p.orientation_deg FROM channels c "
        "LEFT JOIN measurement_points p USING (measurement_point_id) ORDER BY channel_id"
    ).fetchall()
    names = dict(zip([str(c["channel_id"]) for c in channels],
                     column_names(pl.DataFrame(channels)), strict=True))
    expected = stored.rename(names).with_columns(pl.col("ts").dt.cast_time_unit("us"))
    assert back.data.height == 188
    assert_frame_equal(back.data.select(expected.columns), expected)
    assert back.columns[0].name == "Speed 80m 0deg Mean [m/s]"
    assert back.columns[0].unit == "m/s"
    assert back.columns[0].statistic == "avg"


def test_export_a_period_only(db, real_data, tmp_path):
    ingest.import_paths([real_data / "campbell_toa5/campbell_scientific_demo_data1.csv"],
                        dsn=db)
    result = export_station("some_site", tmp_path / "day.txt", clock=CLOCK,
                            start=datetime(2016, 1, 10, tzinfo=UTC),
                            end=datetime(2016, 1, 10, 12, tzinfo=UTC))
    back = parse.read(tmp_path / "day.txt", format="windographer")
    assert result.rows == back.data.height == 72
    assert back.data["ts"].min() == datetime(2016, 1, 10, tzinfo=UTC)
    assert back.data["ts"].max() == datetime(2016, 1, 10, 11, 50, tzinfo=UTC)


def test_export_of_an_unknown_station_names_the_known_ones(db, real_data, tmp_path):
    ingest.import_paths([real_data / "campbell_toa5/pytoa5/TestLogger_Hourly_1.dat"], dsn=db)
    with pytest.raises(StationlabError, match="no station called 'north'; stations: TestLogger"):
        export_station("north", tmp_path / "x.txt")


def test_column_names_are_unique_and_say_what_they_hold():
    channels = pl.DataFrame({
        "channel_id": [1, 2, 3, 4, 5],
        "statistic": ["avg", "avg", "sd", "min", None],
        "unit": ["Metres/Second", "m/s", "m/s", "Volts", None],
        "column_name": [None, None, None, None, "Mystery"],
        "point_name": ["Spd80mN", "Spd80mN_2", "Spd80mN", "BattV", None],
        "measurement_type": ["wind_speed", "wind_speed", "wind_speed", "voltage", None],
        "height_m": [80.0, 80.0, 80.0, None, None],
        "orientation_deg": [0.0, 0.0, 0.0, None, None],
    })
    assert column_names(channels) == [
        "Speed 80m 0deg (Spd80mN) Mean [m/s]", "Speed 80m 0deg (Spd80mN_2) Mean [m/s]",
        "Speed 80m 0deg SD [m/s]", "Voltage (BattV) Min [V]", "Mystery"]


def test_clean_export_is_calibrated_and_leaves_flagged_readings_blank(conn, mast, tmp_path):
    from .test_calibration import install_anemometer

    install_anemometer(conn, "Spd80mN", (0.04577, 0.2528, "-infinity", "infinity"))
    mast.add_flag("2016-01-10 00:00", "2016-01-10 01:00", "bad", point="Spd80mN")
    export_station("some_site", tmp_path / "clean.txt", clock=CLOCK, clean=True)
    back = parse.read(tmp_path / "clean.txt", format="windographer")
    speed = back.data.select("ts", "Speed 80m 0deg Mean [m/s]")
    first = speed.row(0)
    assert first[0] == datetime(2016, 1, 9, 15, 20, tzinfo=UTC)
    assert first[1] == pytest.approx((8.37 - 0.21) / 0.0462 * 0.04577 + 0.2528, abs=1e-12)
    flagged = speed.filter((pl.col("ts") >= datetime(2016, 1, 10, tzinfo=UTC))
                           & (pl.col("ts") < datetime(2016, 1, 10, 1, tzinfo=UTC)))
    assert flagged.height == 6 and flagged["Speed 80m 0deg Mean [m/s]"].null_count() == 6
    # other channels keep their values in the flagged hour
    assert back.data.filter(pl.col("ts") == datetime(2016, 1, 10, tzinfo=UTC))[
        "Speed 80m 180deg Mean [m/s]"].null_count() == 0
    text = (tmp_path / "clean.txt").read_text()
    assert "Excluded flags: bad, icing, maintenance, missing, tower_shadow" in text
    raw = export_station("some_site", tmp_path / "raw.txt", clock=CLOCK)
    assert raw.readings == 5640
    raw_file = parse.read(tmp_path / "raw.txt", format="windographer")
    assert raw_file.data["Speed 80m 0deg Mean [m/s]"][0] == 8.37


def test_flag_status_letters_cover_half_open_periods_across_windows():
    from stationlab.export import flag_status

    stamps = [datetime(2024, 1, 1, h, tzinfo=UTC) for h in range(4)]
    frame = pl.DataFrame({"ts": stamps, "a": [1.0, 2.0, None, 4.0], "b": [5.0, 6.0, 7.0, 8.0]})
    coverage = pl.DataFrame({
        "channel_id": [1, 1, 2, 3],
        # from before the window to 02:00 (excluded); 01:00 on; one hour of b; another channel
        "ts_from": [datetime(2023, 12, 1, tzinfo=UTC), stamps[1], stamps[3], stamps[0]],
        "ts_to": [stamps[2], datetime(2024, 2, 1, tzinfo=UTC),
                  datetime(2024, 1, 1, 3, 30, tzinfo=UTC), stamps[3]],
        "code": ["icing", "bad", "icing", "icing"]})
    letters = flag_status.letters(coverage["code"])
    assert letters == {"bad": "A", "icing": "B"}
    out = flag_status.add_status(frame, coverage, {1: "a", 2: "b"}, letters)
    assert out.columns == ["ts", "a", "a Flags", "b", "b Flags"]
    assert out["a Flags"].to_list() == ["B", "AB", "A", "A"]  # a missing value still flagged
    assert out["b Flags"].to_list() == ["", "", "", "B"]
    assert out["a"].to_list() == frame["a"].to_list()
    empty = flag_status.add_status(frame.clear(), coverage, {1: "a", 2: "b"}, letters)
    assert empty.columns == out.columns and empty.height == 0


def test_flag_status_has_a_letter_per_code_and_says_when_they_run_out():
    from stationlab.export import flag_status

    assert flag_status.legend({}, {}) == ["Flag status codes: <None>"]
    codes = [f"c{i:02d}" for i in range(53)]
    assert list(flag_status.letters(codes[:52]).values())[-1] == "z"
    with pytest.raises(StationlabError, match="53 flag codes cover this export"):
        flag_status.letters(codes)
