"""What NRG Systems files share (SymphoniePRO text exports, LOGR ``.dat``/``.log``/``.diag``).

Both are tab separated: a sectioned header of ``Key:<TAB>value`` lines with blank lines between
sections, a ``Sensor History`` section of ``Channel:`` blocks, a line that says ``Data``, then the
table. The ``Data`` line is found, never counted to (it moves with the number of channel blocks).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import polars as pl

from stationlab.errors import ParseError
from stationlab.parse import ChannelHistory, Column, _stamps

logger = logging.getLogger(__name__)

#: The line before the table.
DATA_LINE = "Data"

#: The section whose ``Channel:`` blocks are the sensor history.
SENSOR_HISTORY = "Sensor History"

#: NRG statistic words in column names -> stationlab statistic (``None``: column dropped).
STATISTIC_WORDS = {
    "Avg": "avg", "SD": "sd", "Min": "min", "Max": "max", "Gust": "gust", "GustDir": "gust",
    "Gust_Dir": "gust", "Sum": "sum", "Total": "sum", "Count": "count", "Samples": "sample",
    "NotUsed": None,
}

#: NRG channel types that say what a channel measures (SymphoniePRO ``Type``); other types
#: (``Analog``, ``ModbusRTU``, ``Calculated``, ...) say only how it is read.
VENDOR_TYPES = {"anemometer": "wind_speed", "anem": "wind_speed", "vane": "wind_direction"}

#: Units (lower case) that alone decide the measurement type: an NRG channel in volts or amperes
#: is a voltage or a current whatever its description (a supply, a battery, a loop-back, a PV
#: cell's open-circuit voltage or short-circuit current).
ELECTRICAL_UNITS = {"v": "voltage", "mv": "voltage", "a": "current", "ma": "current"}

#: Units (lower case) of irradiance.
IRRADIANCE_UNITS = ("w/m^2", "w/m2", "w/sqm", "w/m²")

#: Words naming a radiometer (pyranometer, reference cell): its channels other than irradiance
#: are the instrument's own health (body humidity, pressure, tilt), not the air's.
RADIOMETER = r"pyrano|radiometer|reference\s*cell|\bRC\d+|\bSR\d+|\bMS-\d+"

#: Unit classes of :data:`MEANINGS`.
IRRADIANCE, NOT_IRRADIANCE = "irradiance", "not irradiance"

#: What an NRG channel measures, ONE table for SymphoniePRO and LOGR: (pattern, units or
#: ``None`` for any, or :data:`IRRADIANCE` / :data:`NOT_IRRADIANCE`; IEA Task 43
#: ``measurement_type_id``), first match wins. The pattern is
#: searched (case-insensitively) in the channel's ``Measurand`` (a digital sensor's quantity),
#: ``Math Function`` (a calculated channel), ``Description``, ``Sensor Type`` and ``Device``,
#: joined. Asked after :data:`VENDOR_TYPES` and :data:`ELECTRICAL_UNITS`, before
#: :data:`UNIT_TYPES`. The sun's position is the logger's own computation, typed as Task 43
#: types it (``altitude``: the sun's angle above the horizon; ``azimuth``); Task 43 has no
#: zenith angle, so it is ``solar_zenith_angle`` here (``other`` in Task 43 documents).
MEANINGS = (
    (r"\bzenith", None, "solar_zenith_angle"),
    (r"elevation\s*angle|(solar|sun)\s*elevation|\baltitude", None, "altitude"),
    (r"\bazimuth", None, "azimuth"),
    (r"soiling", None, "soiling_loss_index"),
    (r"insolation|irradiation", None, "other"),  # energy per area: no Task 43 type
    (r"\bPVT\d|\bPV\s*(module\s*)?temp|module\s*temp|back.of.module", None, "temperature"),
    (r"(body|internal|housing|sensor|logger|board|panel)\s*temp", None, "temperature"),
    (r"\bfan\b|\brpm\b", None, "other"),
    (r"\bPOA\b|plane.of.array|in.?plane|\btilted\b|\bGTI\b|reference\s*cell|\bRC\d+",
     IRRADIANCE, "global_tilted_irradiance"),
    (r"\bDNI\b|direct\s*normal", None, "direct_normal_irradiance"),
    (r"\bDHI\b|diffuse", None, "diffuse_horizontal_irradiance"),
    (r"albedo", None, "albedo"),
    (r"\btilt|\broll\b|\bpitch\b|inclin", None, "tilt"),
    (r"\bquality\b", None, "quality"),
    (RADIOMETER, NOT_IRRADIANCE, "other"),  # a radiometer's own humidity, pressure, ...
    (r"wind\s*speed|\banem|\bspeed\b", None, "wind_speed"),
    (r"wind\s*dir|\bvane\b|\bdirection\b", None, "wind_direction"),
    (r"humidity|\bRH(\d|\b)", None, "relative_humidity"),
    (r"pressure|\bbaro|\bBP\d", None, "air_pressure"),
    (r"precip|\brain|\bTBRG\b|tipping", None, "precipitation"),
    (r"\btemp|\bT\d{2,3}\b", None, "air_temperature"),
)

#: Units (lower case) -> IEA Task 43 measurement_type_id, when nothing else said. An angle in
#: degrees is not taken for a wind direction (solar angles and tilts are degrees too), nor a
#: percentage for a humidity.
UNIT_TYPES = {
    "m/s": "wind_speed", "c": "air_temperature", "deg_c": "air_temperature",
    "°c": "air_temperature", "hpa": "air_pressure", "mbar": "air_pressure",
    "kpa": "air_pressure", "rh": "relative_humidity", "%rh": "relative_humidity",
    **dict.fromkeys(IRRADIANCE_UNITS, "global_horizontal_irradiance"), "mm": "precipitation",
}

#: A height in a channel description: ``"NRG 200M Vane 58m"`` -> 58 (a lower-case ``m`` after
#: the number; ``200M`` is a model). [m]
DESCRIPTION_HEIGHT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s?m(?![a-zA-Z0-9/])")

#: A bearing in a channel description: ``"270deg"``, ``"270°"``, or a compass point right after
#: the height (``"58m SSE"``, ``"58mN"``). [deg]
DESCRIPTION_BEARING = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s?(?:deg\b|°)", re.I)
DESCRIPTION_COMPASS = re.compile(
    r"\d\s?m\s?(N|NNE|NE|ENE|E|ESE|SE|SSE|S|SSW|SW|WSW|W|WNW|NW|NNW)(?![A-Za-z0-9])")
COMPASS = {"N": 0.0, "NNE": 22.5, "NE": 45.0, "ENE": 67.5, "E": 90.0, "ESE": 112.5, "SE": 135.0,
           "SSE": 157.5, "S": 180.0, "SSW": 202.5, "SW": 225.0, "WSW": 247.5, "W": 270.0,
           "WNW": 292.5, "NW": 315.0, "NNW": 337.5}

#: NRG's error value of a digital (Modbus, RS-485) sensor that did not answer: the logger writes
#: it as the interval's average, minimum and maximum (the real SymphoniePRO sample's SR30
#: pyranometer reads -1000 W/m² all day, SD 0). Such a row of the channel is missing.
ERROR_VALUES = (-1000.0,)

#: SymphoniePRO channel types of digital sensors.
DIGITAL_TYPES = ("modbusrtu", "modbus", "rs485", "sdi-12", "sdi12")

#: A vane's statistics that a LOGR logger does not compute and fills with 0: minimum and
#: maximum always, the gust direction unless ``Gust Source Channel`` names an anemometer.
VANE_PLACEHOLDERS = ("min", "max")

#: Site time zone text, e.g. ``UTC-5:00`` or ``-5``.
TIME_ZONE = re.compile(r"^(?:UTC|GMT)?\s*([+-]?)(\d{1,2})(?::?(\d{2}))?$")

#: A sensor-history line ``Channel<TAB>301`` (some LOGR firmware writes no colon).
BARE_CHANNEL = re.compile(r"^Channel\s+(\d+)\s*$")

#: Text meaning "no value" in a table cell.
MISSING_TEXT = ("", "NaN", "nan", "NAN")


@dataclass(frozen=True)
class Layout:
    """An NRG file split into its parts."""

    header: dict[str, str]
    blocks: list[tuple[int, dict[str, str]]]  # (line of "Channel:", fields)
    names: list[str]
    header_line: int
    body: str


def key(text: str) -> str:
    """``"Site Number"`` -> ``"site_number"``."""
    return re.sub(r"\W+", "_", text.strip().lower()).strip("_")


def split(text: str, *, source: str, vendor: str, has_columns: bool = True) -> Layout:
    """Split an NRG file into header fields, sensor-history blocks, column names and body.

    Without ``has_columns`` (event logs) the body starts right after the ``Data`` line and
    ``header_line`` is the ``Data`` line.

    Raises
    ------
    ParseError
        If there is no ``Data`` line or no column line after it.
    """
    found = re.search(rf"^{DATA_LINE}\r?$", text, re.M)
    if found is None:
        raise ParseError(f"no line says {DATA_LINE!r}; an {vendor} file has one before its "
                         "table (the file looks truncated)", source=source)
    header_lines = text[:found.start()].split("\n")
    header: dict[str, str] = {}
    blocks: list[tuple[int, dict[str, str]]] = []
    section = ""
    for number, raw in enumerate(header_lines, start=1):
        line = raw.rstrip("\r")
        name, sep, value = line.partition(":")
        if not line.strip():
            continue
        bare = BARE_CHANNEL.match(line)
        if bare and section == SENSOR_HISTORY:  # "Channel<TAB>301": a block without its colon
            name, sep, value = "Channel", ":", bare[1]
        if not sep:
            section = line.strip()
            continue
        if section == SENSOR_HISTORY and name.strip() == "Channel":
            blocks.append((number, {}))
        target = blocks[-1][1] if section == SENSOR_HISTORY and blocks else header
        target.setdefault(name.strip(), value.strip())
    data_line = len(header_lines)
    rest = text[found.end():].lstrip("\r").removeprefix("\n")
    if not has_columns:
        return Layout(header, blocks, [], data_line, rest)
    header_end = rest.find("\n")
    names_text = rest if header_end < 0 else rest[:header_end]
    names = names_text.rstrip("\r").split("\t")
    if not names_text.strip():
        raise ParseError(f"no column line after the {DATA_LINE!r} line", source=source,
                         line=data_line + 1)
    _stamps.check_column_names(names, source=source, line=data_line + 1)
    body = "" if header_end < 0 else rest[header_end + 1:]
    return Layout(header, blocks, names, data_line + 1, body)


def time_zone(text: str | None, *, source: str) -> timedelta | None:
    """``"UTC-5:00"`` -> ``timedelta(hours=-5)``; ``None`` if absent."""
    if not text:
        return None
    match = TIME_ZONE.match(text.strip())
    if not match:
        raise ParseError(f"cannot read the time zone {text!r}; expected e.g. UTC-5:00",
                         source=source, column="Time Zone")
    sign = -1 if match[1] == "-" else 1
    return sign * timedelta(hours=int(match[2]), minutes=int(match[3] or 0))


def read_table(layout: Layout, *, source: str, utc_offset: timedelta | None,
               describe) -> tuple[pl.Series, list[pl.Series], list[Column], int]:
    """The stamps, value columns and their descriptions of the table after the ``Data`` line.

    ``describe(name) -> Column | None`` describes a column; ``None`` drops it (``NotUsed``).
    """
    first_line = layout.header_line + 1
    rows = _stamps.read_rows(layout.body, layout.names, separator="\t", quote_char=None,
                             source=source, first_line=first_line)
    stamp_name = layout.names[0]
    stamps, _ = _stamps.row_stamps(rows[stamp_name], source=source, first_line=first_line,
                                   column=stamp_name, missing_text=MISSING_TEXT,
                                   utc_offset=utc_offset)
    described = {n: describe(n) for n in layout.names[1:]}
    kept = [n for n, c in described.items() if c is not None]
    series, kinds = _stamps.convert_columns(rows.select(kept), kinds={}, source=source,
                                            first_line=first_line, missing_text=MISSING_TEXT)
    columns = [Column(c.name, c.statistic, c.unit, kind, c.processing)
               for c, kind in zip((described[n] for n in kept), kinds, strict=True)]
    return stamps, series, columns, first_line


def number(fields: dict[str, str], name: str, *, source: str, line: int) -> float | None:
    """A numeric field of a channel block; ``None`` if blank."""
    text = fields.get(name, "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ParseError(f"{name} {text!r} of the channel block is not a number",
                         source=source, line=line, column=name) from None


def measurement_type(fields: dict[str, str]) -> str:
    """The IEA Task 43 measurement type of a sensor-history block, by one table for every NRG
    format: the vendor's channel type, electrical units, :data:`MEANINGS`, then the units."""
    vendor_type = (fields.get("Type") or "").strip().lower()
    if vendor_type in VENDOR_TYPES:
        return VENDOR_TYPES[vendor_type]
    unit = (fields.get("Units") or "").strip().lower()
    if unit in ELECTRICAL_UNITS:
        return ELECTRICAL_UNITS[unit]
    text = " ".join(v for v in (fields.get(k, "").strip() for k in (
        "Measurand", "Math Function", "Description", "Sensor Type", "Device")) if v)
    irradiance = unit in IRRADIANCE_UNITS
    for pattern, units, kind in MEANINGS:
        if units == IRRADIANCE and not irradiance or units == NOT_IRRADIANCE and irradiance:
            continue
        if re.search(pattern, text, re.I):
            return kind
    return UNIT_TYPES.get(unit, "other")


