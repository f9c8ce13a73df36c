"""Alerts (``alerts:`` in the config): a message by mail and/or webhook when a mapping fails,
rejects wait, or the lag passes ``health.max_lag``; once per incident, and once more when it clears.

Incidents are judged from the facts ``syncd health`` judges by (``status.findings``). Each channel
keeps its incidents in the state store (``syncd_alert``), so a restart neither repeats a message
nor forgets to say that an incident cleared. A message that cannot be sent is logged (never with
the password or the webhook's URL) and tried again at the next check; it never stops a sync.
"""

from __future__ import annotations

import json
import smtplib
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from loguru import logger

from syncd.config import AlertsConfig, SmtpAlerts, WebhookAlerts
from syncd.engines import open_state
from syncd.logs import redact
from syncd.project import Project
from syncd.status import Finding, findings

#: The findings that make an incident, and what a message calls them.
TITLES = {"failed": "the last run failed", "rejects": "rejected rows wait", "lag": "the lag passes health.max_lag",
          "stale": "no run for longer than health.max_lag"}


@dataclass(frozen=True)
class Incident:
    mapping: str
    kind: str
    text: str


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


@dataclass(frozen=True)
class Step:
    """What to do about one incident on one channel: ``open`` (record it and announce it),
    ``announce`` (recorded, not sent yet), ``clear`` (send that it cleared, then forget it) or
    ``forget`` (it cleared before it was ever announced)."""

    action: Literal["open", "announce", "clear", "forget"]
    channel: str
    mapping: str
    kind: str
    text: str
    opened_at: datetime | None = None


def incidents(found: Iterable[Finding]) -> tuple[dict[tuple[str, str], Incident], set[str]]:
    """(the open incidents by (mapping, kind), the kinds that could not be judged now). While the
    source cannot be read the lag is unknown: a lag incident neither opens nor clears."""
    now: dict[tuple[str, str], Incident] = {}
    unknown: set[str] = set()
    for f in found:
        if f.kind == "source":
            unknown.add("lag")
        elif f.mapping is not None and f.kind in TITLES:
            now.setdefault((f.mapping, f.kind), Incident(f.mapping, f.kind, f.text))
    return now, unknown


def plan(current: dict[tuple[str, str], Incident], unknown: set[str], stored: Sequence[dict[str, Any]],
         channels: Sequence[str]) -> list[Step]:
    """The steps that bring each channel's recorded incidents to ``current``."""
    steps: list[Step] = []
    for channel in channels:
        mine = {(r["mapping"], r["kind"]): r for r in stored if r["channel"] == channel}
        for key, incident in current.items():
            row = mine.get(key)
            if row is None:
                steps.append(Step("open", channel, incident.mapping, incident.kind, incident.text))
            elif row["notified_at"] is None:
                steps.append(Step("announce", channel, incident.mapping, incident.kind, row["message"],
                                  row["opened_at"]))
        for key, row in mine.items():
            if key in current or row["kind"] in unknown:
                continue
            action: Literal["clear", "forget"] = "forget" if row["notified_at"] is None else "clear"
            steps.append(Step(action, channel, row["mapping"], row["kind"], row["message"], row["opened_at"]))
    # the incidents of a channel no longer configured are forgotten without a word
    steps.extend(Step("forget", r["channel"], r["mapping"], r["kind"], r["message"]) for r in stored
                 if r["channel"] not in channels)
    return steps


