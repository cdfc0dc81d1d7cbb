"""Fetching from real SFTP, FTP and HTTP servers on 127.0.0.1, then importing the queue."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import pytest

from stationlab import fetch, sources, worker
from stationlab.errors import ConfigError, FetchError

from .conftest import DAILY, DEMO, HOURLY
from .servers import PASSWORD, USER, ftp_server, http_server, sftp_server
from .test_cli import stationlab


@pytest.fixture(autouse=True)
def ftp_password(monkeypatch):
    """The FTP source's password comes from the environment, as a real one would."""
    monkeypatch.setenv("TEST_FTP_PASSWORD", PASSWORD)


def served(tmp_path, real_data, name, files):
    root = tmp_path / name
    (root / "out").mkdir(parents=True)
    for file in files:
        (root / "out" / file.rsplit("/", 1)[1]).write_bytes((real_data / file).read_bytes())
    return root


def count(conn, sql):
    return conn.execute(f"SELECT count(*) AS n FROM {sql}").fetchone()["n"]


def test_fetch_then_worker_imports_everything_from_sftp_ftp_and_http(db, conn, home, tmp_path,
                                                                     real_data):
    sftp_root = served(tmp_path, real_data, "sftp", [HOURLY])
    ftp_root = served(tmp_path, real_data, "ftp", [DAILY])
    http_root = served(tmp_path, real_data, "http", [DEMO])
    (home / "secrets.toml").write_text(f'sftp_password = "{PASSWORD}"\n')
    with sftp_server(sftp_root) as sftp, ftp_server(ftp_root) as ftp, \
            http_server(http_root) as http:
        (home / "sources.toml").write_text(f"""
secrets_file = "secrets.toml"

[[source]]
name = "logger-sftp"
station = "TestLogger"
url = "sftp://{USER}@127.0.0.1:{sftp}/out"
pattern = "*.dat"
every = "10m"
options = {{ password = "secret:sftp_password", look_for_keys = false, allow_agent = false }}

[[source]]
name = "logger-ftp"
station = "TestLogger"
url = "ftp://127.0.0.1:{ftp}/out"
pattern = "*.dat"
options = {{ username = "{USER}", password = "env:TEST_FTP_PASSWORD" }}

[[source]]
name = "vendor-http"
url = "http://127.0.0.1:{http}/out"
pattern = "*.csv"
""")
        run = stationlab("fetch")
        assert run.returncode == 0, run.stderr
        assert run.stdout.splitlines() == [
            "logger-sftp: TestLogger_Hourly_1.dat: stored and queued for import (file 1)",
            "logger-ftp: TestLogger_Daily_1.dat: stored and queued for import (file 2)",
            "vendor-http: campbell_scientific_demo_data1.csv: stored and queued for import "
            "(file 3)",
            "fetched 3 sources: 3 files queued, 0 failed"]
        again = stationlab("fetch")
        assert again.stdout.splitlines() == ["fetched 3 sources: 0 files queued, 0 failed"]
        work = stationlab("worker", "--concurrency", 2)
        assert work.returncode == 0, work.stderr
        assert sorted(work.stdout.splitlines()) == [
            "3 files: 3 imported, 0 failed",
            "TestLogger_Daily_1.dat: imported 14 readings into station 'TestLogger'",
            "TestLogger_Hourly_1.dat: imported 15 readings into station 'TestLogger'",
            "campbell_scientific_demo_data1.csv: imported 5,640 readings into station "
            "'some_site'"]
        # The SFTP server goes down; files keep arriving there meanwhile.
    (sftp_root / "out" / "later.dat").write_bytes(
        (real_data / HOURLY).read_bytes().replace(b"2021-06-18", b"2021-06-19"))
    down = stationlab("fetch", "--source", "logger-sftp")
    assert down.returncode == 1
    assert down.stdout.startswith(f"logger-sftp: sftp://{USER}@127.0.0.1:{sftp}/out: failed: "
                                  "cannot list")
    assert "then fetch again" in down.stdout
    with sftp_server(sftp_root) as port:  # back, on another port
        config = (home / "sources.toml").read_text().replace(f":{sftp}/", f":{port}/")
        (home / "sources.toml").write_text(config)
        back = stationlab("fetch", "--source", "logger-sftp")
    assert back.stdout.splitlines() == [
        "logger-sftp: later.dat: stored and queued for import (file 4)",
        "fetched 1 source: 1 file queued, 0 failed"]
    assert stationlab("worker").stdout.splitlines() == [
        "later.dat: imported 15 readings into station 'TestLogger'",
        "1 file: 1 imported, 0 failed"]
    assert count(conn, "readings") == 15 * 2 + 14 + 5640
    assert count(conn, "fetched") == 4
    arrivals = conn.execute("SELECT source, original_name, author FROM arrivals "
                            "ORDER BY arrival_id").fetchall()
    assert arrivals[0] == {"source": "logger-sftp", "original_name": "TestLogger_Hourly_1.dat",
                           "author": "fetch:logger-sftp"}


