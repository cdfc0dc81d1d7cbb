"""Calibration at read time: certificates, logger slopes, vanes, periods, late corrections.

Expected values are worked out by hand from the formula value = (raw - c_logger) / m_logger *
m_cert + c_cert with the raw numbers typed from the demo file, never read back from the code.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

FIRST = datetime(2016, 1, 9, 15, 20, tzinfo=UTC)  # file row "09/01/2016 15:30" (end stamp)
LAST = datetime(2016, 1, 10, 23, 40, tzinfo=UTC)  # file row "10/01/2016 23:50"



def point_id(conn, name):
    return conn.execute("SELECT measurement_point_id AS id FROM measurement_points "
                        "WHERE name = %s", (name,)).fetchone()["id"]


def install_anemometer(conn, point, *calibrations, logger=(0.0462, 0.21)):
    """Logger generic slope/offset on the point's columns, a sensor and its certificates."""
    conn.execute("UPDATE logger_configs lc SET slope = %s, \"offset\" = %s, source = 'manual' "
                 "FROM channels c WHERE c.channel_id = lc.channel_id "
                 "AND c.measurement_point_id = %s", (*logger, point_id(conn, point)))
    sensor = conn.execute("INSERT INTO sensors (sensor_type, serial_number) "
                          "VALUES ('anemometer', %s) RETURNING sensor_id",
                          (f"SN-{point}",)).fetchone()["sensor_id"]
    conn.execute("INSERT INTO sensor_installations (sensor_id, measurement_point_id) "
                 "VALUES (%s, %s)", (sensor, point_id(conn, point)))
    for slope, offset, valid_from, valid_to in calibrations:
        conn.execute("INSERT INTO calibrations (sensor_id, slope, \"offset\", valid_from, "
                     "valid_to) VALUES (%s, %s, %s, %s, %s)",
                     (sensor, slope, offset, valid_from, valid_to))
    return sensor


def value(mast, name, ts, *, clean=True):
    frame = mast.readings(channels=[name], start=ts, end=ts.replace(minute=ts.minute + 1),
                          clean=clean)
    assert frame.height == 1, frame
    return frame["value"][0]


def test_without_a_certificate_the_logged_value_stands(mast):
    assert value(mast, "Speed 80m 0deg Mean [m/s]", FIRST) == 8.37


def test_anemometer_recalibrated_with_its_certificate(conn, mast):
    install_anemometer(conn, "Spd80mN", (0.04577, 0.2528, "-infinity", "infinity"))
    # (8.37 - 0.21) / 0.0462 * 0.04577 + 0.2528 = 176.6233766 * 0.04577 + 0.2528 = 8.3368520
    assert value(mast, "Speed 80m 0deg Mean [m/s]", FIRST) == pytest.approx(8.3368520, abs=1e-6)
    # the maximum (11.37) maps the same way: 241.5584416 * 0.04577 + 0.2528 = 11.3089299
    assert value(mast, "Speed 80m 0deg Max [m/s]", FIRST) == pytest.approx(11.3089299, abs=1e-6)
    # a standard deviation scales but does not shift: 1.24 / 0.0462 * 0.04577 = 1.2284589
    assert value(mast, "Speed 80m 0deg SD [m/s]", FIRST) == pytest.approx(1.2284589, abs=1e-6)
    # the raw reading is untouched
    assert value(mast, "Speed 80m 0deg Mean [m/s]", FIRST, clean=False) == 8.37
    assert conn.execute("SELECT count(*) AS n FROM readings WHERE value = 8.37").fetchone()["n"]


def test_a_calibration_change_mid_file_applies_from_its_date_only(conn, mast):
    change = datetime(2016, 1, 10, tzinfo=UTC)
    install_anemometer(conn, "Spd80mN", (0.04577, 0.2528, "-infinity", change),
                       (0.0460, 0.20, change, "infinity"))
    before = mast.readings(channels=["Speed 80m 0deg Mean [m/s]"], end=change)
    after = mast.readings(channels=["Speed 80m 0deg Mean [m/s]"], start=change)
    assert before.height + after.height == 188
    assert before["value"][0] == pytest.approx(8.3368520, abs=1e-6)
    # last row 10.59 raw: (10.59 - 0.21) / 0.0462 * 0.0460 + 0.20 = 224.6753247 * 0.046 + 0.2
    assert after["ts"][-1] == LAST
    assert after["value"][-1] == pytest.approx(10.5350649, abs=1e-6)


def test_a_late_correction_changes_derived_values_without_reimport(conn, mast):
    sensor = install_anemometer(conn, "Spd80mN", (0.05, 0.0, "-infinity", "infinity"))
    first = value(mast, "Speed 80m 0deg Mean [m/s]", FIRST)
    assert first == pytest.approx((8.37 - 0.21) / 0.0462 * 0.05, abs=1e-9)
    conn.execute("UPDATE calibrations SET slope = 0.04577, \"offset\" = 0.2528 "
                 "WHERE sensor_id = %s", (sensor,))
    assert value(mast, "Speed 80m 0deg Mean [m/s]", FIRST) == pytest.approx(8.3368520, abs=1e-6)
    assert conn.execute("SELECT count(*) AS n FROM files").fetchone()["n"] == 1


