"""Clean values checked against brightwind, the field's open library (MIT), computed both ways.

brightwind is the reference: its ``apply_cleaning`` (the demo cleaning file), its
``adjust_slope_offset`` (certificate re-calibration) and ``apply_wind_vane_deadband_offset``
(vane turned by ``dead band - logger offset``) applied to the demo mast's file must give the
clean readings stationlab computes in SQL, column by column, to 1e-9. Where the two differ by
convention the difference is pinned by its own test, named after it.
"""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import polars as pl
import pytest

with warnings.catch_warnings():  # its map dependency (gmaps) warns about traitlets on import
    warnings.simplefilter("ignore")
    import brightwind as bw
    from brightwind.load import station as bw_station

from stationlab import flags, ingest, metadata
from stationlab.metadata import iea43

from .conftest import REAL_DATA, REPO

DEMO_DOC = REAL_DATA / "iea43" / "demo_data_iea43_wra_data_model.json"
DEMO_FILE = REAL_DATA / "campbell_toa5" / "campbell_scientific_demo_data1.csv"
CLEANING = REAL_DATA / "brightwind_cleaning" / "demo_cleaning_file.csv"
SCHEMAS = REPO / "stationlab" / "metadata" / "schemas"
INTERVAL = pd.Timedelta(minutes=10)


def _local_schema(dm):
    """brightwind downloads the Task 43 schema from GitHub; the tests read nothing outside the
    repository, so it gets the same schema file from stationlab's copy."""
    version = dm["version"][:3].replace(".", "_")
    return json.loads((SCHEMAS / f"iea43_wra_data_model.schema_v{version}.json").read_text())


@pytest.fixture
def measurement_station(monkeypatch):
    monkeypatch.setattr(bw_station.MeasurementStation, "_get_schema",
                        staticmethod(_local_schema))
    return bw.MeasurementStation(str(DEMO_DOC))


@pytest.fixture
def demo_mast(conn, db):
    """The demo mast bound to its Task 43 document, with the demo cleaning file as flags."""
    metadata.import_document(DEMO_DOC, dsn=db)
    ingest.import_paths([DEMO_FILE], station="Demo Mast", dsn=db)
    flags.import_flag_file(conn, CLEANING, "Demo Mast", author="test")
    return conn


def brightwind_data() -> pd.DataFrame:
    """The demo file as brightwind loads it, relabelled to the start of each interval (see
    test_brightwind_labels_the_demo_file_by_interval_end_and_month_first)."""
    data = bw.load_campbell_scientific(str(DEMO_FILE), dayfirst=True)
    data.index = data.index - INTERVAL
    return data.drop(columns=["RECORD", "Site", "LoggerID"])


def brightwind_clean(data: pd.DataFrame, measurements) -> pd.DataFrame:
    """brightwind's clean data: cleaning, certificate re-calibration, vane dead band."""
    data = bw.apply_cleaning(data, str(CLEANING))
    for prop in measurements.properties:
        cert_slope, cert_offset = prop.get("calibration.slope"), prop.get("calibration.offset")
        if cert_slope is None:
            continue
        slope = prop["logger_measurement_config.slope"]
        offset = prop["logger_measurement_config.offset"]
        mask = data.index >= pd.Timestamp(prop["date_from"])
        if prop.get("date_to"):
            mask &= data.index < pd.Timestamp(prop["date_to"])
        name = prop["name"]
        for column in (name, f"{name}Max", f"{name}Min", f"{name}Gust"):
            if column in data:
                data.loc[mask, column] = bw.adjust_slope_offset(
                    data.loc[mask, column], slope, offset, cert_slope, cert_offset)
        if f"{name}Std" in data:  # a standard deviation scales: offsets 0
            data.loc[mask, f"{name}Std"] = bw.adjust_slope_offset(
                data.loc[mask, f"{name}Std"], slope, 0.0, cert_slope, 0.0)
    return bw.apply_wind_vane_deadband_offset(data, measurements)


