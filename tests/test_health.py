"""Station health from the files and readings of real logger files."""

from datetime import UTC, datetime, timedelta

from stationlab import health, ingest


def test_logger_health_and_quiet_loggers(conn, db, real_data):
    ingest.import_paths([real_data / "campbell_toa5/campbell_scientific_demo_data1.csv",
                         real_data / "campbell_toa5/pytoa5/TestLogger_Hourly_1.dat",
                         real_data / "campbell_toa5/pytoa5/TestLogger_Hourly_Bad05.dat"],
                        dsn=db)
    now = datetime(2021, 6, 19, 12, tzinfo=UTC)
    table = health.logger_health(conn, now).sort("station")
    assert table["station"].to_list() == ["TestLogger", "some_site"]
    test_logger = table.row(0, named=True)
    # the hourly file's last row is stamped 23:00 (end), stored as 22:00 (start of the hour)
    assert test_logger["last_reading"] == datetime(2021, 6, 18, 22, tzinfo=UTC)
    assert test_logger["late_by"] == timedelta(hours=14)
    assert not test_logger["quiet"]
    assert table.row(1, named=True)["quiet"]  # the demo mast stopped in 2016
    assert health.quiet_loggers(conn, now)["station"].to_list() == ["some_site"]
    assert health.quiet_loggers(conn, now, quiet_after=timedelta(hours=12))["station"].to_list() \
        == ["TestLogger", "some_site"]
    failed = health.failed_files(conn)
    assert failed["name"].to_list() == ["TestLogger_Hourly_Bad05.dat"]
    assert failed["error_line"].to_list() == [1]


def test_a_quiet_logger_alerts_once_until_it_delivers_again(conn, db, real_data):
    from stationlab import storage

    ingest.import_paths([real_data / "campbell_toa5/pytoa5/TestLogger_Hourly_1.dat"], dsn=db)
    late = datetime(2021, 6, 20, 12, tzinfo=UTC)
    first = health.check(conn, late, link="/runs/health/x.ipynb", run_id=None)
    assert first["quiet"].to_list() == [True]
    assert first["alert_id"].is_not_null().to_list() == [True]
    again = health.check(conn, late + timedelta(hours=1))
    assert again["alert_id"].to_list() == [None]  # the incident is still open
    table = storage.alerts.alerts(conn)
    assert table.height == 1
    assert table["subject"][0] == "stationlab: logger TestLogger at TestLogger is quiet"
    assert "newest reading is from 2021-06-18 22:00 UTC, 38 h before" in table["message"][0]
    assert table["link"][0] == "/runs/health/x.ipynb"
    # a longer threshold for the station: no longer quiet, the incident closes
    calm = health.check(conn, late, stations={"TestLogger": timedelta(days=7)})
    assert calm["quiet"].to_list() == [False]
    assert storage.alerts.alerts(conn, open_only=True).is_empty()
