"""Generated cases, computed by stationlab's SQL and by brightwind, compared to 1e-9.

Random logger slopes and offsets that change mid-file, certificates valid over part of the
file, vane dead bands (or none) changing mid-file, and flag spans starting and ending exactly on
interval edges, on one column of the demo mast at a time. brightwind side: ``adjust_slope_offset``
per validity period (a standard deviation with offsets 0), ``apply_wind_vane_deadband_offset``
with one property per period and ``apply_cleaning`` with the flags as a cleaning table.
"""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stationlab import flags

with warnings.catch_warnings():  # its map dependency (gmaps) warns about traitlets on import
    warnings.simplefilter("ignore")
    import brightwind as bw

ROWS = 188  # readings per column of the demo file (with gaps: the stamps are not regular)
STEP = timedelta(minutes=10)
#: The stored stamps of the demo file (start of interval, UTC), read by the test.
STAMPS: list[datetime] = []


def stamp(i: int) -> datetime:
    """The i-th stored stamp; ROWS: one interval after the last."""
    return STAMPS[i] if i < ROWS else STAMPS[-1] + (i - ROWS + 1) * STEP


def naive(i: int) -> pd.Timestamp:
    return pd.Timestamp(stamp(i).replace(tzinfo=None))


slopes = st.floats(0.01, 2.0, allow_nan=False, allow_subnormal=False)
offsets = st.floats(-5.0, 5.0, allow_nan=False, allow_subnormal=False)
angles = st.floats(0.0, 359.99, allow_nan=False, allow_subnormal=False)
split = st.integers(1, ROWS - 1)
spans = st.lists(st.tuples(st.integers(0, ROWS - 1), st.integers(1, 40)), max_size=3)
# a span's end index may pass the last reading: stamp() goes on one interval at a time


@st.composite
def cases(draw):
    column = draw(st.sampled_from(["Spd80mN", "Spd80mNStd", "Spd80mNMax", "Dir78mS"]))
    direction = column == "Dir78mS"
    logger_change = draw(split)
    logger = [(draw(slopes), draw(angles if direction else offsets)) for _ in range(2)]
    period_change = draw(split)
    if direction:  # dead band per half, or none known
        periods = [draw(st.none() | angles) for _ in range(2)]
    else:  # certificate per half, or none
        periods = [draw(st.none() | st.tuples(slopes, offsets)) for _ in range(2)]
    return column, logger_change, logger, period_change, periods, draw(spans)


def configure(conn, column, logger_change, logger, period_change, periods, spans) -> int:
    config = conn.execute("SELECT logger_config_id, channel_id, c.measurement_point_id "
                          "FROM logger_configs lc JOIN channels c USING (channel_id) "
                          "WHERE lc.column_name = %s", (column,)).fetchone()
    conn.execute("UPDATE logger_configs SET slope = %s, \"offset\" = %s, valid_to = %s, "
                 "source = 'manual' WHERE logger_config_id = %s",
                 (*logger[0], stamp(logger_change), config["logger_config_id"]))
    conn.execute("INSERT INTO logger_configs (logger_id, column_name, channel_id, slope, "
                 "\"offset\", valid_from, source) SELECT logger_id, column_name, channel_id, "
                 "%s, %s, %s, 'manual' FROM logger_configs WHERE logger_config_id = %s",
                 (*logger[1], stamp(logger_change), config["logger_config_id"]))
    point = config["measurement_point_id"]
    bounds = [("-infinity", stamp(period_change)), (stamp(period_change), "infinity")]
    if column == "Dir78mS":
        for dead_band, (start, end) in zip(periods, bounds, strict=True):
            if dead_band is not None:
                conn.execute("INSERT INTO mounting_arrangements (measurement_point_id, "
                             "vane_dead_band_orientation_deg, valid_from, valid_to) "
                             "VALUES (%s, %s, %s, %s)", (point, dead_band, start, end))
    else:
        sensor = conn.execute("INSERT INTO sensors (sensor_type, serial_number) VALUES "
                              "('anemometer', 'gen') RETURNING sensor_id").fetchone()[
                                  "sensor_id"]
        conn.execute("INSERT INTO sensor_installations (sensor_id, measurement_point_id) "
                     "VALUES (%s, %s)", (sensor, point))
        for cert, (start, end) in zip(periods, bounds, strict=True):
            if cert is not None:
                conn.execute("INSERT INTO calibrations (sensor_id, slope, \"offset\", "
                             "valid_from, valid_to) VALUES (%s, %s, %s, %s, %s)",
                             (sensor, *cert, start, end))
    for start, length in spans:
        flags.add_flag(conn, "some_site", stamp(start), stamp(start + length), "icing",
                       author="test", channel_id=config["channel_id"])
    return config["channel_id"]


