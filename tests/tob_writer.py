"""Write Campbell Scientific TOB3 files from Campbell's documented layout, for tests and
``bench/tob3.py`` only (stationlab reads TOB files, it never writes them).

Written from the LoggerNet manual's description (six ASCII header lines, frames of a 12-byte
header, records and a 4-byte footer carrying the validation stamp; FP2 as sign, two bits of
negative decimal exponent and a 13-bit magnitude, big-endian), independently of the reader.
"""

from __future__ import annotations

import numpy as np

#: Campbell's NAN in FP2.
FP2_NAN = 0x9FFE


def fp2(values) -> np.ndarray:
    """Encode floats as FP2 codes: as many decimals (up to 3) as keep the magnitude <= 7999."""
    values = np.asarray(values, dtype=np.float64)
    magnitude = np.abs(values)
    codes = np.full(values.shape, FP2_NAN, dtype=np.uint16)
    done = np.isnan(values)
    for exponent in (3, 2, 1, 0):
        scaled = np.round(magnitude * 10**exponent)
        fits = ~done & (scaled <= 7999)
        codes[fits] = (exponent << 13) | scaled[fits].astype(np.uint16)
        done |= fits
    return np.where(~np.isnan(values) & (values < 0) & (codes & 0x1FFF != 0),
                    codes | 0x8000, codes).astype(">u2")


def header_lines(lines: list[list[str]]) -> bytes:
    return b"".join(",".join(f'"{f}"' for f in line).encode() + b"\r\n" for line in lines)


def tob3_bytes(names: list[str], columns: list[np.ndarray], *, first_second: int,
               interval_ms: int, per_frame: int, first_record: int = 0,
               validation: int = 0xA5A5, table: str = "Fast", units: list[str] | None = None,
               station: str = "bench_sonic", serial: str = "4242") -> bytes:
    """A TOB3 file of FP2 fields ``names`` with values ``columns`` (one array each, equal
    lengths, a multiple of ``per_frame``), the first record at ``first_second`` seconds after
    1990-01-01 plus one interval, frames of ``per_frame`` records."""
    count = len(columns[0])
    if count % per_frame:
        raise ValueError("the record count must be a multiple of per_frame")
    record = np.dtype([(f"f{i}", ">u2") for i in range(len(names))])
    frame_size = 12 + per_frame * record.itemsize + 4
    head = header_lines([
        ["TOB3", station, "CR6", serial, "CR6.Std.10.02", "CPU:bench.CR6", "4711",
         "2021-01-01 00:00:00"],
        [table, f"{interval_ms} MSEC", str(frame_size), str(count), str(validation),
         "Sec100Usec", "0", "0", "0"],
        names, units or [""] * len(names), ["Smp"] * len(names), ["FP2"] * len(names)])
    frame = np.dtype([("sec", "<u4"), ("sub", "<u4"), ("rec", "<u4"),
                      ("records", record, (per_frame,)), ("footer", "<u4")])
    frames = np.zeros(count // per_frame, dtype=frame)
    starts = (np.arange(frames.size, dtype=np.int64) * per_frame + 1) * interval_ms * 10
    frames["sec"] = first_second + starts // 10_000
    frames["sub"] = starts % 10_000
    frames["rec"] = first_record + np.arange(frames.size) * per_frame
    records = frames["records"].reshape(-1)
    for i, values in enumerate(columns):
        records[f"f{i}"] = fp2(values)
    frames["records"] = records.reshape(frames.size, per_frame)
    frames["footer"] = validation << 16
    return head + frames.tobytes()
