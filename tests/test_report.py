"""The weekly station report: made by papermill, HTML with the recovery table, sent to the
station's subscribers through a real SMTP server."""

import shutil

from stationlab import alerts, health, ingest, report, storage
from tests import faults
from tests.test_pipelines import smtp  # noqa: F401 (fixture)


def test_the_weekly_report_renders_and_is_sent_to_subscribers(db, tmp_path, smtp):  # noqa: F811
    ingest.import_paths([faults.write(tmp_path / "f.csv", changes=[
        ("Spd80mN", 72, 0, lambda v: "4.2")])], dsn=db)
    with storage.connect(db, autocommit=True) as conn:
        health.configure(conn, "some_site", report_to=["manager@example.org"])
    settings = alerts.AlertSettings(email=alerts.EmailSettings(host="127.0.0.1", port=smtp.port))
    made = report.make_report("some_site", tmp_path / "run", settings=settings)
    text = made.html.read_text()
    assert 'class="dataframe recovery"' in text
    assert "Speed 80m 0deg Mean [m/s]</td>" in text
    assert "flat line at 4.2 for 12.0 h" in text
    assert "Weekly report: some_site" in text
    assert made.sent_to == ("manager@example.org",)
    [(recipients, mail)] = smtp.messages
    assert recipients == ["manager@example.org"]
    assert mail["Subject"] == "stationlab: weekly report for some_site"
    names = [part.get_filename() for part in mail.iter_attachments()]
    assert names[0] == "some_site.report.html"
    if shutil.which("chromium"):  # the PDF where a converter is installed
        assert made.pdf.read_bytes().startswith(b"%PDF") and names[1] == "some_site.report.pdf"


def _schedule(tmp_path, smtp):  # noqa: F811
    """The repository's schedule, its notebooks where they are, alerts and reports mailed
    through the test's SMTP server."""
    from tests.conftest import REPO

    text = (REPO / "pipelines" / "schedule.toml").read_text().replace(
        'notebooks = "../notebooks"', f'notebooks = "{REPO / "notebooks"}"')
    path = tmp_path / "schedule.toml"
    path.write_text(text + f'\n[alerts.email]\nhost = "127.0.0.1"\nport = {smtp.port}\n'
                    'sender = "stationlab@example.org"\nto = ["ops@example.org"]\n')
    from stationlab import pipelines

    return pipelines.load_config(path)


def test_the_scheduled_job_makes_keeps_records_and_sends_the_weekly_report(
        db, tmp_path, monkeypatch, smtp):  # noqa: F811
    import stationlab
    from stationlab import pipelines
    from stationlab.dashboards import panels

    monkeypatch.setenv("STATIONLAB_HOME", str(tmp_path / "home"))
    ingest.import_paths([faults.write(tmp_path / "f.csv", changes=[
        ("Spd80mN", 72, 0, lambda v: "4.2")])], dsn=db)
    with storage.connect(db, autocommit=True) as conn:
        health.configure(conn, "some_site", report_to=["manager@example.org"])
    cfg = _schedule(tmp_path, smtp)
    assert cfg.jobs["report"].after == ("health",)
    result = pipelines.run_job(cfg, "report")
    assert result.status == "success", result.error
    # kept with the run: next to its executed notebook
    folder = tmp_path / "home" / "runs" / "report" / result.output_path.rsplit("/", 1)[1][:-6]
    html = folder / "some_site.report.html"
    assert 'class="dataframe recovery"' in html.read_text()
    [(recipients, mail)] = smtp.messages  # the subscriber only, not the alerts' addresses
    assert recipients == ["manager@example.org"]
    assert mail["Subject"] == "stationlab: weekly report for some_site"
    with storage.connect(db, autocommit=True) as conn:
        [row] = storage.reports.latest_reports(conn).iter_rows(named=True)
        links = panels.report_links_markdown(conn)
    assert (row["station"], row["run_id"], row["html_path"], row["sent_to"]) == (
        "some_site", result.run_id, str(html), ["manager@example.org"])
    assert str(row["week_to"]) == "2016-01-10 23:40:00+00:00"
    # linked from the health dashboard, one click to the report as it was sent
    assert links.startswith("- [some_site: the week to 2016-01-10 23:40 UTC]"
                            "(./report?station=some_site) made ")
    assert links.endswith("sent to manager@example.org")
    with stationlab.connect() as client:
        page = panels.StationHealth(client)
        assert page.report_links().object == links
        view = panels.StationReport(client, station="some_site")._view()
        frame = [p for p in view if isinstance(p, panels.pn.pane.HTML)][0].object
        assert frame.startswith('<iframe class="station-report" title="weekly report of '
                                'some_site"')
        assert "flat line at 4.2 for 12.0 h" in frame
        other = panels.StationReport(client, station="nowhere")._view()
        assert other[0].object == "No weekly report of nowhere yet."


