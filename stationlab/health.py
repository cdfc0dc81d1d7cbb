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


def quiet_thresholds(conn, now: datetime, *, quiet_after: timedelta = QUIET_AFTER,
                     stations: dict[str, timedelta] | None = None) -> pl.DataFrame:
    """:func:`logger_health` with each station's own threshold (``stations``: station name ->
    threshold, others get ``quiet_after``) in ``threshold`` and ``quiet`` judged by it."""
    table = logger_health(conn, now, quiet_after=quiet_after)
    limits = pl.Series("threshold", [(stations or {}).get(s, quiet_after)
                                     for s in table["station"]], dtype=pl.Duration("us"))
    return table.with_columns(limits).with_columns(
        (pl.col("late_by").is_null() | (pl.col("late_by") > pl.col("threshold"))).alias("quiet"))


def check(conn, now: datetime, *, settings=None, quiet_after: timedelta = QUIET_AFTER,
          stations: dict[str, timedelta] | None = None, link: str | None = None,
          run_id: int | None = None) -> pl.DataFrame:
    """Judge every logger's freshness and raise an alert per newly quiet logger, once per
    incident (``logger_quiet:LOGGER_ID``); a logger that delivers again closes its incident.

    Parameters
    ----------
    settings
        :class:`stationlab.alerts.AlertSettings` (default: record the alert, send nothing).
    quiet_after
        A logger whose newest reading is older than this is quiet. [h as timedelta]
    stations
        Per-station thresholds overriding ``quiet_after``.
    link
        Link or path of the executed health notebook, put into the alert.

    Returns
    -------
    :func:`quiet_thresholds`'s table with ``alert_id`` (set where an alert was raised now).
    """
    from stationlab import alerts

    settings = settings or alerts.AlertSettings()
    table = quiet_thresholds(conn, now, quiet_after=quiet_after, stations=stations)
    raised = []
    for row in table.iter_rows(named=True):
        incident = f"logger_quiet:{row['logger_id']}"
        if not row["quiet"]:
            raised.append(None)
            continue
        last = (f"its newest reading is from {row['last_reading']:%Y-%m-%d %H:%M} UTC, "
                f"{_hours(row['late_by']):.0f} h before {now:%Y-%m-%d %H:%M} UTC"
                if row["last_reading"] else "it has delivered no readings yet")
        raised.append(alerts.raise_alert(
            conn, settings, incident=incident, kind="logger_quiet",
            subject=f"stationlab: logger {row['logger']} at {row['station']} is quiet",
            message=(f"Logger {row['logger']} ({row['model']} {row['serial_number']}) at "
                     f"station {row['station']} is quiet: {last}; the threshold is "
                     f"{_hours(row['threshold']):.0f} h. Check the logger's power and "
                     "communication, and the fetch job."),
            link=link, run_id=run_id))
    awake = [f"logger_quiet:{i}" for i in table.filter(~pl.col("quiet"))["logger_id"]]
    alerts.resolve(conn, awake)
    return table.with_columns(pl.Series("alert_id", raised, dtype=pl.Int64))


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600
