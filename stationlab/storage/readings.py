"""Readings in and out at speed: PostgreSQL's binary COPY format, encoded and decoded with numpy.

A long frame ``(channel_id: Int32, ts: Datetime(us, UTC), value: Float64)`` becomes COPY rows of
fixed width (34 bytes), so neither direction runs Python per reading.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl
import psycopg
from psycopg import sql

from stationlab.storage.db import queries

logger = logging.getLogger(__name__)

#: PostgreSQL binary COPY signature, flags and header-extension length.
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
COPY_TRAILER = b"\xff\xff"
#: One row of (int4 channel_id, timestamptz ts, float8 value), each field with its length.
COPY_ROW = np.dtype([("nfields", ">i2"), ("len_channel", ">i4"), ("channel_id", ">i4"),
                     ("len_ts", ">i4"), ("ts", ">i8"), ("len_value", ">i4"), ("value", ">f8")])
#: Microseconds from the Unix epoch to PostgreSQL's epoch, 2000-01-01 UTC.
PG_EPOCH_US = 946_684_800_000_000

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


@dataclass(frozen=True)
class StoreResult:
    """What storing one file's readings did."""

    inserted: int
    duplicates: int
    conflicts: int
    path: str  # "copy" (no overlap: straight into readings) or "staged"


def ensure_partitions(conn: psycopg.Connection, ts_first: datetime, ts_last: datetime) -> int:
    """Create the partitions covering a time range, in their own short transaction.

    Creating a partition locks ``readings``; doing it before the import's transaction keeps that
    lock brief.
    """
    with conn.transaction():
        row = conn.execute("SELECT ensure_readings_partitions(%s, %s) AS n",
                           (ts_first, ts_last)).fetchone()
    return row["n"]


def partitions_missing(conn: psycopg.Connection, ts_first: datetime, ts_last: datetime) -> int:
    """How many partitions covering a time range do not exist yet (0 on TimescaleDB)."""
    return conn.execute(queries()["partitions_missing"],
                        {"ts_first": ts_first, "ts_last": ts_last}).fetchone()["missing"]


def store_readings(conn: psycopg.Connection, chunks: list[pl.DataFrame], *, file_id: int,
                   chunk_rows: int = 2_000_000) -> StoreResult:
    """Store long frames in ``readings`` inside the caller's transaction.

    Readings whose channel and time are new are inserted. If the file overlaps stored readings,
    it goes through a staging table: equal values are counted as duplicates, differing values are
    recorded in ``reading_conflicts`` and the stored value is kept.
    """
    total = sum(c.height for c in chunks)
    if total == 0:
        return StoreResult(0, 0, 0, "copy")
    channel_ids = sorted(set().union(*(c["channel_id"].unique().to_list() for c in chunks)))
    ts_first = min(c["ts"].min() for c in chunks)
    ts_last = max(c["ts"].max() for c in chunks)
    overlap = conn.execute(queries()["readings_exist"], {
        "channel_ids": channel_ids, "ts_first": ts_first, "ts_last": ts_last}).fetchone()["overlap"]
    if not overlap:
        _copy(conn, "COPY readings (channel_id, ts, value) FROM STDIN (FORMAT binary)",
              [partition_order(chunks)], chunk_rows)
        return StoreResult(total, 0, 0, "copy")
    conn.execute(queries()["stage_create"])
    _copy(conn, "COPY reading_stage (channel_id, ts, value) FROM STDIN (FORMAT binary)", chunks,
          chunk_rows)
    conflicts = conn.execute(queries()["stage_conflicts"], {"file_id": file_id}).rowcount
    inserted = conn.execute(queries()["stage_insert"]).rowcount
    conn.execute("DROP TABLE reading_stage")
    return StoreResult(inserted, total - inserted - conflicts, conflicts, "staged")