def position(fields: dict[str, str], *, source: str, line: int
             ) -> tuple[float | None, float | None]:
    """A channel's height [m] and bearing [deg]: the ``Height`` and ``Bearing`` fields, else
    what the description says (``"NRG 200M Vane 58m"``, ``"T60 60m 270deg"``).

    NRG writes ``0.00`` in fields nobody filled in: a height of 0 is no sensor position, and a
    bearing of 0 beside such a height is taken as unfilled too.
    """
    height = number(fields, "Height", source=source, line=line)
    bearing = number(fields, "Bearing", source=source, line=line)
    description = fields.get("Description") or ""
    if not height:
        if height == 0 and bearing == 0:
            bearing = None
        found = DESCRIPTION_HEIGHT.search(description)
        height = float(found[1]) if found and float(found[1]) > 0 else None
    if bearing is None:
        found = DESCRIPTION_BEARING.search(description)
        compass = DESCRIPTION_COMPASS.search(description)
        bearing = (float(found[1]) if found else COMPASS[compass[1]] if compass else None)
    return height, None if bearing is None else bearing % 360


def site(fields: dict[str, str], *, source: str) -> dict[str, str]:
    """The normalised site keys of an NRG header (see :class:`~stationlab.parse.ParsedFile`):
    ``site_latitude``, ``site_longitude`` (signed decimal degrees), ``site_elevation_m`` and
    ``utc_offset`` (``-05:00``), each only where the header states it. Latitude and longitude
    both 0 (NRG's blank) are no position."""
    found: dict[str, str] = {}
    values = {}
    for name, key, low, high in (("Latitude", "site_latitude", -90, 90),
                                 ("Longitude", "site_longitude", -180, 180),
                                 ("Elevation", "site_elevation_m", -500, 9000)):
        text = fields.get(name, "").strip()
        try:
            value = float(text)
        except ValueError:
            if text:
                logger.warning("%s: %s %r is not a number; not stored", source, name, text)
            continue
        if low <= value <= high:
            values[key] = value
            found[key] = text
        else:
            logger.warning("%s: %s %s is out of range; not stored", source, name, text)
    if values.get("site_latitude") == 0 and values.get("site_longitude") == 0:
        found.pop("site_latitude")
        found.pop("site_longitude")
        if values.get("site_elevation_m") == 0:
            found.pop("site_elevation_m")
    offset = time_zone(fields.get("Time Zone"), source=source)
    if offset is not None:
        found["utc_offset"] = offset_text(offset)
    return found


