"""Plain CSV: one header line (``timestamp`` then the column names), ISO 8601 UTC stamps at the
start of the interval, comma separated, empty where a value is missing, LF line ends."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from stationlab.export.layout import Layout

SUFFIX = ".csv"
#: The stamp format. [UTC]
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
TIMESTAMP_COLUMN = "timestamp"


def header_line(columns: list[str]) -> str:
    """The header line, fields quoted where they need it."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerow([TIMESTAMP_COLUMN, *columns])
    return text.getvalue()


def write_file(path: Path, frames: Iterable[pl.DataFrame], layout: Layout,
               options: None = None) -> int:
    """Write a station's CSV file to ``path``; returns rows written."""
    rows = 0
    with path.open("wb") as handle:
        handle.write(header_line(layout.names).encode("utf-8"))
        for frame in frames:
            if frame.is_empty():
                continue
            frame.select(pl.col("ts").dt.convert_time_zone("UTC").dt.strftime(TIMESTAMP_FORMAT),
                         *layout.names).write_csv(handle, include_header=False, null_value="")
            rows += frame.height
    return rows
