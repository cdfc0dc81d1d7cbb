"""The dashboards headless, on the demo mast and a logger that is still reporting."""

from __future__ import annotations

from datetime import UTC, datetime

import holoviews as hv
import panel as pn
import polars as pl
from click.testing import CliRunner

from stationlab import ingest
from stationlab.cli import main
from stationlab.dashboards import TITLES, page
from stationlab.dashboards.panels import DataRecovery, StationExplorer, StationHealth

NOW = datetime(2021, 6, 19, 12, tzinfo=UTC)


def test_health_puts_the_quiet_station_first_and_in_red(mast, db, real_data):
    ingest.import_paths([real_data / "campbell_toa5/pytoa5/TestLogger_Hourly_1.dat",
                         real_data / "campbell_toa5/pytoa5/TestLogger_Hourly_Bad05.dat"],
                        dsn=db)
    dashboard = StationHealth(mast.client, now=NOW)
    table = dashboard.loggers()
    assert table["station"].to_list() == ["some_site", "TestLogger"]
    assert table["state"].to_list() == ["QUIET", "ok"]
    assert table["late_h"][1] == 14.0
    view = dashboard._view()
    banner = view[0]
    assert banner.alert_type == "danger"
    assert banner.object.startswith("**Quiet:** some_site / ")
    failures = view[4]
    assert failures.value["name"].tolist() == ["TestLogger_Hourly_Bad05.dat"]
    # both files carry a battery voltage: BattMin (demo mast), BattV (TestLogger)
    voltage = dashboard.voltage("some_site", table["last_reading"][0])
    # 188 readings and a break where the file has none (15:30 to 16:50)
    assert len(voltage) == 1 and len(next(iter(voltage))) == 188 + 1
    dashboard.quiet_after = 24 * 365 * 10.0
    assert dashboard._view()[0].alert_type == "success"


def test_recovery_heatmap_raw_and_clean(mast):
    mast.add_flag("2016-01-10", "2016-01-11", "bad", reason="test")
    dashboard = DataRecovery(mast.client)
    assert dashboard.station == "some_site"
    raw, clean = dashboard.heatmap(False), dashboard.heatmap(True)
    assert set(raw.dimension_values("month")) == {"2016-01"}
    speed = "Speed 80m 0deg Mean [m/s]"
    # 188 ten-minute readings in a 31-day month; 144 of them (10 January) flagged
    assert raw.select(channel=speed).dimension_values("recovery")[0] == round(
        188 / 4464 * 100, 1)
    assert clean.select(channel=speed).dimension_values("recovery")[0] == round(
        44 / 4464 * 100, 1)


def test_explorer_series_rose_and_monthly_means(mast):
    mast.add_flag("2016-01-10", "2016-01-10 06:00", "icing", reason="rime")
    dashboard = StationExplorer(mast.client)
    assert dashboard.period == (datetime(2016, 1, 9, 15, 20), datetime(2016, 1, 10, 23, 50))
    frame = dashboard._speeds(dashboard.period)
    overlay = dashboard.series(frame)[()]
    spans = next(layer for layer in overlay if isinstance(layer, hv.VSpans))
    assert spans.dimension_values("code").tolist() == ["icing"]
    rose = dashboard.rose(frame).object
    assert rose.title.text == "Wind rose [% of time]"
    # which channels it draws, the compass points and labelled rings of percent of time
    from bokeh.models import Text, Title

    [subtitle] = [t for t in rose.above if isinstance(t, Title)]
    assert subtitle.text == "Speed 80m 0deg Mean [m/s] by Direction 78m 180deg Mean [deg]"
    texts = [r.data_source.data["text"] for r in rose.renderers if isinstance(r.glyph, Text)]
    assert ["N", "E", "S", "W"] in [list(t) for t in texts]
    assert any(str(t[0]).endswith(" %") for t in texts)
    means = dashboard.monthly_means()
    assert means["month"].unique().to_list() == ["2016-01"]
    # the clean mean leaves out the flagged six hours (36 readings)
    speed = means.filter(pl.col("name") == "Speed 80m 0deg Mean [m/s]").row(0, named=True)
    assert speed["n"] == 188 - 36
    dashboard.period = (datetime(2016, 1, 10), datetime(2016, 1, 10, 12))
    assert dashboard._speeds(dashboard.period)["ts"].n_unique() == 72


