"""Windographer time-series text exports (as written by Windographer 4).

A preamble of ``key = value`` and ``key: value`` lines, a sentence saying which end of the time
step a stamp labels, then a tab-separated table (tabs shown as ``→``) whose header line starts
with ``Date/Time``::

    Created 10-05-2019 14:36 by Windographer 4.1.14
    Latitude = N 0.000000
    Longitude = E 0.000000
    Elevation = 0 m
    Calm threshold = 0 m/s
    Included flags: <Unflagged data>
    Excluded flags: Low quality
    Time stamps indicate the beginning of the time step.
    Date/Time→Speed 80m Mean [m/s]→Speed 80m SD [m/s]
    2016-01-09 15:30→8.37→1.24

The header line is found by its ``Date/Time`` start, never by counting lines. Missing values are
empty fields and ``-9999``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

import polars as pl

from stationlab.errors import ParseError
from stationlab.parse import Column, Options, ParsedFile, _stamps, decode, register

logger = logging.getLogger(__name__)

#: The header line of the table starts with this.
HEADER_START = "Date/Time"

#: How many lines :func:`_sniff` looks at for the header line.
SNIFF_LINES = 40

#: Text meaning "no value" (empty fields are missing too).
MISSING_TEXT = ("",)

#: Numbers meaning "no value", replaced per numeric column.
MISSING_NUMBERS = (-9999.0,)

#: Preamble lines -> header keys.
PREAMBLE = (
    (re.compile(r"^Created (?P<created>.*?)(?: by (?P<software>.*))?$"), None),
    (re.compile(r"^Latitude\s*=\s*(?P<latitude>.*)$"), "latitude"),
    (re.compile(r"^Longitude\s*=\s*(?P<longitude>.*)$"), "longitude"),
    (re.compile(r"^Elevation\s*=\s*(?P<elevation>.*)$"), None),
    (re.compile(r"^Calm threshold\s*=\s*(?P<calm_threshold>.*)$"), None),
    (re.compile(r"^Included flags:\s*(?P<included_flags>.*)$"), None),
    (re.compile(r"^Excluded flags:\s*(?P<excluded_flags>.*)$"), None),
    (re.compile(r"^Time stamps indicate the (?P<time_stamps>beginning|end) of the time step",
                re.I), None),
)

#: Hemisphere letter -> sign of the coordinate.
HEMISPHERE_SIGNS = {"N": "", "E": "", "S": "-", "W": "-"}

#: A unit in square brackets at the end of a column name.
UNIT_PATTERN = re.compile(r"\s*\[(?P<unit>[^\]]*)\]\s*$")

#: The last word of a column name (before the unit) -> statistic; case-insensitive.
WORD_STATISTICS = {
    "mean": "avg", "avg": "avg", "average": "avg", "sd": "sd", "std": "sd", "stdev": "sd",
    "stddev": "sd", "min": "min", "max": "max", "gust": "gust", "sum": "sum", "total": "sum",
    "count": "count",
}

#: Suffixes glued to a name (``Spd80mNStd``) -> statistic; case-sensitive, longest first.
SUFFIX_STATISTICS = (("StdDev", "sd"), ("StDev", "sd"), ("Std", "sd"), ("SD", "sd"),
                     ("Max", "max"), ("Min", "min"), ("Avg", "avg"), ("Mean", "avg"),
                     ("Gust", "gust"), ("Tot", "sum"), ("Sum", "sum"))


def _sniff(head: str) -> bool:
    lines = head.lstrip("\ufeff").splitlines()
    if lines and lines[0].startswith("Created ") and "Windographer" in lines[0]:
        return True
    return any(line.startswith(HEADER_START + "\t") for line in lines[:SNIFF_LINES])


def describe(name: str) -> Column:
    """The :class:`Column` of a Windographer column name, e.g. ``"Speed 80m Mean [m/s]"``."""
    match = UNIT_PATTERN.search(name)
    unit = (match["unit"].strip() or None) if match else None
    bare = name[:match.start()] if match else name
    words = bare.split()
    last = words[-1] if words else ""
    if len(words) > 1 and last.lower() in WORD_STATISTICS:
        return Column(name=name, statistic=WORD_STATISTICS[last.lower()], unit=unit,
                      processing=last)
    for suffix, statistic in SUFFIX_STATISTICS:
        if last.endswith(suffix) and last != suffix:
            return Column(name=name, statistic=statistic, unit=unit, processing=suffix)
    return Column(name=name, unit=unit)


def _coordinate(text: str) -> str:
    """``"S 12.5"`` -> ``"-12.5"``; text already signed is kept. [deg]"""
    match = re.fullmatch(r"([NSEW])\s*([0-9.]+)", text.strip(), re.I)
    if not match:
        return text.strip()
    return HEMISPHERE_SIGNS[match[1].upper()] + match[2]


def _preamble(lines: list[str]) -> tuple[dict[str, str], tuple[str, ...]]:
    header: dict[str, str] = {}
    notes = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        for pattern, coordinate in PREAMBLE:
            match = pattern.match(line)
            if match:
                found = {k: v.strip() for k, v in match.groupdict().items() if v is not None}
                if coordinate:
                    found[coordinate] = _coordinate(found[coordinate])
                header.update(found)
                break
        else:
            key, sep, value = line.partition("=") if "=" in line else line.partition(":")
            if sep and key.strip():
                header[re.sub(r"\W+", "_", key.strip().lower()).strip("_")] = value.strip()
            else:
                notes.append(line)
    if "time_stamps" in header:
        header["time_stamps"] = header["time_stamps"].lower()
    return header, tuple(notes)


@register("windographer", sniff=_sniff)
def parse_windographer(data: bytes, opts: Options) -> ParsedFile:
    """Parse a Windographer time-series export.

    ``header`` holds ``created``, ``software``, ``latitude``/``longitude`` (signed decimal
    degrees: S and W negative), ``elevation``, ``calm_threshold``, ``included_flags``,
    ``excluded_flags`` and ``time_stamps`` (``"beginning"`` or ``"end"``).
    """
    source, utc_offset, interval = opts.source, opts.utc_offset, opts.interval
    text = decode(data, source=source, encoding=opts.encoding)
    found = re.search(rf"^{re.escape(HEADER_START)}", text, re.M)
    if found is None:
        raise ParseError(f"no line starts with {HEADER_START!r}; not a Windographer export",
                         source=source)
    header_line = text.count("\n", 0, found.start()) + 1
    end = text.find("\n", found.start())
    names = text[found.start():len(text) if end < 0 else end].rstrip("\r").split("\t")
    header, notes = _preamble(text[:found.start()].splitlines())
    _stamps.check_column_names(names, source=source, line=header_line, what="header")
    first_line = header_line + 1
    rows = _stamps.read_rows("" if end < 0 else text[end + 1:], names, separator="\t",
                             quote_char=None, source=source, first_line=first_line)
    stamps, _ = _stamps.row_stamps(rows[names[0]], source=source, first_line=first_line,
                                   column=names[0], missing_text=MISSING_TEXT,
                                   utc_offset=utc_offset)
    if interval is None:
        interval = _stamps.infer_interval(stamps)
    if header.setdefault("time_stamps", "beginning") == "end":
        if interval is None and rows.height:
            raise ParseError("stamps mark the end of the time step but one row cannot tell the "
                             "step; pass interval=", source=source, line=first_line)
        stamps = stamps - interval if interval is not None else stamps
    series, kinds = _stamps.convert_columns(
        rows.select(names[1:]), kinds={}, source=source, first_line=first_line,
        missing_text=MISSING_TEXT, missing_numbers=MISSING_NUMBERS, utc_offset=utc_offset)
    columns = tuple(replace(describe(name), kind=kind)
                    for name, kind in zip(names[1:], kinds, strict=True))
    frame = pl.DataFrame([stamps.alias("ts"), *series])
    logger.debug("%s: %d rows, %d value columns, interval %s", source, frame.height,
                 len(columns), interval)
    return ParsedFile(format="windographer", source=source, header=header, columns=columns,
                      data=frame, interval=interval, first_data_line=first_line, notes=notes)