def stationlab_clean(conn) -> pd.DataFrame:
    rows = conn.execute(
        "SELECT lc.column_name, r.ts, r.value FROM clean_readings("
        "(SELECT array_agg(channel_id) FROM channels c JOIN stations s USING (station_id) "
        "WHERE s.name = 'Demo Mast'), '-infinity', 'infinity') r "
        "JOIN (SELECT DISTINCT channel_id, column_name FROM logger_configs) lc "
        "USING (channel_id)").fetchall()
    frame = pd.DataFrame(rows).pivot(index="ts", columns="column_name", values="value")
    frame.index = frame.index.tz_convert(None)
    return frame


def angle_difference(a, b):
    """|a - b| on the circle [deg]: 359.9999999999 and 0 are 1e-10 apart."""
    d = np.abs(np.asarray(a, float) - np.asarray(b, float)) % 360
    return np.minimum(d, 360 - d)


def test_demo_mast_clean_readings_equal_brightwind_column_by_column(demo_mast,
                                                                     measurement_station):
    expected = brightwind_clean(brightwind_data(), measurement_station.measurements)
    ours = stationlab_clean(demo_mast)
    numeric = [c for c in expected.columns if c in ours.columns]
    assert set(numeric) == set(expected.columns)  # every column of the file
    for column in numeric:
        theirs = expected[column].astype(float)
        mine = ours[column].reindex(theirs.index)
        assert list(mine.isna()) == list(theirs.isna()), column  # the same readings left out
        kept = theirs.notna()
        if column.startswith("Dir") and not column.endswith("Std"):
            assert angle_difference(mine[kept], theirs[kept]).max() < 1e-9, column
            assert mine[kept].min() >= 0 and mine[kept].max() < 360
        else:
            np.testing.assert_allclose(mine[kept], theirs[kept], rtol=0, atol=1e-9,
                                       err_msg=column)
    # The bug of issue 13: logger offset 180, dead band 180: the stored value stands.
    first = datetime(2016, 1, 10, tzinfo=UTC)
    raw = demo_mast.execute("SELECT r.value FROM readings r JOIN logger_configs lc "
                            "USING (channel_id) WHERE lc.column_name = 'Dir78mS' AND r.ts = %s",
                            (first,)).fetchone()["value"]
    assert ours.loc[first.replace(tzinfo=None), "Dir78mS"] == pytest.approx(raw, abs=1e-9)


def test_a_stored_120_9_of_dir78ms_is_not_turned_to_300_9(demo_mast):
    row = demo_mast.execute(
        "SELECT r.channel_id, r.ts FROM readings r JOIN logger_configs lc USING (channel_id) "
        "WHERE lc.column_name = 'Dir78mS' AND r.ts > '2016-01-09 18:00+00' LIMIT 1").fetchone()
    demo_mast.execute("UPDATE readings SET value = 120.9 WHERE channel_id = %s AND ts = %s",
                      (row["channel_id"], row["ts"]))
    clean = demo_mast.execute("SELECT value FROM clean_readings(ARRAY[%s], %s, %s)",
                              (row["channel_id"], row["ts"], row["ts"] + timedelta(minutes=1))
                              ).fetchone()["value"]
    assert clean == pytest.approx(120.9, abs=1e-9)  # 120.9 + (180 - 180)


def test_brightwind_labels_the_demo_file_by_interval_end_and_month_first():
    """Two conventions differ, and stationlab's are pinned: brightwind keeps the Campbell stamp
    (the end of the averaging interval) and reads ``09/01/2016`` month first (1 September) unless
    told ``dayfirst``; stationlab stores the start of the interval in UTC and reads the
    spreadsheet-saved stamps day first (9 January, as the RECORD numbers require). So the
    comparison above relabels brightwind's frame to interval starts, and the cleaning file's
    stamps are applied to interval starts by both."""
    default = bw.load_campbell_scientific(str(DEMO_FILE))
    assert default.index[0] == pd.Timestamp("2016-09-01 15:30")
    ours = brightwind_data()
    assert ours.index[0] == pd.Timestamp("2016-01-09 15:20")  # first stored stamp


