"""Database roles: an analyst reads everything and adds flags, and nothing more."""

import pytest
from click.testing import CliRunner

import stationlab
from stationlab import storage
from stationlab.cli import main
from stationlab.errors import StationlabError, StorageError


@pytest.fixture
def analysts(mast, db):
    """Two analyst login roles on the demo mast's database; their DSNs."""
    runner = CliRunner()
    for name in ("ana_a", "ana_b"):
        result = runner.invoke(main, ["db", "grant-analyst", name])
        assert result.exit_code == 0, result.output
        assert result.output.startswith(f"analyst role {name} ")
    return {name: storage.roles.dsn_for(db, user=name) for name in ("ana_a", "ana_b")}


def test_an_analyst_reads_clean_data_and_adds_flags_as_themself(analysts):
    with stationlab.connect(analysts["ana_a"]) as db:
        mast = db.station("some_site")
        assert mast.readings(types=["wind_speed"], statistics=["avg"]).height > 0
        flag_id = mast.add_flag("2016-01-09 18:00", "2016-01-09 20:00", "icing",
                                point="Spd80mN", author="someone_else")
        flags = mast.flags()
        assert flags.filter(flags["flag_id"] == flag_id)["author"].to_list() == ["ana_a"]
        stationlab.flags.remove_flag(db.conn, flag_id)  # one's own flag can be removed
    with stationlab.connect(analysts["ana_b"]) as db:
        removed = db.station("some_site").flags(include_removed=True)
        assert removed["deleted_by"].to_list() == ["ana_a"]


def test_an_analyst_cannot_change_data_or_other_peoples_flags(analysts):
    with stationlab.connect(analysts["ana_a"]) as db:
        flag_id = db.station("some_site").add_flag("2016-01-09 18:00", "2016-01-09 19:00",
                                                   "bad")
    with stationlab.connect(analysts["ana_b"]) as db:
        for statement in ("UPDATE readings SET value = 0", "DELETE FROM readings",
                          "DELETE FROM files", "UPDATE files SET status = 'failed'",
                          "DELETE FROM flags", "INSERT INTO flag_codes (code, description) "
                          "VALUES ('mine', 'x')", "DROP TABLE readings"):
            with pytest.raises(StorageError, match="permission denied|must be owner"):
                with storage.transaction(db.conn):
                    db.conn.execute(statement)
        with pytest.raises(StorageError, match="flag .* belongs to ana_a; only its author"):
            stationlab.flags.remove_flag(db.conn, flag_id)
        with pytest.raises(StationlabError, match="analysts add manual or imported flags"):
            stationlab.flags.add_flag(db.conn, "some_site", *db.station("some_site").readings(
                statistics=["avg"])["ts"].head(2), "bad", source="rule")


def test_grant_analyst_twice_updates_and_names_the_dsn(analysts, db):
    result = CliRunner().invoke(main, ["db", "grant-analyst", "ana_a"])
    assert result.exit_code == 0
    assert "analyst role ana_a updated" in result.output
    assert "user=ana_a" in result.output


