"""Alerts (``alerts:`` in the config): a message on the ``smtp`` and/or ``webhook`` channel when a
mapping fails, rejects wait, a run lasts too long or the lag passes ``health.max_lag``; once per
incident, and once more when it clears.

Incidents are judged from the facts ``syncd health`` judges by (``status.findings``). Each channel
keeps its incidents in the state store (``syncd_alert``), so a restart neither repeats a message
nor forgets to say that an incident cleared. A check sends at most one message per channel, listing
every incident opened and cleared since the last one. A message that cannot be sent is logged
(never with a password, nor the webhook's path and query) and sent at the next check; it never
stops a sync. Delivery is at least once: a message sent whose sending could not be recorded is
sent again.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from loguru import logger

from syncd import i18n
from syncd.config import AlertsConfig, SmtpAlerts, WebhookAlerts, read_secret
from syncd.engines import open_state
from syncd.errors import SyncdError
from syncd.i18n import N_, _
from syncd.logs import redact
from syncd.project import Project
from syncd.status import Finding, findings

#: The findings that make an incident, and what a message calls them.
TITLES = {"failed": N_("the last run failed"), "rejects": N_("rejected rows wait"),
          "lag": N_("the lag passes health.max_lag"), "stale": N_("no run for longer than health.max_lag"),
          "running": N_("a run lasts longer than health.max_run")}


def _title(kind: str) -> str:
    return _(TITLES[kind]) if kind in TITLES else kind

#: How much of a message lists incidents (a WeCom text robot takes 2048 bytes); the rest is counted.
MAX_LISTING = 1500

#: The newest source cursors are read (MAX(cursor) of each mapping) at most once per this share of
#: ``health.max_lag``; in between a lag incident neither opens nor clears.
PROBE_SHARE = 2

_probed: dict[str, datetime] = {}      # config file -> when its source was last read for the lag


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
    """What to do about one incident on one channel: ``open`` (record it and send it), ``send``
    (recorded, not sent yet), ``clear`` (send that it cleared, then forget it) or ``forget`` (it
    cleared before it was ever sent). ``channel`` is the channel's key."""

    action: Literal["open", "send", "clear", "forget"]
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
    """The steps that bring each channel's recorded incidents to ``current``. A kind (``lag``) or a
    mapping's kind (``record:failed``) in ``unknown`` cannot be judged now: it neither clears nor opens."""
    steps: list[Step] = []
    for channel in channels:
        mine = {(r["mapping"], r["kind"]): r for r in stored if r["channel"] == channel}
        for key, incident in current.items():
            row = mine.get(key)
            if row is None:
                steps.append(Step("open", channel, incident.mapping, incident.kind, incident.text))
            elif row["notified_at"] is None:
                steps.append(Step("send", channel, incident.mapping, incident.kind, row["message"],
                                  row["opened_at"]))
        for key, row in mine.items():
            if key in current or row["kind"] in unknown or f"{row['mapping']}:{row['kind']}" in unknown:
                continue
            action: Literal["clear", "forget"] = "forget" if row["notified_at"] is None else "clear"
            steps.append(Step(action, channel, row["mapping"], row["kind"], row["message"], row["opened_at"]))
    # the incidents of a channel no longer configured are forgotten without a word
    steps.extend(Step("forget", r["channel"], r["mapping"], r["kind"], r["message"]) for r in stored
                 if r["channel"] not in channels)
    return steps


