"""Manual flags: add, edit, remove (history kept), list; import and export flag files.

A flag marks ``[ts_from, ts_to)`` on a channel, a measurement point or a whole station with a code
(append-only vocabulary), a reason and an author. Edits and removals are soft: the old row stays,
marked removed, and an edit's new row names the one it supersedes.

Flag files read here:

- brightwind cleaning files: ``Sensor,Start,Stop,Reason``; ``Sensor`` matches the start of the
  logger's column names, ``All`` means the whole station;
- Windographer flag logs: ``Data Column<TAB>Flag Name<TAB>Start Time<TAB>End Time<TAB>Time Steps``,
  written back by :func:`windographer_flag_log`.
"""

from __future__ import annotations

import getpass
import io
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from stationlab import storage
from stationlab.errors import ParseError, StationlabError
from stationlab.parse import decode, read_bytes
from stationlab.parse._stamps import parse_stamps
from stationlab.storage import catalog

logger = logging.getLogger(__name__)

#: Flag names seen in brightwind and Windographer files -> flag code.
FLAG_NAME_CODES = {"installation": "maintenance", "maintenance": "maintenance",
                   "site visit": "maintenance", "icing": "icing", "ice": "icing",
                   "tower shadow": "tower_shadow", "mast shadow": "tower_shadow", "bad": "bad",
                   "invalid": "bad", "bad data": "bad", "suspect": "suspect", "missing": "missing"}
BRIGHTWIND_HEADER = ("Sensor", "Start", "Stop", "Reason")
WINDOGRAPHER_HEADER = ("Data Column", "Flag Name", "Start Time", "End Time")
#: The station-wide marker in brightwind cleaning files.
ALL = "All"


def default_author() -> str:
    """The person flagging: ``$STATIONLAB_AUTHOR`` or the login name."""
    import os

    return os.environ.get("STATIONLAB_AUTHOR") or getpass.getuser()


def code_for(name: str) -> str:
    """The flag code for a flag name from a file (``Installation`` -> ``maintenance``)."""
    key = name.strip().lower()
    return FLAG_NAME_CODES.get(key) or re.sub(r"[^a-z0-9]+", "_", key).strip("_") or "bad"


def add_flag(conn, station: str, ts_from: datetime, ts_to: datetime, code: str, *,
             reason: str = "", author: str | None = None, channel_id: int | None = None,
             point: str | None = None, source: str = "manual",
             supersedes: int | None = None) -> int:
    """Flag ``[ts_from, ts_to)`` of a channel, a measurement point (by name) or the station.

    Returns the new flag's id.
    """
    meta = catalog.require_station(conn, station)
    point_id = None
    if point is not None:
        points = storage.catalog.channel_table(conn, station).filter(pl.col("point_name") == point)
        if points.is_empty():
            raise StationlabError(f"station {station!r} has no measurement point {point!r}")
        point_id = points["measurement_point_id"][0]
    return storage.flags.insert_flag(
        conn, station_id=meta["station_id"], measurement_point_id=point_id,
        channel_id=channel_id, ts_from=ts_from, ts_to=ts_to, code=code, reason=reason,
        author=author or default_author(), source=source, supersedes=supersedes)


def edit_flag(conn, flag_id: int, *, author: str | None = None, **changes) -> int:
    """Change a flag (period, code, reason): the old row is kept, removed; returns the new id."""
    author = author or default_author()
    with storage.transaction(conn):
        old = storage.flags.get_flag(conn, flag_id)
        if old["deleted_at"] is not None:
            raise StationlabError(f"flag {flag_id} was removed by {old['deleted_by']} on "
                                  f"{old['deleted_at']:%Y-%m-%d %H:%M}; it cannot be edited")
        unknown = set(changes) - {"ts_from", "ts_to", "code", "reason"}
        if unknown:
            raise StationlabError(f"a flag's {', '.join(sorted(unknown))} cannot be edited")
        storage.flags.delete_flag(conn, flag_id, author)
        fields = {k: old[k] for k in ("station_id", "measurement_point_id", "channel_id",
                                      "ts_from", "ts_to", "code", "reason", "source",
                                      "rule_name", "rule_version")}
        fields.update(changes)
        return storage.flags.insert_flag(conn, **fields, author=author, supersedes=flag_id)


def remove_flag(conn, flag_id: int, *, author: str | None = None) -> None:
    """Remove a flag; its row stays, marked removed by ``author``."""
    with storage.transaction(conn):
        old = storage.flags.get_flag(conn, flag_id)
        if not storage.flags.delete_flag(conn, flag_id, author or default_author()):
            raise StationlabError(f"flag {flag_id} was already removed by {old['deleted_by']}")


def list_flags(conn, station: str, *, start: datetime | None = None, end: datetime | None = None,
               include_removed: bool = False) -> pl.DataFrame:
    """A station's flags (who did what when), oldest first."""
    catalog.require_station(conn, station)
    return storage.flags.list_flags(conn, station, start=start, end=end,
                              include_deleted=include_removed)


@dataclass(frozen=True)
class FlagImport:
    """What importing a flag file did."""

    kind: str  # "brightwind" or "windographer"
    flags: int
    new_codes: tuple[str, ...]
    unmatched: tuple[str, ...]  # sensor / column names no channel matched


