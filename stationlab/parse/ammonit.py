"""Ammonit Meteo-40 / Meteo-40 Plus / Meteo-42 statistics CSV files.

**Built from a description, not from a real file.** No Ammonit file was available; this parser
follows the layout described in Ammonit's manuals (Meteo-40/42 manual "The CSV File Format";
AmmonitOR manual, "Meteo CSV File Format": a data part in CSV format and an information part in
INI file format) as far as they were known when it was written, and the test files in
``tests/data/ammonit_*.csv`` were written from that description. What was *not* verified
against a real file: the exact ``Date/time`` heading, the separator (tab assumed), the
information part's section and key names, and whether stamps label the interval start
(assumed, as Ammonit's statistics do). The layout read::

    Date/time→Anemometer 37m North;wind_speed;Avg (m/s)→Anemometer 37m North;wind_speed;Max (m/s)
    2024-01-01 00:00:00→7.21→9.80
    ...

    [Logger]
    model=Meteo-40M
    serial=D123456
    [Statistics]
    interval=600

Each value column is ``sensor name;measurand;statistic (unit)``: the measurand is the IEA Task 43
measurement type, the name gives the height (``37m``). Empty fields and ``NaN`` are missing.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from stationlab.errors import ParseError
from stationlab.parse import Column, Options, ParsedFile, _vendor, decode, register

logger = logging.getLogger(__name__)

#: The heading of the stamp column.
STAMP_HEADING = "Date/time"

#: A value column: sensor name, measurand, statistic and unit.
COLUMN = re.compile(r"^(?P<sensor>[^;]+);(?P<measurand>[^;]*);(?P<statistic>[^(;]+?)"
                    r"\s*(?:\((?P<unit>[^)]*)\))?$")

#: Ammonit statistic words -> stationlab statistic.
STATISTIC_WORDS = {"avg": "avg", "max": "max", "min": "min", "stddev": "sd", "sd": "sd",
                   "count": "count", "sum": "sum", "gust": "gust", "median": "median"}

#: Ammonit measurands that are not already IEA Task 43 measurement types.
MEASURANDS = {"temperature": "air_temperature", "pressure": "air_pressure",
              "humidity": "relative_humidity", "voltage": "voltage"}

#: Information-part keys -> header keys.
INFO_KEYS = {"logger.model": "logger_model", "logger.serial": "logger_serial",
             "logger.name": "station_name", "logger.station": "station_name"}

#: Text meaning "no value".
MISSING_TEXT = ("", "NaN", "nan")


def _sniff(head: str) -> bool:
    first = head.lstrip("\ufeff").split("\n", 1)[0]
    fields = first.rstrip("\r").split("\t")
    return fields[0] == STAMP_HEADING and len(fields) > 1 and bool(COLUMN.match(fields[1]))


def describe(name: str) -> tuple[Column, str, str, float | None]:
    """A column, its measurement point, type and height from ``sensor;measurand;Stat (unit)``."""
    match = COLUMN.match(name)
    if not match:
        return Column(name), name, "other", None
    word = match["statistic"].strip()
    measurand = match["measurand"].strip()
    column = Column(name, STATISTIC_WORDS.get(word.lower()), match["unit"] or None,
                    processing=word)
    kind = MEASURANDS.get(measurand, measurand or "other")
    return column, match["sensor"].strip(), kind, _vendor.height(match["sensor"])


def _information(lines: list[str]) -> dict[str, str]:
    info, section = {}, ""
    for line in lines:
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
        elif "=" in line:
            key, value = line.split("=", 1)
            info[f"{section}.{key.strip().lower()}" if section else key.strip().lower()] = \
                value.strip()
    return info


@register("ammonit", sniff=_sniff)
def parse_ammonit(data: bytes, opts: Options) -> ParsedFile:
    """Parse an Ammonit Meteo-40/42 statistics CSV file.

    The interval defaults to the file's ``[Statistics] interval`` [s], else the most common step
    between rows. ``channel_history`` holds the measurement points read from the column names
    (source ``file_header``).
    """
    source, utc_offset, interval = opts.source, opts.utc_offset, opts.interval
    text = decode(data, source=source, encoding=opts.encoding)
    if not _sniff(text):
        raise ParseError(f"the first line does not start with {STAMP_HEADING!r} and a "
                         "'sensor;measurand;Stat (unit)' column", source=source, line=1)
    names, rest = _vendor.names_at(text, 0, "\t", source=source, line=1)
    blank = re.search(r"^\s*\[", rest, re.M)
    body, info_text = (rest, "") if blank is None else (rest[:blank.start()], rest[blank.start():])
    info = _information(info_text.splitlines())
    header = {INFO_KEYS.get(k, k): v for k, v in info.items()}
    header.setdefault("logger_model", "Ammonit Meteo-40")
    header.setdefault("logger_serial", "")
    header.setdefault("station_name", "")
    seconds = info.get("statistics.interval", "")
    if interval is None and seconds.isdigit() and int(seconds) > 0:
        interval = timedelta(seconds=int(seconds))
    table = _vendor.read_table(body.rstrip("\r\n"), names, separator="\t", source=source,
                               first_line=2, utc_offset=utc_offset, missing_text=MISSING_TEXT,
                               interval=interval)
    described = [describe(n) for n in names[1:]]
    return _vendor.parsed("ammonit", source, header, table, described, first_data_line=2)
