"""What the widgets write through by default: flags and uploads in the stationlab database.

Widgets take these as arguments, so tests and other deployments pass their own.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import datetime
from pathlib import Path

import polars as pl

from stationlab import flags
from stationlab.storage import quality

logger = logging.getLogger(__name__)


class FlagRepository:
    """Flags of the stationlab database, written as ``author`` (history kept).

    Parameters
    ----------
    conn
        An autocommit connection (``stationlab.connect().conn``).
    author
        Who flags; default ``$STATIONLAB_AUTHOR`` or the login name.
    """

    def __init__(self, conn, author: str | None = None) -> None:
        self.conn = conn
        self.author = author or flags.default_author()

    def codes(self) -> list[str]:
        """The flag codes a person may choose."""
        return quality.flag_codes(self.conn)["code"].to_list()

    def list(self, station: str) -> pl.DataFrame:
        """The station's active flags."""
        return flags.list_flags(self.conn, station)

    def coverage(self, channel_ids: list[int]) -> pl.DataFrame:
        """Active flags spread over the channels they cover (``channel_id, ts_from, ts_to,
        code, ...``)."""
        return quality.flag_coverage(self.conn, channel_ids, None, None)

    def add(self, station: str, start: datetime, end: datetime, code: str, reason: str,
            channel_ids: list[int]) -> list[int]:
        """Flag ``[start, end)`` on each channel (or the whole station with none)."""
        return [flags.add_flag(self.conn, station, start, end, code, reason=reason,
                               author=self.author, channel_id=channel_id)
                for channel_id in (channel_ids or [None])]

    def edit(self, flag_id: int, **changes) -> int:
        """Change a flag's period, code or reason; returns the new row's id."""
        return flags.edit_flag(self.conn, flag_id, author=self.author, **changes)

    def remove(self, flag_id: int) -> None:
        """Remove a flag (its row stays, marked removed)."""
        flags.remove_flag(self.conn, flag_id, author=self.author)


def import_upload(name: str, data: bytes, station: str | None, *, dsn: str | None = None):
    """Import uploaded bytes the way ``stationlab import`` imports a file; returns the
    :class:`stationlab.ingest.Outcome`. The file keeps its name (``files.name``)."""
    from stationlab import ingest

    with tempfile.TemporaryDirectory(prefix="stationlab-upload-") as folder:
        path = Path(folder) / Path(name).name
        path.write_bytes(data)
        outcome = ingest.import_paths([path], station=station or None, dsn=dsn,
                                      source="upload", progress=False)[0]
    logger.info("upload %s: %s", name, outcome.status)
    return outcome
