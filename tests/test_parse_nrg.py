"""NRG SymphoniePRO exports and LOGR files: the real files, their header, history and import."""

from __future__ import annotations

import codecs
import functools
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from stationlab import ingest, parse, storage
from stationlab.errors import ParseError
from stationlab.parse import parse_bytes

parse_logr = functools.partial(parse_bytes, format="nrg_logr")
parse_symphoniepro = functools.partial(parse_bytes, format="nrg_symphoniepro")

SYMPRO = "nrg_symphoniepro/004310_2022-03-17_00.00_000835_meas.txt"
LOGR = "nrg_logr/20240111_1339_000304_002995_statistical.dat"


def test_symphoniepro_frame_header_and_utc(real_data):
    parsed = parse.read(real_data / SYMPRO, format="nrg_symphoniepro")
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
    parsed = parse.read(real_data / SYMPRO, format="nrg_symphoniepro")
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
    assert types["15"] == "wind_direction" and types["100"] == "direct_normal_irradiance"
    assert types["108"] == "other"  # a calculated ratio


def test_symphoniepro_without_data_line_names_the_problem(real_data):
    text = (real_data / SYMPRO).read_bytes()
    cut = text[:text.index(b"\nData\n")]
    with pytest.raises(ParseError, match="no line says 'Data'"):
        parse_symphoniepro(cut, source="x.txt")


def test_two_history_blocks_for_one_channel_on_the_same_date_are_refused(real_data):
    text = (real_data / SYMPRO).read_text()
    block = text[text.index("Channel:\t2\n"):text.index("Channel:\t3\n")]
    doubled = text.replace(block, block + block, 1)
    with pytest.raises(ParseError, match="channel 2 has two sensor-history blocks") as info:
        parse_symphoniepro(doubled.encode(), source="x.txt")
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
    parsed = parse.read(path, format="nrg_symphoniepro")
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
    # Every value of channel 32 (an SR30 on Modbus that never answered: -1000, NRG's error value)
    # is missing: 4 statistics x 370 and x 240 rows fewer than the files hold.
    assert [o.readings for o in outcomes] == [23310 - 4 * 370, 15120 - 4 * 240, 15120 - 4 * 240]
    sources = conn.execute("SELECT source, count(*) AS n FROM logger_configs GROUP BY 1"
                           ).fetchall()
    assert sources == [{"source": "nrg_sensor_history", "n": 63}]
    assert conn.execute("SELECT height_m, orientation_deg FROM measurement_points "
                        "WHERE name = 'Ch15 10m 165deg'").fetchone() == {
        "height_m": 10.0, "orientation_deg": 165.0}


def test_logr_statistical_frame_header_and_history(real_data):
    parsed = parse.read(real_data / LOGR)
    assert parsed.format == "nrg_logr"
    # 32 channels; NotUsed columns dropped, and the vanes' Min and Max (constant 0)
    assert parsed.data.shape == (2, 136)
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
    comma = parse.read(real_data / "nrg_logr/20240111_1300_000304_002994.log")
    assert comma.records == "events"
    assert comma.data.rows() == [
        (datetime(2024, 1, 11, 13, 0, 1, tzinfo=UTC), "ACTION",
         "SRVEL_ACT_DLGR_CREATING_NEW_PACKAGE_FILE",
         "New Package: 77_1704978000_000304_002994.dat"),
        (datetime(2024, 1, 11, 13, 39, 29, tzinfo=UTC), "ACTION", "SRVEL_ACT_FTP_FILE_DATE_RANGE",
         "Exporting date range of files via FTP")]
    tabs = parse.read(real_data / "nrg_logr/20240925_2300_9460_00030_000172.log")
    assert tabs.data.height == 21
    assert tabs.data.row(1) == (datetime(2024, 9, 25, 23, 0, 5, tzinfo=UTC), "FAULT",
                                "SRVEL_ERR_ETH_FTPC_DIR_ERR",
                                "SUBSYS_ETHERNET: FTPc Set Dir Error: 218")
    assert tabs.header["logger_serial"] == "12345"


def test_logr_event_line_with_missing_fields_names_its_line(real_data):
    data = (real_data / "nrg_logr/20240111_1300_000304_002994.log").read_bytes()
    with pytest.raises(ParseError, match="expected 5 fields") as info:
        parse_bytes(data + b"2024-01-11T13:40:00Z, 1704980400\n", format="nrg_logr_log",
                    source="x.log")
    assert info.value.line == 26


