"""ZX Lidars (ZephIR / ZX 300) 10-minute averaged CSV files (``Wind10_*.csv``).

**Built from a description, not from a real file.** No ZX file was available; the layout
follows ZX Lidars' description of the ZX 300 10-minute data export and what public readers of
these files rely on (e.g. e-WindLidar/Lidaco's ZephIR 300 reader): a first line of
``key:value`` pairs separated by ``;`` (``Measurement heights:38m 200m ...``), a line of column
headings, then one row per 10 minutes, ``;`` separated with ``,`` as the decimal mark and stamps
``dd.mm.yyyy hh:mm:ss``. The test file ``tests/data/zx_Wind10_sample.csv`` was written from
that description. Not verified against a real file: the full set of headings, whether stamps
label the interval end (assumed: ZX stamps close the 10-minute period), and the missing-value
codes (``9999`` and ``9998`` assumed). The layout read::

    Unit ID:ZX1234;Site:Test site;Measurement heights:38m 80m;...
    Time and Date;Reference;Battery (V);Air Temp. (C);Horizontal Wind Speed (m/s) at 38m;...
    01.01.2024 00:10:00;1;12,9;5,3;7,21;...
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import polars as pl

from stationlab.errors import ParseError
from stationlab.parse import Column, ParsedFile, PathOrBuffer, _vendor, decode, read_bytes, register

logger = logging.getLogger(__name__)

#: The stamp column's heading.
STAMP_HEADING = "Time and Date"

#: The stamps, e.g. ``01.01.2024 00:10:00``.
STAMP_FORMAT = "%d.%m.%Y %H:%M:%S"

#: Numbers meaning "no value" (no data / not enough data), per column.
MISSING_NUMBERS = (9999.0, 9998.0)

#: ``Horizontal Wind Speed (m/s) at 38m``: quantity, unit, height.
COLUMN = re.compile(r"^(?P<quantity>.*?)\s*(?:\((?P<unit>[^)]*)\))?(?:\s+at\s+"
                    r"(?P<height>\d+(?:\.\d+)?)m)?$")

#: Heading words -> statistic (first match wins; default ``avg``).
STATISTICS = ((re.compile(r"^TI\b|turbulence", re.I), "ti"), (re.compile(r"\bmax\b", re.I), "max"),
              (re.compile(r"\bmin\b", re.I), "min"), (re.compile(r"std|sd\b", re.I), "sd"),
              (re.compile(r"packets|count", re.I), "count"))

#: Heading words -> IEA Task 43 measurement type.
TYPES = ((re.compile(r"vertical", re.I), "vertical_wind_speed"),
         (re.compile(r"wind speed|^TI\b", re.I), "wind_speed"),
         (re.compile(r"direction", re.I), "wind_direction"),
         (re.compile(r"air temp", re.I), "air_temperature"),
         (re.compile(r"pressure", re.I), "air_pressure"),
         (re.compile(r"humidity", re.I), "relative_humidity"),
         (re.compile(r"battery", re.I), "voltage"))

#: Metadata keys -> header keys.
HEADER_KEYS = {"unit id": "logger_serial", "site": "station_name"}


def _sniff(head: str) -> bool:
    lines = head.lstrip("\ufeff").split("\n", 2)
    return len(lines) > 1 and lines[1].startswith(STAMP_HEADING + ";")


def describe(name: str) -> tuple[Column, str, str, float | None]:
    """A column, its measurement point, type and height from its heading."""
    match = COLUMN.match(name)
    quantity = match["quantity"]
    statistic = next((s for pattern, s in STATISTICS if pattern.search(quantity)), "avg")
    height = float(match["height"]) if match["height"] else None
    kind = _vendor.measurement_type(quantity, TYPES)
    base = {"wind_speed": "Horizontal Wind Speed"}.get(kind, quantity) if statistic == "ti" \
        else quantity
    point = f"{base} at {match['height']}m" if height is not None else base
    return (Column(name, statistic, match["unit"] or None, processing=quantity), point, kind,
            height)


@register("zx_lidar", description="ZX Lidars / ZephIR 10-minute CSV (built from the "
          "published layout)", sniff=_sniff, extensions=(".csv",))
def parse_zx(data: bytes, *, source: str = "<buffer>", utc_offset: timedelta | None = None,
             interval: timedelta | None = None, encoding: str | None = None) -> ParsedFile:
    """Parse the bytes of a ZX Lidars 10-minute CSV file.

    Parameters
    ----------
    utc_offset
        Offset of the lidar clock from UTC. Default zero.
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
        raise ParseError(f"line 2 does not start with {STAMP_HEADING!r}; not a ZX 10-minute "
                         "file", source=source, line=2)
    first, _, _ = text.partition("\n")
    header = {}
    for item in first.rstrip("\r").split(";"):
        key, sep, value = item.partition(":")
        if sep:
            header[HEADER_KEYS.get(key.strip().lower(), key.strip())] = value.strip()
    header.setdefault("logger_serial", "")
    header.setdefault("station_name", "")
    header["logger_model"] = "ZX 300"
    start = text.find("\n") + 1
    names, body = _vendor.names_at(text, start, ";", source=source, line=2)
    table = _vendor.read_table(body, names, separator=";", source=source, first_line=3,
                               utc_offset=utc_offset, fmt=STAMP_FORMAT,
                               missing_numbers=MISSING_NUMBERS, decimal_comma=True,
                               end_of_interval=True, interval=interval)
    described = [describe(n) for n in names[1:]]
    columns = _vendor.columns([d[0] for d in described], table.kinds)
    return ParsedFile(format="zx_lidar", source=source, header=header, columns=columns,
                      data=pl.DataFrame([table.ts.alias("ts"), *table.series]),
                      interval=table.interval, first_data_line=3,
                      channel_history=_vendor.points(
                          [(c, *d[1:]) for c, d in zip(columns, described, strict=True)]))


def read_zx(path_or_buffer: PathOrBuffer, **options) -> ParsedFile:
    """Read a ZX 10-minute CSV from a path, bytes or a binary file object; see
    :func:`parse_zx`."""
    data, name = read_bytes(path_or_buffer)
    options.setdefault("source", name)
    return parse_zx(data, **options)
