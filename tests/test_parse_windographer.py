"""Windographer time-series export parser, on brightwind's two real exports and on small exports
written here."""

from __future__ import annotations

import functools
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from stationlab import parse
from stationlab.errors import ParseError
from stationlab.parse import Column, parse_bytes, sniff
from stationlab.parse.windographer import describe

parse_windographer = functools.partial(parse_bytes, format="windographer")

DATA = Path(__file__).resolve().parent / "data" / "real"
WINDOGRAPHER = DATA / "windographer"

TS = pl.Datetime("us", "UTC")

DEMO_HEADER = {
    "created": "10-05-2019 14:36", "software": "Windographer 4.1.14", "latitude": "0.000000",
    "longitude": "0.000000", "elevation": "0 m", "calm_threshold": "0 m/s",
    "included_flags": "<Unflagged data>", "excluded_flags": "Low quality",
    "time_stamps": "beginning",
}

DEMO_COLUMNS = (
    *[Column(f"Spd{h}m{d}") for h in (80, 60, 40) for d in "NS"],
    *[Column(f"Spd{h}m{d}Std", "sd", processing="Std") for h in (80, 60, 40) for d in "NS"],
    *[Column(f"Spd{h}m{d}Max", "max", processing="Max") for h in (80, 60, 40) for d in "NS"],
    Column("Dir78mS"), Column("Dir78mSStd", "sd", processing="Std"),
    Column("Dir58mS"), Column("Dir58mSStd", "sd", processing="Std"),
    Column("Dir38mS"), Column("Dir38mSStd", "sd", processing="Std"),
    Column("T2m"), Column("RH2m"), Column("P2m"), Column("PrcpTot", "sum", processing="Tot"),
    Column("BattMin", "min", processing="Min"),
)

FIRST_ROW = (8.37, 7.911, 8.16, 7.849, 7.857, 7.626, 1.24, 1.075, 1.06, 0.947, 0.8, 0.767,
             11.37, 10.65, 11.16, 10.47, 10.35, 9.89, 114.2, 6.1, 110.1, 6.009, 112.2, 5.724,
             0.711, 100.0, 935.0, 0.0, 12.94)
LAST_ROW = (10.59, 10.41, 9.65, 9.54, 9.03, 8.9, 1.552, 1.458, 1.494, 1.302, 1.381, 1.281,
            14.46, 14.26, 13.85, 13.39, 12.41, 12.33, 208.5, 8.05, 202.7, 8.32, 200.2, 8.57,
            1.419, 99.1, 928.0, 0.0, 12.44)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("name", ["windographer_demo_data1.txt", "windographer_demo_data2.txt"])
def test_demo_exports_read_exactly(name):
    # 12 preamble lines, the Date/Time header on line 13, 188 rows; file 1 writes stamps as
    # "09/01/2016 15:30:00+00:00", file 2 as "09/01/2016 15:30:00" (day-first, 9 January).
    parsed = parse.read(WINDOGRAPHER / name, format="windographer")
    assert parsed.format == "windographer"
    assert parsed.source == name
    assert parsed.header == DEMO_HEADER
    assert parsed.columns == DEMO_COLUMNS
    assert parsed.interval == timedelta(minutes=10)
    assert parsed.first_data_line == 14
    assert parsed.notes == ()
    assert parsed.data.height == 188
    assert parsed.data.columns == ["ts", *(c.name for c in DEMO_COLUMNS)]
    assert parsed.data.row(0) == (utc(2016, 1, 9, 15, 30), *FIRST_ROW)
    assert parsed.data.row(-1) == (utc(2016, 1, 10, 23, 50), *LAST_ROW)
    # Sums computed with awk over the file's columns 2 and 26.
    assert parsed.data["Spd80mN"].sum() == pytest.approx(1798.178)
    assert parsed.data["T2m"].sum() == pytest.approx(123.043)
    assert parsed.n_readings == 188 * 29


def test_both_demo_exports_hold_the_same_data():
    one = parse.read(WINDOGRAPHER / "windographer_demo_data1.txt", format="windographer")
    two = parse.read(WINDOGRAPHER / "windographer_demo_data2.txt", format="windographer")
    assert_frame_equal(one.data, two.data)


EXPORT = (
    "Created 2024-03-01 09:15 by Windographer 4.2.8\r\n"
    "\r\n"
    "Latitude = S 33.456789\r\n"
    "Longitude = W 70.654321\r\n"
    "Elevation = 512 m\r\n"
    "Calm threshold = 0.5 m/s\r\n"
    "\r\n"
    "Included flags: <Unflagged data>\r\n"
    "Excluded flags: Icing, Tower shadow\r\n"
    "\r\n"
    "Time stamps indicate the end of the time step.\r\n"
    "\r\n"
    "Date/Time\tSpeed 80m 0deg Mean [m/s]\tSpeed 80m 0deg SD [m/s]\tGust 80m Max [m/s]"
    "\tDirection 78m [deg]\tTemperature 2m [°C]\r\n"
    "2024-03-01 00:10\t8.5\t1.25\t12\t\t-9999\r\n"
    "2024-03-01 00:20\t-9999\t\t11.5\t181\t15.5\r\n"
    "2024-03-01 00:30\t7.75\t0.5\t-9999.0\t190.5\t\r\n"
)