def test_logr_diagnostics(real_data):
    parsed = parse.read(real_data / "nrg_logr/20240111_1339_000304_002995.diag")
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


LOGR_2022 = "nrg_logr/20220418_0700_000511_001183_statistical.dat"
LOGR_2024 = "nrg_logr/20240111_1300_000304_002994_statistical.dat"


def test_one_meaning_table_types_every_nrg_channel(real_data):
    old = {h.channel: h.measurement_type
           for h in parse.read(real_data / LOGR_2022).channel_history}
    new = {h.channel: h.measurement_type
           for h in parse.read(real_data / LOGR_2024).channel_history}
    sympro = {h.channel: h.measurement_type
              for h in parse.read(real_data / SYMPRO, format="nrg_symphoniepro").channel_history}
    # The sun's position: never a wind direction (Task 43 altitude/azimuth; no zenith type).
    assert [old[c] for c in ("308", "309", "310")] == [
        "solar_zenith_angle", "azimuth", "altitude"]
    assert [new[c] for c in ("308", "309", "310")] == [
        "azimuth", "altitude", "solar_zenith_angle"]
    # PV module and instrument body temperatures are not the air's; the air's is.
    assert [new["3"], new["5"], old["109"], old["116"], old["119"]] == ["temperature"] * 5
    assert [new["14"], new["103"], old["14"], old["101"], sympro["13"]] == \
        ["air_temperature"] * 5
    # Plane of array (reference cells) vs horizontal.
    assert [new["10"], old["115"]] == ["global_tilted_irradiance"] * 2
    assert [new["1"], old["1"], old["7"], sympro["20"], sympro["32"]] == \
        ["global_horizontal_irradiance"] * 5
    # Voltages and currents as such, whatever the description.
    assert [new[c] for c in ("7", "8", "9", "203", "205")] == ["voltage"] * 5
    assert [new["202"], new["204"], old["112"], old["117"]] == ["current"] * 4
    # A radiometer's own humidity and pressure are not the air's; a weather sensor's are.
    assert [old["110"], old["114"], old["120"]] == ["other"] * 3
    assert [old["102"], old["103"]] == ["relative_humidity", "air_pressure"]
    assert [new[c] for c in ("12", "102")] == ["wind_direction"] * 2
    assert [new[c] for c in ("101", "401", "402", "403", "404")] == ["wind_speed"] * 5
    assert (new["201"], sympro["42"]) == ("soiling_loss_index", "soiling_loss_index")
    assert (sympro["100"], sympro["106"]) == ("direct_normal_irradiance", "albedo")


@pytest.mark.parametrize(("fields", "kind"), [
    ({"Description": "Zenith Angle", "Units": "Degrees"}, "solar_zenith_angle"),
    ({"Type": "Calculated", "Description": "Sun elevation", "Units": "deg"}, "altitude"),
    ({"Type": "Analog", "Description": "POA pyranometer", "Units": "W/m^2"},
     "global_tilted_irradiance"),
    ({"Type": "Analog", "Description": "Battery", "Units": "V"}, "voltage"),
    ({"Type": "Analog", "Description": "NRG #200P Wind Vane supply", "Units": "V"}, "voltage"),
    ({"Description": "Unknown thing", "Units": "deg"}, "other"),
    ({"Description": "Unknown thing", "Units": "%"}, "other"),
    ({"Type": "Vane", "Description": "anything", "Units": "Deg"}, "wind_direction"),
])
def test_the_table_on_channel_blocks_of_either_format(fields, kind):
    from stationlab.parse import _nrg
    assert _nrg.measurement_type(fields) == kind


def logr_with(real_data, old: str, new: str, *, count: int = 1) -> bytes:
    text = (real_data / LOGR_2024).read_text()
    assert text.count(old) >= count, old
    return text.replace(old, new, count).encode()


