"""Alerts once per incident from sensor and logger health, through a real SMTP server (aiosmtpd)
and a real webhook receiver: generated faults on the demo mast, and a resolved message when each
clears."""

import contextlib
import http.server
import socket
import threading
from datetime import datetime, timedelta

import pytest

from stationlab import alerts, fetch, health, ingest, metadata, qc, storage, worker
from stationlab.sources import Source
from tests import faults
from tests.test_pipelines import smtp, webhook  # noqa: F401, F811 (fixtures)

END = datetime(2016, 1, 10, 23, 40)  # the demo file's last stamp (UTC)


@pytest.fixture
def notify(smtp, webhook):  # noqa: F811
    return alerts.AlertSettings(
        email=alerts.EmailSettings(host="127.0.0.1", port=smtp.port, to=("manager@example.org",)),
        webhook_url=webhook[0])


def _check(conn, settings):
    health.check_sensors(conn, settings=settings)
    health.check_loggers(conn, settings=settings)


def _import(db, path, **kwargs):
    return ingest.import_paths([path], dsn=db, **kwargs)


def _healthy_after(tmp_path, days=1.5):
    """Healthy demo data starting after the demo file's end (the fault clears)."""
    return faults.write(tmp_path / "after.csv", days=days, start=END + timedelta(minutes=10))


def _assert_once_then_resolved(conn, db, settings, smtp, webhook, incident_kind, clear):  # noqa: F811
    _check(conn, settings)
    _check(conn, settings)  # still open: nothing sent again
    table = storage.alerts.alerts(conn)
    assert table["kind"].to_list() == [incident_kind], table
    assert len(smtp.messages) == 1 and len(webhook[1]) == 1
    assert smtp.messages[0][0] == ["manager@example.org"]
    assert webhook[1][0]["status"] == "raised"
    assert webhook[1][0]["incident"] == table["incident"][0]
    clear()
    _check(conn, settings)
    _check(conn, settings)
    table = storage.alerts.alerts(conn)
    assert table.height == 1 and table["resolved_at"].is_not_null().all()
    assert len(smtp.messages) == 2 and len(webhook[1]) == 2
    assert str(smtp.messages[1][1]["Subject"]).strip().startswith("stationlab: resolved: ")
    assert webhook[1][1]["status"] == "resolved"
    assert table["resolved_sent_to"][0].to_list() == ["mailto:manager@example.org", webhook[0]]
    return smtp.messages[0][1]


def test_nothing_is_raised_for_the_healthy_demo_mast(conn, db, real_data, notify, smtp,  # noqa: F811
                                                      webhook):  # noqa: F811
    metadata.import_document(real_data / "iea43/demo_data_iea43_wra_data_model.json", dsn=db)
    _import(db, real_data / "campbell_toa5/campbell_scientific_demo_data1.csv")
    assert qc.run(conn, "some_site").flags["flat_line"] > 0  # as the clean job: RH 100 % is flat
    _check(conn, notify)
    assert storage.alerts.alerts(conn).is_empty()
    assert smtp.messages == [] and webhook[1] == []


def test_a_frozen_cup_alerts_once_and_resolves(conn, db, tmp_path, notify, smtp, webhook):  # noqa: F811
    _import(db, faults.write(tmp_path / "f.csv", changes=[("Spd80mN", 72, 0, lambda v: "4.2")]))
    mail = _assert_once_then_resolved(conn, db, notify, smtp, webhook, "sensor_failed",
                                      lambda: _import(db, _healthy_after(tmp_path)))
    assert mail["Subject"] == "stationlab: sensor Spd80mN at some_site failed"
    assert "Speed 80m 0deg Mean [m/s] failed: flat line at 4.2 for 12.0 h since 2016-01-10 " \
        "11:50 UTC" in mail.get_content()


