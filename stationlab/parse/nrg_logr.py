"""NRG LOGR logger files: statistical and one-second ``.dat`` tables, ``.log`` event logs and
``.diag`` diagnostics.

Every file starts ``NRG Systems Data Logger``, then a sectioned header of tab-separated
``Key:→value`` lines whose ``File Content`` says what follows (``Statistics``, ``One Second
Samples``, ``Logs``, ``Diagnostics``), a ``Sensor History`` of channel blocks in the ``.dat``
files, a ``Data`` line and the table::

    NRG Systems Data Logger
    File Created On (UTC):→2024-01-11T13:39:31Z
    Model Number:→9432
    Serial Number:→304
    ...
    File Content:→Statistics
    Statistical Interval (min):→1

    Sensor History
    Channel:→1
    Description:→NRG R1 GHI
    Units:→W/m^2
    Scale Factor:→111982.085938
    Offset:→0.000000
    Height:→0.00

    Data
    Timestamp→Ch1_Avg_W/m^2→Ch1_Min_W/m^2→Ch1_Max_W/m^2→Ch1_SD_W/m^2→Ch1_NotUsed→...
    2024-01-11T13:39:00Z→52.5895→49.4579→55.0781→1.7164→0.0000→...

Stamps are UTC (``Z``) and label the start of the interval; ``Time Zone`` (``-5``) is the
site's own zone, kept as the header's ``utc_offset``. ``NotUsed`` columns (placeholders the
logger fills with zeros) are dropped, and so are a vane's ``Min``/``Max`` and, without a ``Gust
Source Channel``, its ``Gust_Dir`` when they hold only 0 (see
:func:`stationlab.parse._nrg.placeholders`); NRG's error value of a digital sensor is read as
missing (:func:`stationlab.parse._nrg.error_values`). Some firmware writes ``Channel→301``
without a colon in the sensor history. The sensor history has no effective dates: each block
holds from the start. A ``.log`` data line is ``time, epoch, kind, code, message`` (separated by
``", "`` or by tabs); a ``.diag`` table has one column per quantity and statistic
(``VIN_RP_V_Avg``: quantity ``VIN_RP_V``, unit ``V``, statistic ``avg``). Files may start with a
UTF-8 BOM. Checked against real files (nrgpy's test files, ``tests/data/real/nrg_logr/``).
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import polars as pl

from stationlab.errors import ParseError
from stationlab.parse import Column, Options, ParsedFile, _nrg, _stamps, decode, register

logger = logging.getLogger(__name__)

#: The first line of every LOGR file.
FIRST_LINE = "NRG Systems Data Logger"

#: ``File Content`` values of each registered format.
CONTENTS = {"nrg_logr": ("Statistics", "One Second Samples"), "nrg_logr_log": ("Logs",),
            "nrg_logr_diag": ("Diagnostics",)}

#: A data column name: channel, statistic, unit.
COLUMN_NAME = re.compile(
    r"^Ch(?P<channel>\d+)_(?P<statistic>Gust_Dir|[A-Za-z]+)(?:_(?P<unit>.*))?$")

#: A diagnostics column: quantity, unit (optional), statistic.
DIAG_NAME = re.compile(
    r"^(?P<name>.+?)(?:_(?P<unit>V|mA|A|C|deg_C|%|W))?_(?P<statistic>Avg|Min|Max|SD)$")

#: Event-log fields.
EVENT_FIELDS = ("time", "epoch", "kind", "code", "message")

#: Header fields -> normalised header keys.
HEADER_KEYS = {"Serial Number": "logger_serial", "Site": "station_name",
               "Created FW Version": "logger_os", "FW Version": "logger_os",
               "File Content": "table_name", "Time Zone": "time_zone"}


def _content(head: str) -> str | None:
    head = head.lstrip("\ufeff")
    if not head.startswith(FIRST_LINE):
        return None
    match = re.search(r"^File Content:\t?\s*(.*?)\s*$", head, re.M)
    return match[1] if match else None


def _sniffer(name: str):
    return lambda head: _content(head) in CONTENTS[name]


def describe(name: str) -> Column | None:
    """The :class:`Column` of a LOGR column such as ``"Ch12_Gust_Dir_Deg"``; ``None`` drops it."""
    match = COLUMN_NAME.match(name)
    if not match:
        return Column(name)
    word = match["statistic"]
    if word not in _nrg.STATISTIC_WORDS:
        return Column(name, unit=match["unit"])
    statistic = _nrg.STATISTIC_WORDS[word]
    return None if statistic is None else Column(name, statistic, match["unit"], processing=word)


def channel_of(name: str) -> str | None:
    """The channel number of a column, e.g. ``"12"`` for ``"Ch12_Avg_Deg"``."""
    match = COLUMN_NAME.match(name)
    return match["channel"] if match else None


def _start(data: bytes, source: str, encoding: str | None, fmt: str) -> str:
    text = decode(data, source=source, encoding=encoding)
    found = re.search(r"^Data\r?$", text, re.M)
    content = _content(text[:found.start() if found else len(text)])
    if content not in CONTENTS[fmt]:
        raise ParseError(f"not an NRG LOGR {' or '.join(CONTENTS[fmt])} file (File Content: "
                         f"{content!r})", source=source, line=1)
    return text


def _header(layout: _nrg.Layout, source: str) -> dict[str, str]:
    header = {HEADER_KEYS.get(k, _nrg.key(k)): v for k, v in layout.header.items()}
    header.update(_nrg.site(layout.header, source=source))
    header["logger_model"] = f"NRG {layout.header.get('Model Number', 'LOGR')}".strip()
    header.setdefault("logger_serial", "")
    header.setdefault("station_name", "")
    return header


@register("nrg_logr", sniff=_sniffer("nrg_logr"))
def parse_logr(data: bytes, opts: Options) -> ParsedFile:
    """Parse an NRG LOGR statistical or one-second ``.dat`` file.

    LOGR writes UTC: ``utc_offset`` applies only to stamps without ``Z`` or an offset. The
    interval defaults to ``Statistical Interval (min)`` for statistics, one second for
    one-second samples, else the most common step. ``channel_history`` holds the sensor-history
    blocks (valid from the start).
    """
    source, utc_offset, interval = opts.source, opts.utc_offset, opts.interval
    text = _start(data, source, opts.encoding, "nrg_logr")
    layout = _nrg.split(text, source=source, vendor="NRG LOGR")
    stamps, series, columns, first_line = _nrg.read_table(
        layout, source=source, utc_offset=utc_offset, describe=describe)
    header = _header(layout, source)
    if interval is None:
        interval = _interval(header, stamps)
    frame, columns, history, notes = _nrg.values_and_meaning(
        layout, stamps, series, columns, source=source, channel_of=channel_of, utc_offset=None,
        logr=True)
    logger.debug("%s: %d rows, %d value columns", source, frame.height, len(columns))
    return ParsedFile(format="nrg_logr", source=source, header=header, columns=tuple(columns),
                      data=frame, interval=interval, first_data_line=first_line,
                      channel_history=history, value_notes=notes)


def _interval(header: dict[str, str], stamps: pl.Series) -> timedelta | None:
    if header.get("table_name") == "One Second Samples":
        return timedelta(seconds=1)
    minutes = header.get("statistical_interval_min", "")
    if minutes.strip().isdigit() and int(minutes) > 0:
        return timedelta(minutes=int(minutes))
    return _stamps.infer_interval(stamps)


@register("nrg_logr_log", sniff=_sniffer("nrg_logr_log"))
def parse_logr_log(data: bytes, opts: Options) -> ParsedFile:
    """Parse an NRG LOGR event log into events (``records == "events"``): ``data`` has ``ts``
    (UTC, in file order, not necessarily distinct), ``kind`` (``ACTION``, ``FAULT``, ...),
    ``code`` and ``message``. A line without the five fields, or an unreadable stamp, is a
    :class:`ParseError`.
    """
    source = opts.source
    text = _start(data, source, opts.encoding, "nrg_logr_log")
    layout = _nrg.split(text, source=source, vendor="NRG LOGR", has_columns=False)
    first_line = layout.header_line + 1
    lines = layout.body.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    rows = []
    for i, raw in enumerate(lines):
        line = raw.rstrip("\r")
        fields = line.split("\t") if "\t" in line else line.split(", ", len(EVENT_FIELDS) - 1)
        if len(fields) != len(EVENT_FIELDS):
            raise ParseError(f"expected {len(EVENT_FIELDS)} fields ({', '.join(EVENT_FIELDS)}), "
                             f"found {len(fields)}", source=source, line=first_line + i)
        rows.append([f.strip() for f in fields])
    frame = pl.DataFrame(rows, schema=dict.fromkeys(EVENT_FIELDS, pl.String), orient="row")
    ts = _stamps.parse_stamps(frame["time"], source=source, first_line=first_line,
                              column="time", increasing=False)[0]
    _raise_if_missing(frame["kind"], "kind", source, first_line)
    events = pl.DataFrame([ts.alias("ts"), frame["kind"], frame["code"], frame["message"]])
    columns = tuple(Column(n, kind="text") for n in ("kind", "code", "message"))
    return ParsedFile(format="nrg_logr_log", source=source, header=_header(layout, source),
                      columns=columns, data=events, first_data_line=first_line,
                      records="events")


def _raise_if_missing(values: pl.Series, name: str, source: str, first_line: int) -> None:
    empty = (values.str.strip_chars() == "").arg_true()
    if empty.len():
        raise ParseError(f"the event has no {name}", source=source,
                         line=first_line + int(empty[0]), column=name)


@register("nrg_logr_diag", sniff=_sniffer("nrg_logr_diag"))
def parse_logr_diag(data: bytes, opts: Options) -> ParsedFile:
    """Parse an NRG LOGR diagnostics file (``records == "diagnostics"``): one column per
    diagnostic, each :class:`Column` with its statistic and unit, and ``processing`` holding the
    quantity's name (``VIN_RP_V`` for ``VIN_RP_V_Avg``).
    """
    source = opts.source
    text = _start(data, source, opts.encoding, "nrg_logr_diag")
    layout = _nrg.split(text, source=source, vendor="NRG LOGR")
    stamps, series, columns, first_line = _nrg.read_table(
        layout, source=source, utc_offset=None, describe=describe_diagnostic)
    frame = pl.DataFrame([stamps.alias("ts"), *series])
    return ParsedFile(format="nrg_logr_diag", source=source, header=_header(layout, source),
                      columns=tuple(columns), data=frame,
                      interval=_stamps.infer_interval(stamps), first_data_line=first_line,
                      records="diagnostics")


def describe_diagnostic(name: str) -> Column:
    """``"VIN_RP_V_Avg"`` -> statistic ``avg``, unit ``V``, quantity ``VIN_RP_V`` (processing)."""
    match = DIAG_NAME.match(name)
    if not match:
        return Column(name, "sample", processing=name)
    quantity = match["name"] + (f"_{match['unit']}" if match["unit"] else "")
    return Column(name, _nrg.STATISTIC_WORDS[match["statistic"]], match["unit"],
                  processing=quantity)
