"""ZX Lidars (ZephIR 300 / ZX 300) 10-minute averaged CSV files (``Wind10_<unit>@Y..._M.._D..``).

**Built from a real file's layout.** The real files are public in e-WindLidar/Lidaco
(``samples/Kassel_Experiment/data/WP4/10min/Wind10_317@Y2016_M12_D13.ZPH.csv``, unit 317)
under no licence, so they are not copied here: ``tests/data/zx_Wind10_317@Y2016_M12_D13.ZPH.csv``
reproduces that layout line for line with invented values. The layout::

    CSV Converter: v1,114;...;Unit: 317;Time sync: UTC +1,0 hrs;Time stamps indicate the
        beginning of the averaging period;...;Measurement heights: 297m 247m ... 37m
    Reference;Time and Date;Timestamp (s);Info. Flags;Status Flags;Battery (V);...;GPS;...;
        Horizontal Wind Speed (m/s) at 297m;...;TI at 37m;Checksum:<encoded headings>
    21980722;13.12.2016 00:00:00;547516800;I-net Shutter-Open;Modem;11,767;...;51,31546 9,16535;...

The first line is ``key: value`` items and sentences, ``;`` separated; decimal marks are commas.
``Time sync`` is the clock's time zone and is applied; the sentence on time stamps says whether
they label the beginning (as in the real file) or the end of the period. ``GPS`` (latitude and
longitude, decimal degrees, space separated) becomes the site's position. ``Unit`` is the
lidar's unit number: the file states no serial number, so the logger has none and is named by
its unit (``unit 317``), and the station is ``ZX unit 317`` where the file names no site.
``Reference`` (a record number), ``Timestamp (s)``, the flags, ``GPS`` and the checksum column
are not
measurements and are not stored. ``9999`` is missing.

From documentation only (ZX Lidars' data-file description, e-WindLidar/Lidaco's reader):
``9998`` as a second missing-value code, stamps that label the end of the period, a ``Site``
item naming the station.
"""

from __future__ import annotations

import logging
import re

import polars as pl

from stationlab.errors import ParseError
from stationlab.parse import Column, Options, ParsedFile, _stamps, _vendor, register

logger = logging.getLogger(__name__)

#: The stamp column's heading.
STAMP_HEADING = "Time and Date"

#: The stamps, e.g. ``13.12.2016 00:00:00``.
STAMP_FORMAT = "%d.%m.%Y %H:%M:%S"

#: Numbers meaning "no value" (9999: no data; 9998: not enough data, from documentation).
MISSING_NUMBERS = (9999.0, 9998.0)

#: Headings of columns that are not measurements: record number, epoch seconds, flags, GPS and
#: the checksum (whose heading is ``Checksum:`` and an encoded copy of the headings).
NOT_MEASUREMENTS = re.compile(r"^(Reference|Timestamp \(s\)|Info\. Flags|Status Flags|GPS|"
                              r"Checksum\b.*)$", re.S)

#: ``Horizontal Wind Speed (m/s) at 38m``: quantity, unit, height.
COLUMN = re.compile(r"^(?P<quantity>.*?)\s*(?:\((?P<unit>[^)]*)\))?(?:\s+at\s+"
                    r"(?P<height>\d+(?:\.\d+)?)m)?$")

#: Heading words -> statistic (first match wins; default ``avg``; in formats.toml).
STATISTICS = _vendor.vocabulary("zx_lidar", "statistics")

#: Heading words -> IEA Task 43 measurement type (formats.toml).
TYPES = _vendor.vocabulary("zx_lidar", "types")

#: First-line keys (lower case) -> header keys.
HEADER_KEYS = {"unit": "unit_number", "site": "station_name", "time sync": "time_sync"}

#: The first line's sentence on stamps.
STAMPS_SENTENCE = re.compile(r"time stamps indicate the (beginning|end)", re.I)


def _sniff(head: str) -> bool:
    lines = head.lstrip("\ufeff").split("\n", 2)
    return len(lines) > 1 and lines[1].startswith((STAMP_HEADING + ";",
                                                   f"Reference;{STAMP_HEADING};"))


