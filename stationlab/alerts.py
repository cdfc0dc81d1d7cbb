"""Alerts: an e-mail (SMTP) and/or a webhook (HTTP POST of JSON), once per incident.

Settings come from the ``[alerts]`` table of the pipelines configuration (TOML); secrets are named
there by environment variable, never written in the file::

    [alerts.email]
    host = "smtp.example.org"
    port = 587
    starttls = true
    sender = "stationlab@example.org"
    to = ["data-team@example.org"]
    username_env = "STATIONLAB_SMTP_USER"
    password_env = "STATIONLAB_SMTP_PASSWORD"

    [alerts.webhook]
    url_env = "STATIONLAB_ALERT_WEBHOOK"     # or url = "https://..."

    [alerts]
    link_base = "https://hub.example.org/services/runs/"   # else the notebook's path

An incident (``run_failed:JOB``, ``logger_quiet:LOGGER_ID``) is raised once and stays open until it
is resolved (the job succeeds, the logger delivers again); raising it again meanwhile sends nothing.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage

from stationlab import storage
from stationlab.errors import ConfigError

logger = logging.getLogger(__name__)

#: Seconds to wait for an SMTP or webhook server. [s]
TIMEOUT = 20


@dataclass(frozen=True)
class EmailSettings:
    host: str
    port: int = 25
    sender: str = "stationlab@localhost"
    to: tuple[str, ...] = ()
    starttls: bool = False
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go; nowhere (only recorded) when both are unset."""

    email: EmailSettings | None = None
    webhook_url: str | None = None
    link_base: str | None = None

    @property
    def targets(self) -> list[str]:
        found = [f"mailto:{','.join(self.email.to)}"] if self.email else []
        return found + ([self.webhook_url] if self.webhook_url else [])


def _secret(table: dict, key: str, where: str) -> str | None:
    name = table.get(f"{key}_env")
    if name is None:
        return table.get(key)
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"{where}.{key}_env names ${name}, which is not set; set it or remove "
                          f"{key}_env")
    return value


def settings_from(table: dict | None) -> AlertSettings:
    """Alert settings from the ``[alerts]`` table of the configuration (``None``: record only)."""
    table = table or {}
    email = None
    if "email" in table:
        mail = table["email"]
        to = mail.get("to") or []
        if isinstance(to, str):
            to = [to]
        if not mail.get("host") or not to:
            raise ConfigError("[alerts.email] needs host and to (a list of addresses)")
        email = EmailSettings(host=mail["host"], port=int(mail.get("port", 25)),
                              sender=mail.get("sender", "stationlab@localhost"), to=tuple(to),
                              starttls=bool(mail.get("starttls", False)),
                              username=_secret(mail, "username", "[alerts.email]"),
                              password=_secret(mail, "password", "[alerts.email]"))
    webhook = None
    if "webhook" in table:
        webhook = _secret(table["webhook"], "url", "[alerts.webhook]")
        if not webhook:
            raise ConfigError("[alerts.webhook] needs url or url_env")
    return AlertSettings(email=email, webhook_url=webhook, link_base=table.get("link_base"))


def link_for(settings: AlertSettings, output_path: str | None) -> str | None:
    """The link to an executed notebook: ``link_base`` + its path below the runs folder, or the
    path itself."""
    if not output_path:
        return None
    if settings.link_base:
        from stationlab import config

        try:
            relative = os.path.relpath(output_path, config.home() / "runs")
        except ValueError:
            relative = os.path.basename(output_path)
        return settings.link_base.rstrip("/") + "/" + relative.replace(os.sep, "/")
    return output_path