def _local(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "?"


def message_for(steps: Sequence[Step], name: str, now: datetime) -> Message:
    """One message for every incident opened and cleared on a channel in one check."""
    if len(steps) == 1:
        return _message_one(steps[0], name, now)
    opened = [st for st in steps if st.action != "clear"]
    cleared = [st for st in steps if st.action == "clear"]
    counts = [_("{count} incident(s)").format(count=len(opened))] if opened else []
    counts += [_("{count} cleared").format(count=len(cleared))] if cleared else []
    mappings = sorted({st.mapping for st in steps})
    named = ", ".join(mappings[:3]) + (_(" and {count} more").format(count=len(mappings) - 3)
                                       if len(mappings) > 3 else "")
    lines: list[str] = []
    if opened:
        lines.append(_("Incidents:"))
        lines += ["- " + _("{text} (since {since})").format(text=i18n.translate_stored(st.text),
                                                            since=_local(st.opened_at or now)) for st in opened]
    if cleared:
        lines.append(_("Cleared at {now}:").format(now=_local(now)))
        lines += ["- " + _("{mapping}: {title} (it began at {began})").format(
            mapping=st.mapping, title=_title(st.kind), began=_local(st.opened_at)) for st in cleared]
    listing, size = [], 0
    for i, line in enumerate(lines):
        if size + len(line) > MAX_LISTING:
            listing.append(_("... and {count} more line(s): `syncd health` on {name} lists them.").format(
                count=len(lines) - i, name=name))
            break
        listing.append(line)
        size += len(line) + 1
    listing.append(_("A message follows when each clears; `syncd status` and `syncd health` on {name} say "
                     "more.").format(name=name))
    return Message(f"[syncd {name}] {', '.join(counts)}: {named}", "\n".join(listing))


def _message_one(step: Step, name: str, now: datetime) -> Message:
    title = _title(step.kind)
    text = i18n.translate_stored(step.text)
    if step.action == "clear":
        return Message(_("[syncd {name}] cleared: {mapping}: {title}").format(name=name, mapping=step.mapping,
                                                                            title=title),
                       _("Cleared at {now}. It began at {began}:\n{text}").format(
                           now=_local(now), began=_local(step.opened_at), text=text))
    return Message(f"[syncd {name}] {step.mapping}: {title}",
                   _("{text}\nSince {since}. A message follows when this clears; `syncd status` and `syncd health` "
                     "on {name} say more.").format(text=text, since=_local(step.opened_at or now), name=name))


# -- channels ---------------------------------------------------------------------------------
class Channel(Protocol):
    #: what the channel is called in output: ``smtp`` or ``webhook``
    name: str

    @property
    def key(self) -> str:
        """What its incidents are stored under (``syncd_alert.channel``)."""
        ...

    def where(self) -> str: ...

    def send(self, message: Message) -> None: ...

    def secrets(self) -> list[str]: ...


class SendError(Exception):
    """A message could not be sent; the text names no credential."""


class Smtp:
    """The ``smtp`` channel: a mail through the bureau's mail server (``alerts.smtp``)."""

    name = "smtp"

    def __init__(self, config: SmtpAlerts):
        self.config = config

    @property
    def key(self) -> str:
        return self.name

    def where(self) -> str:
        return f"{self.config.host}:{self.config.port_or_default()}"

    def _password(self) -> str | None:
        if self.config.password_file is None:
            return None
        return read_secret(self.config.password_file)

    def secrets(self) -> list[str]:
        try:
            password = self._password()
        except OSError:
            return []
        return [password] if password else []

    def send(self, message: Message) -> None:
        """Send it, each network step within ``alerts.smtp.timeout``."""
        # The mail and TLS modules load when a message is sent, not with every run (some 10 ms)
        import smtplib
        import ssl
        from email.message import EmailMessage
        from email.utils import formatdate, make_msgid

        c = self.config
        mail = EmailMessage()
        mail["Subject"], mail["From"], mail["To"] = message.subject, c.from_, ", ".join(c.to)
        mail["Date"], mail["Message-ID"] = formatdate(localtime=True), make_msgid(domain="syncd")
        mail.set_content(message.body)
        seconds = c.timeout.total_seconds()
        try:
            password = self._password()
            context = ssl.create_default_context()
            if c.security == "ssl":
                server: smtplib.SMTP = smtplib.SMTP_SSL(c.host, c.port_or_default(), timeout=seconds, context=context)
            else:
                server = smtplib.SMTP(c.host, c.port_or_default(), timeout=seconds)
            with server:
                if c.security == "starttls":
                    server.starttls(context=context)
                if c.user:
                    server.login(c.user, password or "")
                server.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(f"the mail server refused the login of {c.user} ({exc.smtp_code}); check alerts.smtp.user "
                            "and its password_file") from None
        except (smtplib.SMTPException, OSError, ssl.SSLError, ValueError, UnicodeError) as exc:
            raise SendError(_scrub(f"{type(exc).__name__}: {exc}", self.secrets())) from None


class Webhook:
    """The ``webhook`` channel: an HTTP POST of JSON (``alerts.webhook``)."""

    name = "webhook"

    def __init__(self, config: WebhookAlerts):
        self.config = config

    @property
    def key(self) -> str:
        # Another robot (URL) is another channel: it is never sent that an incident it was never
        # told of cleared. The hash names no part of the key.
        parts = urlsplit(self.config.url)
        digest = hashlib.sha256(f"{parts.hostname}:{parts.port}{parts.path}".encode()).hexdigest()
        return f"webhook-{digest[:8]}"

    def where(self) -> str:
        parts = urlsplit(self.config.url)   # the path and the query may carry the robot's key
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"

    def secrets(self) -> list[str]:
        """The URL, its path and query and each of their parts, and the headers' values."""
        parts = urlsplit(self.config.url)
        found = [self.config.url, parts.path, parts.query, parts.netloc.rpartition("@")[0],
                 *(v for _, v in parse_qsl(parts.query)), *self.config.headers.values()]
        found += [piece for piece in parts.path.split("/") if len(piece) >= 12]   # a key in the path
        found += [unquote(f) for f in found]
        return [f for f in found if len(f) >= 6]      # not a short word any message may hold

    def send(self, message: Message) -> None:
        import http.client
        import urllib.error
        import urllib.request

        c = self.config
        try:
            body = json.dumps(_fill(c.body, {"{subject}": message.subject, "{message}": message.body}),
                              ensure_ascii=False).encode("utf-8")
            request = urllib.request.Request(c.url, data=body, method="POST",
                                             headers={"Content-Type": "application/json; charset=utf-8", **c.headers})
            with urllib.request.urlopen(request, timeout=c.timeout.total_seconds()) as response:  # noqa: S310
                answer = response.read(65536)
        except urllib.error.HTTPError as exc:
            raise SendError(_scrub(f"the endpoint answered HTTP {exc.code} {exc.reason}", self.secrets())) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SendError(_scrub(f"cannot reach it: {reason}", self.secrets())) from None
        except http.client.HTTPException as exc:
            raise SendError(_scrub(f"the endpoint did not answer as an HTTP server does, or the URL cannot be used: "
                                   f"{type(exc).__name__}: {exc}", self.secrets())) from None
        except (ValueError, TypeError) as exc:
            raise SendError(_scrub(f"cannot make the request: {type(exc).__name__}: {exc}; check alerts.webhook",
                                   self.secrets())) from None
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
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def channels(config: AlertsConfig) -> list[Channel]:
    found: list[Channel] = []
    if config.smtp is not None:
        found.append(Smtp(config.smtp))
    if config.webhook is not None:
        found.append(Webhook(config.webhook))
    return found


def host_name(config: AlertsConfig) -> str:
    return config.name or socket.gethostname()


def _database_passwords(project: Project) -> list[str]:
    found = []
    urls: list[Callable[[], Any]] = [project.config.source.sqlalchemy_url, project.config.target.sqlalchemy_url,
                                     project.config.state_url]
    for url in urls:
        try:
            password = url().password
        except (OSError, ValueError):
            continue
        if password:
            found.append(str(password))
    return found


def secrets(project: Project, using: Sequence[Channel] | None = None) -> list[str]:
    """Every password and every channel's secret: what no alert message or log line may hold."""
    chosen = list(using) if using is not None else channels(project.config.alerts)
    return [*_database_passwords(project), *(s for c in chosen for s in c.secrets())]


def scrub(project: Project, text: str) -> str:
    """``text`` without a password, the webhook's path and query, or a URL's password."""
    try:
        known = secrets(project)
        webhook = project.config.alerts.webhook
        if webhook is not None:      # the URL shown as the log shows it: its scheme and host
            text = text.replace(webhook.url, f"{Webhook(webhook).where()}/***")
    except Exception:  # noqa: BLE001 - masking what can be known is better than not logging at all
        known = []
    return redact(_scrub(text, known), known)


def _masked(message: Message, secrets: Sequence[str]) -> Message:
    """A message leaves the machine: no password in it, even one a driver's error quoted."""
    return Message(redact(message.subject, secrets), redact(message.body, secrets))


# -- the check ----------------------------------------------------------------------------------
@dataclass
class CheckResult:
    sent: list[str]
    failed: list[str]


def _probe_due(project: Project, now: datetime) -> bool:
    """Whether this check reads the newest source cursors (a MAX(cursor) per mapping on the county's
    database): at most once per ``health.max_lag`` / PROBE_SHARE per config file."""
    key = str(project.config.path)
    last = _probed.get(key)
    if last is not None and last <= now < last + project.config.health.max_lag / PROBE_SHARE:
        return False
    _probed[key] = now
    return True


def _record(what: str, write: Callable[[], None], known: Sequence[str], attempts: int = 3) -> bool:
    """Write to the state store; on failure try twice more, then log and go on: the message may
    then be sent again at the next check (at least once, never lost)."""
    for attempt in range(1, attempts + 1):
        try:
            write()
            return True
        except (SyncdError, OSError) as exc:
            if attempt == attempts:
                logger.warning(_("alerts: could not record {what} in the state store: {error}; the message may "
                                  "be sent again").format(
                                      what=what,
                                      error=redact(_scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                                                   known), known)))
                return False
            time.sleep(0.2 * attempt)
    return False