def brightwind_expected(raw: pd.Series, column, logger_change, logger, period_change, periods,
                        spans) -> pd.Series:
    data = raw.to_frame(column)
    cuts = sorted({0, logger_change, period_change, ROWS})
    segments = list(zip(cuts, cuts[1:], strict=False))
    if column == "Dir78mS":
        props = [{"name": column, "measurement_type_id": "wind_direction", "height_m": 78,
                  "date_from": naive(i).isoformat(), "date_to": naive(j).isoformat(),
                  "logger_measurement_config.offset": logger[i >= logger_change][1],
                  "vane_dead_band_orientation_deg": periods[i >= period_change]}
                 for i, j in segments]
        data = bw.apply_wind_vane_deadband_offset(data, props)
    else:
        for i, j in segments:
            cert = periods[i >= period_change]
            if cert is None:
                continue
            (m_l, c_l), (m_c, c_c) = logger[i >= logger_change], cert
            if column.endswith("Std"):
                c_l, c_c = 0.0, 0.0
            mask = (data.index >= naive(i)) & (data.index < naive(j))
            data.loc[mask, column] = bw.adjust_slope_offset(data.loc[mask, column], m_l, c_l,
                                                            m_c, c_c)
    cleaning = pd.DataFrame({"Sensor": [column] * len(spans),
                             "Start": [naive(s) for s, _ in spans],
                             "Stop": [naive(s + n) for s, n in spans]})
    return bw.apply_cleaning(data, cleaning)[column]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=cases())
def test_generated_clean_readings_equal_brightwind(conn, mast, case):
    column, *rest = case
    STAMPS[:] = [r["ts"] for r in conn.execute(
        "SELECT DISTINCT ts FROM readings ORDER BY ts").fetchall()]
    assert len(STAMPS) == ROWS
    with conn.transaction():
        channel = configure(conn, column, *rest)
        rows = conn.execute("SELECT ts, raw, value FROM clean_readings(ARRAY[%s], "
                            "'-infinity', 'infinity', NULL, true) ORDER BY ts",
                            (channel,)).fetchall()
        kept = {r["ts"] for r in conn.execute(
            "SELECT ts FROM clean_readings(ARRAY[%s], '-infinity', 'infinity')",
            (channel,)).fetchall()}
        raise psycopg.Rollback()
    assert len(rows) == ROWS
    index = pd.DatetimeIndex([naive(i) for i in range(ROWS)])
    assert [r["ts"] for r in rows] == [stamp(i) for i in range(ROWS)]
    raw = pd.Series([r["raw"] for r in rows], index=index, dtype=float)
    theirs = brightwind_expected(raw, column, *rest)
    ours = pd.Series([r["value"] if r["ts"] in kept else np.nan for r in rows], index=index)
    assert list(ours.isna()) == list(theirs.isna())
    both = theirs.notna()
    difference = np.abs(ours[both] - theirs[both])
    if column == "Dir78mS":
        difference = np.minimum(difference % 360, 360 - difference % 360)
        assert ((ours[both] >= 0) & (ours[both] < 360)).all()
    if both.any():
        assert difference.max() < 1e-9


def test_brightwind_leaves_a_direction_unturned_where_no_dead_band_is_known(conn, mast):
    """No dead band known: brightwind adjusts nothing, and stationlab leaves the logger's value,
    even with a logger offset (it is already in the recorded value)."""
    STAMPS[:] = [r["ts"] for r in conn.execute(
        "SELECT DISTINCT ts FROM readings ORDER BY ts").fetchall()]
    case = ("Dir78mS", 100, [(0.351, 90.0), (0.351, 270.0)], 50, [None, None], [])
    with conn.transaction():
        channel = configure(conn, *case)
        rows = conn.execute("SELECT raw, value FROM clean_readings(ARRAY[%s], '-infinity', "
                            "'infinity')", (channel,)).fetchall()
        raise psycopg.Rollback()
    assert rows and all(r["value"] == r["raw"] for r in rows)