#: ``timedelta(hours=-5)`` -> ``"-05:00"`` (shared with the other parsers).
offset_text = _stamps.offset_text


def is_digital(fields: dict[str, str]) -> bool:
    """A channel of a digital sensor (SymphoniePRO ``ModbusRTU``; a LOGR channel with a
    ``Measurand``)."""
    return ((fields.get("Type") or "").strip().lower() in DIGITAL_TYPES
            or bool((fields.get("Measurand") or "").strip()))


def error_values(data: pl.DataFrame, layout: Layout, columns: list[Column], channel_of
                 ) -> tuple[pl.DataFrame, str | None]:
    """``data`` with each row of a digital sensor's channel missing where one of its columns
    holds an :data:`ERROR_VALUES` value, and a sentence saying so (``None`` if none)."""
    digital = {fields.get("Channel", "").strip() for _, fields in layout.blocks
               if is_digital(fields)}
    by_channel: dict[str, list[str]] = {}
    for column in columns:
        channel = channel_of(column.name)
        if channel in digital and column.kind == "number":
            by_channel.setdefault(channel, []).append(column.name)
    nulled, channels, updates = 0, [], []
    for channel, names in by_channel.items():
        bad = pl.any_horizontal(pl.col(n).is_in(ERROR_VALUES) for n in names)
        rows = data.select(bad.sum()).item()
        if not rows:
            continue
        nulled += data.filter(bad).select(
            pl.sum_horizontal(pl.col(names).is_not_null().sum())).item()
        channels.append(channel)
        updates += [pl.when(bad).then(None).otherwise(pl.col(n)).alias(n) for n in names]
    if not updates:
        return data, None
    values = " or ".join(f"{v:g}" for v in ERROR_VALUES)
    return data.with_columns(updates), (
        f"{nulled:,} NRG error values ({values}: a digital sensor that did not answer) read as "
        f"missing in channel{'s' if len(channels) > 1 else ''} {', '.join(channels)}")


