"""Leosphere (Vaisala) Windcube v2 10-minute statistics files (``.sta``).

**Proven on a real file**: ``tests/data/real/windcube/lidar.z06.00.20201201.000000.sta``, a
WLS866-24 (firmware 2.1.9, buoy mode), imports exactly. The layout read::

    HeaderSize=40
    Version=2.1.9
    ID System=WLS866-24
    Location=ASIT Validation 130
    GPS Location=Lat:41.24N, Long:70.10W      (or "hidden")
    timezone=UTC+0
    ...                                       (40 key=value lines in all)
    Altitudes (m)=→40→60→...
    ********************
    Timestamp (end of interval)→Int Temp (°C)→...→40m Data Availability (%)→→60m Wind Speed...
    2020/12/01 00:10→30.33→NaN→...

The text is Latin-1 (``°`` is byte ``0xb0``); the encoding is detected (UTF-8 if the bytes are
valid UTF-8, see :func:`stationlab.parse._vendor.decode_detected`). After each height group
comes an empty spacer column, its field empty on every row. Stamps are ``YYYY/MM/DD hh:mm``
(the older ``hh:mm:ss.ff`` form is read too), label the *end* of the 10-minute interval
(the heading says so) and are moved to its start; ``timezone=UTC+0`` is the clock's time zone
and is applied. ``NaN`` and empty fields are missing. ``GPS Location`` becomes the site's
position, ``ID System`` the logger serial, ``Version`` the firmware.

From documentation only (Leosphere's Windcube v2 manual, e-WindLidar/Lidaco's reader; no real
file seen): a ``GPS Location`` with coordinates (the real file's is ``hidden``), a stamp column
labelled start of interval, the older stamps with seconds. ``tests/data/windcube_sample.sta``
was written from that description.
"""

from __future__ import annotations

import logging
import re

from stationlab.errors import ParseError
from stationlab.parse import Column, Options, ParsedFile, _stamps, _vendor, register

logger = logging.getLogger(__name__)

#: The first line's key.
HEADER_SIZE = "HeaderSize"

#: Column heading words -> statistic (first match wins; in formats.toml).
STATISTICS = _vendor.vocabulary("windcube", "statistics")

#: Column heading words -> IEA Task 43 measurement type (formats.toml).
TYPES = _vendor.vocabulary("windcube", "types")

#: ``40m Wind Speed Dispersion (m/s)``: height, quantity, unit.
COLUMN = re.compile(r"^(?:(?P<height>\d+(?:\.\d+)?)m\s+)?(?P<quantity>.*?)\s*"
                    r"(?:\((?P<unit>[^)]*)\))?$")

#: Text meaning "no value".
MISSING_TEXT = ("", "NaN", "nan", "NA")

#: The stamps: ``2020/12/01 00:10`` (firmware 2.1.9) or ``2012/10/23 13:10:00.00`` (chrono
#: syntax, ``%.f`` optional fraction); the first that reads every stamp is used.
STAMP_FORMATS = ("%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S%.f")

#: Header keys (compared in lower case) -> normalised keys.
HEADER_KEYS = {"id system": "logger_serial", "location": "station_name", "version": "logger_os",
               "id client": "client", "timezone": "time_zone", "gps location": "gps_location"}

#: ``GPS Location=Lat:41.24N, Long:70.10W`` (signs or hemisphere letters). [deg]
GPS = re.compile(r"^Lat:\s*(?P<lat>[+-]?\d+(?:\.\d+)?)\s*°?\s*(?P<ns>[NS])?\s*[,;]?\s*"
                 r"Lon(?:g)?:\s*(?P<lon>[+-]?\d+(?:\.\d+)?)\s*°?\s*(?P<ew>[EW])?$", re.I)

#: The system ID's model part, ``WLS866`` of ``WLS866-24``.
MODEL = re.compile(r"^(WLS\d+)", re.I)


def _sniff(head: str) -> bool:
    return bool(re.match(rf"^{HEADER_SIZE}\s*=\s*\d+", head.lstrip("\ufeff")))


