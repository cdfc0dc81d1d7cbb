"""JupyterLab in a real browser: ``stationlab lab --no-browser`` against a database with the demo
mast, Playwright driving the system Chromium through ``notebooks/widgets.ipynb``: the widgets'
plots and tables render in the notebook with every resource from the lab server itself (the
browser reaches nothing else: what it asks of any other host is refused and listed).
Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import pytest

from stationlab import ingest, storage

from .conftest import DEMO, REAL_DATA, REPO, _create_database, _drop_database, calibrated_anemometer
from .test_browser import ARTIFACTS, WAIT, _free_port, browser, largest_canvas  # noqa: F401 (a fixture)

AUTHOR = "lab-test"


def _first_url(server: subprocess.Popen, timeout: float = 120) -> str:
    """The line of ``stationlab lab``'s output that starts with http:// (the URL to open)."""
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in server.stdout], daemon=True
                     ).start()
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            if server.poll() is not None:
                break
            continue
        seen.append(line)
        if line.startswith("http://"):
            return line.strip()
    server.kill()
    pytest.fail("stationlab lab printed no URL:\n" + "".join(seen)
                + (ARTIFACTS / "lab-server.log").read_text())


@pytest.fixture(scope="module")
def lab(pg_server, template_db, tmp_path_factory):
    """``stationlab lab`` on a free port, against a database with the demo mast and one sensor
    with a certificate; yields (the URL it printed, DSN)."""
    name = f"stationlab_lab_{os.getpid()}"
    dsn = _create_database(pg_server, name, template=template_db)
    ingest.import_paths([REAL_DATA / DEMO], dsn=dsn, progress=False)
    with storage.connect(dsn, autocommit=True) as conn:
        calibrated_anemometer(conn)
    # JupyterLab's own settings and workspaces in a scratch folder: autosave off, so running
    # the notebook leaves the repository's copy as it is
    settings = tmp_path_factory.mktemp("lab-settings")
    plugin = settings / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings"
    plugin.parent.mkdir(parents=True)
    plugin.write_text(json.dumps({"autosave": False}))
    env = {**os.environ, "STATIONLAB_DSN": dsn, "STATIONLAB_AUTHOR": AUTHOR,
           "PYTHONPATH": str(REPO), "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path_factory.mktemp("lab-workspaces"))}
    checkpoints = REPO / "notebooks" / ".ipynb_checkpoints"  # made when a notebook is opened
    made_checkpoints = not checkpoints.exists()
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / "lab-server.log").open("w")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "stationlab", "lab", "--no-browser", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
    url = _first_url(server)
    assert url.startswith(f"http://127.0.0.1:{port}/lab?token=")
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail("stationlab lab did not start:\n"
                            + (ARTIFACTS / "lab-server.log").read_text())
            time.sleep(0.5)
    yield url, dsn
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, 9)
        server.wait()
    server.stdout.close()
    if made_checkpoints:
        shutil.rmtree(checkpoints, ignore_errors=True)
    log.close()
    _drop_database(pg_server, name)


@pytest.fixture
def page(browser, lab):  # noqa: F811 (the fixture imported above)
    url, _ = lab
    local = urllib.parse.urlsplit(url).netloc
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(WAIT)
    tab.errors, tab.elsewhere = [], []
    tab.on("console", lambda msg: tab.errors.append(f"{msg.text} ({msg.location.get('url')})")
           if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))

    def only_the_lab(route):  # the machines this runs on reach nothing else either
        if urllib.parse.urlsplit(route.request.url).netloc == local:
            route.continue_()
        else:
            tab.elsewhere.append(route.request.url)
            route.abort()

    context.route(lambda u: urllib.parse.urlsplit(u).scheme in ("http", "https", "ws", "wss"),
                  only_the_lab)
    yield tab
    context.close()


def _shot(page, name: str) -> None:
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=False)


def test_the_widgets_notebook_renders_in_jupyterlab_offline(page, lab):
    url, dsn = lab
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["token"][0]
    page.goto(url.replace("/lab?", "/lab/tree/widgets.ipynb?"))
    page.locator(".jp-RenderedMarkdown h1", has_text="Flags, calibrations and uploads").wait_for()
    # the kernel (stationlab's, named python3) is up before anything runs
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()
    _shot(page, "lab-opened")
    page.get_by_role("menuitem", name="Run").click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    outputs = page.locator(".jp-OutputArea-output")
    # the FlagEditor: its channel choice, its plot (a Bokeh canvas) and its table of flags
    page.locator(".jp-OutputArea-output canvas").first.wait_for(state="attached")
    page.get_by_role("button", name="Save flag").wait_for()
    page.locator(".jp-OutputArea-output .tabulator").first.wait_for(state="attached")
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()
    # every cell ran, none failed
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
                        ).filter(has_text="Traceback").count() == 0
    assert page.locator(".jp-InputArea-prompt", has_text="[*]").count() == 0
    editor = page.locator(".jp-Cell", has=page.get_by_role("button", name="Save flag"))
    editor.scroll_into_view_if_needed()
    box = largest_canvas(editor)
    assert box["width"] > 300 and box["height"] > 150  # drawn, not an empty sliver
    _shot(page, "lab-flag-editor")
    page.get_by_role("button", name="Save calibration").scroll_into_view_if_needed()
    _shot(page, "lab-calibration-editor")
    page.get_by_text("No files uploaded yet.").scroll_into_view_if_needed()
    _shot(page, "lab-upload")
    assert outputs.count() >= 4
    assert page.elsewhere == []  # not cdn.bokeh.org, cdn.holoviz.org, nor anything else
    assert not [e for e in page.errors if "cdn." in e]
    assert token  # the URL carried it, and the lab let the browser in with it
    with storage.connect(dsn, autocommit=True) as conn:  # nothing was written by running it
        assert conn.execute("SELECT count(*) AS n FROM flags").fetchone()["n"] == 0
