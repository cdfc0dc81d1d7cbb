"""Sensor health from the data: the healthy demo mast, and generated faults on it."""

from datetime import UTC, datetime, timedelta

import polars as pl
from click.testing import CliRunner

from stationlab import health, ingest
from stationlab.cli import main
from tests import faults


def _import(db, path):
    [outcome] = ingest.import_paths([path], dsn=db)
    assert outcome.status == "imported", outcome


def _not_ok(table):
    return table.filter(pl.col("state") != "ok")


def _sector_ratios(row, vane):
    """The 60 m pair's ratio of means over the week before ``row``'s window end, computed by
    hand from the readings: per 30-degree sector of ``vane`` with six readings or more, both
    above 3 m/s, outside tower shadow (30 degrees either side of the booms at 0 and 180)."""
    import stationlab

    with stationlab.connect() as client:
        wide = client.station("some_site").readings(
            types=["wind_speed", "wind_direction"], statistics=["avg"], wide=True,
            start=row["window_to"] - timedelta(days=7) + timedelta(microseconds=1))
    a, b = "Speed 60m 180deg Mean [m/s]", "Speed 60m 0deg Mean [m/s]"

    def off_shadow(center):
        return ((pl.col(vane) - center + 540) % 360 - 180).abs() >= 30

    return (wide.filter((pl.col(a) > 3) & (pl.col(b) > 3) & off_shadow(0) & off_shadow(180))
            .group_by((pl.col(vane) // 30).alias("sector"))
            .agg(pl.len(), pl.col(a).mean(), pl.col(b).mean())
            .filter(pl.col("len") >= 6).select(pl.col(a) / pl.col(b)).to_series())


def test_the_healthy_demo_mast_is_ok(conn, mast):
    table = mast.health()
    assert table.height == 30
    assert table["state"].unique().to_list() == ["ok"]
    # recovery over (newest - 24 h, newest]: the rows present of the 144 expected
    speed = table.filter(pl.col("name") == "Speed 80m 0deg Mean [m/s]").row(0, named=True)
    assert speed["window_to"] == datetime(2016, 1, 10, 23, 40, tzinfo=UTC)
    assert speed["recovery_day"] == mast.readings(
        channels=[speed["channel_id"]], start=speed["window_to"] - timedelta(hours=24)
    ).filter(pl.col("ts") > speed["window_to"] - timedelta(hours=24)).height / 144
    result = CliRunner().invoke(main, ["health", "--station", "some_site"])
    assert result.exit_code == 0, result.output
    assert result.output == ("some_site: 30 sensors, 0 failed, 0 suspect, 30 ok "
                             "(windows end 2016-01-10T23:40Z)\n")


def test_a_cup_frozen_for_12_hours_has_failed(conn, db, tmp_path):
    frozen = lambda value: "4.2"  # noqa: E731
    _import(db, faults.write(tmp_path / "frozen.csv", changes=[("Spd80mN", 72, 0, frozen)]))
    table = health.sensor_health(conn, "some_site")
    bad = _not_ok(table)
    assert bad["name"].to_list() == ["Speed 80m 0deg Mean [m/s]"]
    row = bad.row(0, named=True)
    assert row["state"] == "failed"
    assert row["reason"] == "flat line at 4.2 for 12.0 h"
    assert row["since"] == datetime(2016, 1, 10, 11, 50, tzinfo=UTC)
    result = CliRunner().invoke(main, ["health", "--station", "some_site"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Speed 80m 0deg Mean [m/s] failed: flat line at 4.2 for 12.0 h since 2016-01-10T11:50Z",
        "some_site: 30 sensors, 1 failed, 0 suspect, 29 ok (windows end 2016-01-10T23:40Z)"]
    # windows ending before the freeze: healthy
    before = CliRunner().invoke(main, ["health", "--station", "some_site",
                                       "--at", "2016-01-10T11:00"])
    assert before.exit_code == 0, before.output
    assert "0 failed, 0 suspect" in before.output


def test_a_paired_anemometer_15_percent_low_for_a_week_has_failed(conn, db, tmp_path):
    low = lambda value: f"{float(value) * 0.85:.3f}"  # noqa: E731
    path = faults.write(tmp_path / "low.csv", days=9, changes=[("Spd60mS", 9 * 144, 0, low)])
    _import(db, path)
    table = health.sensor_health(conn, "some_site")
    bad = _not_ok(table)
    assert bad["name"].to_list() == ["Speed 60m 180deg Mean [m/s]"]
    row = bad.row(0, named=True)
    assert row["state"] == "failed"
    assert row["reason"].startswith("reads 15% below its pair Speed 60m 0deg Mean [m/s] "
                                    "(ratio of means 0.8")
    assert row["since"] == row["window_to"] + timedelta(microseconds=1) - timedelta(days=7)
    # the same ratio computed by hand from the readings, sector by sector outside tower shadow
    ratios = _sector_ratios(row, "Direction 58m 180deg Mean [deg]")
    assert f"ratio of means {ratios.median():.3f} in {ratios.len()} direction sectors" \
        in row["reason"]


def test_a_stuck_vane_has_failed(conn, db, tmp_path):
    stuck = lambda value: "20"  # noqa: E731
    _import(db, faults.write(tmp_path / "vane.csv", changes=[("Dir58mS", 100, 0, stuck)]))
    bad = _not_ok(health.sensor_health(conn, "some_site"))
    assert bad["name"].to_list() == ["Direction 58m 180deg Mean [deg]"]
    row = bad.row(0, named=True)
    assert row["state"] == "failed"
    assert "flat line at 20.0 for 16.7 h" in row["reason"]
    assert "disagrees with the vanes at other heights" in row["reason"]


def test_a_temperature_probe_reading_minus_999_has_failed(conn, db, tmp_path):
    broken = lambda value: "-999"  # noqa: E731
    _import(db, faults.write(tmp_path / "t.csv", changes=[("T2m", 90, 0, broken)]))
    bad = _not_ok(health.sensor_health(conn, "some_site"))
    assert bad["name"].to_list() == ["Temperature 2m Sample [C]"]
    assert bad["state"].to_list() == ["failed"]
    assert "out of range [-60.0, 60.0] in 90 of 144 readings of the last 24 h" \
        in bad["reason"][0]


def test_windows_are_configured_per_station(conn, db, tmp_path):
    frozen = lambda value: "4.2"  # noqa: E731
    _import(db, faults.write(tmp_path / "frozen.csv", changes=[("Spd80mN", 72, 0, frozen)]))
    settings = health.configure(conn, "some_site", flat_hours=13, day_hours=48)
    assert settings["flat_hours"] == 13 and settings["week_days"] == 7
    assert _not_ok(health.sensor_health(conn, "some_site")).is_empty()
    import pytest

    from stationlab.errors import StationlabError

    with pytest.raises(StationlabError, match="unknown health settings: flat"):
        health.configure(conn, "some_site", flat=1)


def test_recovery_and_coverage_of_a_day_equal_brightwinds_daily_coverage(conn, db, monkeypatch,
                                                                          tmp_path):
    """Recovery (rows present) is brightwind's coverage of the raw file, coverage (rows valid
    after flags) brightwind's coverage after its ``apply_cleaning`` with the demo cleaning file
    and one of icing and maintenance on the day, for the one whole day of the demo file
    (2016-01-10, interval starts 00:00 to 23:50)."""
    import pytest

    from tests import test_brightwind as ref

    bw = ref.bw
    monkeypatch.setattr(ref.bw_station.MeasurementStation, "_get_schema",
                        staticmethod(ref._local_schema))
    measurements = bw.MeasurementStation(str(ref.DEMO_DOC)).measurements
    from stationlab import flags, metadata

    metadata.import_document(ref.DEMO_DOC, dsn=db)
    ingest.import_paths([ref.DEMO_FILE], station="Demo Mast", dsn=db)
    flags.import_flag_file(conn, ref.CLEANING, "Demo Mast", author="test")
    day_cleaning = tmp_path / "day_cleaning.csv"
    day_cleaning.write_text("Sensor,Start,Stop,Reason\n"
                            "Spd80mN,2016-01-10 06:00:00,2016-01-10 09:00:00,Icing\n"
                            "Dir,2016-01-10 12:00:00,2016-01-10 12:30:00,Maintenance\n")
    flags.import_flag_file(conn, day_cleaning, "Demo Mast", author="test")
    raw = ref.brightwind_data()
    clean = bw.apply_cleaning(ref.brightwind_clean(raw, measurements), str(day_cleaning))
    day = ref.pd.Timestamp("2016-01-10")
    recovered = bw.coverage(raw, period="1D").loc[day]
    covered = bw.coverage(clean, period="1D").loc[day]
    table = health.sensor_health(conn, "Demo Mast", datetime(2016, 1, 10, 23, 50, tzinfo=UTC))
    columns = {r["channel_id"]: r["column_name"] for r in conn.execute(
        "SELECT DISTINCT channel_id, column_name FROM logger_configs").fetchall()}
    compared = 0
    for row in table.iter_rows(named=True):
        column = columns[row["channel_id"]]
        if column not in raw:
            continue
        assert row["recovery_day"] == pytest.approx(recovered[f"{column}_Coverage"], abs=1e-9), \
            column
        assert row["coverage_day"] == pytest.approx(covered[f"{column}_Coverage"], abs=1e-9), \
            column
        compared += 1
    assert compared == len(raw.columns) == 29
    # the day's cleaning excluded part of the day of Spd80mN's three and the vanes' six channels
    assert (table["coverage_day"] < table["recovery_day"]).sum() == 9


def test_the_bundled_testlogger_s_hourly_table_stopping_early_is_suspect_not_failed(
        conn, db, real_data):
    """The demo's second station (a real CR1000X's Hourly and Daily tables, as `stationlab demo`
    imports them): the windows end at its newest reading, the Daily row of 2021-06-19; the Hourly
    table's last interval starts 2021-06-18 22:00, so of the five hourly rows expected since its
    first (20:00 to 00:00) three are present: suspect, since the readings stopped. Suspect
    sensors raise no alert unless asked to."""
    from tests.conftest import DAILY, HOURLY

    for name in (HOURLY, DAILY):
        _import(db, real_data / name)
    result = CliRunner().invoke(main, ["health", "--station", "TestLogger"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-1] == ("TestLogger: 9 sensors, 0 failed, 5 suspect, 4 ok "
                         "(windows end 2021-06-19T00:00Z)")
    assert lines[0] == ("Temperature (AirT_C(42)) Sample [C] suspect: only 60 % of readings "
                        "present in the last 24 h (3 of 5 expected) since 2021-06-18T23:00Z")
    assert all(" suspect: only 60 % " in line for line in lines[:-1])
    from stationlab import storage

    health.check_sensors(conn)
    assert storage.alerts.alerts(conn).is_empty()
    health.check_sensors(conn, suspect=True)  # one per sensor: PTemp_C's Min and Max are one
    raised = storage.alerts.alerts(conn)
    assert raised["kind"].to_list() == ["sensor_suspect"] * 4
    assert sorted(raised["subject"]) == [f"stationlab: sensor {s} at TestLogger suspect" for s in
                                         ("AirT_C(42)", "BattV", "PTemp_C", "RelHumid(3)")]


def test_a_sensor_reading_nan_for_a_whole_day_has_failed(conn, db, tmp_path):
    """Missing data: a probe the logger writes NAN for over the whole day has no readings."""
    nan = lambda value: "NAN"  # noqa: E731
    _import(db, faults.write(tmp_path / "nan.csv", days=2, changes=[("T2m", 144, 0, nan)]))
    bad = _not_ok(health.sensor_health(conn, "some_site"))
    assert bad["name"].to_list() == ["Temperature 2m Sample [C]"]
    row = bad.row(0, named=True)
    assert (row["state"], row["reason"]) == ("failed", "no readings in the last 24 h")
    assert row["recovery_day"] == 0


def test_a_vane_turned_on_its_boom_disagrees_with_the_others_and_has_failed(conn, db, tmp_path):
    """Vanes at other heights: one turned by 90 degrees (still varying, not flat) has failed,
    as the other two agree with each other."""
    turned = lambda value: f"{(float(value) + 90) % 360:.1f}"  # noqa: E731
    rows = len(faults.demo_lines()[1])
    _import(db, faults.write(tmp_path / "turned.csv", changes=[("Dir38mS", rows, 0, turned)]))
    bad = _not_ok(health.sensor_health(conn, "some_site"))
    # the 40 m cups' tower shadow is judged by the nearest vane that has not failed (58 m), not
    # by the turned one: both cups stay ok
    assert bad["name"].to_list() == ["Direction 38m 180deg Mean [deg]"]
    row = bad.row(0, named=True)
    assert row["state"] == "failed"
    assert row["reason"].startswith("disagrees with the vanes at other heights (")
    assert "flat line" not in row["reason"]


def test_a_pair_is_judged_by_the_nearest_vane_that_has_not_failed(conn, db, tmp_path):
    """The 60 m cups' nearest vane (58 m) is stuck: tower shadow is judged by the 78 m one, and
    the low cup fails as it does with all vanes working."""
    low = lambda value: f"{float(value) * 0.85:.3f}"  # noqa: E731
    stuck = lambda value: "20"  # noqa: E731
    _import(db, faults.write(tmp_path / "low.csv", days=9, changes=[
        ("Spd60mS", 9 * 144, 0, low), ("Dir58mS", 100, 0, stuck)]))
    bad = _not_ok(health.sensor_health(conn, "some_site"))
    assert bad["name"].to_list() == ["Speed 60m 180deg Mean [m/s]",
                                     "Direction 58m 180deg Mean [deg]"]
    row = bad.row(0, named=True)
    assert row["state"] == "failed"
    assert row["reason"].startswith("reads 16% below its pair Speed 60m 0deg Mean [m/s] "
                                    "(ratio of means 0.8")
    # the ratio computed by hand, sector by sector of the 78 m vane outside tower shadow
    ratios = _sector_ratios(row, "Direction 78m 180deg Mean [deg]")
    ratio = float(row["reason"].split("ratio of means ")[1].split()[0])
    assert abs(ratio - ratios.median()) < 0.002  # (clean readings: a vane's dead band aside)
    assert row["reason"].endswith(f" in {ratios.len()} direction sectors outside tower shadow)")


def test_a_pair_without_a_working_vane_is_judged_over_all_directions_and_suspect_at_most(
        conn, db, tmp_path):
    low = lambda value: f"{float(value) * 0.85:.3f}"  # noqa: E731
    stuck = lambda value: "20"  # noqa: E731
    _import(db, faults.write(tmp_path / "low.csv", days=9, changes=[
        ("Spd60mS", 9 * 144, 0, low), *((vane, 100, 0, stuck)
                                        for vane in ("Dir78mS", "Dir58mS", "Dir38mS"))]))
    table = health.sensor_health(conn, "some_site")
    vanes = table.filter((pl.col("measurement_type") == "wind_direction")
                         & (pl.col("statistic") == "avg"))
    assert vanes["state"].to_list() == ["failed"] * 3
    bad = _not_ok(table.filter(pl.col("measurement_type") == "wind_speed"))
    assert bad["name"].to_list() == ["Speed 60m 180deg Mean [m/s]"]
    row = bad.row(0, named=True)
    # 12 % below, which would be failed; tower shadow not excluded, it is suspect only
    assert (row["state"], row["reason"]) == ("suspect", (
        "reads 12% below its pair Speed 60m 0deg Mean [m/s] (ratio of means 0.878 over all "
        "directions: every vane has failed, so tower shadow is not excluded and it is suspect "
        "at most)"))


def test_the_real_nrg_mast_s_loop_backs_and_pv_voltages_are_not_judged_as_a_battery(
        conn, db, real_data):
    """The real NRG LOGR mast's voltage channels are loop-back outputs (Ch7, Ch8) and a PV
    module's open-circuit voltages (Ch203, Ch205), near 0 V: a battery's 8-18 V range made them
    failed sensors (twelve sensor_failed alerts for nothing). Its supply is the .diag VIN."""
    files = [p for p in sorted((real_data / "nrg_logr").glob("20240111_*"))
             if p.name.endswith("_statistical.dat")]
    ingest.import_paths(files, dsn=db)
    result = CliRunner().invoke(main, ["health", "--station", "Crows Nest Counters"])
    assert result.exit_code == 0, result.output
    assert result.output == ("Crows Nest Counters: 135 sensors, 0 failed, 0 suspect, 135 ok "
                             "(windows end 2024-01-11T13:40Z)\n")
    health.check_sensors(conn)
    from stationlab import storage

    assert storage.alerts.alerts(conn).is_empty()
