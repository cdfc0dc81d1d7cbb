"""Bad input: truncated, mutated and mixed files. The only exception a parser may raise is
ParseError, naming the file (and the line and column where known)."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stationlab import parse
from stationlab.errors import ParseError
from stationlab.parse import generic_csv

from .conftest import REAL_DATA, REPO

DATA = REPO / "tests" / "data"
SETTINGS = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _head(path, lines: int) -> bytes:
    """The first ``lines`` lines after the table's heading line (small, fast samples)."""
    data = path.read_bytes()
    marker = data.find(b"\nData\n")
    start = data.find(b"\n", marker + 6) + 1 if marker >= 0 else 0
    end = start
    for _ in range(lines):
        end = data.find(b"\n", end) + 1 or len(data)
    return data[:end]


@cache
def samples() -> dict[str, bytes]:
    """A valid file of every registered format."""
    return {
        "toa5": (REAL_DATA / "campbell_toa5/pytoa5/TestLogger_Hourly_1.dat").read_bytes(),
        "windographer": _head(REAL_DATA / "windographer/windographer_demo_data1.txt", 20),
        "nrg_symphoniepro": _head(
            REAL_DATA / "nrg_symphoniepro/004310_2022-03-17_00.00_000835_meas.txt", 4),
        "nrg_logr": _head(
            REAL_DATA / "nrg_logr/20240111_1339_000304_002995_statistical.dat", 2),
        "nrg_logr_log": (REAL_DATA / "nrg_logr/20240925_2300_9460_00030_000172.log"
                         ).read_bytes(),
        "nrg_logr_diag": (REAL_DATA / "nrg_logr/20240111_1339_000304_002995.diag"
                          ).read_bytes(),
        "generic_csv": _head(REAL_DATA / "generic_csv/demo_data2.csv", 6),
        "ammonit": (DATA / "ammonit_meteo40_sample.csv").read_bytes(),
        "kintech": (DATA / "kintech_orbit.csv").read_bytes(),
        "zx_lidar": _head(DATA / "zx_Wind10_317@Y2016_M12_D13.ZPH.csv", 6),
        "windcube": _head(REAL_DATA / "windcube/lidar.z06.00.20201201.000000.sta", 47),
        "triton": _head(DATA / "TritonExport_2016-09-01-06-00-00_sample.csv", 8),
        "campbell_tob": _tob3_head(REAL_DATA / "campbell_tob3/20151005_12_bbbbb_25m0285.dat", 40),
    }


def _tob3_head(path, frames: int) -> bytes:
    """A TOB3 file's six header lines and its first ``frames`` frames."""
    data = path.read_bytes()
    end = 0
    for _ in range(6):
        end = data.index(b"\n", end) + 1
    frame_size = int(data.split(b"\n")[1].split(b",")[2].strip(b'"'))
    return data[:end + frames * frame_size]


@cache
def options(fmt: str) -> dict:
    if fmt == "generic_csv":
        return {"mapping": generic_csv.read_mapping(DATA / "demo_data.mapping.toml")}
    return {}


def only_parse_errors(data: bytes, fmt: str) -> None:
    """Parse as ``fmt`` and as sniffed: a ParsedFile or a ParseError, nothing else."""
    for forced in (fmt, None):
        try:
            sniffed = forced or parse.sniff(data[:parse.SNIFF_BYTES], source="fuzz.dat")
            parsed = parse.parse_bytes(data, format=sniffed, source="fuzz.dat",
                                       **options(sniffed))
        except ParseError as exc:
            assert exc.source == "fuzz.dat"
            assert str(exc).startswith("fuzz.dat")
            continue
        if parsed.records == "readings" and parsed.data.height > 1:
            assert parsed.data["ts"].is_sorted() and parsed.data["ts"].n_unique() == \
                parsed.data.height


def test_every_registered_format_has_a_sample():
    assert set(samples()) == {f.name for f in parse.formats()}
    for fmt, data in samples().items():
        parsed = parse.parse_bytes(data, source="sample", **options(fmt))
        assert parsed.format == fmt


FORMAT_NAMES = sorted(samples())


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
@SETTINGS
@given(cut=st.floats(0, 1))
def test_truncated(fmt, cut):
    data = samples()[fmt]
    only_parse_errors(data[:int(len(data) * cut)], fmt)


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
@SETTINGS
@given(edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_mutated(fmt, edits):
    data = bytearray(samples()[fmt])
    for where, byte in edits:
        data[min(int(len(data) * where), len(data) - 1)] = byte
    only_parse_errors(bytes(data), fmt)


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
@SETTINGS
@given(other=st.sampled_from(FORMAT_NAMES), cut=st.floats(0, 1), resume=st.floats(0, 1))
def test_mixed(fmt, other, cut, resume):
    head, tail = samples()[fmt], samples()[other]
    only_parse_errors(head[:int(len(head) * cut)] + tail[int(len(tail) * resume):], fmt)
