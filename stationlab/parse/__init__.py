"""Logger file parsers: one module per format, an explicit registry, and ``sniff``.

Every parser turns a file into a :class:`ParsedFile`: a wide polars frame whose ``ts`` column is
in UTC and labels the *start* of the averaging interval, whatever the vendor wrote, plus the
file's own header and a description of each value column.

A parser registers itself with :func:`register`; :func:`sniff` picks the format from the first
bytes of a file; :func:`read` does both. An unknown file raises
:class:`~stationlab.errors.UnknownFormatError` listing the known formats: a file is never
skipped silently.
"""

from __future__ import annotations

import codecs
import functools
import importlib.resources
import logging
import os
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import polars as pl

from stationlab.errors import ParseError, UnknownFormatError

logger = logging.getLogger(__name__)

PathOrBuffer = str | os.PathLike | bytes | BinaryIO

#: Statistics a column can hold (the ``statistic`` of a channel): the IEA Task 43
#: ``statistic_type_id`` values, plus Campbell's instantaneous sample and times of extremes.
STATISTICS = ("avg", "sd", "max", "min", "count", "availability", "quality", "sum", "median",
              "mode", "range", "gust", "ti", "ti30sec", "text", "sample", "time_of_max",
              "time_of_min")

#: How many bytes :func:`sniff` looks at.
SNIFF_BYTES = 4096


@dataclass(frozen=True)
class Column:
    """One value column of a logger file.

    Parameters
    ----------
    name
        The column's name exactly as in the file, e.g. ``"Spd80mNStd"``.
    statistic
        One of :data:`STATISTICS`, or ``None`` where the file does not say.
    unit
        Unit text as the file gives it, e.g. ``"Metres/Second"``; ``None`` if absent.
    kind
        ``"number"`` (Float64 in the frame), ``"timestamp"`` (Datetime, UTC; e.g. TOA5 ``TMx``)
        or ``"text"`` (String; e.g. a site name repeated on every row).
    processing
        The vendor's own word for the statistic (``"Avg"``, ``"WVc"``, ``"TMx"``), if any.
    """

    name: str
    statistic: str | None = None
    unit: str | None = None
    kind: str = "number"
    processing: str | None = None


@dataclass(frozen=True)
class ChannelHistory:
    """One entry of a logger's own configuration history (an NRG ``Sensor History`` block).

    The fields say which channel and columns, what the sensor is, how the logger scaled it,
    where it is, and when and whence the entry came.

    Parameters
    ----------
    channel
        The logger's channel number, e.g. ``"2"``.
    columns
        The file columns this channel wrote, in file order.
    measurement_type
        IEA Task 43 ``measurement_type_id`` guessed from the vendor's channel type and units.
    vendor_type
        The vendor's own word for the channel type, e.g. ``"Anemometer"``.
    description, serial_number, unit
        As the logger states them; ``None`` where blank.
    slope, offset
        The logger's scale factor and offset (value = raw * slope + offset).
    height_m
        Sensor height. [m]
    bearing_deg
        Boom orientation. [deg]
    point_name
        The measurement point's name; default from channel, height and bearing.
    effective_from
        When this entry took effect (UTC); ``None``: from the beginning.
    source
        Where the configuration comes from (``logger_configs.source``).
    """

    channel: str
    columns: tuple[str, ...]
    measurement_type: str = "other"
    vendor_type: str | None = None
    description: str | None = None
    serial_number: str | None = None
    unit: str | None = None
    slope: float = 1.0
    offset: float = 0.0
    height_m: float | None = None
    bearing_deg: float | None = None
    point_name: str | None = None
    effective_from: datetime | None = None
    source: str = "nrg_sensor_history"


@dataclass(frozen=True)
class Options:
    """What :func:`parse_bytes` tells a parser besides the file's bytes. Each parser reads the
    ones it needs; its docstring says where it reads one differently.

    Parameters
    ----------
    source
        The file's name, for messages.
    utc_offset
        Offset of the logger clock from UTC for stamps without an explicit offset, e.g.
        ``timedelta(hours=-5)``. Default zero (logger on UTC).
    interval
        The averaging interval. Default: the most common step between rows.
    encoding
        Text encoding; default UTF-8 (with or without BOM) or UTF-16 with BOM (the lidar
        formats: detected).
    timestamp_format
        A strftime pattern for the stamps, overriding detection (TOA5).
    mapping
        What a wide CSV's columns hold (a :class:`~stationlab.parse.generic_csv.Mapping`).
    """

    source: str = "<buffer>"
    utc_offset: timedelta | None = None
    interval: timedelta | None = None
    encoding: str | None = None
    timestamp_format: str | None = None
    mapping: object | None = None


#: What the rows of a :class:`ParsedFile` are, i.e. where an import stores them.
RECORD_KINDS = ("readings", "events", "diagnostics")


