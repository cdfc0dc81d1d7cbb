"""NRG SymphoniePRO text exports ("NRG Export Service", export version 3).

Tab separated (tabs shown as ``→``); a sectioned header, the ``Sensor History`` channel blocks,
a ``Data`` line, then the table::

    NRG Export Service
    Export version:→3
    ...
    Site Properties
    Site Description:→Tech Services test
    Time Zone:→UTC-5:00
    ...
    Logger History
    Model:→SymphoniePRO Logger (8206)
    Serial Number:→820604310
    ...
    Sensor History
    Channel:→2
    Effective Date:→2022-03-17 00:00:00
    Type:→Anemometer
    Height:→85.00
    Bearing:→189.00
    Scale Factor:→0.09350
    Offset:→0.13900
    Units:→m/s

    Data
    Timestamp→Ch2_Anem_85.00m_S_Avg_m/s→Ch2_Anem_85.00m_S_SD_m/s→...
    2022-03-17 00:00:00→0.139000→0.000000→...

Stamps are local time at the site's fixed time zone (``Time Zone``) and label the *start* of the
averaging interval; :func:`parse_symphoniepro` converts them to UTC. The same channel may have
several blocks with different effective dates (sensor moved or replaced): they become
:attr:`~stationlab.parse.ParsedFile.channel_history`, which an import turns into the logger
configuration timeline. Empty cells are missing values, and so are NRG's error values of a
digital (``ModbusRTU``) sensor (:func:`stationlab.parse._nrg.error_values`). Checked against
real exports (nrgpy's test files, ``tests/data/real/nrg_symphoniepro/``).
"""

from __future__ import annotations

import logging
import re

from stationlab.errors import ParseError
from stationlab.parse import Column, Options, ParsedFile, _nrg, _stamps, decode, register

logger = logging.getLogger(__name__)

#: The first line of an export.
FIRST_LINE = "NRG Export Service"

#: A column name: channel, type, height, bearing letters, statistic, unit.
COLUMN_NAME = re.compile(r"^Ch(?P<channel>\d+)_(?P<type>[^_]*)_(?P<height>[^_]*)_"
                         r"(?P<bearing>[^_]*)_(?P<statistic>[A-Za-z]+)_?(?P<unit>.*)$")

#: Header fields -> normalised header keys.
HEADER_KEYS = {"Model": "logger_model", "Serial Number": "logger_serial",
               "Firmware": "logger_os", "Site Number": "site_number",
               "Time Zone": "time_zone", "Export version": "export_version"}


def _sniff(head: str) -> bool:
    return head.lstrip("\ufeff").startswith(FIRST_LINE)


def describe(name: str) -> Column | None:
    """The :class:`Column` of a SymphoniePRO column name such as ``"Ch2_Anem_85.00m_S_SD_m/s"``."""
    match = COLUMN_NAME.match(name)
    if not match:
        return Column(name)
    word = match["statistic"]
    statistic = _nrg.STATISTIC_WORDS.get(word)
    if word in _nrg.STATISTIC_WORDS and statistic is None:
        return None
    return Column(name, statistic, match["unit"] or None, processing=word)


def channel_of(name: str) -> str | None:
    """The channel number of a column, e.g. ``"2"`` for ``"Ch2_Anem_85.00m_S_Avg_m/s"``."""
    match = COLUMN_NAME.match(name)
    return match["channel"] if match else None


@register("nrg_symphoniepro", sniff=_sniff)
def parse_symphoniepro(data: bytes, opts: Options) -> ParsedFile:
    """Parse an NRG SymphoniePRO text export.

    ``utc_offset`` is used only if the file has no ``Time Zone`` line. ``channel_history`` holds
    every sensor-history block with its columns.
    """
    source, utc_offset, interval = opts.source, opts.utc_offset, opts.interval
    text = decode(data, source=source, encoding=opts.encoding)
    if not _sniff(text):
        raise ParseError(f"the first line is not {FIRST_LINE!r}; not a SymphoniePRO export",
                         source=source, line=1)
    layout = _nrg.split(text, source=source, vendor="NRG SymphoniePRO")
    offset = _nrg.time_zone(layout.header.get("Time Zone"), source=source)
    offset = utc_offset if offset is None else offset
    stamps, series, columns, first_line = _nrg.read_table(
        layout, source=source, utc_offset=offset, describe=describe)
    header = {HEADER_KEYS.get(k, _nrg.key(k)): v for k, v in layout.header.items()}
    header["station_name"] = (layout.header.get("Site Description")
                              or layout.header.get("Site Number") or "")
    header["logger_model"] = header.get("logger_model") or "SymphoniePRO"
    header.setdefault("logger_serial", "")
    header.update(_nrg.site(layout.header, source=source))
    frame, columns, history, notes = _nrg.values_and_meaning(
        layout, stamps, series, columns, source=source, channel_of=channel_of,
        utc_offset=offset, logr=False)
    if interval is None:
        interval = _stamps.infer_interval(stamps)
    logger.debug("%s: %d rows, %d value columns, %d history blocks", source, frame.height,
                 len(columns), len(history))
    return ParsedFile(format="nrg_symphoniepro", source=source, header=header,
                      columns=tuple(columns), data=frame, interval=interval,
                      first_data_line=first_line, channel_history=history, value_notes=notes)
