"""Calibrated and clean readings and the monthly and period summaries of them."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl
import psycopg

from stationlab.storage import readings
from stationlab.storage.db import statements

queries = statements("clean.sql")

CLEAN_SCHEMA = {"channel_id": pl.Int32, "ts": pl.Datetime("us", "UTC"), "raw": pl.Float64,
                "value": pl.Float64, "flags": pl.List(pl.String), "excluded": pl.Boolean}


MONTHLY_SCHEMA = {"channel_id": pl.Int32, "month": pl.Datetime("us", "UTC"), "n": pl.Int64,
                  "mean": pl.Float64, "minimum": pl.Float64, "maximum": pl.Float64,
                  "recovery": pl.Float64}


#: What separates the flag codes of a reading in ``copy_clean_readings`` (never in a code).
CODE_SEPARATOR = "\x1f"


def clean_readings(conn: psycopg.Connection, channel_ids: list[int], start: datetime,
                   end: datetime, *, excluded_codes: list[str] | None = None,
                   include_flagged: bool = False) -> pl.DataFrame:
    """Calibrated readings in ``[start, end)`` in time order (then channel): channel_id, ts, raw,
    value, flags, excluded.

    Read as one binary COPY row of arrays per channel (``copy_clean_readings``): the flag codes
    come only for the readings that have any, so most of a month is decoded by numpy.
    """
    data = readings.copy_bytes(conn, queries()["copy_clean_readings"], {
        "channel_ids": channel_ids, "start": start, "end": end,
        "excluded_codes": excluded_codes, "include_flagged": include_flagged})
    numbers, flagged = [], []
    for channel_id, ts, raw, value, excluded, flagged_ts, codes in readings.copy_rows(
            data, (">i8", ">f8", ">f8", "?", ">i8", "text")):
        numbers.append(pl.DataFrame({
            "channel_id": np.full(len(ts), channel_id, dtype=np.int32),
            "ts": readings.stamps(ts), "raw": raw.astype(np.float64),
            "value": value.astype(np.float64), "excluded": excluded.astype(bool)}))
        flagged.append(pl.DataFrame({
            "channel_id": np.full(len(flagged_ts), channel_id, dtype=np.int32),
            "ts": readings.stamps(flagged_ts), "codes": pl.Series(codes, dtype=pl.String)}))
    if not numbers:
        return pl.DataFrame(schema=CLEAN_SCHEMA)
    return (pl.concat(numbers).join(pl.concat(flagged), on=["channel_id", "ts"], how="left")
            .with_columns(pl.col("ts").dt.replace_time_zone("UTC"),
                          pl.col("codes").str.split(CODE_SEPARATOR)
                          .fill_null(pl.lit([], dtype=pl.List(pl.String))).alias("flags"))
            .select(*CLEAN_SCHEMA).sort("ts", "channel_id"))


def after_import(conn: psycopg.Connection, channel_ids: list[int], monthly: pl.DataFrame,
                 interval_s: int | None) -> None:
    """Keep derived tables current after a file's readings are stored (same transaction).

    ``monthly``: the statistics of the inserted readings per channel and month (see
    :attr:`stationlab.storage.readings.StoreResult.monthly`), added to the monthly rollup.
    """
    if interval_s:
        conn.execute(queries()["channel_interval"],
                     {"channel_ids": channel_ids, "interval_s": interval_s})
    if monthly.height:
        conn.execute(queries()["add_monthly"], {
            "channel_ids": monthly["channel_id"].to_list(), "months": monthly["month"].to_list(),
            "n": monthly["n"].to_list(), "total": monthly["total"].to_list(),
            "minimum": monthly["minimum"].to_list(), "maximum": monthly["maximum"].to_list()})


def monthly(conn: psycopg.Connection, channel_ids: list[int], start: datetime | None,
            end: datetime | None, *, clean: bool,
            excluded_codes: list[str] | None = None) -> pl.DataFrame:
    """Per channel and month: readings, mean, min, max and data recovery (0..1).

    Raw figures come from the monthly rollup (continuous aggregate on TimescaleDB); clean ones
    are computed from calibrated, unflagged readings.
    """
    name = "monthly_clean" if clean else "monthly"
    rows = conn.execute(queries()[name], {
        "channel_ids": channel_ids, "start": start, "end": end,
        "excluded_codes": excluded_codes}).fetchall()
    return pl.DataFrame(rows, schema=MONTHLY_SCHEMA, orient="row")


def statistics(conn: psycopg.Connection, channel_ids: list[int], start: datetime,
               end: datetime, *, clean: bool,
               excluded_codes: list[str] | None = None) -> pl.DataFrame:
    """Per channel: n, mean, sd, minimum, maximum of the readings in ``[start, end)``."""
    rows = conn.execute(queries()["statistics_clean" if clean else "statistics_raw"], {
        "channel_ids": channel_ids, "start": start, "end": end,
        "excluded_codes": excluded_codes}).fetchall()
    return pl.DataFrame(rows, schema={
        "channel_id": pl.Int32, "n": pl.Int64, "mean": pl.Float64, "sd": pl.Float64,
        "minimum": pl.Float64, "maximum": pl.Float64}, orient="row")
