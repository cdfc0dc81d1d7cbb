"""Leosphere (Vaisala) Windcube v2 10-minute statistics files (``.sta``).

**Built from a description, not from a real file.** No ``.sta`` file was available; the layout
follows what Leosphere's Windcube v2 user manual describes and what public readers of these
files rely on (e.g. e-WindLidar/Lidaco's Windcube v2 reader): a first line ``HeaderSize=N``,
``N`` lines of ``key=value`` (``Altitudes (m)``, ``ID System``, ``Location``, ...), then a tab
separated table whose first column is ``Timestamp (end of interval)``. The test file
``tests/data/windcube_sample.sta`` was written from that description. Not verified against a
real file: the exact column headings (units in parentheses, ``°`` for degrees), the encoding
(UTF-8 tried first, then Latin-1), and the line between the header block and the table (the
column line is found as the first line starting with ``Timestamp``). The layout read::

    HeaderSize=4
    ID System=WLS7-123
    Location=Test site
    Altitudes (m)=40 60
    Timestamp (end of interval)→Int Temp (°C)→40m Wind Speed (m/s)→40m Wind Speed min (m/s)...
    2012/10/23 13:10:00.00→25.1→7.21→0.52...

Stamps label the *end* of the 10-minute interval and are moved to its start. ``NaN`` and empty
fields are missing.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import polars as pl

from stationlab.errors import ParseError
from stationlab.parse import Column, ParsedFile, PathOrBuffer, _vendor, decode, read_bytes, register

logger = logging.getLogger(__name__)

#: The first line's key.
HEADER_SIZE = "HeaderSize"

#: Column heading words -> statistic (first match wins, case-insensitive).
STATISTICS = ((re.compile(r"dispersion|std", re.I), "sd"), (re.compile(r"\bmin\b", re.I), "min"),
              (re.compile(r"\bmax\b", re.I), "max"),
              (re.compile(r"availability", re.I), "availability"))

#: Column heading words -> IEA Task 43 measurement type.
TYPES = ((re.compile(r"z-wind|vertical", re.I), "vertical_wind_speed"),
         (re.compile(r"wind speed", re.I), "wind_speed"),
         (re.compile(r"wind direction", re.I), "wind_direction"),
         (re.compile(r"cnr", re.I), "carrier_to_noise_ratio"),
         (re.compile(r"ext temp", re.I), "air_temperature"),
         (re.compile(r"pressure", re.I), "air_pressure"),
         (re.compile(r"humidity", re.I), "relative_humidity"),
         (re.compile(r"vbatt", re.I), "voltage"))

#: ``40m Wind Speed Dispersion (m/s)``: height, quantity, unit.
COLUMN = re.compile(r"^(?:(?P<height>\d+(?:\.\d+)?)m\s+)?(?P<quantity>.*?)\s*"
                    r"(?:\((?P<unit>[^)]*)\))?$")

#: Text meaning "no value".
MISSING_TEXT = ("", "NaN", "nan", "NA")

#: The stamps: ``2012/10/23 13:10:00.00`` (chrono syntax, ``%.f`` optional fraction).
STAMP_FORMAT = "%Y/%m/%d %H:%M:%S%.f"

#: Header keys -> normalised keys.
HEADER_KEYS = {"ID System": "logger_serial", "Location": "station_name"}


def _sniff(head: str) -> bool:
    return bool(re.match(rf"^{HEADER_SIZE}\s*=\s*\d+", head.lstrip("\ufeff")))


def describe(name: str) -> tuple[Column, str, str, float | None]:
    """A column, its measurement point, type and height from e.g. ``40m Wind Speed min (m/s)``."""
    match = COLUMN.match(name)
    quantity = match["quantity"]
    statistic = next((s for pattern, s in STATISTICS if pattern.search(quantity)), "avg")
    base = re.sub(r"\s*(dispersion|std|min|max)\b", "", quantity, flags=re.I).strip()
    height = float(match["height"]) if match["height"] else None
    point = f"{match['height']}m {base}" if height is not None else base
    column = Column(name, statistic, match["unit"] or None, processing=quantity)
    return column, point, _vendor.measurement_type(quantity, TYPES), height


@register("windcube", description="Leosphere Windcube v2 .sta (built from the published layout)",
          sniff=_sniff, extensions=(".sta",))
def parse_windcube(data: bytes, *, source: str = "<buffer>", utc_offset: timedelta | None = None,
                   interval: timedelta | None = None, encoding: str | None = None) -> ParsedFile:
    """Parse the bytes of a Windcube v2 ``.sta`` file.

    Parameters
    ----------
    utc_offset
        Offset of the lidar clock from UTC. Default zero.
    interval
        The averaging interval. Default: the most common step between rows.
    encoding
        Default UTF-8, else Latin-1 (the ``°`` in headings).

    Returns
    -------
    ParsedFile
        ``ts`` is UTC and labels the start of the interval; ``header`` holds the ``key=value``
        lines (``ID System`` as ``logger_serial``, ``Location`` as ``station_name``).

    Raises
    ------
    ParseError
        Naming the line (and column) of the first problem.
    """
    try:
        text = decode(data, source=source, encoding=encoding)
    except ParseError:
        if encoding is not None:
            raise
        text = data.decode("latin-1")
    match = re.match(rf"^\ufeff?{HEADER_SIZE}\s*=\s*(\d+)", text)
    if match is None:
        raise ParseError(f"the first line is not {HEADER_SIZE}=N; not a Windcube .sta file",
                         source=source, line=1)
    lines = text.split("\n")
    header = {}
    for line in lines[1:int(match[1]) + 1]:
        key, sep, value = line.rstrip("\r").partition("=")
        if sep:
            header[HEADER_KEYS.get(key.strip(), key.strip())] = value.strip()
    header.setdefault("logger_serial", "")
    header.setdefault("station_name", "")
    header["logger_model"] = "Windcube v2"
    start, line = _vendor.find_line(text, r"^Timestamp", source=source, what="'Timestamp ...'")
    names, body = _vendor.names_at(text, start, "\t", source=source, line=line)
    table = _vendor.read_table(body, names, separator="\t", source=source, first_line=line + 1,
                               utc_offset=utc_offset, fmt=STAMP_FORMAT,
                               missing_text=MISSING_TEXT,
                               end_of_interval="start of interval" not in names[0].lower(),
                               interval=interval)
    described = [describe(n) for n in names[1:]]
    columns = _vendor.columns([d[0] for d in described], table.kinds)
    return ParsedFile(format="windcube", source=source, header=header, columns=columns,
                      data=pl.DataFrame([table.ts.alias("ts"), *table.series]),
                      interval=table.interval, first_data_line=line + 1,
                      channel_history=_vendor.points(
                          [(c, *d[1:]) for c, d in zip(columns, described, strict=True)]))


def read_windcube(path_or_buffer: PathOrBuffer, **options) -> ParsedFile:
    """Read a Windcube ``.sta`` file from a path, bytes or a binary file object; see
    :func:`parse_windcube`."""
    data, name = read_bytes(path_or_buffer)
    options.setdefault("source", name)
    return parse_windcube(data, **options)
