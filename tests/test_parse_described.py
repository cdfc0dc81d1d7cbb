"""Formats with no real sample here (Ammonit, Kintech; Windcube's older layout): tested on files
written from the vendors' published layouts (tests/data/), as each module's docstring says.
The real Windcube file and the ZX and Triton fixtures of the real layouts are tested in
tests/test_parse_lidars.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stationlab import ingest, parse
from stationlab.errors import ParseError

from .conftest import REPO

DATA = REPO / "tests" / "data"


def t(hour, minute):
    return datetime(2024, 1, 1, hour, minute, tzinfo=UTC)


CASES = {
    # file: format, first stamps (UTC, start), a column and its values, (statistic, unit),
    # station, serial, a point (name, type, height)
    "ammonit_meteo40_sample.csv": (
        "ammonit", [t(0, 0), t(0, 10)], "Anemometer 37m North;wind_speed;StdDev (m/s)",
        [0.52, 0.61, None, 0.48], ("sd", "m/s"), "Test mast", "D123456",
        ("Anemometer 37m North", "wind_speed", 37.0)),
    "kintech_orbit.csv": (  # stamps at UTC+01:00
        "kintech", [t(0, 0), t(0, 10)], "CH1 80m Anemometer SD (m/s)", [0.52, 0.61, None],
        ("sd", "m/s"), "Test site", "OR360-1234", ("CH5 78m Vane", "wind_direction", 78.0)),
    "windcube_sample.sta": (  # stamps at the end of the interval
        "windcube", [datetime(2012, 10, 23, 13, 0, tzinfo=UTC),
                     datetime(2012, 10, 23, 13, 10, tzinfo=UTC)],
        "40m Wind Speed Dispersion (m/s)", [0.52, 0.61, None], ("sd", "m/s"), "Test site",
        "WLS7-123", ("40m Wind Direction", "wind_direction", 40.0)),
}


@pytest.mark.parametrize("name", CASES)
def test_description_built_file(name):
    fmt, stamps, column, values, (statistic, unit), station, serial, point = CASES[name]
    parsed = parse.read(DATA / name)
    assert parsed.format == fmt
    assert parsed.data["ts"].to_list()[:2] == stamps
    assert parsed.interval == timedelta(minutes=10)
    assert parsed.data[column].to_list() == values
    described = {c.name: c for c in parsed.columns}[column]
    assert (described.statistic, described.unit, described.kind) == (statistic, unit, "number")
    assert (parsed.header["station_name"], parsed.header["logger_serial"]) == (station, serial)
    points = {(h.point_name, h.measurement_type, h.height_m) for h in parsed.channel_history}
    assert point in points
    assert all(h.source == "file_header" for h in parsed.channel_history)


def test_docstrings_say_what_they_were_built_from():
    from stationlab.parse import ammonit, kintech, triton, windcube, zx_lidar

    for module in (ammonit, kintech):
        assert "Built from a description, not from a real file" in module.__doc__, module
    assert "Proven on a real file" in windcube.__doc__
    for module in (triton, zx_lidar):
        assert "Built from a real file's layout" in module.__doc__, module


def test_import_of_a_described_format_uses_its_points(conn, db):
    outcome = ingest.import_file(conn, DATA / "kintech_orbit.csv")
    assert outcome.status == "imported", outcome
    assert outcome.station == "Test site"
    row = conn.execute("""
        SELECT p.measurement_type, p.height_m, c.statistic, lc.source
        FROM logger_configs lc JOIN channels c USING (channel_id)
        JOIN measurement_points p USING (measurement_point_id)
        WHERE lc.column_name = 'CH1 80m Anemometer SD (m/s)'""").fetchone()
    assert row == {"measurement_type": "wind_speed", "height_m": 80.0, "statistic": "sd",
                   "source": "file_header"}


def test_windcube_without_a_timestamp_line():
    data = (DATA / "windcube_sample.sta").read_bytes().split(b"Timestamp")[0]
    with pytest.raises(ParseError, match="no 'Timestamp ...' line"):
        parse.parse_bytes(data, source="w.sta")


def test_formats_toml_describes_each_built_in_format_once_and_nothing_else():
    registered = {f.name: f for f in parse.formats()}
    catalogue = parse.catalogue()
    assert set(catalogue) == set(registered)
    for name, entry in catalogue.items():
        assert set(entry) <= {"description", "extensions", "proven_on", "from_docs",
                              "statistics", "types", "points"}, name
        assert registered[name].description == entry["description"]
        assert registered[name].proven_on or registered[name].from_docs, name
    # every vocabulary compiles, and is asked in its order: "TI" is ZX's turbulence, not "avg"
    from stationlab.parse import zx_lidar

    assert zx_lidar.STATISTICS[0][1] == "ti"
    assert zx_lidar.describe("TI at 38m")[0].statistic == "ti"


def test_a_format_not_in_formats_toml_brings_its_own_description(monkeypatch):
    monkeypatch.setattr(parse, "FORMATS", dict(parse.FORMATS))
    with pytest.raises(ValueError, match="format 'mine' has no description"):
        parse.register("mine", sniff=lambda head: False)
    parse.register("mine", sniff=lambda head: False, description="my logger")(lambda d, o: None)
    assert parse.FORMATS["mine"].description == "my logger"