def test_heights_and_bearings_from_descriptions_where_the_fields_are_blank(real_data):
    data = logr_with(real_data, "Description:\tNRG 200M Vane\n",
                     "Description:\tNRG 200M Vane 58m\n")
    data = data.replace(b"Description:\tNRG T60 (pre 3/2023)\n",
                        b"Description:\tNRG T60 60m 270deg\n")
    data = data.replace(b"Description:\tNRG S1 Anemometer\n",
                        b"Description:\tNRG S1 Anemometer 80.5m SSE\n")
    data = data.replace(b"Description:\tNRG 40H\nUnits:\tm/s\nSerial Number:\t000000000\n"
                        b"Scale Factor:\t0.765000\nOffset:\t0.350000\nHeight:\t0.00",
                        b"Description:\tNRG 40H 10m\nUnits:\tm/s\nSerial Number:\t000000000\n"
                        b"Scale Factor:\t0.765000\nOffset:\t0.350000\nHeight:\t40.00")
    parsed = parse_logr(data, source="x_statistical.dat")
    where = {h.channel: (h.height_m, h.bearing_deg) for h in parsed.channel_history}
    assert where["12"] == (58.0, None)  # "200M" is the model
    assert where["14"] == (60.0, 270.0)
    assert where["401"] == (80.5, 157.5)
    assert where["402"] == (40.0, None)  # the field, not the description, when it is set
    assert where["1"] == (None, None)  # Height 0.00: nobody entered it
    sympro = parse.read(real_data / SYMPRO, format="nrg_symphoniepro")
    where = {h.channel: (h.height_m, h.bearing_deg) for h in sympro.channel_history}
    assert where["14"] == (None, None)  # Height 0.00 and Bearing 0.00: both unfilled
    assert where["13"] == (40.0, 0.0)  # a bearing of 0 at a real height is north
    assert where["3"] == (10.0, None)


def test_sensor_history_blocks_without_the_colon_are_read(real_data):
    parsed = parse.read(real_data / LOGR_2022)
    blocks = {h.channel: h for h in parsed.channel_history}
    assert [blocks[c].description for c in ("301", "308", "310")] == [
        "Precipitation Hourly Sum", "Zenith Angle", "Elevation Angle"]
    assert blocks["308"].columns == tuple(f"Ch308_{s}_Degrees" for s in ("Avg", "Min", "Max", "SD"))
    assert "description" not in parsed.header  # not mistaken for header fields


def test_vane_placeholders_are_not_stored_and_said(real_data):
    old = parse.read(real_data / LOGR_2022)
    dropped = ["Ch12_Min_Deg", "Ch12_Max_Deg", "Ch12_Gust_Dir_Deg", "Ch105_Min_deg",
               "Ch105_Max_deg", "Ch105_Gust_Dir_deg"]
    assert not set(dropped) & set(old.data.columns)
    assert old.value_notes == (
        "6 placeholder columns not stored (a vane's Min and Max, and its Gust without a gust "
        "source channel, which the logger fills with 0): " + ", ".join(dropped),)
    assert "Ch104_Min_m/s" in old.data.columns  # an anemometer's minimum of 0 is a value
    new = parse.read(real_data / LOGR_2024)  # Gust Source Channel: 401 and 101
    assert {"Ch12_Gust_Dir_Deg", "Ch102_Gust_Dir_deg"} <= set(new.data.columns)
    assert not {"Ch12_Min_Deg", "Ch12_Max_Deg"} & set(new.data.columns)
    # Gust Source Channel: 0 says there is none; one that names a channel keeps even zeros.
    text = (real_data / LOGR_2022).read_text()
    vane = "Vane Mounting Angle:\t0.0\n"
    for source, kept in (("0", False), ("104", True)):
        data = text.replace(vane, vane + f"Gust Source Channel:\t{source}\n").encode()
        columns = parse_logr(data, source="x.dat").data.columns
        assert ("Ch12_Gust_Dir_Deg" in columns) is kept, source
    # Values other than 0 are values, whatever the header says.
    zero = logr_with(real_data, "Gust Source Channel:\t401", "Gust Source Channel:\t0")
    assert "Ch12_Gust_Dir_Deg" in parse_logr(zero, source="x.dat").data.columns
    text = (real_data / LOGR_2024).read_text()
    rows = text.split("\n")
    head = rows.index("Data") + 1
    names = rows[head].split("\t")
    fields = rows[head + 1].split("\t")
    fields[names.index("Ch12_Min_Deg")] = "12.5000"
    rows[head + 1] = "\t".join(fields)
    kept = parse_logr("\n".join(rows).encode(), source="x.dat")
    assert kept.data["Ch12_Min_Deg"][0] == 12.5


