"""FlagEditor: select a period on a plot of a station's channels, and flag it."""

from __future__ import annotations

import logging
from datetime import datetime

import holoviews as hv
import panel as pn
import param
import polars as pl

from stationlab.errors import StationlabError
from stationlab.storage.flags import FLAG_LIST_SCHEMA
from stationlab.widgets import _plots
from stationlab.widgets._notebook import action
from stationlab.widgets.persistence import FlagRepository

logger = logging.getLogger(__name__)

#: Columns of the flags table.
TABLE_COLUMNS = ["flag_id", "ts_from", "ts_to", "code", "reason", "author", "source",
                 "channel_point_name", "statistic", "point_name", "created_at"]


class FlagEditor(pn.viewable.Viewer):
    """Flag periods of a station's channels: drag a range on the plot (x-box select), choose a
    code, give a reason, save; pick a flag in the table to change or remove it.

    Parameters
    ----------
    client
        A :class:`stationlab.api.Client` the readings are read from.
    repository
        Where flags are read and written (default :class:`FlagRepository` on the client's
        connection, written as ``$STATIONLAB_AUTHOR`` or the login name).
    """

    station = param.Selector(objects=[], doc="The station shown.")
    channels = param.ListSelector(default=[], objects=[], doc="Channels plotted and flagged.")
    start = param.Date(default=None, doc="Start of the selected period (UTC).")
    end = param.Date(default=None, doc="End of the selected period, excluded (UTC).")
    code = param.Selector(objects=[], doc="Flag code.")
    reason = param.String(default="", doc="Why the period is flagged.")
    selected_flag = param.Integer(default=None, allow_None=True,
                                  doc="The flag picked in the table (to change or remove).")
    message = param.String(default="", doc="What the last action did, or what went wrong.")
    # in a notebook the reason typed just before Save may come with the click: taken first
    save = param.Action(action("save_flag"), label="Save flag")
    change = param.Action(action("update_flag"), label="Change selected flag")
    remove = param.Action(action("remove_flag"), label="Remove selected flag")
    refresh = param.Action(action("reload"), label="Refresh",
                           doc="Read the flags again (others may have added some).")
    revision = param.Integer(default=0, precedence=-1, doc="Bumped whenever flags change.")

    def __init__(self, client, repository: FlagRepository | None = None, **params) -> None:
        self.client = client
        self.repository = repository or FlagRepository(client.conn)
        super().__init__(**params)
        stations = client.stations()
        self.param.station.objects = stations
        codes = self.repository.codes()
        self.param.code.objects = codes
        self.code = self.code or ("bad" if "bad" in codes else codes[0])
        self.flags = pl.DataFrame(schema=FLAG_LIST_SCHEMA)
        self.coverage = self.repository.coverage([])
        self._frame = pl.DataFrame()
        self._channel_ids: dict[str, int] = {}
        if self.station is None and stations:
            self.station = stations[0]
        else:
            self._load_station()
        self.bounds = hv.streams.BoundsX(source=None)
        self._build()

    # --- state -------------------------------------------------------------------------------
    @param.depends("station", watch=True)
    def _load_station(self) -> None:
        if self.station is None:
            return
        table = self.client.station(self.station).channels().filter(pl.col("kind") == "number")
        self._channel_ids = dict(zip(table["name"], table["channel_id"], strict=True))
        names = table["name"].to_list()
        self.param.channels.objects = names
        wanted = [n for n in self.channels if n in names] or names[:1]
        if wanted == self.channels:
            self._load_data()
        else:
            self.channels = wanted

    @param.depends("channels", watch=True)
    def _load_data(self) -> None:
        station = self.client.station(self.station)
        self._frame = (station.readings(channels=self.channels, include_flagged=True)
                       if self.channels else pl.DataFrame())
        self._refresh_flags()

    def _refresh_flags(self) -> None:
        self.flags = self.repository.list(self.station)
        ids = [self._channel_ids[n] for n in self.channels]
        self.coverage = self.repository.coverage(ids)
        self.revision += 1

    def _on_bounds(self, boundsx=None) -> None:
        if boundsx is None:
            return
        start, end = (_plots.as_utc(b) for b in boundsx)
        self.param.update(start=_plots.to_minute(start), end=_plots.to_minute(end))

    @param.depends("selected_flag", watch=True)
    def _pick(self) -> None:
        if self.selected_flag is None:
            return
        row = self.flags.filter(pl.col("flag_id") == self.selected_flag)
        if row.is_empty():
            return
        row = row.row(0, named=True)
        self.param.update(start=row["ts_from"], end=row["ts_to"], code=row["code"],
                          reason=row["reason"] or "")

    # --- actions -----------------------------------------------------------------------------
    def _period(self) -> tuple[datetime, datetime]:
        if self.start is None or self.end is None:
            raise StationlabError("select a period first: drag across the plot with the "
                                  "x-box select tool, or enter start and end")
        start, end = _plots.as_utc(self.start), _plots.as_utc(self.end)
        if start >= end:
            raise StationlabError(f"the period ends ({end:%Y-%m-%d %H:%M}) before it starts "
                                  f"({start:%Y-%m-%d %H:%M})")
        return start, end

    def _attempt(self, action, done: str, refused: str = "Not saved") -> bool:
        """Run ``action``; the message says what it did, or why the database refused it (e.g.
        the role may not remove someone else's flag)."""
        try:
            action()
        except StationlabError as exc:
            self.message = f"{refused}: {exc}"
            return False
        self.message = done
        self._refresh_flags()
        return True

    def reload(self) -> None:
        """Read the station's flags again: what others saved since shows on the plot and in
        the table."""
        self._refresh_flags()
        self.message = f"{self.flags.height} flag(s) on {self.station}, as of now"

    def save_flag(self) -> list[int] | None:
        """Flag the selected period on the chosen channels; returns the new flags' ids (None
        if refused: the message says why)."""
        def action():
            if not self.reason.strip():
                raise StationlabError("write a reason, so others know why the period is flagged")
            start, end = self._period()
            self._saved = self.repository.add(self.station, start, end, self.code,
                                              self.reason.strip(),
                                              [self._channel_ids[n] for n in self.channels])
        self._saved = None
        self._attempt(action, f"Flagged {self.code} on {len(self.channels) or 'all'} "
                              "channel(s)")
        return self._saved

    def update_flag(self) -> None:
        """Change the flag picked in the table to the period, code and reason shown."""
        def action():
            if self.selected_flag is None:
                raise StationlabError("pick a flag in the table first")
            start, end = self._period()
            self.selected_flag = self.repository.edit(
                self.selected_flag, ts_from=start, ts_to=end, code=self.code,
                reason=self.reason.strip())
        self._attempt(action, "Flag changed (the old version is kept in the history)",
                      "Not changed")

    def remove_flag(self) -> None:
        """Remove the flag picked in the table (its history stays)."""
        def action():
            if self.selected_flag is None:
                raise StationlabError("pick a flag in the table first")
            self.repository.remove(self.selected_flag)
            self.selected_flag = None
        self._attempt(action, "Flag removed (kept in the history)", "Not removed")

    # --- view --------------------------------------------------------------------------------
    def _curves(self, revision=None, channels=None):
        return _plots.curves(self._frame, list(self.channels)) if not self._frame.is_empty() \
            else _plots.curves(pl.DataFrame(), [])

    def _spans(self, revision=None):
        return _plots.flag_spans(self.coverage)

    def plot(self) -> hv.DynamicMap:
        """The plot: curves (downsampled) with the flags shaded, x-box select active."""
        return self._plot

    def shown(self) -> tuple[dict[str, hv.Curve], hv.VSpans]:
        """What the plot holds now: the curves drawn (after downsampling) by channel, and the
        flag bands."""
        overlay = self._plot[()]
        curves = {}
        for layer in overlay:
            if isinstance(layer, hv.NdOverlay):
                curves.update({key[0]: curve for key, curve in layer.data.items()})
            elif isinstance(layer, hv.VSpans):
                spans = layer
        return curves, spans

    def _build(self) -> None:
        revision = hv.streams.Params(self, ["revision"])
        data = hv.DynamicMap(self._curves, streams=[revision])
        shown = _plots.downsampled(data).opts(
            hv.Options("Curve", tools=["xbox_select", "hover"], active_tools=["xbox_select"],
                          responsive=True, height=380))
        self.bounds.source = shown
        self.bounds.add_subscriber(self._on_bounds)
        spans = hv.DynamicMap(self._spans, streams=[revision])
        self._plot = (spans * shown).opts(hv.Options(
            "Overlay", responsive=True, height=380, legend_position="right",
            xlabel="time [UTC]", ylabel="value (calibrated)"))
        self._table = pn.widgets.Tabulator(
            self._table_frame(), disabled=True, selectable=1, show_index=False,
            height=220, sizing_mode="stretch_width", label="flags")
        self._table.param.watch(self._on_table_select, "selection")
        self.param.watch(lambda _: setattr(self._table, "value", self._table_frame()),
                         "revision")

    def _table_frame(self):
        return self.flags.select(TABLE_COLUMNS).with_columns(
            pl.col("ts_from", "ts_to", "created_at").dt.replace_time_zone(None)).to_pandas()

    def _on_table_select(self, event) -> None:
        if event.new:
            self.selected_flag = int(self._table.value.iloc[event.new[0]]["flag_id"])

    def __panel__(self):
        controls = pn.Column(
            pn.widgets.Select.from_param(self.param.station),
            pn.widgets.MultiChoice.from_param(self.param.channels),
            pn.widgets.DatetimeInput.from_param(self.param.start, label="From (UTC)"),
            pn.widgets.DatetimeInput.from_param(self.param.end, label="To (UTC)"),
            pn.widgets.Select.from_param(self.param.code),
            pn.widgets.TextInput.from_param(self.param.reason, placeholder="why"),
            pn.widgets.Button.from_param(self.param.save, color="primary"),
            pn.widgets.Button.from_param(self.param.change),
            pn.widgets.Button.from_param(self.param.remove, color="danger"),
            pn.widgets.Button.from_param(self.param.refresh),
            width=300)
        status = pn.pane.Markdown(self.param.message, css_classes=["flag-message"])
        # linked_axes off: one plot, nothing to link, and Panel's linking cannot compare the
        # ends of a range that flags reaching past the last reading end with a pandas Timestamp
        plot = pn.pane.HoloViews(self._plot, sizing_mode="stretch_width", linked_axes=False)
        return pn.Row(controls, pn.Column(plot, status, self._table, sizing_mode="stretch_width"),
                      sizing_mode="stretch_width")
