"""What every column of every sample file *means* once imported: a golden table per file.

A change that re-types a channel (a solar angle becoming a wind direction, a height lost, a
statistic read as another) fails here loudly, whatever the values.

Each ``tests/data/meaning/*.csv`` names its sample file in comment lines at the top::

    # file: real/nrg_logr/20220418_0700_000511_001183_statistical.dat
    # mapping: demo_data.mapping.toml        (optional, for generic CSV; relative to tests/data/)

followed by one row per channel the import made: the file's column, the measurement type, height,
orientation, statistic and unit stored for it, and the column's name in exports. Paths are relative
to ``tests/data/``.

To write a new table, run with ``STATIONLAB_WRITE_MEANING=1``: files that have no table yet get
one from what the import does now. Read every row before committing it: the table is the claim.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import polars as pl
import pytest

from stationlab import ingest, storage
from stationlab.export.layout import column_names, order_channels
from stationlab.storage import catalog

from .conftest import REPO

DATA = REPO / "tests" / "data"
MEANING = DATA / "meaning"
FIELDS = ("column", "measurement_type", "height_m", "orientation_deg", "statistic", "unit",
          "export_name")

COLUMNS_OF_CHANNELS = """
SELECT c.channel_id,
       coalesce(c.column_name,
                (SELECT string_agg(DISTINCT lc.column_name, ' | ' ORDER BY lc.column_name)
                 FROM logger_configs lc WHERE lc.channel_id = c.channel_id)) AS column
FROM channels c JOIN stations s USING (station_id)
WHERE s.name = %(station)s
"""


def tables() -> list[Path]:
    return sorted(MEANING.glob("*.csv"))


def read_table(path: Path) -> tuple[dict[str, str], list[dict[str, str]]]:
    header, body = {}, []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            key, _, value = line[1:].partition(":")
            header[key.strip()] = value.strip()
        else:
            body.append(line)
    return header, list(csv.DictReader(io.StringIO("\n".join(body))))


def _number(value) -> str:
    return "" if value is None else f"{value:g}"


def meaning_of(dsn: str) -> list[dict[str, str]]:
    """Every channel of every station in the database, as rows of a golden table."""
    rows = []
    with storage.connect(dsn, autocommit=True) as conn:
        for station in (s["station"] for s in catalog.summary(conn)):
            channels = order_channels(catalog.station_channels(conn, station))
            names = column_names(channels)
            columns = {r["channel_id"]: r["column"]
                       for r in conn.execute(COLUMNS_OF_CHANNELS, {"station": station})}
            for channel, name in zip(channels.iter_rows(named=True), names, strict=True):
                rows.append({
                    "column": columns[channel["channel_id"]] or "",
                    "measurement_type": channel["measurement_type"] or "unassigned",
                    "height_m": _number(channel["height_m"]),
                    "orientation_deg": _number(channel["orientation_deg"]),
                    "statistic": channel["statistic"] or "",
                    "unit": channel["unit"] or "",
                    "export_name": name if channel["kind"] == "number" else "",
                })
    return sorted(rows, key=lambda r: (r["column"], r["statistic"]))


def write_table(path: Path, header: dict[str, str], rows: list[dict[str, str]]) -> None:
    out = io.StringIO()
    for key, value in header.items():
        out.write(f"# {key}: {value}\n")
    writer = csv.DictWriter(out, FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue())


@pytest.mark.parametrize("table", tables(), ids=lambda p: p.stem)
def test_every_column_means_what_its_golden_table_says(table, db):
    header, want = read_table(table)
    mapping = [DATA / header["mapping"]] if header.get("mapping") else []
    results = ingest.import_paths([DATA / header["file"]], dsn=db, mappings=mapping,
                                  progress=False)
    assert not any(r.failed for r in results), [r.describe() for r in results]
    got = meaning_of(db)
    assert [tuple(r[f] for f in FIELDS) for r in got] == \
        [tuple(r[f] for f in FIELDS) for r in want], table.name


def test_no_export_name_says_its_height_or_bearing_twice():
    for table in tables():
        for row in read_table(table)[1]:
            words = row["export_name"].split()
            for part in (f"{row['height_m']}m", f"{row['orientation_deg']}deg"):
                assert words.count(part) <= 1, (table.name, row["export_name"])


SAMPLES = {  # the files whose meaning is pinned (a readings file of every parser)
    "real/campbell_toa5/campbell_scientific_demo_data1.csv": None,
    "real/campbell_toa5/pytoa5/TestLogger_Hourly_1.dat": None,
    "real/campbell_tob3/20151005_12_bbbbb_25m0285.dat": None,
    "real/generic_csv/demo_data2.csv": "demo_data.mapping.toml",
    "real/floating_lidar/demo_floating_lidar_data.csv": "floating_lidar.mapping.toml",
    "real/windcube/lidar.z06.00.20201201.000000.sta": None,
    # the real ZX and Triton layouts, reproduced with invented values (see their parsers)
    "zx_Wind10_317@Y2016_M12_D13.ZPH.csv": None,
    "TritonExport_2016-09-01-06-00-00_sample.csv": None,
    "real/windographer/windographer_demo_data1.txt": None,
    "real/nrg_logr/20220418_0700_000511_001183_statistical.dat": None,
    "real/nrg_logr/20240111_1300_000304_002994_statistical.dat": None,
    "real/nrg_symphoniepro/004310_2022-03-17_00.00_000835_meas.txt": None,
    # no real file at hand: written from the vendors' published layouts (see their parsers)
    "ammonit_meteo40_sample.csv": None,
    "kintech_orbit.csv": None,
}


def test_every_sample_has_a_table(db, monkeypatch):
    have = {read_table(t)[0]["file"] for t in tables()}
    missing = [s for s in SAMPLES if s not in have]
    if missing and os.environ.get("STATIONLAB_WRITE_MEANING"):
        MEANING.mkdir(exist_ok=True)
        for sample in missing:
            name = sample.removeprefix("real/").replace("/", "__") + ".csv"
            header = {"file": sample} | ({"mapping": SAMPLES[sample]} if SAMPLES[sample] else {})
            with storage.connect(db, autocommit=True) as conn:
                conn.execute("TRUNCATE stations, loggers, files RESTART IDENTITY CASCADE")
            results = ingest.import_paths([DATA / sample], dsn=db, progress=False,
                                          mappings=[DATA / m for m in [SAMPLES[sample]] if m])
            assert not any(r.failed for r in results), [r.describe() for r in results]
            write_table(MEANING / name, header, meaning_of(db))
        missing = []
    assert not missing, f"no golden meaning table for {missing}"


def test_the_tables_are_well_formed():
    for table in tables():
        header, rows = read_table(table)
        assert (DATA / header["file"]).is_file(), table.name
        assert rows and list(rows[0]) == list(FIELDS), table.name
        assert pl.DataFrame(rows)["column"].n_unique() > 0