def test_recovery_and_monthly_means_equal_brightwinds_coverage_and_monthly_means(
        demo_mast, db, measurement_station, monkeypatch):
    import stationlab

    expected = brightwind_clean(brightwind_data(), measurement_station.measurements)
    monkeypatch.setenv("STATIONLAB_DSN", db)
    with stationlab.connect() as client:
        mast = client.station("Demo Mast")
        monthly = mast.monthly(clean=True).to_pandas()
        recovery = mast.recovery(clean=True)
    columns = {r["channel_id"]: r["column_name"] for r in demo_mast.execute(
        "SELECT DISTINCT channel_id, column_name FROM logger_configs").fetchall()}
    monthly["column"] = monthly["channel_id"].map(columns)
    coverage = bw.coverage(expected, period="1M")
    means = bw.monthly_means(expected, return_data=True)[1]
    assert len(coverage) == len(means) == 1  # the demo file is two days of January 2016
    compared = 0
    for row in monthly.itertuples():
        if row.column not in expected:
            continue
        assert row.recovery == pytest.approx(coverage[f"{row.column}_Coverage"].iloc[0],
                                             abs=1e-9), row.column
        assert recovery.filter(recovery["name"] == row.name)["2016-01"][0] == pytest.approx(
            coverage[f"{row.column}_Coverage"].iloc[0], abs=1e-9), row.column
        assert row.mean == pytest.approx(means[row.column].iloc[0], abs=1e-9), row.column
        compared += 1
    assert compared == len(expected.columns)


def test_calibration_editor_preview_shows_brightwinds_numbers(demo_mast, measurement_station):
    """The editor's preview (the real SQL, rolled back) before and after a certificate
    correction equals brightwind's clean data before and after the same correction."""
    from stationlab.calibration import CalibrationRepository
    from stationlab.widgets import CalibrationEditor

    sensor = demo_mast.execute(
        "SELECT si.sensor_id FROM sensor_installations si JOIN measurement_points p "
        "USING (measurement_point_id) WHERE p.name = 'Spd80mS'").fetchone()["sensor_id"]
    editor = CalibrationEditor(CalibrationRepository(demo_mast, author="ana"),
                               station="Demo Mast")
    editor.sensor = sensor
    editor._table.selection = [0]
    assert (editor.slope, editor.offset) == (0.84449, 0.3209)  # the document's certificate
    editor.slope, editor.offset = 0.85, 0.3
    assert editor.show_preview()
    columns = {r["channel_id"]: r["column_name"] for r in demo_mast.execute(
        "SELECT DISTINCT channel_id, column_name FROM logger_configs").fetchall()}
    preview = editor.comparison.to_pandas()
    preview["column"] = preview["channel_id"].map(columns)
    preview["ts"] = preview["ts"].dt.tz_convert(None)
    data = brightwind_data()
    before = brightwind_clean(data, measurement_station.measurements)
    for prop in measurement_station.measurements.properties:
        if prop["name"] == "Spd80mS":
            prop["calibration.slope"], prop["calibration.offset"] = 0.85, 0.3
    after = brightwind_clean(data, measurement_station.measurements)
    assert set(preview["column"]) == {"Spd80mS", "Spd80mSStd", "Spd80mSMax"}
    for row in preview.itertuples():
        if pd.isna(before.at[row.ts, row.column]):
            continue
        assert row.before == pytest.approx(before.at[row.ts, row.column], abs=1e-9)
        assert row.after == pytest.approx(after.at[row.ts, row.column], abs=1e-9)
    assert "readings change" in editor.message


def test_demo_mast_clean_export_equals_brightwind_column_by_column(
        demo_mast, db, measurement_station, tmp_path, monkeypatch):
    """The clean Parquet export of the demo mast: every column equals brightwind's."""
    import polars as pl

    import stationlab
    from stationlab.export import export_station

    export_station("Demo Mast", tmp_path / "clean.parquet", format="parquet", dsn=db,
                   clean=True)
    exported = pl.read_parquet(tmp_path / "clean.parquet").to_pandas()
    monkeypatch.setenv("STATIONLAB_DSN", db)
    with stationlab.connect() as client:
        names = client.station("Demo Mast").readings(clean=False).select(
            "channel_id", "name").unique().to_pandas()
    column_of = {r["channel_id"]: r["column_name"] for r in demo_mast.execute(
        "SELECT DISTINCT channel_id, column_name FROM logger_configs").fetchall()}
    expected = brightwind_clean(brightwind_data(), measurement_station.measurements)
    stamps = [c for c in exported.columns if exported[c].dtype.kind == "M"]
    assert len(stamps) == 1
    index = pd.DatetimeIndex(exported.pop(stamps[0]))
    exported.index = index if index.tz is None else index.tz_convert(None)
    compared = set()
    for row in names.itertuples():
        column = column_of.get(row.channel_id)  # None: a text column (Site)
        if column not in expected:
            continue
        theirs = expected[column].astype(float)
        mine = exported[row.name].astype(float).reindex(theirs.index)
        assert list(mine.isna()) == list(theirs.isna()), column
        kept = theirs.notna()
        difference = np.abs(mine[kept] - theirs[kept])
        if column.startswith("Dir") and not column.endswith("Std"):
            difference = angle_difference(mine[kept], theirs[kept])
        assert difference.max() < 1e-9, column
        compared.add(column)
    assert compared == set(expected.columns)


