"""The dashboards and widgets in a real browser: Playwright driving the system Chromium against
``stationlab dashboard`` on 127.0.0.1. Screenshots go to ``test-artifacts/``.

Chromium comes from Debian (``apt-get install chromium``; ``.ci/run`` installs it); never from
``playwright install``. Without it these tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from stationlab import ingest, storage

from .conftest import DEMO, REPO, _create_database, _drop_database, calibrated_anemometer

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
ARTIFACTS = REPO / "test-artifacts"
AUTHOR = "browser-test"
#: Waiting for the browser, not a timing assertion: generous, for a busy 2-core machine. [ms]
WAIT = 60_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(pg_server, template_db, real_data_dir):
    """``stationlab dashboard`` serving a database with the demo mast and one calibrated
    anemometer; yields (base URL, DSN)."""
    name = f"stationlab_browser_{os.getpid()}"
    dsn = _create_database(pg_server, name, template=template_db)
    ingest.import_paths([real_data_dir / DEMO], dsn=dsn, progress=False)
    with storage.connect(dsn, autocommit=True) as conn:
        calibrated_anemometer(conn)
    with _dashboard(dsn, "dashboard-server.log") as url:
        yield url, dsn
    _drop_database(pg_server, name)


@contextlib.contextmanager
def _dashboard(dsn: str, log_name: str):
    """``stationlab dashboard`` on a free port of 127.0.0.1 serving ``dsn``; yields its URL."""
    port = _free_port()
    env = {**os.environ, "STATIONLAB_DSN": dsn, "STATIONLAB_AUTHOR": AUTHOR,
           "PYTHONPATH": str(REPO)}
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / log_name).open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "stationlab", "-v", "dashboard", "--port", str(port), "--address",
         "127.0.0.1"], env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                urllib.request.urlopen(url, timeout=5).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("stationlab dashboard did not start:\n"
                                + (ARTIFACTS / log_name).read_text())
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def real_data_dir():
    from .conftest import REAL_DATA

    if not REAL_DATA.is_dir():
        pytest.fail(f"the real sample files are missing: {REAL_DATA}")
    return REAL_DATA


@pytest.fixture
def page(browser, site):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(WAIT)
    tab.errors = []
    tab.on("console", lambda msg: tab.errors.append(f"{msg.text} ({msg.location.get('url')})")
           if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    yield tab
    context.close()


def _open(page, url: str, title: str) -> None:
    page.goto(url)
    page.locator("h1", has_text=title).wait_for()
    page.wait_for_load_state("networkidle")


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def _query(dsn: str, sql: str) -> list[dict]:
    with storage.connect(dsn, autocommit=True) as conn:
        return conn.execute(sql).fetchall()


def test_index_and_dashboards_render_without_console_errors(page, site):
    from stationlab.dashboards import TITLES

    url, _ = site
    page.goto(url)
    page.wait_for_load_state("networkidle")
    for route in TITLES:
        assert page.locator(f"a[href*='{route}']").count() >= 1, route
    _shot(page, "index")
    _open(page, f"{url}/health", "Station health")
    page.get_by_text("some_site / some_site (last reading 2016-01-10 23:40").wait_for()
    _shot(page, "health")
    _open(page, f"{url}/recovery", "Data recovery")
    page.locator("canvas").first.wait_for()
    _shot(page, "recovery")
    _open(page, f"{url}/explorer", "Station explorer")
    page.get_by_text("Monthly means (clean)").wait_for()
    _shot(page, "explorer")
    assert page.errors == []


def largest_canvas(cell, timeout=60.0) -> dict:
    """The bounding box of the biggest canvas in the cell once Bokeh has laid the plot out
    (until then its canvases have no box, or a small one)."""
    deadline = time.monotonic() + timeout
    while True:
        boxes = [box for c in cell.locator("canvas").all() if (box := c.bounding_box())]
        best = max(boxes, key=lambda box: box["width"] * box["height"], default=None)
        if best and best["width"] > 300 and best["height"] > 150 \
                or time.monotonic() > deadline:
            return best or {"width": 0, "height": 0}
        time.sleep(0.5)


def test_drag_a_range_and_save_a_flag(page, site):
    url, dsn = site
    _open(page, f"{url}/flags", "Flag editor")
    canvas = largest_canvas(page)
    y = canvas["y"] + canvas["height"] / 2
    page.mouse.move(canvas["x"] + canvas["width"] * 0.35, y)
    page.mouse.down()
    page.mouse.move(canvas["x"] + canvas["width"] * 0.55, y, steps=8)
    page.mouse.up()
    page.get_by_placeholder("why").fill("iced cups, seen on camera")
    page.get_by_placeholder("why").press("Enter")
    _shot(page, "flag-dragged")
    page.get_by_role("button", name="Save flag").click()
    page.locator(".tabulator-cell", has_text="iced cups, seen on camera").wait_for()
    page.get_by_text("Flagged bad on 1 channel(s)").wait_for()
    _shot(page, "flag-saved")
    rows = _query(dsn, "SELECT code, reason, author, ts_from, ts_to FROM flags")
    assert [(r["code"], r["reason"], r["author"]) for r in rows] == [
        ("bad", "iced cups, seen on camera", AUTHOR)]
    # the drag covered part of the plotted period (2016-01-09 15:20 to 2016-01-10 23:40)
    assert rows[0]["ts_from"] < rows[0]["ts_to"]
    assert str(rows[0]["ts_from"].date()) in ("2016-01-09", "2016-01-10")
    assert page.errors == []


def test_edit_a_calibration(page, site):
    url, dsn = site
    _open(page, f"{url}/calibration", "Calibration editor")
    page.locator(".tabulator-cell[tabulator-field='calibration_id']").first.click()
    slope = page.locator("input").first  # sensor is a <select>; slope is the first input
    expect(slope).to_have_value("0.04577", timeout=WAIT)
    slope.fill("0.05")
    slope.press("Enter")
    page.get_by_role("button", name="Preview").click()
    page.get_by_text("readings change").wait_for()
    _shot(page, "calibration-preview")
    page.get_by_role("button", name="Save calibration").click()
    page.get_by_text("Saved calibration 1.").wait_for()
    page.locator(".tabulator-cell", has_text="0.05").first.wait_for()
    _shot(page, "calibration-saved")
    assert _query(dsn, "SELECT slope, author FROM calibrations") == [
        {"slope": 0.05, "author": AUTHOR}]
    assert page.errors == []


def test_upload_a_file(page, site, real_data_dir):
    url, dsn = site
    _open(page, f"{url}/upload", "Upload logger files")
    page.locator("input[type=file]").set_input_files(
        real_data_dir / "campbell_toa5/pytoa5/TestLogger_Hourly_1.dat")
    page.get_by_text("TestLogger_Hourly_1.dat: imported").wait_for()
    _shot(page, "upload")
    assert _query(dsn, "SELECT name, status, source FROM files WHERE source = 'upload'") == [
        {"name": "TestLogger_Hourly_1.dat", "status": "imported", "source": "upload"}]
    assert page.errors == []


@pytest.fixture(scope="module")
def faulty_site(pg_server, template_db, tmp_path_factory):
    """``stationlab dashboard`` serving the demo mast with two failed sensors: a cup frozen for
    12 hours (plotted at first) and a temperature probe reading -999, flagged by hand; yields
    the base URL."""
    from tests import faults

    name = f"stationlab_browser_health_{os.getpid()}"
    dsn = _create_database(pg_server, name, template=template_db)
    folder = tmp_path_factory.mktemp("faulty")
    ingest.import_paths([faults.write(folder / "faulty.csv", changes=[
        ("Spd80mN", 72, 0, lambda v: "4.2"), ("T2m", 90, 0, lambda v: "-999")])],
        dsn=dsn, progress=False)
    import stationlab

    with stationlab.connect(dsn) as client:
        client.station("some_site").add_flag("2016-01-10 12:00", "2016-01-10 18:00", "bad",
                                             point="T2m", reason="probe broken")
    with _dashboard(dsn, "dashboard-health-server.log") as url:
        yield url
    _drop_database(pg_server, name)


#: The flag bands drawn in the plot titled ``title`` (HoloViews' VSpans are Bokeh VStrip
#: glyphs): each band's [x0, x1] [ms since 1970, the plot's naive UTC], or null without the plot.
SPANS_OF = """title => {
    const models = Bokeh.documents.flatMap(doc => [...doc._all_models.values()]);
    const plot = models.find(m => m.title && m.title.text === title && m.renderers);
    if (!plot) return null;
    return plot.renderers.filter(r => r.glyph && r.glyph.type === "VStrip")
        .flatMap(r => Array.from(r.data_source.data.x0, (x0, i) =>
            [x0, r.data_source.data.x1[i]]));
}"""


def test_click_a_failed_sensor_and_see_its_plot_with_its_flags(page, faulty_site):
    _open(page, f"{faulty_site}/health", "Station health")
    table = page.locator(".sensor-table")
    cup, probe = "Speed 80m 0deg Mean [m/s]", "Temperature 2m Sample [C]"
    for sensor in (cup, probe):  # both failed, in red
        row = table.locator(".tabulator-row", has=page.locator(
            ".tabulator-cell[tabulator-field='name']", has_text=sensor))
        expect(row.locator(".tabulator-cell[tabulator-field='state']")).to_have_text(
            "failed", timeout=WAIT)
    plot = page.locator(".sensor-plot")
    expect(plot).to_contain_text(f"{cup} at some_site: failed, flat line at 4.2", timeout=WAIT)
    table.locator(".tabulator-cell[tabulator-field='name']", has_text=probe).click()
    expect(plot).to_contain_text(f"{probe} at some_site: failed, flat line at -999.0",
                                 timeout=WAIT)
    title = f"some_site: {probe} with its flags"
    page.wait_for_function(f"({SPANS_OF})({title!r}) !== null", timeout=WAIT)
    largest_canvas(plot)
    _shot(page, "health-sensor-clicked")
    flagged = [datetime(2016, 1, 10, 12, tzinfo=UTC), datetime(2016, 1, 10, 18, tzinfo=UTC)]
    assert page.evaluate(f"({SPANS_OF})({title!r})") == [  # the hand flag, one band
        [stamp.timestamp() * 1000 for stamp in flagged]]
    assert page.errors == []