def test_a_calibration_editor_records_and_corrects_certificates_as_themself(analysts, conn,
                                                                            db):
    from stationlab.calibration import Calibration, CalibrationRepository

    from .test_calibration import install_anemometer

    sensor = install_anemometer(conn, "Spd80mN")  # a sensor without a certificate yet
    result = CliRunner().invoke(main, ["db", "grant-analyst", "ana_a", "--calibrations"])
    assert result.exit_code == 0, result.output
    assert "(member of stationlab_analyst, stationlab_calibrator)" in result.output
    with stationlab.connect(analysts["ana_b"]) as plain:  # an analyst only: read, no edits
        with pytest.raises(StorageError, match="ana_b may read calibrations but not change "
                           r"them \(permission denied .*\); the database owner allows it with "
                           "`stationlab db grant-analyst ana_b --calibrations`"):
            CalibrationRepository(plain.conn).add(sensor, Calibration(0.0458, 0.25))
    with stationlab.connect(analysts["ana_a"]) as editor:
        calibrations = CalibrationRepository(editor.conn, author="someone_else")
        cal_id = calibrations.add(sensor, Calibration(0.0458, 0.25))
        calibrations.correct(sensor, cal_id, Calibration(0.04577, 0.2528))
        assert calibrations.list(sensor)[["slope", "author"]].rows() == [(0.04577, "ana_a")]
        history = calibrations.history(sensor)
        assert history[["slope", "replaced_by", "change"]].rows() == [
            (0.0458, "ana_a", "corrected")]
        with pytest.raises(StorageError, match="permission denied"):  # nothing else
            with storage.transaction(editor.conn):
                editor.conn.execute("UPDATE readings SET value = 0")
    revoked = CliRunner().invoke(main, ["db", "grant-analyst", "ana_a", "--no-calibrations"])
    assert "(member of stationlab_analyst)" in revoked.output
    with stationlab.connect(analysts["ana_a"]) as again:
        with pytest.raises(StorageError, match="permission denied"):
            CalibrationRepository(again.conn).correct(sensor, cal_id, Calibration(0.05, 0.2))


@pytest.fixture
def pipeline(db):
    """A pipeline login role on the test's database; its DSN."""
    result = CliRunner().invoke(main, ["db", "grant-pipeline", "pipe_a"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("pipeline role pipe_a ")
    assert "(member of stationlab_pipeline)" in result.output
    return storage.roles.dsn_for(db, user="pipe_a")


def test_the_pipeline_role_imports_cleans_and_exports_but_never_changes_the_schema(
        pipeline, home, real_data, monkeypatch):
    from stationlab import fetch, ingest, qc, worker
    from stationlab.export.store import build_exports

    from .conftest import DEMO, HOURLY
    from .test_parse_generic_csv import DEMO_MAPPING

    monkeypatch.setenv("STATIONLAB_DSN", pipeline)
    # New months: their partitions are made by the owner's functions (SECURITY DEFINER).
    new = ingest.import_paths([real_data / HOURLY, real_data / "generic_csv/demo_data2.csv"],
                              mappings=[DEMO_MAPPING])
    assert [o.status for o in new] == ["imported", "imported"]
    # An overlapping file goes through staging; a queued one through a worker, whose file
    # needs the partitions of another month first.
    again = ingest.import_paths([real_data / "generic_csv/demo_data3.csv"],
                                mappings=[DEMO_MAPPING])
    assert (again[0].status, again[0].readings, again[0].duplicates) == ("imported", 0, 5452)
    fetch.upload_bytes("demo.csv", (real_data / DEMO).read_bytes())
    assert [o.status for o in worker.run_workers(1).outcomes] == ["imported"]
    with stationlab.connect(pipeline) as db:
        checked = qc.run(db.conn, "some_site")  # replaces the rule flags of the period
        assert checked.station == "some_site" and set(checked.flags) >= {"range", "flat_line"}
        for statement in ("CREATE TABLE mine (a int)", "DROP TABLE readings",
                          "ALTER TABLE readings ADD COLUMN x int"):
            with pytest.raises(StorageError, match="permission denied|must be owner"):
                with storage.transaction(db.conn):
                    db.conn.execute(statement)
    built = build_exports(["some_site"], ["csv"], sources=["raw", "clean"])
    assert [o.status for o in built] == ["built", "built"]


def test_analysts_may_not_make_partitions(analysts):
    with stationlab.connect(analysts["ana_a"]) as db:
        for call in ("readings_load_table(now())", "attach_readings_partition(now())",
                     "ensure_readings_partitions(now(), now())"):
            with pytest.raises(StorageError, match="permission denied for function"):
                with storage.transaction(db.conn):
                    db.conn.execute(f"SELECT {call}")