def test_every_route_builds_a_page(mast, db):
    for route, title in TITLES.items():
        built = page(route, mast.client, db)
        assert isinstance(built, pn.Column)
        assert built[0].object == f"# {title}"


def test_dashboard_command_refuses_a_database_without_schema(empty_db, monkeypatch):
    monkeypatch.setenv("STATIONLAB_DSN", empty_db)
    result = CliRunner().invoke(main, ["dashboard", "--port", "1", "--address", "127.0.0.1"])
    assert result.exit_code == 1
    assert "has no stationlab schema yet; run `stationlab db migrate`" in result.output


def test_health_shows_logger_events_and_diagnostic_voltages(mast, db, real_data):
    logr = real_data / "nrg_logr"
    outcomes = ingest.import_paths([logr / "20240111_1300_000304_002994.log",
                                    logr / "20240111_1300_000304_002994.diag"], dsn=db)
    assert [o.status for o in outcomes] == ["imported", "imported"]
    dashboard = StationHealth(mast.client, now=NOW)
    view = dashboard._view()
    events = view[6]
    assert not events.value.empty
    assert list(events.value.columns) == ["station", "logger", "ts", "kind", "code", "message"]
    voltages = dashboard.diagnostic_voltages()
    assert voltages is not None and len(voltages) >= 1
    assert all(len(curve) > 0 for curve in voltages)


def test_health_lists_sensor_states_and_plots_a_failed_sensor_with_its_flags(db, tmp_path):
    import stationlab
    from tests import faults

    ingest.import_paths([faults.write(tmp_path / "f.csv", changes=[
        ("Spd80mN", 72, 0, lambda v: "4.2")])], dsn=db)
    with stationlab.connect() as client:
        client.station("some_site").add_flag("2016-01-10 12:00", "2016-01-10 18:00", "bad",
                                             point="Spd80mN", reason="frozen cup")
        dashboard = StationHealth(client, now=NOW)
        table = dashboard.sensors()
        assert table["state"][0] == "failed"
        assert table["name"][0] == "Speed 80m 0deg Mean [m/s]"
        view = dashboard._view()
        assert [view[-4].object, view[-2].object] == ["### Sensors", "### Weekly reports"]
        assert view[-1].object.startswith("No weekly report yet: the scheduled `report` job")
        sensors = view[-3]
        widget, plot = sensors[0], sensors[1]
        # the flag covers the point: its SD and Max channels are suspect (a quarter of the day)
        assert widget.value["state"].tolist()[:4] == ["failed", "suspect", "suspect", "ok"]
        assert widget.value["reason"][0].startswith("flat line at 4.2 for ")
        # the failed sensor is plotted at first, with its flag drawn as a band
        overlay = plot[1].object
        assert isinstance(overlay, hv.Overlay)
        spans = [e for e in overlay if isinstance(e, hv.VSpans)]
        assert len(spans) == 1 and spans[0].dimension_values("code").tolist() == ["bad"]
        state = hv.renderer("bokeh").get_plot(overlay).state  # as the browser gets it
        assert (state.xaxis[0].axis_label, state.yaxis[0].axis_label) == (
            "time [UTC]", "Speed 80m 0deg Mean [m/s]")
        # a click on another row plots that sensor
        dashboard._sensor_show(1)
        assert plot[0].object.startswith(f"**{table['name'][1]}** at some_site: suspect, "
                                         "flagged (bad) in 25 % of the last 24 h")


def test_explorer_opens_on_a_station_with_wind_and_says_why_another_has_nothing(mast, db,
                                                                                 real_data):
    ingest.import_paths([real_data / "campbell_toa5/pytoa5/TestLogger_Hourly_1.dat"], dsn=db)
    assert mast.client.stations() == ["TestLogger", "some_site"]  # first: no anemometer
    dashboard = StationExplorer(mast.client)
    assert dashboard.station == "some_site"
    pn.panel(dashboard).get_root()  # renders (the period widget too)
    dashboard.station = "TestLogger"
    message = dashboard._view().object
    assert message.startswith("**TestLogger** has no wind speed channel (mean values)")
    assert "`stationlab import PATH --station TestLogger`" in message
    opened_there = StationExplorer(mast.client, station="TestLogger")
    assert opened_there.period is None
    pn.panel(opened_there).get_root()  # no KeyError: 'start'
    dashboard.station = "some_site"
    dashboard.period = (datetime(2020, 1, 1), datetime(2020, 2, 1))
    assert dashboard._view().object == (
        "No wind speed readings of **some_site** between 2020-01-01 00:00 and 2020-02-01 "
        "00:00 UTC: choose another period.")


