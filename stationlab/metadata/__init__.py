"""Station metadata: import and export IEA Task 43 WRA data model documents.

``import_document`` validates a document against the schema of its version, then replaces each
of its measurement locations' curated metadata (one station per location, named after it) in one
transaction; the same location again changes nothing. ``export_station`` writes a station's
metadata back as a document and validates it.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from stationlab import storage
from stationlab.errors import MetadataError
from stationlab.metadata import iea43
from stationlab.storage import metadata as stored

logger = logging.getLogger(__name__)

__all__ = ["MetaOutcome", "document_text", "export_station", "import_document", "iea43"]


@dataclass(frozen=True)
class MetaOutcome:
    """What importing one measurement location did."""

    station: str
    status: str  # "imported" or "unchanged"
    counts: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        """The line ``stationlab meta import`` prints for this location."""
        if self.status == "unchanged":
            return f"station {self.station!r}: metadata unchanged (already imported)"
        parts = [_count(self.counts[key], what) for key, what in (
            ("points", "measurement point"), ("loggers", "logger"),
            ("logger_configs", "column configuration"), ("sensors", "sensor"),
            ("calibrations", "calibration"))]
        return f"station {self.station!r}: metadata imported ({', '.join(parts)})"


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def import_document(path: str | os.PathLike, *, dsn: str | None = None) -> list[MetaOutcome]:
    """Import an IEA Task 43 WRA data model document: one station per measurement location.

    Raises
    ------
    MetadataError
        If the document is not valid JSON, fails its schema (every violation listed with its
        JSON path), or holds what the tables cannot (overlapping periods of a column, ...).
        Nothing of it is stored then.
    """
    path = Path(path)
    document = iea43.read_document(path.read_bytes(), path.name)
    iea43.validate(document, path.name)
    fields = {k: v for k, v in document.items() if k != "measurement_location"}
    locations = [iea43.location_rows(fields, location, f"$.measurement_location[{i}]")
                 for i, location in enumerate(document["measurement_location"])]
    outcomes = []
    with storage.connect(dsn, autocommit=True) as conn, storage.transaction(conn):
        for rows in locations:
            name = rows["station"]["name"]
            if stored.stored_sha256(conn, name) == rows["sha256"]:
                outcomes.append(MetaOutcome(name, "unchanged"))
                continue
            counts = stored.replace_station(conn, rows)
            outcomes.append(MetaOutcome(name, "imported", counts))
            logger.info("%s: metadata of station %r imported: %s", path.name, name, counts)
    return outcomes


def export_station(station: str, *, dsn: str | None = None) -> dict:
    """A station's metadata as an IEA Task 43 WRA data model document, validated against the
    schema of its version: the document it was imported with, or, for a station known only
    from its files, what the files said (see :func:`iea43.file_document`).
    """
    with storage.connect(dsn, autocommit=True) as conn:
        storage.catalog.require_station(conn, station)
        meta = stored.load_station(conn, station)
        if meta is None:
            row = stored.station_row(conn, station)
            if row["latitude"] is None or row["longitude"] is None:
                raise MetadataError(
                    f"station {station!r} has no metadata from an IEA Task 43 document and its "
                    "files did not state its latitude and longitude, which the data model "
                    "requires; import its document with `stationlab meta import FILE`")
            document = iea43.file_document(
                row, stored.file_loggers(conn, station),
                storage.catalog.station_channels(conn, station),
                stored.file_columns(conn, station))
            iea43.validate(document, f"the export of station {station!r}")
            return document
    document = iea43.location_document(meta)
    iea43.validate(document, f"the export of station {station!r}")
    return document


def document_text(document: dict) -> str:
    """A document as the JSON text ``stationlab meta export`` writes."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