def test_export_with_blanks_units_and_iso_stamps():
    parsed = parse_windographer(EXPORT.encode("utf-8"), source="site.txt")
    assert parsed.header == {
        "created": "2024-03-01 09:15", "software": "Windographer 4.2.8",
        "latitude": "-33.456789", "longitude": "-70.654321", "elevation": "512 m",
        "calm_threshold": "0.5 m/s", "included_flags": "<Unflagged data>",
        "excluded_flags": "Icing, Tower shadow", "time_stamps": "end",
    }
    assert parsed.columns == (
        Column("Speed 80m 0deg Mean [m/s]", "avg", "m/s", "number", "Mean"),
        Column("Speed 80m 0deg SD [m/s]", "sd", "m/s", "number", "SD"),
        Column("Gust 80m Max [m/s]", "max", "m/s", "number", "Max"),
        Column("Direction 78m [deg]", None, "deg", "number", None),
        Column("Temperature 2m [°C]", None, "°C", "number", None),
    )
    assert parsed.interval == timedelta(minutes=10)
    assert parsed.first_data_line == 14
    # The preamble says stamps mark the end of the step: shifted back to its start.
    expected = pl.DataFrame({
        "ts": [utc(2024, 3, 1, 0, 0), utc(2024, 3, 1, 0, 10), utc(2024, 3, 1, 0, 20)],
        "Speed 80m 0deg Mean [m/s]": [8.5, None, 7.75],
        "Speed 80m 0deg SD [m/s]": [1.25, None, 0.5],
        "Gust 80m Max [m/s]": [12.0, 11.5, None],
        "Direction 78m [deg]": [None, 181.0, 190.5],
        "Temperature 2m [°C]": [None, 15.5, None],
    }, schema={"ts": TS, **{c.name: pl.Float64 for c in parsed.columns}})
    assert_frame_equal(parsed.data, expected)
    assert parsed.n_readings == 9


def test_beginning_stamps_are_not_shifted_and_naive_stamps_use_utc_offset():
    data = EXPORT.replace("the end of", "the beginning of").encode()
    parsed = parse_windographer(data, utc_offset=timedelta(hours=-3))
    assert parsed.header["time_stamps"] == "beginning"
    assert parsed.data["ts"].to_list() == [utc(2024, 3, 1, 3, 10), utc(2024, 3, 1, 3, 20),
                                           utc(2024, 3, 1, 3, 30)]


def test_header_line_is_found_not_counted():
    data = "Date/Time\tWS Mean [m/s]\n01/02/2024 10:00\t5\n01/02/2024 10:10\t6\n"
    parsed = parse_windographer(data.encode())
    assert parsed.header == {"time_stamps": "beginning"}
    assert parsed.first_data_line == 2
    assert parsed.data["ts"].to_list() == [utc(2024, 2, 1, 10), utc(2024, 2, 1, 10, 10)]
    extra = "Created 2024 by Windographer 4\nProject: Mast 7\nsome remark\n" + data
    parsed = parse_windographer(extra.encode())
    assert parsed.first_data_line == 5
    assert parsed.header["project"] == "Mast 7"
    assert parsed.notes == ("some remark",)


def test_end_stamps_in_a_single_row_need_the_interval():
    data = (b"Time stamps indicate the end of the time step.\n"
            b"Date/Time\tWS [m/s]\n2024-01-01 00:10\t5\n")
    with pytest.raises(ParseError) as info:
        parse_windographer(data, source="one.txt")
    assert str(info.value) == ("one.txt, line 3: stamps mark the end of the time step but one "
                               "row cannot tell the step; pass interval=")
    parsed = parse_windographer(data, interval=timedelta(minutes=10))
    assert parsed.data["ts"].to_list() == [utc(2024, 1, 1)]


def test_missing_header_line():
    with pytest.raises(ParseError, match=r"^x\.txt: no line starts with 'Date/Time'"):
        parse_windographer(b"Created 2024 by Windographer 4\nLatitude = N 1\n", source="x.txt")