def _read_table(path) -> tuple[pl.DataFrame, str, str]:
    data, source = read_bytes(path)
    text = decode(data, source=source)
    first = text.splitlines()[0] if text.strip() else ""
    if tuple(f.strip() for f in first.split(",")) == BRIGHTWIND_HEADER:
        kind, separator = "brightwind", ","
    elif tuple(f.strip() for f in first.split("\t"))[:4] == WINDOGRAPHER_HEADER:
        kind, separator = "windographer", "\t"
    else:
        raise ParseError("not a flag file: expected a brightwind cleaning file header "
                         f"({','.join(BRIGHTWIND_HEADER)}) or a Windographer flag log header "
                         f"({', '.join(WINDOGRAPHER_HEADER)})", source=source, line=1)
    table = pl.read_csv(io.StringIO(text), separator=separator, infer_schema=False)
    table = table.rename({c: c.strip() for c in table.columns})
    return table, kind, source


def import_flag_file(conn, path, station: str, *, author: str | None = None) -> FlagImport:
    """Import a brightwind cleaning file or a Windographer flag log (told apart by header)."""
    catalog.require_station(conn, station)
    table, kind, source = _read_table(path)
    sensor, start, stop, reason = (BRIGHTWIND_HEADER if kind == "brightwind"
                                   else ("Data Column", "Start Time", "End Time", "Flag Name"))
    table = table.filter(pl.col(sensor).is_not_null())
    stamps = pl.concat([table[start], table[stop]])
    parsed, _ = parse_stamps(stamps, source=source, first_line=2, column=f"{start}/{stop}",
                             increasing=False)
    starts, stops = parsed[: table.height], parsed[table.height:]
    channels = storage.catalog.channel_table(conn, station)
    if channels.is_empty():
        raise StationlabError(f"station {station!r} has no channels yet: import its files first")
    names = _channel_names(conn, channels)
    new_codes, unmatched, count = [], [], 0
    author = author or default_author()
    with storage.transaction(conn):
        for i, row in enumerate(table.iter_rows(named=True)):
            label = (row[reason] or "").strip()
            code = code_for(label) if kind == "windographer" or label else "bad"
            if storage.flags.ensure_flag_code(conn, code, f"Imported flag name {label!r}"):
                new_codes.append(code)
            if starts[i] >= stops[i]:
                raise ParseError(f"the flag ends ({row[stop]}) before it starts ({row[start]})",
                                 source=source, line=i + 2, column=stop)
            targets = [None] if row[sensor].strip() == ALL else _match(
                names, row[sensor].strip(), prefix=kind == "brightwind")
            if not targets:
                unmatched.append(row[sensor])
            for channel_id in targets:
                add_flag(conn, station, starts[i], stops[i], code, reason=label, author=author,
                         channel_id=channel_id, source="imported")
                count += 1
    return FlagImport(kind, count, tuple(dict.fromkeys(new_codes)),
                      tuple(dict.fromkeys(unmatched)))


def _channel_names(conn, channels: pl.DataFrame) -> dict[str, list[int]]:
    """Names a flag file may use for a channel: the logger's column names and our export
    column names."""
    from stationlab.export import column_names

    names: dict[str, list[int]] = {}
    for name, channel_id in catalog.station_columns(conn, channels["station_id"][0]):
        names.setdefault(name, []).append(channel_id)
    numbered = channels.filter(pl.col("kind") == "number")
    for name, channel_id in zip(column_names(numbered), numbered["channel_id"], strict=True):
        names.setdefault(name, []).append(channel_id)
    return names


def _match(names: dict[str, list[int]], sensor: str, *, prefix: bool) -> list[int]:
    if prefix:
        found = [i for name, ids in names.items() if name.startswith(sensor) for i in ids]
    else:
        found = names.get(sensor, [])
    return sorted(set(found))


def windographer_flag_log(conn, station: str, *, start: datetime | None = None,
                          end: datetime | None = None) -> str:
    """The station's active flags as a Windographer flag log, one row per channel and flag,
    named as in our Windographer export."""
    from stationlab.export import column_names, order_channels

    catalog.require_station(conn, station)
    channels = order_channels(storage.catalog.channel_table(conn, station)
                              .filter(pl.col("kind") == "number"))
    names = dict(zip(channels["channel_id"], column_names(channels), strict=True))
    intervals = dict(zip(channels["channel_id"], channels["interval_s"], strict=True))
    cover = storage.flags.flag_coverage(conn, list(names), start, end)
    lines = ["\t".join(("Data Column", "Flag Name", "Start Time", "End Time", "Time Steps"))]
    for row in cover.iter_rows(named=True):
        step = intervals[row["channel_id"]] or 600
        steps = int((row["ts_to"] - row["ts_from"]) / timedelta(seconds=step))
        lines.append("\t".join((names[row["channel_id"]], row["code"],
                                f"{row['ts_from']:%Y-%m-%d %H:%M}",
                                f"{row['ts_to']:%Y-%m-%d %H:%M}", str(steps))))
    return "\r\n".join(lines) + "\r\n"