def test_a_file_that_changed_on_the_server_is_fetched_again(db, conn, home, tmp_path,
                                                            real_data):
    folder = served(tmp_path, real_data, "drop", [HOURLY])
    (home / "sources.toml").write_text(f"""
[[source]]
name = "loggernet"
url = "{folder / 'out'}"
pattern = "*.dat"
""")
    (source,) = sources.load()
    assert [r.status for r in fetch.fetch_sources([source])] == ["queued"]
    assert fetch.fetch_sources([source]) == []
    path = folder / "out" / "TestLogger_Hourly_1.dat"
    with path.open("ab") as grown:  # LoggerNet appends a row
        grown.write(b'"2021-06-19 00:00:00",13,13.4,25.1,27.1,23.6,63.3\n')
    assert [r.status for r in fetch.fetch_sources([source])] == ["queued"]
    report = worker.run_workers(1)
    assert [o.status for o in report.outcomes] == ["imported", "imported"]
    assert report.outcomes[1].duplicates == 15  # the grown file's old rows were stored already


def test_decrypt_command_runs_with_a_timeout_and_its_failure_is_reported(db, conn, home,
                                                                          tmp_path, real_data):
    folder = tmp_path / "vendor"
    folder.mkdir()
    (folder / "x.enc").write_bytes((real_data / HOURLY).read_bytes()[::-1])
    script = "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read()[::-1])"
    good = sources.Source("vendor", "TestLogger", str(folder), "*.enc",
                          decrypt=(sys.executable, "-c", script))
    assert [r.status for r in fetch.fetch_sources([good])] == ["queued"]
    assert worker.run_workers(1).outcomes[0].readings == 15
    failing = sources.Source("broken", None, str(folder), "*.enc", decrypt=(
        sys.executable, "-c", "import sys; sys.exit('no key for this file')"))
    (item,) = fetch.fetch_sources([failing])
    assert item.describe() == (f"broken: x.enc: failed: x.enc: decrypt command "
                               f"{sys.executable!r} of source 'broken' failed (exit 1): no key "
                               "for this file")
    assert count(conn, "fetched WHERE source = 'broken'") == 0  # fetched again next time
    slow = sources.Source("slow", None, str(folder), "*.enc", decrypt=(
        sys.executable, "-c", "import time; time.sleep(30)"), decrypt_timeout=timedelta(
            seconds=0.5))
    with pytest.raises(FetchError, match=r"ran longer than 0.5 s and was stopped; raise "
                       "decrypt_timeout or fix the command"):
        fetch.decrypt(slow, "x.enc", b"data")


@pytest.mark.parametrize("options, message", [
    ('{ password = "hunter2" }', "`password` holds a literal secret; secrets never go in the "
     'sources configuration: write password = "env:NAME"'),
    ('{ client_kwargs = { headers = { Authorization = "Bearer abc" } } }',
     "`Authorization` holds a literal secret"),
    ('{ password = "env:NOT_SET_ANYWHERE" }',
     "`password` reads the environment variable NOT_SET_ANYWHERE, which is not set"),
    ('{ password = "secret:nope" }', "`password` reads 'nope' from the secrets file, which has "
     "no such entry"),
])
def test_sources_config_refuses_literal_secrets(tmp_path, options, message):
    path = tmp_path / "sources.toml"
    path.write_text(f'[[source]]\nname = "s"\nurl = "sftp://u@h/x"\noptions = {options}\n')
    with pytest.raises(ConfigError, match=r"source 's': " + message.replace("(", r"\(")
                       .replace(")", r"\)")):
        sources.load(path)


def test_sources_config_refuses_a_password_in_the_url_and_bad_durations(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text('[[source]]\nname = "s"\nurl = "ftp://u:pw@h/x"\n')
    with pytest.raises(ConfigError, match="the url holds a password; remove it"):
        sources.load(path)
    path.write_text('[[source]]\nname = "s"\nurl = "/x"\nevery = "often"\n')
    with pytest.raises(ConfigError, match='`every` must be a duration such as "90s"'):
        sources.load(path)
    with pytest.raises(ConfigError, match="no sources configuration"):
        sources.load(tmp_path / "missing.toml")


def test_sources_are_due_at_their_interval():
    a = sources.Source("a", None, "/a", every=timedelta(minutes=10))
    b = sources.Source("b", None, "/b", every=timedelta(hours=1))
    now = datetime(2024, 1, 1, 12, tzinfo=UTC)
    assert fetch.due([a, b], {}, now) == [a, b]
    last = {"a": now - timedelta(minutes=10), "b": now - timedelta(minutes=59)}
    assert fetch.due([a, b], last, now) == [a]