@pytest.mark.parametrize(("rows", "line", "message"), [
    ("2024-01-01 00:00\t5\t6\n2024-01-01 00:10\t5\n", 4,
     "expected 3 fields as in the header, found 2 (the last row looks truncated)"),
    ("2024-01-01 00:00\t5\t6\t7\n", 3, "expected 3 fields as in the header, found 4"),
    ("2024-01-01 00:00\t5\t6\n2024-01-01 00:10\tcalm\t6\n", 4,
     "text 'calm' in numeric column A [m/s]"),
    ("2024-01-01 00:10\t5\t6\n2024-01-01 00:00\t5\t6\n", 4,
     "timestamp 2024-01-01 00:00 is not after the previous one (2024-01-01 00:10) on line 3; "
     "rows must be in time order without duplicates"),
    ("2024-01-01 00:00\t5\t6\n\n2024-01-01 00:10\t5\t6\n", 4,
     "blank line inside the data; remove it"),
])
def test_bad_rows_name_the_line(rows, line, message):
    data = ("Created 2024 by Windographer 4\nDate/Time\tA [m/s]\tB\n" + rows).encode()
    with pytest.raises(ParseError) as info:
        parse_windographer(data, source="bad.txt")
    assert (info.value.line, info.value.message) == (line, message)
    assert str(info.value).startswith(f"bad.txt, line {line}")


def test_duplicate_column_names():
    with pytest.raises(ParseError) as info:
        parse_windographer(b"Date/Time\tA\tA\n2024-01-01 00:00\t1\t2\n")
    assert (info.value.line, info.value.column) == (1, "A")
    assert info.value.message == "column name 'A' appears twice (fields 2 and 3)"


@pytest.mark.parametrize(("name", "statistic", "unit", "processing"), [
    ("Speed 80m 0deg Mean [m/s]", "avg", "m/s", "Mean"),
    ("Speed 80m Avg [m/s]", "avg", "m/s", "Avg"),
    ("Speed 80m Average", "avg", None, "Average"),
    ("Speed 80m StDev [m/s]", "sd", "m/s", "StDev"),
    ("Speed 80m Std [m/s]", "sd", "m/s", "Std"),
    ("Speed 80m Min [m/s]", "min", "m/s", "Min"),
    ("Speed 80m Gust [m/s]", "gust", "m/s", "Gust"),
    ("Rain Total [mm]", "sum", "mm", "Total"),
    ("Rain Sum [mm]", "sum", "mm", "Sum"),
    ("Speed 80m Count", "count", None, "Count"),
    ("Spd80mNStd", "sd", None, "Std"),
    ("Spd80mNMax", "max", None, "Max"),
    ("BattMin", "min", None, "Min"),
    ("Spd80mN", None, None, None),
    ("Temperature [°C]", None, "°C", None),
    ("Max", None, None, None),
])
def test_describe_column_names(name, statistic, unit, processing):
    assert describe(name) == Column(name, statistic, unit, "number", processing)


def test_sniff_and_registry():
    assert sniff((WINDOGRAPHER / "windographer_demo_data1.txt").read_bytes()) == "windographer"
    assert sniff(b"Some other preamble\r\nDate/Time\tWS\r\n") == "windographer"
    assert sniff(b"Created 2024 by Windographer 4.2\n") == "windographer"
    parsed = parse.read(WINDOGRAPHER / "windographer_demo_data2.txt")
    assert parsed.format == "windographer"


def test_read_from_bytes_and_file_objects():
    parsed = parse.read(io.BytesIO(EXPORT.encode()), format="windographer", source="upload.txt")
    assert parsed.source == "upload.txt"
    assert parse.read(EXPORT.encode(), format="windographer").source == "<buffer>"


def test_import_maps_brightwind_column_names_to_points(conn, db, real_data):
    from stationlab import ingest

    outcome = ingest.import_file(conn, real_data / "windographer/windographer_demo_data1.txt")
    assert (outcome.status, outcome.readings) == ("imported", 5452)
    rows = conn.execute("""
        SELECT lc.column_name, p.name, p.measurement_type, p.height_m, p.orientation_deg,
               c.statistic
        FROM logger_configs lc JOIN channels c USING (channel_id)
        JOIN measurement_points p USING (measurement_point_id)
        WHERE lc.column_name IN ('Spd80mN', 'Spd80mSStd', 'Spd60mNMax', 'Dir78mS', 'T2m')
        ORDER BY 1""").fetchall()
    assert [tuple(r.values()) for r in rows] == [
        ("Dir78mS", "Dir78mS", "wind_direction", 78.0, 180.0, "avg"),
        ("Spd60mNMax", "Spd60mN", "wind_speed", 60.0, 0.0, "max"),
        ("Spd80mN", "Spd80mN", "wind_speed", 80.0, 0.0, "avg"),
        ("Spd80mSStd", "Spd80mS", "wind_speed", 80.0, 180.0, "sd"),
        ("T2m", "T2m", "air_temperature", 2.0, None, "avg")]
