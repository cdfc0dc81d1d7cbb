"""Generic wide CSV files (one time stamp column, one column per value), read with a mapping file.

A wide CSV says nothing about its columns, so a small TOML mapping file does. Give it to
``stationlab import --mapping FILE`` (the option may be repeated), or put it in the standing
mappings folder ``$STATIONLAB_HOME/mappings/`` (``*.toml``, read by every import, the queue's
workers included, after those given). A CSV file that no vendor format recognises is read with
the first mapping whose ``files`` pattern matches its name, and fails naming the mappings if none
does. The format::

    # Which files this mapping reads: shell patterns on the file name (default: every file).
    files = ["demo_data*.csv"]
    # Station and logger the files belong to (defaults: --station or the file's stem; "csv").
    station = "brightwind demo mast"
    logger = "demo logger"
    # Field separator: "," ";" or "\\t" (default: the most frequent of them in the first line).
    separator = ","
    # Text meaning "no value", besides empty fields, and numbers meaning the same.
    missing_text = ["NaN"]
    missing_numbers = [-999.0]

    [timestamp]
    column = "Timestamp"              # default: the first column
    # strftime patterns tried in order until one reads every row (default: detected; ISO,
    # dd/mm/yyyy and mm/dd/yyyy are recognised); stamps with an offset (+00:00, Z) use it.
    format = ["%d/%m/%Y %H:%M", "%d/%m/%y %H:%M"]
    convention = "start"              # the stamp labels the "start" or "end" of the interval
    utc_offset = "+00:00"             # fixed offset of stamps that carry none (no DST)
    interval_minutes = 10             # default: the most common step between rows

    # One table per column: its measurement point and statistic. Columns not listed are read
    # too, and stored as unassigned channels of the logger (never dropped).
    [columns.Spd80mN]
    point = "Spd80mN"                 # measurement point name (default: the column name)
    measurement_type = "wind_speed"   # IEA Task 43 measurement_type_id (default: "other")
    height_m = 80.0
    orientation_deg = 0.0
    statistic = "avg"                 # one of stationlab.parse.STATISTICS
    unit = "m/s"

Mapping files for the brightwind demo CSVs and the floating lidar file are in ``tests/data/``.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import polars as pl

from stationlab import config
from stationlab.errors import ConfigError, ParseError
from stationlab.parse import (
    STATISTICS,
    ChannelHistory,
    Column,
    Options,
    ParsedFile,
    _stamps,
    decode,
    register,
)

logger = logging.getLogger(__name__)

#: Separators a wide CSV may use.
SEPARATORS = (",", ";", "\t")

#: A date at the start of a line (sniffing the first data row).
DATE_START = re.compile(r'^\ufeff?"?\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}[ T]\d{1,2}:\d{2}')

#: ``+01:00`` / ``-0500`` / ``Z`` for ``utc_offset``.
OFFSET = re.compile(r"^(?:Z|UTC|([+-])(\d{2}):?(\d{2}))$")

#: Keys of a column table.
COLUMN_KEYS = ("point", "measurement_type", "height_m", "orientation_deg", "statistic", "unit")

#: ``logger_configs.source`` of configurations from a mapping file.
MAPPING_SOURCE = "mapping_file"


@dataclass(frozen=True)
class ColumnMapping:
    """What one column of a wide CSV holds."""

    point: str
    statistic: str | None = None
    unit: str | None = None
    measurement_type: str = "other"
    height_m: float | None = None
    orientation_deg: float | None = None


@dataclass(frozen=True)
class Mapping:
    """A mapping file (see the module docstring)."""

    path: str
    files: tuple[str, ...] = ("*",)
    station: str | None = None
    logger: str = "csv"
    separator: str | None = None
    missing_text: tuple[str, ...] = ()
    missing_numbers: tuple[float, ...] = ()
    timestamp_column: str | None = None
    formats: tuple[str, ...] = ()
    convention: str = "start"
    utc_offset: timedelta = timedelta(0)
    interval: timedelta | None = None
    columns: dict[str, ColumnMapping] = field(default_factory=dict)

    def matches(self, name: str) -> bool:
        """Whether this mapping reads a file of this name."""
        return any(fnmatch.fnmatch(name, pattern) for pattern in self.files)


def read_mapping(path: str | Path) -> Mapping:
    """Read and check a mapping file.

    Raises
    ------
    ConfigError
        Naming the file and the key that is wrong.
    """
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the mapping file: {exc}") from None
    return parse_mapping(doc, name=str(path))


def parse_mapping(doc: dict, *, name: str = "<mapping>") -> Mapping:
    """A :class:`Mapping` from the parsed TOML of a mapping file."""
    def fail(message: str):
        raise ConfigError(f"{name}: {message}")

    stamp = doc.get("timestamp", {})
    formats = stamp.get("format", ())
    formats = (formats,) if isinstance(formats, str) else tuple(formats)
    convention = stamp.get("convention", "start")
    if convention not in ("start", "end"):
        fail(f"timestamp.convention is {convention!r}; use \"start\" or \"end\"")
    offset = OFFSET.match(str(stamp.get("utc_offset", "+00:00")).strip())
    if offset is None:
        fail(f"timestamp.utc_offset {stamp.get('utc_offset')!r} is not like +01:00")
    sign = -1 if offset[1] == "-" else 1
    utc_offset = sign * timedelta(hours=int(offset[2] or 0), minutes=int(offset[3] or 0))
    minutes = stamp.get("interval_minutes")
    if minutes is not None and (not isinstance(minutes, int | float) or minutes <= 0):
        fail(f"timestamp.interval_minutes must be a positive number, not {minutes!r}")
    separator = doc.get("separator")
    if separator is not None and separator not in SEPARATORS:
        fail(f"separator {separator!r} is not one of {SEPARATORS}")
    columns = {}
    for column, spec in doc.get("columns", {}).items():
        unknown = set(spec) - set(COLUMN_KEYS)
        if unknown:
            fail(f"columns.{column}: unknown key(s) {', '.join(sorted(unknown))}; "
                 f"known: {', '.join(COLUMN_KEYS)}")
        if spec.get("statistic") is not None and spec["statistic"] not in STATISTICS:
            fail(f"columns.{column}.statistic {spec['statistic']!r} is not one of "
                 f"{', '.join(STATISTICS)}")
        columns[column] = ColumnMapping(
            point=spec.get("point", column), statistic=spec.get("statistic"),
            unit=spec.get("unit"), measurement_type=spec.get("measurement_type", "other"),
            height_m=spec.get("height_m"), orientation_deg=spec.get("orientation_deg"))
    files = doc.get("files", ("*",))
    return Mapping(
        path=name, files=(files,) if isinstance(files, str) else tuple(files),
        station=doc.get("station"), logger=doc.get("logger", "csv"), separator=separator,
        missing_text=tuple(doc.get("missing_text", ())),
        missing_numbers=tuple(float(v) for v in doc.get("missing_numbers", ())),
        timestamp_column=stamp.get("column"), formats=formats, convention=convention,
        utc_offset=utc_offset, interval=timedelta(minutes=minutes) if minutes else None,
        columns=columns)


def mapping_for(path: str | Path, mappings: list[Mapping]) -> Mapping:
    """The first mapping whose ``files`` pattern matches the file's name.

    Raises
    ------
    ParseError
        If none does, saying how to give one.
    """
    name = Path(path).name
    for mapping in mappings:
        if mapping.matches(name):
            return mapping
    given = (f"; the mappings there ({', '.join(m.path for m in mappings)}) do not match "
             f"{name!r}") if mappings else ""
    raise ParseError("a generic CSV file needs a mapping file that says what its columns hold: "
                     "pass --mapping FILE, or put it in the standing mappings folder "
                     f"{config.mappings_dir()} (format: see stationlab.parse.generic_csv)"
                     f"{given}", source=name, line=1)


def standing_mappings() -> list[Mapping]:
    """The mapping files in the standing mappings folder (``$STATIONLAB_HOME/mappings/*.toml``),
    by file name; none if the folder does not exist.

    Raises
    ------
    ConfigError
        Naming a mapping file that cannot be read.
    """
    folder = config.mappings_dir()
    return [read_mapping(path) for path in sorted(folder.glob("*.toml"))] \
        if folder.is_dir() else []


def _sniff(head: str) -> bool:
    lines = [line for line in head.lstrip("\ufeff").splitlines() if line.strip()]
    if len(lines) < 2:
        return False
    return (any(line_sep in lines[0] for line_sep in SEPARATORS)
            and not DATE_START.match(lines[0]) and bool(DATE_START.match(lines[1])))


@register("generic_csv", sniff=_sniff, fallback=True)
def parse_generic_csv(data: bytes, opts: Options) -> ParsedFile:
    """Parse a wide CSV file with its ``mapping``.

    The mapping says what the columns hold and how the stamps read (see the module docstring);
    without one, a :class:`ParseError` says how to give it. ``utc_offset``, when given and not
    zero, overrides the mapping's ``timestamp.utc_offset``. ``channel_history`` holds one
    open-ended entry per mapped column.
    """
    source, mapping, utc_offset = opts.source, opts.mapping, opts.utc_offset
    if mapping is None:
        mapping_for(source, [])
    text = decode(data, source=source, encoding=opts.encoding)
    end = text.find("\n")
    first = (text if end < 0 else text[:end]).rstrip("\r")
    if not first.strip():
        raise ParseError("the first line is empty; expected the column names", source=source,
                         line=1)
    separator = mapping.separator or max(SEPARATORS, key=first.count)
    names = [n.strip().strip('"') for n in first.split(separator)]
    _stamps.check_column_names(names, source=source, line=1, what="header")
    stamp_column = mapping.timestamp_column or names[0]
    if stamp_column not in names:
        raise ParseError(f"no column {stamp_column!r} (timestamp.column of {mapping.path})",
                         source=source, line=1)
    rows = _stamps.read_rows("" if end < 0 else text[end + 1:], names, separator=separator,
                             quote_char='"', source=source, first_line=2)
    stamps = _read_stamps(rows[stamp_column], mapping, source,
                          utc_offset if utc_offset else mapping.utc_offset)
    interval = mapping.interval or _stamps.infer_interval(stamps)
    if mapping.convention == "end":
        if interval is None:
            raise ParseError("stamps mark the end of the interval but one row cannot tell it; "
                             f"set timestamp.interval_minutes in {mapping.path}", source=source,
                             line=2)
        stamps = stamps - interval
    values = [n for n in names if n != stamp_column]
    series, kinds = _stamps.convert_columns(
        rows.select(values), kinds={}, source=source, first_line=2,
        missing_text=("", *mapping.missing_text), missing_numbers=mapping.missing_numbers)
    columns = []
    for name, kind in zip(values, kinds, strict=True):
        spec = mapping.columns.get(name)
        columns.append(Column(name, spec.statistic if spec else None,
                              spec.unit if spec else None, kind))
    history = tuple(
        ChannelHistory(channel=name, columns=(name,), measurement_type=spec.measurement_type,
                       unit=spec.unit, height_m=spec.height_m,
                       bearing_deg=spec.orientation_deg, point_name=spec.point,
                       source=MAPPING_SOURCE)
        for name, spec in mapping.columns.items() if name in values)
    header = {"station_name": mapping.station or "", "logger_model": "generic_csv",
              "logger_serial": "", "table_name": mapping.logger, "mapping": mapping.path}
    frame = pl.DataFrame([stamps.alias("ts"), *series])
    return ParsedFile(format="generic_csv", source=source, header=header, columns=tuple(columns),
                      data=frame, interval=interval, first_data_line=2,
                      channel_history=history)


def _read_stamps(raw: pl.Series, mapping: Mapping, source: str,
                 utc_offset: timedelta) -> pl.Series:
    last = None
    for fmt in (*mapping.formats, None):  # then detection
        try:
            return _stamps.row_stamps(raw, source=source, first_line=2, column=raw.name,
                                      missing_text=("",), utc_offset=utc_offset, fmt=fmt)[0]
        except ParseError as exc:
            last = exc
    raise last
