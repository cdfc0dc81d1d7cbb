"""Export a station's readings to files for analysis, streamed in time windows.

The database is read one window at a time (binary COPY), each window is pivoted to one column
per channel with polars and appended to the output, so memory stays flat whatever the size.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from stationlab import __version__, storage
from stationlab.errors import StationlabError
from stationlab.export import windographer
from stationlab.storage import catalog

logger = logging.getLogger(__name__)

FORMATS = ("windographer",)

#: Column labels per IEA Task 43 measurement type (others use the measurement point's name).
TYPE_LABELS = {"wind_speed": "Speed", "wind_direction": "Direction",
               "air_temperature": "Temperature", "temperature": "Temperature",
               "relative_humidity": "Humidity", "air_pressure": "Pressure",
               "precipitation": "Precipitation", "voltage": "Voltage",
               "global_horizontal_irradiance": "GHI"}
#: Column order: by measurement type in this order (others after), then height (highest first),
#: orientation, point name and statistic.
TYPE_ORDER = ("wind_speed", "wind_direction", "air_temperature", "relative_humidity",
              "air_pressure", "precipitation", "global_horizontal_irradiance", "temperature",
              "voltage")
STATISTIC_ORDER = ("avg", "sd", "min", "max", "gust", "ti", "sum", "count", "sample")
#: Column labels per statistic.
STATISTIC_LABELS = {"avg": "Mean", "sd": "SD", "min": "Min", "max": "Max", "sum": "Sum",
                    "gust": "Gust", "count": "Count", "sample": "Sample", "median": "Median",
                    "ti": "TI", "time_of_max": "TimeOfMax", "time_of_min": "TimeOfMin"}
#: Unit texts loggers write -> the symbol written in column names.
UNIT_SYMBOLS = {"metres/second": "m/s", "meters/second": "m/s", "m/s": "m/s", "mps": "m/s",
                "deg": "deg", "degrees": "deg", "celcius": "C", "celsius": "C", "deg c": "C",
                "degc": "C", "oc": "C", "%": "%", "% ": "%", "millibars": "mbar", "mbar": "mbar",
                "hpa": "hPa", "mm": "mm", "volts": "V", "v": "V", "w/m^2": "W/m2",
                "w/m2": "W/m2"}
#: How much of the source each step reads and pivots.
WINDOW = timedelta(days=31)


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    path: Path
    station: str
    format: str
    rows: int
    channels: int
    readings: int
    ts_first: datetime | None
    ts_last: datetime | None


def unit_symbol(unit: str | None) -> str | None:
    """A logger's unit text as a short symbol (``Metres/Second`` -> ``m/s``)."""
    if not unit or not unit.strip():
        return None
    return UNIT_SYMBOLS.get(unit.strip().lower(), unit.strip())


def _label(row: dict) -> tuple[str, str, str]:
    unit = unit_symbol(row["unit"])
    unit_part = f" [{unit}]" if unit else ""
    if row["point_name"] is None:  # unassigned: the file's own column name
        return row["column_name"], "", unit_part
    label = TYPE_LABELS.get(row["measurement_type"])
    parts = [label or row["point_name"]]
    if row["height_m"] is not None:
        parts.append(f"{row['height_m']:g}m")
    elif label:  # no height to tell points of a type apart: name the point
        parts.append(f"({row['point_name']})")
    if row["orientation_deg"] is not None:
        parts.append(f"{row['orientation_deg']:g}deg")
    statistic = row["statistic"] or ""
    stat_part = " " + STATISTIC_LABELS.get(statistic, statistic) if statistic else ""
    return " ".join(parts), stat_part, unit_part


