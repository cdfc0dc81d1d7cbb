"""Campbell Scientific TOA5 ("Table Oriented ASCII") files, as written by LoggerNet and CRBasic
loggers (CR1000, CR1000X, CR6, ...).

A TOA5 file is comma separated, fields usually quoted, with four header lines::

    "TOA5","station","CR1000X","12342","CR1000X.Std.03.02","CPU:prog.CR1X","2438","Hourly"
    "TIMESTAMP","RECORD","BattV_Min","AirT_C_Avg"
    "TS","RN","Volts","Deg C"
    "","","Min","Avg"
    "2021-06-18 21:00:00",10,13.23,26.29

(environment, field names, units, processing), then one row per record. Campbell labels a row at
the *end* of its averaging interval; :func:`parse_toa5` shifts it to the start. Files re-saved by
a spreadsheet (BOM, no quotes, CRLF, lines padded with empty fields, slash dates with an offset,
blank lines at the end) are read too.

The layout and the processing words follow Campbell Scientific's LoggerNet manual (TOA5 file
format) and CRBasic help (output processing instructions).
"""

from __future__ import annotations

import csv
import logging
import re
from datetime import timedelta

import polars as pl

from stationlab.errors import ParseError
from stationlab.parse import Column, Options, ParsedFile, _stamps, decode, register

logger = logging.getLogger(__name__)

#: The first field of a TOA5 file.
FILE_TYPE = "TOA5"

#: Header keys of the environment line's fields after ``TOA5``.
ENVIRONMENT_KEYS = ("station_name", "logger_model", "logger_serial", "logger_os", "program",
                    "program_signature", "table_name")

#: The four header lines, for messages.
HEADER_LINES = ("environment", "field names", "units", "processing")

#: Campbell's output processing word -> stationlab statistic (``None``: no standard statistic).
PROCESSING_STATISTICS = {
    "Avg": "avg", "Std": "sd", "Max": "max", "Min": "min", "Tot": "sum", "Smp": "sample",
    "TMx": "time_of_max", "TMn": "time_of_min", "WVc": "avg", "Med": None, "Mom": None,
    "Cov": None, "Hst": None, "Lev": None, "RFH": None, "FFT": None, "ETsz": None, "RSo": None,
}

#: Processing words whose columns hold time stamps.
TIMESTAMP_PROCESSING = ("TMx", "TMn")

#: A ``WVc`` (wind vector) column whose name matches this is the direction's standard deviation.
WVC_SD_NAME = re.compile(r"(?:Std|SD|_SD|StdDev|SD\d*_WVT)$")

#: Text that means "no value" in a TOA5 column (CRBasic writes ``NAN`` and ``+/-INF``).
MISSING_TEXT = ("NAN", "NaN", "nan", "-INF", "INF", "+INF")

#: Table-name patterns -> interval, used when a file has a single row (first match wins).
TABLE_NAME_INTERVALS = (
    (re.compile(r"(?<!\d)(?:min10|ten_?min|10_?min)(?!\d)", re.I), timedelta(minutes=10)),
    (re.compile(r"(?<!\d)(?:min1|one_?min|1_?min)(?!\d)", re.I), timedelta(minutes=1)),
    (re.compile(r"hour|(?<!\d)60_?min", re.I), timedelta(hours=1)),
    (re.compile(r"daily|day|(?<!\d)24_?h(?:r|our)?", re.I), timedelta(days=1)),
)


def _sniff(head: str) -> bool:
    first = head.lstrip("\ufeff").split("\n", 1)[0]
    return first.split(",", 1)[0].strip().strip('"') == FILE_TYPE


def interval_from_table_name(table_name: str) -> timedelta | None:
    """The interval a table name such as ``"Hourly"`` or ``"Min10"`` stands for, if any."""
    for pattern, interval in TABLE_NAME_INTERVALS:
        if pattern.search(table_name):
            return interval
    return None


def statistic_of(processing: str, name: str) -> str | None:
    """The stationlab statistic of a column from its processing word (and name, for ``WVc``)."""
    word = {k.lower(): k for k in PROCESSING_STATISTICS}.get(processing.strip().lower())
    if word == "WVc" and WVC_SD_NAME.search(name):
        return "sd"
    return PROCESSING_STATISTICS.get(word) if word else None


def _read_header(text: str, source: str) -> tuple[list[list[str]], int, int]:
    """The four header lines split into fields and checked, the number of padding fields after
    the named columns, and where the text after the header starts."""
    if not text:
        raise ParseError("the file is empty", source=source, line=1)
    parts, start = [], 0  # the header lines (not the rest: a big file's text is not copied)
    for _ in HEADER_LINES:
        end = text.find("\n", start)
        if end < 0:
            parts.append(text[start:])
            start = len(text)
            break
        parts.append(text[start:end])
        start = end + 1
    fields: list[list[str]] = []
    for i, role in enumerate(HEADER_LINES):
        line_no = i + 1
        if i >= len(parts) or (i == len(parts) - 1 and parts[i] == ""):
            raise ParseError(
                f"the file ends after line {i}; a TOA5 header has {len(HEADER_LINES)} lines "
                f"({', '.join(HEADER_LINES)}), the {role} line is missing",
                source=source, line=line_no)
        line = parts[i].rstrip("\r")
        if not line.strip():
            raise ParseError(f"the line is blank; expected the TOA5 {role} line",
                             source=source, line=line_no)
        try:
            fields.append(next(csv.reader([line], strict=True)))
        except csv.Error:
            raise ParseError(f"unterminated quote in the {role} line: the line looks truncated",
                             source=source, line=line_no) from None
        if i == 0:
            _check_environment(fields[0], source)
    padding = _check_columns(*fields[1:], source=source)
    return fields, padding, start


