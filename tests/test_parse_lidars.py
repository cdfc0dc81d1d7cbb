"""Windcube, ZX and Triton as the instruments write them: the real Windcube file
(tests/data/real/windcube/) and fixtures that reproduce the real ZX and Triton layouts
(tests/data/, invented values; the real files are public in e-WindLidar/Lidaco, unlicensed).

Every value is checked against the file read independently with the plain ``csv`` module, and
each vendor's first stored stamp (UTC, interval start) is checked in the database.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from stationlab import ingest, parse
from stationlab.errors import ParseError
from stationlab.export import export_station

from .conftest import REAL_DATA, REPO

DATA = REPO / "tests" / "data"
WINDCUBE = REAL_DATA / "windcube" / "lidar.z06.00.20201201.000000.sta"
ZX = DATA / "zx_Wind10_317@Y2016_M12_D13.ZPH.csv"
TRITON = DATA / "TritonExport_2016-09-01-06-00-00_sample.csv"
CLOCK = lambda: datetime(2026, 11, 28, 9, 15, tzinfo=UTC)  # noqa: E731


def by_hand(text: str, *, skip: int, delimiter: str, stamp: str, stamp_format: str,
            missing: tuple[str, ...], decimal_comma: bool = False) -> dict[str, list]:
    """The file's table read with ``csv``: columns by heading, numbers as floats, missing as
    None, stamps as naive datetimes (the file's own clock)."""
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))[skip:]
    names, rows = rows[0], [r for r in rows[1:] if r]
    out: dict[str, list] = {}
    for i, name in enumerate(names):
        if not name:
            assert all(r[i] == "" for r in rows), i  # a spacer column holds nothing
            continue
        values = [r[i] for r in rows]
        if name == stamp:
            out[name] = [datetime.strptime(v, stamp_format) for v in values]
            continue
        try:
            out[name] = [None if v in missing else
                         float(v.replace(",", ".") if decimal_comma else v) for v in values]
        except ValueError:
            out[name] = values  # text (flags, GPS, checksum)
    return out


def assert_same_values(parsed: parse.ParsedFile, expected: dict[str, list]) -> None:
    for column in parsed.columns:
        got = parsed.data[column.name].to_list()
        assert got == expected[column.name], column.name


def first_stored_stamp(conn, station: str) -> datetime:
    return conn.execute(
        "SELECT min(r.ts) AS ts FROM readings r JOIN channels c USING (channel_id) "
        "JOIN stations s USING (station_id) WHERE s.name = %s", (station,)).fetchone()["ts"]


# --- Windcube ----------------------------------------------------------------------------------

def windcube_by_hand(data: bytes) -> dict[str, list]:
    text = data.decode("latin-1")
    skip = next(i for i, line in enumerate(text.split("\n")) if line.startswith("Timestamp"))
    return by_hand(text, skip=skip, delimiter="\t", stamp="Timestamp (end of interval)",
                   stamp_format="%Y/%m/%d %H:%M", missing=("NaN",))


def test_the_real_windcube_file_imports_exactly():
    data = WINDCUBE.read_bytes()
    parsed = parse.read(WINDCUBE)
    expected = windcube_by_hand(data)
    assert parsed.format == "windcube"
    assert len(parsed.columns) == len(expected) - 1 == 6 + 12 * 11
    assert_same_values(parsed, expected)
    assert parsed.n_readings == 18_472 == sum(
        v is not None for name, values in expected.items()
        if name != "Timestamp (end of interval)" for v in values)
    # end of interval, UTC+0: 2020/12/01 00:10 is the interval 00:00 to 00:10 UTC
    stamps = expected["Timestamp (end of interval)"]
    assert parsed.data["ts"].to_list() == [
        (t - timedelta(minutes=10)).replace(tzinfo=UTC) for t in stamps]
    assert parsed.data["ts"][0] == datetime(2020, 12, 1, 0, 0, tzinfo=UTC)
    assert parsed.interval == timedelta(minutes=10)
    # a few values read off the file by eye
    assert parsed.data["40m Wind Speed (m/s)"][:2].to_list() == [11.31, 12.28]
    assert parsed.data["40m Z-wind (m/s)"][0] == -0.42
    assert parsed.data["Ext Temp (°C)"].null_count() == 144


def test_the_real_windcube_header_gives_identity_clock_and_encoding():
    parsed = parse.read(WINDCUBE)
    header = parsed.header
    assert (header["station_name"], header["logger_serial"], header["logger_model"],
            header["logger_os"]) == ("ASIT Validation 130", "WLS866-24", "Windcube WLS866",
                                     "2.1.9")
    assert (header["utc_offset"], header["encoding"]) == ("+00:00", "latin-1")
    assert "site_latitude" not in header  # GPS Location=hidden
    assert parsed.value_notes == (
        "GPS Location 'hidden' is not a position; the station's is not set",)
    columns = {c.name: c for c in parsed.columns}
    assert columns["40m Wind Direction (°)"].unit == "°"
    points = {h.point_name: h for h in parsed.channel_history}
    assert points["240m Z-wind"].measurement_type == "vertical_wind_speed"
    assert points["240m Z-wind"].height_m == 240.0
    assert "240m Data Availability (%)" in points["240m Wind Speed"].columns