def order_channels(channels: pl.DataFrame) -> pl.DataFrame:
    """Channels in export order (see :data:`TYPE_ORDER`); unassigned channels last."""
    def rank(values: tuple[str, ...], column: str) -> pl.Expr:
        return pl.col(column).replace_strict(
            {v: i for i, v in enumerate(values)}, default=len(values), return_dtype=pl.Int32)

    return channels.sort(
        pl.col("point_name").is_null(), rank(TYPE_ORDER, "measurement_type"),
        pl.col("height_m").neg(), "orientation_deg", "point_name",
        rank(STATISTIC_ORDER, "statistic"), "column_name", "channel_id", nulls_last=True)


def column_names(channels: pl.DataFrame) -> list[str]:
    """Export column names from channel metadata: type, height, orientation, statistic, unit.

    ``Speed 80m 0deg Mean [m/s]``; ``Voltage (BattV) Min [V]`` where there is no height; an
    unassigned channel keeps its file column name. Names are unique: where two would clash, the
    measurement point's name is added.
    """
    rows = list(channels.iter_rows(named=True))
    labels = [_label(row) for row in rows]
    clashes = Counter(base + stat for base, stat, _ in labels)
    names = []
    for row, (base, stat, unit) in zip(rows, labels, strict=True):
        if clashes[base + stat] > 1 and row["point_name"] and row["point_name"] not in base:
            base = f"{base} ({row['point_name']})"
        names.append(base + stat + unit)
    return names


def _wide_windows(conn, channels: pl.DataFrame, names: list[str], start: datetime,
                  end: datetime) -> Iterator[pl.DataFrame]:
    ids = channels["channel_id"].to_list()
    rename = {str(i): n for i, n in zip(ids, names, strict=True)}
    for long in storage.readings.iter_readings(conn, ids, start, end, window=WINDOW):
        wide = long.pivot(on="channel_id", index="ts", values="value", sort_columns=False)
        missing = [pl.lit(None, dtype=pl.Float64).alias(str(i)) for i in ids
                   if str(i) not in wide.columns]
        yield (wide.with_columns(missing).rename(rename)
               .select("ts", *names).sort("ts"))


def export_station(station: str, out: str | Path, *, format: str = "windographer",
                   start: datetime | None = None, end: datetime | None = None,
                   dsn: str | None = None,
                   clock: Callable[[], datetime] = lambda: datetime.now(UTC)
                   ) -> ExportResult:
    """Write a station's raw readings in ``[start, end)`` to ``out``.

    Parameters
    ----------
    format
        One of :data:`FORMATS`.
    start, end
        The period; by default everything stored. [UTC]
    clock
        Gives the creation time written in the file (pass a fixed one for reproducible output).
    """
    if format not in FORMATS:
        raise StationlabError(f"unknown export format {format!r}; known: {', '.join(FORMATS)}")
    out = Path(out)
    with storage.connect(dsn) as conn:
        meta = catalog.station(conn, station)
        if meta is None:
            known = ", ".join(s["station"] for s in catalog.summary(conn)) or "none yet"
            raise StationlabError(f"no station called {station!r}; stations: {known}")
        channels = order_channels(
            catalog.station_channels(conn, station).filter(pl.col("kind") == "number"))
        ids = channels["channel_id"].to_list()
        span = storage.readings.readings_range(conn, ids, start, end)
        first, last = span["ts_first"], span["ts_last"]
        names = column_names(channels)
        out.parent.mkdir(parents=True, exist_ok=True)
        preamble = windographer.preamble(
            created=clock(), version=__version__, latitude=meta["latitude"],
            longitude=meta["longitude"], elevation_m=meta["elevation_m"])
        tmp = out.with_name(out.name + ".partial")
        with tmp.open("wb") as handle:
            frames = (_wide_windows(conn, channels, names, first, last + timedelta(microseconds=1))
                      if first is not None else iter(()))
            rows = windographer.write(handle, frames, names, preamble_text=preamble)
        tmp.replace(out)
    logger.info("exported %s: %d rows x %d channels to %s", station, rows, len(names), out)
    return ExportResult(out, station, format, rows, len(names), span["n_readings"], first, last)
