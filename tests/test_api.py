"""The clean-data API on the brightwind demo mast, checked against the file itself."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime

import polars as pl
import pytest

from stationlab.errors import StationlabError

from .conftest import BACKEND, DEMO

SPEED = "Speed 80m 0deg Mean [m/s]"


def file_column(real_data, name) -> list[float]:
    """A column of the demo file, read with the csv module (independently of stationlab)."""
    with open(real_data / DEMO, encoding="utf-8-sig", newline="") as handle:
        rows = [r for r in csv.reader(handle) if r]
    header = rows[1]
    return [float(r[header.index(name)]) for r in rows[4:]]



def test_connect_and_stations(mast):
    assert mast.client.stations() == ["some_site"]
    with pytest.raises(StationlabError, match="no station called 'x'; stations: some_site"):
        mast.client.station("x")


def test_readings_long_and_wide(mast, real_data):
    long = mast.readings(types=["wind_speed"], statistics=["avg"])
    assert long.columns == ["ts", "channel_id", "name", "measurement_type", "height_m",
                            "statistic", "value", "raw", "flags", "excluded"]
    assert long.height == 6 * 188
    assert set(long["height_m"]) == {40.0, 60.0, 80.0}
    wide = mast.readings(types=["wind_speed"], statistics=["avg"], wide=True)
    assert wide.columns[:3] == ["ts", SPEED, "Speed 80m 180deg Mean [m/s]"]
    assert wide.height == 188
    assert wide[SPEED].to_list() == file_column(real_data, "Spd80mN")
    assert wide["ts"][0] == datetime(2016, 1, 9, 15, 20, tzinfo=UTC)
    day = mast.readings(channels=[SPEED], start="2016-01-10", end="2016-01-10T01:00")
    assert day["ts"].to_list() == [datetime(2016, 1, 10, 0, m, tzinfo=UTC)
                                   for m in range(0, 60, 10)]


def test_monthly_summaries_raw_and_clean(mast, real_data):
    speeds = file_column(real_data, "Spd80mN")
    raw = mast.monthly(types=["wind_speed"], statistics=["avg"])
    row = raw.filter(pl.col("name") == SPEED).row(0, named=True)
    assert row["month"] == datetime(2016, 1, 1, tzinfo=UTC)
    assert row["n"] == 188
    assert row["mean"] == pytest.approx(sum(speeds) / len(speeds), rel=1e-12)
    assert (row["minimum"], row["maximum"]) == (min(speeds), max(speeds))
    # January has 31 x 144 ten-minute intervals
    assert row["recovery"] == pytest.approx(188 / (31 * 144))
    mast.add_flag("2016-01-10", "2016-01-11", "bad", channel=SPEED)
    clean = mast.monthly(types=["wind_speed"], statistics=["avg"], clean=True)
    kept = [v for v, ts in zip(speeds, mast.readings(channels=[SPEED], clean=False)["ts"],
                               strict=True) if ts < datetime(2016, 1, 10, tzinfo=UTC)]
    row = clean.filter(pl.col("name") == SPEED).row(0, named=True)
    assert row["n"] == len(kept) == 45
    assert row["mean"] == pytest.approx(sum(kept) / len(kept), rel=1e-12)
    assert row["recovery"] == pytest.approx(45 / (31 * 144))
    recovery = mast.recovery(types=["wind_speed"], statistics=["avg"])
    assert recovery.columns == ["name", "2016-01"]


def test_statistics(mast, real_data):
    temperatures = file_column(real_data, "T2m")
    stats = mast.statistics(types=["air_temperature"]).row(0, named=True)
    assert stats["n"] == 188
    assert stats["mean"] == pytest.approx(sum(temperatures) / 188, rel=1e-12)
    assert stats["minimum"] == min(temperatures)
    mean = sum(temperatures) / 188
    sd = (sum((t - mean) ** 2 for t in temperatures) / 187) ** 0.5
    assert stats["sd"] == pytest.approx(sd, rel=1e-9)
    raw = mast.statistics(types=["air_temperature"], clean=False).row(0, named=True)
    assert raw["n"] == 188 and raw["maximum"] == max(temperatures)


def test_the_channel_month_query_uses_an_index(conn, mast):
    channel = mast.channels().filter(pl.col("name") == SPEED)["channel_id"][0]
    conn.execute("ANALYZE readings")
    for query in ("SELECT ts, value FROM readings WHERE channel_id = %(c)s "
                  "AND ts >= '2016-01-01' AND ts < '2016-02-01'",
                  "SELECT * FROM clean_readings(ARRAY[%(c)s], '2016-01-01', '2016-02-01')"):
        plan = "\n".join(r["QUERY PLAN"] for r in conn.execute("EXPLAIN " + query, {"c": channel}))
        if BACKEND == "plain":
            assert "readings_y2016m01_pkey" in plan, plan
            assert "readings_y2016m02" not in plan  # pruned to the month's partition
        else:  # the one chunk holding January 2016, by its primary key's index
            assert re.search(r'Scan (using|on) "?\w*readings_pkey', plan), plan
            assert len(set(re.findall(r"_hyper_\d+_\d+_chunk", plan))) == 1, plan


def test_importing_stationlab_does_not_import_pandas():
    import subprocess
    import sys

    code = ("import sys, stationlab, stationlab.api, stationlab.metadata, stationlab.cli; "
            "print(sorted(m for m in ('pandas', 'brightwind') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert (run.returncode, run.stdout.strip()) == (0, "[]"), run.stderr


def test_to_brightwind_without_the_extra_says_how_to_install_it(mast, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "brightwind", None)  # as if it were not installed
    with pytest.raises(StationlabError, match=re.escape(
            "Station.to_brightwind needs brightwind, an optional extra that is not installed: "
            "pip install 'stationlab[brightwind]'")):
        mast.to_brightwind()


def test_to_brightwind_with_pandas_3_says_brightwind_needs_pandas_below_3(mast, monkeypatch):
    import pandas

    monkeypatch.setattr(pandas, "__version__", "3.0.1")
    with pytest.raises(StationlabError, match=re.escape(
            "brightwind needs pandas < 3 and pandas 3.0.1 is installed: "
            "pip install 'stationlab[brightwind]'")):
        mast.to_brightwind()


def test_to_brightwind_of_the_file_only_demo_mast_names_columns_as_the_file(mast, real_data):
    frame = mast.to_brightwind(types=["wind_speed"], statistics=["avg"])
    assert list(frame.columns) == ["Spd80mN", "Spd80mS", "Spd60mN", "Spd60mS", "Spd40mN",
                                   "Spd40mS"]
    assert frame["Spd80mN"].to_list() == file_column(real_data, "Spd80mN")  # calibration: none
    assert frame.index[0].isoformat() == "2016-01-09T15:20:00"
    mast.add_flag("2016-01-10", "2016-01-11", "bad", channel=SPEED)
    clean = mast.to_brightwind(types=["wind_speed"], statistics=["avg"])
    raw = mast.to_brightwind(types=["wind_speed"], statistics=["avg"], clean=False)
    day = (clean.index >= "2016-01-10") & (clean.index < "2016-01-11")
    stored = mast.readings(channels=[SPEED], start="2016-01-10", end="2016-01-11", clean=False)
    assert day.sum() == stored.height == 143  # the file ends at 23:40
    assert clean.loc[day, "Spd80mN"].isna().all()
    assert clean.loc[~day, "Spd80mN"].to_list() == raw.loc[~day, "Spd80mN"].to_list()
    assert raw["Spd80mN"].to_list() == file_column(real_data, "Spd80mN")
    assert clean["Spd80mS"].to_list() == raw["Spd80mS"].to_list()  # another channel: kept