def describe(name: str) -> tuple[Column, str, str, float | None]:
    """A column, its measurement point, type and height from e.g. ``40m Wind Speed min (m/s)``."""
    match = COLUMN.match(name)
    quantity = match["quantity"]
    statistic = next((s for pattern, s in STATISTICS if pattern.search(quantity)), "avg")
    base = re.sub(r"\s*(dispersion|std|min|max)\b", "", quantity, flags=re.I).strip()
    if statistic == "availability":  # of the wind measured at that height
        base = "Wind Speed"
    height = float(match["height"]) if match["height"] else None
    point = f"{match['height']}m {base}" if height is not None else base
    column = Column(name, statistic, match["unit"] or None, processing=quantity)
    return column, point, _vendor.measurement_type(quantity, TYPES), height


@register("windcube", sniff=_sniff)
def parse_windcube(data: bytes, opts: Options) -> ParsedFile:
    """Parse a Windcube v2 ``.sta`` file.

    ``utc_offset`` is used only if the header has no ``timezone``; the encoding is detected
    (UTF-8 if valid, else Latin-1: :func:`~stationlab.parse._vendor.decode_detected`) unless
    given. ``header`` holds the ``key=value`` lines (``ID System`` as ``logger_serial``,
    ``Location`` as ``station_name``, ``Version`` as ``logger_os``),
    ``site_latitude``/``site_longitude`` from ``GPS Location``, ``utc_offset`` from ``timezone``
    and the ``encoding`` read.
    """
    source, utc_offset, interval = opts.source, opts.utc_offset, opts.interval
    text, found_encoding = _vendor.decode_detected(data, source=source, encoding=opts.encoding)
    match = re.match(rf"^\ufeff?{HEADER_SIZE}\s*=\s*(\d+)", text)
    if match is None:
        raise ParseError(f"the first line is not {HEADER_SIZE}=N; not a Windcube .sta file",
                         source=source, line=1)
    header, notes = _header(text.split("\n")[1:int(match[1]) + 1], source=source)
    header["encoding"] = found_encoding
    offset = _vendor.utc_offset(header.get("time_zone"))
    offset = utc_offset if offset is None else offset
    start, line = _vendor.find_line(text, r"^Timestamp", source=source, what="'Timestamp ...'")
    names, body = _vendor.names_at(text, start, "\t", source=source, line=line, spacers=True)
    table = _vendor.read_table(body, names, separator="\t", source=source, first_line=line + 1,
                               utc_offset=offset, formats=STAMP_FORMATS,
                               missing_text=MISSING_TEXT,
                               end_of_interval="start of interval" not in names[0].lower(),
                               interval=interval)
    described = [describe(n) for n in table.names]
    logger.debug("%s: %s, %d rows, %d value columns", source, found_encoding, table.ts.len(),
                 len(described))
    return _vendor.parsed("windcube", source, header, table, described,
                          first_data_line=line + 1, value_notes=notes)


def _header(lines: list[str], *, source: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """The normalised header of the ``key=value`` lines, and notes on what was not taken."""
    header, notes = {}, []
    for line in lines:
        key, sep, value = line.rstrip("\r").partition("=")
        if sep:
            header[HEADER_KEYS.get(key.strip().lower(), key.strip())] = value.strip()
    header.setdefault("logger_serial", "")
    header.setdefault("station_name", "")
    model = MODEL.match(header["logger_serial"])
    header["logger_model"] = f"Windcube {model[1].upper()}" if model else "Windcube v2"
    gps = header.get("gps_location", "")
    found = GPS.match(gps)
    if found:
        latitude = float(found["lat"]) * (-1 if (found["ns"] or "").upper() == "S" else 1)
        longitude = float(found["lon"]) * (-1 if (found["ew"] or "").upper() == "W" else 1)
        header.update(_vendor.position(latitude, longitude))
    if gps and "site_latitude" not in header:
        notes.append(f"GPS Location {gps!r} is not a position; the station's is not set")
    offset = _vendor.utc_offset(header.get("time_zone"))
    if offset is not None:
        header["utc_offset"] = _stamps.offset_text(offset)
    elif header.get("time_zone"):
        logger.warning("%s: timezone %r is not like UTC+1; stamps read at the given offset",
                       source, header["time_zone"])
    return header, tuple(notes)
