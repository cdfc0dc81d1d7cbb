"""What an export's columns are called and in which order, and what every writer is told.

Wide frames exist only at the edges: an export's columns are channels, named from their metadata
(type, height, orientation, statistic, unit) and ordered by measurement type.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import polars as pl

#: Column labels per IEA Task 43 measurement type (others use the measurement point's name).
TYPE_LABELS = {"wind_speed": "Speed", "vertical_wind_speed": "Vertical Speed",
               "wind_direction": "Direction",
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
                    "ti": "TI", "time_of_max": "TimeOfMax", "time_of_min": "TimeOfMin",
                    "quality": "Quality", "availability": "Availability"}
#: Unit texts loggers write -> the symbol written in column names.
UNIT_SYMBOLS = {"metres/second": "m/s", "meters/second": "m/s", "m/s": "m/s", "mps": "m/s",
                "deg": "deg", "degrees": "deg", "celcius": "C", "celsius": "C", "deg c": "C",
                "degc": "C", "oc": "C", "%": "%", "% ": "%", "millibars": "mbar", "mbar": "mbar",
                "hpa": "hPa", "mm": "mm", "volts": "V", "v": "V", "w/m^2": "W/m2",
                "w/m2": "W/m2", "°": "deg", "°c": "C"}
def logger_identity(row: dict, station: str) -> str | None:
    """``"CR1000X serial 12342"``, ``"ZX 300 (ZX unit 317)"``: a logger's model with its serial
    number, or with its name where it has no serial and the name is not the station's; ``None``
    if neither."""
    model = row["model"] or "logger"
    if row["serial_number"]:
        return f"{model} serial {row['serial_number']}"
    if row["name"] and row["name"] != station:
        return f"{model} ({row['name']})"
    return None


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
    said = set(parts[0].split())  # a point's own name may already say its height and bearing
    if row["height_m"] is not None:
        parts.append(f"{row['height_m']:g}m")
    elif label:  # no height to tell points of a type apart: name the point
        parts.append(f"({row['point_name']})")
    if row["orientation_deg"] is not None:
        parts.append(f"{row['orientation_deg']:g}deg")
    parts = parts[:1] + [part for part in parts[1:] if part not in said]
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
    measurement point's name is added, less the words the name says already (its height).
    """
    rows = list(channels.iter_rows(named=True))
    labels = [_label(row) for row in rows]
    clashes = Counter(base + stat for base, stat, _ in labels)
    names = []
    for row, (base, stat, unit) in zip(rows, labels, strict=True):
        if clashes[base + stat] > 1 and row["point_name"] and row["point_name"] not in base:
            said = set(base.split())
            extra = " ".join(w for w in row["point_name"].split() if w not in said)
            base = f"{base} ({extra or row['point_name']})"
        names.append(base + stat + unit)
    return names


@dataclass(frozen=True)
class Layout:
    """What a format writer needs besides the frames: the station, its columns, the clock.

    Parameters
    ----------
    station
        The station's name.
    channels
        The exported channels in column order (see :func:`order_channels`).
    names
        The column name of each channel, in the same order.
    created
        When the export was made (passed in so output is reproducible). [UTC]
    latitude, longitude
        Of the station. [deg]
    elevation_m
        Of the station. [m]
    flag_legend
        Preamble lines naming the letters of the flag-status columns, where the frames carry
        them (see :mod:`stationlab.export.flag_status`).
    loggers
        The identity of each of the station's loggers that has one beyond the station's name
        (model and serial number, or the instrument's own name such as a ZX unit), e.g.
        ``"Windcube WLS866 serial WLS866-24"``.
    """

    station: str
    channels: pl.DataFrame
    names: list[str]
    created: datetime
    version: str
    latitude: float | None = None
    longitude: float | None = None
    elevation_m: float | None = None
    flag_legend: tuple[str, ...] = ()
    loggers: tuple[str, ...] = ()

    def measurement_types(self) -> list[str]:
        """Each column's measurement type (``unassigned`` for columns of no measurement point)."""
        return [kind if point is not None else "unassigned" for kind, point in zip(
            self.channels["measurement_type"], self.channels["point_name"], strict=True)]
