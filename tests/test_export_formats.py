"""Every export format's content on real logger files: golden text with a fixed clock.

The hourly and daily tables of the real TestLogger (pytoa5) land on different stamps, so the
station's export has missing values in every column: that is what the missing-value text shows.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime

import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from stationlab import ingest
from stationlab.errors import StationlabError
from stationlab.export import WindographerOptions, export_station, month_windows

CLOCK = lambda: datetime(2026, 11, 28, 9, 15, tzinfo=UTC)  # noqa: E731

PREAMBLE = (
    "Created 28-11-2026 09:15 by stationlab 0.1.0 (Windographer text format)\r\n"
    "\r\n"
    "Latitude = N 0.000000\r\n"
    "Longitude = E 0.000000\r\n"
    "Elevation = 0 m\r\n"
    "Calm threshold = 0 m/s\r\n"
    "Logger = CR1000X serial 12342\r\n"
    "\r\n"
    "Included flags: <Unflagged data>\r\n"
    "Excluded flags: {excluded}\r\n"
    "\r\n"
    "Time stamps are in UTC.\r\n"
    "Time stamps indicate the beginning of the time step.\r\n"
    "\r\n"
)
NAMES = ["Temperature (AirT_C(42)) Sample [C]", "Humidity (RelHumid(3)) Mean [%]",
         "Temperature (PTemp) Sample [C]", "Temperature (PTemp_C) Min [C]",
         "Temperature (PTemp_C) Max [C]", "Temperature (PTemp_C (Daily)) Min [C]",
         "Temperature (PTemp_C (Daily)) Max [C]", "Voltage (BattV) Mean [V]",
         "Voltage (BattV (Daily)) Min [V]"]
#: The station's values: stamp, then one field per column of NAMES ("" = missing).
ROWS = [
    ("2021-06-18 00:00", ",,20.1,,,23.72,39.16,,12.99"),
    ("2021-06-18 20:00", "26.29,49.31,,28.62,30.82,,,13.23,"),
    ("2021-06-18 21:00", "25.14,54.85,,27.14,28.62,,,13.31,"),
    ("2021-06-18 22:00", "23.64,63.28,,25.62,27.14,,,13.36,"),
    ("2021-06-19 00:00", ",,30.5,,,21.54,40.91,,12.96"),
]


@pytest.fixture
def station(db, real_data) -> str:
    folder = real_data / "campbell_toa5/pytoa5"
    outcomes = ingest.import_paths([folder / "TestLogger_Hourly_1.dat",
                                    folder / "TestLogger_Daily_1.dat"], dsn=db)
    assert [o.status for o in outcomes] == ["imported", "imported"]
    return "TestLogger"


def test_windographer_with_every_option(station, tmp_path):
    options = WindographerOptions(excluded_flags=("icing", "bad"), missing="-9999",
                                  timestamp_format="%d/%m/%Y %H:%M:%S", separator="comma")
    result = export_station(station, tmp_path / "w.txt", options=options, clock=CLOCK)
    lines = [f"{datetime.strptime(ts, '%Y-%m-%d %H:%M'):%d/%m/%Y %H:%M:%S},"
             + ",".join(v or "-9999" for v in values.split(",")) for ts, values in ROWS]
    expected = (PREAMBLE.format(excluded="icing, bad") + ",".join(["Date/Time", *NAMES])
                + "\r\n" + "".join(line + "\r\n" for line in lines))
    assert (tmp_path / "w.txt").read_bytes().decode() == expected
    assert (result.rows, result.channels, result.readings) == (5, 9, 23)


def _flag(conn, station: str) -> None:
    """Maintenance on the whole station at 21:00, icing of the humidity sensor 20:00 to 23:00,
    and a removed flag that must not show."""
    from stationlab import flags

    flags.add_flag(conn, station, datetime(2021, 6, 18, 21, tzinfo=UTC),
                   datetime(2021, 6, 18, 22, tzinfo=UTC), "maintenance")
    flags.add_flag(conn, station, datetime(2021, 6, 18, 20, tzinfo=UTC),
                   datetime(2021, 6, 18, 23, tzinfo=UTC), "icing", point="RelHumid(3)")
    removed = flags.add_flag(conn, station, datetime(2021, 6, 18, tzinfo=UTC),
                             datetime(2021, 6, 20, tzinfo=UTC), "bad")
    flags.remove_flag(conn, removed)


FLAG_LEGEND = ("Flag status codes:\r\n"
               "A = icing (Sensor iced: stalled anemometer or vane.)\r\n"
               "B = maintenance (Site visit or maintenance work.)\r\n"
               "\r\n")


def _with_status(stamp: str, values: str, *, clean: bool = False) -> str:
    """A row of ROWS with each value followed by the letters of the flags over it."""
    fields = []
    for i, value in enumerate(values.split(",")):
        letters = ("A" if i == 1 and stamp[11:13] in ("20", "21", "22") else "") + \
            ("B" if stamp.endswith("21:00") else "")
        if clean and letters:  # icing and maintenance exclude by default
            value = ""
        fields += [value, letters]
    return "\t".join([stamp, *fields])


def test_windographer_with_flag_status_columns(station, conn, tmp_path):
    _flag(conn, station)
    result = export_station(station, tmp_path / "w.txt", clock=CLOCK,
                            options=WindographerOptions(flag_status=True))
    preamble = PREAMBLE.format(excluded="<None>").replace(
        "Time stamps", FLAG_LEGEND + "Time stamps", 1)
    header = "\t".join(["Date/Time", *(c for n in NAMES for c in (n, n + " Flags"))])
    expected = (preamble + header + "\r\n"
                + "".join(_with_status(*row) + "\r\n" for row in ROWS))
    assert (tmp_path / "w.txt").read_bytes().decode() == expected
    assert (result.rows, result.channels, result.readings) == (5, 9, 23)


def test_clean_export_with_flag_status_says_why_a_value_is_blank(station, conn, tmp_path):
    from .test_cli import stationlab

    _flag(conn, station)
    run = stationlab("export", "--station", station, "--out", tmp_path / "w.txt", "--clean",
                     "--flag-status")
    assert run.returncode == 0, run.stderr
    lines = (tmp_path / "w.txt").read_text().splitlines()  # line 6 names the logger
    assert lines[9] == "Excluded flags: bad, icing, maintenance, missing, tower_shadow"
    assert lines[11:14] == ["Flag status codes:", FLAG_LEGEND.split("\r\n")[1],
                            FLAG_LEGEND.split("\r\n")[2]]
    assert lines[-5:] == [_with_status(*row, clean=True) for row in ROWS]


def test_zip_members_carry_their_columns_flag_status(station, conn, tmp_path):
    _flag(conn, station)
    export_station(station, tmp_path / "x.zip", format="zip", clock=CLOCK,
                   options=WindographerOptions(flag_status=True))
    with zipfile.ZipFile(tmp_path / "x.zip") as archive:
        humidity = archive.read("relative_humidity.txt").decode().split("\r\n")
        voltage = archive.read("voltage.txt").decode().split("\r\n")
    assert FLAG_LEGEND.split("\r\n")[1] in humidity
    assert humidity[-7:-1] == [
        "Date/Time\tHumidity (RelHumid(3)) Mean [%]\tHumidity (RelHumid(3)) Mean [%] Flags",
        "2021-06-18 00:00\t\t", "2021-06-18 20:00\t49.31\tA", "2021-06-18 21:00\t54.85\tAB",
        "2021-06-18 22:00\t63.28\tA", "2021-06-19 00:00\t\t"]
    assert voltage[-4] == "2021-06-18 21:00\t13.31\tB\t\tB"


def test_windographer_default_is_tab_separated_with_blanks(station, tmp_path):
    export_station(station, tmp_path / "w.txt", clock=CLOCK)
    expected = (PREAMBLE.format(excluded="<None>") + "\t".join(["Date/Time", *NAMES]) + "\r\n"
                + "".join(f"{ts}\t{values.replace(',', chr(9))}\r\n" for ts, values in ROWS))
    assert (tmp_path / "w.txt").read_bytes().decode() == expected


def test_plain_csv(station, tmp_path):
    result = export_station(station, tmp_path / "x.csv", format="csv", clock=CLOCK)
    expected = ",".join(["timestamp", *NAMES]) + "\n" + "".join(
        f"{ts.replace(' ', 'T')}:00Z,{values}\n" for ts, values in ROWS)
    assert (tmp_path / "x.csv").read_text() == expected
    assert result.format == "csv"


def test_zip_holds_one_windographer_file_per_measurement_type(station, tmp_path):
    export_station(station, tmp_path / "x.zip", format="zip", clock=CLOCK)
    with zipfile.ZipFile(tmp_path / "x.zip") as archive:
        assert archive.namelist() == ["air_temperature.txt", "relative_humidity.txt",
                                      "temperature.txt", "voltage.txt"]
        assert {i.date_time for i in archive.infolist()} == {(2026, 11, 28, 9, 15, 0)}
        members = {name: archive.read(name).decode() for name in archive.namelist()}
    table = [[ts, *values.split(",")] for ts, values in ROWS]
    for name, columns in (("air_temperature.txt", [0]), ("relative_humidity.txt", [1]),
                          ("temperature.txt", [2, 3, 4, 5, 6]), ("voltage.txt", [7, 8])):
        expected = (PREAMBLE.format(excluded="<None>")
                    + "\t".join(["Date/Time", *(NAMES[c] for c in columns)]) + "\r\n"
                    + "".join("\t".join([row[0], *(row[c + 1] for c in columns)]) + "\r\n"
                              for row in table))
        assert members[name] == expected, name
    again = export_station(station, tmp_path / "y.zip", format="zip", clock=CLOCK)
    assert again.path.read_bytes() == (tmp_path / "x.zip").read_bytes()


def test_parquet_columns_values_and_metadata(station, tmp_path):
    export_station(station, tmp_path / "x.parquet", format="parquet", clock=CLOCK)
    back = pl.read_parquet(tmp_path / "x.parquet")
    expected = pl.read_csv(io.StringIO("ts," + ",".join(f"c{i}" for i in range(9)) + "\n" + "".join(
        f"{ts},{values}\n" for ts, values in ROWS)), schema_overrides={
            f"c{i}": pl.Float64 for i in range(9)}).with_columns(
        pl.col("ts").str.to_datetime("%Y-%m-%d %H:%M", time_unit="us", time_zone="UTC")
    ).rename({f"c{i}": name for i, name in enumerate(NAMES)})
    assert_frame_equal(back, expected)
    metadata = pq.read_schema(tmp_path / "x.parquet").metadata
    assert metadata[b"stationlab.station"] == b"TestLogger"
    assert metadata[b"stationlab.created"] == b"2026-11-28T09:15:00+00:00"
    channels = json.loads(metadata[b"stationlab.channels"])
    assert [c["name"] for c in channels] == NAMES
    assert channels[1]["measurement_type"] == "relative_humidity"
    assert channels[1]["statistic"] == "avg"


def test_a_period_of_each_format_holds_only_that_period(station, tmp_path):
    start, end = datetime(2021, 6, 18, 21, tzinfo=UTC), datetime(2021, 6, 19, tzinfo=UTC)
    result = export_station(station, tmp_path / "p.csv", format="csv", start=start, end=end)
    assert (result.rows, result.readings) == (2, 10)
    assert [line[:20] for line in (tmp_path / "p.csv").read_text().splitlines()[1:]] == [
        "2021-06-18T21:00:00Z", "2021-06-18T22:00:00Z"]


def test_options_are_checked_with_messages_that_say_what_to_do(station, tmp_path):
    with pytest.raises(StationlabError, match="unknown separator 'semicolon'; choose tab or comma"):
        WindographerOptions(separator="semicolon")
    with pytest.raises(StationlabError, match="timestamp format 'YYYY' has no strftime field"):
        WindographerOptions(timestamp_format="YYYY")
    with pytest.raises(StationlabError, match="may not hold a tab, comma or line break"):
        WindographerOptions(missing="n,a")
    with pytest.raises(StationlabError, match="the parquet format takes no text options"):
        export_station(station, tmp_path / "x.parquet", format="parquet",
                       options=WindographerOptions(missing="NaN"))
    with pytest.raises(StationlabError, match="unknown export format 'xlsx'; known: "
                                              "windographer, csv, zip, parquet"):
        export_station(station, tmp_path / "x.xlsx", format="xlsx")
    assert list(tmp_path.iterdir()) == []


def test_windows_are_calendar_months_clipped_to_the_data():
    first, last = datetime(2020, 1, 15, 6, tzinfo=UTC), datetime(2020, 3, 1, 0, tzinfo=UTC)
    assert month_windows(first, last) == [
        (first, datetime(2020, 2, 1, tzinfo=UTC)),
        (datetime(2020, 2, 1, tzinfo=UTC), datetime(2020, 3, 1, tzinfo=UTC)),
        (datetime(2020, 3, 1, tzinfo=UTC), datetime(2020, 3, 1, 0, 0, 0, 1, tzinfo=UTC)),
    ]


def test_export_command_takes_every_format_and_the_text_options(station, tmp_path):
    from .test_cli import stationlab

    for format in ("csv", "zip", "parquet"):
        run = stationlab("export", "--station", station, "--format", format,
                         "--out", tmp_path / f"x.{format}")
        assert run.returncode == 0, run.stderr
        summary, skipped, *notes = run.stdout.strip().splitlines()
        assert summary == (
            f"{tmp_path / f'x.{format}'}: station TestLogger, {format}, 9 channels, 5 rows, "
            "23 readings, 2021-06-18 00:00 to 2021-06-19 00:00 UTC")
        assert skipped.strip().startswith("not exported: 3 channels of times or text")
        # the hourly and daily tables in one file; zip's text files also say 0 for the position
        assert [n.split(":")[1].split()[0] for n in notes] == (
            ["the", "channels"] if format == "zip" else ["channels"])
    run = stationlab("export", "--station", station, "--out", tmp_path / "w.txt", "--clean",
                     "--exclude-flag", "icing", "--missing", "NA", "--separator", "comma",
                     "--timestamp-format", "%Y%m%d%H%M")
    assert run.returncode == 0, run.stderr
    lines = (tmp_path / "w.txt").read_text().splitlines()
    assert lines[9] == "Excluded flags: icing"  # line 6 names the logger
    assert lines[15] == "202106180000,NA,NA,20.1,NA,NA,23.72,39.16,NA,12.99"
    bad = stationlab("export", "--station", station, "--format", "parquet", "--out",
                     tmp_path / "y.parquet", "--missing", "NA")
    assert bad.returncode == 1
    assert "the parquet format takes no text options" in bad.stderr
    raw = stationlab("export", "--station", station, "--out", tmp_path / "r.txt",
                     "--exclude-flag", "icing")
    assert raw.returncode == 2
    assert "--exclude-flag takes effect on clean data: add --clean" in raw.stderr


def test_read_channel_gives_one_channels_values_in_time_order(station, conn):
    from stationlab import storage

    channel = conn.execute("SELECT channel_id FROM logger_configs WHERE column_name = "
                           "'PTemp_C_Max' ORDER BY logger_config_id LIMIT 1").fetchone()
    frame = storage.readings.read_channel(conn, channel["channel_id"],
                                          datetime(2021, 6, 18, 21, tzinfo=UTC),
                                          datetime(2021, 7, 1, tzinfo=UTC))
    assert frame.rows() == [(datetime(2021, 6, 18, 21, tzinfo=UTC), 28.62),
                            (datetime(2021, 6, 18, 22, tzinfo=UTC), 27.14)]
    assert frame.schema == {"ts": pl.Datetime("us", "UTC"), "value": pl.Float64}