def check(project: Project, *, now: datetime | None = None, using: Sequence[Channel] | None = None) -> CheckResult:
    """Judge the incidents now and send what is due: one message per channel. Never raises for a
    message that could not be sent: it is logged and stays due for the next check. Each channel's
    network steps wait at most its ``timeout``; no message is begun once ``alerts.every`` (or the
    channels' timeouts added up, if longer) has passed since the check began: what is left is sent
    at the next check."""
    now = now or datetime.now(timezone.utc)
    config = project.config.alerts
    chosen = list(using) if using is not None else channels(config)
    # each channel gets its timeout even when the first is slow; a slow source read does not push
    # the sending past the next check
    deadline = time.monotonic() + max(config.every.total_seconds(), sum(_timeout(c) for c in chosen))
    result = CheckResult([], [])
    state = open_state(project.config)
    try:
        stored = state.incidents()
        if not chosen and not stored:
            return result
        known = secrets(project, chosen)
        if not chosen:
            _forget(state, stored, known)
            return result
        probe = _probe_due(project, now)
        rows: dict[str, dict[str, Any]] = {}
        current, unknown = incidents(findings(project, now=now, probe=probe, rows_out=rows)[0])
        if not probe:
            unknown.add("lag")
        # a run under way is not the mapping's last result: whether its last run failed is known
        # when it ends (the check runs beside the runs, in its own worker)
        unknown |= {f"{m}:failed" for m, row in rows.items() if row["last_status"] == "running"}
        by_key = {c.key: c for c in chosen}
        name = host_name(config)
        due: dict[str, list[Step]] = {}
        for step in plan(current, unknown, stored, list(by_key)):
            if step.action == "forget":
                _record("a forgotten incident", partial(state.close_incident, step.channel, step.mapping, step.kind),
                        known)
                continue
            if step.action == "open":
                _record(f"the incident {step.mapping}: {step.kind}",
                        partial(state.open_incident, step.channel, step.mapping, step.kind, step.text, now), known)
                step = Step("send", step.channel, step.mapping, step.kind, step.text, now)
            due.setdefault(step.channel, []).append(step)
        for key, steps in due.items():
            channel = by_key[key]
            message = _masked(message_for(steps, name, now), known)
            if time.monotonic() >= deadline:
                result.failed.append(f"{channel.name} {channel.where()}: the check ran out of time")
                logger.warning(_("alerts: no time left in this check (alerts.every {every}) to send \"{subject}\" "
                                  "by {name} to {where}; sent at the next check").format(
                                      every=config.every, subject=message.subject, name=channel.name,
                                      where=channel.where()))
                continue
            try:
                channel.send(message)
            except SendError as exc:
                result.failed.append(f"{channel.name} {channel.where()}: {exc}")
                logger.warning(_("alerts: cannot send \"{subject}\" by {name} to {where}: {exc}; sent at the next "
                                  "check").format(
                                      subject=message.subject, name=channel.name, where=channel.where(), exc=exc))
                continue
            result.sent.append(f"{channel.name}: {message.subject}")
            logger.info(_("alerts: sent \"{subject}\" by {name} to {where}").format(
                subject=message.subject, name=channel.name, where=channel.where()))
            for step in steps:
                if step.action == "clear":
                    _record(f"that {step.mapping}: {step.kind} cleared",
                            partial(state.close_incident, step.channel, step.mapping, step.kind), known)
                else:
                    _record(f"the message about {step.mapping}: {step.kind}",
                            partial(state.incident_sent, step.channel, step.mapping, step.kind, now), known)
    finally:
        state.engine.dispose()
    return result