def test_a_report_that_cannot_be_made_says_why(db, tmp_path):
    import pytest

    from stationlab.errors import StationlabError

    ingest.import_paths([faults.DEMO], dsn=db)
    with pytest.raises(StationlabError, match="no station called 'nowhere'; stations: "
                                              "some_site"):
        report.make_report("nowhere", tmp_path)
    with pytest.raises(StationlabError, match="the report's end 'last monday' is not an ISO "
                                              "8601 time, e.g. 2016-01-10T23:40"):
        report.make_report("some_site", tmp_path, at="last monday")
    with pytest.raises(StationlabError, match="station 'some_site' has no readings to report "
                                              "on in the week to 2015-01-01"):
        report.make_report("some_site", tmp_path, at="2015-01-01")
    assert list(tmp_path.iterdir()) == []  # nothing half made


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_report_shows_the_open_alerts_of_the_fetch_sources_feeding_the_station(
        db, tmp_path, home):
    """fetch_failing:SOURCE is keyed by the source: the report of the station the source feeds
    shows it, whether the source is configured for the station or brought its files."""
    import dataclasses

    from stationlab import fetch, worker
    from stationlab.sources import Source

    remote = tmp_path / "remote"
    remote.mkdir()
    shutil.copy(faults.DEMO, remote / "demo.csv")
    down = f"http://127.0.0.1:{_closed_port()}/"
    feed = Source(name="folder_feed", station=None, url=str(remote), pattern="*.csv")
    assert [r.status for r in fetch.fetch_sources([feed], dsn=db)] == ["queued"]
    worker.run_workers(dsn=db)  # the file says its station: some_site
    failing = [dataclasses.replace(feed, url=down),
               Source(name="mast_modem", station="some_site", url=down),
               Source(name="other_modem", station="other_mast", url=down)]
    for _ in range(3):
        assert all(r.failed for r in fetch.fetch_sources(failing, dsn=db))
    with storage.connect(db, autocommit=True) as conn:
        health.check_loggers(conn)
        assert sorted(storage.alerts.alerts(conn, open_only=True)["incident"]) == [
            "fetch_failing:folder_feed", "fetch_failing:mast_modem", "fetch_failing:other_modem"]
        assert sorted(alerts.station_alerts(conn, "some_site")["incident"]) == [
            "fetch_failing:folder_feed", "fetch_failing:mast_modem"]
    text = report.make_report("some_site", tmp_path / "run").html.read_text()
    assert "stationlab: fetch source mast_modem is failing" in text
    assert "stationlab: fetch source folder_feed is failing" in text
    assert "other_modem" not in text


def test_the_report_s_supply_voltage_is_the_one_the_low_voltage_alert_judges(db, tmp_path,
                                                                               real_data):
    """An NRG LOGR station's supply is its .diag VIN values, not a reading: the report shows
    them, from the same statement the low_voltage alert reads."""
    from datetime import timedelta

    import polars as pl

    files = [p for p in sorted((real_data / "nrg_logr").glob("20240111_*"))
             if p.suffix == ".diag" or p.name.endswith("_statistical.dat")]
    ingest.import_paths(files, dsn=db)
    station = "Crows Nest Counters"
    with storage.connect(db, autocommit=True) as conn:
        [day] = health.check_loggers(conn)["supply"].filter(pl.col("day_back") == 0).rows(
            named=True)
        volts = health.supply_series(conn, station, day["until"] - timedelta(days=1),
                                     day["until"])
    assert volts["value"].min() == day["v_min"]
    # its voltage channels are loop-backs and a PV module's open-circuit voltage, 0 V at night:
    # not the supply, and no low_voltage alert
    assert set(volts["series"]) == {"VIN_RP_V avg", "VIN_RP_V min"}
    assert day["v_min"] > 16
    vin = volts.filter(pl.col("series") == "VIN_RP_V avg")
    assert vin.height == 41 and vin["value"].min() > 16
    text = report.make_report(station, tmp_path / "run").html.read_text()
    section = text[text.index(">Supply voltage<"):]
    assert 'class="dataframe supply"' in section
    assert "<td>VIN_RP_V avg</td>" in section and "<td>VIN_RP_V min</td>" in section
