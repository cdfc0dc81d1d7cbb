"""Kintech Engineering Orbit 360 logger data files.

**Built from a description, not from a real file, and with the least confidence of all
parsers here.** No Orbit 360 file and no published description of its export could be consulted
while writing this; the layout below is reconstructed from memory of Kintech's documentation of
the Orbit 360 CSV export (a block of ``key;value`` lines, then ``;``-separated columns named after
channel, height, sensor, statistic and unit) and the test file ``tests/data/kintech_orbit.csv``
was written from this description. Everything here needs checking against a real file: the
first line, the key names, the column-name pattern, the stamp format (ISO assumed) and whether
stamps label the interval start (assumed)::

    Kintech Engineering Orbit 360
    Serial number;OR360-1234
    Site;Test site
    Time zone;UTC+01:00
    Interval;600
    Timestamp;CH1 80m Anemometer Avg (m/s);CH1 80m Anemometer SD (m/s);...
    2024-01-01 00:00:00;7.21;0.52;...
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from stationlab.errors import ParseError
from stationlab.parse import Column, Options, ParsedFile, _nrg, _vendor, decode, register

logger = logging.getLogger(__name__)

#: The first line starts with this.
TITLE = "Kintech Engineering Orbit"

#: ``CH1 80m Anemometer Avg (m/s)``: channel, height, sensor, statistic, unit.
COLUMN = re.compile(r"^CH(?P<channel>\d+)\s+(?:(?P<height>\d+(?:\.\d+)?)m\s+)?(?P<sensor>.*?)"
                    r"\s+(?P<statistic>Avg|SD|Min|Max|Gust|Sum)\s*(?:\((?P<unit>[^)]*)\))?$")

#: Statistic words -> stationlab statistic.
STATISTIC_WORDS = {"Avg": "avg", "SD": "sd", "Min": "min", "Max": "max", "Gust": "gust",
                   "Sum": "sum"}

#: Sensor words -> IEA Task 43 measurement type (formats.toml).
TYPES = _vendor.vocabulary("kintech", "types")

#: Header keys -> normalised keys.
HEADER_KEYS = {"serial number": "logger_serial", "site": "station_name",
               "time zone": "time_zone", "interval": "interval_s"}


def _sniff(head: str) -> bool:
    return head.lstrip("\ufeff").startswith(TITLE)


def describe(name: str) -> tuple[Column, str, str, float | None]:
    """A column, its measurement point, type and height from e.g. ``CH1 80m Anemometer Avg``."""
    match = COLUMN.match(name)
    if not match:
        return Column(name), name, "other", None
    height = float(match["height"]) if match["height"] else None
    point = " ".join(p for p in (f"CH{match['channel']}",
                                 f"{match['height']}m" if match["height"] else "",
                                 match["sensor"]) if p)
    column = Column(name, STATISTIC_WORDS[match["statistic"]], match["unit"] or None,
                    processing=match["statistic"])
    return column, point, _vendor.measurement_type(match["sensor"], TYPES), height


@register("kintech", sniff=_sniff)
def parse_kintech(data: bytes, opts: Options) -> ParsedFile:
    """Parse a Kintech Orbit 360 data file.

    ``utc_offset`` is used only if the file has no ``Time zone`` line; the interval defaults to
    its ``Interval`` [s], else the most common step.
    """
    source, utc_offset, interval = opts.source, opts.utc_offset, opts.interval
    text = decode(data, source=source, encoding=opts.encoding)
    if not _sniff(text):
        raise ParseError(f"the first line does not start {TITLE!r}", source=source, line=1)
    start, line = _vendor.find_line(text, r"^Timestamp;", source=source, what="'Timestamp;'")
    header = {}
    for raw in text[:start].split("\n")[1:]:
        key, sep, value = raw.rstrip("\r").partition(";")
        if sep:
            header[HEADER_KEYS.get(key.strip().lower(), _nrg.key(key))] = value.strip()
    header.setdefault("logger_serial", "")
    header.setdefault("station_name", "")
    header["logger_model"] = "Kintech Orbit 360"
    offset = _nrg.time_zone(header.get("time_zone"), source=source)
    seconds = header.get("interval_s", "")
    if interval is None and seconds.isdigit() and int(seconds) > 0:
        interval = timedelta(seconds=int(seconds))
    names, body = _vendor.names_at(text, start, ";", source=source, line=line)
    table = _vendor.read_table(body, names, separator=";", source=source, first_line=line + 1,
                               utc_offset=utc_offset if offset is None else offset,
                               interval=interval)
    described = [describe(n) for n in names[1:]]
    return _vendor.parsed("kintech", source, header, table, described, first_data_line=line + 1)
