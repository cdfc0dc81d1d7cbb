"""Pipelines: schedule, runner (papermill), history, job locks, alerts by SMTP and webhook."""

import email
import email.policy
import json
import socket
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import nbformat
import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from stationlab import pipelines, storage
from stationlab.cli import main
from stationlab.errors import ConfigError


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.rcpt_tos, message))
        return "250 OK"


@pytest.fixture
def smtp():
    """A real SMTP server on 127.0.0.1 collecting messages."""
    inbox = _Inbox()
    with socket.socket() as probe:  # a free port (aiosmtpd checks readiness on the port given)
        probe.bind(("127.0.0.1", 0))
        inbox.port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()


@pytest.fixture
def webhook():
    """An HTTP server on 127.0.0.1 collecting POSTed JSON."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()
    thread.join()


def _notebook(path, params: str, body: str):
    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                   "language": "python"}
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    book.cells = [cell, nbformat.v4.new_code_cell(body)]
    nbformat.write(book, path)


@pytest.fixture
def schedule(tmp_path, monkeypatch, smtp, webhook):
    """A schedule of two small jobs, alerts to the SMTP server and the webhook."""
    monkeypatch.setenv("STATIONLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOOK_URL", webhook[0])
    _notebook(tmp_path / "ok.ipynb", "n = 1", "import stationlab\n"
              "with stationlab.connect() as db:\n    print(n, db.stations())")
    _notebook(tmp_path / "fails.ipynb", "divisor = 0", "1 / divisor")
    (tmp_path / "schedule.toml").write_text(f"""
