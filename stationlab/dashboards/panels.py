"""The dashboards: station health, data recovery, station explorer, weekly reports.

Each is a :class:`panel.viewable.Viewer` over a :class:`stationlab.api.Client`; the clock is
passed in where it matters (``now``), so a test sees what a person would see on that day.
"""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime, timedelta

import holoviews as hv
import numpy as np
import panel as pn
import param
import polars as pl

from stationlab import health
from stationlab.widgets import _plots

logger = logging.getLogger(__name__)

#: Supply voltage shown for this long before each station's newest reading.
VOLTAGE_WINDOW = timedelta(days=30)
#: Wind rose: sectors and speed bins. [m/s]
SECTORS = 16
SPEED_BINS = (0.0, 4.0, 8.0, 12.0, 16.0)
SPEED_COLORS = ("#c6dbef", "#6baed6", "#3182bd", "#08519c", "#08306b")
#: Sensor states on the health page.
STATE_COLORS = {"failed": "#f8d7da", "suspect": "#fff3cd", "ok": ""}
#: A sensor's plot starts this long before its fault.
SENSOR_PLOT_BEFORE = timedelta(days=2)


def _naive(frame: pl.DataFrame) -> pl.DataFrame:
    """Aware timestamps to naive UTC (for tables and Bokeh axes)."""
    return frame.with_columns(pl.col(pl.Datetime("us", "UTC")).dt.replace_time_zone(None))


