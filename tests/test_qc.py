"""QC checks (pure masks) and rules run on the real demo mast, stored as rule flags."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from stationlab import qc
from stationlab.errors import StationlabError
from stationlab.qc import checks

TEN = timedelta(minutes=10)


def stamps(n, start=datetime(2020, 1, 1, tzinfo=UTC)):
    return pl.Series("ts", [start + i * TEN for i in range(n)])


def test_flag_range():
    values = pl.Series("v", [-1.0, 0.0, 12.5, 75.0, 80.0, None])
    assert checks.flag_range(values, 0.0, 75.0).to_list() == [True, False, False, False, True,
                                                            False]


def test_flag_flat_line_needs_contiguous_equal_values():
    values = pl.Series("v", [1.0, 2.0, 2.0, 2.0, 2.0, 3.0, 3.0, 3.0])
    ts = stamps(8)
    assert checks.flag_flat_line(values, ts, intervals=4, interval=TEN).to_list() == [
        False, True, True, True, True, False, False, False]
    # a gap in time breaks the run
    gapped = pl.Series("ts", ts.to_list()[:3] + [t + TEN for t in ts.to_list()[3:]])
    assert not checks.flag_flat_line(values, gapped, intervals=4, interval=TEN).any()


def test_flag_spike():
    values = pl.Series("v", [5.0, 5.5, 19.0, 5.2, 5.0, 30.0])
    assert checks.flag_spike(values, stamps(6), threshold=10.0, interval=TEN).to_list() == [
        False, False, True, False, False, False]  # the last has no right neighbour


def test_flag_zero_sd_and_icing():
    mean = pl.Series("m", [5.0, 0.1, 4.0, None])
    sd = pl.Series("s", [0.0, 0.0, 0.3, 0.0])
    assert checks.flag_zero_sd(mean, sd, min_mean=0.5).to_list() == [True, False, False, False]
    temperature = pl.Series("t", [-3.0, 1.0, 5.0, None])
    stalled = pl.Series("x", [True, True, True, True])
    assert checks.flag_icing(temperature, stalled, max_temperature=2.0).to_list() == [
        True, True, False, False]


def test_missing_runs_and_periods():
    ts = pl.Series("ts", [datetime(2020, 1, 1, 0, m, tzinfo=UTC) for m in (0, 10, 50)])
    assert checks.missing_runs(ts, interval=TEN, min_intervals=1) == [
        (datetime(2020, 1, 1, 0, 20, tzinfo=UTC), datetime(2020, 1, 1, 0, 50, tzinfo=UTC))]
    assert checks.missing_runs(ts, interval=TEN, min_intervals=4) == []
    mask = pl.Series([True, True, False, True, True, True])
    assert checks.mask_to_periods(stamps(6), mask, TEN) == [
        (stamps(6)[0], stamps(6)[2]), (stamps(6)[3], stamps(6)[5] + TEN)]



def rule_flags(mast, rule):
    table = mast.flags()
    return table.filter(pl.col("rule_name") == rule).sort("ts_from", "point_name", "channel_id")


def test_rules_on_the_demo_mast(conn, mast):
    result = qc.run(conn, "some_site")
    # the file's rows stamped 15:40 and 17:00 are 80 minutes apart: 7 ten-minute steps missing,
    # [15:40, 16:50) in start-of-interval stamps, on each of the 13 mean/sample channels
    missing = rule_flags(mast, "missing")
    first_gap = missing.filter(pl.col("ts_from") == datetime(2016, 1, 9, 15, 40, tzinfo=UTC))
    assert first_gap.height == 13
    assert set(first_gap["ts_to"]) == {datetime(2016, 1, 9, 16, 50, tzinfo=UTC)}
    # Dir78mSStd is exactly 0 at file rows 10/01 08:10 .. 08:40 with T2m below 2 C: icing
    icing = rule_flags(mast, "icing")
    assert icing.filter(pl.col("point_name") == "Dir78mS").select("ts_from", "ts_to").rows()[0] \
        == (datetime(2016, 1, 10, 8, 0, tzinfo=UTC), datetime(2016, 1, 10, 8, 30, tzinfo=UTC))
    assert set(icing["code"]) == {"icing"}
    assert result.flags["range"] == 0  # no impossible values in this file
    assert set(mast.flags()["source"]) == {"rule"}
    assert set(mast.flags()["rule_version"]) == {1}


def test_a_rerun_replaces_exactly_its_own_flags_in_the_period(conn, mast):
    qc.run(conn, "some_site", rules=["missing"])
    manual = mast.add_flag("2016-01-09 15:40", "2016-01-09 16:50", "bad", point="Spd80mN")
    before = rule_flags(mast, "missing").height
    # re-running over a period that cuts the gap [15:40, 16:50) in two keeps the part outside
    cut = datetime(2016, 1, 9, 16, 0, tzinfo=UTC)
    qc.run(conn, "some_site", start=cut, rules=["missing"])
    after = rule_flags(mast, "missing")
    gap = after.filter(pl.col("ts_from") < datetime(2016, 1, 9, 17, tzinfo=UTC))
    assert sorted(set(zip(gap["ts_from"], gap["ts_to"], strict=True))) == [
        (datetime(2016, 1, 9, 15, 40, tzinfo=UTC), cut),
        (cut, datetime(2016, 1, 9, 16, 50, tzinfo=UTC))]
    assert after.height == before + 13
    assert manual in mast.flags()["flag_id"].to_list()
    # a run over all time replaces all of the rule's flags: back to one flag per gap
    qc.run(conn, "some_site", rules=["missing"])
    assert rule_flags(mast, "missing").height == before
    assert manual in mast.flags()["flag_id"].to_list()


def test_station_settings_override_and_disable_rules(conn, mast):
    qc.configure(conn, "some_site", "range", measurement_type="air_temperature", high=0.5)
    qc.run(conn, "some_site", rules=["range"])
    flagged = rule_flags(mast, "range")
    assert len(flagged) > 0
    assert set(flagged["reason"]) == {"T2m outside [-60.0, 0.5]"}
    qc.configure(conn, "some_site", "range", measurement_type="air_temperature", enabled=False)
    qc.run(conn, "some_site", rules=["range"])
    assert rule_flags(mast, "range").is_empty()
    with pytest.raises(StationlabError, match="unknown QC rule 'wobble'"):
        qc.configure(conn, "some_site", "wobble")


def test_qc_command_line(db, mast):
    run = subprocess.run([sys.executable, "-m", "stationlab", "qc", "run", "--station",
                          "some_site", "--rule", "missing", "--rule", "icing"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().startswith("some_site 2016-01-09 15:20 to 2016-01-10 23:40 UTC: "
                                         "missing ")
    rules = subprocess.run([sys.executable, "-m", "stationlab", "qc", "rules"],
                           capture_output=True, text=True, timeout=120)
    assert "range v1 -> bad: value outside its physical range" in rules.stdout
    assert "    wind_speed: {'low': 0.0, 'high': 75.0}" in rules.stdout
