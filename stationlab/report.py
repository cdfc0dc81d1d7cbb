"""The weekly station report: ``notebooks/station_report.ipynb`` run by papermill, kept as HTML
(and PDF where Chromium is installed), sent to the addresses subscribed in the station's health
settings (``report_to``, see :func:`stationlab.health.configure`)."""

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


def make_report(station: str, out_dir: str | Path, *, at: str = "", settings=None,
                notebook: Path = NOTEBOOK) -> Report:
    """Run the report notebook for a station into ``out_dir`` (kept with the run), convert it to
    HTML (without code) and PDF (where a converter is installed) and e-mail it to the station's
    subscribers through ``settings.email`` (:class:`stationlab.alerts.AlertSettings`)."""
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    from stationlab import health, storage

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    executed = out / f"{station}.report.ipynb"
    if not notebook.is_file():
        raise StationlabError(f"the report notebook {notebook} is missing")
    papermill.execute_notebook(str(notebook), str(executed), parameters={
        "station": station, "at": at}, progress_bar=False, cwd=str(notebook.parent))
    body, _ = HTMLExporter(exclude_input=True).from_notebook_node(
        nbformat.read(executed, as_version=4))
    html = out / f"{station}.report.html"
    html.write_text(body)
    pdf = _pdf(html)
    with storage.connect(autocommit=True) as conn:
        to = list(health.settings_for(conn, station).get("report_to") or [])
    sent: tuple[str, ...] = ()
    if to and settings is not None and settings.email is not None:
        _send(settings.email, to, station, html, pdf)
        sent = tuple(to)
    return Report(station, html, pdf, sent)


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
