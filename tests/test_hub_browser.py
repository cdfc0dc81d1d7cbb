"""An analyst's day through the hub, in a real browser: Playwright driving the system Chromium
logs in through JupyterHub's login form, opens JupyterLab, runs the team's notebooks and works
the widgets with the mouse, as two analysts on their own database roles (the server and the
analysts as :mod:`tests.test_hub` sets them up; one hub for the whole module).

Screenshots of each step go to ``test-artifacts/hub-*.png``; the one of a saved flag is also
kept as ``docs/img/analyst-flag-saved.png``, which the README shows.
"""

from __future__ import annotations

import os
import pwd
import shutil
import urllib.parse
from pathlib import Path

import pytest
from click.testing import CliRunner

from stationlab import storage
from stationlab.cli import main

from .conftest import REAL_DATA, REPO, calibrated_anemometer
from .test_browser import ARTIFACTS, WAIT, browser, largest_canvas  # noqa: F401 (a fixture)
from .test_hub import (  # noqa: F401 (fixtures)
    analysts,
    auth_server,
    hub_python,
    running_hub,
    scratch,
)

pytestmark = pytest.mark.hub

#: This module's own analysts (tests/test_hub.py may run beside it with its own).
ANALYSTS = ("stl_hbr_a", "stl_hbr_b")
NOTEBOOKS = ("flag_period.ipynb", "calibrate_sensor.ipynb", "widgets.ipynb")
README_SHOT = REPO / "docs" / "img" / "analyst-flag-saved.png"
#: A first login spawns the analyst's server, and its first kernel imports the stack. [ms]
SPAWN_WAIT = 240_000
REASON = "iced cups, seen on the camera"


@pytest.fixture(scope="module")
def hub(scratch, hub_python, analysts, auth_server):  # noqa: F811 (the fixtures imported above)
    """One hub for the module, and the team's notebooks in each analyst's home (as an
    administrator hands them out)."""
    for name in analysts:
        entry = pwd.getpwnam(name)
        for notebook in NOTEBOOKS:
            copy = Path(entry.pw_dir) / notebook
            shutil.copy(REPO / "notebooks" / notebook, copy)
            os.chown(copy, entry.pw_uid, entry.pw_gid)
    with running_hub(scratch, hub_python, analysts, auth_server[1], auth_server[0]) as started:
        yield started


@pytest.fixture(scope="module")
def sessions(browser, hub):  # noqa: F811 (the fixture imported above)
    """One browser context per analyst, logged in on first use; the browser reaches the hub
    and nothing else (what it asks of any other host is refused and listed)."""
    local = urllib.parse.urlsplit(hub.url).netloc
    opened = {}

    def session(name: str):
        if name in opened:
            return opened[name]
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        tab.set_default_timeout(WAIT)
        tab.errors, tab.elsewhere = [], []
        tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))

        def only_the_hub(route):
            if urllib.parse.urlsplit(route.request.url).netloc == local:
                route.continue_()
            else:
                tab.elsewhere.append(route.request.url)
                route.abort()

        context.route(lambda u: urllib.parse.urlsplit(u).scheme in ("http", "https", "ws",
                                                                      "wss"), only_the_hub)
        _log_in(tab, hub, name)
        opened[name] = tab
        return tab

    yield session
    for tab in opened.values():
        tab.context.close()


def _shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"hub-{name}.png"
    page.screenshot(path=path, full_page=False)
    return path


def _log_in(page, hub, name: str) -> None:
    """Through the hub's login form (the test hub takes any password) to JupyterLab."""
    page.goto(f"{hub.url}/user/{name}/lab")
    page.locator("#username_input").fill(name)
    page.locator("#password_input").fill("a password")
    _shot(page, f"login-{name}")
    page.locator("#login_submit").click()
    # the hub says the analyst's server is not running yet, with a button to start it
    page.locator("#start").click()
    page.locator("#jp-main-dock-panel").wait_for(timeout=SPAWN_WAIT)  # JupyterLab, spawned
    assert page.url.startswith(f"{hub.url}/user/{name}/lab")


