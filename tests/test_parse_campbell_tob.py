"""Campbell Scientific TOB1/TOB3 reader: the real CR6 20 Hz file (values decoded here by hand from
its bytes), files written here from Campbell's documented layout (multi-record and minor frames,
other data types, TOB1), broken files, and ``import --stats``."""

from __future__ import annotations

import functools
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from stationlab import parse, standardise
from stationlab.errors import ImportRejected, ParseError
from stationlab.parse import parse_bytes, sniff

from .test_cli import stationlab
from .tob_writer import header_lines, tob3_bytes

parse_campbell_tob = functools.partial(parse_bytes, format="campbell_tob")

REAL = Path(__file__).resolve().parent / "data" / "real" / "campbell_tob3" / \
    "20151005_12_bbbbb_25m0285.dat"
#: The real file: 512 header bytes, then frames of 34 bytes (12 header, 9 FP2, 4 footer).
HEAD, FRAME = 512, 34
CAMPBELL_EPOCH = datetime(1990, 1, 1, tzinfo=UTC)


def fp2_by_hand(code: int) -> float | None:
    """FP2 as the CR1000 manual's appendix states it, one value at a time."""
    if code in (0x9FFE, 0x1FFF, 0x9FFF):
        return None
    sign = -1 if code & 0x8000 else 1
    decimals = (code >> 13) & 0b11
    return sign * (code & 0x1FFF) / 10**decimals


def real_frame(data: bytes, index: int) -> tuple[datetime, int, list[float | None]]:
    start = HEAD + index * FRAME
    seconds, sub, record = struct.unpack_from("<III", data, start)
    codes = struct.unpack_from(">9H", data, start + 12)
    stamp = CAMPBELL_EPOCH + timedelta(seconds=seconds, microseconds=sub * 100)
    return stamp, record, [fp2_by_hand(c) for c in codes]


def test_the_real_cr6_file_reads_every_valid_frame_with_its_stamp_and_values():
    data = REAL.read_bytes()
    parsed = parse.read(REAL)
    assert parsed.format == "campbell_tob"
    assert parsed.data.height == 72_000  # one hour at 20 Hz: frames 0 to 71999
    assert parsed.n_readings == 72_000 * 9 - 7  # seven FP2 NANs
    assert parsed.interval == timedelta(milliseconds=50)
    ts = parsed.data["ts"]
    # Samples are instants: stored at their own stamp, which is the frame's.
    assert ts[0] == datetime(2020, 10, 5, 12, 0, 0, 50_000, tzinfo=UTC)
    assert ts[-1] == datetime(2020, 10, 5, 13, 0, tzinfo=UTC)
    assert ts.diff().drop_nulls().unique().to_list() == [timedelta(milliseconds=50)]
    assert parsed.header["first_record"] == "42852016"
    assert parsed.header["last_record"] == "42924015"
    assert parsed.header["logger_model"] == "CR6" and parsed.header["table_name"] == \
        "bbbbb3D_25"
    names = [c.name for c in parsed.columns]
    assert names[0] == "bbbbb_Vx" and names[-1] == "bbbbb_CheckSum" and len(names) == 9
    assert {c.statistic for c in parsed.columns} == {"sample"}
    for index in (0, 1, 40_163, 40_168, 71_999):
        stamp, record, values = real_frame(data, index)
        row = parsed.data.row(index)
        assert row[0] == stamp, index
        assert list(row[1:]) == values, index
    assert real_frame(data, 0)[2][:4] == [0.79, 7.52, -1.03, 13.66]  # 0x4556: 1366 / 100
    assert real_frame(data, 0)[1] == 42852016
    # 7260 frames of other stamps, and one with the stamp but 0xAA55AA55 sub-seconds (card fill)
    assert parsed.value_notes == ("7261 of 79261 frames skipped: their validation stamp is "
                                  "not the header's (unused or stale card space)",)


def test_the_real_file_is_sniffed_as_tob():
    assert sniff(REAL.read_bytes()[:4096]) == "campbell_tob"