def _timeout(channel: Channel) -> float:
    config = getattr(channel, "config", None)
    return config.timeout.total_seconds() if config is not None else 0.0


def forget(project: Project) -> None:
    """Alerts were taken out of the config: forget the stored incidents, so that alerts put back
    later do not say that long-gone incidents cleared."""
    state = open_state(project.config)
    try:
        stored = state.incidents()
        if stored:
            _forget(state, stored, secrets(project, []))
    finally:
        state.engine.dispose()


def _forget(state: Any, stored: Sequence[dict[str, Any]], known: Sequence[str]) -> None:
    for r in stored:
        _record("a forgotten incident", partial(state.close_incident, r["channel"], r["mapping"], r["kind"]), known)


def send_test(project: Project) -> list[tuple[str, str | None]]:
    """Send a test message on every channel: (channel and where, None or why it failed)."""
    config = project.config.alerts
    name = host_name(config)
    message = Message(f"[syncd {name}] test message",
                      f"This is a test of syncd's alerts from {name} at {_local(datetime.now(timezone.utc))}. "
                      "Incidents (a failed run, rejected rows, a run that lasts too long, lag past health.max_lag) "
                      "come this way.")
    outcome: list[tuple[str, str | None]] = []
    for channel in channels(config):
        try:
            channel.send(message)
        except SendError as exc:
            outcome.append((f"{channel.name} {channel.where()}", str(exc)))
        else:
            outcome.append((f"{channel.name} {channel.where()}", None))
    return outcome