class StationHealth(pn.viewable.Viewer):
    """Every logger's last reading and last file, how late it is, import failures and supply
    voltage; quiet loggers are listed first, in red."""

    quiet_after = param.Number(default=health.QUIET_AFTER.total_seconds() / 3600, bounds=(1, None),
                               doc="A logger is quiet after this long without data. [h]")

    def __init__(self, client, now: datetime | None = None, **params) -> None:
        super().__init__(**params)
        self.client = client
        self.now = now or datetime.now(UTC)

    def loggers(self) -> pl.DataFrame:
        """The health table (see :func:`stationlab.health.logger_health`)."""
        with self.client.reading() as conn:
            table = health.logger_health(conn, self.now,
                                         quiet_after=timedelta(hours=self.quiet_after))
        return table.with_columns(
            (pl.col("late_by").dt.total_minutes() / 60).round(1).alias("late_h"),
            pl.when(pl.col("quiet")).then(pl.lit("QUIET")).otherwise(pl.lit("ok"))
            .alias("state")).sort("quiet", "late_h", descending=True, nulls_last=False)

    def voltage(self, station: str, last: datetime | None) -> hv.Overlay | None:
        """Supply voltage channels of a station over the window before its newest reading."""
        if last is None:
            return None
        mast = self.client.station(station)
        frame = mast.readings(types=["voltage"], start=last - VOLTAGE_WINDOW,
                              end=last + timedelta(seconds=1), clean=False)
        if frame.is_empty():
            return None
        names = frame["name"].unique(maintain_order=True).to_list()
        # one channel is named in the title (a legend inside the plot covers its points),
        # several in a legend beside it
        title = f"{station}: supply voltage [V]" + (f", {names[0]}" if len(names) == 1 else "")
        return _plots.curves(frame, names, "supply voltage [V]").opts(
            hv.Options("Curve", responsive=True, height=220, tools=["hover"]),
            hv.Options("NdOverlay", title=title, legend_position="right",
                       show_legend=len(names) > 1))

    @param.depends("quiet_after")
    def _view(self):
        table = self.loggers()
        quiet = table.filter(pl.col("quiet"))
        banner = pn.pane.Alert(
            "All loggers delivered data recently." if quiet.is_empty() else
            "**Quiet:** " + "; ".join(
                f"{r['station']} / {r['logger']} (last reading "
                + (f"{r['last_reading']:%Y-%m-%d %H:%M}, {r['late_h']:,.0f} h late)"
                   if r["last_reading"] else "never)")
                for r in quiet.iter_rows(named=True)),
            alert_type="success" if quiet.is_empty() else "danger",
            css_classes=["health-banner"], sizing_mode="stretch_width")
        shown = _naive(table.select("state", "station", "logger", "model", "serial_number",
                                    "last_reading", "last_file_at", "late_h",
                                    "files_imported", "files_failed"))
        loggers = pn.widgets.Tabulator(shown.to_pandas(), disabled=True, show_index=False,
                                       sizing_mode="stretch_width")
        loggers.style.apply(lambda row: ["background-color: #f8d7da; font-weight: bold"
                                         if row["state"] == "QUIET" else "" for _ in row],
                            axis=1)
        with self.client.reading() as conn:
            failed = _naive(health.failed_files(conn))
        failures = (pn.pane.Markdown("No import failures.") if failed.is_empty() else
                    pn.widgets.Tabulator(failed.to_pandas(), disabled=True, show_index=False,
                                         sizing_mode="stretch_width"))
        last = table.group_by("station").agg(pl.col("last_reading").max()).sort("station")
        # each station's own period: linked axes would stretch a day of one station over the
        # years of all of them (an invisible sliver)
        voltages = [pn.pane.HoloViews(plot, sizing_mode="stretch_width", linked_axes=False)
                    for row in last.iter_rows() if (plot := self.voltage(*row)) is not None]
        with self.client.reading() as conn:
            events = _naive(health.recent_events(conn))
        event_table = (pn.pane.Markdown("No logger events.") if events.is_empty() else
                       pn.widgets.Tabulator(events.to_pandas(), disabled=True, show_index=False,
                                            sizing_mode="stretch_width", page_size=10,
                                            pagination="local"))
        diagnostics = self.diagnostic_voltages()
        if diagnostics is not None:
            voltages.append(pn.pane.HoloViews(diagnostics, sizing_mode="stretch_width",
                                              linked_axes=False))
        return pn.Column(
            banner, "### Loggers", loggers, "### Import failures", failures,
            "### Logger events", event_table,
            "### Supply voltage", *(voltages or [pn.pane.Markdown("No supply voltage channels.")]),
            "### Sensors", self.sensor_view(),
            "### Weekly reports", self.report_links(),
            sizing_mode="stretch_width")

    def report_links(self) -> pn.pane.Markdown:
        """Each station's newest weekly report, one click away (the ``report`` page)."""
        return pn.pane.Markdown(report_links_markdown(self.client.conn),
                                css_classes=["report-links"])

    def sensors(self) -> pl.DataFrame:
        """Every station's sensor health (:func:`stationlab.health.sensor_health`), failed
        first, then suspect; windows end at each station's newest reading."""
        names = self.client.stations()
        with self.client.reading() as conn:
            tables = [health.sensor_health(conn, name) for name in names]
        table = pl.concat(tables) if tables else pl.DataFrame(schema=health.HEALTH_SCHEMA)
        rank = pl.col("state").replace_strict({"failed": 0, "suspect": 1, "ok": 2},
                                              return_dtype=pl.Int8)
        return table.sort(rank, "station", maintain_order=True)

    def sensor_plot(self, station: str, channel_id: int, since: datetime | None,
                    window_to: datetime) -> hv.Overlay:
        """A sensor's readings over the days around its fault, with the flags covering it drawn
        as bands (coloured by code)."""
        start = (since or window_to) - SENSOR_PLOT_BEFORE
        end = window_to + timedelta(seconds=1)
        mast = self.client.station(station)
        frame = mast.readings(channels=[channel_id], start=start, end=end, clean=False)
        names = frame["name"].unique(maintain_order=True).to_list()
        meta = mast.channels().filter(pl.col("channel_id") == channel_id).row(0, named=True)
        flags = mast.flags(start=start, end=end).filter(
            (pl.col("channel_id").is_null() | (pl.col("channel_id") == channel_id))
            & (pl.col("measurement_point_id").is_null()
               | (pl.col("measurement_point_id") == meta["measurement_point_id"])))
        plot = _plots.curves(frame, names or [meta["name"]], meta["name"])
        if flags.height:
            plot = _plots.flag_spans(flags) * plot
        # the axes named here: the flag bands, drawn first, would name x by their own x0
        return plot.opts(hv.Options("Curve", responsive=True, height=260, tools=["hover"])).opts(
            title=f"{station}: {meta['name']} with its flags", xlabel="time [UTC]",
            ylabel=meta["name"])

    def sensor_view(self) -> pn.Column:
        """The sensor table (state coloured, reason, since) and, one click on a row away, that
        sensor's plot with its flags (the first failed sensor's at first)."""
        table = self.sensors()
        shown = _naive(table.select(
            "state", "station", "name", "reason", "since",
            (pl.col("recovery_day") * 100).round(1).alias("recovery_day_%"),
            (pl.col("coverage_day") * 100).round(1).alias("coverage_day_%"),
            "channel_id", "window_to"))
        widget = pn.widgets.Tabulator(shown.to_pandas(), disabled=True, show_index=False,
                                      sizing_mode="stretch_width", page_size=15,
                                      pagination="local", css_classes=["sensor-table"],
                                      hidden_columns=["channel_id", "window_to"])
        widget.style.apply(lambda row: [f"background-color: {STATE_COLORS[row['state']]}"
                                        for _ in row], axis=1)
        plot = pn.Column(sizing_mode="stretch_width", css_classes=["sensor-plot"])

        def show(index: int) -> None:
            row = table.row(index, named=True)
            plot[:] = [pn.pane.Markdown(f"**{row['name']}** at {row['station']}: "
                                        f"{row['state']}" + (f", {row['reason']}"
                                                             if row["reason"] else "")),
                       pn.pane.HoloViews(self.sensor_plot(row["station"], row["channel_id"],
                                                          row["since"], row["window_to"]),
                                         sizing_mode="stretch_width", linked_axes=False)]

        widget.on_click(lambda event: show(event.row))
        if table.height and table["state"][0] != "ok":
            show(0)
        else:
            plot[:] = [pn.pane.Markdown("Every sensor is ok; click a row to plot it.")]
        self._sensor_show = show
        return pn.Column(widget, plot, sizing_mode="stretch_width")

    def diagnostic_voltages(self) -> hv.Overlay | None:
        """Voltages loggers report in their diagnostics files, per logger and quantity."""
        with self.client.reading() as conn:
            frame = _naive(health.supply_voltages(conn, self.now or datetime.now(UTC),
                                                  window=timedelta(days=3650)))
        if frame.is_empty():
            return None
        curves = {f"{k[0]} {k[1]} {k[2]}": hv.Curve(g.select("ts", "value").to_pandas(),
                                                     "ts", "value")
                  for k, g in frame.group_by("station", "logger", "name", maintain_order=True)}
        return hv.NdOverlay(curves, kdims="series").opts(
            hv.opts.Curve(responsive=True, height=250, tools=["hover"]),
            hv.opts.NdOverlay(title="Logger diagnostics: voltages [V]"))

    def __panel__(self):
        return pn.Column(pn.widgets.FloatInput.from_param(self.param.quiet_after, width=220),
                         self._view, sizing_mode="stretch_width")


