"""Vaisala (Second Wind) Triton sodar 10-minute exports (``TritonExport_*.csv``).

**Built from a real file's layout.** A real export is public in e-WindLidar/Lidaco
(``samples/Kassel_Experiment/data/WP2/TritonExport_2017-03-13-04-46-38_innogySE_sample.csv``,
logger 358) under no licence, so it is not copied here:
``tests/data/TritonExport_2016-09-01-06-00-00_sample.csv`` reproduces that layout line for line
with invented values. The layout (every line has as many ``;`` fields as the headings)::

    Triton Wind Speed Data;;;...
    Logger Serial Number: 358;;;...
    Date and Time;40m Wind Direction;40m Wind Speed;40m Wind Vert;Quality (Station Height 40m);
        50m Wind Direction;...;40m Wind Turbulence;...;Turbu. Quality (Station Height 40m);...
    <Intentionally blank>;°;m/s;m/s;%;...;<no units specified>;...;%
    31.08.2016 00:00;339,5;0,5;-0,14;92;...

Headings put the height first, or last in ``(Station Height 40m)``; ``Wind Vert`` is the
vertical wind speed, ``Wind Turbulence`` the turbulence intensity (no unit), the qualities
percentages. Units in angle brackets are placeholders: no unit. Decimal marks are commas, stamps
``dd.mm.yyyy hh:mm`` label the *start* of the 10-minute period (the real two-day export runs
from 00:00 to 23:50 of the second day) and empty fields are missing. The encoding is detected
(``°`` is one byte in Windows-1252/Latin-1, two in UTF-8).

Not stated by the file or seen in it: the time zone (none is written; read as UTC unless the
logger's ``utc_offset`` or the ``utc_offset`` option says otherwise) and ``9999`` as missing
(kept from the earlier description of SkyServe exports). The file names no site: the station is
``Triton <serial>`` unless the import names it.
"""

from __future__ import annotations

import logging
import re

from stationlab.errors import ParseError
from stationlab.parse import Column, Options, ParsedFile, _vendor, register

logger = logging.getLogger(__name__)

#: The first line starts with this.
TITLE = "Triton"

#: The line of the column headings (1-based), and the line of units after it.
HEADING_LINE = 3
UNITS_LINE = 4

#: The stamp column's heading.
STAMP_HEADING = "Date and Time"

#: The stamps, e.g. ``31.08.2016 00:00``.
STAMP_FORMAT = "%d.%m.%Y %H:%M"

#: Numbers meaning "no value", per column (not seen in a real file).
MISSING_NUMBERS = (9999.0,)

#: The logger's serial on line 2.
SERIAL = re.compile(r"^Logger Serial Number:\s*(?P<serial>[^;]*)", re.I)

#: ``40m Wind Speed`` or ``Quality (Station Height 40m)``: height and quantity.
COLUMN = re.compile(r"^(?:(?P<height>\d+(?:\.\d+)?)\s?m\s+(?P<quantity>.+)"
                    r"|(?P<quantity2>.+?)\s*\(Station Height (?P<height2>\d+(?:\.\d+)?)\s?m\))$",
                    re.I)

#: A unit placeholder (``<no units specified>``, ``<Intentionally blank>``): no unit.
NO_UNIT = re.compile(r"^<.*>$")

#: Heading words -> statistic (default ``avg``; in formats.toml).
STATISTICS = _vendor.vocabulary("triton", "statistics")

#: Heading words -> IEA Task 43 measurement type (formats.toml).
TYPES = _vendor.vocabulary("triton", "types")

#: Quantity -> the point it belongs to (the qualities and turbulence are of the speed;
#: formats.toml).
POINTS = _vendor.vocabulary("triton", "points")


def _sniff(head: str) -> bool:
    lines = head.lstrip("\ufeff").split("\n", HEADING_LINE)
    return (lines[0].startswith(TITLE) and len(lines) >= HEADING_LINE
            and lines[HEADING_LINE - 1].startswith(STAMP_HEADING + ";"))


def describe(name: str, unit: str | None) -> tuple[Column, str, str, float | None]:
    """A column, its measurement point, type and height from its heading and unit."""
    match = COLUMN.match(name)
    quantity = (match["quantity"] or match["quantity2"]) if match else name
    height_text = (match["height"] or match["height2"]) if match else None
    statistic = next((s for pattern, s in STATISTICS if pattern.search(quantity)), "avg")
    kind = _vendor.measurement_type(quantity, TYPES)
    base = next((point for pattern, point in POINTS if pattern.search(quantity)), quantity)
    point = f"{height_text}m {base}" if height_text else base
    unit = None if not unit or NO_UNIT.match(unit) else unit
    return (Column(name, statistic, unit, processing=quantity), point, kind,
            float(height_text) if height_text else None)


@register("triton", sniff=_sniff)
def parse_triton(data: bytes, opts: Options) -> ParsedFile:
    """Parse a Triton SkyServe CSV export.

    The encoding is detected (:func:`~stationlab.parse._vendor.decode_detected`) unless given;
    ``header`` has ``logger_serial`` from line 2.
    """
    source, utc_offset, interval = opts.source, opts.utc_offset, opts.interval
    text, found_encoding = _vendor.decode_detected(data, source=source, encoding=opts.encoding)
    if not _sniff(text):
        raise ParseError(f"not a Triton export: line 1 starts {TITLE!r} and line {HEADING_LINE} "
                         f"{STAMP_HEADING + ';'!r}", source=source, line=1)
    lines = text.split("\n", UNITS_LINE)
    if len(lines) <= UNITS_LINE - 1:
        raise ParseError("the units line is missing: the file ends after the headings",
                         source=source, line=UNITS_LINE)
    header = _header(lines[:HEADING_LINE - 1], source=source)
    header["encoding"] = found_encoding
    start = len(lines[0]) + len(lines[1]) + 2
    names, _ = _vendor.names_at(text, start, ";", source=source, line=HEADING_LINE)
    units = [u.strip() for u in lines[UNITS_LINE - 1].rstrip("\r").split(";")]
    if len(units) != len(names):
        raise ParseError(f"the units line has {len(units)} fields, the headings {len(names)}",
                         source=source, line=UNITS_LINE)
    body = lines[UNITS_LINE] if len(lines) > UNITS_LINE else ""
    table = _vendor.read_table(body, names, separator=";", source=source,
                               first_line=UNITS_LINE + 1, utc_offset=utc_offset,
                               fmt=STAMP_FORMAT, missing_numbers=MISSING_NUMBERS,
                               decimal_comma=True, interval=interval)
    described = [describe(n, u) for n, u in zip(names[1:], units[1:], strict=True)]
    return _vendor.parsed("triton", source, header, table, described,
                          first_data_line=UNITS_LINE + 1)


def _header(lines: list[str], *, source: str) -> dict[str, str]:
    """The normalised header of the title and serial lines."""
    title = lines[0].rstrip("\r").split(";")[0].strip()
    found = SERIAL.match(lines[1].strip())
    serial = found["serial"].strip() if found else ""
    if not found:
        logger.warning("%s: line 2 is not 'Logger Serial Number: N'; no serial", source)
    return {"station_name": f"Triton {serial}" if serial else "", "logger_serial": serial,
            "logger_model": "Triton", "title": title}