def send_email(settings: EmailSettings, subject: str, body: str) -> None:
    """Send one e-mail through the configured SMTP server."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.to)
    message.set_content(body)
    with smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        smtp.send_message(message)


def send_webhook(url: str, payload: dict) -> None:
    """POST the alert as JSON."""
    request = urllib.request.Request(url, data=json.dumps(payload, default=str).encode(),
                                     headers={"Content-Type": "application/json"},
                                     method="POST")
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
        response.read()


def history(*, open_only: bool = False, dsn: str | None = None):
    """The alerts raised, oldest first (a polars DataFrame: ``alert_id``, ``raised_at``,
    ``incident``, ``subject``, ``sent_to``, ``send_error``, ``resolved_at``, ...); with
    ``open_only``, only incidents not resolved yet."""
    with storage.connect(dsn, autocommit=True) as conn:
        return storage.alerts.alerts(conn, open_only=open_only)


def station_alerts(conn, station: str):
    """The open alerts about one station, oldest first (as :func:`history`): its loggers'
    (``logger_quiet``, ``low_voltage``, ``logger_fault``, ``clock_jump``), its sensors'
    (``sensor_failed``, ``sensor_suspect``), its imports' (``import_failing``) and those of the
    fetch sources that feed it (``fetch_failing:SOURCE``: a source configured for the station
    in the sources configuration, or one that brought its files).

    Raises
    ------
    StationlabError
        No such station (the message lists the known ones).
    """
    storage.catalog.require_station(conn, station)
    return storage.alerts.station_open_alerts(conn, station)


def raise_alert(conn, settings: AlertSettings, *, incident: str, kind: str, subject: str,
                message: str, link: str | None = None, run_id: int | None = None) -> int | None:
    """Record and send an alert unless its incident is already open.

    Returns the alert's id, or None if the incident was already open. A failure to send is
    recorded on the alert (``send_error``) and logged, never raised: the job that raised it
    still reports its own outcome.
    """
    alert_id = storage.alerts.open_alert(conn, incident=incident, kind=kind, subject=subject,
                               message=message, link=link, run_id=run_id)
    if alert_id is None:
        logger.info("alert %s already open; not sent again", incident)
        return None
    sent, errors = _deliver(settings, incident, kind, subject, message, link, run_id, alert_id)
    storage.alerts.alert_sent(conn, alert_id, sent, "; ".join(errors) or None)
    logger.warning("alert raised: %s", subject)
    return alert_id


def resolve(conn, incidents: list[str], settings: AlertSettings | None = None, *,
            notes: dict[str, str] | None = None) -> list[str]:
    """Close incidents (the job succeeded, the logger delivers again).

    With ``settings``, each incident that was open gets one "resolved" message by the same
    e-mail and webhook as its alert, saying what cleared (``notes``: incident -> text); where
    it went is recorded (``resolved_sent_to``). Returns the incidents that were open.
    """
    if not incidents:
        return []
    details = storage.alerts.open_alert_details(conn, incidents) if settings else []
    closed = storage.alerts.resolve_alerts(conn, incidents)
    for alert in details:
        if alert["incident"] not in closed:
            continue
        note = (notes or {}).get(alert["incident"]) or "the condition has cleared"
        subject = "stationlab: resolved: " + alert["subject"].removeprefix("stationlab: ")
        message = (f"Resolved: {note}. The alert of {alert['raised_at']:%Y-%m-%d %H:%M} UTC "
                   f"({alert['incident']}) is closed.")
        sent = _deliver(settings, alert["incident"], alert["kind"], subject, message,
                        alert["link"], None, alert["alert_id"], resolved=True)[0]
        storage.alerts.alert_resolved_sent(conn, alert["alert_id"], sent)
        logger.warning("alert resolved: %s", subject)
    return closed


def _deliver(settings: AlertSettings, incident: str, kind: str, subject: str, message: str,
             link: str | None, run_id: int | None, alert_id: int, *, resolved: bool = False
             ) -> tuple[list[str], list[str]]:
    """Send by e-mail and webhook; returns where it went and what failed (logged)."""
    body = message + (f"\n\nExecuted notebook: {link}\n" if link else "\n")
    sent, errors = [], []
    if settings.email is not None:
        try:
            send_email(settings.email, subject, body)
            sent.append("mailto:" + ",".join(settings.email.to))
        except (OSError, smtplib.SMTPException) as exc:
            errors.append(f"e-mail via {settings.email.host}:{settings.email.port}: {exc}")
    if settings.webhook_url:
        payload = {"incident": incident, "kind": kind, "subject": subject, "message": message,
                   "link": link, "run_id": run_id, "alert_id": alert_id,
                   "status": "resolved" if resolved else "raised"}
        try:
            send_webhook(settings.webhook_url, payload)
            sent.append(settings.webhook_url)
        except OSError as exc:
            errors.append(f"webhook {settings.webhook_url}: {exc}")
    for error in errors:
        logger.error("alert %s not delivered: %s", incident, error)
    return sent, errors
