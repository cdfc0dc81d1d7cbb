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
    return {name: storage.runs.dsn_for(db, user=name) for name in ("ana_a", "ana_b")}


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