def windcube_with(**lines: str) -> bytes:
    text = WINDCUBE.read_bytes().decode("latin-1")
    for old, new in lines.items():
        assert old in text
        text = text.replace(old, new, 1)
    return text.encode("latin-1")


def test_windcube_gps_location_and_time_zone_are_applied():
    data = windcube_with(**{"GPS Location=hidden": "GPS Location=Lat:41.24N, Long:70.10W",
                            "timezone=UTC+0": "timezone=UTC+2"})
    parsed = parse.parse_bytes(data, source="w.sta")
    assert (parsed.header["site_latitude"], parsed.header["site_longitude"]) == ("41.24",
                                                                                 "-70.1")
    assert parsed.header["utc_offset"] == "+02:00"
    assert parsed.data["ts"][0] == datetime(2020, 11, 30, 22, 0, tzinfo=UTC)
    assert parsed.value_notes == ()


def test_windcube_in_utf8_reads_the_same_values():
    latin = parse.read(WINDCUBE)
    utf8 = parse.parse_bytes(WINDCUBE.read_bytes().decode("latin-1").encode("utf-8"),
                             source="w.sta")
    assert utf8.header["encoding"] == "utf-8"
    assert utf8.data.equals(latin.data)


def test_a_windcube_spacer_with_a_value_is_an_error():
    lines = WINDCUBE.read_bytes().decode("latin-1").split("\n")
    fields = lines[44].split("\t")
    fields[18] = "7.5"
    lines[44] = "\t".join(fields)
    with pytest.raises(ParseError, match=r"field 19 has no heading but holds a value \('7.5'\)"
                       ) as info:
        parse.parse_bytes("\n".join(lines).encode("latin-1"), source="w.sta")
    assert info.value.line == 45


def test_windcube_first_stored_stamp_and_station(conn):
    outcome = ingest.import_file(conn, WINDCUBE)
    assert (outcome.status, outcome.readings, outcome.station) == (
        "imported", 18_472, "ASIT Validation 130")
    assert first_stored_stamp(conn, "ASIT Validation 130") == datetime(2020, 12, 1, 0, 0,
                                                                       tzinfo=UTC)
    row = conn.execute("SELECT model, serial_number FROM loggers").fetchone()
    assert row == {"model": "Windcube WLS866", "serial_number": "WLS866-24"}


# --- ZX ----------------------------------------------------------------------------------------

def zx_by_hand(text: str) -> dict[str, list]:
    return by_hand(text, skip=1, delimiter=";", stamp="Time and Date",
                   stamp_format="%d.%m.%Y %H:%M:%S", missing=("9999", "9998"),
                   decimal_comma=True)


def test_zx_values_stamps_and_header():
    text = ZX.read_text()
    parsed = parse.read(ZX)
    expected = zx_by_hand(text)
    assert parsed.format == "zx_lidar"
    assert_same_values(parsed, expected)
    # beginning of the period, UTC+1: 13.12.2016 00:00 is 12.12.2016 23:00 UTC
    assert parsed.data["ts"].to_list() == [
        (t - timedelta(hours=1)).replace(tzinfo=UTC) for t in expected["Time and Date"]]
    assert parsed.data["ts"][0] == datetime(2016, 12, 12, 23, 0, tzinfo=UTC)
    names = {c.name for c in parsed.columns}
    assert not names & {"Reference", "Timestamp (s)", "Info. Flags", "Status Flags", "GPS"}
    assert not any(n.startswith("Checksum") for n in names)
    assert len(names) == 13 + 10 * 8
    assert parsed.data["Horizontal Wind Speed (m/s) at 297m"][4:6].to_list() == [None, None]
    header = parsed.header
    assert (header["unit_number"], header["logger_serial"], header["logger_name"],
            header["station_name"], header["utc_offset"]) == (
        "317", "", "unit 317", "ZX unit 317", "+01:00")
    assert (header["site_latitude"], header["site_longitude"]) == ("51.32011", "9.17422")
    columns = {c.name: c for c in parsed.columns}
    assert (columns["TI at 38m"].statistic, columns["TI at 38m"].unit) == ("ti", None)
    assert columns["Packets in Average at 38m"].statistic == "count"
    assert columns["Proportion Of Packets With Rain (%)"].statistic == "avg"
    points = {h.point_name: h for h in parsed.channel_history}
    assert points["Vertical Wind Speed at 37m"].measurement_type == "vertical_wind_speed"
    assert points["Horizontal Wind Speed at 37m"].unit is None  # m/s, and TI has none
    assert points["Pod Humidity"].measurement_type == "other"


def test_zx_stamps_at_the_end_of_the_period_and_crlf():
    text = ZX.read_text().replace("beginning of the averaging period",
                                  "end of the averaging period")
    parsed = parse.parse_bytes(text.replace("\n", "\r\n").encode(), source="z.csv")
    assert parsed.data["ts"][0] == datetime(2016, 12, 12, 22, 50, tzinfo=UTC)
    assert_same_values(parsed, zx_by_hand(text))


