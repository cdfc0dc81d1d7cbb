"""The table part shared by the parsers built from vendors' published layouts (Ammonit, Kintech,
ZX, Windcube, Triton): a header line of column names, then one delimited row per interval."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from stationlab.errors import ParseError
from stationlab.parse import ChannelHistory, Column, _stamps

#: A height in a column name, e.g. ``80m`` or ``37.5 m``. [m]
HEIGHT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s?m(?![a-z])", re.I)


@dataclass(frozen=True)
class Table:
    """Stamps (UTC, start of interval), value columns and the interval."""

    ts: pl.Series
    series: list[pl.Series]
    kinds: list[str]
    interval: timedelta | None


def find_line(text: str, pattern: str, *, source: str, what: str) -> tuple[int, int]:
    """Offset and 1-based line number of the first line matching ``pattern``."""
    found = re.search(pattern, text, re.M)
    if found is None:
        raise ParseError(f"no {what} line; the file looks truncated or is not of this format",
                         source=source)
    return found.start(), text.count("\n", 0, found.start()) + 1


def names_at(text: str, start: int, separator: str, *, source: str,
             line: int) -> tuple[list[str], str]:
    """The column names on the line at ``start`` and the text after that line."""
    end = text.find("\n", start)
    names = [n.strip() for n in text[start:len(text) if end < 0 else end].rstrip("\r")
             .split(separator)]
    while len(names) > 1 and not names[-1]:
        names.pop()  # a trailing separator
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if not name:
            raise ParseError(f"field {i} of the column line has no name", source=source,
                             line=line, column=i)
        if name in seen:
            raise ParseError(f"column name {name!r} appears twice (fields {seen[name]} and {i})",
                             source=source, line=line, column=name)
        seen[name] = i
    return names, "" if end < 0 else text[end + 1:]


def read_table(body: str, names: list[str], *, separator: str, source: str, first_line: int,
               utc_offset: timedelta | None = None, fmt: str | None = None,
               missing_text: tuple[str, ...] = ("",), missing_numbers: tuple[float, ...] = (),
               decimal_comma: bool = False, end_of_interval: bool = False,
               interval: timedelta | None = None) -> Table:
    """Read the rows after a column line: first column the stamp, the others values.

    With ``decimal_comma`` a comma in
    a value column is its decimal mark. With ``end_of_interval`` stamps are moved to the start.
    """
    rows = _stamps.read_rows(body, names, separator=separator, quote_char='"', source=source,
                             first_line=first_line)
    ts, _ = _stamps.row_stamps(rows[names[0]], source=source, first_line=first_line,
                               column=names[0], missing_text=missing_text,
                               utc_offset=utc_offset, fmt=fmt)
    values = rows.select(names[1:])
    if decimal_comma:
        values = values.select(pl.all().str.replace(",", ".", literal=True))
    series, kinds = _stamps.convert_columns(values, kinds={}, source=source,
                                            first_line=first_line, missing_text=missing_text,
                                            missing_numbers=missing_numbers)
    interval = interval or _stamps.infer_interval(ts)
    if end_of_interval:
        if interval is None and ts.len():
            raise ParseError("stamps mark the end of the interval but one row cannot tell the "
                             "interval; pass interval=", source=source, line=first_line)
        ts = ts - interval if interval is not None else ts
    return Table(ts, series, kinds, interval)


def columns(described: list[Column], kinds: list[str]) -> tuple[Column, ...]:
    """The columns with the kinds the table found."""
    return tuple(Column(c.name, c.statistic, c.unit, kind, c.processing)
                 for c, kind in zip(described, kinds, strict=True))


def height(name: str) -> float | None:
    """The height in a column name, if any. [m]"""
    match = HEIGHT.search(name)
    return float(match[1]) if match else None


def points(described: list[tuple[Column, str, str, float | None]]) -> tuple[ChannelHistory, ...]:
    """Measurement points read from the column names, as open-ended configuration entries of
    source ``file_header`` (a guess, replaced by curated metadata): ``(column, point name,
    measurement type, height)`` each."""
    grouped: dict[str, list] = {}
    for column, point, kind, at in described:
        grouped.setdefault(point, [kind, at, column.unit, []])[3].append(column.name)
    return tuple(ChannelHistory(channel=point, columns=tuple(cols), measurement_type=kind,
                                unit=unit, height_m=at, point_name=point, source="file_header")
                 for point, (kind, at, unit, cols) in grouped.items())


def measurement_type(text: str, types: tuple[tuple[re.Pattern, str], ...]) -> str:
    """The first measurement type whose pattern is found in ``text``, else ``"other"``."""
    return next((kind for pattern, kind in types if pattern.search(text)), "other")
