"""An export of a multi-year generated source holds exactly the readings in the database.

The source is ``bench/generate.py``'s mast cut down to one sensor (4 statistics) and two years of
10-minute rows, with its gaps (days without rows, weeks of ``NAN``): 24 monthly windows, a year
boundary and gaps.
"""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime

import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from stationlab import ingest, parse
from stationlab.export import export_station

from .conftest import REPO


def _generator():
    spec = importlib.util.spec_from_file_location("bench_generate", REPO / "bench" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def generated(db, tmp_path) -> tuple[str, int]:
    path = tmp_path / "mast_2y.dat"
    readings = _generator().generate(path, years=2, sensors=1, station="gen_mast")
    [outcome] = ingest.import_paths([path], dsn=db)
    assert outcome.status == "imported", outcome.error
    assert outcome.readings == readings
    return "gen_mast", readings


def stored(conn, station: str) -> tuple[pl.DataFrame, dict[int, str]]:
    rows = conn.execute(
        "SELECT r.channel_id, r.ts, r.value FROM readings r JOIN channels c USING (channel_id) "
        "JOIN stations s USING (station_id) WHERE s.name = %s", (station,)).fetchall()
    names = {r["channel_id"]: r["column_name"] for r in conn.execute(
        "SELECT c.channel_id, lc.column_name FROM channels c JOIN logger_configs lc "
        "USING (channel_id)")}
    wide = pl.DataFrame(rows).pivot(on="channel_id", index="ts", values="value").sort("ts")
    return wide.with_columns(pl.col("ts").dt.cast_time_unit("us")), names


def test_parquet_and_windographer_exports_equal_the_database(conn, generated, tmp_path):
    station, readings = generated
    wide, names = stored(conn, station)
    assert 80_000 < wide.height < 2 * 52_560  # two years of 10-minute rows, less the gaps

    result = export_station(station, tmp_path / "g.parquet", format="parquet")
    assert (result.rows, result.readings, result.channels) == (wide.height, readings, 4)
    assert pq.ParquetFile(tmp_path / "g.parquet").num_row_groups == 24
    back = pl.read_parquet(tmp_path / "g.parquet")
    channels = json.loads(pq.read_schema(tmp_path / "g.parquet").metadata[b"stationlab.channels"])
    assert [names[c["channel_id"]] for c in channels] == [
        "Spd120mN_Avg", "Spd120mN_Std", "Spd120mN_Min", "Spd120mN_Max"]
    expected = wide.select("ts", *(pl.col(str(c["channel_id"])).alias(c["name"])
                                   for c in channels))
    assert_frame_equal(back, expected)

    export_station(station, tmp_path / "g.txt")
    text = parse.read(tmp_path / "g.txt", format="windographer")
    assert_frame_equal(text.data.select(back.columns), back)


def test_a_period_across_a_year_boundary(conn, generated, tmp_path):
    station, _ = generated
    start, end = datetime(2019, 12, 31, 12, tzinfo=UTC), datetime(2020, 1, 2, tzinfo=UTC)
    result = export_station(station, tmp_path / "p.parquet", format="parquet", start=start,
                            end=end)
    back = pl.read_parquet(tmp_path / "p.parquet")
    wide, _ = stored(conn, station)
    period = wide.filter((pl.col("ts") >= start) & (pl.col("ts") < end))
    assert back["ts"].to_list() == period["ts"].to_list()
    assert result.readings == period.select(pl.exclude("ts").count()).sum_horizontal().item()
