"""Campbell Scientific TOB1 and TOB3 ("Table Oriented Binary") files: what a CRBasic logger
(CR1000, CR1000X, CR3000, CR6, ...) writes to its card, and what LoggerNet and CardConvert write
when asked for binary output.

Both start with comma-separated, quoted ASCII header lines, each ended by CRLF::

    "TOB3","station","CR6","11111","CR6.Std.10.02","CPU:prog.CR6","18610","2015-10-05 12:00:00"
    "Sonic","50 MSEC","34","79200","44691","Sec100Usec","0","0","1129259355"
    "Ux","Uy","Uz","Ts"
    "m/s","m/s","m/s","degC"
    "Smp","Smp","Smp","Smp"
    "FP2","FP2","FP2","FP2"

TOB3 (six lines): environment (file type, station, logger model, serial, OS, program, program
signature, file creation time); table (name, non-timestamped record interval, frame size
[bytes], intended table size, validation stamp, frame time resolution, ...); field names; units;
processing; data types. TOB1 (five lines): the environment line ends with the table name and
there is no table line.

TOB3 data follow in fixed-size frames. A frame is a 12-byte header (seconds since 1990-01-01
and sub-seconds in the header's frame time resolution, both unsigned little-endian 32-bit, then
the record number of the frame's first record), records, and a 4-byte little-endian footer:
bits 0-11 a minor frame's size (its "offset"), bit 12 file mark, bit 13 remove mark, bit 14
empty frame, bit 15 minor frame, bits 16-31 the validation stamp. A frame counts only when its
validation stamp is the header's or its ones' complement (the complement marks the card's next
pass through its ring) and its sub-seconds are under a second; the others (unused card space,
a ring's stale frames, or every frame when the header's frame size is wrong) are skipped, as
are empty frames. A frame that was not filled (a lapse, a file closed mid-frame) is a "minor"
frame: it holds sub-frames back to back, each with its own header and a footer at its end
whose offset is its size; they are read from the frame's end backwards. Record ``i`` of a
(sub-)frame is stamped ``frame stamp + i * record interval`` and numbered ``first record + i``.
TOB1 data are records back to back, no frames; ``SECONDS``, ``NANOSECONDS`` and ``RECORD``
columns, where present, give each record's stamp and number.

Values: ``FP2`` is Campbell's two-byte float (big-endian; sign bit, two bits of negative decimal
exponent, 13-bit magnitude; ``0x9FFE`` is NAN, ``0x1FFF`` and ``0x9FFF`` +/-INF, all read as
missing); IEEE floats (``IEEE4``/``IEEE8`` and their ``L`` forms little-endian, ``B`` forms
big-endian; NaN missing); integers; ``BOOL`` (one byte, non-zero is true: 1); ``SecNano``/``NSec``
time stamps; ``ASCII(n)`` text.

Time: the stamps are the logger's clock (``utc_offset`` for a logger not on UTC). A table whose
fields are all samples (``Smp``) holds instants and its stamps are stored as they are: a 20 Hz
sample stamped 12:00:00.05 is stored at 12:00:00.05 (``stationlab import --stats 10min`` then
labels each 10-minute row with its start, 12:00:00 for the samples from 12:00:00 up to, not
including, 12:10:00). A table with averages, maxima, totals, ... is labelled by Campbell at the
end of each interval, as in TOA5, and is shifted to the interval's start.

The layout follows Campbell Scientific's LoggerNet manual (appendix "Campbell Scientific File
Formats": TOB1, TOB2/TOB3, FP2) and the frame-footer bits and sub-frame walk of Campbell's own
TOB2/TOB3 reader (``Csi.Tob2.Frame.cpp``). Proven on a real CR6 file (20 Hz sonic table, FP2
fields, one record per frame, interval ``0 USEC``; see ``tests/data/real/PROVENANCE.md``); the
other data types, minor frames, multi-record frames and TOB1 are from the documentation only
and tested on files written from it.
"""

from __future__ import annotations

import csv
import logging
import re
from datetime import timedelta

import numpy as np
import polars as pl

from stationlab.errors import ParseError
from stationlab.parse import Column, Options, ParsedFile, _stamps, register
from stationlab.parse.toa5 import statistic_of

logger = logging.getLogger(__name__)

#: File type -> number of ASCII header lines.
HEADER_LINES = {"TOB1": 5, "TOB3": 6}