max_parallel = 2
[jobs.ok]
notebook = "ok.ipynb"
cron = "*/10 * * * *"
parameters = {{ n = 2 }}
[jobs.fails]
notebook = "fails.ipynb"
cron = "0 3 * * *"
after = ["ok"]
[alerts]
link_base = "https://hub.example.org/runs/"
[alerts.email]
host = "127.0.0.1"
port = {smtp.port}
sender = "stationlab@example.org"
to = ["ops@example.org"]
[alerts.webhook]
url_env = "HOOK_URL"
""")
    return pipelines.load_config(tmp_path / "schedule.toml")


def test_a_run_keeps_its_notebook_and_history(db, schedule, tmp_path):
    result = pipelines.run_job(schedule, "ok", parameters={"n": 5})
    assert result.status == "success" and result.error is None
    assert result.output_path.startswith(str(tmp_path / "home" / "runs" / "ok"))
    executed = nbformat.read(result.output_path, as_version=4)
    assert executed.cells[2].outputs[0]["text"] == "5 []\n"  # the injected parameter
    table = pipelines.history(dsn=db)
    row = table.row(0, named=True)
    assert (row["job"], row["status"], json.loads(row["parameters"])) == ("ok", "success",
                                                                          {"n": 5})
    assert row["duration_s"] >= 0 and row["output_path"] == result.output_path


def test_a_failing_job_alerts_once_per_incident_by_mail_and_webhook(db, schedule, smtp,
                                                                    webhook):
    first = pipelines.run_job(schedule, "fails")
    assert first.status == "failed"
    assert first.error == "cell 2: ZeroDivisionError: division by zero"
    assert first.alert_id is not None
    again = pipelines.run_job(schedule, "fails")  # same incident: recorded, not sent again
    assert again.status == "failed" and again.alert_id is None
    assert len(smtp.messages) == 1 and len(webhook[1]) == 1
    recipients, mail = smtp.messages[0]
    assert recipients == ["ops@example.org"]
    assert mail["Subject"] == "stationlab: job fails failed"
    body = mail.get_content()
    assert "ZeroDivisionError: division by zero" in body
    link = "https://hub.example.org/runs/fails/" + first.output_path.rsplit("/", 1)[1]
    assert f"Executed notebook: {link}" in body
    assert webhook[1][0]["link"] == link and webhook[1][0]["incident"] == "run_failed:fails"
    # the job is fixed: the incident closes, and the next failure alerts again
    assert pipelines.run_job(schedule, "fails", parameters={"divisor": 1}).status == "success"
    assert pipelines.run_job(schedule, "fails").alert_id is not None
    assert len(smtp.messages) == 2
    with storage.connect(db) as conn:
        table = storage.alerts.alerts(conn)
    assert table["incident"].to_list() == ["run_failed:fails"] * 2
    assert table["resolved_at"].is_null().to_list() == [False, True]
    assert table["sent_to"][0].to_list() == ["mailto:ops@example.org", webhook[0]]


def test_the_same_job_never_runs_twice_at_once(db, schedule):
    with storage.runs.job_lock(db, "ok") as locked:
        assert locked
        with storage.runs.job_lock(db, "ok") as again:
            assert not again
        assert pipelines.run_job(schedule, "ok").status == "skipped"
        assert pipelines.run_job(schedule, "fails", parameters={"divisor": 2}).status \
            == "success"  # another job is not held up
    assert pipelines.run_job(schedule, "ok").status == "success"


def test_due_runs_what_is_due_once(db, schedule):
    now = datetime(2024, 5, 1, 12, 5, tzinfo=UTC)
    due = pipelines.due_jobs(schedule, now)
    assert [(j.name, t) for j, t in due] == [
        ("ok", datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
        ("fails", datetime(2024, 5, 1, 3, 0, tzinfo=UTC))]
    results = pipelines.run_due(schedule, now)
    assert {r.job: r.status for r in results} == {"ok": "success", "fails": "failed"}
    assert pipelines.run_due(schedule, now) == []
    later = datetime(2024, 5, 1, 12, 10, tzinfo=UTC)
    assert [j.name for j, _ in pipelines.due_jobs(schedule, later)] == ["ok"]


def test_cli_run_and_history(db, schedule):
    runner = CliRunner()
    result = runner.invoke(main, ["pipelines", "run", "ok", "--config", str(schedule.path),
                                  "-p", "n=7"])
    assert result.exit_code == 0, result.output
    assert "ok: success in " in result.output
    failed = runner.invoke(main, ["pipelines", "run", "fails", "--config", str(schedule.path)])
    assert failed.exit_code == 1
    assert "ZeroDivisionError" in failed.output and "alert" in failed.output
    history = runner.invoke(main, ["pipelines", "history"])
    lines = history.output.splitlines()
    assert " fails " in lines[0] and " failed " in lines[0]
    assert " ok " in lines[2] and " success " in lines[2]
    assert lines[-1] == "2 runs"
    unknown = runner.invoke(main, ["pipelines", "run", "nope", "--config", str(schedule.path)])
    assert unknown.exit_code == 1
    assert "no job 'nope' in" in unknown.output and "jobs: ok, fails" in unknown.output


def test_bad_schedules_are_refused_with_the_reason(tmp_path, monkeypatch):
    path = tmp_path / "s.toml"
    path.write_text('[jobs.x]\nnotebook = "x.ipynb"\ncron = "every day"\n')
    with pytest.raises(ConfigError, match="'every day' is not a cron expression"):
        pipelines.load_config(path)
    path.write_text('[jobs.x]\nnotebook = "x.ipynb"\nafter = ["y"]\n')
    with pytest.raises(ConfigError, match="runs after y, which must be defined before it"):
        pipelines.load_config(path)
    path.write_text('[jobs.x]\nnotebook = "x.ipynb"\n[alerts.webhook]\nurl_env = "NO_SUCH"\n')
    monkeypatch.delenv("NO_SUCH", raising=False)
    with pytest.raises(ConfigError, match=r"names \$NO_SUCH, which is not set"):
        pipelines.load_config(path)
    with pytest.raises(ConfigError, match="no pipelines configuration at"):
        pipelines.load_config(tmp_path / "missing.toml")


def test_a_job_with_a_dsn_of_its_own_connects_with_it(db, tmp_path, monkeypatch):
    """The runner as the pipeline role; the one job that needs more (the backup) as another."""
    CliRunner().invoke(main, ["db", "grant-pipeline", "pipe_runner"], catch_exceptions=False)
    monkeypatch.setenv("STATIONLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OWNER_DSN", db)
    monkeypatch.delenv("UNSET_DSN", raising=False)
    _notebook(tmp_path / "who.ipynb", "", "import stationlab\n"
              "with stationlab.connect() as db:\n"
              "    print(db.conn.execute('SELECT current_user AS u').fetchone()['u'])")
    (tmp_path / "s.toml").write_text('[jobs.plain]\nnotebook = "who.ipynb"\n'
                                     '[jobs.own]\nnotebook = "who.ipynb"\ndsn = "$OWNER_DSN"\n'
                                     '[jobs.unset]\nnotebook = "who.ipynb"\ndsn = "$UNSET_DSN"\n')
    cfg = pipelines.load_config(tmp_path / "s.toml")
    assert (cfg.job("own").dsn, cfg.job("unset").dsn) == (db, None)
    runner = storage.roles.dsn_for(db, user="pipe_runner")
    owner = storage.roles.dsn_parts(db).get("user") or "postgres"

    def user_of(job: str) -> str:
        result = pipelines.run_job(cfg, job, dsn=runner)
        assert result.status == "success", result.error
        return nbformat.read(result.output_path, as_version=4).cells[1].outputs[0]["text"]

    assert [user_of(job) for job in ("plain", "own", "unset")] == [
        "pipe_runner\n", f"{owner}\n", "pipe_runner\n"]
