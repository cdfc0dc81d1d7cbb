"""Vaisala (Second Wind) Triton sodar 10-minute exports (``TritonExport*.csv``).

**Built from a description, not from a real file.** No Triton file was available; the layout
follows what public readers of SkyServe's Triton CSV export rely on (e.g. e-WindLidar/Lidaco's
Triton reader): ``;`` separated, four header lines of which the third holds the column headings
with the height in each (``Wind Speed 40m``), ``,`` as the decimal mark, stamps
``dd.mm.yyyy hh:mm``, and per height a group of direction, speed, vertical speed and quality.
The test file ``tests/data/TritonExport_sample.csv`` was written from that description. Not
verified against a real file: the first two lines (a title with ``key:value`` items, then free
text, assumed), the units line, whether stamps label the interval end (assumed, as SkyServe's
10-minute records do) and the missing-value codes (empty and ``9999`` assumed). The layout::

    Triton Wind Profiler;Site:Test site;Serial:T1234
    Exported from SkyServe
    Date/Time;Wind Direction 40m;Wind Speed 40m;Vertical Wind Speed 40m;Quality 40m;...
    ;deg;m/s;m/s;%;...
    01.01.2024 00:10;187,0;7,21;0,12;98;...
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import polars as pl

from stationlab.errors import ParseError
from stationlab.parse import Column, ParsedFile, PathOrBuffer, _vendor, decode, read_bytes, register

logger = logging.getLogger(__name__)

#: The first line starts with this.
TITLE = "Triton"

#: Lines before the column headings, and the line of units after them.
HEADING_LINE = 3
UNITS_LINE = 4

#: The stamps, e.g. ``01.01.2024 00:10``.
STAMP_FORMAT = "%d.%m.%Y %H:%M"

#: Numbers meaning "no value", per column.
MISSING_NUMBERS = (9999.0,)

#: ``Wind Speed 40m``: quantity and height.
COLUMN = re.compile(r"^(?P<quantity>.*?)\s*(?:(?P<height>\d+(?:\.\d+)?)\s?m)?$")

#: Heading words -> statistic (default ``avg``).
STATISTICS = ((re.compile(r"quality", re.I), "quality"), (re.compile(r"\bsd\b|std", re.I), "sd"))

#: Heading words -> IEA Task 43 measurement type.
TYPES = ((re.compile(r"vertical", re.I), "vertical_wind_speed"),
         (re.compile(r"wind speed", re.I), "wind_speed"),
         (re.compile(r"direction", re.I), "wind_direction"),
         (re.compile(r"temperature", re.I), "air_temperature"))


def _sniff(head: str) -> bool:
    lines = head.lstrip("\ufeff").split("\n", HEADING_LINE)
    return (lines[0].startswith(TITLE) and len(lines) >= HEADING_LINE
            and lines[HEADING_LINE - 1].startswith("Date/Time;"))


def describe(name: str, unit: str | None) -> tuple[Column, str, str, float | None]:
    """A column, its measurement point, type and height from its heading and unit."""
    match = COLUMN.match(name)
    quantity = match["quantity"]
    statistic = next((s for pattern, s in STATISTICS if pattern.search(quantity)), "avg")
    height = float(match["height"]) if match["height"] else None
    kind = _vendor.measurement_type(quantity, TYPES)
    point = re.sub(r"^quality\s*", "Wind Speed", quantity, flags=re.I) if statistic == \
        "quality" else quantity
    point = f"{point} {match['height']}m" if height is not None else point
    return Column(name, statistic, unit or None, processing=quantity), point, kind, height


@register("triton", description="Vaisala Triton sodar CSV (built from the published layout)",
          sniff=_sniff, extensions=(".csv",))
def parse_triton(data: bytes, *, source: str = "<buffer>", utc_offset: timedelta | None = None,
                 interval: timedelta | None = None, encoding: str | None = None) -> ParsedFile:
    """Parse the bytes of a Triton SkyServe CSV export.

    Parameters
    ----------
    utc_offset
        Offset of the stamps from UTC. Default zero.
    interval
        The averaging interval. Default: the most common step between rows.

    Returns
    -------
    ParsedFile
        ``ts`` is UTC and labels the start of the interval.

    Raises
    ------
    ParseError
        Naming the line (and column) of the first problem.
    """
    text = decode(data, source=source, encoding=encoding)
    if not _sniff(text):
        raise ParseError(f"not a Triton export: line 1 starts {TITLE!r} and line {HEADING_LINE} "
                         "'Date/Time;'", source=source, line=1)
    lines = text.split("\n", UNITS_LINE)
    if len(lines) <= UNITS_LINE - 1:
        raise ParseError("the units line is missing: the file ends after the headings",
                         source=source, line=UNITS_LINE)
    header = {}
    for item in lines[0].rstrip("\r").split(";")[1:]:
        key, sep, value = item.partition(":")
        if sep:
            header[key.strip().lower()] = value.strip()
    header = {"station_name": header.pop("site", ""), "logger_serial": header.pop("serial", ""),
              "logger_model": "Triton", **header}
    start = len(lines[0]) + len(lines[1]) + 2
    names, _ = _vendor.names_at(text, start, ";", source=source, line=HEADING_LINE)
    units = [u.strip() for u in lines[UNITS_LINE - 1].rstrip("\r").split(";")]
    if len(units) < len(names):
        raise ParseError(f"the units line has {len(units)} fields, the headings {len(names)}",
                         source=source, line=UNITS_LINE)
    body = lines[UNITS_LINE] if len(lines) > UNITS_LINE else ""
    table = _vendor.read_table(body, names, separator=";", source=source,
                               first_line=UNITS_LINE + 1, utc_offset=utc_offset,
                               fmt=STAMP_FORMAT, missing_numbers=MISSING_NUMBERS,
                               decimal_comma=True, end_of_interval=True, interval=interval)
    described = [describe(n, u) for n, u in zip(names[1:], units[1:], strict=False)]
    columns = _vendor.columns([d[0] for d in described], table.kinds)
    return ParsedFile(format="triton", source=source, header=header, columns=columns,
                      data=pl.DataFrame([table.ts.alias("ts"), *table.series]),
                      interval=table.interval, first_data_line=UNITS_LINE + 1,
                      channel_history=_vendor.points(
                          [(c, *d[1:]) for c, d in zip(columns, described, strict=True)]))


def read_triton(path_or_buffer: PathOrBuffer, **options) -> ParsedFile:
    """Read a Triton export from a path, bytes or a binary file object; see
    :func:`parse_triton`."""
    data, name = read_bytes(path_or_buffer)
    options.setdefault("source", name)
    return parse_triton(data, **options)
