"""Station health: when each logger last delivered data, how late it is, what failed.

The clock is passed in (``now``), so results are reproducible in tests and notebooks.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from stationlab.storage import catalog
from stationlab.storage import health as logger_records

#: A logger whose newest reading is older than this is quiet (files usually arrive daily).
QUIET_AFTER = timedelta(hours=26)


def logger_health(conn, now: datetime, *, quiet_after: timedelta = QUIET_AFTER) -> pl.DataFrame:
    """One row per logger: station, logger, model, serial_number, last_reading (newest stamp
    imported), last_file_at (newest file received), files_imported, files_failed, late_by
    (now - last_reading) and quiet (late_by > quiet_after, or no reading at all)."""
    table = catalog.logger_health(conn)
    late = pl.lit(now) - pl.col("last_reading")
    return table.with_columns(late.alias("late_by")).with_columns(
        (pl.col("late_by").is_null() | (pl.col("late_by") > quiet_after)).alias("quiet"))


def quiet_loggers(conn, now: datetime, *, quiet_after: timedelta = QUIET_AFTER) -> pl.DataFrame:
    """The loggers that have gone quiet (see :func:`logger_health`)."""
    return logger_health(conn, now, quiet_after=quiet_after).filter(pl.col("quiet"))


def failed_files(conn) -> pl.DataFrame:
    """Files that failed to import, oldest first, with the reason, line and column."""
    return catalog.failed_files(conn)


def recent_events(conn, *, limit: int = 50) -> pl.DataFrame:
    """The newest events loggers reported about themselves (NRG LOGR ``.log`` files)."""
    return logger_records.recent_events(conn, limit)


def supply_voltages(conn, now: datetime, *, window: timedelta = timedelta(days=30)
                    ) -> pl.DataFrame:
    """Supply voltages from logger diagnostics (NRG LOGR ``.diag`` files) over a window."""
    return logger_records.supply_voltages(conn, now - window)