def placeholders(data: pl.DataFrame, layout: Layout, columns: list[Column], channel_of,
                 kinds: dict[str, str]) -> tuple[list[str], str | None]:
    """The columns a LOGR logger fills with 0 for a statistic it does not compute (a vane's
    min and max, and its gust direction without a ``Gust Source Channel``), where every value of
    the file is 0; and a sentence naming them (``None`` if none).

    ``kinds`` maps a channel to its measurement type.
    """
    gust_source = {fields.get("Channel", "").strip():
                   (fields.get("Gust Source Channel") or "0").strip() not in ("", "0")
                   for _, fields in layout.blocks}
    dropped = []
    for column in columns:
        channel = channel_of(column.name)
        if channel is None or kinds.get(channel) != "wind_direction":
            continue
        if column.statistic in VANE_PLACEHOLDERS or (
                column.statistic == "gust" and not gust_source.get(channel, False)):
            values = data[column.name].drop_nulls()
            if values.len() and (values == 0).all():
                dropped.append(column.name)
    if not dropped:
        return [], None
    return dropped, (f"{len(dropped)} placeholder column{'s' if len(dropped) > 1 else ''} not "
                     "stored (a vane's Min and Max, and its Gust without a gust source channel, "
                     f"which the logger fills with 0): {', '.join(dropped)}")


