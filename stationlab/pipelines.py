"""Scheduled notebook jobs: a schedule (TOML), a runner (papermill), run history and alerts.

The schedule names each job's notebook, its parameters and when it runs (a cron expression)::

    max_parallel = 2                 # jobs run at once by `stationlab pipelines due`
    notebooks = "../notebooks"       # relative to this file

    [jobs.import]
    notebook = "import.ipynb"
    cron = "*/30 * * * *"
    parameters = { folder = "$STATIONLAB_HOME/incoming" }   # $VARS are expanded

    [jobs.clean]
    notebook = "clean.ipynb"
    cron = "5 * * * *"
    after = ["import"]               # in one `due` batch, wait for these first

    [jobs.backup]
    notebook = "backup.ipynb"
    cron = "15 3 * * *"
    dsn = "$STATIONLAB_BACKUP_DSN"   # this job's database role (default: the runner's)

    [health]
    quiet_after_hours = 26
    stations = { remote_mast = 72 }  # per-station thresholds [h]
    low_voltage = 11.5               # and the rest of stationlab.health.LOGGER_DEFAULTS
    sensor_suspect_alerts = false    # also alert suspect sensors

    [alerts]  ...                    # see stationlab.alerts

Each run keeps its executed notebook under ``$STATIONLAB_HOME/runs/JOB/``, is recorded in
``pipeline_runs`` and holds a PostgreSQL advisory lock for its job, so the same job never runs
twice at once (no broker). A failed run raises an alert once per incident; a later success
closes it. The runner and its jobs connect as ``STATIONLAB_DSN`` says, best a role made by
``stationlab db grant-pipeline NAME`` (data, not schema); a job with a ``dsn`` of its own uses that
(the backup's restore proof creates a scratch database, which the pipeline role may not).
The configuration file is found through ``--config``, ``$STATIONLAB_PIPELINES`` or
``./pipelines/schedule.toml``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from stationlab import alerts, config, storage
from stationlab.errors import ConfigError, StationlabError

logger = logging.getLogger(__name__)

DEFAULT_CONFIG = Path("pipelines") / "schedule.toml"


@dataclass(frozen=True)
class Job:
    """One scheduled notebook."""

    name: str
    notebook: Path
    cron: str | None = None
    parameters: dict = field(default_factory=dict)
    after: tuple[str, ...] = ()
    dsn: str | None = None  # the job's own database role, if not the runner's


@dataclass(frozen=True)
class Config:
    """The pipelines configuration (see the module docstring)."""

    path: Path | None
    jobs: dict[str, Job]
    max_parallel: int = 2
    alerts: alerts.AlertSettings = field(default_factory=alerts.AlertSettings)
    quiet_after: timedelta = timedelta(hours=26)
    quiet_thresholds: dict[str, timedelta] = field(default_factory=dict)
    health: dict = field(default_factory=dict)  # [health] as written (logger health settings)

    def job(self, name: str) -> Job:
        if name not in self.jobs:
            known = ", ".join(self.jobs) or "none"
            raise ConfigError(f"no job {name!r} in {self.path}; jobs: {known}")
        return self.jobs[name]


def config_path(path: str | os.PathLike | None = None) -> Path:
    """The configuration file: ``path``, ``$STATIONLAB_PIPELINES`` or ./pipelines/schedule.toml."""
    return Path(path or os.environ.get("STATIONLAB_PIPELINES") or DEFAULT_CONFIG).absolute()


def _expand(value):
    if isinstance(value, str):
        return os.path.expandvars(value)
    if isinstance(value, list):
        return [_expand(v) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    return value


def load_config(path: str | os.PathLike | None = None, *, missing_ok: bool = False) -> Config:
    """Read the pipelines configuration; with ``missing_ok`` an absent file means no jobs."""
    file = config_path(path)
    if not file.is_file():
        if missing_ok:
            return Config(None, {})
        raise ConfigError(f"no pipelines configuration at {file}; pass --config or set "
                          "STATIONLAB_PIPELINES")
    try:
        data = tomllib.loads(file.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    folder = file.parent / data.get("notebooks", ".")
    jobs = {}
    for name, table in data.get("jobs", {}).items():
        if "notebook" not in table:
            raise ConfigError(f"{file}: job {name!r} needs a notebook")
        cron = table.get("cron")
        if cron is not None:
            from croniter import croniter

            if not croniter.is_valid(cron):
                raise ConfigError(f"{file}: job {name!r}: {cron!r} is not a cron expression "
                                  "(minute hour day month weekday, e.g. '*/30 * * * *')")
        after = tuple(table.get("after", ()))
        unknown = [a for a in after if a not in jobs]
        if unknown:
            raise ConfigError(f"{file}: job {name!r} runs after {', '.join(unknown)}, which "
                              "must be defined before it")
        dsn = _expand(table.get("dsn") or "") or None
        if dsn and dsn.startswith("$"):  # a variable that is not set: the runner's role
            logger.info("job %s: %s is not set; it connects as the runner does", name, dsn)
            dsn = None
        jobs[name] = Job(name, (folder / table["notebook"]).resolve(), cron,
                         _expand(dict(table.get("parameters", {}))), after, dsn)
    health = data.get("health", {})
    max_parallel = int(data.get("max_parallel", 2))
    if max_parallel < 1:
        raise ConfigError(f"{file}: max_parallel must be at least 1, not {max_parallel}")
    return Config(file, jobs, max_parallel, alerts.settings_from(data.get("alerts")),
                  timedelta(hours=float(health.get("quiet_after_hours", 26))),
                  {k: timedelta(hours=float(v)) for k, v in health.get("stations", {}).items()},
                  dict(health))


@dataclass(frozen=True)
class RunContext:
    """What a notebook learns about the run executing it (from the environment)."""

    config: Config
    run_id: int | None
    output_path: str | None

    @property
    def link(self) -> str | None:
        return alerts.link_for(self.config.alerts, self.output_path)


def run_context() -> RunContext:
    """The run executing this notebook (``run_id`` None outside a pipeline run)."""
    run_id = os.environ.get("STATIONLAB_RUN_ID")
    return RunContext(load_config(missing_ok=True), int(run_id) if run_id else None,
                      os.environ.get("STATIONLAB_RUN_OUTPUT"))


@dataclass(frozen=True)
class RunResult:
    """The outcome of one run of a job."""

    job: str
    status: str  # "success", "failed" or "skipped" (the job was already running)
    run_id: int | None = None
    output_path: str | None = None
    error: str | None = None
    duration_s: float | None = None
    alert_id: int | None = None

    def describe(self) -> str:
        if self.status == "skipped":
            return f"{self.job}: skipped, already running elsewhere"
        text = f"{self.job}: {self.status} in {self.duration_s:.1f} s (run {self.run_id}), " \
               f"notebook {self.output_path}"
        if self.error:
            text += f"\n    {self.error}"
        if self.alert_id:
            text += f"\n    alert {self.alert_id} raised"
        return text


@contextlib.contextmanager
def _environment(**values):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update({k: v for k, v in values.items() if v is not None})
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _error_text(exc: BaseException) -> str:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
    return f"{type(exc).__name__}: {exc}"


def run_job(cfg: Config, name: str, *, parameters: dict | None = None,
            scheduled_for: datetime | None = None, dsn: str | None = None,
            progress: bool = False) -> RunResult:
    """Run a job's notebook now with papermill, unless the job is already running.

    Parameters
    ----------
    parameters
        Override the schedule's parameters.
    scheduled_for
        The cron time this run is for (``pipelines due``); None for a manual run.
    dsn
        The database (default: the environment's); the notebook gets it as ``STATIONLAB_DSN``.
    """
    import papermill

    job = cfg.job(name)
    params = {**job.parameters, **(parameters or {})}
    started = datetime.now(UTC)
    output = config.home() / "runs" / name / f"{started:%Y%m%dT%H%M%S%fZ}-{job.notebook.name}"
    with storage.connect(dsn, autocommit=True) as conn, \
            storage.runs.job_lock(dsn, name) as locked:
        if not locked:
            logger.warning("job %s is already running; not started again", name)
            return RunResult(name, "skipped")
        run_id = storage.runs.start_run(conn, name, str(job.notebook), params, str(output),
                                        socket.gethostname(), scheduled_for)
        output.parent.mkdir(parents=True, exist_ok=True)
        error = None
        logger.info("run %s: job %s, notebook %s -> %s", run_id, name, job.notebook, output)
        env = {"STATIONLAB_RUN_ID": str(run_id), "STATIONLAB_RUN_OUTPUT": str(output),
               "STATIONLAB_PIPELINES": str(cfg.path) if cfg.path else None,
               "STATIONLAB_DSN": job.dsn or dsn or None}
        try:
            if not job.notebook.is_file():
                raise ConfigError(f"job {name!r}: notebook {job.notebook} does not exist")
            with _environment(**env):
                papermill.execute_notebook(str(job.notebook), str(output), parameters=params,
                                           progress_bar=progress, cwd=str(job.notebook.parent))
        except Exception as exc:  # any failure of the notebook is the run's outcome
            error = _error_text(exc)
            logger.error("run %s of job %s failed: %s", run_id, name, error)
        row = storage.runs.finish_run(conn, run_id, "failed" if error else "success", error)
        alert_id = None
        if error:
            link = alerts.link_for(cfg.alerts, str(output) if output.exists() else None)
            alert_id = alerts.raise_alert(
                conn, cfg.alerts, incident=f"run_failed:{name}", kind="run_failed",
                subject=f"stationlab: job {name} failed",
                message=(f"Run {run_id} of job {name} ({job.notebook.name}, parameters "
                         f"{json.dumps(params, default=str)}) failed on "
                         f"{socket.gethostname()} at {started:%Y-%m-%d %H:%M} UTC: {error}"),
                link=link, run_id=run_id)
        else:
            alerts.resolve(conn, [f"run_failed:{name}"])
    return RunResult(name, row["status"], run_id, str(output), error, row["duration_s"],
                     alert_id)


def due_jobs(cfg: Config, now: datetime, *, dsn: str | None = None) -> list[tuple[Job, datetime]]:
    """The jobs whose latest cron time (at or before ``now``) has no run yet, with that time."""
    from croniter import croniter

    with storage.connect(dsn, autocommit=True) as conn:
        done = storage.runs.last_scheduled(conn)
    due = []
    for job in cfg.jobs.values():
        if job.cron is None:
            continue
        latest = croniter(job.cron, now).get_prev(datetime)  # strictly before now
        if croniter.match(job.cron, now):
            latest = now.replace(second=0, microsecond=0)
        if done.get(job.name) is None or done[job.name] < latest:
            due.append((job, latest))
    return due


def run_due(cfg: Config, now: datetime | None = None, *, dsn: str | None = None,
            on_result=None) -> list[RunResult]:
    """Run every due job, each in its own process, at most ``max_parallel`` at once; a job
    listed in another's ``after`` finishes first."""
    from concurrent.futures import ThreadPoolExecutor

    now = now or datetime.now(UTC)
    due = due_jobs(cfg, now, dsn=dsn)
    results: list[RunResult] = []
    with ThreadPoolExecutor(max_workers=cfg.max_parallel) as pool:
        futures = {}
        for job, when in due:
            waits = [futures[a] for a in job.after if a in futures]
            futures[job.name] = pool.submit(_run_in_process, cfg, job.name, when, dsn, waits)
        for future in futures.values():
            result = future.result()
            results.append(result)
            if on_result:
                on_result(result)
    return results


def _run_in_process(cfg: Config, name: str, when: datetime, dsn: str | None,
                    waits: list) -> RunResult:
    import subprocess
    import sys

    for future in waits:
        future.result()
    command = [sys.executable, "-m", "stationlab", "pipelines", "run", name, "--json",
               "--scheduled-for", when.isoformat()]
    if cfg.path:
        command += ["--config", str(cfg.path)]
    env = dict(os.environ, **({"STATIONLAB_DSN": dsn} if dsn else {}))
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    lines = done.stdout.strip().splitlines()
    try:
        return RunResult(**json.loads(lines[-1]))
    except (IndexError, ValueError, TypeError):
        raise StationlabError(f"job {name} could not be run (exit status {done.returncode}): "
                              f"{done.stderr.strip()[-2000:]}") from None


def history(job: str | None = None, *, limit: int = 50, dsn: str | None = None):
    """Recent runs, newest first (a polars DataFrame)."""
    with storage.connect(dsn, autocommit=True) as conn:
        return storage.runs.history(conn, job, limit)


def sample_folder() -> Path:
    """The logger files bundled with stationlab (what the ``import`` job reads by default)."""
    from importlib.resources import files

    return Path(str(files("stationlab").joinpath("sample_data", "loggers")))


def recent_start(conn, station: str, lookback_days: float) -> datetime | None:
    """Where "new data" starts for a station: ``lookback_days`` before its newest reading
    (None: the whole record, also when ``lookback_days`` is 0). [d]"""
    if not lookback_days:
        return None
    from stationlab import health

    table = health.logger_health(conn, datetime.now(UTC))
    newest = table.filter(table["station"] == station)["last_reading"].max()
    return None if newest is None else newest - timedelta(days=lookback_days)
