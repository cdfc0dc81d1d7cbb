"""HoloViews building blocks shared by the widgets and dashboards: time series downsampled for
the screen, flags shaded by code, and conversions from polars frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401 - registers the Bokeh backend and its options
import numpy as np
import polars as pl
from holoviews.operation.downsample import downsample1d

#: Shading per flag code; codes not listed are grey.
CODE_COLORS = {"bad": "#d62728", "suspect": "#ff7f0e", "icing": "#1f77b4",
               "maintenance": "#9467bd", "tower_shadow": "#8c564b", "missing": "#7f7f7f",
               "range": "#e377c2", "flatline": "#bcbd22", "spike": "#17becf"}
#: Points drawn per curve at most; zooming in re-samples the visible range at full detail.
SCREEN_POINTS = 1500


def naive_utc(series: pl.Series) -> np.ndarray:
    """Timestamps as naive UTC ``datetime64[us]`` (what Bokeh's datetime axis expects)."""
    if series.dtype == pl.Datetime and series.dtype.time_zone is not None:
        series = series.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return series.cast(pl.Datetime("us")).to_numpy()


def as_utc(value) -> datetime | None:
    """A plot coordinate (datetime64, pandas Timestamp, datetime, or milliseconds since 1970)
    as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        return datetime.fromtimestamp(float(value) / 1000, tz=UTC)
    if isinstance(value, np.datetime64):
        value = value.astype("datetime64[us]").item()
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_minute(value: datetime) -> datetime:
    """Rounded to the nearest whole minute (a mouse drag lands between readings)."""
    return (value + timedelta(seconds=30)).replace(second=0, microsecond=0)


#: The time axis of every plot.
TIME = hv.Dimension("time", label="time [UTC]")


def curves(long: pl.DataFrame, names: list[str], value: str = "value") -> hv.NdOverlay:
    """One curve per channel from a long frame (``ts, name, value``), broken where readings are
    missing (:func:`with_gaps`); ``value`` labels the y axis."""
    overlay = {}
    for name in names:
        part = with_gaps(long.filter(pl.col("name") == name).select("ts", "value"))
        overlay[name] = hv.Curve((naive_utc(part["ts"]), part["value"].to_numpy()),
                                 TIME, value, label=name)
    if not overlay:
        overlay["no channel"] = hv.Curve((np.array([], dtype="datetime64[us]"), []),
                                         TIME, value)
    return hv.NdOverlay(overlay, kdims="channel")


def with_gaps(series: pl.DataFrame) -> pl.DataFrame:
    """``ts, value`` sorted, with a missing value one usual step after each reading that the
    next one follows by more than one and a half usual steps (the median step): a line drawn
    through it breaks there instead of joining readings across a gap."""
    series = series.sort("ts")
    if series.height < 3:
        return series
    step = series["ts"].diff().median()
    late = series.filter(series["ts"].diff(-1).abs() > step * 1.5)
    if late.is_empty():
        return series
    breaks = late.select((pl.col("ts") + step).alias("ts"),
                         pl.lit(None, dtype=series["value"].dtype).alias("value"))
    return pl.concat([series, breaks]).sort("ts")


def downsampled(dmap: hv.DynamicMap) -> hv.DynamicMap:
    """LTTB-downsampled to the screen; re-sampled from full data for each zoomed range."""
    return downsample1d(dmap, algorithm="lttb", width=SCREEN_POINTS)


def flag_spans(flags: pl.DataFrame) -> hv.VSpans:
    """Flags (``ts_from, ts_to, code``) as vertical bands coloured by code."""
    frame = {"x0": naive_utc(flags["ts_from"]), "x1": naive_utc(flags["ts_to"]),
             "code": flags["code"].to_numpy().astype(str)}
    color = hv.dim("code").categorize(CODE_COLORS, default="#999999")
    # The curves set the axes: HoloViews gives the spans' extent as a pandas Timestamp, which
    # Panel cannot order against a curve's datetime64 (a flag from the first reading broke
    # the plot), and a flag reaching past the readings should not widen the view.
    return hv.VSpans(frame, kdims=["x0", "x1"], vdims=["code"]).opts(
        color=color, alpha=0.25, line_width=0, apply_ranges=False,
        padding=(0, 0.1))