def _run_notebook(page, hub, name: str, notebook: str, title: str) -> None:
    """Open a notebook in the analyst's JupyterLab and run all its cells; none fails."""
    page.goto(f"{hub.url}/user/{name}/lab/tree/{notebook}")
    page.locator(".jp-RenderedMarkdown h1", has_text=title).wait_for(timeout=SPAWN_WAIT)
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']:visible").wait_for(
        timeout=SPAWN_WAIT)
    # A kernel that shows idle may not take requests yet: a Run All sent then is lost (seen in
    # CI: every prompt still "[ ]", the kernel idle). Run All again until a cell starts.
    started = ("(() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) "
               ".jp-CodeCell .jp-InputArea-prompt')].some(e => /[*0-9]/.test(e.textContent)))()")
    for attempt in range(1, 5):
        page.get_by_role("menuitem", name="Run").click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            page.wait_for_function(started, timeout=30_000)
            break
        except Exception:
            if attempt == 4:
                _shot(page, f"not-started-{name}-{notebook}")
                raise
    # every code cell has run: none waiting ("[*]"), the last one numbered
    try:
        page.wait_for_function("(() => { const p = [...document.querySelectorAll("
                               "'.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell "
                               ".jp-InputArea-prompt')].map(e => e.textContent);"
                               " return p.length > 0 && !p.some(t => t.includes('*'))"
                               " && /[0-9]/.test(p[p.length - 1]); })()", timeout=SPAWN_WAIT)
    except Exception:
        _shot(page, f"not-run-{name}-{notebook}")  # where it stopped
        raise
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']:visible").wait_for(
        timeout=SPAWN_WAIT)
    tracebacks = page.locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    ).filter(has_text="Traceback")
    assert tracebacks.count() == 0, tracebacks.first.inner_text()


def _cell_with(page, button: str):
    """The notebook cell whose output holds a widget with this button."""
    cell = page.locator(".jp-Cell", has=page.get_by_role("button", name=button))
    cell.scroll_into_view_if_needed()
    return cell


def _flags(owner: str) -> list[dict]:
    with storage.connect(owner, autocommit=True) as conn:
        return conn.execute("SELECT flag_id, code, reason, author, deleted_at, ts_from, ts_to "
                            "FROM flags ORDER BY flag_id").fetchall()


@pytest.mark.timeout(900)  # two first logins, each spawning a server on a busy 2-core machine
def test_a_flags_a_period_with_the_mouse_b_sees_it_and_cannot_remove_it(
        sessions, hub, analysts, auth_server):  # noqa: F811 (fixtures)
    owner = auth_server[0]
    a, b = analysts
    page = sessions(a)
    _shot(page, "lab-a")
    _run_notebook(page, hub, a, "flag_period.ipynb", "Flag a period")
    editor = _cell_with(page, "Save flag")
    editor.locator(".tabulator").wait_for()
    canvas = largest_canvas(editor)
    assert canvas["width"] > 300 and canvas["height"] > 150  # drawn, not an empty sliver
    _shot(page, "flag-notebook-a")
    # drag across the plot with the box-select tool (active): From and To follow
    y = canvas["y"] + canvas["height"] / 2
    page.mouse.move(canvas["x"] + canvas["width"] * 0.35, y)
    page.mouse.down()
    page.mouse.move(canvas["x"] + canvas["width"] * 0.55, y, steps=8)
    page.mouse.up()
    start = editor.get_by_label("From (UTC)")
    page.wait_for_function("el => el.value.startsWith('2016-01-')", arg=start.element_handle())
    editor.get_by_placeholder("why").fill(REASON)
    editor.get_by_placeholder("why").press("Enter")
    _shot(page, "flag-dragged-a")
    editor.get_by_role("button", name="Save flag").click()
    editor.get_by_text("Flagged bad on 1 channel(s)").wait_for()
    editor.locator(".tabulator-cell", has_text=REASON).wait_for()
    path = _shot(page, "flag-saved-a")
    README_SHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, README_SHOT)
    [row] = _flags(owner)
    assert (row["code"], row["reason"], row["author"], row["deleted_at"]) == (
        "bad", REASON, a, None)  # as A's own role
    # the drag covered part of the plotted period (2016-01-09 15:20 to 2016-01-10 23:40)
    assert row["ts_from"] < row["ts_to"]
    assert str(row["ts_from"].date()) in ("2016-01-09", "2016-01-10")

    # B, in B's own JupyterLab and notebook, sees A's flag: in the table and on the plot
    page = sessions(b)
    _run_notebook(page, hub, b, "flag_period.ipynb", "Flag a period")
    editor = _cell_with(page, "Save flag")
    mine = editor.locator(".tabulator-row", has_text=REASON)
    mine.wait_for()
    assert a in mine.inner_text()
    _shot(page, "flag-seen-by-b")
    # B picks A's flag and tries to remove it: PostgreSQL refuses, the widget says why
    mine.locator(".tabulator-cell[tabulator-field='reason']").click()
    # the row shows as picked before the button is pressed (a click on a table still being
    # laid out picks nothing, and the widget then rightly says to pick a flag first)
    editor.locator(".tabulator-row.tabulator-selected", has_text=REASON).wait_for()
    editor.get_by_role("button", name="Remove selected flag").click()
    editor.get_by_text(f"Not removed: flag {row['flag_id']} belongs to {a}; only its author "
                       "can remove it").wait_for()
    _shot(page, "flag-remove-refused-b")
    assert _flags(owner)[0]["deleted_at"] is None
    assert editor.get_by_text("Traceback").count() == 0
    for tab in (sessions(a), sessions(b)):
        # nothing from a CDN nor from anywhere else: not a script, not one of the stylesheets
        # Panel asks for after the first render (loading.css, the theme's default.css, ...)
        (ARTIFACTS / "hub-elsewhere.txt").write_text("\n".join(sorted(set(tab.elsewhere))))
        assert tab.elsewhere == []
        assert tab.errors == []