class DataRecovery(pn.viewable.Viewer):
    """Data recovery per channel and month, raw beside clean (flagged readings left out)."""

    station = param.Selector(objects=[])

    def __init__(self, client, **params) -> None:
        super().__init__(**params)
        self.client = client
        self.param.station.objects = client.stations()
        if self.station is None and self.param.station.objects:
            self.station = self.param.station.objects[0]

    def recovery(self, clean: bool) -> pl.DataFrame:
        """``month`` (YYYY-MM), ``name``, ``recovery`` (percent) for the station."""
        monthly = self.client.station(self.station).monthly(clean=clean)
        return monthly.select(pl.col("month").dt.strftime("%Y-%m"), "name",
                              (pl.col("recovery") * 100).round(1).alias("recovery"))

    def heatmap(self, clean: bool) -> hv.HeatMap:
        frame = self.recovery(clean)
        title = "clean (flagged readings left out)" if clean else "raw"
        return hv.HeatMap((frame["month"].to_list(), frame["name"].to_list(),
                           frame["recovery"].to_numpy()), ["month", "channel"],
                          "recovery").opts(
            cmap="RdYlGn", clim=(0, 100), colorbar=True, tools=["hover"], title=title,
            height=max(300, 22 * frame["name"].n_unique() + 80), width=520,
            xrotation=45, invert_yaxis=True)

    @param.depends("station")
    def _view(self):
        if self.station is None:
            return pn.pane.Markdown("No stations yet.")
        return pn.pane.HoloViews(self.heatmap(False) + self.heatmap(True))

    def __panel__(self):
        return pn.Column(pn.widgets.Select.from_param(self.param.station, width=300),
                         self._view)