def test_zx_first_stored_stamp_position_and_logger(conn):
    outcome = ingest.import_file(conn, ZX)
    assert (outcome.status, outcome.readings, outcome.station) == (
        "imported", 18 * 93 - 2 * 7, "ZX unit 317")
    assert first_stored_stamp(conn, "ZX unit 317") == datetime(2016, 12, 12, 23, 0, tzinfo=UTC)
    station = conn.execute("SELECT latitude, longitude FROM stations").fetchone()
    assert station == {"latitude": 51.32011, "longitude": 9.17422}
    logger = conn.execute("SELECT name, model, serial_number, header_utc_offset FROM loggers"
                          ).fetchone()
    assert logger == {"name": "unit 317", "model": "ZX 300", "serial_number": "",
                      "header_utc_offset": timedelta(hours=1)}


# --- Triton ------------------------------------------------------------------------------------

def triton_by_hand(text: str) -> dict[str, list]:
    return by_hand(text, skip=0, delimiter=";", stamp="Date and Time",
                   stamp_format="%d.%m.%Y %H:%M", missing=("", "9999"), decimal_comma=True)


def test_triton_values_stamps_and_meaning():
    text = TRITON.read_bytes().decode("cp1252")
    parsed = parse.read(TRITON)
    lines = text.split("\n")
    expected = triton_by_hand("\n".join([lines[2], *lines[4:]]))  # headings, then the rows
    assert parsed.format == "triton"
    assert_same_values(parsed, expected)
    assert parsed.data["ts"].to_list() == [t.replace(tzinfo=UTC)
                                           for t in expected["Date and Time"]]
    assert parsed.data["ts"][0] == datetime(2016, 8, 31, 0, 0, tzinfo=UTC)
    assert parsed.n_readings == 144 * 60 - 3 * 4
    assert (parsed.header["logger_serial"], parsed.header["station_name"],
            parsed.header["encoding"]) == ("358", "Triton 358", "latin-1")
    columns = {c.name: c for c in parsed.columns}
    assert columns["40m Wind Direction"].unit == "°"
    assert (columns["40m Wind Turbulence"].statistic, columns["40m Wind Turbulence"].unit) == (
        "ti", None)
    assert columns["Quality (Station Height 200m)"].statistic == "quality"
    points = {h.point_name: h for h in parsed.channel_history}
    assert (points["200m Wind Vert"].measurement_type, points["200m Wind Vert"].height_m) == (
        "vertical_wind_speed", 200.0)
    assert points["40m Wind Speed"].columns == ("40m Wind Speed",
                                                "Quality (Station Height 40m)")
    assert sorted({h.height_m for h in parsed.channel_history}) == [
        40, 50, 60, 80, 100, 120, 140, 160, 180, 200]


def test_triton_in_utf8_with_crlf_reads_the_same():
    latin = parse.read(TRITON)
    text = TRITON.read_bytes().decode("cp1252").replace("\n", "\r\n")
    utf8 = parse.parse_bytes(text.encode("utf-8"), source="t.csv")
    assert utf8.header["encoding"] == "utf-8"
    assert utf8.data.equals(latin.data)


def test_triton_units_line_shorter_than_the_headings():
    lines = TRITON.read_bytes().decode("cp1252").split("\n")
    lines[3] = "<Intentionally blank>;°"
    with pytest.raises(ParseError, match="the units line has 2 fields, the headings 61") as info:
        parse.parse_bytes("\n".join(lines).encode("cp1252"), source="t.csv")
    assert info.value.line == 4


def test_triton_first_stored_stamp_and_logger(conn):
    outcome = ingest.import_file(conn, TRITON)
    assert (outcome.status, outcome.readings, outcome.station) == (
        "imported", 144 * 60 - 12, "Triton 358")
    assert first_stored_stamp(conn, "Triton 358") == datetime(2016, 8, 31, 0, 0, tzinfo=UTC)
    assert conn.execute("SELECT model, serial_number FROM loggers").fetchone() == {
        "model": "Triton", "serial_number": "358"}


# --- export preamble ---------------------------------------------------------------------------

def test_the_windographer_preamble_has_the_position_and_the_loggers(db, tmp_path):
    ingest.import_paths([ZX, TRITON], dsn=db, progress=False)
    export_station("ZX unit 317", tmp_path / "zx.txt", clock=CLOCK)
    zx = (tmp_path / "zx.txt").read_bytes().decode().split("\r\n")
    assert zx[2:8] == ["Latitude = N 51.320110", "Longitude = E 9.174220", "Elevation = 0 m",
                       "Calm threshold = 0 m/s", "Logger = ZX 300 (unit 317)", ""]
    export_station("Triton 358", tmp_path / "triton.txt", clock=CLOCK)
    triton = (tmp_path / "triton.txt").read_bytes().decode().split("\r\n")
    assert triton[5:8] == ["Calm threshold = 0 m/s", "Logger = Triton serial 358", ""]
    data = triton.index(next(line for line in triton if line.startswith("Date/Time"))) + 1
    assert triton[data].startswith("2016-08-31 00:00\t")