def _check_environment(env: list[str], source: str) -> None:
    if env[0].strip() != FILE_TYPE:
        raise ParseError(f"not a TOA5 file: the first field is {env[0]!r}, not {FILE_TYPE!r}",
                         source=source, line=1, column=1)
    while env and not env[-1].strip():
        env.pop()  # a spreadsheet re-save pads the line with empty fields
    if len(env) != len(ENVIRONMENT_KEYS) + 1:
        raise ParseError(
            f"the environment line has {len(env)} fields; TOA5 has {len(ENVIRONMENT_KEYS) + 1} "
            f"({FILE_TYPE}, {', '.join(ENVIRONMENT_KEYS)})", source=source, line=1)


def _check_columns(names: list[str], units: list[str], processing: list[str], *,
                   source: str) -> int:
    """Check lines 2 to 4; drop padding fields, empty on all three, and return their count."""
    for line_no, role, row in ((3, "units", units), (4, "processing", processing)):
        if len(row) != len(names):
            raise ParseError(f"the {role} line has {len(row)} fields but the field-names line "
                             f"has {len(names)}", source=source, line=line_no)
    padding = 0
    while len(names) > 1 and not (names[-1].strip() or units[-1].strip()
                                  or processing[-1].strip()):
        for row in (names, units, processing):
            row.pop()
        padding += 1
    _stamps.check_column_names(names, source=source, line=2, what="field-names")
    if names[0].strip().upper() != "TIMESTAMP" and units[0].strip() != "TS":
        raise ParseError(f"the first column is {names[0]!r}; a TOA5 table starts with "
                         "TIMESTAMP", source=source, line=2, column=names[0])
    return padding


@register("toa5", sniff=_sniff)
def parse_toa5(data: bytes, opts: Options) -> ParsedFile:
    """Parse a Campbell Scientific TOA5 file.

    For a one-row file the interval comes from the table name (``Hourly``, ``Daily``,
    ``Min10``, ...); ``timestamp_format``, a strftime pattern such as ``"%d/%m/%Y %H:%M"``,
    overrides the detection of the stamps. The ``TIMESTAMP`` and ``RECORD`` columns are not value
    columns: the first and last record numbers are in ``header`` as ``first_record`` and
    ``last_record``. A :class:`ParseError` names the line (and column) of a bad header, a wrong
    field count, text in a numeric column, an unreadable or out-of-order stamp.
    """
    source, utc_offset, interval = opts.source, opts.utc_offset, opts.interval
    text = decode(data, source=source, encoding=opts.encoding)
    (env, names, units, processing), padding, body_start = _read_header(text, source)
    header = dict(zip(ENVIRONMENT_KEYS, (v.strip() for v in env[1:]), strict=True))
    first_line = len(HEADER_LINES) + 1
    record = next((n for n, u in zip(names, units, strict=True) if n.strip().upper() == "RECORD"
                   or u.strip() == "RN"), None)
    numeric = tuple(n for n, w in zip(names, processing, strict=True)
                    if n not in (names[0], record) and w.strip() not in TIMESTAMP_PROCESSING)
    rows = _stamps.read_rows(text, names, separator=",", quote_char='"', source=source,
                             first_line=first_line, padding=padding, numeric=numeric,
                             missing_text=MISSING_TEXT, start=body_start)
    del text
    if record is not None and rows.height:
        header["first_record"] = (rows[record][0] or "").strip()
        header["last_record"] = (rows[record][-1] or "").strip()
    stamps, stamp_format = _stamps.row_stamps(
        rows[names[0]], source=source, first_line=first_line, column=names[0],
        missing_text=MISSING_TEXT, utc_offset=utc_offset, fmt=opts.timestamp_format)
    interval = _interval(stamps, interval, header["table_name"], source, first_line)

    described = {name: (unit.strip() or None, word.strip())
                 for name, unit, word in zip(names, units, processing, strict=True)
                 if name not in (names[0], record)}
    series, kinds = _stamps.convert_columns(
        rows.select(list(described)), source=source, first_line=first_line,
        kinds={n: "timestamp" for n, (_, w) in described.items() if w in TIMESTAMP_PROCESSING},
        missing_text=MISSING_TEXT, utc_offset=utc_offset, fmt=opts.timestamp_format,
        prefer=stamp_format)
    columns = tuple(Column(name, statistic_of(word, name), unit, kind, word or None)
                    for (name, (unit, word)), kind in zip(described.items(), kinds, strict=True))
    ts = (stamps - interval) if interval is not None else stamps
    frame = pl.DataFrame([ts.alias("ts"), *series])
    logger.debug("%s: %d rows, %d value columns, interval %s", source, frame.height,
                 len(columns), interval)
    return ParsedFile(format="toa5", source=source, header=header, columns=columns,
                      data=frame, interval=interval, first_data_line=first_line)


def _interval(stamps: pl.Series, interval: timedelta | None, table_name: str, source: str,
              first_line: int) -> timedelta | None:
    if interval is not None:
        return interval
    inferred = _stamps.infer_interval(stamps)
    if inferred is None:
        inferred = interval_from_table_name(table_name)
        if inferred is None and stamps.len() == 1:
            raise ParseError(f"cannot tell the averaging interval from one row and the table "
                             f"name {table_name!r}; pass interval=", source=source,
                             line=first_line)
    logger.debug("%s: interval %s (inferred)", source, inferred)
    return inferred