def test_nrg_error_values_of_digital_sensors_are_missing(real_data):
    parsed = parse.read(real_data / SYMPRO, format="nrg_symphoniepro")
    ch32 = [c for c in parsed.data.columns if c.startswith("Ch32_")]
    assert len(ch32) == 4 and all(parsed.data[c].null_count() == 370 for c in ch32)
    assert parsed.value_notes == (
        "1,480 NRG error values (-1000: a digital sensor that did not answer) read as missing "
        "in channel 32",)
    # An analog channel's -1000 is not an NRG error value (a calibration may give anything).
    text = (real_data / SYMPRO).read_text()
    head = text.index("\nData\n") + len("\nData\n")
    first = text.index("\n", head) + 1
    row_end = text.index("\n", first)
    fields = text[first:row_end].split("\t")
    names = text[head:first - 1].split("\t")
    fields[names.index("Ch13_Analog_40.00m_N_Avg_C")] = "-1000.000000"
    fields[names.index("Ch32_ModbusRTU_2.00m_S_Avg_W/m^2")] = "512.000000"
    changed = text[:first] + "\t".join(fields) + text[row_end:]
    parsed = parse_symphoniepro(changed.encode(), source="x.txt")
    assert parsed.data["Ch13_Analog_40.00m_N_Avg_C"][0] == -1000.0
    # Min and Max of that row are still -1000: the whole row of the channel is missing.
    assert parsed.data["Ch32_ModbusRTU_2.00m_S_Avg_W/m^2"][0] is None


def test_site_and_time_zone_in_the_normalised_header(real_data):
    logr = parse.read(real_data / LOGR_2024).header
    assert {k: logr[k] for k in ("site_latitude", "site_longitude", "site_elevation_m",
                                 "utc_offset")} == {
        "site_latitude": "44.33889", "site_longitude": "-73.11202", "site_elevation_m": "136",
        "utc_offset": "-05:00"}
    sympro = parse.read(real_data / SYMPRO, format="nrg_symphoniepro").header
    assert (sympro["site_latitude"], sympro["site_longitude"], sympro["utc_offset"]) == (
        "44.5000000", "-73.2000000", "-05:00")
    blank = logr_with(real_data, "Latitude:\t44.33889\nLongitude:\t-73.11202\nElevation:\t136",
                      "Latitude:\t0.00000\nLongitude:\t0.00000\nElevation:\t0")
    header = parse_logr(blank, source="x.dat").header
    assert not {"site_latitude", "site_longitude", "site_elevation_m"} & set(header)
    seven = logr_with(real_data, "Time Zone:\t-5", "Time Zone:\tUTC-7:00")
    assert parse_logr(seven, source="x.dat").header["utc_offset"] == "-07:00"


def test_import_stores_site_and_time_zone_and_says_what_it_left_out(conn, db, real_data):
    outcome = ingest.import_paths([real_data / LOGR_2022])[0]
    assert outcome.describe().endswith(
        "into station 'Crows Nest' (6 placeholder columns not stored (a vane's Min and Max, and "
        "its Gust without a gust source channel, which the logger fills with 0): Ch12_Min_Deg, "
        "Ch12_Max_Deg, Ch12_Gust_Dir_Deg, Ch105_Min_deg, Ch105_Max_deg, Ch105_Gust_Dir_deg)")
    assert conn.execute("SELECT latitude, longitude, elevation_m FROM stations "
                        "WHERE name = 'Crows Nest'").fetchone() == {
        "latitude": 44.33889, "longitude": -73.11202, "elevation_m": 136.0}
    assert conn.execute("SELECT header_utc_offset, utc_offset FROM loggers "
                        "WHERE serial_number = '511'").fetchone() == {
        "header_utc_offset": timedelta(hours=-5), "utc_offset": timedelta(0)}
    # Curated coordinates are never overwritten; an empty elevation is filled.
    conn.execute("INSERT INTO stations (name, latitude, longitude) "
                 "VALUES ('Tech Services test', 44.1, -73.0)")
    ingest.import_paths([real_data / SYMPRO])
    assert conn.execute("SELECT latitude, longitude, elevation_m FROM stations "
                        "WHERE name = 'Tech Services test'").fetchone() == {
        "latitude": 44.1, "longitude": -73.0, "elevation_m": 123.0}


def test_any_format_header_site_keys_are_read_or_refused_quietly():
    site = ingest.header_site({"site_latitude": "-33.5", "site_longitude": "151.25",
                               "site_elevation_m": "12.5", "utc_offset": "+10:00"}, "x")
    assert site == {"source": "x", "latitude": -33.5, "longitude": 151.25,
                    "elevation_m": 12.5, "utc_offset": timedelta(hours=10)}
    assert ingest.header_site({"site_latitude": "95", "site_longitude": "east",
                               "utc_offset": "UTC-7"}, "x") == {"source": "x"}