def test_a_calibrator_corrects_a_certificate_in_jupyterlab(sessions, hub, analysts,  # noqa: F811
                                                            auth_server):  # noqa: F811
    owner = auth_server[0]
    a = analysts[0]
    with storage.connect(owner, autocommit=True) as conn:
        sensor = calibrated_anemometer(conn)
    result = CliRunner().invoke(main, ["db", "grant-analyst", a, "--calibrations"],
                                env={"STATIONLAB_DSN": owner})
    assert result.exit_code == 0, result.output
    page = sessions(a)
    _run_notebook(page, hub, a, "calibrate_sensor.ipynb", "Correct a sensor's calibration")
    editor = _cell_with(page, "Save calibration")
    editor.locator(".tabulator-cell[tabulator-field='calibration_id']").first.click()
    slope = editor.get_by_label("Slope")
    page.wait_for_function("el => el.value === '0.04577'", arg=slope.element_handle())
    slope.fill("0.0458")
    slope.press("Enter")
    # in JupyterLab the field's value goes to the kernel only when the field is left: with the
    # click on Preview, in the same comm message (the widget takes it before previewing)
    editor.get_by_role("button", name="Preview").click()
    editor.get_by_text("readings change").wait_for()
    assert editor.get_by_text("Preview: 564 of 564 readings change").count() == 1
    _shot(page, "calibration-preview-a")
    editor.get_by_role("button", name="Save calibration").click()
    editor.get_by_text("Saved calibration").wait_for()
    editor.locator(".tabulator-cell[tabulator-field='slope']", has_text="0.0458").wait_for()
    _shot(page, "calibration-saved-a")
    with storage.connect(owner, autocommit=True) as conn:
        rows = conn.execute("SELECT slope, author FROM calibrations WHERE sensor_id = %s",
                            (sensor,)).fetchall()
    assert rows == [{"slope": 0.0458, "author": a}]  # corrected, as A's own role
    assert page.errors == []


def test_an_upload_in_a_notebook_says_what_became_of_the_file(
        sessions, hub, analysts, auth_server):  # noqa: F811
    b = analysts[1]
    page = sessions(b)
    _run_notebook(page, hub, b, "widgets.ipynb", "Flags, calibrations and uploads")
    # the widget's cell (by its file input: the "No files uploaded yet." goes with the upload)
    upload = page.locator(".jp-Cell", has=page.locator("input[type=file]"))
    upload.get_by_text("No files uploaded yet.").wait_for()
    upload.scroll_into_view_if_needed()
    upload.locator("input[type=file]").set_input_files(
        REAL_DATA / "campbell_toa5/pytoa5/TestLogger_Hourly_1.dat")
    # analysts read and flag; files come in through the pipelines' role: the widget says so
    upload.get_by_text(f"TestLogger_Hourly_1.dat: failed: {b} may not bring files into the "
                       "database").wait_for()
    _shot(page, "upload-b")
    assert upload.get_by_text("Traceback").count() == 0
    with storage.connect(auth_server[0], autocommit=True) as conn:
        assert conn.execute("SELECT count(*) AS n FROM files WHERE source = 'upload'"
                            ).fetchone()["n"] == 0
    assert page.errors == []