def test_a_truncated_file_keeps_its_whole_frames_and_says_so():
    data = REAL.read_bytes()[:HEAD + 1000 * FRAME + 10]
    parsed = parse_bytes(data, source="cut.dat")
    assert parsed.data.height == 1000
    assert parsed.value_notes == ("the file ends 10 bytes into frame 1001 (frames are 34 "
                                  "bytes): the file looks truncated; that frame is not read",)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.replace(b'"34","79200"', b'"36","79200"', 1),
     "line 2: none of the 74857 frames has the validation stamp 44691 of line 2: the frame "
     "size (36 bytes) or the stamp is wrong, or the file is not a TOB3 file"),
    (lambda d: d.replace(b'"34","79200"', b'"35","79200"', 1),
     "line 2: the first frame and 76482 of 76996 frames do not have the validation stamp "
     "44691 of line 2: the frame size (35 bytes) does not match the file"),
    (lambda d: d.replace(b'"34","79200"', b'"68","79200"', 1),
     "line 2: the record interval '0 USEC' needs frames of one record, but the frame size 68 "
     "bytes holds 2"),
    (lambda d: d.replace(b'"34","79200"', b'"20","79200"', 1),
     "line 2: the frame size 20 bytes cannot hold one record (12 + 18 + 4 bytes): the "
     "header's frame size or data types are wrong"),
    (lambda d: d[:300], "line 3: the file ends in header line 3; a TOB3 header has 6 lines"),
    (lambda d: d.replace(b'"FP2","FP2","FP2"', b'"FP9","FP2","FP2"', 1),
     "line 6, column bbbbb_Vx: data type 'FP9' of field 1 is not one stationlab reads"),
    (lambda d: d.replace(b'"Sec100Usec"', b'"Sec100Xsec"', 1),
     "line 2: the frame time resolution 'Sec100Xsec' is not one of SecMsec"),
])
def test_a_broken_header_fails_with_a_line_naming_the_problem(edit, message):
    with pytest.raises(ParseError) as caught:
        parse_campbell_tob(edit(REAL.read_bytes()), source="bad.dat")
    assert caught.value.located().startswith(message)


def test_import_of_a_broken_file_is_one_line_not_a_traceback(db, tmp_path):
    bad = tmp_path / "bad.dat"
    bad.write_bytes(REAL.read_bytes().replace(b'"34","79200"', b'"36","79200"', 1))
    run = stationlab("import", bad)
    assert run.returncode == 1
    assert run.stdout.splitlines()[0] == (
        f"{bad}: failed: line 2: none of the 74857 frames has the validation stamp 44691 of "
        "line 2: the frame size (36 bytes) or the stamp is wrong, or the file is not a TOB3 "
        "file")
    assert "Traceback" not in run.stderr


# --- TOB3 files written here from the documented layout ---------------------------------------

STAMP = 0x1234


def frame_bytes(seconds: int, sub: int, record: int, records: bytes, footer_flags: int,
                validation: int = STAMP, size: int | None = None) -> bytes:
    body = struct.pack("<III", seconds, sub, record) + records
    if size is not None:
        body += b"\0" * (size - len(body) - 4)
    return body + struct.pack("<I", (validation << 16) | footer_flags)


def record_bytes(speed: float, count: int, flag: bool, label: bytes) -> bytes:
    """One record of IEEE4B speed, ULONG count, BOOL flag, ASCII(4) label: 13 bytes."""
    return struct.pack(">f", speed) + struct.pack("<I", count) + \
        (b"\xff" if flag else b"\0") + label.ljust(4, b"\0")


def written_tob3() -> bytes:
    """Frames of four 13-byte records every second (frame size 12 + 52 + 4 = 68): a frame, a
    frame with the complemented stamp, a frame of another stamp (skipped), an empty frame, a
    minor frame of two sub-frames of one record each (the later one with 10 unused bytes; its
    footer is the frame's), and a last whole frame."""
    head = header_lines([
        ["TOB3", "doc_station", "CR1000X", "777", "CR1000X.Std.05", "CPU:doc.CR1X", "99",
         "2024-01-01 00:00:00"],
        ["Second", "1 SEC", "68", "100", str(STAMP), "SecMsec", "0", "0", "0"],
        ["WS", "Count", "Flag", "Label"], ["m/s", "", "", ""], ["Smp", "Smp", "Smp", "Smp"],
        ["IEEE4B", "ULONG", "BOOL", "ASCII(4)"]])
    t0 = 1_072_915_200  # 2024-01-01 00:00:00 since 1990
    recs = [record_bytes(1.5 + i, i, i % 2 == 0, f"r{i}".encode()) for i in range(15)]
    major = frame_bytes(t0, 0, 0, b"".join(recs[0:4]), 0)
    complemented = frame_bytes(t0 + 4, 0, 4, b"".join(recs[4:8]), 0, validation=~STAMP & 0xFFFF)
    stale = frame_bytes(t0 - 900, 0, 900, b"".join(recs[0:4]), 0, validation=0x4321)
    empty = frame_bytes(0, 0, 0, b"\0" * 52, 0x4000)
    sub_a = frame_bytes(t0 + 8, 500, 8, recs[8], 0x8000 | 29)
    sub_b = frame_bytes(t0 + 10, 0, 10, recs[10], 0x8000 | 39, size=39)
    minor = sub_a + sub_b
    assert len(minor) == 68
    last = frame_bytes(t0 + 11, 0, 11, b"".join(recs[11:15]), 0)
    return head + major + complemented + stale + empty + minor + last


