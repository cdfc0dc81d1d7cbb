"""Every notebook in the repository runs: the six jobs through `stationlab pipelines due` on the
sample data, the analyst notebooks with papermill."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import papermill
import pytest

from stationlab import pipelines, storage
from tests.conftest import REPO

NOTEBOOKS = REPO / "notebooks"
JOBS = {"import", "clean", "export", "health", "report", "backup"}
ANALYST = ["explore_station.ipynb", "flag_period.ipynb", "calibrate_sensor.ipynb",
           "widgets.ipynb", "brightwind_shear.ipynb"]
#: Parameters a headless run gives (the notebook's own defaults otherwise).
PARAMETERS = {"flag_period.ipynb": {"start": "2016-01-09 18:00", "end": "2016-01-09 20:00",
                                    "code": "icing", "reason": "rime on the cups (example)"},
              "calibrate_sensor.ipynb": {"serial_number": "SN-Spd80mN"}}
#: The cells that end in a widget, per notebook (their last line).
WIDGETS = {"flag_period.ipynb": ["editor"], "calibrate_sensor.ipynb": ["editor"],
           "widgets.ipynb": ["flags", "calibrations", "UploadWidget()"],
           "explore_station.ipynb": ["explorer.series(winds)", "explorer.rose(winds)",
                                     "recovery.heatmap(False) + recovery.heatmap(True)"]}
#: Run per station by stationlab.report (from the report job, tests/test_report.py).
REPORTS = ["station_report.ipynb"]


def test_every_notebook_is_covered_and_has_a_parameters_cell():
    found = {p.name for p in NOTEBOOKS.glob("*.ipynb")}
    assert found == {f"{j}.ipynb" for j in JOBS} | set(ANALYST) | set(REPORTS)
    for name in found:
        assert papermill.inspect_notebook(str(NOTEBOOKS / name)), name


def test_due_runs_the_six_jobs_on_the_sample_data(db, tmp_path, monkeypatch):
    monkeypatch.setenv("STATIONLAB_HOME", str(tmp_path / "home"))
    cfg = pipelines.load_config(REPO / "pipelines" / "schedule.toml")
    assert set(cfg.jobs) == JOBS
    now = datetime.now(UTC)  # one clock for both rounds (a cron minute may pass between them)
    results = pipelines.run_due(cfg, now)
    assert {r.job: r.status for r in results} == dict.fromkeys(JOBS, "success"), \
        [r.error for r in results]
    for result in results:
        assert Path(result.output_path).is_file()
    exports = sorted(p.relative_to(tmp_path / "home" / "exports").as_posix()
                     for p in (tmp_path / "home" / "exports").rglob("*.txt"))
    assert exports == ["TestLogger/TestLogger.clean.windographer.txt",
                       "TestLogger/TestLogger.windographer.txt",
                       "some_site/some_site.clean.windographer.txt",
                       "some_site/some_site.windographer.txt"]
    raw = list((tmp_path / "home" / "raw").rglob("*"))
    assert sum(p.is_file() for p in raw) >= 3  # the imported files went through the raw store
    backups = list((tmp_path / "home" / "backups").glob("stationlab-*.dump"))
    assert len(backups) == 1
    history = pipelines.history()
    assert sorted(history["job"]) == sorted(JOBS)
    with storage.connect() as conn:
        quiet = storage.alerts.alerts(conn)
    # the sample loggers (the demo mast, the TestLogger) stopped years ago: one incident each
    assert quiet["kind"].to_list() == ["logger_quiet"] * 2
    assert quiet["subject"].str.contains("some_site").sum() == 1
    assert quiet["link"].str.contains("/runs/health/").all()
    assert pipelines.run_due(cfg, now) == []
    later = [job.name for job, _ in pipelines.due_jobs(cfg, now + timedelta(minutes=30))]
    assert "import" in later


@pytest.mark.parametrize("name", ANALYST)
def test_analyst_notebooks_run(name, mast, conn, tmp_path):
    import nbformat

    from tests.test_calibration import install_anemometer

    if name == "calibrate_sensor.ipynb":  # a sensor with its certificate to show
        install_anemometer(conn, "Spd80mN", (0.04577, 0.2528, "-infinity", "infinity"))
    if name == "explore_station.ipynb":  # flags drawn under the curves, one on the station
        ts = mast.readings(types=["wind_speed"])["ts"].unique().sort()
        speed = mast.readings(types=["wind_speed"])["channel_id"][0]
        mast.add_flag(ts[0], ts[3], "icing", reason="rime", channel=speed)
        mast.add_flag(ts[20], ts[21], "maintenance", reason="visit")
    out = tmp_path / name
    papermill.execute_notebook(str(NOTEBOOKS / name), str(out), progress_bar=False,
                               cwd=str(NOTEBOOKS), parameters=PARAMETERS.get(name, {}))
    if name == "flag_period.ipynb":
        flags = mast.flags()
        assert flags["code"].to_list() == ["icing"]
    # each widget and plot displayed as a Panel/HoloViews model (not text, no error)
    cells = [cell for cell in nbformat.read(out, as_version=4).cells
             if cell.cell_type == "code" and cell.source.splitlines()[-1] in WIDGETS.get(name, [])]
    assert len(cells) == len(WIDGETS.get(name, [])), name
    for cell in cells:
        kinds = {kind for output in cell.outputs for kind in output.get("data", {})}
        assert "application/vnd.holoviews_exec.v0+json" in kinds, cell.source
    if name == "brightwind_shear.ipynb":  # brightwind's numbers on the demo file, its way
        check_brightwind_summary(out)


def check_brightwind_summary(out):
    """The notebook's shear and monthly means (of ``to_brightwind``) are brightwind's own on
    the demo file as brightwind loads it (nothing is flagged, no calibration is known)."""
    import nbformat

    from tests.test_brightwind import brightwind_data, bw

    cells = nbformat.read(out, as_version=4).cells
    [summary] = [cell for cell in cells if "summary" in cell.metadata.get("tags", [])]
    figures = [cell.source.splitlines()[0] for cell in cells if cell.cell_type == "code"
               and any("image/png" in output.get("data", {}) for output in cell.outputs)]
    assert [line.split("(")[0] for line in figures] == ["average = bw.Shear.Average",
                                                          "plot, means = bw.monthly_means"]
    text = "".join(output.get("text", "") for output in summary.outputs)
    data = brightwind_data()[["Spd80mN", "Spd60mN", "Spd40mN"]]
    alpha = bw.Shear.Average(data, [80, 60, 40], min_speed=3.0).alpha
    means = bw.monthly_means(data, return_data=True)[1]
    import matplotlib.pyplot as plt

    plt.close("all")
    lines = text.splitlines()
    assert lines[0] == f"shear exponent (power law, mean profile): {alpha:.6f}"
    assert lines[1] == "monthly mean wind speeds [m/s]:"
    assert lines[2].split() == ["Spd80mN", "Spd60mN", "Spd40mN"]
    month, *values = lines[4].split()
    assert month == "2016-01-01" and len(means) == 1
    assert [float(v) for v in values] == pytest.approx(list(means.iloc[0]), abs=5e-5)