def _local(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "?"


def message_for(step: Step, name: str, now: datetime) -> Message:
    title = TITLES.get(step.kind, step.kind)
    if step.action == "clear":
        return Message(f"[syncd {name}] cleared: {step.mapping}: {title}",
                       f"Cleared at {_local(now)}. It began at {_local(step.opened_at)}:\n{step.text}")
    return Message(f"[syncd {name}] {step.mapping}: {title}",
                   f"{step.text}\nSince {_local(step.opened_at or now)}. A message follows when this clears; "
                   f"`syncd status` and `syncd health` on {name} say more.")


# -- channels ---------------------------------------------------------------------------------
class Channel(Protocol):
    name: str

    def where(self) -> str: ...

    def send(self, message: Message) -> None: ...

    def secrets(self) -> list[str]: ...


class SendError(Exception):
    """A message could not be sent; the text names no credential."""


class Mail:
    name = "smtp"

    def __init__(self, config: SmtpAlerts):
        self.config = config

    def where(self) -> str:
        return f"{self.config.host}:{self.config.port_or_default()}"

    def _password(self) -> str | None:
        if self.config.password_file is None:
            return None
        return self.config.password_file.read_text(encoding="utf-8").strip()

    def secrets(self) -> list[str]:
        try:
            password = self._password()
        except OSError:
            return []
        return [password] if password else []

    def send(self, message: Message) -> None:
        c = self.config
        mail = EmailMessage()
        mail["Subject"], mail["From"], mail["To"] = message.subject, c.from_, ", ".join(c.to)
        mail["Date"], mail["Message-ID"] = formatdate(localtime=True), make_msgid(domain="syncd")
        mail.set_content(message.body)
        timeout = c.timeout.total_seconds()
        try:
            password = self._password()
            context = ssl.create_default_context()
            if c.security == "ssl":
                server: smtplib.SMTP = smtplib.SMTP_SSL(c.host, c.port_or_default(), timeout=timeout, context=context)
            else:
                server = smtplib.SMTP(c.host, c.port_or_default(), timeout=timeout)
            with server:
                if c.security == "starttls":
                    server.starttls(context=context)
                if c.user:
                    server.login(c.user, password or "")
                server.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(f"the mail server refused the login of {c.user} ({exc.smtp_code}); check alerts.smtp.user "
                            "and its password_file") from None
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise SendError(_scrub(f"{type(exc).__name__}: {exc}", self.secrets())) from None


class Webhook:
    name = "webhook"

    def __init__(self, config: WebhookAlerts):
        self.config = config

    def where(self) -> str:
        parts = urlsplit(self.config.url)   # the path and the query may carry the robot's key
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"

    def secrets(self) -> list[str]:
        return [self.config.url]

    def send(self, message: Message) -> None:
        c = self.config
        body = json.dumps(_fill(c.body, {"{subject}": message.subject, "{message}": message.body}),
                          ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(c.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json; charset=utf-8", **c.headers})
        try:
            with urllib.request.urlopen(request, timeout=c.timeout.total_seconds()) as response:  # noqa: S310
                answer = response.read(65536)
        except urllib.error.HTTPError as exc:
            raise SendError(f"the endpoint answered HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SendError(_scrub(f"cannot reach it: {reason}", self.secrets())) from None
        _robot_verdict(answer)


def _robot_verdict(answer: bytes) -> None:
    """Chat robots (WeCom, DingTalk) answer HTTP 200 with ``{"errcode": N, "errmsg": ...}``; N > 0 is a refusal."""
    try:
        data = json.loads(answer.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return
    if isinstance(data, dict) and data.get("errcode") not in (None, 0, "0"):
        raise SendError(f"the endpoint refused the message: errcode {data.get('errcode')}, {data.get('errmsg')}")


def _fill(template: Any, values: dict[str, str]) -> Any:
    if isinstance(template, str):
        for placeholder, value in values.items():
            template = template.replace(placeholder, value)
        return template
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def channels(config: AlertsConfig) -> list[Channel]:
    found: list[Channel] = []
    if config.smtp is not None:
        found.append(Mail(config.smtp))
    if config.webhook is not None:
        found.append(Webhook(config.webhook))
    return found


def host_name(config: AlertsConfig) -> str:
    return config.name or socket.gethostname()


def _database_passwords(project: Project) -> list[str]:
    found = []
    for db in (project.config.source, project.config.target):
        try:
            password = db.sqlalchemy_url().password
        except OSError:
            continue
        if password:
            found.append(str(password))
    return found


def _masked(message: Message, secrets: Sequence[str]) -> Message:
    """A message leaves the machine: no password in it, even one a driver's error quoted."""
    return Message(redact(message.subject, secrets), redact(message.body, secrets))


# -- the check ----------------------------------------------------------------------------------
@dataclass
class CheckResult:
    sent: list[str]
    failed: list[str]


def check(project: Project, *, now: datetime | None = None, using: Sequence[Channel] | None = None) -> CheckResult:
    """Judge the incidents now and send what is due on every channel. Never raises for a message
    that could not be sent: it is logged and stays due for the next check."""
    now = now or datetime.now(timezone.utc)
    config = project.config.alerts
    chosen = list(using) if using is not None else channels(config)
    result = CheckResult([], [])
    state = open_state(project.config)
    try:
        stored = state.incidents()
        if not chosen and not stored:
            return result
        current, unknown = incidents(findings(project, now=now)[0])
        by_name = {c.name: c for c in chosen}
        name = host_name(config)
        secrets = [*_database_passwords(project), *(s for c in chosen for s in c.secrets())]
        given_up: set[str] = set()     # a channel that failed once in this check is tried again next time
        for step in plan(current, unknown, stored, list(by_name)):
            if step.action == "forget":
                state.close_incident(step.channel, step.mapping, step.kind)
                continue
            if step.action == "open":
                state.open_incident(step.channel, step.mapping, step.kind, step.text, now)
                step = Step("announce", step.channel, step.mapping, step.kind, step.text, now)
            if step.channel in given_up:
                continue
            channel = by_name[step.channel]
            message = _masked(message_for(step, name, now), secrets)
            try:
                channel.send(message)
            except SendError as exc:
                given_up.add(step.channel)
                result.failed.append(f"{channel.name} {channel.where()}: {exc}")
                logger.warning("alerts: cannot send \"{}\" by {} to {}: {}; tried again at the next check",
                               message.subject, channel.name, channel.where(), exc)
                continue
            result.sent.append(f"{channel.name}: {message.subject}")
            logger.info("alerts: sent \"{}\" by {} to {}", message.subject, channel.name, channel.where())
            if step.action == "clear":
                state.close_incident(step.channel, step.mapping, step.kind)
            else:
                state.incident_notified(step.channel, step.mapping, step.kind, now)
    finally:
        state.engine.dispose()
    return result


def send_test(project: Project) -> list[tuple[str, str | None]]:
    """Send a test message on every channel: (channel and where, None or why it failed)."""
    config = project.config.alerts
    name = host_name(config)
    message = Message(f"[syncd {name}] test message",
                      f"This is a test of syncd's alerts from {name} at {_local(datetime.now(timezone.utc))}. "
                      "Incidents (a failed run, rejected rows, lag past health.max_lag) come this way.")
    outcome: list[tuple[str, str | None]] = []
    for channel in channels(config):
        try:
            channel.send(message)
        except SendError as exc:
            outcome.append((f"{channel.name} {channel.where()}", str(exc)))
        else:
            outcome.append((f"{channel.name} {channel.where()}", None))
    return outcome