def describe(name: str) -> tuple[Column, str, str, float | None]:
    """A column, its measurement point, type and height from its heading."""
    match = COLUMN.match(name)
    quantity = match["quantity"]
    statistic = next((s for pattern, s in STATISTICS if pattern.search(quantity)), "avg")
    height = float(match["height"]) if match["height"] else None
    kind = _vendor.measurement_type(quantity, TYPES)
    base = re.sub(r"\s*\b(min|max|std\. dev\.)(?=\s|$)", "", quantity, flags=re.I).strip()
    if statistic in ("ti", "count"):
        base = "Horizontal Wind Speed"
    point = f"{base} at {match['height']}m" if height is not None else base
    return (Column(name, statistic, match["unit"] or None, processing=quantity), point, kind,
            height)


def _header(first: str, *, source: str) -> tuple[dict[str, str], list[str]]:
    """The normalised header of the first line, and its sentences (items without a key)."""
    header: dict[str, str] = {}
    sentences = []
    for item in first.rstrip("\r").split(";"):
        key, sep, value = item.partition(":")
        if sep and key.strip():
            header[HEADER_KEYS.get(key.strip().lower(), key.strip())] = value.strip()
        elif item.strip():
            sentences.append(item.strip())
    unit = header.get("unit_number", "")
    header.setdefault("station_name", f"ZX unit {unit}" if unit else "")
    header["logger_name"] = f"unit {unit}" if unit else ""
    header["logger_serial"] = ""
    header["logger_model"] = "ZX 300"
    offset = _vendor.utc_offset(header.get("time_sync"))
    if offset is not None:
        header["utc_offset"] = _stamps.offset_text(offset)
    elif header.get("time_sync"):
        logger.warning("%s: Time sync %r is not like UTC +1,0 hrs; stamps read at the given "
                       "offset", source, header["time_sync"])
    return header, sentences


def _gps(series: pl.Series) -> dict[str, str]:
    """The site's position from the first GPS field that holds one (``51,31546 9,16535``,
    decimal commas; the table reader changed the first to a point)."""
    for text in series.drop_nulls():
        parts = text.replace(",", ".").split()
        try:
            latitude, longitude = (float(p) for p in parts)
        except ValueError:
            continue
        found = _vendor.position(latitude, longitude)
        if found:
            return found
    return {}


@register("zx_lidar", sniff=_sniff)
def parse_zx(data: bytes, opts: Options) -> ParsedFile:
    """Parse a ZX Lidars 10-minute CSV file.

    ``utc_offset`` is used only if the file has no ``Time sync``; the encoding is detected
    (:func:`~stationlab.parse._vendor.decode_detected`) unless given. ``header`` has
    ``unit_number``, ``utc_offset`` (from ``Time sync``), ``site_latitude``/``site_longitude``
    (from the GPS column), and ``logger_serial`` empty: the file states none.
    """
    source, utc_offset, interval = opts.source, opts.utc_offset, opts.interval
    text, found_encoding = _vendor.decode_detected(data, source=source, encoding=opts.encoding)
    if not _sniff(text):
        raise ParseError(f"line 2 does not start with {STAMP_HEADING!r} or 'Reference;"
                         f"{STAMP_HEADING}'; not a ZX 10-minute file", source=source, line=2)
    first, _, _ = text.partition("\n")
    header, sentences = _header(first, source=source)
    header["encoding"] = found_encoding
    offset = _vendor.utc_offset(header.get("time_sync"))
    offset = utc_offset if offset is None else offset
    said = next((STAMPS_SENTENCE.search(s) for s in sentences if STAMPS_SENTENCE.search(s)), None)
    end_of_interval = said is not None and said[1].lower() == "end"
    names, body = _vendor.names_at(text, text.find("\n") + 1, ";", source=source, line=2)
    table = _vendor.read_table(body, names, separator=";", source=source, first_line=3,
                               stamp=names.index(STAMP_HEADING),
                               utc_offset=offset, fmt=STAMP_FORMAT, quote_char=None,
                               missing_numbers=MISSING_NUMBERS, decimal_comma=True,
                               end_of_interval=end_of_interval, interval=interval)
    by_name = dict(zip(table.names, table.series, strict=True))
    if "GPS" in by_name:
        header.update(_gps(by_name["GPS"]))
    kept = [i for i, n in enumerate(table.names) if not NOT_MEASUREMENTS.match(n)]
    left_out = [table.names[i].split(":")[0] for i in range(len(table.names)) if i not in kept]
    described = [describe(table.names[i]) for i in kept]
    notes = (f"not stored (not measurements): {', '.join(left_out)}",) if left_out else ()
    return _vendor.parsed("zx_lidar", source, header, table, described, kept=kept,
                          first_data_line=3, notes=tuple(sentences), value_notes=notes)
