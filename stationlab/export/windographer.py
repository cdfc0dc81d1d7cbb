"""Windographer text files: the preamble Windographer writes, tab separated, ``Date/Time`` header.

Stamps label the beginning of the time step, missing values are blank, lines end in CRLF as
Windographer's own exports do (``../shared/data/windographer/``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import BinaryIO

import polars as pl

#: The stamp format of the ``Date/Time`` column.
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M"
NEWLINE = "\r\n"


def _degrees(value: float | None, positive: str, negative: str) -> str:
    value = value or 0.0
    return f"{positive if value >= 0 else negative} {abs(value):.6f}"


def preamble(*, created: datetime, version: str, latitude: float | None = None,
             longitude: float | None = None, elevation_m: float | None = None,
             excluded_flags: Iterable[str] = ()) -> str:
    """The lines before the header, as Windographer 4 writes them.

    Parameters
    ----------
    created
        When the file was made (passed in so output is reproducible). [UTC]
    latitude, longitude
        Of the station. [deg]
    elevation_m
        Of the station. [m]
    """
    excluded = ", ".join(excluded_flags) or "<None>"
    lines = [
        f"Created {created:%d-%m-%Y %H:%M} by stationlab {version}",
        "",
        f"Latitude = {_degrees(latitude, 'N', 'S')}",
        f"Longitude = {_degrees(longitude, 'E', 'W')}",
        f"Elevation = {elevation_m or 0:g} m",
        "Calm threshold = 0 m/s",
        "",
        "Included flags: <Unflagged data>",
        f"Excluded flags: {excluded}",
        "",
        "Time stamps indicate the beginning of the time step.",
        "",
    ]
    return NEWLINE.join(lines) + NEWLINE


def write(out: BinaryIO, frames: Iterable[pl.DataFrame], columns: list[str], *,
          preamble_text: str, timestamp_format: str = TIMESTAMP_FORMAT,
          missing: str = "") -> int:
    """Write a Windographer file from wide frames (``ts`` then ``columns``); returns rows written.

    Frames arrive in time order, one window at a time, so memory does not grow with the file.
    """
    out.write(preamble_text.encode("utf-8"))
    out.write(("\t".join(["Date/Time", *columns]) + NEWLINE).encode("utf-8"))
    rows = 0
    for frame in frames:
        if frame.is_empty():
            continue
        frame = frame.select(pl.col("ts").dt.convert_time_zone("UTC").dt.strftime(timestamp_format),
                             *columns)
        frame.write_csv(out, separator="\t", include_header=False, null_value=missing,
                        line_terminator=NEWLINE, quote_style="never")
        rows += frame.height
    return rows
