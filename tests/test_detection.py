"""Every real file in tests/data/real/ through `stationlab import`: each one's expected outcome.

The generic CSV files get the mapping files of tests/data/. IEA Task 43 JSON documents and the
brightwind cleaning files are not logger files (other parts of stationlab read them): `import`
must fail on them clearly, naming the known formats, and that is what is checked here.
"""

from __future__ import annotations

from .conftest import REPO
from .test_cli import stationlab

UNKNOWN = "line 1: not a format stationlab knows; known formats: ammonit ("

#: Relative path -> ("imported", readings, station) or ("failed", start of the reason).
EXPECTED = {
    "PROVENANCE.md": ("failed", UNKNOWN),
    "campbell_tob3/LICENSE.nexus-sources-campbell.md": ("failed", UNKNOWN),
    "windcube/LICENSE.tsdat.md": ("failed", UNKNOWN),
    # CR6 20 Hz TOB3: 72,000 records x 9 FP2 fields, 7 of them NAN.
    "campbell_tob3/20151005_12_bbbbb_25m0285.dat": (
        "imported", 72_000 * 9 - 7, "AAAAAAAAAAAAAAAAAAA"),
    "campbell_toa5/campbell_scientific_demo_data1.csv": ("imported", 5640, "some_site"),
    "campbell_toa5/pytoa5/Example.dat": ("imported", 2, "TestLogger"),
    "campbell_toa5/pytoa5/TestLogger_Daily_1.dat": ("imported", 14, "TestLogger"),
    "campbell_toa5/pytoa5/TestLogger_Hourly_1.dat": ("imported", 15, "TestLogger"),
    "campbell_toa5/pytoa5/TestLogger_Hourly_Bad01.dat": ("failed", "line 1: the file is empty"),
    "campbell_toa5/pytoa5/TestLogger_Hourly_Bad02.dat": (
        "failed", "line 1: unterminated quote in the environment line"),
    "campbell_toa5/pytoa5/TestLogger_Hourly_Bad03.dat": ("failed", "line 1: the file is empty"),
    "campbell_toa5/pytoa5/TestLogger_Hourly_Bad04.dat": ("failed", UNKNOWN),
    "campbell_toa5/pytoa5/TestLogger_Hourly_Bad05.dat": (
        "failed", "line 1: the environment line has 9 fields; TOA5 has 8"),
    "campbell_toa5/pytoa5/TestLogger_Hourly_Bad06.dat": (
        "failed", "line 3: the file ends after line 2; a TOA5 header has 4 lines"),
    "campbell_toa5/pytoa5/TestLogger_Hourly_Bad07.dat": (
        "failed", "line 2: the file ends after line 1; a TOA5 header has 4 lines"),
    "campbell_toa5/pytoa5/TestLogger_Hourly_Bad08.dat": (
        "failed", "line 2: unterminated quote in the field names line"),
    "campbell_toa5/pytoa5/TestLogger_Hourly_Bad09.dat": (
        "failed", "line 3: unterminated quote in the units line"),
    "campbell_toa5/pytoa5/TestLogger_Hourly_Bad10.dat": (
        "failed", "line 3: the units line has 7 fields but the field-names line has 6"),
    "campbell_toa5/pytoa5/TestLogger_Hourly_Bad11.dat": (
        "failed", "line 3: the units line has 6 fields but the field-names line has 7"),
    "campbell_toa5/pytoa5/TestLogger_Hourly_Bad12.dat": (
        "failed", "line 2, column AirT_C(42): column name 'AirT_C(42)' appears twice"),
    "floating_lidar/demo_floating_lidar_data.csv": (
        "imported", 6353, "brightwind floating lidar"),
    "generic_csv/demo_data2.csv": ("imported", 5452, "brightwind demo mast"),
    # The same mast's data with other stamp layouts: every reading is already stored.
    "generic_csv/demo_data3.csv": ("imported", 0, "brightwind demo mast"),
    "generic_csv/demo_data4.csv": ("imported", 0, "brightwind demo mast"),
    # Placeholders not stored: two vanes' Min, Max and Gust (no gust source), 6 x 60 rows.
    "nrg_logr/20220418_0700_000511_001183_statistical.dat": (
        "imported", 10260 - 6 * 60, "Crows Nest"),
    "nrg_logr/20220418_0800_000511_001184_statistical.dat": (
        "imported", 10260 - 6 * 60, "Crows Nest"),
    "nrg_logr/20220418_0900_000511_001185_statistical.dat": (
        "imported", 10260 - 6 * 60, "Crows Nest"),
    "nrg_logr/20240111_1300_000304_002994.diag": ("imported", 2652, "Crows Nest Counters"),
    "nrg_logr/20240111_1300_000304_002994.log": ("imported", 2, "Crows Nest Counters"),
    "nrg_logr/20240111_1300_000304_002994_onesecond.dat": (
        "imported", 75840, "Crows Nest Counters"),
    # Two vanes' Min and Max not stored (their gusts have a source channel): 4 x 39 rows.
    "nrg_logr/20240111_1300_000304_002994_statistical.dat": (
        "imported", 5421 - 4 * 39, "Crows Nest Counters"),
    "nrg_logr/20240111_1339_000304_002995.diag": ("imported", 136, "Crows Nest Counters"),
    "nrg_logr/20240111_1339_000304_002995.log": ("imported", 1, "Crows Nest Counters"),
    "nrg_logr/20240111_1339_000304_002995_onesecond.dat": (
        "imported", 3680, "Crows Nest Counters"),
    "nrg_logr/20240111_1339_000304_002995_statistical.dat": (
        "imported", 278 - 4 * 2, "Crows Nest Counters"),
    "nrg_logr/20240925_2300_9460_00030_000172.log": ("imported", 21, "Sys_WRA_60m"),
    # Channel 32 (Modbus, -1000 = NRG's error value, every row): 4 statistics missing per row.
    "nrg_symphoniepro/004310_2022-03-17_00.00_000835_meas.txt": (
        "imported", 23310 - 4 * 370, "Tech Services test"),
    "nrg_symphoniepro/004310_2022-03-17_06.10_000836_meas.txt": (
        "imported", 15120 - 4 * 240, "Tech Services test"),
    "nrg_symphoniepro/004310_2022-03-17_10.10_000837_meas.txt": (
        "imported", 15120 - 4 * 240, "Tech Services test"),
    "windcube/lidar.z06.00.20201201.000000.sta": ("imported", 18_472, "ASIT Validation 130"),
    "windographer/windographer_demo_data1.txt": ("imported", 5452, "windographer_demo_data1"),
    "windographer/windographer_demo_data2.txt": ("imported", 5452, "windographer_demo_data2"),
    "windographer/windographer_flagging_log.txt": ("failed", UNKNOWN),
    "windographer/windographer_flagging_log2.txt": ("failed", UNKNOWN),
}