def test_brightwind_reads_our_windographer_export_as_a_windographer_file(demo_mast, db,
                                                                          tmp_path):
    """brightwind's own Windographer loader, a real client of these files: no "doesn't seem to
    be a Windographer file" warning, and every value as stored."""
    from stationlab.export import export_station

    out = tmp_path / "mast.txt"
    export_station("Demo Mast", out, dsn=db)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = bw.load_windographer_txt(str(out))
    assert out.read_text().splitlines()[0].endswith("(Windographer text format)")
    stored = demo_mast.execute(
        "SELECT count(*) AS n FROM readings r JOIN channels c USING (channel_id) "
        "JOIN stations s USING (station_id) WHERE s.name = 'Demo Mast' AND c.kind = 'number'"
    ).fetchone()["n"]
    assert int(loaded.notna().sum().sum()) == stored
    speed = next(c for c in loaded.columns if c.startswith("Speed 80m") and " Mean " in c)
    first = demo_mast.execute(
        "SELECT r.value FROM readings r JOIN logger_configs l USING (channel_id) "
        "WHERE l.column_name = 'Spd80mN' ORDER BY r.ts LIMIT 1").fetchone()["value"]
    assert loaded[speed].dropna().iloc[0] == pytest.approx(first)


@pytest.fixture
def demo_station(demo_mast, db):
    """The demo mast of :func:`demo_mast` as a :class:`stationlab.api.Station`."""
    import stationlab

    with stationlab.connect(db) as client:
        yield client.station("Demo Mast")


@pytest.fixture
def close_plots():
    """brightwind draws a matplotlib figure for every analysis; close them after the test."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_to_brightwind_clean_is_brightwinds_own_clean_frame(demo_station, measurement_station):
    """The demo file through brightwind's loader, cleaning file, re-calibration and dead band
    is what ``to_brightwind(clean=True)`` gives: the same stamps, a column per file column
    under the logger's name, the same readings left out (NaN), the same values to 1e-9."""
    expected = brightwind_clean(brightwind_data(), measurement_station.measurements)
    frame = demo_station.to_brightwind(clean=True)
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert (frame.index.name, str(frame.index.dtype), frame.index.tz) == (
        "Timestamp", "datetime64[ns]", None)
    assert frame.index.equals(expected.index)  # interval starts, with the file's gaps
    assert frame.index[0] == pd.Timestamp("2016-01-09 15:20")
    assert frame.index.to_series().diff().mode()[0] == INTERVAL
    # every column of the file; LoggerID, which brightwind_data drops, is a channel too
    assert set(frame.columns) == set(expected.columns) | {"LoggerID"}
    assert list(frame.columns[:6]) == ["Spd80mN", "Spd80mNStd", "Spd80mNMax", "Spd80mS",
                                       "Spd80mSStd", "Spd80mSMax"]
    assert (frame.dtypes == "float64").all()
    for column in expected.columns:
        theirs = expected[column].astype(float)
        mine = frame[column]
        assert list(mine.isna()) == list(theirs.isna()), column
        kept = theirs.notna()
        if column.startswith("Dir") and not column.endswith("Std"):
            assert angle_difference(mine[kept], theirs[kept]).max() < 1e-9, column
        else:
            np.testing.assert_allclose(mine[kept], theirs[kept], rtol=0, atol=1e-9,
                                       err_msg=column)
    assert frame["Spd80mN"].isna().sum() > 0  # the cleaning file did leave readings out


