"""The config file: YAML -> frozen ``Config``; every problem reported at once.

Finding the file: ``-c/--config``, else ``$SYNCD_CONFIG``, else ``./config.yaml``, else
``/etc/syncd/config.yaml``. Relative paths in the file resolve against the file's folder.
``${NAME}`` works in every string (from ``vars:``, then the environment). A ``password_file``
beside a ``url`` supplies the password, so no secret needs to sit in the config.
"""

from __future__ import annotations

import errno
import json
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    field_validator,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from syncd import dialects, yamlfile
from syncd.errors import ConfigError, Problem
from syncd.i18n import N_, _
from syncd.pacing import HeavyHours, parse_heavy_hours


def read_secret(path: Path) -> str:
    """The password (or key) a ``password_file`` holds: its UTF-8 text (a byte-order mark left by
    a Windows editor is dropped), stripped. A file that is not UTF-8 (a GBK password saved by a
    Chinese editor) raises OSError EILSEQ naming it, like a file that cannot be read: never a
    UnicodeDecodeError, whose text and traceback would show the bytes."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise OSError(errno.EILSEQ, _("not UTF-8 text; save it as UTF-8 (e.g. iconv -f GBK -t UTF-8)"),
                      str(path)) from None

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any) -> timedelta:
    """``30s``, ``10m``, ``1h``, ``2d``, ``500ms`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(_("expected a duration such as 30s, 10m, 1h"))
    if isinstance(value, (int, float)):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(_("{value!r} is not a duration: write e.g. 30s, 10m, 1h or 2d").format(value=value))
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
#: ``heavy_hours: "22:00-06:00"``: the local hours heavy work (full copies, repairs) may run in
HeavyHoursSetting = Annotated[HeavyHours | None, PlainValidator(parse_heavy_hours),
                              PlainSerializer(lambda h: h.describe() if h is not None else None)]


def _usable_url(value: str) -> str:
    """``value`` if it is a database URL syncd can use without connecting; else ValueError saying why."""
    try:
        url = make_url(value)
    except (ArgumentError, ValueError) as exc:
        raise ValueError(_("not a database URL ({exc}); write e.g. "
                           "mysql+pymysql://user@host:3306/db").format(exc=exc)) from None
    if url.host and "@" in url.host:
        # SQLAlchemy ends the password at the first @: the rest of it would be taken for the host
        # (and shown as the host in every message). Nothing of the URL is quoted here.
        raise ValueError(_("the URL has more than one @ before its host: an @ in the password must be written %40 "
                           "(Admin@123 as Admin%40123), or put the password in a password_file"))
    problem = dialects.url_problem(url)
    if problem:
        raise ValueError(problem)
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class DatabaseConfig(_Frozen):
    url: str
    schema_: str | None = Field(default=None, alias="schema")
    password_file: Path | None = None
    connect_timeout: Duration = timedelta(seconds=15)
    # The target's: how long a write waits for a row or table lock another session holds before it
    # gives up and the batch is retried (MySQL/MariaDB innodb_lock_wait_timeout and
    # lock_wait_timeout, PostgreSQL lock_timeout, Oracle the driver's call timeout).
    lock_timeout: Duration = timedelta(seconds=60)
    # Added to the source database's clock when bounding a window; for an application that
    # writes local time into a database whose clock reports UTC (e.g. 8h).
    clock_offset: Duration = timedelta(0)

    @field_validator("url")
    @classmethod
    def _url_parses(cls, value: str) -> str:
        return _usable_url(value)

    def sqlalchemy_url(self) -> URL:
        """The URL with the password from ``password_file`` filled in."""
        url = make_url(self.url)
        if self.password_file is not None:
            url = url.set(password=read_secret(self.password_file))
        return url

    def display_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)


class StateConfig(_Frozen):
    url: str | None = None
    dir: Path | None = None
    password_file: Path | None = None

    @field_validator("url")
    @classmethod
    def _url_parses(cls, value: str | None) -> str | None:
        return None if value is None else _usable_url(value)


class Defaults(_Frozen):
    batch_size: int = Field(default=2000, ge=1, le=1_000_000)
    lookback: Duration = timedelta(minutes=10)
    lag: Duration = timedelta(seconds=5)
    null_cursor: Literal["include", "exclude", "error"] = "include"
    # A row whose cursor cannot be read as the cursor's type (a MySQL zero date, an impossible
    # date, text in a time column): reject it, leave it out with a warning, or stop the run.
    bad_cursor: Literal["reject", "exclude", "error"] = "reject"
    schedule: str | None = None
    timezone: str = "Asia/Shanghai"
    retries: int = Field(default=5, ge=0, le=100)
    retry_wait: Duration = timedelta(seconds=2)
    retry_wait_max: Duration = timedelta(seconds=60)
    # Batches read ahead in a thread while the previous one is written (0: read, then write).
    # Unset: the source database's own (1; SQLite 0, see dialects/sqlite.py).
    prefetch: int | None = Field(default=None, ge=0, le=8)
    # How long a stopping daemon lets the batch in flight finish; keep it below systemd's TimeoutStopSec.
    stop_timeout: Duration = timedelta(seconds=60)
    # Heavy work (full copies, re-sends after a mapping change, reconcile repairs) only in these
    # local hours, and at most this many rows a second; incremental runs are never held back.
    heavy_hours: HeavyHoursSetting = None
    max_rows_per_second: int | None = Field(default=None, ge=1)


class LogConfig(_Frozen):
    dir: Path | None = None
    level: Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    rotation: str = "50 MB"
    retention: str = "180 days"


#: Network logs must be kept at least six months: a shorter ``audit.retention`` is refused.
MIN_AUDIT_RETENTION = timedelta(days=180)
_DAYS = re.compile(r"^\s*(\d+)\s*(d|day|days|w|week|weeks|months?|y|year|years)?\s*$")
_DAYS_PER = {None: 1, "d": 1, "day": 1, "days": 1, "w": 7, "week": 7, "weeks": 7, "month": 30, "months": 30,
             "y": 365, "year": 365, "years": 365}


def parse_retention(value: Any) -> timedelta:
    """Whole days: ``365``, ``365d``, ``365 days``, ``52 weeks``, ``12 months`` (30 days) or ``1 year``."""
    if isinstance(value, timedelta):
        days = value
    elif isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(_("expected a number of days, e.g. 365 days"))
    else:
        match = _DAYS.match(str(value))
        if not match:
            raise ValueError(_("{value!r} is not a number of days: write e.g. 365 days, 52 weeks "
                               "or 1 year").format(value=value))
        days = timedelta(days=int(match.group(1)) * _DAYS_PER[match.group(2)])
    if days < MIN_AUDIT_RETENTION:
        raise ValueError(_("{days} days is too short: network logs must be kept at least six months, so "
                           "audit.retention must be {minimum} "
                           "days or more").format(days=days.days, minimum=MIN_AUDIT_RETENTION.days))
    return days


class AuditConfig(_Frozen):
    # With a key, each record is sealed with HMAC-SHA256: who can write the state store cannot
    # recompute the chain. The file holds the key (keep it out of the state directory).
    key_file: Path | None = None
    # Whole days of the journal older than this are pruned (table and JSON lines).
    retention: Annotated[timedelta, BeforeValidator(parse_retention)] = timedelta(days=365)


class HealthConfig(_Frozen):
    max_lag: Duration = timedelta(hours=2)
    max_rejects: int = 0
    # A run of one mapping that has lasted longer than this makes health fail, naming what it waits on.
    max_run: Duration = timedelta(minutes=10)


def _addresses(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class SmtpAlerts(_Frozen):
    """``alerts.smtp``: the bureau's mail server. ``password_file`` holds the password of ``user``."""

    host: str
    port: int | None = Field(default=None, ge=1, le=65535)     # default: 465 with ssl, 587 with starttls, else 25
    security: Literal["starttls", "ssl", "none"] = "starttls"
    user: str | None = None
    password_file: Path | None = None
    from_: str = Field(alias="from")
    to: Annotated[tuple[str, ...], BeforeValidator(_addresses)] = Field(min_length=1)
    timeout: Duration = timedelta(seconds=30)

    def port_or_default(self) -> int:
        return self.port or {"ssl": 465, "starttls": 587}.get(self.security, 25)


class WebhookAlerts(_Frozen):
    """``alerts.webhook``: an HTTP POST of a JSON body (an intranet chat robot). In ``body`` every
    ``{subject}`` and ``{message}`` inside a string is replaced by the alert's."""

    url: str
    body: dict[str, Any] = {"msgtype": "text", "text": {"content": "{subject}\n{message}"}}
    headers: dict[str, str] = {}
    timeout: Duration = timedelta(seconds=10)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(_("write an http:// or https:// URL, e.g. http://10.1.2.3/robot/send?key=..."))
        odd = re.search(r"[\x00-\x20\x7f]", value)
        if odd:
            what = "a space" if odd.group() == " " else "a tab, line break or control character"
            raise ValueError(_("the URL holds {what} at character {value}: "
                               "remove it, or write a space as %20").format(what=what, value=odd.start() + 1))
        return value

    @field_validator("body")
    @classmethod
    def _json(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(_("body must be JSON: text, numbers, true/false, lists and mappings ({exc}); put a date "
                               "or time in quotes").format(exc=exc)) from None
        return value


class AlertsConfig(_Frozen):
    """``alerts:``: a message on the smtp and/or webhook channel when a mapping fails, rejects wait, a
    run lasts too long or the lag passes ``health.max_lag``; once per incident, and once more when it
    clears."""

    smtp: SmtpAlerts | None = None
    webhook: WebhookAlerts | None = None
    # How often the daemon looks for incidents (and retries a message that could not be sent).
    every: Duration = timedelta(minutes=2)
    # The name of this machine in the messages (default: its host name).
    name: str | None = None

    @property
    def enabled(self) -> bool:
        return self.smtp is not None or self.webhook is not None


class ReconcileConfig(_Frozen):
    """``reconcile:``: the daemon compares each mapping's target with its source on this schedule
    (cron or interval, as a mapping's schedule) and, with ``repair``, re-sends what is missing or
    different and applies each mapping's ``on_source_delete``."""

    schedule: str | None = None
    repair: bool = False
    mappings: tuple[str, ...] = ()

    @field_validator("mappings", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Config(_Frozen):
    source: DatabaseConfig
    target: DatabaseConfig
    state: StateConfig = StateConfig()
    mappings: Path = Path("mappings")
    defaults: Defaults = Defaults()
    vars: dict[str, str] = {}
    log: LogConfig = LogConfig()
    health: HealthConfig = HealthConfig()
    audit: AuditConfig = AuditConfig()
    reconcile: ReconcileConfig = ReconcileConfig()
    alerts: AlertsConfig = AlertsConfig()
    schedules: dict[str, Any] = {}
    # Oracle Instant Client folder: turns on python-oracledb's thick mode, which Oracle 11g needs.
    oracle_client: Path | None = None
    # The language of messages (zh, en); --lang wins, the locale applies without either.
    lang: Literal["zh", "en"] | None = None
    path: Path = Path("config.yaml")

    @property
    def codes_dir(self) -> Path:
        return self.mappings / "codes"

    def state_url(self) -> URL:
        if self.state.url:
            url = make_url(self.state.url)
            if self.state.password_file is not None:
                url = url.set(password=read_secret(self.state.password_file))
            return url
        return dialects.file_url(self.state_dir() / "state.db")

    def state_dir(self) -> Path:
        if self.state.dir is not None:
            return self.state.dir
        if os.environ.get("STATE_DIRECTORY"):
            return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
        return self.path.parent / "state"


def find_config(explicit: str | Path | None, env: Mapping[str, str] = os.environ) -> Path:
    """The config file to use, by the documented search order."""
    if explicit:
        return Path(explicit)
    if env.get("SYNCD_CONFIG"):
        return Path(env["SYNCD_CONFIG"])
    for candidate in (Path("config.yaml"), Path("/etc/syncd/config.yaml")):
        if candidate.exists():
            return candidate
    raise ConfigError([Problem("config.yaml", None, "",
                               _("no config file: pass -c FILE, set SYNCD_CONFIG, or create ./config.yaml or "
                                 "/etc/syncd/config.yaml (see config.example.yaml)"))])


def declared_language(path: Path) -> str | None:
    """``lang:`` of a config file, read before the file is checked (None if absent or unreadable),
    so that the file's own problems are reported in that language."""
    try:
        data, _problems = yamlfile.load(path)
    except OSError:
        return None
    found = data.get("lang") if isinstance(data, dict) else None
    return found if isinstance(found, str) else None


#: pydantic's words for the common kinds of wrong value, in the current language (the rest as pydantic says them)
_PYDANTIC = {
    "int_parsing": N_("expected a whole number"),
    "int_type": N_("expected a whole number"),
    "int_from_float": N_("expected a whole number"),
    "float_parsing": N_("expected a number"),
    "float_type": N_("expected a number"),
    "bool_parsing": N_("expected true or false"),
    "bool_type": N_("expected true or false"),
    "string_type": N_("expected text"),
    "list_type": N_("expected a list"),
    "dict_type": N_("expected a mapping (key: value lines)"),
    "model_type": N_("expected a mapping (key: value lines)"),
    "model_attributes_type": N_("expected a mapping (key: value lines)"),
    "literal_error": N_("expected {expected}"),
    "greater_than": N_("must be greater than {gt}"),
    "greater_than_equal": N_("must be {ge} or more"),
    "less_than": N_("must be less than {lt}"),
    "less_than_equal": N_("must be {le} or less"),
    "too_short": N_("must hold at least {min_length} item(s)"),
    "too_long": N_("must hold at most {max_length} item(s)"),
    "path_type": N_("expected a path"),
}


def pydantic_message(kind: str, english: str, ctx: Mapping[str, Any]) -> str:
    """pydantic's message for an error of ``kind`` in the current language (in English: pydantic's own)."""
    template = _PYDANTIC.get(kind)
    if template is None or _(template) == template:
        return english
    try:
        return _(template).format(**{k: str(v) for k, v in ctx.items()})
    except (KeyError, IndexError):
        return english


def pydantic_problems(exc: ValidationError, data: Any, file: str) -> list[Problem]:
    """Turn pydantic's errors into problems with the line each one sits on."""
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = _("unknown key {key!r}: check the spelling (see the documentation of this file)").format(
                key=loc[-1])
        elif err["type"] == "missing":
            message = _("required key {key!r} is missing").format(key=loc[-1])
        else:
            message = pydantic_message(err["type"], message, err.get("ctx") or {})
        problems.append(Problem(file, yamlfile.line_at(data, loc), yamlfile.format_loc(loc), message))
    return problems


def _resolve(base: Path, value: Any) -> Any:
    if value is None:
        return None
    path = Path(os.path.expanduser(str(value)))
    return path if path.is_absolute() else base / path


def _resolve_url(base: Path, url: Any) -> Any:
    """A database file named by a relative path lies beside the config file."""
    if not isinstance(url, str):
        return url
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return url   # reported by the model's validation
    if parsed.get_backend_name() not in dialects.REGISTRY:
        return url   # reported by the model's validation
    db = dialects.get(parsed.get_backend_name()).database_file(parsed)
    if db is None or db.is_absolute():
        return url
    return parsed.set(database=str(base / db)).render_as_string(hide_password=False)


#: Paths in the config, relative to its folder; those that must exist, with what to do if not.
_PATHS: tuple[tuple[tuple[str, ...], str | None, str], ...] = (
    (("source", "password_file"), "file", "password file {} does not exist or is not readable"),
    (("target", "password_file"), "file", "password file {} does not exist or is not readable"),
    (("state", "password_file"), "file", "password file {} does not exist or is not readable"),
    (("alerts", "smtp", "password_file"), "file", "password file {} does not exist or is not readable"),
    (("state", "dir"), None, ""),
    (("log", "dir"), None, ""),
    (("audit", "key_file"), "file", "key file {} does not exist or is not readable; create it (e.g. head -c 32 "
                                    "/dev/urandom | base64 > FILE, mode 0400, owned by syncd's user)"),
    (("oracle_client",), "dir", "Oracle Instant Client folder {} does not exist; unpack Instant Client there "
                                "(see docs/databases.md), or remove the key"),
)


def _resolve_paths(data: dict[str, Any], path: Path, problems: list[Problem]) -> dict[str, Any]:
    """``data`` with every path resolved against the config's folder, and a missing file named."""
    base, file = path.parent, str(path)
    resolved: dict[str, Any] = {**data, "path": path, "mappings": _resolve(base, data.get("mappings", "mappings"))}
    for role in ("source", "target", "state"):
        if isinstance(data.get(role), dict) and "url" in data[role]:
            resolved[role] = {**data[role], "url": _resolve_url(base, data[role]["url"])}
    for loc, must, message in _PATHS:
        key = loc[-1]
        holder: Any = resolved
        for section in loc[:-1]:     # copy the sections on the way down: ``data`` stays as read
            inner = holder.get(section)
            if not isinstance(inner, dict):
                holder = None
                break
            holder[section] = holder = dict(inner)
        if not isinstance(holder, dict) or holder.get(key) is None:
            continue
        holder[key] = value = _resolve(base, holder[key])
        if (must == "file" and not Path(value).is_file()) or (must == "dir" and not Path(value).is_dir()):
            problems.append(Problem(file, yamlfile.line_at(data, loc), ".".join(loc), message.format(value)))
        elif key == "password_file":
            try:
                read_secret(Path(value))
            except OSError as exc:     # unreadable here (the service's credentials): read when used
                if exc.errno == errno.EILSEQ:
                    problems.append(Problem(file, yamlfile.line_at(data, loc), ".".join(loc),
                                            _("password file {file}: {problem}").format(file=value,
                                                                                       problem=exc.strerror)))
    return resolved


def load_config(path: Path, env: Mapping[str, str] = os.environ) -> Config:
    """Parse and validate the config file; raise ConfigError with every problem."""
    file = str(path)
    data, problems = yamlfile.load(path)
    if problems:
        raise ConfigError(problems)
    if not isinstance(data, dict):
        raise ConfigError([Problem(file, 1, "", _("the config must be a YAML mapping (key: value lines)"))])
    raw_vars = data.get("vars") or {}
    variables = {str(k): str(v) for k, v in raw_vars.items()} if isinstance(raw_vars, dict) else {}
    data = yamlfile.interpolate(data, variables, env, file=file, problems=problems)
    resolved = _resolve_paths(data, path, problems)
    try:
        config = Config.model_validate(resolved)
    except ValidationError as exc:
        problems.extend(pydantic_problems(exc, data, file))
        raise ConfigError(problems) from None
    if not config.mappings.is_dir():
        problems.append(Problem(file, yamlfile.line_at(data, ("mappings",)), "mappings",
                                _("mappings directory {mappings} does not exist").format(mappings=config.mappings)))
    if problems:
        raise ConfigError(problems)
    return config
