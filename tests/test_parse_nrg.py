"""NRG SymphoniePRO exports and LOGR files: the real files, their header, history and import."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from stationlab import ingest, parse, storage
from stationlab.errors import ParseError
from stationlab.parse import nrg_logr, nrg_symphoniepro

SYMPRO = "nrg_symphoniepro/004310_2022-03-17_00.00_000835_meas.txt"
LOGR = "nrg_logr/20240111_1339_000304_002995_statistical.dat"


def test_symphoniepro_frame_header_and_utc(real_data):
    parsed = nrg_symphoniepro.read_symphoniepro(real_data / SYMPRO)
    assert parsed.format == "nrg_symphoniepro"
    assert parsed.data.shape == (370, 64)
    assert parsed.interval == timedelta(minutes=1)
    # 2022-03-17 00:00:00 at UTC-5:00 is 05:00 UTC, the start of the minute.
    assert parsed.data["ts"][0] == datetime(2022, 3, 17, 5, 0, tzinfo=UTC)
    assert parsed.data["ts"][-1] == datetime(2022, 3, 17, 11, 9, tzinfo=UTC)
    expected = pl.DataFrame({
        "ts": [datetime(2022, 3, 17, 5, 0, tzinfo=UTC), datetime(2022, 3, 17, 5, 1, tzinfo=UTC)],
        "Ch2_Anem_85.00m_S_Avg_m/s": [0.139, 0.139],
        "Ch13_Analog_40.00m_N_Avg_C": [22.771816, 22.768403],
        "Ch14_Analog_0.00m_N_SD_hPa": [0.018606, 0.018606],
        "Ch15_Vane_10.00m_SSE_GustDir_Deg": [345.0, 345.0],
    }, schema_overrides={"ts": pl.Datetime("us", "UTC")})
    assert parsed.data.select(expected.columns).head(2).equals(expected)
    assert parsed.header["station_name"] == "Tech Services test"
    assert parsed.header["logger_model"] == "SymphoniePRO Logger (8206)"
    assert parsed.header["logger_serial"] == "820604310"
    assert parsed.header["time_zone"] == "UTC-5:00"
    assert parsed.header["latitude"] == "44.5000000"
    columns = {c.name: c for c in parsed.columns}
    assert columns["Ch2_Anem_85.00m_S_SD_m/s"] == parse.Column(
        "Ch2_Anem_85.00m_S_SD_m/s", "sd", "m/s", "number", "SD")
    assert columns["Ch15_Vane_10.00m_SSE_GustDir_Deg"].statistic == "gust"
    assert columns["Ch42_ModbusRTU_1.00m_S_Avg_"].unit is None


def test_symphoniepro_sensor_history(real_data):
    parsed = nrg_symphoniepro.read_symphoniepro(real_data / SYMPRO)
    assert [h.channel for h in parsed.channel_history] == [
        "2", "3", "4", "6", "13", "14", "15", "20", "32", "42", "100", "105", "106", "108", "109"]
    ch2 = parsed.channel_history[0]
    assert ch2 == parse.ChannelHistory(
        channel="2", columns=tuple(f"Ch2_Anem_85.00m_S_{s}_m/s"
                                   for s in ("Avg", "SD", "Min", "Max", "Gust")),
        effective_from=datetime(2022, 3, 17, 5, 0, tzinfo=UTC), measurement_type="wind_speed",
        vendor_type="Anemometer", description="NRG S1", serial_number="2020-02-09", unit="m/s",
        height_m=85.0, bearing_deg=189.0, slope=0.0935, offset=0.139)
    types = {h.channel: h.measurement_type for h in parsed.channel_history}
    assert types["13"] == "air_temperature" and types["14"] == "air_pressure"
    assert types["15"] == "wind_direction" and types["100"] == "other"


def test_symphoniepro_without_data_line_names_the_problem(real_data):
    text = (real_data / SYMPRO).read_bytes()
    cut = text[:text.index(b"\nData\n")]
    with pytest.raises(ParseError, match="no line says 'Data'"):
        nrg_symphoniepro.parse_symphoniepro(cut, source="x.txt")


def test_two_history_blocks_for_one_channel_on_the_same_date_are_refused(real_data):
    text = (real_data / SYMPRO).read_text()
    block = text[text.index("Channel:\t2\n"):text.index("Channel:\t3\n")]
    doubled = text.replace(block, block + block, 1)
    with pytest.raises(ParseError, match="channel 2 has two sensor-history blocks") as info:
        nrg_symphoniepro.parse_symphoniepro(doubled.encode(), source="x.txt")
    assert info.value.line == 54  # the second "Channel:\t2" line


def moved_column_file(real_data, tmp_path):
    """The real export with a second history block: channel 2 moved to 60 m, bearing 10 deg,
    with a new scale factor, from 2022-03-17 03:00 local (08:00 UTC)."""
    text = (real_data / SYMPRO).read_text()
    second = ("Channel:\t2\nEffective Date:\t2022-03-17 03:00:00\nType:\tAnemometer\n"
              "Data Logging Mode:\tStatistics\nDescription:\tNRG S1\nSerial Number:\t2020-02-09\n"
              "Height:\t60.00\nBearing:\t10.00\nScale Factor:\t0.09500\nOffset:\t0.20000\n"
              "Units:\tm/s\n\n")
    path = tmp_path / "004310_moved_meas.txt"
    path.write_text(text.replace("Channel:\t3\n", second + "Channel:\t3\n", 1))
    return path


def test_a_column_moved_to_another_point_lands_on_the_right_channel(conn, db, real_data,
                                                                    tmp_path):
    path = moved_column_file(real_data, tmp_path)
    parsed = nrg_symphoniepro.read_symphoniepro(path)
    ch2 = [h for h in parsed.channel_history if h.channel == "2"]
    assert [h.effective_from for h in ch2] == [datetime(2022, 3, 17, 5, tzinfo=UTC),
                                              datetime(2022, 3, 17, 8, tzinfo=UTC)]
    outcome = ingest.import_file(conn, path)
    assert outcome.status == "imported" and not outcome.unassigned, outcome
    rows = conn.execute("""
        SELECT p.name, p.measurement_type, p.height_m, p.orientation_deg, c.statistic,
               lc.slope, lc."offset", lc.source, lc.valid_from,
               nullif(lc.valid_to, 'infinity') AS valid_to,
               count(r.*) AS n, min(r.ts) AS first, max(r.ts) AS last
        FROM logger_configs lc JOIN channels c USING (channel_id)
        JOIN measurement_points p USING (measurement_point_id)
        LEFT JOIN readings r ON r.channel_id = c.channel_id
        WHERE lc.column_name = 'Ch2_Anem_85.00m_S_Avg_m/s'
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 ORDER BY lc.valid_from""").fetchall()
    assert [tuple(r.values()) for r in rows] == [
        ("Ch2 85m 189deg", "wind_speed", 85.0, 189.0, "avg", 0.0935, 0.139,
         "nrg_sensor_history", datetime(2022, 3, 17, 5, tzinfo=UTC),
         datetime(2022, 3, 17, 8, tzinfo=UTC), 180, datetime(2022, 3, 17, 5, tzinfo=UTC),
         datetime(2022, 3, 17, 7, 59, tzinfo=UTC)),
        ("Ch2 60m 10deg", "wind_speed", 60.0, 10.0, "avg", 0.095, 0.2, "nrg_sensor_history",
         datetime(2022, 3, 17, 8, tzinfo=UTC), None, 190,
         datetime(2022, 3, 17, 8, tzinfo=UTC), datetime(2022, 3, 17, 11, 9, tzinfo=UTC))]


def test_later_exports_of_the_logger_reuse_its_configuration(conn, db, real_data):
    outcomes = ingest.import_paths([real_data / "nrg_symphoniepro"])
    assert [o.status for o in outcomes] == ["imported"] * 3
    assert [o.readings for o in outcomes] == [23310, 15120, 15120]
    sources = conn.execute("SELECT source, count(*) AS n FROM logger_configs GROUP BY 1"
                           ).fetchall()
    assert sources == [{"source": "nrg_sensor_history", "n": 63}]
    assert conn.execute("SELECT height_m, orientation_deg FROM measurement_points "
                        "WHERE name = 'Ch15 10m 165deg'").fetchone() == {
        "height_m": 10.0, "orientation_deg": 165.0}


def test_logr_statistical_frame_header_and_history(real_data):
    parsed = nrg_logr.read_logr(real_data / LOGR)
    assert parsed.format == "nrg_logr"
    assert parsed.data.shape == (2, 140)  # 32 channels, NotUsed columns dropped
    assert not any("NotUsed" in c.name for c in parsed.columns)
    assert parsed.data["ts"].to_list() == [datetime(2024, 1, 11, 13, 39, tzinfo=UTC),
                                           datetime(2024, 1, 11, 13, 40, tzinfo=UTC)]
    assert parsed.data["Ch1_Avg_W/m^2"].to_list() == [52.5895, 47.2858]
    assert parsed.interval == timedelta(minutes=1)
    assert {k: parsed.header[k] for k in ("station_name", "logger_model", "logger_serial",
                                          "table_name")} == {
        "station_name": "Crows Nest Counters", "logger_model": "NRG 9432",
        "logger_serial": "304", "table_name": "Statistics"}
    columns = {c.name: c for c in parsed.columns}
    assert columns["Ch12_Gust_Dir_Deg"].statistic == "gust"
    assert columns["Ch14_Avg_deg_C"].unit == "deg_C"
    assert columns["Ch405_Total_mm"].statistic == "sum"
    vane = next(h for h in parsed.channel_history if h.channel == "12")
    assert (vane.measurement_type, vane.slope, vane.offset, vane.effective_from) == (
        "wind_direction", 147.910995, -1.4602, None)


def test_logr_with_a_bom_and_one_second_samples(real_data):
    data = (real_data / "nrg_logr/20240111_1339_000304_002995_onesecond.dat").read_bytes()
    parsed = parse.parse_bytes(codecs.BOM_UTF8 + data, source="x_onesecond.dat")
    assert parsed.format == "nrg_logr"
    assert parsed.interval == timedelta(seconds=1)
    assert parsed.data.height == 115
    assert parsed.columns[0] == parse.Column("Ch1_Samples_W/m^2", "sample", "W/m^2", "number",
                                             "Samples")


def test_logr_event_log_with_either_separator(real_data):
    comma = nrg_logr.read_logr(real_data / "nrg_logr/20240111_1300_000304_002994.log")
    assert comma.records == "events"
    assert comma.data.rows() == [
        (datetime(2024, 1, 11, 13, 0, 1, tzinfo=UTC), "ACTION",
         "SRVEL_ACT_DLGR_CREATING_NEW_PACKAGE_FILE",
         "New Package: 77_1704978000_000304_002994.dat"),
        (datetime(2024, 1, 11, 13, 39, 29, tzinfo=UTC), "ACTION", "SRVEL_ACT_FTP_FILE_DATE_RANGE",
         "Exporting date range of files via FTP")]
    tabs = nrg_logr.read_logr(real_data / "nrg_logr/20240925_2300_9460_00030_000172.log")
    assert tabs.data.height == 21
    assert tabs.data.row(1) == (datetime(2024, 9, 25, 23, 0, 5, tzinfo=UTC), "FAULT",
                                "SRVEL_ERR_ETH_FTPC_DIR_ERR",
                                "SUBSYS_ETHERNET: FTPc Set Dir Error: 218")
    assert tabs.header["logger_serial"] == "12345"


def test_logr_event_line_with_missing_fields_names_its_line(real_data):
    data = (real_data / "nrg_logr/20240111_1300_000304_002994.log").read_bytes()
    with pytest.raises(ParseError, match="expected 5 fields") as info:
        nrg_logr.parse_logr_log(data + b"2024-01-11T13:40:00Z, 1704980400\n", source="x.log")
    assert info.value.line == 26


def test_logr_diagnostics(real_data):
    parsed = nrg_logr.read_logr(real_data / "nrg_logr/20240111_1339_000304_002995.diag")
    assert parsed.records == "diagnostics"
    assert parsed.data.shape == (2, 69)
    columns = {c.name: c for c in parsed.columns}
    assert columns["VIN_RP_V_Avg"] == parse.Column("VIN_RP_V_Avg", "avg", "V", "number",
                                                   "VIN_RP_V")
    assert columns["COMA EXC_mA_SD"].processing == "COMA EXC_mA"
    assert columns["+VIN_RP_Avg"].unit is None
    assert parsed.data["VIN_RP_V_Avg"].to_list() == [16.2086, 16.2094]


def test_events_and_diagnostics_are_stored_once(conn, db, real_data, tmp_path):
    logs = sorted((real_data / "nrg_logr").glob("20240111_*.log")) + sorted(
        (real_data / "nrg_logr").glob("20240111_*.diag"))
    outcomes = ingest.import_paths(logs)
    assert [o.describe().split(": ", 1)[1] for o in outcomes] == [
        "imported 2 logger events into station 'Crows Nest Counters'",
        "imported 1 logger events into station 'Crows Nest Counters'",
        "imported 2,652 diagnostic values into station 'Crows Nest Counters'",
        "imported 136 diagnostic values into station 'Crows Nest Counters'"]
    logger_id = conn.execute("SELECT logger_id FROM loggers WHERE serial_number = '304'"
                             ).fetchone()["logger_id"]
    events = storage.health.events(conn, logger_id)
    assert [e["code"] for e in events] == ["SRVEL_ACT_DLGR_CREATING_NEW_PACKAGE_FILE",
                                           "SRVEL_ACT_FTP_FILE_DATE_RANGE",
                                           "SRVEL_ACT_DLGR_CREATING_NEW_PACKAGE_FILE"]
    supply = [d for d in storage.health.diagnostics(conn, logger_id)
              if d["name"] == "VIN_RP_V" and d["statistic"] == "avg"]
    assert len(supply) == 41 and supply[-1]["value"] == 16.2094 and supply[-1]["unit"] == "V"
    # Same bytes again: a no-op; the same events in other bytes: nothing new.
    again = ingest.import_paths(logs[:1])
    assert again[0].status == "already imported"
    copy = tmp_path / logs[0].name
    copy.write_bytes(logs[0].read_bytes() + b"\n")
    outcome = ingest.import_file(conn, copy)
    assert (outcome.status, outcome.readings, outcome.duplicates) == ("imported", 0, 2)
