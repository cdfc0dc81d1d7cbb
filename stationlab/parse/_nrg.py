"""What NRG Systems files share (SymphoniePRO text exports, LOGR ``.dat``/``.log``/``.diag``).

Both are tab separated: a sectioned header of ``Key:<TAB>value`` lines with blank lines between
sections, a ``Sensor History`` section of ``Channel:`` blocks, a line that says ``Data``, then the
table. The ``Data`` line is found, never counted to (it moves with the number of channel blocks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl

from stationlab.errors import ParseError
from stationlab.parse import ChannelHistory, Column, _stamps

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

#: NRG channel types -> IEA Task 43 measurement_type_id (others: from the units).
VENDOR_TYPES = {"anemometer": "wind_speed", "anem": "wind_speed", "vane": "wind_direction",
                "calculated": "other"}

#: Words in a channel description -> measurement type (before the units are asked).
DESCRIPTION_TYPES = ((re.compile(r"\bvane\b", re.I), "wind_direction"),
                     (re.compile(r"\banem", re.I), "wind_speed"))

#: Units (lower case) -> IEA Task 43 measurement_type_id.
UNIT_TYPES = {
    "m/s": "wind_speed", "deg": "wind_direction", "degrees": "wind_direction",
    "c": "air_temperature", "deg_c": "air_temperature", "°c": "air_temperature",
    "hpa": "air_pressure", "mbar": "air_pressure", "kpa": "air_pressure",
    "%": "relative_humidity", "rh": "relative_humidity", "%rh": "relative_humidity",
    "w/m^2": "global_horizontal_irradiance", "w/sqm": "global_horizontal_irradiance",
    "w/m2": "global_horizontal_irradiance", "v": "voltage", "mm": "precipitation",
}

#: Site time zone text, e.g. ``UTC-5:00`` or ``-5``.
TIME_ZONE = re.compile(r"^(?:UTC|GMT)?\s*([+-]?)(\d{1,2})(?::?(\d{2}))?$")

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
    check_names(names, source, data_line + 1)
    body = "" if header_end < 0 else rest[header_end + 1:]
    return Layout(header, blocks, names, data_line + 1, body)


def check_names(names: list[str], source: str, line: int) -> None:
    """Every column has a name and no name appears twice."""
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if not name.strip():
            raise ParseError(f"field {i} of the column line has no name", source=source,
                             line=line, column=i)
        if name in seen:
            raise ParseError(f"column name {name!r} appears twice (fields {seen[name]} and {i})",
                             source=source, line=line, column=name)
        seen[name] = i


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


def measurement_type(vendor_type: str | None, description: str | None, unit: str | None) -> str:
    """The IEA Task 43 measurement type of a channel from its NRG type, description, units."""
    if vendor_type and vendor_type.strip().lower() in VENDOR_TYPES:
        return VENDOR_TYPES[vendor_type.strip().lower()]
    for pattern, kind in DESCRIPTION_TYPES:
        if description and pattern.search(description):
            return kind
    return UNIT_TYPES.get((unit or "").strip().lower(), "other")


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
        bearing = number(fields, "Bearing", source=source, line=line)
        unit = fields.get("Units") or None
        description = fields.get("Description") or None
        vendor_type = fields.get("Type") or fields.get("Sensor Type") or None
        entries.append(ChannelHistory(
            channel=channel, columns=tuple(by_channel.get(channel, ())), effective_from=start,
            measurement_type=measurement_type(fields.get("Type"), description, unit),
            vendor_type=vendor_type, description=description,
            serial_number=fields.get("Serial Number") or None, unit=unit,
            height_m=number(fields, "Height", source=source, line=line),
            bearing_deg=None if bearing is None else bearing % 360,
            slope=slope if slope else 1.0,
            offset=number(fields, "Offset", source=source, line=line) or 0.0))
    return tuple(entries)