class StationExplorer(pn.viewable.Viewer):
    """A station's wind speeds with flags, a wind rose and monthly means for a chosen period."""

    station = param.Selector(objects=[])
    period = param.DateRange(default=None, doc="Period shown (UTC); end excluded.")

    def __init__(self, client, **params) -> None:
        super().__init__(**params)
        self.client = client
        stations = client.stations()
        self.param.station.objects = stations
        if self.station is None and stations:
            # the first station with anemometers, so that the page opens on something to see
            self.station = next((s for s in stations if self._has_speeds(s)), stations[0])
        else:
            self._reset_period()

    def _has_speeds(self, station: str) -> bool:
        channels = self.client.station(station).channels()
        return not channels.filter((pl.col("measurement_type") == "wind_speed")
                                   & (pl.col("statistic") == "avg")).is_empty()

    @param.depends("station", watch=True)
    def _reset_period(self) -> None:
        speeds = self._speeds(None)
        if speeds.is_empty():  # nothing to choose from; the view says so
            return
        first, last = speeds["ts"].min(), speeds["ts"].max()
        self.period = (first.replace(tzinfo=None),
                       (last + timedelta(minutes=10)).replace(tzinfo=None))

    def _speeds(self, period) -> pl.DataFrame:
        start, end = period or (None, None)
        return self.client.station(self.station).readings(
            types=["wind_speed", "wind_direction"], statistics=["avg"], start=start, end=end,
            include_flagged=True)

    def series(self, frame: pl.DataFrame) -> hv.Overlay:
        speeds = frame.filter(pl.col("measurement_type") == "wind_speed")
        names = speeds["name"].unique(maintain_order=True).to_list()
        ids = speeds["channel_id"].unique().to_list()
        start, end = self.period or (None, None)
        flags = self.client.station(self.station).flags(start=start, end=end)
        covered = flags.filter(pl.col("channel_id").is_in(ids) | pl.col("channel_id").is_null())
        curves = _plots.downsampled(hv.DynamicMap(lambda: _plots.curves(speeds, names)))
        return (_plots.flag_spans(covered) * curves).opts(
            hv.Options("Curve", responsive=True, height=320, tools=["hover"]),
            hv.Options("Overlay", title="Wind speed (avg) with flags", responsive=True,
                       xlabel="time [UTC]", ylabel="wind speed [m/s]",
                       height=320, legend_position="right"))

    def rose(self, frame: pl.DataFrame):
        """Wind rose of the highest speed and direction channels: frequency [%] per sector,
        stacked by speed bin."""
        from bokeh.models import Title
        from bokeh.plotting import figure

        pick, used = {}, {}
        for kind in ("wind_speed", "wind_direction"):
            part = frame.filter(pl.col("measurement_type") == kind)
            if part.is_empty():
                return pn.pane.Markdown("No wind speed and direction to draw a wind rose.")
            top = part.sort("height_m", descending=True, nulls_last=True)["name"][0]
            pick[kind] = part.filter(pl.col("name") == top).select(
                "ts", pl.col("value").alias(kind))
            used[kind] = top
        both = pick["wind_speed"].join(pick["wind_direction"], on="ts").drop_nulls()
        width = 360 / SECTORS
        sector = ((both["wind_direction"].to_numpy() + width / 2) // width % SECTORS)
        speed_bin = np.digitize(both["wind_speed"].to_numpy(), SPEED_BINS) - 1
        counts = np.zeros((SECTORS, len(SPEED_BINS)))
        np.add.at(counts, (sector.astype(int), speed_bin.clip(0)), 1)
        share = counts / max(len(both), 1) * 100
        plot = figure(width=500, height=410, title="Wind rose [% of time]", x_range=(-1.1, 1.1),
                      y_range=(-1.1, 1.1), toolbar_location=None)
        plot.add_layout(Title(text=f"{used['wind_speed']} by {used['wind_direction']}",
                              text_font_size="8pt", text_font_style="normal"), "above")
        plot.axis.visible = plot.grid.visible = False
        outer = share.sum(axis=1).max() or 1
        angles = np.pi / 2 - np.radians(np.arange(SECTORS) * width)  # north up, clockwise
        inner = np.zeros(SECTORS)
        for b, color in enumerate(SPEED_COLORS):
            top = inner + share[:, b] / outer * 0.95
            low = SPEED_BINS[b]
            label = f">= {low:g} m/s" if b == len(SPEED_BINS) - 1 else \
                f"{low:g}-{SPEED_BINS[b + 1]:g} m/s"
            plot.annular_wedge(0, 0, inner, top, angles - np.radians(width / 2),
                               angles + np.radians(width / 2), color=color,
                               line_color="white", legend_label=label)
            inner = top
        # rings at whole percentages of time, labelled; the compass points outside
        rings = [p for p in np.unique(np.round(np.linspace(0, outer, 4)[1:])) if p > 0]
        for pct in rings:
            radius = pct / outer * 0.95
            plot.circle(0, 0, radius=radius, fill_color=None, line_color="#bbbbbb")
            plot.text(radius * 0.71, radius * 0.71, text=[f"{pct:g} %"], text_font_size="7pt",
                      text_color="#666666")
        plot.text([0, 1.04, 0, -1.04], [1.02, 0, -1.06, 0], text=["N", "E", "S", "W"],
                  text_align="center", text_baseline="middle", text_font_size="9pt")
        plot.legend.label_text_font_size = "8pt"
        plot.add_layout(plot.legend[0], "right")  # beside the rose, covering no sector
        return pn.pane.Bokeh(plot)

    def monthly_means(self) -> pl.DataFrame:
        """Clean monthly means of the wind speed channels in the period."""
        start, end = self.period or (None, None)
        monthly = self.client.station(self.station).monthly(
            types=["wind_speed"], statistics=["avg"], start=start, end=end, clean=True)
        return (monthly.select(pl.col("month").dt.strftime("%Y-%m"), "name",
                               pl.col("mean").round(2), pl.col("n"))
                .sort("month", "name"))

    @param.depends("station", "period")
    def _view(self):
        if self.station is None:
            return pn.pane.Markdown("No stations yet: import logger files (`stationlab import "
                                    "PATH`), then reload this page.")
        if not self._has_speeds(self.station):
            return pn.pane.Markdown(
                f"**{self.station}** has no wind speed channel (mean values), so there is "
                "nothing to draw here: the explorer shows wind speed with its flags, a wind rose "
                "and monthly means. Choose a station with anemometers above, or import this "
                f"station's anemometer files (`stationlab import PATH --station {self.station}`)"
                f". The data recovery page shows what {self.station} holds.",
                css_classes=["explorer-message"])
        frame = self._speeds(self.period)
        if frame.filter(pl.col("measurement_type") == "wind_speed").is_empty():
            start, end = self.period or (None, None)
            return pn.pane.Markdown(
                f"No wind speed readings of **{self.station}** between {start:%Y-%m-%d %H:%M} "
                f"and {end:%Y-%m-%d %H:%M} UTC: choose another period.",
                css_classes=["explorer-message"])
        means = self.monthly_means()
        return pn.Column(
            pn.pane.HoloViews(self.series(frame), sizing_mode="stretch_width",
                              linked_axes=False),  # as in the FlagEditor
            pn.Row(self.rose(frame),
                   pn.Column("### Monthly means (clean)",
                             pn.widgets.Tabulator(means.to_pandas(), disabled=True,
                                                  show_index=False, width=520))),
            sizing_mode="stretch_width")

    def __panel__(self):
        return pn.Column(
            pn.Row(pn.widgets.Select.from_param(self.param.station, width=300),
                   # start/end given: the widget needs them when the period is empty
                   pn.widgets.DatetimeRangeInput.from_param(self.param.period, start=None,
                                                            end=None)),
            self._view, sizing_mode="stretch_width")


def report_links_markdown(conn) -> str:
    """Markdown: a link per station to its newest weekly report (``./report?station=NAME``)."""
    from urllib.parse import quote

    from stationlab import storage

    reports = storage.reports.latest_reports(conn)
    if reports.is_empty():
        return ("No weekly report yet: the scheduled `report` job makes them "
                "(`stationlab pipelines run report`).")
    return "\n".join(
        f"- [{r['station']}: the week to {r['week_to']:%Y-%m-%d %H:%M} UTC]"
        f"(./report?station={quote(r['station'])}) made {r['made_at']:%Y-%m-%d %H:%M} UTC, "
        + (f"sent to {', '.join(r['sent_to'])}" if r["sent_to"] else
           (r["send_error"] or "sent to nobody (no subscriber)"))
        for r in reports.iter_rows(named=True))


class StationReport(pn.viewable.Viewer):
    """A station's newest weekly report as it was sent (its HTML, in a frame), with links to
    every station's newest one; ``station`` comes from the page's ``?station=`` argument."""

    station = param.String(default="", doc="The station whose report is shown.")

    def __init__(self, client, **params) -> None:
        super().__init__(**params)
        self.client = client

    def report(self) -> dict | None:
        """The newest report of :attr:`station` (or of the first station with one)."""
        from stationlab import storage

        table = storage.reports.latest_reports(self.client.conn, self.station or None)
        return table.row(0, named=True) if table.height else None

    @param.depends("station")
    def _view(self):
        links = pn.pane.Markdown(report_links_markdown(self.client.conn))
        row = self.report()
        if row is None:
            if self.station:
                return pn.Column(pn.pane.Markdown(f"No weekly report of {self.station} yet."),
                                 links)
            return links
        from pathlib import Path

        path = Path(row["html_path"])
        if not path.is_file():
            return pn.Column(pn.pane.Markdown(
                f"The report of {row['station']} made {row['made_at']:%Y-%m-%d %H:%M} UTC was "
                f"kept at {path}, which is no longer there."), links)
        title = html.escape(f"weekly report of {row['station']}")
        frame = (f'<iframe class="station-report" title="{title}" '
                 f'style="width: 100%; height: 1600px; border: 0" '
                 f'srcdoc="{html.escape(path.read_text(encoding="utf-8"), quote=True)}"></iframe>')
        return pn.Column(links, pn.pane.Markdown(
            f"**{row['station']}**: the week to {row['week_to']:%Y-%m-%d %H:%M} UTC, kept at "
            f"`{path}`" + (f" and `{row['pdf_path']}`" if row["pdf_path"] else "")),
            pn.pane.HTML(frame, sizing_mode="stretch_width"), sizing_mode="stretch_width")

    def __panel__(self):
        return pn.Column(self._view, sizing_mode="stretch_width")
