"""The table part shared by the parsers of the lidar and sodar vendors' text files (Ammonit,
Kintech, ZX, Windcube, Triton): a header line of column names, then one delimited row per
interval; and what their headers say of the text encoding, the clock's time zone and the
position."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from datetime import timedelta

import polars as pl

from stationlab import parse
from stationlab.errors import ParseError
from stationlab.parse import ChannelHistory, Column, ParsedFile, _stamps, decode

#: A height in a column name, e.g. ``80m`` or ``37.5 m``. [m]
HEIGHT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s?m(?![a-z])", re.I)

#: The name given to a column with no heading (Windcube's spacer after each height group).
SPACER = "_spacer_{}"

#: A clock's time zone as headers write it: ``UTC+0``, ``UTC +1,0 hrs`` (decimal hours),
#: ``UTC-05:30`` (hours and minutes).
UTC_OFFSET_TEXT = re.compile(r"^\s*UTC\s*(?:(?P<sign>[+-])\s*(?P<hours>\d{1,2})"
                             r"(?:(?P<sep>[.,:])(?P<rest>\d+))?)?\s*(?:h|hrs?|hours?)?\s*$",
                             re.I)


@dataclass(frozen=True)
class Table:
    """Stamps (UTC, start of interval), value columns and the interval."""

    ts: pl.Series
    series: list[pl.Series]
    kinds: list[str]
    interval: timedelta | None
    names: list[str] = field(default_factory=list)


def decode_detected(data: bytes, *, source: str, encoding: str | None = None) -> tuple[str, str]:
    """The text of a file and the encoding it was found to be in.

    ``encoding`` if given; else a BOM's (UTF-8 or UTF-16); else UTF-8 if every byte sequence is
    valid UTF-8; else Windows-1252 if the file has bytes 0x80-0x9F that it defines, else
    Latin-1 (the degree signs of a Windcube file, ``0xb0``).
    """
    if encoding is not None or data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = decode(data, source=source, encoding=encoding)
        return text, encoding or "utf-16"
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    if re.search(rb"[\x80-\x9f]", data):
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            pass
    return data.decode("latin-1"), "latin-1"


def utc_offset(text: str | None) -> timedelta | None:
    """``"UTC+0"``, ``"UTC +1,0 hrs"``, ``"UTC-05:30"`` -> the offset; ``None`` if not like that.

    After ``:`` come minutes; after ``.`` or ``,`` a decimal fraction of an hour.
    """
    match = UTC_OFFSET_TEXT.match(text or "")
    if match is None:
        return None
    if match["sign"] is None:
        return timedelta(0)
    hours = int(match["hours"])
    if match["sep"] == ":":
        offset = timedelta(hours=hours, minutes=int(match["rest"]))
    else:
        offset = timedelta(hours=hours + float(f"0.{match['rest'] or 0}"))
    if offset > timedelta(hours=14) or offset.total_seconds() % 60:
        return None
    return -offset if match["sign"] == "-" else offset


def position(latitude: float, longitude: float) -> dict[str, str]:
    """``site_latitude`` and ``site_longitude`` header keys (signed decimal degrees), or none if
    out of range or both zero (a blank GPS fix). [deg]"""
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180) or latitude == longitude == 0:
        return {}
    return {"site_latitude": repr(float(latitude)), "site_longitude": repr(float(longitude))}


def find_line(text: str, pattern: str, *, source: str, what: str) -> tuple[int, int]:
    """Offset and 1-based line number of the first line matching ``pattern``."""
    found = re.search(pattern, text, re.M)
    if found is None:
        raise ParseError(f"no {what} line; the file looks truncated or is not of this format",
                         source=source)
    return found.start(), text.count("\n", 0, found.start()) + 1


def names_at(text: str, start: int, separator: str, *, source: str, line: int,
             spacers: bool = False) -> tuple[list[str], str]:
    """The column names on the line at ``start`` and the text after that line.

    With ``spacers`` a field with no name (a trailing one too) is a spacer column, named
    :data:`SPACER` with its 1-based field number, which :func:`read_table` checks is empty
    and drops; otherwise it is an error, except trailing ones.
    """
    end = text.find("\n", start)
    names = [n.strip() for n in text[start:len(text) if end < 0 else end].rstrip("\r")
             .split(separator)]
    while not spacers and len(names) > 1 and not names[-1]:
        names.pop()  # a trailing separator
    if spacers:
        names = [SPACER.format(i) if not name and i > 1 else name
                 for i, name in enumerate(names, start=1)]
    _stamps.check_column_names(names, source=source, line=line)
    return names, "" if end < 0 else text[end + 1:]


def read_table(body: str, names: list[str], *, separator: str, source: str, first_line: int,
               utc_offset: timedelta | None = None, fmt: str | None = None,
               missing_text: tuple[str, ...] = ("",), missing_numbers: tuple[float, ...] = (),
               decimal_comma: bool = False, end_of_interval: bool = False,
               interval: timedelta | None = None, quote_char: str | None = '"',
               formats: tuple[str, ...] = (), stamp: int = 0) -> Table:
    """Read the rows after a column line: column ``stamp`` (0-based; default the first) the
    stamp, the others values.

    With ``decimal_comma`` a comma in
    a value column is its decimal mark. With ``end_of_interval`` stamps are moved to the start.
    ``formats``: stamp formats of which the first that reads every stamp is used (``fmt``
    if none does, for the message). Spacer columns (see :func:`names_at`) must be empty and
    are left out of ``Table.names`` and ``Table.series``.
    """
    rows = _stamps.read_rows(body, names, separator=separator, quote_char=quote_char,
                             source=source, first_line=first_line)
    if formats:
        fmt = _first_format(rows[names[stamp]], formats) or fmt or formats[0]
    ts, _ = _stamps.row_stamps(rows[names[stamp]], source=source, first_line=first_line,
                               column=names[stamp], missing_text=missing_text,
                               utc_offset=utc_offset, fmt=fmt)
    names = _without_spacers(rows, names, source=source, first_line=first_line)
    names = [names[stamp], *names[:stamp], *names[stamp + 1:]]
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
    return Table(ts, series, kinds, interval, names[1:])


def _first_format(raw: pl.Series, formats: tuple[str, ...]) -> str | None:
    """The first of ``formats`` that reads every stamp of ``raw``."""
    text = raw.str.strip_chars()
    for candidate in formats:
        parsed = text.str.strptime(pl.Datetime("us"), candidate, strict=False, exact=True)
        if parsed.null_count() == text.null_count():
            return candidate
    return None


def _without_spacers(rows: pl.DataFrame, names: list[str], *, source: str,
                     first_line: int) -> list[str]:
    """``names`` without the spacer columns, which must hold nothing."""
    kept = []
    for i, name in enumerate(names):
        if name != SPACER.format(i + 1):
            kept.append(name)
            continue
        filled = (rows[name].str.strip_chars().fill_null("") != "").arg_true()
        if filled.len():
            raise ParseError(f"field {i + 1} has no heading but holds a value "
                             f"({rows[name][int(filled[0])]!r})", source=source,
                             line=first_line + int(filled[0]), column=i + 1)
    return kept


def parsed(format: str, source: str, header: dict[str, str], table: Table, described: list,
           *, first_data_line: int, kept: list[int] | None = None, **more) -> ParsedFile:
    """The :class:`ParsedFile` of a vendor table: its value columns (those at ``kept``, if
    given) as ``described`` (``(column, point name, measurement type, height)`` each), with the
    measurement points they name (:func:`points`). ``more``: other fields of the file."""
    kept = range(len(table.series)) if kept is None else kept
    found = columns([d[0] for d in described], [table.kinds[i] for i in kept])
    return ParsedFile(format=format, source=source, header=header, columns=found,
                      data=pl.DataFrame([table.ts.alias("ts"), *(table.series[i] for i in kept)]),
                      interval=table.interval, first_data_line=first_data_line,
                      channel_history=points([(c, *d[1:])
                                              for c, d in zip(found, described, strict=True)]),
                      **more)


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
    measurement type, height)`` each.

    A point's unit is its columns' one unit; where they differ (a speed in m/s and its
    turbulence intensity, which has none) the point has none, so that no column takes a unit
    that is not its own.
    """
    grouped: dict[str, list] = {}
    for column, point, kind, at in described:
        entry = grouped.setdefault(point, [kind, at, set(), []])
        entry[2].add(column.unit)
        entry[3].append(column.name)
    return tuple(ChannelHistory(channel=point, columns=tuple(cols), measurement_type=kind,
                                unit=next(iter(units)) if len(units) == 1 else None,
                                height_m=at, point_name=point, source="file_header")
                 for point, (kind, at, units, cols) in grouped.items())


def vocabulary(name: str, key: str) -> tuple[tuple[re.Pattern, str], ...]:
    """Format ``name``'s heading words ``key`` (``statistics``, ``types``, ``points``) from
    ``formats.toml``: (pattern, value) pairs, compiled case-insensitive, asked in order."""
    return tuple((re.compile(pattern, re.I), value)
                 for pattern, value in parse.catalogue()[name][key])


def measurement_type(text: str, types: tuple[tuple[re.Pattern, str], ...]) -> str:
    """The first measurement type whose pattern is found in ``text``, else ``"other"``."""
    return next((kind for pattern, kind in types if pattern.search(text)), "other")
