"""``stationlab pipelines`` (the scheduled notebook jobs: run, due, history, alerts) and
``stationlab health`` (sensor health)."""

from __future__ import annotations

import sys

import click

from stationlab.cli._common import Timestamp, _echo_rows, _run, key_values
from stationlab.errors import StationlabError


@click.group("pipelines")
def pipelines() -> None:
    """Scheduled notebook jobs: run one, run what is due, show the history."""


def _pipelines_config(path):
    from stationlab import pipelines as jobs

    return _run(jobs.load_config, path)


_config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False),
    help="The schedule (default: $STATIONLAB_PIPELINES or ./pipelines/schedule.toml).")


@pipelines.command("run")
@click.argument("job")
@_config_option
@click.option("-p", "--parameter", "parameters", multiple=True, metavar="KEY=VALUE",
              help="Override a notebook parameter (VALUE read as JSON if it parses).")
@click.option("--scheduled-for", type=Timestamp(), hidden=True)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as one JSON line.")
def pipelines_run(job: str, config_path, parameters, scheduled_for, as_json: bool) -> None:
    """Run JOB's notebook now. Exits 1 if it failed, 2 if it was already running."""
    import dataclasses
    import json

    from stationlab import pipelines as jobs

    overrides = key_values(parameters, _json_or_text)
    cfg = _pipelines_config(config_path)
    result = _run(jobs.run_job, cfg, job, parameters=overrides, scheduled_for=scheduled_for,
                  progress=not as_json)
    click.echo(json.dumps(dataclasses.asdict(result)) if as_json else result.describe())
    if result.status != "success":
        sys.exit(1 if result.status == "failed" else 2)


def _json_or_text(value: str):
    """A notebook parameter's value: JSON if it parses, else the text itself."""
    import json

    try:
        return json.loads(value)
    except ValueError:
        return value


@pipelines.command("due")
@_config_option
def pipelines_due(config_path) -> None:
    """Run every job whose cron time has come (for cron or a systemd timer). Exits 1 if any
    failed."""
    from stationlab import pipelines as jobs

    cfg = _pipelines_config(config_path)
    results = _run(jobs.run_due, cfg, on_result=lambda r: click.echo(r.describe()))
    if not results:
        click.echo("nothing due")
    if any(r.status == "failed" for r in results):
        sys.exit(1)


@pipelines.command("history")
@click.option("--job", help="Only this job.")
@click.option("--limit", type=int, default=20, show_default=True)
def pipelines_history(job: str | None, limit: int) -> None:
    """The newest runs: job, status, start, duration, executed notebook, error."""
    from stationlab import pipelines as jobs

    def describe(row: dict) -> str:
        duration = f"{row['duration_s']:.1f} s" if row["duration_s"] is not None else "-"
        return (f"{row['run_id']:>6} {row['job']:<10} {row['status']:<8} "
                f"{row['started_at']:%Y-%m-%d %H:%M:%S} {duration:>9} {row['output_path']}"
                + (f"\n       {row['error']}" if row["error"] else ""))

    _echo_rows(_run(jobs.history, job, limit=limit), describe, "run")


@pipelines.command("alerts")
@click.option("--open", "open_only", is_flag=True, help="Only incidents still open.")
def pipelines_alerts(open_only: bool) -> None:
    """Alerts raised: incident, when, where sent, whether resolved."""
    from stationlab import alerts

    def describe(row: dict) -> str:
        state = "open" if row["resolved_at"] is None else f"resolved {row['resolved_at']:%F %T}"
        return (f"{row['alert_id']:>5} {row['raised_at']:%Y-%m-%d %H:%M} {row['incident']} "
                f"[{state}] {row['subject']} -> {', '.join(row['sent_to']) or 'not sent'}"
                + (f"\n      {row['send_error']}" if row["send_error"] else ""))

    _echo_rows(_run(alerts.history, open_only=open_only), describe, "alert")


@click.command("health")
@click.option("--station", help="Only this station (default: every station).")
@click.option("--at", "at", type=Timestamp(),
              help="End the windows here (default: each station's newest reading).")
def health_(station: str | None, at) -> None:
    """Sensor health: one line per sensor not ok; exits 1 when any has failed."""
    from stationlab import database, health

    failed = 0
    try:
        with database.reading() as conn:  # on the replica when there is one
            names = [station] if station else database.station_names(conn)
            for name in names:
                table = health.sensor_health(conn, name, at)
                for row in table.filter(table["state"] != "ok").iter_rows(named=True):
                    click.echo(f"{row['name']} {row['state']}: {row['reason']} since "
                               f"{row['since']:%Y-%m-%dT%H:%MZ}")
                counts = {s: int((table["state"] == s).sum()) for s in health.STATES}
                end = table["window_to"].max()
                click.echo(f"{name}: {table.height} sensors, {counts['failed']} failed, "
                           f"{counts['suspect']} suspect, {counts['ok']} ok"
                           + (f" (windows end {end:%Y-%m-%dT%H:%MZ})" if end
                              else " (no readings)"))
                failed += counts["failed"]
    except StationlabError as exc:  # no such station, no database, an old schema
        raise click.ClickException(str(exc)) from exc
    if failed:
        sys.exit(1)


COMMANDS = [pipelines, health_]