def test_a_paired_anemometer_reading_low_for_a_week_alerts_once(conn, db, tmp_path, notify,
                                                                 smtp, webhook):  # noqa: F811
    low = lambda v: f"{float(v) * 0.85:.3f}"  # noqa: E731
    path = faults.write(tmp_path / "low.csv", days=9, changes=[("Spd60mS", 9 * 144, 0, low)])
    _import(db, path)
    end = faults.demo_lines()[1][0][0]
    start = datetime.strptime(end, faults.STAMP) + timedelta(days=9)
    mail = _assert_once_then_resolved(
        conn, db, notify, smtp, webhook, "sensor_failed",
        lambda: _import(db, faults.write(tmp_path / "fixed.csv", days=8, start=start)))
    assert "reads 15% below its pair Speed 60m 0deg Mean [m/s]" in mail.get_content()


def test_a_stuck_vane_alerts_once(conn, db, tmp_path, notify, smtp, webhook):  # noqa: F811
    _import(db, faults.write(tmp_path / "v.csv", changes=[("Dir58mS", 100, 0, lambda v: "20")]))
    # vanes are compared over the week: a week of healthy data clears it
    mail = _assert_once_then_resolved(conn, db, notify, smtp, webhook, "sensor_failed",
                                      lambda: _import(db, _healthy_after(tmp_path, days=7.2)))
    assert mail["Subject"] == "stationlab: sensor Dir58mS at some_site failed"


def test_a_sagging_supply_voltage_alerts_once(conn, db, tmp_path, notify, smtp, webhook):  # noqa: F811
    _import(db, faults.write(tmp_path / "b.csv", changes=[("BattMin", 6, 0, lambda v: "11.3")]))
    mail = _assert_once_then_resolved(conn, db, notify, smtp, webhook, "low_voltage",
                                      lambda: _import(db, _healthy_after(tmp_path)))
    assert "11.30 V, below 11.5 V" in mail.get_content()


def test_a_file_failing_three_days_running_alerts_once(conn, db, tmp_path, notify,
                                                        smtp, webhook):  # noqa: F811
    header, rows = faults.demo_lines()
    _import(db, faults.DEMO)
    sent = []
    for day in range(3):  # each day's file is cut short in its second row
        path = tmp_path / f"day{day}.csv"
        lines = header + [",".join(r) for r in rows[day * 10:day * 10 + 5]]
        lines[5] = lines[5].rsplit(",", 3)[0]
        path.write_text("\n".join(lines) + "\n")
        # uploaded for the station (as a fetch source names it), then imported by the worker
        fetch.upload_bytes(path.name, path.read_bytes(), station="some_site", dsn=db)
        worker.run_workers(dsn=db)
        assert storage.health.failed_files(conn)["name"].to_list()[-1] == path.name
        _check(conn, notify)
        sent.append(len(smtp.messages))
    assert sent == [1, 1, 1]
    table = storage.alerts.alerts(conn)
    assert table["incident"].to_list() == ["import_failing:some_site"]
    assert "1 file(s) of station some_site in a row failed to import" in table["message"][0]
    from stationlab.storage import health as records

    assert records.import_failures(conn)["n_failed"].to_list() == [3]
    _import(db, _healthy_after(tmp_path))
    _check(conn, notify)
    assert storage.alerts.alerts(conn, open_only=True).is_empty()
    assert len(smtp.messages) == 2 and [h["status"] for h in webhook[1]] == ["raised", "resolved"]


@contextlib.contextmanager
def _http_on(port, root):
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(30)


def test_a_fetch_source_refusing_connections_alerts_once(conn, db, tmp_path, home, notify,
                                                          smtp, webhook):  # noqa: F811
    root = tmp_path / "remote"
    root.mkdir()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = Source(name="mast_modem", station="some_site",
                    url=f"http://127.0.0.1:{port}/", pattern="*.csv")
    with _http_on(port, root):  # the server ran once, then it is stopped
        assert not any(r.failed for r in fetch.fetch_sources([source], dsn=db))
    counts = []
    for _ in range(4):
        [item] = fetch.fetch_sources([source], dsn=db)
        assert item.failed and "cannot list" in item.error
        _check(conn, notify)
        counts.append(len(smtp.messages))
    assert counts == [0, 0, 1, 1]  # the third failure in a row raises it
    table = storage.alerts.alerts(conn)
    assert table["incident"].to_list() == ["fetch_failing:mast_modem"]
    assert "failed 3 times in a row" in table["message"][0]
    with _http_on(port, root):
        fetch.fetch_sources([source], dsn=db)
    _check(conn, notify)
    assert storage.alerts.alerts(conn, open_only=True).is_empty()
    assert len(smtp.messages) == 2 and webhook[1][-1]["status"] == "resolved"