def test_a_logger_reconfigured_on_a_date(conn, mast):
    """The logger's own slope changes on a date; the certificate stays."""
    install_anemometer(conn, "Spd80mN", (0.04577, 0.2528, "-infinity", "infinity"))
    channel = conn.execute(
        "SELECT lc.logger_config_id, lc.channel_id FROM logger_configs lc "
        "WHERE lc.column_name = 'Spd80mN'").fetchone()
    change = datetime(2016, 1, 10, tzinfo=UTC)
    conn.execute("UPDATE logger_configs SET valid_to = %s WHERE logger_config_id = %s",
                 (change, channel["logger_config_id"]))
    conn.execute("INSERT INTO logger_configs (logger_id, column_name, channel_id, slope, "
                 "\"offset\", valid_from, source) SELECT logger_id, column_name, channel_id, "
                 "0.765, 0.35, %s, 'manual' FROM logger_configs WHERE logger_config_id = %s",
                 (change, channel["logger_config_id"]))
    after = mast.readings(channels=["Speed 80m 0deg Mean [m/s]"], start=change)
    # (10.59 - 0.35) / 0.765 * 0.04577 + 0.2528 = 13.3856209 * 0.04577 + 0.2528 = 0.8654599
    assert after["value"][-1] == pytest.approx(0.8654599, abs=1e-6)
    before = mast.readings(channels=["Speed 80m 0deg Mean [m/s]"], end=change)
    assert before["value"][0] == pytest.approx(8.3368520, abs=1e-6)


def test_wind_vane_dead_band_offset_wraps_to_0_360(conn, mast):
    conn.execute("INSERT INTO mounting_arrangements (measurement_point_id, "
                 "vane_dead_band_orientation_deg, boom_orientation_deg) VALUES (%s, 180, 180)",
                 (point_id(conn, "Dir78mS"),))
    # first row 114.2 + 180 = 294.2; last row 208.5 + 180 = 388.5 -> 28.5
    assert value(mast, "Direction 78m 180deg Mean [deg]", FIRST) == pytest.approx(294.2)
    assert value(mast, "Direction 78m 180deg Mean [deg]", LAST) == pytest.approx(28.5)
    # the direction's standard deviation does not turn: 6.1 stays 6.1
    assert value(mast, "Direction 78m 180deg SD [deg]", FIRST) == pytest.approx(6.1)
    directions = mast.readings(channels=["Direction 78m 180deg Mean [deg]"])
    assert directions["value"].min() >= 0 and directions["value"].max() < 360


def test_a_vane_logger_offset_is_replaced_by_the_dead_band_not_added_to(conn, mast):
    """Task 43: the logger offset is already in the recorded value, so a vane turns by
    dead band - logger offset (issue 13: 120.9 came out 300.9 with both at 180)."""
    conn.execute("UPDATE logger_configs SET slope = 0.351, \"offset\" = 180, source = 'manual' "
                 "WHERE column_name IN ('Dir78mS', 'Dir78mSStd')")
    conn.execute("INSERT INTO mounting_arrangements (measurement_point_id, "
                 "vane_dead_band_orientation_deg) VALUES (%s, 180)", (point_id(conn, "Dir78mS"),))
    assert value(mast, "Direction 78m 180deg Mean [deg]", FIRST) == pytest.approx(114.2)
    conn.execute("UPDATE mounting_arrangements SET vane_dead_band_orientation_deg = 90")
    # 114.2 + (90 - 180) = 24.2; last row 208.5 - 90 = 118.5
    assert value(mast, "Direction 78m 180deg Mean [deg]", FIRST) == pytest.approx(24.2)
    assert value(mast, "Direction 78m 180deg Mean [deg]", LAST) == pytest.approx(118.5)
    assert value(mast, "Direction 78m 180deg SD [deg]", FIRST) == pytest.approx(6.1)
    conn.execute("UPDATE mounting_arrangements SET vane_dead_band_orientation_deg = 300")
    # 208.5 + (300 - 180) = 328.5; 114.2 + 120 = 234.2
    assert value(mast, "Direction 78m 180deg Mean [deg]", LAST) == pytest.approx(328.5)


def test_a_vane_with_no_dead_band_keeps_the_logged_direction(conn, mast):
    conn.execute("UPDATE logger_configs SET \"offset\" = 180, source = 'manual' "
                 "WHERE column_name = 'Dir78mS'")
    assert value(mast, "Direction 78m 180deg Mean [deg]", FIRST) == 114.2


def test_a_vane_certificate_removes_the_logger_offset_once(conn, mast):
    """With a certificate and a dead band: wrap((raw - c_l) / m_l * m_c + c_c + d). brightwind's
    adjust_slope_offset followed by apply_wind_vane_deadband_offset would take c_l off twice
    ((raw - c_l) / m_l * m_c + c_c + d - c_l); stationlab takes it off once, on purpose."""
    conn.execute("UPDATE logger_configs SET slope = 0.351, \"offset\" = 10, source = 'manual' "
                 "WHERE column_name = 'Dir78mS'")
    install_anemometer(conn, "Dir78mS", (0.35, 2.0, "-infinity", "infinity"),
                       logger=(0.351, 10.0))
    conn.execute("INSERT INTO mounting_arrangements (measurement_point_id, "
                 "vane_dead_band_orientation_deg) VALUES (%s, 180)", (point_id(conn, "Dir78mS"),))
    # (114.2 - 10) / 0.351 * 0.35 + 2 + 180 = 296.8991453
    assert value(mast, "Direction 78m 180deg Mean [deg]", FIRST) == pytest.approx(
        (114.2 - 10) / 0.351 * 0.35 + 182, abs=1e-9)


def test_a_sensitivity_only_certificate_is_not_applied(conn, mast):
    sensor = install_anemometer(conn, "Spd80mN", logger=(0.0462, 0.21))
    conn.execute("INSERT INTO calibrations (sensor_id, slope, \"offset\") VALUES (%s, NULL, 0)",
                 (sensor,))
    assert value(mast, "Speed 80m 0deg Mean [m/s]", FIRST) == 8.37