@dataclass(frozen=True)
class ParsedFile:
    """What a parser returns.

    Parameters
    ----------
    format
        The registry name of the parser, e.g. ``"toa5"``.
    source
        The file's name, for messages.
    header
        The vendor header, normalised keys where they exist: ``station_name``, ``logger_model``,
        ``logger_serial``, ``logger_os``, ``program``, ``program_signature``, ``table_name``;
        ``logger_name`` (where the file names the instrument but states no serial, e.g. a ZX
        unit number; default the station name); other vendor fields under their own names.
        Where the header states the site and clock,
        every parser also gives (as text; an import stores them on the station, where empty,
        and on the logger):

        - ``site_latitude``, ``site_longitude``: signed decimal degrees, WGS84 (``"44.33889"``,
          ``"-73.11202"``); both or neither. [deg]
        - ``site_elevation_m``: the site's elevation above sea level. [m]
        - ``utc_offset``: the logger's time zone as its header states it, ``"-07:00"`` (the
          stamps in ``data`` are UTC whatever it says).
    columns
        The value columns, in file order (the timestamp is not one of them).
    data
        ``ts`` (``Datetime("us", "UTC")``, start of interval, strictly increasing) and one column
        per entry of ``columns``, named as ``Column.name``.
    interval
        The averaging interval, given or inferred from the stamps; ``None`` if unknown.
    first_data_line
        1-based line number in the file of ``data``'s first row, so later stages can name lines.
    channel_history
        The logger's own configuration timeline, where the file carries one (NRG ``Sensor
        History``): an import turns it into measurement points and logger configurations.
    value_notes
        What the parser did not take as values, one sentence each (placeholder columns not
        stored, vendor error codes read as missing); ``stationlab import`` prints them.
    records
        One of :data:`RECORD_KINDS`. ``"readings"`` (the default) go to ``readings``;
        ``"events"`` (a logger's event log: ``data`` has ``ts, kind, code, message``, stamps in
        order but not necessarily distinct) and ``"diagnostics"`` (a logger's own health values,
        one column per quantity) go to the logger-health tables.
    """

    format: str
    source: str
    header: dict[str, str]
    columns: tuple[Column, ...]
    data: pl.DataFrame
    interval: timedelta | None = None
    first_data_line: int = 1
    notes: tuple[str, ...] = field(default=())
    channel_history: tuple[ChannelHistory, ...] = field(default=())
    records: str = "readings"
    value_notes: tuple[str, ...] = field(default=())

    @property
    def n_readings(self) -> int:
        """Non-missing numeric values in the file."""
        numeric = [c.name for c in self.columns if c.kind != "text"]
        if not numeric or self.data.height == 0:
            return 0
        return int(self.data.select(pl.sum_horizontal(pl.col(numeric).is_not_null().sum()))
                   .item())


@dataclass(frozen=True)
class Format:
    """A registered parser (the built-in ones described in ``formats.toml``).

    Parameters
    ----------
    proven_on
        The real files (as their instruments or vendors' software wrote them) the parser was
        tested on, one phrase each: the file, the instrument and firmware where known.
    from_docs
        What the parser takes only from documentation (or assumes), not seen in a real file.
    """

    name: str
    description: str
    parse: Callable[..., ParsedFile]
    sniff: Callable[[str], bool]
    extensions: tuple[str, ...] = ()
    fallback: bool = False
    proven_on: tuple[str, ...] = ()
    from_docs: tuple[str, ...] = ()


FORMATS: dict[str, Format] = {}


@functools.cache
def catalogue() -> dict[str, dict]:
    """``formats.toml``: each built-in format's description, extensions, what it was proven on and
    what it knows from documentation only, and the vendor parsers' heading words."""
    text = importlib.resources.files("stationlab.parse").joinpath("formats.toml").read_text()
    return tomllib.loads(text)


def register(name: str, *, sniff: Callable[[str], bool], fallback: bool = False,
             **about: str | tuple[str, ...]) -> Callable:
    """Register ``parse_*(data: bytes, opts: Options) -> ParsedFile`` under ``name``.

    ``sniff`` receives the first :data:`SNIFF_BYTES` of the file decoded as text (BOM removed)
    and answers whether the file is of this format. A ``fallback`` format (the generic CSV) is
    asked only after every other format said no. What ``stationlab formats`` says of it
    (``description``, ``extensions``, ``proven_on``, ``from_docs``: see :class:`Format`) comes
    from its table in :func:`catalogue`, or from ``about`` for a format not there.
    """
    entry = {**catalogue().get(name, {}), **about}
    if "description" not in entry:
        raise ValueError(f"format {name!r} has no description: give one, or a table in "
                         "formats.toml")

    def decorator(func: Callable[..., ParsedFile]) -> Callable[..., ParsedFile]:
        if name in FORMATS:
            raise ValueError(f"format {name!r} is registered twice")
        FORMATS[name] = Format(name, entry["description"], func, sniff,
                               tuple(entry.get("extensions", ())), fallback,
                               tuple(entry.get("proven_on", ())), tuple(entry.get("from_docs", ())))
        return func

    return decorator