def test_frames_written_from_the_documentation():
    parsed = parse_campbell_tob(written_tob3(), source="doc.dat")
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    seconds = [0, 1, 2, 3, 4, 5, 6, 7, 8.5, 10, 11, 12, 13, 14]
    assert parsed.data["ts"].to_list() == [t0 + timedelta(seconds=s) for s in seconds]
    records = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14]
    assert parsed.data["WS"].to_list() == [1.5 + i for i in records]
    assert parsed.data["Count"].to_list() == [float(i) for i in records]
    assert parsed.data["Flag"].to_list() == [float(i % 2 == 0) for i in records]
    assert parsed.data["Label"].to_list() == [f"r{i}" for i in records]
    assert [c.kind for c in parsed.columns] == ["number", "number", "number", "text"]
    assert parsed.columns[0].unit == "m/s"
    assert parsed.interval == timedelta(seconds=1)
    assert parsed.header["first_record"] == "0" and parsed.header["last_record"] == "14"
    assert parsed.value_notes == ("1 of 6 frames skipped: their validation stamp is not the "
                                  "header's (unused or stale card space)",)


def test_an_averaged_table_is_stored_at_the_start_of_each_interval():
    names = ["WS_Avg"]
    data = tob3_bytes(names, [np.array([5.0, 6.0])], first_second=0, interval_ms=600_000,
                      per_frame=1)
    data = data.replace(b'"Smp"', b'"Avg"')
    parsed = parse_campbell_tob(data)
    # Campbell stamps 1990-01-01 00:10 and 00:20, the ends of the intervals.
    assert parsed.data["ts"].to_list() == [datetime(1990, 1, 1, 0, m, tzinfo=UTC) for m in (0, 10)]
    assert parsed.columns[0].statistic == "avg"


def test_fp2_written_and_read_back_with_the_logger_clock_offset():
    values = np.array([0.0, -0.001, 7.999, -79.99, 799.9, -7999.0, np.nan, 12.345])
    data = tob3_bytes(["X"], [values], first_second=0, interval_ms=50, per_frame=4)
    parsed = parse_campbell_tob(data, utc_offset=timedelta(hours=1))
    got = parsed.data["X"].to_list()
    assert got == [0.0, -0.001, 7.999, -79.99, 799.9, -7999.0, None, 12.34]
    assert parsed.data["ts"][0] == datetime(1989, 12, 31, 23, 0, 0, 50_000, tzinfo=UTC)


# --- TOB1 ------------------------------------------------------------------------------------

def written_tob1(extra: bytes = b"") -> bytes:
    """A TOB1 file as the LoggerNet manual's example lays it out: SECONDS, NANOSECONDS and
    RECORD (ULONG), then IEEE4, FP2 and ASCII(6) fields; 10-minute averages."""
    head = header_lines([
        ["TOB1", "doc_tob1", "CR1000", "1000", "CR1000.Std.32", "CPU:ten.CR1", "25871", "Ten"],
        ["SECONDS", "NANOSECONDS", "RECORD", "Spd80m_Avg", "Tmp_Avg", "Site"],
        ["SECONDS", "NANOSECONDS", "RN", "m/s", "Deg C", ""],
        ["", "", "", "Avg", "Avg", "Smp"],
        ["ULONG", "ULONG", "ULONG", "IEEE4", "FP2", "ASCII(6)"]])
    t0 = 1_072_915_200 + 600  # 2024-01-01 00:10 since 1990: the end of the first interval
    rows = [(t0, 0, 17, 7.25, 0x4000 | 1234, b"mast"),       # FP2 12.34
            (t0 + 600, 0, 18, float("nan"), 0x9FFE, b"mast"),  # both missing
            (t0 + 1200, 0, 19, 8.5, 0x8000 | 0x4000 | 5, b"m2")]  # FP2 -0.05
    body = b"".join(struct.pack("<III", s, n, r) + struct.pack("<f", v) +
                    struct.pack(">H", f) + label.ljust(6, b"\0")
                    for s, n, r, v, f, label in rows)
    return head + body + extra


