"""Readings in and out at speed: PostgreSQL's binary COPY format, encoded and decoded with numpy.

A long frame ``(channel_id: Int32, ts: Datetime(us, UTC), value: Float64)`` becomes COPY rows of
fixed width (34 bytes), so neither direction runs Python per reading.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import numpy as np
import polars as pl
import psycopg
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from stationlab.storage.db import statements

queries = statements("readings.sql")

logger = logging.getLogger(__name__)

#: PostgreSQL binary COPY signature, flags and header-extension length.
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
COPY_TRAILER = b"\xff\xff"
#: One row of (int4 channel_id, timestamptz ts, float8 value), each field with its length.
COPY_ROW = np.dtype([("nfields", ">i2"), ("len_channel", ">i4"), ("channel_id", ">i4"),
                     ("len_ts", ">i4"), ("ts", ">i8"), ("len_value", ">i4"), ("value", ">f8")])
#: Microseconds from the Unix epoch to PostgreSQL's epoch, 2000-01-01 UTC.
PG_EPOCH_US = 946_684_800_000_000

T = TypeVar("T")

LONG_SCHEMA = {"channel_id": pl.Int32, "ts": pl.Datetime("us", "UTC"), "value": pl.Float64}


def encode_copy(long: pl.DataFrame, *, header: bool = True, trailer: bool = True) -> bytes:
    """Encode a long frame (no nulls) as PostgreSQL binary COPY data."""
    rows = np.empty(long.height, dtype=COPY_ROW)
    rows["nfields"] = 3
    rows["len_channel"] = 4
    rows["len_ts"] = 8
    rows["len_value"] = 8
    rows["channel_id"] = long["channel_id"].to_numpy()
    rows["ts"] = long["ts"].dt.epoch("us").to_numpy() - PG_EPOCH_US
    rows["value"] = long["value"].to_numpy()
    return (COPY_HEADER if header else b"") + rows.tobytes() + (COPY_TRAILER if trailer else b"")


def decode_copy(data: bytes | memoryview) -> pl.DataFrame:
    """Decode binary COPY output of ``SELECT channel_id, ts, value`` (no nulls) to a long frame."""
    body = memoryview(data)[len(COPY_HEADER):len(data) - len(COPY_TRAILER)]
    rows = np.frombuffer(body, dtype=COPY_ROW)
    return pl.DataFrame({
        "channel_id": rows["channel_id"].astype(np.int32),
        "ts": (rows["ts"] + PG_EPOCH_US).astype("datetime64[us]"),
        "value": rows["value"].astype(np.float64),
    }).with_columns(pl.col("ts").dt.replace_time_zone("UTC"))


#: The monthly statistics of some readings, as the ``readings_monthly`` rollup keeps them.
MONTHLY_SCHEMA = {"channel_id": pl.Int32, "month": pl.Datetime("us", "UTC"), "n": pl.Int64,
                  "total": pl.Float64, "minimum": pl.Float64, "maximum": pl.Float64}


@dataclass(frozen=True)
class StoreResult:
    """What storing one file's readings did."""

    readings: int  # in the file
    inserted: int
    duplicates: int
    conflicts: int
    path: str  # "copy" (no overlap: straight into readings) or "staged"
    monthly: pl.DataFrame  # statistics of the inserted readings per channel and month


def ensure_partitions(conn: psycopg.Connection, ts_first: datetime, ts_last: datetime) -> int:
    """Create the partitions covering a time range, in their own short transaction.

    Creating a partition locks ``readings``; doing it before the import's transaction keeps that
    lock brief.
    """
    with conn.transaction():
        row = conn.execute(queries()["ensure_partitions"],
                           {"ts_first": ts_first, "ts_last": ts_last}).fetchone()
    return row["n"]


def partitions_missing(conn: psycopg.Connection, ts_first: datetime, ts_last: datetime) -> int:
    """How many partitions covering a time range do not exist yet (0 on TimescaleDB)."""
    return conn.execute(queries()["partitions_missing"],
                        {"ts_first": ts_first, "ts_last": ts_last}).fetchone()["missing"]