def test_to_brightwind_raw_is_the_file_as_brightwind_loads_it(demo_station):
    expected = brightwind_data().astype(float)
    frame = demo_station.to_brightwind(clean=False)
    pd.testing.assert_frame_equal(frame[list(expected.columns)], expected, check_names=False,
                                  check_exact=False, rtol=0, atol=1e-12)
    speeds = demo_station.to_brightwind(clean=False, types=["wind_speed"], statistics=["avg"])
    assert list(speeds.columns) == ["Spd80mN", "Spd80mS", "Spd60mN", "Spd60mS", "Spd40mN",
                                    "Spd40mS"]
    late = demo_station.to_brightwind(start="2016-01-10T23:00", end="2016-01-11")
    assert list(late.index) == list(pd.date_range("2016-01-10 23:00", "2016-01-10 23:40",
                                                  freq="10min"))
    none = demo_station.to_brightwind(start="2020-01-01")
    assert none.empty and isinstance(none.index, pd.DatetimeIndex)
    assert list(none.columns) == list(frame.columns)


def test_shear_and_monthly_means_from_to_brightwind_equal_brightwind_on_the_demo_file(
        demo_station, measurement_station, close_plots):
    """The example notebook's analysis, both ways: brightwind's shear (per interval and on
    average) and monthly means of ``to_brightwind(clean=True)``, with the anemometers and
    heights the database gives, equal brightwind's own on the demo file with the anemometers
    and heights of the Task 43 document; and the power law fitted here by least squares."""
    expected = brightwind_clean(brightwind_data(), measurement_station.measurements)
    frame = demo_station.to_brightwind(clean=True)
    # the frame's columns follow channels(): the anemometers on the north booms, with heights
    speeds = demo_station.channels(types=["wind_speed"], statistics=["avg"])
    north = (speeds["orientation_deg"] == 0).to_list()
    anemometers = demo_station.to_brightwind(clean=True, types=["wind_speed"],
                                             statistics=["avg"]).loc[:, north]
    names, heights = list(anemometers.columns), speeds.filter(north)["height_m"].to_list()
    assert (names, heights) == (["Spd80mN", "Spd60mN", "Spd40mN"], [80.0, 60.0, 40.0])
    documented = measurement_station.measurements.get_heights(names)

    ours = bw.Shear.TimeSeries(frame[names], heights)
    theirs = bw.Shear.TimeSeries(expected[names], documented)
    assert list(ours.alpha.isna()) == list(theirs.alpha.isna())
    valid = ours.alpha.notna()
    assert valid.sum() == 178
    np.testing.assert_allclose(ours.alpha[valid], theirs.alpha[valid], rtol=0, atol=1e-12)
    fitted = [np.polyfit(np.log(heights), np.log(row), 1)[0]
              for row in frame.loc[valid, names].to_numpy()]
    np.testing.assert_allclose(ours.alpha[valid], fitted, rtol=0, atol=1e-12)
    average = bw.Shear.Average(frame[names], heights).alpha
    assert average == pytest.approx(bw.Shear.Average(expected[names], documented).alpha,
                                    abs=1e-12)
    assert average == pytest.approx(np.polyfit(
        np.log(heights), np.log(frame.loc[valid, names].mean().to_numpy()), 1)[0], abs=1e-12)

    means = bw.monthly_means(frame, return_data=True)[1]
    their_means = bw.monthly_means(expected, return_data=True)[1]
    pd.testing.assert_frame_equal(means[list(expected.columns)], their_means, check_exact=False,
                                  rtol=0, atol=1e-9)
    monthly = demo_station.monthly(clean=True).filter(pl.col("name") == demo_station.channels(
        ).filter(pl.col("point_name") == "Spd80mN", pl.col("statistic") == "avg")["name"][0])
    assert means["Spd80mN"].iloc[0] == pytest.approx(monthly["mean"][0], abs=1e-9)  # in SQL