#: Handled by other parts of stationlab (IEA Task 43 metadata, cleaning files): a clear failure.
NOT_LOGGER_FILES = ("iea43/", "brightwind_cleaning/")


def expected(relative: str):
    if relative.startswith(NOT_LOGGER_FILES):
        return ("failed", UNKNOWN)
    return EXPECTED[relative]


def test_every_sample_file_has_its_expected_outcome(db, real_data):
    run = stationlab("import", real_data,
                     "--mapping", REPO / "tests/data/demo_data.mapping.toml",
                     "--mapping", REPO / "tests/data/floating_lidar.mapping.toml")
    assert run.returncode == 1, run.stderr  # the broken files fail, after all others imported
    lines = run.stdout.splitlines()
    files = sorted(str(p.relative_to(real_data)) for p in real_data.rglob("*")
                   if p.is_file())
    assert len(lines) == len(files) + 1
    assert set(EXPECTED) | {f for f in files if f.startswith(NOT_LOGGER_FILES)} == set(files)
    outcomes = dict(line.removeprefix(f"{real_data}/").split(": ", 1) for line in lines[:-1])
    assert sorted(outcomes) == files
    for relative in files:
        outcome, want = outcomes[relative], expected(relative)
        name = relative.rsplit("/", 1)[-1]
        if want[0] == "imported":
            assert outcome.startswith(f"imported {want[1]:,} ") and \
                f"into station '{want[2]}'" in outcome, (relative, outcome)
        else:
            assert outcome.startswith(f"failed: {want[1]}") and name not in outcome, \
                (relative, outcome)
    failed = sum(expected(f)[0] == "failed" for f in files)
    assert lines[-1] == f"{len(files)} files: {len(files) - failed} ok, {failed} failed"
