"""The weekly station report: ``notebooks/station_report.ipynb`` run by papermill, kept as HTML
(and PDF where Chromium is installed), sent to the addresses subscribed in the station's health
settings (``report_to``, see :func:`stationlab.health.configure`) and recorded
(``station_reports``) so the health dashboard links each station's newest one.

The scheduled ``report`` job (``notebooks/report.ipynb``) calls :func:`make_reports`
into a folder next to its executed notebook: the reports are kept with the run."""

from __future__ import annotations

import logging
import shutil
import smtplib
import subprocess
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from stationlab.errors import StationlabError

logger = logging.getLogger(__name__)

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "station_report.ipynb"
#: PDF converters tried in turn (headless Chromium prints the HTML).
PDF_BROWSERS = ("chromium", "chromium-browser", "google-chrome")


@dataclass(frozen=True)
class Report:
    station: str
    html: Path
    pdf: Path | None
    sent_to: tuple[str, ...]
    send_error: str | None = None
    report_id: int | None = None


def make_report(station: str, out_dir: str | Path, *, at: str = "", settings=None,
                notebook: Path = NOTEBOOK, run_id: int | None = None,
                supply_names: list[str] | None = None) -> Report:
    """Run the report notebook for a station into ``out_dir`` (kept with the run), convert it to
    HTML (without code) and PDF (where a converter is installed), e-mail it to the station's
    subscribers through ``settings.email`` (:class:`stationlab.alerts.AlertSettings`) and record
    it (with ``run_id``, the pipeline run making it).

    Parameters
    ----------
    at
        ISO 8601 end of the week (UTC unless it carries an offset); empty: the station's newest
        reading.
    supply_names
        The NRG diagnostics that are the supply (ILIKE patterns, the ``supply_names`` of the
        schedule's ``[health]``), so the report's supply voltage is the one the
        ``low_voltage`` alert judges; default ``stationlab.health.LOGGER_DEFAULTS``'s.

    Raises
    ------
    StationlabError
        No such station, a station without readings, a bad ``at``, no report notebook. A report
        that could not be sent is kept and recorded with the reason (``send_error``), not raised.
    """
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    from stationlab import health, storage

    if not notebook.is_file():
        raise StationlabError(f"the report notebook {notebook} is missing")
    week_end = _parse_at(at)
    with storage.connect(autocommit=True) as conn:
        week = health.sensor_health(conn, station, week_end)  # raises naming the stations
        to = list(health.settings_for(conn, station).get("report_to") or [])
    if week.is_empty() or not week["recovery_week"].fill_null(0).max():
        raise StationlabError(f"station {station!r} has no readings to report on"
                              + (f" in the week to {at}" if at else ""))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    executed = out / f"{station}.report.ipynb"
    papermill.execute_notebook(str(notebook), str(executed), parameters={
        "station": station, "at": at, "supply_names": list(supply_names or [])},
        progress_bar=False, cwd=str(notebook.parent))
    body, _ = HTMLExporter(exclude_input=True).from_notebook_node(
        nbformat.read(executed, as_version=4))
    html = out / f"{station}.report.html"
    html.write_text(body)
    pdf = _pdf(html)
    sent: tuple[str, ...] = ()
    error = None
    if to and (settings is None or settings.email is None):
        error = (f"not sent to {', '.join(to)}: no [alerts.email] server in the schedule's "
                 "settings")
    elif to:
        try:
            _send(settings.email, to, station, html, pdf)
            sent = tuple(to)
        except (OSError, smtplib.SMTPException) as exc:
            error = f"not sent to {', '.join(to)}: {exc}"
    if error:
        logger.warning("report of %s: %s", station, error)
    with storage.connect(autocommit=True) as conn:
        report_id = storage.reports.record_report(
            conn, station=station, run_id=run_id, week_to=week["window_to"].max(),
            html_path=str(html), pdf_path=str(pdf) if pdf else None, sent_to=list(sent),
            send_error=error)
    return Report(station, html, pdf, sent, error, report_id)


def make_reports(out_dir: str | Path, *, stations: list[str] | None = None, at: str = "",
                 settings=None, run_id: int | None = None,
                 supply_names: list[str] | None = None) -> list[Report]:
    """:func:`make_report` for each of ``stations`` (default: every station with readings) into
    ``out_dir``; what the scheduled ``report`` job runs.

    Raises
    ------
    StationlabError
        After making every other report, when a report could not be made or sent (so the run
        fails and its alert says why).
    """
    from stationlab import storage

    with storage.connect(autocommit=True) as conn:
        known = storage.catalog.summary(conn)
    names = stations or [r["station"] for r in known if r["n_readings"]]
    made, problems = [], []
    for name in names:
        try:
            report = make_report(name, out_dir, at=at, settings=settings, run_id=run_id,
                                 supply_names=supply_names)
        except StationlabError as exc:
            problems.append(f"{name}: {exc}")
            continue
        made.append(report)
        if report.send_error:
            problems.append(f"{name}: {report.send_error}")
    if problems:
        raise StationlabError("weekly reports: " + "; ".join(problems))
    return made


def run_folder(output_path: str | None) -> Path:
    """Where a run's reports are kept: next to its executed notebook (``runs/report/STAMP-
    report.ipynb`` -> ``runs/report/STAMP-report/``), or
    ``$STATIONLAB_HOME/reports`` outside a pipeline run."""
    from stationlab import config

    if output_path:
        return Path(output_path).with_suffix("")
    return config.home() / "reports"


def _parse_at(at: str):
    from datetime import UTC, datetime

    if not at:
        return None
    try:
        stamp = datetime.fromisoformat(at)
    except ValueError:
        raise StationlabError(f"the report's end {at!r} is not an ISO 8601 time, e.g. "
                              "2016-01-10T23:40") from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _pdf(html: Path) -> Path | None:
    browser = next((b for b in map(shutil.which, PDF_BROWSERS) if b), None)
    if browser is None:
        return None
    pdf = html.with_suffix(".pdf")
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                           f"--print-to-pdf={pdf}", html.as_uri()],
                          capture_output=True, timeout=300, check=False)
    if done.returncode != 0 or not pdf.is_file():
        logger.warning("no PDF of %s: %s", html, done.stderr.decode(errors="replace")[-300:])
        return None
    return pdf


def _send(mail, to: list[str], station: str, html: Path, pdf: Path | None) -> None:
    message = EmailMessage()
    message["Subject"] = f"stationlab: weekly report for {station}"
    message["From"] = mail.sender
    message["To"] = ", ".join(to)
    message.set_content(f"The weekly report for station {station} is attached.\n")
    message.add_attachment(html.read_bytes(), maintype="text", subtype="html",
                           filename=html.name)
    if pdf is not None:
        message.add_attachment(pdf.read_bytes(), maintype="application", subtype="pdf",
                               filename=pdf.name)
    with smtplib.SMTP(mail.host, mail.port, timeout=60) as smtp:
        if mail.starttls:
            smtp.starttls()
        if mail.username:
            smtp.login(mail.username, mail.password or "")
        smtp.send_message(message)