def store_readings(conn: psycopg.Connection, months: Iterable[pl.DataFrame], *, file_id: int,
                   channel_ids: list[int], ts_first: datetime, ts_last: datetime,
                   chunk_rows: int = 500_000) -> StoreResult:
    """Store long frames ``(channel_id, ts, value)`` in ``readings`` inside the caller's
    transaction.

    ``months`` come one calendar month (UTC) at a time, by channel and time within a month (as
    :func:`stationlab.standardise.readings_by_month` yields them), within ``[ts_first,
    ts_last]`` and the channels ``channel_ids``. The next month is made on a helper thread and
    each is encoded and sent with binary COPY while the server stores the one before, so the
    client's work hides behind the server's and a file's readings are never in memory at once.

    If the file overlaps no stored reading, each month is copied straight in: into
    ``readings`` if its partition exists, else into a new table keyed after loading and attached
    as the partition (faster than a keyed COPY; see schema.plain.sql). Otherwise the file goes
    through a staging table: equal values are counted as duplicates, differing values are
    recorded in ``reading_conflicts`` and the stored value is kept.
    """
    span = {"channel_ids": channel_ids, "ts_first": ts_first, "ts_last": ts_last}
    conn.execute(queries()["no_decompression_cap"])  # no file may fail on TimescaleDB's cap
    if not channel_ids or not conn.execute(queries()["readings_exist"], span
                                           ).fetchone()["overlap"]:
        total, counted, new = 0, [], 0
        laps = _Laps()
        # The helper thread makes each month and its statistics while this one sends the last.
        for month, statistics in ahead((m, monthly_statistics(m)) for m in months):
            laps.lap("waiting for the next month")
            if not month.height:
                continue
            start = month["ts"].min()
            table = conn.execute(queries()["load_table"], {"month": start}).fetchone()["name"]
            copy = queries()["copy_in" if table == "readings" else "copy_in_frozen"]
            total += _copy(conn, sql.SQL(copy).format(table=sql.Identifier(table)), [month],
                           chunk_rows)
            laps.lap("COPY")
            if table != "readings":
                conn.execute(queries()["attach_partition"], {"month": start})
                new += 1
                laps.lap("keying and attaching new months")
            counted.append(statistics)
        logger.debug("copied %d readings in %d months (%d new): %s", total, len(counted), new,
                     laps)
        monthly = (pl.concat(counted).group_by("channel_id", "month").agg(
            pl.col("n", "total").sum(), pl.col("minimum").min(), pl.col("maximum").max())
            if counted else pl.DataFrame(schema=MONTHLY_SCHEMA))
        return StoreResult(total, total, 0, 0, "copy", monthly)
    conn.execute(queries()["stage_create"])
    total = _copy(conn, sql.SQL(queries()["stage_copy_in"]), ahead(months), chunk_rows)
    conn.execute(queries()["stage_analyze"])
    for start in conn.execute(queries()["stage_months_unpartitioned"]).fetchall():
        conn.execute(queries()["attach_partition"], {"month": start["month"]})
    conflicts = conn.execute(queries()["stage_conflicts"], {"file_id": file_id, **span}).rowcount
    rows = conn.execute(queries()["stage_insert"], span).fetchall()
    conn.execute(queries()["stage_drop"])
    monthly = pl.DataFrame(rows, schema=MONTHLY_SCHEMA, orient="row")
    inserted = int(monthly["n"].sum())
    return StoreResult(total, inserted, total - inserted - conflicts, conflicts, "staged",
                       monthly)


