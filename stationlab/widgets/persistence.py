"""What the widgets write through by default: flags and uploads in the stationlab database.

Widgets take these as arguments, so tests and other deployments pass their own.
"""

from __future__ import annotations

import logging
from datetime import datetime

import polars as pl

from stationlab import flags, storage

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
        return storage.flags.flag_codes(self.conn)["code"].to_list()

    def list(self, station: str) -> pl.DataFrame:
        """The station's active flags."""
        return flags.list_flags(self.conn, station)

    def coverage(self, channel_ids: list[int]) -> pl.DataFrame:
        """Active flags spread over the channels they cover (``channel_id, ts_from, ts_to,
        code, ...``)."""
        return storage.flags.flag_coverage(self.conn, channel_ids, None, None)

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


def import_upload(name: str, data: bytes, station: str | None, *, dsn: str | None = None,
                  author: str | None = None):
    """Upload bytes through the same path as fetched files: the append-only raw store, the
    import queue, then a worker that imports what is queued. Returns the
    :class:`stationlab.ingest.Outcome` of the uploaded file (its first file, for an archive)."""
    from stationlab import fetch, ingest, worker
    from stationlab.flags import default_author

    received = fetch.upload_bytes(name, data, station=station or None,
                                  author=author or default_author(), dsn=dsn)
    if received and received[0].failed:
        return ingest.Outcome(name, "failed", error=received[0].error)
    if received and received[0].status == "already received" \
            and received[0].file_status == "imported":
        return ingest.Outcome(name, "already imported")
    report = worker.run_workers(1, dsn=dsn, progress=False)
    names = {item.name for item in received}
    mine = [o for o in report.outcomes if o.path in names] or report.outcomes
    outcome = mine[0] if mine else ingest.Outcome(name, "failed", error="nothing was queued")
    logger.info("upload %s: %s", name, outcome.status)
    return outcome
