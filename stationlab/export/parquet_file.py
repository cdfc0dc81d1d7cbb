"""Parquet: ``ts`` (timestamp [us, UTC], start of the interval) and one float64 column per channel,
one row group per window. The file's key-value metadata says which station, when it was made and
what each column holds (``stationlab.channels``, JSON)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from stationlab.export.layout import Layout

SUFFIX = ".parquet"
COMPRESSION = "zstd"


def schema(layout: Layout) -> pa.Schema:
    """The file's Arrow schema with the stationlab metadata."""
    channels = layout.channels.with_columns(pl.Series("name", layout.names)).to_dicts()
    metadata = {"stationlab.station": layout.station, "stationlab.version": layout.version,
                "stationlab.created": layout.created.isoformat(),
                "stationlab.channels": json.dumps(channels, sort_keys=True)}
    fields = [pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False)]
    fields += [pa.field(name, pa.float64()) for name in layout.names]
    return pa.schema(fields, metadata=metadata)


def write_file(path: Path, frames: Iterable[pl.DataFrame], layout: Layout,
               options: None = None) -> int:
    """Write a station's Parquet file to ``path``; returns rows written."""
    target = schema(layout)
    rows = 0
    with pq.ParquetWriter(path, target, compression=COMPRESSION) as writer:
        for frame in frames:
            if frame.is_empty():
                continue
            table = frame.select("ts", *layout.names).to_arrow()
            writer.write_table(pa.Table.from_arrays(table.columns, schema=target))
            rows += frame.height
        if rows == 0:
            writer.write_table(target.empty_table())
    return rows