class _Laps:
    """Seconds spent per named step of a loop, summed; logged to show where an import's time
    goes (``stationlab -vv import``, and bench/run's profile)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._mark = time.perf_counter()

    def lap(self, step: str) -> None:
        """Count the time since the last lap to ``step``."""
        now = time.perf_counter()
        self.seconds[step] = self.seconds.get(step, 0.0) + now - self._mark
        self._mark = now

    def __str__(self) -> str:
        return ", ".join(f"{step} {seconds:.2f} s" for step, seconds in self.seconds.items())


def ahead(items: Iterable[T]) -> Iterator[T]:
    """The items of an iterable, each next one made on a helper thread while the caller works on
    the one before (at most two in memory)."""
    iterator = iter(items)
    done = object()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stationlab-ahead") as pool:
        pending = pool.submit(next, iterator, done)
        while (item := pending.result()) is not done:
            pending = pool.submit(next, iterator, done)
            yield item


def monthly_statistics(long: pl.DataFrame) -> pl.DataFrame:
    """Count, sum, minimum and maximum of readings per channel and calendar month (UTC)."""
    return (long.group_by("channel_id", pl.col("ts").dt.truncate("1mo").alias("month"))
            .agg(pl.len().cast(pl.Int64).alias("n"), pl.col("value").sum().alias("total"),
                 pl.col("value").min().alias("minimum"), pl.col("value").max().alias("maximum"))
            .cast(MONTHLY_SCHEMA))


def _copy(conn: psycopg.Connection, statement: sql.Composable, frames: Iterable[pl.DataFrame],
          chunk_rows: int) -> int:
    """COPY long frames in binary; returns the number of rows sent.

    The queued writer sends on a thread of its own (its queue bounds the memory), while this
    thread makes the next frame."""
    cursor = conn.cursor()
    total = 0
    with cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
        copy.write(COPY_HEADER)
        for frame in frames:
            for offset in range(0, frame.height, chunk_rows):
                copy.write(memoryview(encode_copy(frame.slice(offset, chunk_rows), header=False,
                                                  trailer=False)))
            total += frame.height
        copy.write(COPY_TRAILER)
    return total


def readings_span(conn: psycopg.Connection, channel_ids: list[int], start: datetime | None,
                  end: datetime | None) -> dict:
    """First and last stamp of the readings of some channels in ``[start, end)``, from a few index
    probes per channel (no count; see :func:`readings_range`)."""
    return conn.execute(queries()["readings_span"], {
        "channel_ids": channel_ids, "start": start, "end": end}).fetchone()


def readings_range(conn: psycopg.Connection, channel_ids: list[int], start: datetime | None,
                   end: datetime | None) -> dict:
    """First and last stamp and count of the readings of some channels in ``[start, end)``."""
    return conn.execute(queries()["readings_range"], {
        "channel_ids": channel_ids, "start": start, "end": end}).fetchone()


def _array(data: bytes | bytearray, pos: int, dtype: str) -> tuple[np.ndarray, int]:
    """A one-dimensional array field of binary COPY at ``pos`` (its length word): the values
    and the position after the field."""
    (length,) = struct.unpack_from(">i", data, pos)
    pos += 4
    (ndim,) = struct.unpack_from(">i", data, pos)
    if ndim == 0:
        return np.empty(0, dtype=dtype), pos + length
    (count,) = struct.unpack_from(">i", data, pos + 12)
    elements = np.frombuffer(data, dtype=np.dtype([("len", ">i4"), ("v", dtype)]), count=count,
                             offset=pos + 20)
    return elements["v"], pos + length


def _text_array(data: bytes | bytearray, pos: int) -> tuple[list[str], int]:
    """A one-dimensional text array field of binary COPY at ``pos`` (no nulls): the texts and
    the position after the field; a Python step per element."""
    (length,) = struct.unpack_from(">i", data, pos)
    end = pos + 4 + length
    (ndim,) = struct.unpack_from(">i", data, pos + 4)
    if ndim == 0:
        return [], end
    (count,) = struct.unpack_from(">i", data, pos + 16)
    texts, at = [], pos + 24
    for _ in range(count):
        (size,) = struct.unpack_from(">i", data, at)
        texts.append(bytes(data[at + 4:at + 4 + size]).decode())
        at += 4 + size
    return texts, end


def copy_rows(data: bytes | bytearray, fields: tuple[str, ...]) -> Iterator[list]:
    """The rows of binary COPY output whose first field is an ``integer`` and the others
    one-dimensional arrays without nulls: ``fields`` names each array's element type, a numpy
    type (``">i8"`` for timestamptz as microseconds since 2000, ``">f8"``, ``"?"``) or
    ``"text"``."""
    pos = len(COPY_HEADER)
    while True:
        (nfields,) = struct.unpack_from(">h", data, pos)
        if nfields == -1:
            return
        (first,) = struct.unpack_from(">i", data, pos + 6)
        row, pos = [first], pos + 10
        for kind in fields:
            value, pos = _text_array(data, pos) if kind == "text" else _array(data, pos, kind)
            row.append(value)
        yield row


def stamps(microseconds: np.ndarray) -> np.ndarray:
    """PostgreSQL's binary timestamptz (microseconds since 2000-01-01 UTC) as datetime64[us]."""
    return (microseconds.astype(np.int64) + PG_EPOCH_US).astype("datetime64[us]")


