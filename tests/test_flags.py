"""Manual flags, flag files, and what clean data leaves out because of them."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import polars as pl
import pytest

from stationlab import flags
from stationlab.errors import ParseError, StationlabError

from .conftest import DEMO

SPEED = "Speed 80m 0deg Mean [m/s]"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)



def test_manual_flag_edit_and_remove_keep_history(conn, mast):
    flag_id = mast.add_flag("2016-01-10 00:00", "2016-01-10 01:00", "suspect", channel=SPEED,
                            reason="looks odd", author="ana")
    new_id = flags.edit_flag(conn, flag_id, code="bad", reason="anemometer cup broken",
                             author="ben")
    history = mast.flags(include_removed=True)
    assert history.select("flag_id", "code", "author", "deleted_by", "supersedes").rows() == [
        (flag_id, "suspect", "ana", "ben", None), (new_id, "bad", "ben", None, flag_id)]
    assert mast.flags()["flag_id"].to_list() == [new_id]
    flags.remove_flag(conn, new_id, author="ana")
    assert mast.flags().is_empty()
    assert mast.flags(include_removed=True).height == 2
    with pytest.raises(StationlabError, match=f"flag {new_id} was already removed by ana"):
        flags.remove_flag(conn, new_id, author="ana")
    with pytest.raises(StationlabError, match="cannot be edited"):
        flags.edit_flag(conn, new_id, code="suspect")


def test_clean_data_leaves_out_excluded_flags_and_shows_why(mast):
    mast.add_flag("2016-01-10 00:00", "2016-01-10 01:00", "bad", channel=SPEED, reason="broken")
    mast.add_flag("2016-01-10 02:00", "2016-01-10 03:00", "suspect", point="Spd80mN")
    clean = mast.readings(channels=[SPEED])
    # 6 ten-minute readings in [00:00, 01:00) are excluded; 'suspect' does not exclude
    assert clean.height == 188 - 6
    every = mast.readings(channels=[SPEED], include_flagged=True)
    assert every.height == 188
    excluded = every.filter(pl.col("excluded"))
    assert excluded["ts"].to_list() == [at(f"2016-01-10 00:{m:02d}") for m in range(0, 60, 10)]
    assert excluded["flags"].to_list() == [["bad"]] * 6
    suspect = every.filter(pl.col("flags").list.contains("suspect"))
    assert suspect.height == 6 and not suspect["excluded"].any()
    # asking for 'suspect' to exclude too
    assert mast.readings(channels=[SPEED], excluded_codes=["bad", "suspect"]).height == 176
    # a station-wide flag covers every channel
    mast.add_flag("2016-01-09 15:00", "2016-01-09 16:00", "maintenance", reason="visit")
    assert mast.readings(channels=["Pressure 2m Mean [mbar]"]).height == 188 - 2


def test_an_unknown_code_or_an_empty_period_is_refused(mast):
    with pytest.raises(StationlabError, match="unknown flag code 'wobbly'"):
        mast.add_flag("2016-01-10", "2016-01-11", "wobbly")
    with pytest.raises(StationlabError, match="is empty or reversed"):
        mast.add_flag("2016-01-11", "2016-01-10", "bad")
    with pytest.raises(StationlabError, match="no channel named 'Speed 1m'"):
        mast.add_flag("2016-01-10", "2016-01-11", "bad", channel="Speed 1m")


def test_import_brightwind_cleaning_file(conn, mast, real_data):
    result = flags.import_flag_file(
        conn, real_data / "brightwind_cleaning/demo_cleaning_file.csv", "some_site",
        author="ana")
    # All -> 1 station flag; 8 'Spd' rows x 18 speed columns; 8 'Dir' rows x 6 direction
    # columns; Dir58mS and Dir78mS match 2 columns each (mean, SD), Spd80mS 3 (mean, SD, max)
    assert (result.kind, result.flags, result.unmatched) == ("brightwind", 200, ())
    table = mast.flags()
    assert table.filter(pl.col("channel_id").is_null()).select("code", "reason").rows() == [
        ("maintenance", "Installation")]
    assert table.filter(pl.col("code") == "icing").height == 8 * 18 + 8 * 6
    assert table.filter(pl.col("code") == "bad").height == 7
    # the installation period [15:30, 17:10) leaves out the rows stamped 15:30, 16:50, 17:00
    assert mast.readings(channels=[SPEED]).height == 185
    day_first = flags.import_flag_file(
        conn, real_data / "brightwind_cleaning/demo_cleaning_file3.csv", "some_site")
    assert day_first.flags == 200
    assert mast.flags().filter(pl.col("channel_id").is_null())["ts_from"].to_list() == [
        at("2016-01-09 15:30")] * 2


def test_windographer_flag_log_round_trip(conn, mast, real_data):
    result = flags.import_flag_file(
        conn, real_data / "windographer/windographer_flagging_log.txt", "some_site")
    assert result.kind == "windographer"
    assert result.unmatched == ("Sp",)  # a row naming no column of the mast
    assert result.flags == 225
    first = flags.windographer_flag_log(conn, "some_site")
    lines = first.split("\r\n")
    assert lines[0] == "Data Column\tFlag Name\tStart Time\tEnd Time\tTime Steps"
    assert f"{SPEED}\tmaintenance\t2016-01-09 15:30\t2016-01-09 17:10\t10" in lines
    before = mast.flags().select("channel_id", "ts_from", "ts_to", "code").sort(pl.all())
    for flag_id in mast.flags()["flag_id"]:
        flags.remove_flag(conn, flag_id)
    again = flags.import_flag_file(conn, first.encode(), "some_site")
    assert (again.flags, again.unmatched) == (225, ())
    after = mast.flags().select("channel_id", "ts_from", "ts_to", "code").sort(pl.all())
    assert after.equals(before)
    assert flags.windographer_flag_log(conn, "some_site") == first


def test_not_a_flag_file(conn, mast, real_data):
    with pytest.raises(ParseError, match="line 1: not a flag file"):
        flags.import_flag_file(conn, real_data / DEMO, "some_site")


def test_flags_command_line(db, mast, real_data, tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "stationlab", "flags", *map(str, args)],
                              capture_output=True, text=True, timeout=120)

    done = run("import", real_data / "brightwind_cleaning/demo_cleaning_file.csv",
               "--station", "some_site", "--author", "ana")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("brightwind flag file: 200 flags added to some_site")
    listing = run("list", "--station", "some_site", "--end", "2016-01-10")
    assert ("2016-01-09 15:30 to 2016-01-09 17:10 maintenance  whole station: Installation "
            "(imported, ana, ") in listing.stdout.splitlines()[0]
    assert listing.stdout.splitlines()[-1] == "1 flag"
    out = tmp_path / "flags.txt"
    exported = run("export", "--station", "some_site", "--format", "windographer", "--out", out)
    assert exported.returncode == 0
    assert out.read_text().startswith("Data Column\tFlag Name")
    assert run("import", real_data / "windographer/windographer_flagging_log.txt",
               "--station", "some_site").stderr.strip() == "no channel matched: Sp"
