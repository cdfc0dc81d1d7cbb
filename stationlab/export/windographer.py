"""Windographer text files: the preamble Windographer writes, tab separated, ``Date/Time`` header.

Stamps label the beginning of the time step, missing values are blank, lines end in CRLF as
Windographer's own exports do (``tests/data/real/windographer/``). Options change the missing-value
text, the stamp format and the separator, and record which flag codes are excluded.

With ``flag_status``, each data column is followed by a column of the one-letter codes of the
flags covering each time step (see :mod:`stationlab.export.flag_status`), as Windographer's
"Also export flag status" does; the preamble lists the letters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import polars as pl

from stationlab.errors import StationlabError
from stationlab.export import flag_status
from stationlab.export.layout import Layout

#: The stamp format of the ``Date/Time`` column.
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M"
NEWLINE = "\r\n"
#: Separator names (as the command line takes them) -> the character.
SEPARATORS = {"tab": "\t", "comma": ","}
SUFFIX = ".windographer.txt"


@dataclass(frozen=True)
class WindographerOptions:
    """How a Windographer text file is written.

    Parameters
    ----------
    excluded_flags
        Flag codes whose values are left out; recorded in the preamble. They take effect on clean
        data only (issue 4); raw exports hold every value.
    missing
        The text written where a value is missing.
    timestamp_format
        strftime pattern of the ``Date/Time`` column. [UTC]
    separator
        ``"tab"`` or ``"comma"``.
    flag_status
        Follow each data column with the letters of the flags covering each time step.
    """

    excluded_flags: tuple[str, ...] = ()
    missing: str = ""
    timestamp_format: str = TIMESTAMP_FORMAT
    separator: str = "tab"
    flag_status: bool = False

    def __post_init__(self) -> None:
        if self.separator not in SEPARATORS:
            raise StationlabError(f"unknown separator {self.separator!r}; choose "
                                  f"{' or '.join(SEPARATORS)}")
        if "%" not in self.timestamp_format:
            raise StationlabError(f"timestamp format {self.timestamp_format!r} has no strftime "
                                  "field; use e.g. %Y-%m-%d %H:%M")
        if any(c in self.missing for c in ("\t", ",", "\r", "\n")):
            raise StationlabError(f"missing-value text {self.missing!r} may not hold a tab, "
                                  "comma or line break")

    def as_record(self) -> dict:
        """The options as JSON-ready values (for the exports manifest)."""
        return {"excluded_flags": list(self.excluded_flags), "missing": self.missing,
                "timestamp_format": self.timestamp_format, "separator": self.separator,
                "flag_status": self.flag_status}


def _degrees(value: float | None, positive: str, negative: str) -> str:
    value = value or 0.0
    return f"{positive if value >= 0 else negative} {abs(value):.6f}"


def preamble(*, created: datetime, version: str, latitude: float | None = None,
             longitude: float | None = None, elevation_m: float | None = None,
             excluded_flags: Iterable[str] = (), flag_legend: Iterable[str] = (),
             loggers: Iterable[str] = ()) -> str:
    """The lines before the header, as Windographer 4 writes them.

    Parameters
    ----------
    created
        When the file was made (passed in so output is reproducible). [UTC]
    latitude, longitude
        Of the station. [deg]
    elevation_m
        Of the station. [m]
    flag_legend
        Lines saying what the letters of flag-status columns stand for, if there are such
        columns.
    loggers
        The identity of the station's loggers (model and serial number), one ``Logger = ...``
        line each after the site's lines.
    """
    excluded = ", ".join(excluded_flags) or "<None>"
    legend = [*flag_legend, ""] if flag_legend else []
    lines = [
        f"Created {created:%d-%m-%Y %H:%M} by stationlab {version} (Windographer text format)",
        "",
        f"Latitude = {_degrees(latitude, 'N', 'S')}",
        f"Longitude = {_degrees(longitude, 'E', 'W')}",
        f"Elevation = {elevation_m or 0:g} m",
        "Calm threshold = 0 m/s",
        *(f"Logger = {identity}" for identity in loggers),
        "",
        "Included flags: <Unflagged data>",
        f"Excluded flags: {excluded}",
        "",
        *legend,
        "Time stamps are in UTC.",
        "Time stamps indicate the beginning of the time step.",
        "",
    ]
    return NEWLINE.join(lines) + NEWLINE


def write_header(out: BinaryIO, columns: list[str], *, preamble_text: str,
                 separator: str = "\t") -> None:
    """Write the preamble and the column header line."""
    out.write(preamble_text.encode("utf-8"))
    out.write((separator.join(["Date/Time", *columns]) + NEWLINE).encode("utf-8"))


def write_rows(out: BinaryIO, frame: pl.DataFrame, columns: list[str], *,
               timestamp_format: str = TIMESTAMP_FORMAT, missing: str = "",
               separator: str = "\t") -> int:
    """Append the rows of one wide frame (``ts`` then ``columns``); returns rows written."""
    if frame.is_empty():
        return 0
    frame = frame.select(pl.col("ts").dt.convert_time_zone("UTC").dt.strftime(timestamp_format),
                         *columns)
    frame.write_csv(out, separator=separator, include_header=False, null_value=missing,
                    line_terminator=NEWLINE, quote_style="never")
    return frame.height


def write(out: BinaryIO, frames: Iterable[pl.DataFrame], columns: list[str], *,
          preamble_text: str, timestamp_format: str = TIMESTAMP_FORMAT,
          missing: str = "", separator: str = "\t") -> int:
    """Write a Windographer file from wide frames (``ts`` then ``columns``); returns rows written.

    Frames arrive in time order, one window at a time, so memory does not grow with the file.
    """
    write_header(out, columns, preamble_text=preamble_text, separator=separator)
    return sum(write_rows(out, frame, columns, timestamp_format=timestamp_format,
                          missing=missing, separator=separator) for frame in frames)


def layout_preamble(layout: Layout, options: WindographerOptions) -> str:
    """The preamble of a station's file."""
    return preamble(created=layout.created, version=layout.version, latitude=layout.latitude,
                    longitude=layout.longitude, elevation_m=layout.elevation_m,
                    excluded_flags=options.excluded_flags,
                    flag_legend=layout.flag_legend if options.flag_status else (),
                    loggers=layout.loggers)


def layout_columns(names: list[str], options: WindographerOptions) -> list[str]:
    """The columns written for data columns ``names``: with flag status, each followed by its
    own."""
    return flag_status.with_status_columns(names) if options.flag_status else names


def write_file(path: Path, frames: Iterable[pl.DataFrame], layout: Layout,
               options: WindographerOptions | None = None) -> int:
    """Write a station's Windographer file to ``path``; returns rows written."""
    options = options or WindographerOptions()
    with path.open("wb") as handle:
        return write(handle, frames, layout_columns(layout.names, options),
                     preamble_text=layout_preamble(layout, options),
                     timestamp_format=options.timestamp_format, missing=options.missing,
                     separator=SEPARATORS[options.separator])