def partition_order(chunks: list[pl.DataFrame]) -> pl.DataFrame:
    """Readings month by month (the partitions), by channel and time within a month.

    Each partition then fills in one piece, in its primary key's order. In the order a file is
    unpivoted (one column at a time, all its months), a source spanning more months than
    PostgreSQL keeps COPY buffers for partitions (32) evicts them all the time: a 6-year file
    imported 1.7 x slower than the server-side COPY floor that way.
    """
    return pl.concat(chunks).sort(pl.col("ts").dt.truncate("1mo"), "channel_id", "ts")


def _copy(conn: psycopg.Connection, statement: str, chunks: list[pl.DataFrame],
          chunk_rows: int) -> None:
    with conn.cursor().copy(statement) as copy:
        copy.write(COPY_HEADER)
        for chunk in chunks:
            for offset in range(0, chunk.height, chunk_rows):
                copy.write(encode_copy(chunk.slice(offset, chunk_rows), header=False,
                                       trailer=False))
        copy.write(COPY_TRAILER)


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


#: What :func:`iter_readings` reads: raw readings, or calibrated readings without those an
#: excluding flag covers (``clean_readings()``, see migration 0006).
WINDOW_QUERIES = {
    "raw": "COPY (SELECT channel_id, ts, value FROM readings "
           "WHERE channel_id = ANY(%s) AND ts >= %s AND ts < %s) TO STDOUT (FORMAT binary)",
    "clean": "COPY (SELECT channel_id, ts, value FROM clean_readings(%s, %s, %s, %s)) "
             "TO STDOUT (FORMAT binary)",
}


def iter_readings(conn: psycopg.Connection, channel_ids: list[int], start: datetime,
                  end: datetime, *, window: timedelta = timedelta(days=31), clean: bool = False,
                  excluded_codes: list[str] | None = None) -> Iterator[pl.DataFrame]:
    """Yield the readings of some channels in ``[start, end)`` as long frames, one per window,
    in time order (and by channel within a time); ``clean``: calibrated, excluded flagged
    readings left out."""
    query = WINDOW_QUERIES["clean" if clean else "raw"]
    lower = start
    while lower < end:
        upper = min(lower + window, end)
        buffer = bytearray()
        params = (channel_ids, lower, upper) + ((excluded_codes,) if clean else ())
        with conn.cursor().copy(query, params) as copy:
            for block in copy:
                buffer += block
        if len(buffer) > len(COPY_HEADER) + len(COPY_TRAILER):
            yield decode_copy(buffer).sort("ts", "channel_id")
        lower = upper


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


def decode_copy_arrays(data: bytes | bytearray) -> pl.DataFrame:
    """Decode binary COPY output of ``channel_id, array_agg(ts), array_agg(value)`` rows (no
    nulls) to a long frame; a Python step per channel, numpy per reading."""
    pos = len(COPY_HEADER)
    channels, stamps, values = [], [], []
    while True:
        (nfields,) = struct.unpack_from(">h", data, pos)
        if nfields == -1:
            break
        (channel_id,) = struct.unpack_from(">i", data, pos + 6)
        ts, pos = _array(data, pos + 10, ">i8")
        value, pos = _array(data, pos, ">f8")
        channels.append(np.full(len(ts), channel_id, dtype=np.int32))
        stamps.append(ts)
        values.append(value)
    if not channels:
        return pl.DataFrame(schema=LONG_SCHEMA)
    return pl.DataFrame({
        "channel_id": np.concatenate(channels),
        "ts": (np.concatenate(stamps).astype(np.int64) + PG_EPOCH_US).astype("datetime64[us]"),
        "value": np.concatenate(values).astype(np.float64),
    }).with_columns(pl.col("ts").dt.replace_time_zone("UTC"))


def _fetch_window(conn: psycopg.Connection, statement: sql.Composed, params: dict
                  ) -> pl.DataFrame:
    buffer = bytearray()
    with conn.cursor().copy(statement, params) as copy:
        for block in copy:
            buffer += block
    return decode_copy_arrays(buffer)


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
