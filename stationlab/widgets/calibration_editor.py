"""CalibrationEditor: a sensor's calibration timeline, editable, with the effect on the data
shown before anything is saved."""

from __future__ import annotations

import logging

import holoviews as hv
import panel as pn
import param
import polars as pl

from stationlab.calibration import Calibration, CalibrationRepository
from stationlab.errors import StationlabError
from stationlab.widgets import _plots
from stationlab.widgets._notebook import action

logger = logging.getLogger(__name__)

TABLE_COLUMNS = ["calibration_id", "slope", "offset", "valid_from", "valid_to", "certificate",
                 "author", "created_at"]
EDITABLE = ("slope", "offset", "valid_from", "valid_to", "certificate")
HISTORY_COLUMNS = ["calibration_id", "slope", "offset", "valid_from", "valid_to", "certificate",
                   "author", "change", "replaced_by", "replaced_at"]
STAMPS = ("valid_from", "valid_to", "created_at", "replaced_at")


class CalibrationEditor(pn.viewable.Viewer):
    """Add or correct a sensor's calibration: enter it (or edit a row of the table), look at the
    before/after overlay, save. Invalid input is refused with a message.

    Parameters
    ----------
    repository
        A :class:`stationlab.calibration.CalibrationRepository` (or an object with its methods).
    station
        Offer only the sensors installed at this station.
    """

    sensor = param.Selector(objects={}, doc="The sensor whose calibrations are shown.")
    calibration_id = param.Integer(default=None, allow_None=True,
                                   doc="The calibration being corrected; None: a new one.")
    slope = param.Number(default=1.0, doc="Certificate slope.")
    offset = param.Number(default=0.0, doc="Certificate offset. [unit of the reading]")
    valid_from = param.Date(default=None, allow_None=True, doc="From (UTC); empty: always.")
    valid_to = param.Date(default=None, allow_None=True, doc="To (UTC), excluded; empty: open.")
    certificate = param.String(default="", doc="Certificate reference.")
    message = param.String(default="", doc="What happened, or what is wrong.")
    # in a notebook the slope typed just before Preview may come with the click: taken first
    preview = param.Action(action("show_preview"), label="Preview")
    save = param.Action(action("save_calibration"), label="Save calibration")
    new = param.Action(action("start_new"), label="New calibration")

    def __init__(self, repository: CalibrationRepository, station: str | None = None,
                 **params) -> None:
        self.repository = repository
        super().__init__(**params)
        sensors = repository.sensors(station)
        self._where = f" at station {station}" if station else ""
        self.param.sensor.objects = {
            f"{r['sensor_id']}: {r['sensor_type']} {r['serial_number']} ({r['points'] or '-'})":
            r["sensor_id"] for r in sensors.iter_rows(named=True)}
        self.timeline = pl.DataFrame()
        self.comparison = pl.DataFrame()
        self._table = pn.widgets.Tabulator(
            None, show_index=False, selectable=1, height=200, sizing_mode="stretch_width",
            editors={c: None for c in TABLE_COLUMNS if c not in EDITABLE})
        self._table.on_edit(self._on_edit)
        self._history = pn.widgets.Tabulator(None, show_index=False, disabled=True, height=150,
                                             sizing_mode="stretch_width")
        self._table.param.watch(self._on_select, "selection")
        self._overlay = pn.pane.HoloViews(self._overlay_plot(), sizing_mode="stretch_width")
        if self.sensor is None and sensors.height:
            self.sensor = sensors["sensor_id"][0]
        else:
            self._load()

    def _calibration(self) -> Calibration:
        return Calibration(self.slope, self.offset, self.valid_from, self.valid_to,
                           certificate=self.certificate or None)

    @param.depends("sensor", watch=True)
    def _load(self) -> None:
        if self.sensor is None:
            return
        self.timeline = self.repository.list(self.sensor)
        self._table.value = _naive(self.timeline.select(TABLE_COLUMNS)).to_pandas()
        self._history.value = _naive(self.repository.history(self.sensor)
                                     .select(HISTORY_COLUMNS)).to_pandas()
        self.start_new()

    def start_new(self) -> None:
        """Enter a new calibration (the form is cleared)."""
        self.param.update(calibration_id=None, slope=1.0, offset=0.0, valid_from=None,
                          valid_to=None, certificate="")

    def _fill(self, row: dict) -> None:
        self.param.update(calibration_id=int(row["calibration_id"]), slope=row["slope"],
                          offset=row["offset"], valid_from=row["valid_from"],
                          valid_to=row["valid_to"], certificate=row["certificate"] or "")

    def _on_select(self, event) -> None:
        if event.new:
            row = self.timeline.row(event.new[0], named=True)
            self._fill(row)

    def _on_edit(self, event) -> None:
        row = self._table.value.iloc[event.row].to_dict()
        row = {k: (None if _missing(v) else v) for k, v in row.items()}
        for key in ("valid_from", "valid_to"):
            if row[key] is not None:
                row[key] = _plots.as_utc(row[key])
        self._fill(row)
        self.show_preview()

    def show_preview(self) -> bool:
        """Show the sensor's data before and after the calibration in the form (not saved)."""
        try:
            self.comparison = self.repository.preview(self.sensor, self._calibration(),
                                                      calibration_id=self.calibration_id)
        except StationlabError as exc:
            self.message = f"Refused: {exc}"
            return False
        changed = self.comparison.filter(pl.col("before") != pl.col("after")).height
        self.message = (f"Preview: {changed:,} of {self.comparison.height:,} readings change. "
                        "Save to keep it.")
        self._overlay.object = self._overlay_plot()
        return True

    def save_calibration(self) -> int | None:
        """Add the calibration in the form, or correct the one picked; returns its id."""
        try:
            if self.calibration_id is None:
                saved = self.repository.add(self.sensor, self._calibration())
            else:
                saved = self.repository.correct(self.sensor, self.calibration_id,
                                                self._calibration())
        except StationlabError as exc:
            self.message = f"Refused: {exc}"
            return None
        self._load()
        self.message = f"Saved calibration {saved}."
        return saved

    def _overlay_plot(self):
        frame = self.comparison
        if frame.is_empty():
            return hv.Curve([], _plots.TIME, "value").opts(
                responsive=True, height=300,
                title="Preview: before / after (press Preview to draw the sensor's readings)")
        first = frame["channel_id"].min()
        one = frame.filter(pl.col("channel_id") == first).sort("ts")
        ts = _plots.naive_utc(one["ts"])
        before = hv.Curve((ts, one["before"].to_numpy()), _plots.TIME, "value", label="before")
        after = hv.Curve((ts, one["after"].to_numpy()), _plots.TIME, "value", label="after")
        return _plots.downsampled(hv.DynamicMap(lambda: before * after)).opts(
            hv.Options("Curve", responsive=True, height=300, tools=["hover"]),
            hv.Options("Overlay", title=f"Preview for channel {first}: before / after"))

    def __panel__(self):
        if not self.param.sensor.objects:
            return pn.pane.Markdown(
                f"No sensors are recorded{self._where}, so there is no calibration to edit: "
                "calibrations belong to sensors (by serial number) installed at measurement "
                "points. Import the station's metadata with its sensors and calibration "
                "certificates (`stationlab meta import FILE.json`, an IEA Task 43 document), "
                "then open this again.", css_classes=["calibration-message"],
                sizing_mode="stretch_width")
        form = pn.Column(
            pn.widgets.Select.from_param(self.param.sensor),
            pn.widgets.FloatInput.from_param(self.param.slope),
            pn.widgets.FloatInput.from_param(self.param.offset),
            pn.widgets.DatetimeInput.from_param(self.param.valid_from, label="Valid from (UTC)"),
            pn.widgets.DatetimeInput.from_param(self.param.valid_to, label="Valid to (UTC)"),
            pn.widgets.TextInput.from_param(self.param.certificate),
            pn.Row(pn.widgets.Button.from_param(self.param.preview),
                   pn.widgets.Button.from_param(self.param.save, color="primary")),
            pn.widgets.Button.from_param(self.param.new), width=320)
        status = pn.pane.Markdown(self.param.message, css_classes=["calibration-message"])
        history = pn.Column(pn.pane.Markdown("Earlier versions (corrected or removed)"),
                            self._history, sizing_mode="stretch_width")
        return pn.Row(form, pn.Column(self._table, status, self._overlay, history,
                                      sizing_mode="stretch_width"), sizing_mode="stretch_width")


def _naive(frame: pl.DataFrame) -> pl.DataFrame:
    """Stamps as naive UTC, as the tables show them."""
    return frame.with_columns(pl.col(c).dt.replace_time_zone(None)
                              for c in STAMPS if c in frame.columns)


def _missing(value) -> bool:
    try:
        return value is None or value != value
    except (TypeError, ValueError):
        return False