def values_and_meaning(layout: Layout, stamps: pl.Series, series: list[pl.Series],
                       columns: list[Column], *, source: str, channel_of,
                       utc_offset: timedelta | None, logr: bool
                       ) -> tuple[pl.DataFrame, list[Column], tuple[ChannelHistory, ...],
                                  tuple[str, ...]]:
    """The frame, columns, sensor history and value notes of an NRG table: placeholder columns
    dropped (LOGR, see :func:`placeholders`), error values read as missing (see
    :func:`error_values`)."""
    frame = pl.DataFrame([stamps.alias("ts"), *series])
    entries = history(layout, columns, source=source, channel_of=channel_of,
                      utc_offset=utc_offset)
    notes = []
    if logr:
        kinds = {e.channel: e.measurement_type for e in entries}
        dropped, note = placeholders(frame, layout, columns, channel_of, kinds)
        if dropped:
            frame = frame.drop(dropped)
            columns = [c for c in columns if c.name not in dropped]
            entries = tuple(replace(e, columns=tuple(c for c in e.columns if c not in dropped))
                            for e in entries)
            notes.append(note)
    frame, note = error_values(frame, layout, columns, channel_of)
    if note:
        notes.append(note)
    for text in notes:
        logger.info("%s: %s", source, text)
    return frame, columns, entries, tuple(notes)


def history(layout: Layout, columns: list[Column], *, source: str, channel_of,
            utc_offset: timedelta | None) -> tuple[ChannelHistory, ...]:
    """The sensor-history blocks as :class:`ChannelHistory` entries, each with its columns.

    ``channel_of(column_name) -> str | None`` names the channel a column belongs to.
    """
    by_channel: dict[str, list[str]] = {}
    for column in columns:
        channel = channel_of(column.name)
        if channel is not None:
            by_channel.setdefault(channel, []).append(column.name)
    entries = []
    seen: dict[tuple[str, str], int] = {}
    for line, fields in layout.blocks:
        channel = fields.get("Channel", "").strip()
        when = fields.get("Effective Date", "").strip()
        if (channel, when) in seen:
            raise ParseError(f"channel {channel} has two sensor-history blocks effective "
                             f"{when or 'from the start'} (lines {seen[channel, when]} and {line})",
                             source=source, line=line, column="Effective Date")
        seen[channel, when] = line
        effective = fields.get("Effective Date", "").strip()
        start = None
        if effective:
            try:
                start = datetime.strptime(effective, "%Y-%m-%d %H:%M:%S")
            except ValueError:
                raise ParseError(f"Effective Date {effective!r} is not YYYY-MM-DD hh:mm:ss",
                                 source=source, line=line, column="Effective Date") from None
            start = (start - (utc_offset or timedelta(0))).replace(tzinfo=UTC)
        slope = number(fields, "Scale Factor", source=source, line=line)
        height, bearing = position(fields, source=source, line=line)
        unit = fields.get("Units") or None
        description = fields.get("Description") or None
        vendor_type = fields.get("Type") or fields.get("Sensor Type") or None
        entries.append(ChannelHistory(
            channel=channel, columns=tuple(by_channel.get(channel, ())), effective_from=start,
            measurement_type=measurement_type(fields),
            vendor_type=vendor_type, description=description,
            serial_number=fields.get("Serial Number") or None, unit=unit,
            height_m=height, bearing_deg=bearing,
            slope=slope if slope else 1.0,
            offset=number(fields, "Offset", source=source, line=line) or 0.0))
    return tuple(entries)
