"""Quality checks. A check never changes data: ``flag_*`` returns a mask, True = flagged.

Each check takes the values of one channel in time order (polars Series), plus the stamps where
time matters, and returns a Boolean Series of the same length.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl


def flag_range(values: pl.Series, low: float | None, high: float | None) -> pl.Series:
    """Values outside ``[low, high]`` (physically impossible)."""
    mask = pl.Series(values.name, [False] * len(values))
    if low is not None:
        mask = mask | (values < low)
    if high is not None:
        mask = mask | (values > high)
    return mask.fill_null(False)


def flag_flat_line(values: pl.Series, ts: pl.Series, *, intervals: int,
                   interval: timedelta) -> pl.Series:
    """Runs of at least ``intervals`` consecutive, contiguous readings with the same value
    (a stuck sensor)."""
    frame = pl.DataFrame({"v": values, "ts": ts})
    new_run = ((pl.col("v") != pl.col("v").shift(1))
               | (pl.col("ts").diff() != interval)).fill_null(True)
    return (frame.with_columns(new_run.cum_sum().alias("run"))
            .select(pl.len().over("run") >= intervals)
            .to_series().rename(values.name))


def flag_spike(values: pl.Series, ts: pl.Series, *, threshold: float,
               interval: timedelta) -> pl.Series:
    """A reading that jumps by more than ``threshold`` from both contiguous neighbours in the
    same direction and comes back (a single-interval spike)."""
    frame = pl.DataFrame({"v": values, "ts": ts})
    before = pl.col("v") - pl.col("v").shift(1)
    after = pl.col("v") - pl.col("v").shift(-1)
    contiguous = ((pl.col("ts").diff() == interval)
                  & (pl.col("ts").shift(-1) - pl.col("ts") == interval))
    spike = contiguous & (((before > threshold) & (after > threshold))
                          | ((before < -threshold) & (after < -threshold)))
    return frame.select(spike.fill_null(False)).to_series().rename(values.name)


def flag_zero_sd(mean: pl.Series, sd: pl.Series, *, min_mean: float) -> pl.Series:
    """A standard deviation of exactly zero while the mean is not near zero (frozen signal).
    ``mean`` and ``sd`` are aligned on the same stamps (nulls where one is missing)."""
    return ((sd == 0) & (mean.abs() > min_mean)).fill_null(False).rename(mean.name)


def flag_icing(temperature: pl.Series, stalled: pl.Series, *, max_temperature: float
               ) -> pl.Series:
    """Icing: air temperature at or below ``max_temperature`` while the sensor is stalled.
    Series aligned on the same stamps."""
    return ((temperature <= max_temperature) & stalled).fill_null(False).rename(stalled.name)


def missing_runs(ts: pl.Series, *, interval: timedelta, min_intervals: int,
                 period: tuple[datetime | None, datetime | None] = (None, None)
                 ) -> list[tuple]:
    """Gaps of at least ``min_intervals`` missing intervals between readings, as
    ``[first missing stamp, next reading)`` periods; with ``period`` bounds, also the gaps
    between the period's start and the first reading and between the last reading and its end.
    """
    frame = pl.DataFrame({"ts": ts}).with_columns(pl.col("ts").shift(-1).alias("next"))
    gaps = frame.filter(pl.col("next") - pl.col("ts") >= interval * (min_intervals + 1))
    runs = [(start + interval, nxt) for start, nxt in gaps.select("ts", "next").iter_rows()]
    start, end = period
    if len(ts) and start is not None and ts[0] - start >= interval * min_intervals:
        runs.insert(0, (start, ts[0]))
    if len(ts) and end is not None and end - (ts[-1] + interval) >= interval * min_intervals:
        runs.append((ts[-1] + interval, end))
    return runs


def mask_to_periods(ts: pl.Series, mask: pl.Series, interval: timedelta) -> list[tuple]:
    """Flagged stamps as periods ``[first, last + interval)``, merging stamps one interval
    apart."""
    flagged = ts.filter(mask)
    if flagged.is_empty():
        return []
    frame = pl.DataFrame({"ts": flagged}).with_columns(
        (pl.col("ts").diff() != interval).fill_null(True).cum_sum().alias("run"))
    runs = frame.group_by("run", maintain_order=True).agg(pl.col("ts").min().alias("first"),
                                                          pl.col("ts").max().alias("last"))
    return [(first, last + interval) for first, last in runs.select("first", "last").iter_rows()]