def test_tob1_written_from_the_documentation():
    parsed = parse_campbell_tob(written_tob1(), source="ten.dat")
    assert parsed.header["table_name"] == "Ten" and parsed.header["logger_serial"] == "1000"
    assert [c.name for c in parsed.columns] == ["Spd80m_Avg", "Tmp_Avg", "Site"]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert parsed.interval == timedelta(minutes=10)
    assert parsed.data["ts"].to_list() == [start + timedelta(minutes=m) for m in (0, 10, 20)]
    assert parsed.data["Spd80m_Avg"].to_list() == [7.25, None, 8.5]
    assert parsed.data["Tmp_Avg"].to_list() == [12.34, None, -0.05]
    assert parsed.data["Site"].to_list() == ["mast", "mast", "m2"]
    assert parsed.header["first_record"] == "17" and parsed.header["last_record"] == "19"
    assert parsed.value_notes == ()


def test_a_truncated_tob1_file_keeps_its_whole_records():
    parsed = parse_campbell_tob(written_tob1(b"\x01\x02\x03"), source="ten.dat")
    assert parsed.data.height == 3
    assert parsed.value_notes == ("the file ends 3 bytes into record 4 (records are 24 bytes): "
                                  "the file looks truncated; that record is not read",)


def test_a_tob1_file_without_stamps_is_refused():
    data = written_tob1().replace(b'"SECONDS","NANOSECONDS"', b'"S","N"', 1)
    with pytest.raises(ParseError, match="line 2: the file has no SECONDS and NANOSECONDS"):
        parse_campbell_tob(data)


# --- 10-minute statistics (import --stats) ---------------------------------------------------

def test_interval_statistics_match_numpy_on_20_hz_samples():
    rng = np.random.default_rng(19)
    count = 20 * 60 * 25  # 25 minutes at 20 Hz
    speed = np.round(rng.normal(8, 2, count), 2)
    speed[100:130] = np.nan  # missing samples are left out, as on the logger
    data = tob3_bytes(["WS"], [speed], first_second=0, interval_ms=50, per_frame=10,
                      units=["m/s"])
    parsed = parse_campbell_tob(data)
    stats = standardise.interval_statistics(parsed, timedelta(minutes=10))
    # independently: sample k is at (k + 1) * 50 ms; interval j holds (j*10 min, (j+1)*10 min]
    stamps_ms = (np.arange(count) + 1) * 50
    bucket = (stamps_ms - 1) // 600_000
    assert stats.data["ts"].to_list() == [datetime(1990, 1, 1, 0, m, tzinfo=UTC)
                                          for m in (0, 10, 20)]
    for j in range(3):
        x = speed[(bucket == j) & ~np.isnan(speed)]
        row = stats.data.row(j, named=True)
        assert row["WS_Avg"] == pytest.approx(np.mean(x), rel=1e-12)
        assert row["WS_Std"] == pytest.approx(np.std(x, ddof=0), rel=1e-9)
        assert row["WS_Min"] == np.min(x) and row["WS_Max"] == np.max(x)
    assert [(c.name, c.statistic, c.unit) for c in stats.columns] == [
        ("WS_Avg", "avg", "m/s"), ("WS_Std", "sd", "m/s"), ("WS_Min", "min", "m/s"),
        ("WS_Max", "max", "m/s")]
    assert stats.interval == timedelta(minutes=10)


def test_statistics_of_statistics_are_refused():
    parsed = parse_campbell_tob(written_tob1())
    with pytest.raises(ImportRejected, match="this file's interval is 10min"):
        standardise.interval_statistics(parsed, timedelta(minutes=10))


def test_import_with_stats_stores_six_10_minute_rows_of_the_real_file(db):
    run = stationlab("import", REAL, "--stats", "10min")
    assert run.returncode == 0, run.stdout + run.stderr
    # 9 fields x 4 statistics x 6 intervals (12:00 to 12:50; the 13:00:00.00 sample closes
    # the last one, as on the logger)
    assert "imported 216 readings" in run.stdout
    from stationlab import storage

    with storage.connect(db, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT min(r.ts) AS first, max(r.ts) AS last, count(DISTINCT r.ts) AS n, "
            "avg(r.value) FILTER (WHERE lc.column_name = 'bbbbb_Vx_Avg' AND "
            "r.ts = '2020-10-05 12:00+00') AS vx FROM readings r "
            "JOIN logger_configs lc USING (channel_id)").fetchone()
    first, last, distinct, vx = rows["first"], rows["last"], rows["n"], rows["vx"]
    assert (first, last, distinct) == (datetime(2020, 10, 5, 12, tzinfo=UTC),
                                       datetime(2020, 10, 5, 12, 50, tzinfo=UTC), 6)
    expected = parse.read(REAL).data.filter(
        pl.col("ts") <= datetime(2020, 10, 5, 12, 10, tzinfo=UTC))["bbbbb_Vx"].to_numpy()
    assert expected.size == 12_000
    assert vx == pytest.approx(float(np.mean(expected)), rel=1e-12)