#: Header keys of the environment line's fields after the file type (the last one differs).
ENVIRONMENT_KEYS = {
    "TOB1": ("station_name", "logger_model", "logger_serial", "logger_os", "program",
             "program_signature", "table_name"),
    "TOB3": ("station_name", "logger_model", "logger_serial", "logger_os", "program",
             "program_signature", "file_created"),
}

#: Header keys of the TOB3 table line (line 2), in order.
TABLE_KEYS = ("table_name", "record_interval", "frame_size", "intended_table_size",
              "validation_stamp", "frame_time_resolution", "ring_record", "removal_time",
              "table_created")

#: Campbell's time stamps count from here. [ns since 1970-01-01, UTC]
EPOCH_NS = 631_152_000 * 10**9

#: TOB3 frame header and footer sizes. [bytes]
FRAME_HEADER = 12
FRAME_FOOTER = 4

#: Frame-footer bits (Campbell's TOB2/TOB3 reader).
OFFSET_MASK = 0x0FFF
EMPTY_FLAG = 0x4000
MINOR_FLAG = 0x8000

#: Units of the record interval and of the frame time resolution. [ns]
TIME_UNITS = {"NSEC": 1, "USEC": 10**3, "MSEC": 10**6, "SEC": 10**9, "MIN": 60 * 10**9,
              "HR": 3600 * 10**9, "HOUR": 3600 * 10**9, "DAY": 86400 * 10**9}
INTERVAL = re.compile(r"^\s*(\d+)\s*([A-Za-z]+)\s*$")
#: ``SecMsec``, ``Sec100Usec``, ``Sec10Usec``, ``SecUsec``, ``Sec50Nsec``.
RESOLUTION = re.compile(r"^Sec(\d*)(Msec|Usec|Nsec)$", re.IGNORECASE)

#: Data type -> (numpy dtype of the stored bytes, how to read them).
FIELD_TYPES = {
    "FP2": (">u2", "fp2"),
    "IEEE4": ("<f4", "float"), "IEEE4L": ("<f4", "float"), "IEEE4B": (">f4", "float"),
    "IEEE8": ("<f8", "float"), "IEEE8L": ("<f8", "float"), "IEEE8B": (">f8", "float"),
    "ULONG": ("<u4", "int"), "LONG": ("<i4", "int"), "UINT4": (">u4", "int"),
    "INT4": (">i4", "int"), "UINT2": (">u2", "int"), "INT2": (">i2", "int"),
    "USHORT": ("<u2", "int"), "SHORT": ("<i2", "int"),
    "BOOL": ("u1", "bool"), "BOOL2": (">u2", "bool"), "BOOL4": (">u4", "bool"),
    "SECNANO": ("<i4,<i4", "stamp"), "NSEC": (">i4,>i4", "stamp"),
}
ASCII_TYPE = re.compile(r"^ASCII\((\d+)\)$", re.IGNORECASE)

#: FP2 codes that are not values: NAN, +INF, -INF.
FP2_MISSING = (0x9FFE, 0x1FFF, 0x9FFF)

#: TOB1 columns that give a record's stamp and number rather than a value.
TOB1_STAMP_COLUMNS = ("SECONDS", "NANOSECONDS")
RECORD_COLUMN = "RECORD"


def _sniff(head: str) -> bool:
    first = head.split("\n", 1)[0]
    return first.split(",", 1)[0].strip().strip('"') in HEADER_LINES


def _read_header(data: bytes, source: str) -> tuple[str, list[list[str]], int]:
    """The file type, the header lines split into fields, and where the binary part starts."""
    file_type = data[:8].split(b",", 1)[0].strip().strip(b'"').decode("ascii", "replace")
    if file_type not in HEADER_LINES:
        raise ParseError(f"not a TOB1 or TOB3 file: the first field is {file_type!r}",
                         source=source, line=1, column=1)
    lines, start = [], 0
    for number in range(1, HEADER_LINES[file_type] + 1):
        end = data.find(b"\n", start)
        if end < 0:
            raise ParseError(f"the file ends in header line {number}; a {file_type} header "
                             f"has {HEADER_LINES[file_type]} lines", source=source, line=number)
        text = data[start:end].rstrip(b"\r").decode("latin-1")
        try:
            lines.append([f.strip() for f in next(csv.reader([text.rstrip()], strict=True))])
        except (csv.Error, StopIteration):
            raise ParseError(f"header line {number} is not a quoted, comma-separated line",
                             source=source, line=number) from None
        start = end + 1
    names = lines[-4]
    for role, row, number in (("units", lines[-3], len(lines) - 2),
                              ("processing", lines[-2], len(lines) - 1),
                              ("data types", lines[-1], len(lines))):
        if len(row) != len(names):
            raise ParseError(f"the {role} line has {len(row)} fields but the field-names line "
                             f"has {len(names)}", source=source, line=number)
    keys = ENVIRONMENT_KEYS[file_type]
    if len(lines[0]) != len(keys) + 1:
        raise ParseError(f"the environment line has {len(lines[0])} fields; {file_type} has "
                         f"{len(keys) + 1}", source=source, line=1)
    return file_type, lines, start