def copy_bytes(conn: psycopg.Connection, statement: str | sql.Composable, params: dict
               ) -> bytearray:
    """The whole output of a ``COPY ... TO STDOUT`` statement."""
    buffer = bytearray()
    with conn.cursor().copy(statement, params) as copy:
        for block in copy:
            buffer += block
    return buffer


def decode_copy_arrays(data: bytes | bytearray) -> pl.DataFrame:
    """Decode binary COPY output of ``channel_id, array_agg(ts), array_agg(value)`` rows (no
    nulls) to a long frame; a Python step per channel, numpy per reading."""
    rows = list(copy_rows(data, (">i8", ">f8")))
    if not rows:
        return pl.DataFrame(schema=LONG_SCHEMA)
    return pl.DataFrame({
        "channel_id": np.concatenate([np.full(len(ts), c, dtype=np.int32) for c, ts, _ in rows]),
        "ts": stamps(np.concatenate([ts for _, ts, _ in rows])),
        "value": np.concatenate([value for _, _, value in rows]).astype(np.float64),
    }).with_columns(pl.col("ts").dt.replace_time_zone("UTC"))


def _fetch_window(conn: psycopg.Connection, statement: sql.Composed, params: dict
                  ) -> pl.DataFrame:
    return decode_copy_arrays(copy_bytes(conn, statement, params))


def iter_values(conn: psycopg.Connection, channel_ids: list[int],
                windows: Iterable[tuple[datetime, datetime]], *, query: str = "export_values",
                prefetch: bool = True, params: dict | None = None) -> Iterator[pl.DataFrame]:
    """Yield the values of some channels one window ``[start, end)`` at a time, as long frames
    ``(channel_id, ts, value)`` in no particular order (an empty frame for an empty window).

    The values are those of the named query block (``export_values``: the one place that says
    what an export reads), sent with binary COPY and decoded with numpy. With ``prefetch``, the
    next window is read on a helper thread while the caller works on this one, so the server and
    the caller work at the same time; still one connection and at most two windows in memory.
    Each window comes as one COPY row per channel (``copy_values_by_channel``).
    """
    statement = sql.SQL(queries()["copy_values_by_channel"]).format(
        values=sql.SQL(queries()[query]))

    def fetch(window: tuple[datetime, datetime]) -> pl.DataFrame:
        return _fetch_window(conn, statement, {"channel_ids": channel_ids, "start": window[0],
                                               "end": window[1], **(params or {})})

    windows = list(windows)
    if not prefetch or len(windows) < 2:
        for window in windows:
            yield fetch(window)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stationlab-read") as pool:
        pending = pool.submit(fetch, windows[0])
        for following in [*windows[1:], None]:
            frame = pending.result()
            pending = pool.submit(fetch, following) if following is not None else None
            try:
                yield frame
            except GeneratorExit:
                if pending is not None:
                    pending.cancel()
                    pending.exception()  # let a running read finish before the pool closes
                raise


def read_channel(conn: psycopg.Connection, channel_id: int, start: datetime, end: datetime,
                 *, clean: bool = True) -> pl.DataFrame:
    """One channel's values in ``[start, end)`` in time order: ``ts`` (UTC) and ``value``;
    clean (calibrated, excluded flagged readings left out) unless ``clean`` is false.

    Reads the ``channel_clean_values`` (or ``channel_values``) query block as one COPY row of
    arrays.
    """
    statement = sql.SQL(queries()["copy_values_by_channel"]).format(
        values=sql.SQL(queries()["channel_clean_values" if clean else "channel_values"]))
    frame = _fetch_window(conn, statement, {"channel_id": channel_id, "start": start,
                                            "end": end})
    return frame.select("ts", "value").sort("ts")


def excluded_by_default(conn: psycopg.Connection) -> list[str]:
    """The flag codes that exclude a reading from clean data unless told otherwise."""
    return [r["code"] for r in conn.execute(queries()["excluded_by_default"])]