def test_to_brightwind_names_clashing_columns_after_their_measurement_point(db, real_data):
    """Two tables of one logger with a column of the same name (PTemp_C_Max hourly and
    daily): each gets its point's name, so no column hides the other."""
    import stationlab

    ingest.import_paths([real_data / "campbell_toa5/pytoa5/TestLogger_Hourly_1.dat",
                         real_data / "campbell_toa5/pytoa5/TestLogger_Daily_1.dat"], dsn=db)
    with stationlab.connect(db) as client:
        frame = client.station("TestLogger").to_brightwind(clean=False)
    assert "PTemp_C_Max (PTemp_C)" in frame and "PTemp_C_Max (PTemp_C (Daily))" in frame
    assert "BattV" in frame and "PTemp_C_Max" not in frame
    assert frame.columns.is_unique
    hourly = frame["PTemp_C_Max (PTemp_C)"].dropna()
    daily = frame["PTemp_C_Max (PTemp_C (Daily))"].dropna()
    assert len(hourly) > len(daily) >= 1


@pytest.mark.parametrize("station", ["Demo Mast", "Crows Nest"])
def test_brightwind_measurement_station_reads_meta_export(db, conn, real_data, tmp_path,
                                                          monkeypatch, station):
    """``stationlab meta export`` of a documented station (the demo mast) and of one known only
    from its files (an NRG LOGR header's site): brightwind's ``MeasurementStation`` loads it,
    and its mast location and measurement points (names, heights, types) are the database's."""
    from .test_cli import stationlab

    monkeypatch.setattr(bw_station.MeasurementStation, "_get_schema",
                        staticmethod(_local_schema))
    if station == "Demo Mast":
        metadata.import_document(DEMO_DOC, dsn=db)
        ingest.import_paths([DEMO_FILE], station="Demo Mast", dsn=db)
    else:
        ingest.import_paths([real_data / "nrg_logr/20220418_0700_000511_001183_statistical.dat"],
                            dsn=db)
    out = tmp_path / "station.json"
    run = stationlab("meta", "export", "--station", station, "--out", out)
    assert run.returncode == 0, run.stderr
    loaded = bw.MeasurementStation(str(out))
    site = conn.execute("SELECT latitude, longitude, station_type FROM stations "
                        "WHERE name = %s", (station,)).fetchone()
    assert (loaded.name, loaded.lat, loaded.long, loaded.type) == (
        station, site["latitude"], site["longitude"], site["station_type"])
    points = conn.execute(
        "SELECT p.name, p.height_m, p.measurement_type FROM measurement_points p "
        "JOIN stations s USING (station_id) WHERE s.name = %s", (station,)).fetchall()
    stored = {p["name"]: (p["height_m"], p["measurement_type"]) for p in points}
    names = loaded.measurements.names
    heights = [None if np.isnan(h) else h for h in loaded.measurements.get_heights(names)]
    types = {p["name"]: p["measurement_type_id"] for p in loaded.measurements.properties}
    notes = {p["name"]: p.get("notes") for p in loaded.measurements.properties}
    # a type the data model does not list is "other", with a note naming the stored type
    document = json.loads(out.read_text())
    listed = set(iea43.schema(iea43.schema_key(document, ""))["definitions"]
                 ["measurement_type"]["enum"])
    for name, (_, kind) in stored.items():
        if kind not in listed:
            assert (types[name], notes[name]) == ("other", f"measurement type: {kind}"), name
            types[name] = kind
    assert {n: (h, types[n]) for n, h in zip(names, heights, strict=True)} == stored
    assert {n for n, (_, kind) in stored.items() if kind not in listed} == (
        {"Ch308"} if station == "Crows Nest" else set())  # solar_zenith_angle
    assert len(stored) == {"Demo Mast": 14, "Crows Nest": 42}[station]
    if station == "Demo Mast":  # and the points' file columns are to_brightwind's columns
        import stationlab as sl

        columns = {c["column_name"] for p in loaded.measurements.properties
                   for c in p["logger_measurement_config.column_name"]}
        with sl.connect(db) as client:
            frame = client.station(station).to_brightwind()
        assert columns - set(frame.columns) == set()
        assert set(frame.columns) - columns == {"LoggerID"}  # a file column the document omits
        assert loaded.measurements.wspd_heights == [80.0, 80.0, 60.0, 60.0, 40.0, 40.0]
