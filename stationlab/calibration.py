"""Sensor calibrations: list, add and correct certificates, and preview their effect.

A calibration maps a sensor's readings over ``[valid_from, valid_to)``:
``value = (raw - c_logger) / m_logger * slope + offset`` (see ``clean_readings()``). Raw readings
never change; a new or corrected calibration changes every derived value at once. Input is
checked here first, so a person gets a message about what to fix; the database checks again
(non-zero slope, no overlapping periods of one sensor).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime

import polars as pl

from stationlab import storage
from stationlab.errors import StationlabError
from stationlab.flags import default_author

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Calibration:
    """A calibration certificate as a person enters it.

    Parameters
    ----------
    slope
        Certificate slope. [unit of the reading per unit of the sensor's signal]
    offset
        Certificate offset. [unit of the reading]
    valid_from, valid_to
        The period it applies to; ``None`` is open-ended.
    """

    slope: float
    offset: float = 0.0
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    calibration_date: date | None = None
    certificate: str | None = None

    def checked(self) -> Calibration:
        """This calibration, or a :class:`StationlabError` saying what is wrong with it."""
        if self.slope is None or self.slope != self.slope:
            raise StationlabError("the calibration needs a slope")
        if self.slope == 0:
            raise StationlabError("a calibration slope of 0 would turn every reading into the "
                                  "offset; enter the certificate's slope")
        if self.offset is None or self.offset != self.offset:
            raise StationlabError("the calibration needs an offset (0 if the certificate has "
                                  "none)")
        start, end = _utc(self.valid_from), _utc(self.valid_to)
        if start is not None and end is not None and start >= end:
            raise StationlabError(f"the calibration's period ends ({end:%Y-%m-%d %H:%M}) before "
                                  f"it starts ({start:%Y-%m-%d %H:%M})")
        return Calibration(float(self.slope), float(self.offset), start, end,
                           self.calibration_date, self.certificate or None)

    def fields(self) -> dict:
        return {"slope": self.slope, "offset": self.offset, "valid_from": self.valid_from,
                "valid_to": self.valid_to, "calibration_date": self.calibration_date,
                "certificate": self.certificate}


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _overlap(table: pl.DataFrame, cal: Calibration, skip: int | None) -> dict | None:
    lo = cal.valid_from or datetime.min.replace(tzinfo=UTC)
    hi = cal.valid_to or datetime.max.replace(tzinfo=UTC)
    for row in table.iter_rows(named=True):
        if row["calibration_id"] == skip:
            continue
        start = row["valid_from"] or datetime.min.replace(tzinfo=UTC)
        end = row["valid_to"] or datetime.max.replace(tzinfo=UTC)
        if start < hi and lo < end:
            return row
    return None


def _period(row: dict) -> str:
    start = f"{row['valid_from']:%Y-%m-%d %H:%M}" if row["valid_from"] else "the beginning"
    end = f"{row['valid_to']:%Y-%m-%d %H:%M}" if row["valid_to"] else "open-ended"
    return f"{start} to {end}"


class CalibrationRepository:
    """Calibrations in the stationlab database, written as ``author``.

    Parameters
    ----------
    conn
        An autocommit connection (``stationlab.connect().conn``).
    author
        Who is changing calibrations; default ``$STATIONLAB_AUTHOR`` or the login name.
    """

    def __init__(self, conn, author: str | None = None) -> None:
        self.conn = conn
        self.author = author or default_author()

    def sensors(self, station: str | None = None) -> pl.DataFrame:
        """Sensors installed at ``station`` (or all), with where they served."""
        return storage.calibration.sensors(self.conn, station)

    def list(self, sensor_id: int) -> pl.DataFrame:
        """A sensor's calibration timeline, oldest first."""
        return storage.calibration.calibrations(self.conn, sensor_id)

    def history(self, sensor_id: int) -> pl.DataFrame:
        """Earlier versions of the sensor's calibrations, newest first, with who replaced each
        and when (see :func:`stationlab.storage.calibration.calibration_history`)."""
        return storage.calibration.calibration_history(self.conn, sensor_id)

    def _check(self, sensor_id: int, cal: Calibration, calibration_id: int | None):
        cal = cal.checked()
        table = self.list(sensor_id)
        if calibration_id is not None and calibration_id not in table["calibration_id"]:
            raise StationlabError(f"sensor {sensor_id} has no calibration {calibration_id}")
        clash = _overlap(table, cal, calibration_id)
        if clash is not None:
            raise StationlabError(
                f"the period overlaps calibration {clash['calibration_id']} ({_period(clash)}) "
                "of the same sensor; change the dates or correct that calibration first")
        return cal

    def add(self, sensor_id: int, cal: Calibration) -> int:
        """Add a calibration; returns its id."""
        cal = self._check(sensor_id, cal, None)
        new_id = storage.calibration.write_calibration(self.conn, sensor_id=sensor_id,
                                                       author=self.author, **cal.fields())
        logger.info("calibration %s of sensor %s added by %s", new_id, sensor_id, self.author)
        return new_id

    def correct(self, sensor_id: int, calibration_id: int, cal: Calibration) -> int:
        """Correct a calibration (slope, offset, period, certificate); returns its id."""
        cal = self._check(sensor_id, cal, calibration_id)
        storage.calibration.write_calibration(self.conn, sensor_id=sensor_id, author=self.author,
                                              calibration_id=calibration_id, **cal.fields())
        logger.info("calibration %s of sensor %s corrected by %s", calibration_id, sensor_id,
                    self.author)
        return calibration_id

    def channels(self, sensor_id: int) -> list[int]:
        """The channels whose values the sensor's calibrations change."""
        return storage.calibration.sensor_channels(self.conn, sensor_id)

    def preview(self, sensor_id: int, cal: Calibration, *, calibration_id: int | None = None,
                start: datetime | None = None, end: datetime | None = None) -> pl.DataFrame:
        """The sensor's clean readings before and after the change, which is not kept:
        ``channel_id, ts, raw, before, after``."""
        from stationlab.api import EARLIEST, LATEST

        cal = self._check(sensor_id, cal, calibration_id)
        ids = self.channels(sensor_id)
        start, end = _utc(start) or EARLIEST, _utc(end) or LATEST
        before = storage.clean.clean_readings(self.conn, ids, start, end, include_flagged=True)
        after = storage.calibration.preview_clean(
            self.conn, ids, start, end, {"sensor_id": sensor_id, "author": self.author,
                                         "calibration_id": calibration_id, **cal.fields()})
        return (before.select("channel_id", "ts", "raw", pl.col("value").alias("before"))
                .join(after.select("channel_id", "ts", pl.col("value").alias("after")),
                      on=["channel_id", "ts"], how="left"))
