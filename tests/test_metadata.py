"""IEA Task 43 WRA data model documents: validation, import, export, round trip, and what they
do to file imports."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime

import pytest

from stationlab import ingest, metadata, storage
from stationlab.errors import MetadataError, StationlabError, StorageError
from stationlab.metadata import iea43
from stationlab.storage import metadata as stored

from .conftest import REAL_DATA, REPO

IEA43 = REAL_DATA / "iea43"
DEMO_DOC = IEA43 / "demo_data_iea43_wra_data_model.json"
DEMO_FILE = REAL_DATA / "campbell_toa5/campbell_scientific_demo_data1.csv"
CERTIFICATE = IEA43 / "task43_repo/anemometer_calibration_certificate.json"
#: Every WRA data model document in the test data (the schemas and the certificate are not).
DOCUMENTS = sorted(p for p in IEA43.rglob("*.json")
                   if "schema" not in p.name and p != CERTIFICATE)


def write(tmp_path, name: str, document: dict):
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def demo_document() -> dict:
    return json.loads(DEMO_DOC.read_text())


def test_every_document_is_found():
    assert len(DOCUMENTS) == 10
    versions = {json.loads(p.read_text())["version"][:3] for p in DOCUMENTS}
    assert versions == {"1.0", "1.2", "1.3"}


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_document_imports_exports_validates_and_round_trips(conn, db, tmp_path, path):
    original = json.loads(path.read_text())
    name = original["measurement_location"][0]["name"]
    [outcome] = metadata.import_document(path, dsn=db)
    assert (outcome.station, outcome.status) == (name, "imported")
    after_first = stored.describe_station(conn, name)
    assert after_first["points"]
    exported = metadata.export_station(name, dsn=db)  # validated against its version's schema
    iea43.validate(exported)
    assert exported == original  # nothing of the document is lost
    [again] = metadata.import_document(path, dsn=db)
    assert again.status == "unchanged"
    assert stored.describe_station(conn, name) == after_first
    # import -> export -> import changes nothing, and exports again identically
    [round_trip] = metadata.import_document(write(tmp_path, "e1.json", exported), dsn=db)
    assert round_trip.status == "imported"  # other bytes (key order), same metadata
    assert stored.describe_station(conn, name) == after_first
    assert metadata.export_station(name, dsn=db) == exported


def test_a_calibration_certificate_is_not_a_wra_document(conn, db):
    with pytest.raises(MetadataError) as caught:
        metadata.import_document(CERTIFICATE, dsn=db)
    error = caught.value
    assert [path for path, _ in error.violations] == [
        "$.author", "$.date", "$.measurement_location", "$.organisation"]
    assert str(error).splitlines() == [
        "anemometer_calibration_certificate.json is not a valid IEA Task 43 WRA data model 1.0 "
        "document (4 violations)",
        "  $.author: 'author' is a required property",
        "  $.date: 'date' is a required property",
        "  $.measurement_location: 'measurement_location' is a required property",
        "  $.organisation: 'organisation' is a required property"]
    assert conn.execute("SELECT count(*) AS n FROM stations").fetchone()["n"] == 0


def test_every_violation_is_listed_with_its_path_and_nothing_is_stored(conn, db, tmp_path):
    document = demo_document()
    del document["author"]
    location = document["measurement_location"][0]
    location["latitude_ddeg"] = "north"
    location["measurement_point"][3]["measurement_type_id"] = "wind_speeed"
    location["measurement_point"][5]["logger_measurement_config"][1]["column_name"][0][
        "statistic_type_id"] = "average"
    with pytest.raises(MetadataError) as caught:
        metadata.import_document(write(tmp_path, "bad.json", document), dsn=db)
    assert [path for path, _ in caught.value.violations] == [
        "$.author",
        "$.measurement_location[0].latitude_ddeg",
        "$.measurement_location[0].measurement_point[3].measurement_type_id",
        "$.measurement_location[0].measurement_point[5].logger_measurement_config[1]"
        ".column_name[0].statistic_type_id"]
    assert "(4 violations)" in str(caught.value)
    assert "'wind_speeed' is not one of" in str(caught.value)
    assert conn.execute("SELECT count(*) AS n FROM stations").fetchone()["n"] == 0


def test_unknown_version_and_broken_json_are_refused(db, tmp_path):
    document = demo_document()
    document["version"] = "1.1.0-2022.06"
    with pytest.raises(MetadataError, match=r"v11.json: data model version '1.1.0-2022.06' is "
                       r"not one stationlab knows \(1.0, 1.2, 1.3\)"):
        metadata.import_document(write(tmp_path, "v11.json", document), dsn=db)
    broken = tmp_path / "broken.json"
    broken.write_text('{"version": "1.0.0-2022.01",\n  "author": }')
    with pytest.raises(MetadataError, match=r"broken.json: not JSON: Expecting value at line 2, "
                       r"column 13"):
        metadata.import_document(broken, dsn=db)


def test_demo_mast_file_columns_get_their_documented_height_orientation_statistic(conn, db):
    metadata.import_document(DEMO_DOC, dsn=db)
    # The file's header says station 'some_site', logger CR1000 serial E7000; the document's
    # only logger is a CR1000 with serial 1234567: naming the station matches them.
    outcome = ingest.import_paths([DEMO_FILE], station="Demo Mast", dsn=db)[0]
    assert outcome.status == "imported" and outcome.station == "Demo Mast"
    assert outcome.unassigned == ("LoggerID",)  # not in the document
    rows = conn.execute(
        "SELECT lc.column_name, p.name, p.measurement_type, p.height_m, p.orientation_deg, "
        "c.statistic, count(DISTINCT r.ts) AS n FROM logger_configs lc "
        "JOIN channels c USING (channel_id) "
        "JOIN measurement_points p USING (measurement_point_id) "
        "LEFT JOIN readings r USING (channel_id) GROUP BY 1, 2, 3, 4, 5, 6").fetchall()
    found = {r["column_name"]: r for r in rows if r["n"]}
    expected = {}
    for point in demo_document()["measurement_location"][0]["measurement_point"]:
        booms = [m["boom_orientation_deg"] for m in point.get("mounting_arrangement") or []]
        for config in point["logger_measurement_config"]:
            for column in config["column_name"]:
                expected[column["column_name"]] = {
                    "column_name": column["column_name"], "name": point["name"],
                    "measurement_type": point["measurement_type_id"],
                    "height_m": point["height_m"],
                    "orientation_deg": booms[-1] % 360 if booms and booms[-1] is not None
                    else None, "statistic": column["statistic_type_id"], "n": 188}
    assert len(expected) == 29
    assert found == expected
    assert found["Spd80mS"]["orientation_deg"] == 180.0
    assert found["Spd80mN"]["orientation_deg"] == 0.0
    assert found["Dir58mSStd"]["height_m"] == 58.0 and found["Dir58mSStd"]["statistic"] == "sd"
    assert conn.execute("SELECT count(*) AS n FROM loggers").fetchone()["n"] == 1


def reprogrammed_document() -> dict:
    """The demo document with the file's logger (serial E7000), and columns Spd80mN (avg, sd,
    max) moved from point Spd80mN to a new point Spd100mN at 2016-01-10 00:00 (logger time, end
    stamps): the anemometer went up the mast, the logger program kept its column names."""
    document = demo_document()
    location = document["measurement_location"][0]
    location["logger_main_config"][0]["logger_serial_number"] = "E7000"
    points = location["measurement_point"]
    first = points[0]["logger_measurement_config"][0]
    assert [c["column_name"] for c in first["column_name"]][1] == "Spd80mN"
    moved = copy.deepcopy(first)
    first["date_to"] = "2016-01-10T00:00:00"
    moved["date_from"] = "2016-01-10T00:00:00"
    points.append({"name": "Spd100mN", "measurement_type_id": "wind_speed", "height_m": 100,
                   "height_reference_id": "ground_level", "notes": None, "update_at": None,
                   "sensor": [], "mounting_arrangement": [],
                   "logger_measurement_config": [moved]})
    return document


def test_a_column_moved_mid_period_lands_on_the_right_channel(conn, db, tmp_path):
    path = write(tmp_path, "reprogrammed.json", reprogrammed_document())
    metadata.import_document(path, dsn=db)
    # No --station: the serial number finds the document's station, whatever the header says.
    outcome = ingest.import_paths([DEMO_FILE], dsn=db)[0]
    assert outcome.station == "Demo Mast"
    rows = conn.execute(
        "SELECT p.name, min(r.ts) AS first, max(r.ts) AS last, count(*) AS n "
        "FROM readings r JOIN channels c USING (channel_id) "
        "JOIN measurement_points p USING (measurement_point_id) "
        "WHERE c.statistic = 'avg' AND p.name IN ('Spd80mN', 'Spd100mN') GROUP BY 1 "
        "ORDER BY 1").fetchall()
    # Stored stamps are the start of the interval: the row stamped 2016-01-10 00:00 (the
    # document's change) covers 23:50-00:00 and is the first on the new point.
    assert rows == [
        {"name": "Spd100mN", "first": datetime(2016, 1, 9, 23, 50, tzinfo=UTC),
         "last": datetime(2016, 1, 10, 23, 40, tzinfo=UTC), "n": 144},
        {"name": "Spd80mN", "first": datetime(2016, 1, 9, 15, 20, tzinfo=UTC),
         "last": datetime(2016, 1, 9, 23, 40, tzinfo=UTC), "n": 44}]
    value = conn.execute(
        "SELECT r.value FROM readings r JOIN channels c USING (channel_id) "
        "JOIN measurement_points p USING (measurement_point_id) "
        "WHERE p.name = 'Spd100mN' AND c.statistic = 'avg' AND r.ts = '2016-01-10 23:40+00'"
    ).fetchone()["value"]
    assert value == 10.59  # the last row of the file, column Spd80mN
    assert outcome.unassigned == ("LoggerID",)


def test_overlapping_periods_of_a_column_are_rejected_naming_both(conn, db, tmp_path):
    document = demo_document()
    point = document["measurement_location"][0]["measurement_point"][5]
    point["logger_measurement_config"][1]["date_from"] = "2016-06-01T00:00:00"
    with pytest.raises(MetadataError) as caught:
        metadata.import_document(write(tmp_path, "overlap.json", document), dsn=db)
    assert str(caught.value).splitlines()[0] == (
        "location 'Demo Mast' cannot be stored (3 problems)")
    path, what = caught.value.violations[0]
    assert path == "$.measurement_location[0].measurement_point[5].logger_measurement_config[1]"
    assert what == (
        "column 'Spd40mS' is configured for [2016-06-01 00:00 UTC, open end) here and for "
        "[2016-01-09 15:30 UTC, 2017-01-04 17:59 UTC) at "
        "$.measurement_location[0].measurement_point[5].logger_measurement_config[0]: "
        "the periods overlap")
    assert conn.execute("SELECT count(*) AS n FROM stations").fetchone()["n"] == 0


def test_the_database_names_both_overlapping_periods(conn):
    conn.execute("INSERT INTO stations (name) VALUES ('s')")
    conn.execute("INSERT INTO loggers (station_id, name) VALUES (1, 'l')")
    conn.execute("INSERT INTO channels (station_id, logger_id, column_name) VALUES (1, 1, 'a')")
    conn.execute("INSERT INTO logger_configs (logger_id, column_name, channel_id, valid_from, "
                 "source) VALUES (1, 'a', 1, '2020-01-01', 'iea43')")
    with pytest.raises(StorageError, match=re.escape(
            "column a of logger 1 already has a configuration overlapping "
            "[2019-06-01 00:00:00+00, 2020-06-01 00:00:00+00): "
            "[2020-01-01 00:00:00+00, infinity) (source iea43)")), storage.transaction(conn):
        conn.execute("INSERT INTO logger_configs (logger_id, column_name, channel_id, "
                     "valid_from, valid_to) VALUES (1, 'a', 1, '2019-06-01', '2020-06-01')")


def test_a_corrected_document_updates_the_station_and_keeps_its_channels(conn, db, tmp_path):
    metadata.import_document(DEMO_DOC, dsn=db)
    ingest.import_paths([DEMO_FILE], station="Demo Mast", dsn=db)
    channels = stored.describe_station(conn, "Demo Mast")["channels"]
    document = demo_document()
    points = document["measurement_location"][0]["measurement_point"]
    points[0]["height_m"] = 80.5
    points[0]["sensor"][0]["calibration"][0]["slope"] = 0.0461
    [outcome] = metadata.import_document(write(tmp_path, "corrected.json", document), dsn=db)
    assert outcome.status == "imported"
    assert stored.describe_station(conn, "Demo Mast")["channels"] == channels
    assert conn.execute("SELECT height_m FROM measurement_points WHERE name = 'Spd80mN'"
                        ).fetchone()["height_m"] == 80.5
    assert conn.execute("SELECT slope FROM calibrations c JOIN sensors s USING (sensor_id) "
                        "WHERE s.serial_number = '0654321'").fetchall() == [{"slope": 0.0461}]
    exported = metadata.export_station("Demo Mast", dsn=db)
    assert exported == document
    # Dropping a point whose channels hold readings is refused, and changes nothing.
    del points[0]
    with pytest.raises(MetadataError, match="no longer lists measurement point 'Spd80mN' of "
                       "station 'Demo Mast', but readings or flags refer to it"):
        metadata.import_document(write(tmp_path, "dropped.json", document), dsn=db)
    assert metadata.export_station("Demo Mast", dsn=db) == exported


def test_a_point_without_readings_that_the_document_drops_is_removed(conn, db, tmp_path):
    metadata.import_document(DEMO_DOC, dsn=db)
    document = demo_document()
    del document["measurement_location"][0]["measurement_point"][0]
    metadata.import_document(write(tmp_path, "fewer.json", document), dsn=db)
    assert conn.execute("SELECT count(*) AS n FROM measurement_points WHERE name = 'Spd80mN'"
                        ).fetchone()["n"] == 0
    assert metadata.export_station("Demo Mast", dsn=db) == document


def test_serial_number_alone_finds_the_logger_when_models_differ(conn, db, tmp_path):
    document = reprogrammed_document()
    document["measurement_location"][0]["logger_main_config"][0]["logger_model_name"] = "CR1000X"
    metadata.import_document(write(tmp_path, "x.json", document), dsn=db)
    outcome = ingest.import_paths([DEMO_FILE], dsn=db)[0]
    assert outcome.station == "Demo Mast" and outcome.unassigned == ("LoggerID",)
    # Asking for another station than the logger's is still refused.
    shorter = tmp_path / "shorter.csv"
    shorter.write_bytes(b"".join(DEMO_FILE.read_bytes().splitlines(keepends=True)[:-1]))
    other = ingest.import_paths([shorter], station="elsewhere", dsn=db)[0]
    assert other.failed
    assert "belongs to station 'Demo Mast', not 'elsewhere'" in other.error


def test_a_station_known_only_from_its_files_exports_what_its_files_said(db):
    with pytest.raises(StationlabError, match=r"^no station called 'some_site'; stations: "
                       "none yet$"):
        metadata.export_station("some_site", dsn=db)
    ingest.import_paths([REAL_DATA / "campbell_toa5/campbell_scientific_demo_data1.csv"], dsn=db)
    with pytest.raises(MetadataError, match=r"station 'some_site' has no metadata from an IEA "
                       r"Task 43 document and its files did not state its latitude"):
        metadata.export_station("some_site", dsn=db)
    logr = REAL_DATA / "nrg_logr/20220418_0700_000511_001183_statistical.dat"
    ingest.import_paths([logr], dsn=db)
    document = metadata.export_station("Crows Nest", dsn=db)  # validated against its schema
    location = document["measurement_location"][0]
    assert (location["name"], location["latitude_ddeg"]) == ("Crows Nest", 44.33889)
    columns = {c["column_name"] for p in location["measurement_point"]
               for c in p["logger_measurement_config"][0]["column_name"]}
    meaning = (REPO / "tests/data/meaning" / f"nrg_logr__{logr.name}.csv").read_text()
    stored = {line.split(",")[0] for line in meaning.splitlines()[2:]}  # every channel's column
    assert columns == stored
