"""From a wide parsed file to long readings ``(channel_id, ts, value)``.

Two steps: :func:`describe_columns` guesses what each column measures from its name and the file
header, for loggers that no metadata describes yet; :func:`readings_by_month` maps every column to
its channel through the logger configuration valid at each timestamp.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta

import polars as pl

from stationlab.errors import ImportRejected
from stationlab.parse import Column, ParsedFile


@dataclass(frozen=True)
class ChannelSpec:
    """How to create a channel for a file column when no metadata describes it yet."""

    column_name: str
    point_name: str
    measurement_type: str
    height_m: float | None
    orientation_deg: float | None
    statistic: str | None
    kind: str
    unit: str | None


#: Column-name prefixes -> IEA Task 43 measurement_type_id (first match wins; case-insensitive).
MEASUREMENT_TYPES = (
    (r"^(spd|ws|wspd|windspeed|wind_speed|anem|speed)", "wind_speed"),
    (r"^(dir|wd|wdir|winddir|wind_dir|vane|direction)", "wind_direction"),
    (r"^(ptemp|paneltemp|loggertemp)", "temperature"),
    (r"^(t|tmp|temp|airt|airtemp|air_temp)(?=\d|_|\(|$)", "air_temperature"),
    (r"^(rh|relhum|relhumid|humidity)", "relative_humidity"),
    (r"^(p|bp|baro|press|pressure|airpress)(?=\d|_|$)", "air_pressure"),
    (r"^(prcp|precip|rain)", "precipitation"),
    (r"^(batt|vbat|supply|volt)", "voltage"),
    (r"^(ghi|sr|solar|pyr|irrad|slrw)", "global_horizontal_irradiance"),
)

#: Name suffixes that repeat the statistic (stripped to name the measurement point).
STATISTIC_SUFFIXES = (
    (r"_?(std|sd|stdev|stddev)$", "sd"),
    (r"_?(avg|mean)$", "avg"),
    (r"_?max$", "max"),
    (r"_?min$", "min"),
    (r"_?(tot|sum)$", "sum"),
    (r"_?(tmx)$", "time_of_max"),
    (r"_?(tmn)$", "time_of_min"),
)

ARRAY_INDEX = re.compile(r"^(.*?)(\(\d+\))?$")
#: ``80m``, ``80.5m`` in a column name: the height. [m]
HEIGHT = re.compile(r"(\d+(?:\.\d+)?)m(?![a-z]{2})", re.IGNORECASE)
#: A compass point right after the height: ``Spd80mN`` -> 0 deg. [deg]
COMPASS = {"N": 0.0, "NNE": 22.5, "NE": 45.0, "ENE": 67.5, "E": 90.0, "ESE": 112.5, "SE": 135.0,
           "SSE": 157.5, "S": 180.0, "SSW": 202.5, "SW": 225.0, "WSW": 247.5, "W": 270.0,
           "WNW": 292.5, "NW": 315.0, "NNW": 337.5}
ORIENTATION = re.compile(r"\d(?:\.\d+)?m(N|NNE|NE|ENE|E|ESE|SE|SSE|S|SSW|SW|WSW|W|WNW|NW|NNW)"
                         r"(?![a-z])")


def describe_column(column: Column) -> ChannelSpec:
    """Guess the measurement point and statistic of a column from its name and header."""
    statistic = column.statistic
    # Campbell array elements carry their index last: RelHumid_Avg(3) -> RelHumid(3).
    base, index = ARRAY_INDEX.match(column.name).groups(default="")
    point_name = column.name
    for pattern, stat in STATISTIC_SUFFIXES:
        stripped = re.sub(pattern, "", base, flags=re.IGNORECASE)
        if stripped != base and stripped:
            point_name = stripped + index
            statistic = statistic or stat
            break
    measurement_type = next((kind for pattern, kind in MEASUREMENT_TYPES
                             if re.search(pattern, point_name, re.IGNORECASE)), "other")
    height = HEIGHT.search(point_name)
    orientation = ORIENTATION.search(point_name)
    return ChannelSpec(
        column_name=column.name, point_name=point_name, measurement_type=measurement_type,
        height_m=float(height[1]) if height else None,
        orientation_deg=COMPASS[orientation[1]] if orientation else None,
        statistic=statistic or ("avg" if column.kind == "number" else None),
        kind="timestamp" if column.kind == "timestamp" else "number", unit=column.unit)


def describe_columns(parsed: ParsedFile) -> list[ChannelSpec]:
    """Specs for every stored (non-text) column of a file.

    Two columns that would land on the same measurement point and statistic (``T2m`` sampled
    and ``T2m_Avg``, say) keep apart: the later one becomes a point of its own name.
    """
    specs, seen = [], set()
    for column in parsed.columns:
        if column.kind == "text":
            continue
        spec = describe_column(column)
        if (spec.point_name, spec.statistic) in seen:
            spec = ChannelSpec(**{**spec.__dict__, "point_name": column.name})
        seen.add((spec.point_name, spec.statistic))
        specs.append(spec)
    return specs


def stored_columns(parsed: ParsedFile) -> list[Column]:
    """The columns whose values become readings (numbers and timestamps; text is not stored)."""
    return [c for c in parsed.columns if c.kind != "text"]


def _long_parts(frame: pl.LazyFrame, parsed: ParsedFile, configs: pl.DataFrame
                ) -> list[pl.LazyFrame]:
    """Per stored column: ``column_name, channel_id (null where no configuration covers the
    reading), ts, value``, missing values dropped. Timestamp columns hold seconds since
    1970-01-01 UTC. [s]

    ``configs`` rows are ``column_name, channel_id, valid_from, valid_to`` (nulls are open
    ends); where two cover a reading, the later row wins.
    """
    parts = []
    for column in stored_columns(parsed):
        value = pl.col(column.name)
        if column.kind == "timestamp":
            value = value.dt.epoch("us").cast(pl.Float64) / 1e6
        channel = pl.lit(None, dtype=pl.Int32)
        for row in configs.filter(pl.col("column_name") == column.name).iter_rows(named=True):
            covered = pl.lit(True)
            if row["valid_from"] is not None:
                covered &= pl.col("ts") >= row["valid_from"]
            if row["valid_to"] is not None:
                covered &= pl.col("ts") < row["valid_to"]
            channel = pl.when(covered).then(pl.lit(row["channel_id"], dtype=pl.Int32)
                                             ).otherwise(channel)
        parts.append(frame.select(
            pl.lit(column.name).alias("column_name"), channel.alias("channel_id"), "ts",
            value.alias("value")).drop_nulls("value").filter(pl.col("value").is_finite()))
    return parts


def unmatched_columns(parsed: ParsedFile, configs: pl.DataFrame) -> list[str]:
    """Names of the columns with readings that no configuration covers, in file order.

    ``configs``: ``column_name, channel_id, valid_from, valid_to`` (nulls are open ends).
    """
    parts = [part.filter(pl.col("channel_id").is_null()).select("column_name").head(1)
             for part in _long_parts(parsed.data.lazy(), parsed, configs)]
    if not parts:
        return []
    return pl.concat(parts).collect()["column_name"].to_list()


def with_fallback(configs: pl.DataFrame, channel_ids: dict[str, int]) -> pl.DataFrame:
    """``configs`` with an open-ended configuration per named column (its unassigned channel,
    say) that applies only where no other configuration covers a reading."""
    fallback = pl.DataFrame({"column_name": list(channel_ids),
                             "channel_id": list(channel_ids.values())},
                            schema={"column_name": pl.String, "channel_id": pl.Int32})
    return pl.concat([fallback, configs.select("column_name", "channel_id", "valid_from",
                                               "valid_to").cast({"channel_id": pl.Int32})],
                     how="diagonal_relaxed")


def readings_by_month(parsed: ParsedFile, configs: pl.DataFrame) -> Iterator[pl.DataFrame]:
    """A file's readings, each mapped to the channel configured at its time, one calendar month
    (UTC) at a time, by channel and time within a month: ``channel_id, ts, value``.

    That is the order of the readings' monthly partitions and their primary key, and a month
    at a time keeps the unpivoted file out of memory. Every reading must be covered by a
    configuration (see :func:`unmatched_columns` and :func:`with_fallback`).

    Raises
    ------
    ValueError
        If a reading has no channel.
    """
    if not stored_columns(parsed):
        return
    frame = parsed.data if parsed.data["ts"].is_sorted() else parsed.data.sort("ts")
    months = (frame.select(pl.col("ts").dt.truncate("1mo").alias("month")).with_row_index()
              .group_by("month", maintain_order=True).agg(pl.col("index").first(), pl.len()))
    for offset, length in months.select("index", "len").iter_rows():
        month = pl.concat(_long_parts(frame.slice(offset, length).lazy(), parsed, configs))
        long = month.select("channel_id", "ts", "value").sort("channel_id", "ts").collect()
        if long["channel_id"].null_count():
            raise ValueError("readings without a channel; see unmatched_columns()")
        yield long


#: What :func:`interval_statistics` makes of each numeric column, as CRBasic's output
#: processing names it: (name suffix and processing word, statistic).
INTERVAL_STATISTICS = (("Avg", "avg"), ("Std", "sd"), ("Min", "min"), ("Max", "max"))


def interval_statistics(parsed: ParsedFile, every: timedelta) -> ParsedFile:
    """The file's numeric columns as statistics over intervals of ``every`` (``stationlab import
    --stats``), computed the way a Campbell logger's ``Average``, ``StdDev``, ``Minimum`` and
    ``Maximum`` output instructions do, for a user who needs only, say, 10-minute statistics of
    a 20 Hz table.

    Each column ``X`` becomes ``X_Avg`` (mean), ``X_Std`` (population standard deviation,
    sqrt(sum((x - mean)^2) / N), as CRBasic's ``StdDev``), ``X_Min`` and ``X_Max`` of its
    non-missing values; an interval with no value is missing. As on the logger, the sample
    stamped at an interval's end (12:10:00.00) closes that interval: an interval holds the
    samples after its start up to and including its end, and its row is labelled with its
    start (UTC), like every stored row. Text and time-stamp columns are not kept.

    Raises
    ------
    ImportRejected
        If the file's rows are not shorter than ``every`` (they are statistics already).
    """
    if parsed.interval is None or parsed.interval >= every:
        raise ImportRejected(f"{parsed.source}: --stats {_duration(every)} needs rows closer "
                             f"than {_duration(every)}; this file's interval is "
                             f"{_duration(parsed.interval) if parsed.interval else 'unknown'}")
    numeric = [c for c in parsed.columns if c.kind == "number"]
    columns = tuple(Column(f"{c.name}_{word}", statistic, c.unit, "number", word)
                    for c in numeric for word, statistic in INTERVAL_STATISTICS)
    aggregations = []
    for c in numeric:
        x = pl.col(c.name)
        aggregations += [x.mean(), x.std(ddof=0), x.min(), x.max()]
    frame = (parsed.data.lazy().sort("ts")
             .group_by_dynamic("ts", every=every, closed="right", label="left")
             .agg([a.alias(c.name) for a, c in zip(aggregations, columns, strict=True)])
             .collect())
    notes = [f"{parsed.data.height:,} rows stored as {frame.height:,} rows of "
             f"{_duration(every)} statistics (Avg, Std, Min, Max of each column)"]
    dropped = [c.name for c in parsed.columns if c.kind != "number"]
    if dropped:
        notes.append(f"not kept with --stats (not numbers): {', '.join(dropped)}")
    return replace(parsed, columns=columns, data=frame, interval=every,
                   value_notes=(*parsed.value_notes, *notes))


def _duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    for unit, size in (("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
