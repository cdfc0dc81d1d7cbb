"""A zip holding one Windographer text file per measurement type (``wind_speed.txt``,
``wind_direction.txt``, ``air_temperature.txt``, ...; ``unassigned.txt`` for columns no
measurement point explains). Each file has every time step of the export.

The members are streamed to temporary files beside the output, then stored in the zip, so memory
stays flat; member times are the export's creation time, so equal data give equal bytes.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from stationlab.export import windographer
from stationlab.export.layout import Layout

SUFFIX = ".zip"
MEMBER_SUFFIX = ".txt"


def groups(layout: Layout) -> dict[str, list[str]]:
    """Measurement type -> its column names, in column order (types in order of first column)."""
    result: dict[str, list[str]] = {}
    for kind, name in zip(layout.measurement_types(), layout.names, strict=True):
        result.setdefault(kind, []).append(name)
    return result


def member_columns(layout: Layout, options: windographer.WindographerOptions
                   ) -> dict[str, list[str]]:
    """Measurement type -> the columns its member holds (with flag status, each data column
    followed by its own)."""
    return {kind: windographer.layout_columns(names, options)
            for kind, names in groups(layout).items()}


def write_file(path: Path, frames: Iterable[pl.DataFrame], layout: Layout,
               options: windographer.WindographerOptions | None = None) -> int:
    """Write a station's zip to ``path``; returns rows written (the same in every member)."""
    options = options or windographer.WindographerOptions()
    separator = windographer.SEPARATORS[options.separator]
    by_type = member_columns(layout, options)
    preamble = windographer.layout_preamble(layout, options)
    rows = 0
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".zip-") as folder:
        members = {kind: Path(folder) / f"{kind}{MEMBER_SUFFIX}" for kind in by_type}
        handles = {kind: member.open("wb") for kind, member in members.items()}
        try:
            for kind, columns in by_type.items():
                windographer.write_header(handles[kind], columns, preamble_text=preamble,
                                          separator=separator)
            for frame in frames:
                for kind, columns in by_type.items():
                    windographer.write_rows(handles[kind], frame, columns, missing=options.missing,
                                            timestamp_format=options.timestamp_format,
                                            separator=separator)
                rows += frame.height
        finally:
            for handle in handles.values():
                handle.close()
        stamp = layout.created.timetuple()[:6]
        with zipfile.ZipFile(path, "w") as archive:
            for member in members.values():
                info = zipfile.ZipInfo(member.name, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                with member.open("rb") as source, archive.open(info, "w",
                                                               force_zip64=True) as target:
                    shutil.copyfileobj(source, target, 1 << 20)
    return rows