def read_bytes(path_or_buffer: PathOrBuffer) -> tuple[bytes, str]:
    """Return the bytes of a path, a bytes object or a binary file object, and a source name."""
    if isinstance(path_or_buffer, (bytes, bytearray)):
        return bytes(path_or_buffer), "<buffer>"
    if isinstance(path_or_buffer, (str, os.PathLike)):
        path = Path(path_or_buffer)
        return path.read_bytes(), path.name
    data = path_or_buffer.read()
    if isinstance(data, str):
        data = data.encode("utf-8")
    return data, getattr(path_or_buffer, "name", "<buffer>")




def decode(data: bytes, *, source: str, encoding: str | None = None) -> str:
    """Decode a logger file: UTF-8 (BOM removed) unless a UTF-16 BOM or ``encoding`` says otherwise.

    Raises
    ------
    ParseError
        Naming the line and column of the first byte that is not valid in the encoding.
    """
    if encoding is None:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16"
        else:
            encoding = "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ParseError(
            f"byte 0x{data[exc.start]:02x} at character {column} is not valid {encoding}; "
            "save the file as UTF-8 or pass encoding= with the file's encoding",
            source=source, line=line,
        ) from None


def sniff(head: bytes, *, source: str = "<buffer>") -> str:
    """Name the format of a file from its first bytes.

    Raises
    ------
    UnknownFormatError
        If no registered format recognises it; the message lists the known formats.
    """
    _load_builtin_parsers()
    if not head.strip():
        raise ParseError("the file is empty", source=source, line=1)
    text = head[:SNIFF_BYTES].decode("utf-8-sig", errors="replace")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = head[:SNIFF_BYTES].decode("utf-16", errors="replace")
    for fmt in sorted(FORMATS.values(), key=lambda f: f.fallback):
        if fmt.sniff(text):
            return fmt.name
    known = ", ".join(f"{f.name} ({f.description})"
                      for f in sorted(FORMATS.values(), key=lambda f: f.name))
    raise UnknownFormatError(f"not a format stationlab knows; known formats: {known}",
                             source=source, line=1)


def read(path_or_buffer: PathOrBuffer, *, format: str | None = None,
              source: str | None = None, **options) -> ParsedFile:
    """Read a logger file of any registered format (sniffed unless ``format`` is given)."""
    data, name = read_bytes(path_or_buffer)
    return parse_bytes(data, format=format, source=source or name, **options)


def parse_bytes(data: bytes, *, format: str | None = None, source: str = "<buffer>",
                **options) -> ParsedFile:
    """Parse the bytes of a logger file of any registered format.

    Parameters
    ----------
    data
        The file's bytes.
    format
        A registered format (see :func:`formats`); default: sniffed from the first bytes.
    source, **options
        The fields of :class:`Options`; each format's parser says where it reads one
        differently.

    Returns
    -------
    ParsedFile
        ``data`` has ``ts`` (UTC, labelling the start of the interval) and one column per value
        column.

    Raises
    ------
    ParseError
        Naming the line (and column) of the first problem.
    """
    _load_builtin_parsers()
    if format is None:
        format = sniff(data[:SNIFF_BYTES], source=source)
    try:
        fmt = FORMATS[format]
    except KeyError:
        known = ", ".join(sorted(FORMATS))
        raise UnknownFormatError(f"unknown format {format!r}; known formats: {known}",
                                 source=source) from None
    unknown = sorted(set(options) - {f.name for f in fields(Options)})
    if unknown:
        raise TypeError(f"parse_bytes() got unknown options: {', '.join(unknown)}")
    started = time.perf_counter()
    parsed = fmt.parse(data, Options(source=source, **options))
    logger.debug("%s: parsed %d rows x %d columns (%s) in %.2f s", source, parsed.data.height,
                 len(parsed.columns), format, time.perf_counter() - started)
    return parsed


def formats() -> list[Format]:
    """The registered formats."""
    _load_builtin_parsers()
    return list(FORMATS.values())


def _load_builtin_parsers() -> None:
    # Importing the modules runs their @register decorators.
    from stationlab.parse import (  # noqa: F401
        ammonit,
        campbell_tob,
        generic_csv,
        kintech,
        nrg_logr,
        nrg_symphoniepro,
        toa5,
        triton,
        windcube,
        windographer,
        zx_lidar,
    )


__all__ = ["Column", "ChannelHistory", "Options", "RECORD_KINDS", "ParsedFile", "Format", "FORMATS",
           "STATISTICS", "register", "sniff", "read", "parse_bytes", "read_bytes", "decode",
           "formats"]