def test_health_voltage_plots_keep_each_station_s_own_time_axis(mast, db, real_data):
    ingest.import_paths([real_data / "campbell_toa5/pytoa5/TestLogger_Hourly_1.dat"], dsn=db)
    view = StationHealth(mast.client, now=NOW)._view()
    start = [i for i, part in enumerate(view)
             if getattr(part, "object", None) == "### Supply voltage"][0]
    plots = [part for part in view[start + 1:] if isinstance(part, pn.pane.HoloViews)]
    assert len(plots) == 2  # some_site (2016) and TestLogger (2021)
    assert not any(plot.linked_axes for plot in plots)
    from bokeh.models import Legend

    for plot in plots:  # named axes, no legend over the few points (the title names them)
        state = hv.renderer("bokeh").get_plot(plot.object).state
        assert (state.xaxis[0].axis_label, state.yaxis[0].axis_label) == (
            "time [UTC]", "supply voltage [V]")
        assert not [item for item in state.center if isinstance(item, Legend)]


def test_calibration_page_without_sensors_says_how_to_get_them(mast, db):
    built = page("calibration", mast.client, db)
    editor = pn.panel(built[2])
    assert editor.object.startswith("No sensors are recorded, so there is no calibration to "
                                    "edit")
    assert "`stationlab meta import FILE.json`" in editor.object


def test_the_writing_pages_are_served_on_loopback_only(monkeypatch):
    from stationlab import dashboards

    for address in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert dashboards.loopback(address) and dashboards.read_only_reason(address) is None
    for address in ("0.0.0.0", "::", "192.168.1.5", "dashboards.example.org"):
        assert not dashboards.loopback(address)
        assert "not a loopback address" in dashboards.read_only_reason(address)
    assert dashboards.read_only_reason("127.0.0.1", read_only=True) == "--read-only was given"
    for name in ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_CLIENT_ID", "JUPYTERHUB_API_URL"):
        monkeypatch.setenv(name, "x")
    assert "JupyterHub" in dashboards.read_only_reason("127.0.0.1")


def test_read_only_pages_read_and_their_sessions_cannot_write(mast, db):
    import psycopg

    from stationlab import dashboards

    pages = dashboards.routes(db, read_only=True)
    assert tuple(pages) == dashboards.READ_ONLY
    assert set(dashboards.routes(db)) == set(TITLES)
    assert "flags" not in pages and "calibration" not in pages and "upload" not in pages
    client = dashboards._session_client(db, read_only=True)
    try:
        assert client.station("some_site").channels().height > 0  # reading works
        try:
            client.conn.execute("DELETE FROM flags")
            raise AssertionError("a read-only dashboard session deleted flags")
        except psycopg.errors.ReadOnlySqlTransaction:
            pass
    finally:
        client.close()


def test_dashboard_off_loopback_says_it_is_read_only_and_serves_no_writing_page(db, tmp_path):
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path / "dashboard.log"
    env = {**os.environ, "STATIONLAB_DSN": db}
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "stationlab", "dashboard", "--port",
                                   str(port), "--read-only"], env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}/"
        for _ in range(240):
            try:
                index = urllib.request.urlopen(base, timeout=10).read().decode()
                break
            except OSError:
                assert server.poll() is None, log.read_text()
                time.sleep(0.5)
        else:
            raise AssertionError("the dashboard did not start:\n" + log.read_text())
        assert 'href="./health"' in index and 'href="./flags"' not in index
        assert urllib.request.urlopen(base + "health", timeout=60).status == 200
        for route in ("flags", "calibration", "upload"):
            try:
                urllib.request.urlopen(base + route, timeout=60)
                raise AssertionError(f"/{route} is served by a read-only dashboard")
            except urllib.error.HTTPError as exc:
                assert exc.code == 404
        assert ("read-only: health, data recovery, the explorer and the weekly reports only "
                "(--read-only was given)") in log.read_text()
    finally:
        server.terminate()
        server.wait(timeout=30)