def _record_dtype(types: list[str], names: list[str], source: str, line: int) -> list[tuple]:
    """(numpy dtype, how to read it) per field, checked against :data:`FIELD_TYPES`."""
    fields = []
    for i, (kind, name) in enumerate(zip(types, names, strict=True), start=1):
        ascii_len = ASCII_TYPE.match(kind)
        if ascii_len:
            fields.append((f"S{ascii_len[1]}", "text"))
        elif kind.upper() in FIELD_TYPES:
            fields.append(FIELD_TYPES[kind.upper()])
        else:
            known = ", ".join([*FIELD_TYPES, "ASCII(n)"])
            raise ParseError(f"data type {kind!r} of field {i} is not one stationlab reads "
                             f"({known})", source=source, line=line, column=name)
    return fields


def _nanoseconds(text: str, pattern: re.Pattern, what: str, source: str) -> int:
    match = pattern.match(text)
    unit = match and TIME_UNITS.get(match[2].upper())
    if not unit:
        raise ParseError(f"the {what} {text!r} is not like '50 MSEC'", source=source, line=2)
    return int(match[1] or 1) * unit


def _resolution_ns(text: str, source: str) -> int:
    match = RESOLUTION.match(text)
    if not match:
        raise ParseError(f"the frame time resolution {text!r} is not one of SecMsec, "
                         "Sec100Usec, Sec10Usec, SecUsec", source=source, line=2)
    return int(match[1] or 1) * TIME_UNITS[match[2].upper()]


def _values(raw: np.ndarray, how: str) -> np.ndarray:
    """The values of one field from its stored form: float64, missing as NaN (text: str)."""
    if how == "fp2":
        raw = raw.astype(np.uint16)
        magnitude = (raw & 0x1FFF).astype(np.float64)
        values = magnitude / np.array([1.0, 10.0, 100.0, 1000.0])[(raw >> 13) & 0x3]
        values = np.where(raw & 0x8000, -values, values)
        return np.where(np.isin(raw, FP2_MISSING), np.nan, values)
    if how == "bool":
        return (raw != 0).astype(np.float64)
    if how == "stamp":
        secs, nanos = raw["f0"].astype(np.int64), raw["f1"].astype(np.int64)
        return EPOCH_NS + secs * 10**9 + nanos
    if how == "text":
        return np.array([v.split(b"\0", 1)[0].decode("latin-1") for v in raw], dtype=object)
    return raw.astype(np.float64)