def test_an_nrg_logger_reporting_a_fault_alerts_once(conn, db, real_data, notify,
                                                      smtp, webhook):  # noqa: F811
    _import(db, real_data / "nrg_logr/20240925_2300_9460_00030_000172.log")
    _check(conn, notify)
    _check(conn, notify)
    table = storage.alerts.alerts(conn)
    assert table["kind"].to_list() == ["logger_fault"]
    assert "SRVEL_ERR_ETH_FTPC_DIR_ERR: SUBSYS_ETHERNET: FTPc Set Dir Error: 218" \
        in table["message"][0]
    assert len(smtp.messages) == 1 and len(webhook[1]) == 1


def test_a_supply_voltage_falling_night_over_night_alerts_once(conn, db, tmp_path, notify,
                                                                smtp, webhook):  # noqa: F811
    # four days of the demo mast, the battery's minimum lower each night, never below 11.5 V
    caps = [("BattMin", 144 * (k + 1), 144 * k, lambda v, c=c: f"{min(float(v), c):.2f}")
            for k, c in enumerate((11.7, 11.9, 12.1, 12.3))]
    _import(db, faults.write(tmp_path / "sag.csv", days=4, changes=caps))
    end = datetime.strptime(faults.demo_lines()[1][0][0], faults.STAMP) + timedelta(days=4)
    mail = _assert_once_then_resolved(
        conn, db, notify, smtp, webhook, "low_voltage",
        lambda: _import(db, faults.write(tmp_path / "charged.csv", days=1, start=end)))
    assert "its nightly minimum has fallen 3 nights in a row, 12.30 V -> 11.70 V" \
        in mail.get_content()


def test_a_logger_clock_jumping_ahead_alerts_once(conn, db, tmp_path, notify,  # noqa: F811
                                                   smtp, webhook):  # noqa: F811
    # the file's last ten stamps jumped to 2099: after the file arrived
    jumped = lambda v: v.replace("/2016 ", "/2099 ")  # noqa: E731
    _import(db, faults.write(tmp_path / "c.csv", changes=[("Timestamp", 10, 0, jumped)]))
    mail = _assert_once_then_resolved(conn, db, notify, smtp, webhook, "clock_jump",
                                      lambda: _import(db, _healthy_after(tmp_path)))
    assert mail["Subject"].startswith("stationlab: the clock of logger ")
    assert "ends at 2099-01-10 23:40 UTC, after it arrived" in mail.get_content()


def test_a_logger_clock_jumping_back_alerts_once(conn, db, tmp_path, notify,  # noqa: F811
                                                  smtp, webhook):  # noqa: F811
    """The logger's clock reset to 2000-01-01: its next file, fetched from the logger, is stamped
    long before the files received before it (and before it arrived, so the forward check alone
    sees nothing)."""
    _import(db, faults.DEMO)
    _import(db, faults.write(tmp_path / "reset.csv", days=1, start=datetime(2000, 1, 1)),
            source="mast_sftp")
    [row] = storage.health.clock_jumps(conn, tolerance_s=3600).rows(named=True)
    assert (row["file"], row["ahead"], row["behind"]) == ("reset.csv", False, True)
    # the clock set right again: the next file ends after the demo file, before it arrived
    mail = _assert_once_then_resolved(conn, db, notify, smtp, webhook, "clock_jump",
                                      lambda: _import(db, _healthy_after(tmp_path)))
    assert mail["Subject"].startswith("stationlab: the clock of logger ")
    assert ("its file reset.csv ends at 2000-01-01 23:40 UTC, before the files received before "
            "it, which reached 2016-01-10 23:40 UTC: its clock went back") in mail.get_content()


def test_an_old_file_imported_by_hand_is_a_backfill_not_a_clock_jump(conn, db, tmp_path):
    """The same early stamps in a file a person imports or uploads: data from before, late."""
    _import(db, faults.DEMO)
    _import(db, faults.write(tmp_path / "old.csv", days=1, start=datetime(2015, 6, 1)))
    [row] = storage.health.clock_jumps(conn, tolerance_s=3600).rows(named=True)
    assert (row["file"], row["ahead"], row["behind"]) == ("old.csv", False, False)