def _decode_tob3(body: bytes, table: dict[str, str], record: np.dtype, source: str
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Records, stamps [ns since 1990] and record numbers of a TOB3 body; notes on what was
    skipped."""
    try:
        frame_size = int(table["frame_size"])
        stamp = int(table["validation_stamp"])
    except ValueError:
        raise ParseError(f"frame size {table['frame_size']!r} and validation stamp "
                         f"{table['validation_stamp']!r} must be whole numbers",
                         source=source, line=2) from None
    per_frame = (frame_size - FRAME_HEADER - FRAME_FOOTER) // record.itemsize
    if per_frame < 1:
        raise ParseError(f"the frame size {frame_size} bytes cannot hold one record "
                         f"({FRAME_HEADER} + {record.itemsize} + {FRAME_FOOTER} bytes): the "
                         "header's frame size or data types are wrong", source=source, line=2)
    interval = _nanoseconds(table["record_interval"], INTERVAL, "record interval", source)
    if interval == 0 and per_frame > 1:
        # Records stamped one by one (no interval) each need a frame, hence its header.
        raise ParseError(f"the record interval {table['record_interval']!r} needs frames of one "
                         f"record, but the frame size {frame_size} bytes holds {per_frame}: the "
                         "header's frame size or data types are wrong", source=source, line=2)
    resolution = _resolution_ns(table["frame_time_resolution"], source)
    notes = []
    whole, rest = divmod(len(body), frame_size)
    if rest:
        notes.append(f"the file ends {rest} bytes into frame {whole + 1} (frames are "
                     f"{frame_size} bytes): the file looks truncated; that frame is not read")
    slack = frame_size - FRAME_HEADER - FRAME_FOOTER - per_frame * record.itemsize
    frame = np.dtype([("sec", "<u4"), ("sub", "<u4"), ("rec", "<u4"),
                      ("records", record, (per_frame,)), ("slack", f"V{slack}"),
                      ("footer", "<u4")])
    frames = np.frombuffer(body, dtype=frame, count=whole)
    validation = frames["footer"] >> 16
    valid = (validation == stamp) | (validation == (~stamp & 0xFFFF))
    valid &= frames["sub"] < 10**9 // resolution  # a frame's sub-seconds are under a second
    empty = (frames["footer"] & EMPTY_FLAG) != 0
    minor = (frames["footer"] & MINOR_FLAG) != 0
    if whole and not valid.any():
        raise ParseError(f"none of the {whole} frames has the validation stamp {stamp} of "
                         f"line 2: the frame size ({frame_size} bytes) or the stamp is wrong, "
                         "or the file is not a TOB3 file", source=source, line=2)
    skipped = int((~valid).sum())
    if skipped:
        notes.append(f"{skipped} of {whole} frames skipped: their validation stamp is not the "
                     "header's (unused or stale card space)")
    if whole and not valid[0] and valid.sum() < whole / 2:
        # A card's file starts with a frame of its own; chance matches do not make a file.
        raise ParseError(f"the first frame and {skipped} of {whole} frames do not have the "
                         f"validation stamp {stamp} of line 2: the frame size ({frame_size} "
                         "bytes) does not match the file", source=source, line=2)
    major = frames[valid & ~empty & ~minor]
    steps = np.arange(per_frame, dtype=np.int64)
    starts = major["sec"].astype(np.int64) * 10**9 + major["sub"].astype(np.int64) * resolution
    parts = [(major["records"].reshape(-1),
              (starts[:, None] + steps * interval).reshape(-1),
              (major["rec"].astype(np.int64)[:, None] + steps).reshape(-1))]
    for index in np.flatnonzero(valid & minor):
        parts.extend(_sub_frames(body[index * frame_size:(index + 1) * frame_size], record,
                                 interval, resolution))
    records = np.concatenate([p[0] for p in parts])
    stamps = np.concatenate([p[1] for p in parts])
    numbers = np.concatenate([p[2] for p in parts])
    return records, stamps, numbers, notes


def _sub_frames(frame: bytes, record: np.dtype, interval: int, resolution: int) -> list[tuple]:
    """The records of a minor frame's sub-frames, walked from the frame's end backwards."""
    parts, end = [], len(frame)
    while end > FRAME_HEADER:
        flags = int.from_bytes(frame[end - FRAME_FOOTER:end], "little")
        size = flags & OFFSET_MASK
        if not flags & MINOR_FLAG or size == 0 or size > end:
            break
        begin = end - size
        count = (size - FRAME_HEADER - FRAME_FOOTER) // record.itemsize
        if count > 0 and not flags & EMPTY_FLAG:
            sec, sub, rec = np.frombuffer(frame, "<u4", 3, begin).astype(np.int64)
            steps = np.arange(count, dtype=np.int64)
            parts.append((np.frombuffer(frame, record, count, begin + FRAME_HEADER),
                          sec * 10**9 + sub * resolution + steps * interval, rec + steps))
        end = begin
    return parts[::-1]


def _decode_tob1(body: bytes, names: list[str], record: np.dtype, source: str
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, list[str]]:
    upper = [n.upper() for n in names]
    if not all(c in upper for c in TOB1_STAMP_COLUMNS):
        raise ParseError("the file has no SECONDS and NANOSECONDS columns: its records carry "
                         "no time stamps (write the TOB1 file with time stamps)", source=source,
                         line=2)
    whole, rest = divmod(len(body), record.itemsize)
    notes = []
    if rest:
        notes.append(f"the file ends {rest} bytes into record {whole + 1} (records are "
                     f"{record.itemsize} bytes): the file looks truncated; that record is not "
                     "read")
    records = np.frombuffer(body, dtype=record, count=whole)
    secs = records[f"f{upper.index('SECONDS')}"].astype(np.int64)
    nanos = records[f"f{upper.index('NANOSECONDS')}"].astype(np.int64)
    numbers = (records[f"f{upper.index(RECORD_COLUMN)}"].astype(np.int64)
               if RECORD_COLUMN in upper else None)
    return records, secs * 10**9 + nanos, numbers, notes


@register("campbell_tob", sniff=_sniff)
def parse_campbell_tob(data: bytes, opts: Options) -> ParsedFile:
    """Parse a Campbell Scientific TOB1 or TOB3 file.

    ``ts`` is a sample's instant or an interval's start; ``header`` has the environment and
    table lines, ``first_record`` and ``last_record``. What was skipped (frames with another
    validation stamp, a truncated last frame) is in ``value_notes``. A :class:`ParseError` names
    the header line of a problem: a missing line, an unknown data type, a frame size that holds
    no record, no frame with the header's validation stamp.
    """
    source, utc_offset = opts.source, opts.utc_offset
    file_type, lines, body_start = _read_header(data, source)
    env, names, units, processing, types = lines[0], *lines[-4:]
    header = dict(zip(ENVIRONMENT_KEYS[file_type], env[1:], strict=True))
    header["file_type"] = file_type
    if file_type == "TOB3":
        header.update(zip(TABLE_KEYS, lines[1], strict=False))
    fields = _record_dtype(types, names, source, len(lines))
    record = np.dtype([(f"f{i}", dtype) for i, (dtype, _) in enumerate(fields)])
    body = data[body_start:]
    if file_type == "TOB3":
        records, stamps, numbers, notes = _decode_tob3(body, header, record, source)
    else:
        records, stamps, numbers, notes = _decode_tob1(body, names, record, source)
    order = np.argsort(stamps, kind="stable")
    records, stamps = records[order], stamps[order]
    numbers = numbers[order] if numbers is not None else None
    repeated = np.flatnonzero(np.diff(stamps) <= 0) + 1
    if repeated.size:  # a ring read twice over: keep the first record of each stamp
        notes.append(f"{repeated.size} records not read: their time stamp repeats an earlier "
                     "record's")
        keep = np.ones(stamps.size, dtype=bool)
        keep[repeated] = False
        records, stamps = records[keep], stamps[keep]
        numbers = numbers[keep] if numbers is not None else None
    if numbers is not None and numbers.size:
        header["first_record"], header["last_record"] = str(numbers[0]), str(numbers[-1])

    skip = {RECORD_COLUMN, *TOB1_STAMP_COLUMNS} if file_type == "TOB1" else set()
    columns, series = [], []
    for i, (name, unit, word, (_, how)) in enumerate(zip(names, units, processing, fields,
                                                         strict=True)):
        if name.upper() in skip:
            continue
        values = _values(records[f"f{i}"], how)
        if how == "stamp":
            column = Column(name, statistic_of(word, name), unit or None, "timestamp",
                            word or None)
            values = pl.Series(name, values - _offset_ns(utc_offset)).cast(
                pl.Datetime("ns", "UTC")).cast(pl.Datetime("us", "UTC"))
        elif how == "text":
            column = Column(name, None, unit or None, "text", word or None)
            values = pl.Series(name, values, dtype=pl.String)
        else:
            column = Column(name, statistic_of(word, name), unit or None, "number",
                            word or None)
            values = pl.Series(name, values, nan_to_null=True)
        columns.append(column)
        series.append(values)
    ts = pl.Series("ts", stamps + EPOCH_NS - _offset_ns(utc_offset)).cast(
        pl.Datetime("ns", "UTC")).cast(pl.Datetime("us", "UTC"))
    interval = _interval(header, ts, file_type, source)
    if interval and any(w.strip() not in ("", "Smp") for w in processing):
        ts = ts - interval  # Campbell labels an averaging interval at its end
    frame = pl.DataFrame([ts, *series])
    logger.debug("%s: %s, %d records, %d fields, interval %s", source, file_type, frame.height,
                 len(columns), interval)
    return ParsedFile(format="campbell_tob", source=source, header=header,
                      columns=tuple(columns), data=frame, interval=interval,
                      first_data_line=len(lines) + 1, value_notes=tuple(notes))


def _offset_ns(utc_offset: timedelta | None) -> int:
    return 0 if utc_offset is None else int(utc_offset.total_seconds() * 10**9)


def _interval(header: dict[str, str], ts: pl.Series, file_type: str, source: str
              ) -> timedelta | None:
    """The table's record interval, or (``0 USEC``: records when the program says, and TOB1)
    the most common step between stamps."""
    if file_type == "TOB3":
        stated = _nanoseconds(header["record_interval"], INTERVAL, "record interval", source)
        if stated:
            return timedelta(microseconds=stated / 1000)
    return _stamps.infer_interval(ts)