def test_files_of_one_table_in_time_order_are_no_clock_jump(conn, db, tmp_path):
    """Consecutive days, then a file repeating the last hours of the one before it: no jump."""
    _import(db, faults.DEMO)
    after = _healthy_after(tmp_path, days=1)
    _import(db, after)
    overlap = faults.write(tmp_path / "overlap.csv", days=1.2, start=END + timedelta(hours=6))
    _import(db, overlap)
    table = storage.health.clock_jumps(conn, tolerance_s=3600)
    assert table.select("file", "ahead", "behind").rows() == [("overlap.csv", False, False)]


def test_pipelines_alerts_open_lists_the_open_incidents(conn, db, tmp_path, notify, smtp,  # noqa: F811
                                                         webhook):  # noqa: F811
    from click.testing import CliRunner

    from stationlab.cli import main

    _import(db, faults.write(tmp_path / "f.csv", changes=[("Spd80mN", 72, 0, lambda v: "4.2")]))
    _check(conn, notify)
    [alert_id] = storage.alerts.alerts(conn)["alert_id"].to_list()
    [channel_id] = storage.alerts.alerts(conn)["incident"].str.split(":").list.last().to_list()
    listed = CliRunner().invoke(main, ["pipelines", "alerts", "--open"])
    assert listed.exit_code == 0, listed.output
    [line, total] = listed.output.splitlines()
    assert line.strip().split(" ", 3)[3] == (
        f"sensor_failed:{channel_id} [open] stationlab: sensor Spd80mN at some_site failed -> "
        f"mailto:manager@example.org, {webhook[0]}")
    assert line.split()[0] == str(alert_id) and total == "1 alert"
    _import(db, _healthy_after(tmp_path))
    _check(conn, notify)
    assert CliRunner().invoke(main, ["pipelines", "alerts", "--open"]).output == "0 alerts\n"
    every = CliRunner().invoke(main, ["pipelines", "alerts"]).output
    assert f"sensor_failed:{channel_id} [resolved " in every and every.endswith("1 alert\n")


def test_the_scheduled_health_job_raises_a_failed_sensor_once_and_resolves_it(
        db, tmp_path, monkeypatch, smtp):  # noqa: F811
    """The health notebook, run as the scheduled job, judges every sensor: a frozen cup reaches
    the inbox once, linking the run, and resolves once when the cup turns again."""
    from stationlab import pipelines
    from tests.test_report import _schedule

    monkeypatch.setenv("STATIONLAB_HOME", str(tmp_path / "home"))
    _import(db, faults.write(tmp_path / "f.csv", changes=[("Spd80mN", 72, 0, lambda v: "4.2")]))
    cfg = _schedule(tmp_path, smtp)
    for _ in range(2):
        result = pipelines.run_job(cfg, "health")
        assert result.status == "success", result.error
    with storage.connect(db, autocommit=True) as conn:
        table = storage.alerts.alerts(conn)
    # the demo mast stopped in 2016: its logger is quiet too (its own alert)
    assert sorted(table["kind"]) == ["logger_quiet", "sensor_failed"]
    failed = table.filter(table["kind"] == "sensor_failed").row(0, named=True)
    assert failed["subject"] == "stationlab: sensor Spd80mN at some_site failed"
    assert "/runs/health/" in failed["link"]
    subjects = [str(m["Subject"]) for _, m in smtp.messages]
    assert subjects.count("stationlab: sensor Spd80mN at some_site failed") == 1
    assert len(smtp.messages) == 2
    _import(db, _healthy_after(tmp_path))
    assert pipelines.run_job(cfg, "health").status == "success"
    subjects = [str(m["Subject"]) for _, m in smtp.messages]
    assert subjects[2:] == ["stationlab: resolved: sensor Spd80mN at some_site failed"]
    with storage.connect(db, autocommit=True) as conn:
        still = storage.alerts.alerts(conn, open_only=True)
    assert still["kind"].to_list() == ["logger_quiet"]
