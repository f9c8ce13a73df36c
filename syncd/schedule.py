"""Schedules: a schedule string -> an APScheduler trigger, and mappings -> the jobs that run them.

Pure: nothing here connects or starts a scheduler. A schedule is either a five-field cron
expression (``*/10 * * * *``, in the config's ``defaults.timezone``) or an interval (``30s``,
``10m``, ``1h``, ``1d``). Where a mapping's schedule comes from, first match wins:

1. a named group under ``schedules:`` in the config that lists the mapping;
2. the mapping's own ``schedule:``;
3. ``defaults.schedule``;
4. ``DEFAULT_SCHEDULE`` (10m).

Mappings that end up with the same schedule form one job and run one after the other in
dependency order, so a parent table is written before its children within one run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from syncd import yamlfile
from syncd.config import Config
from syncd.errors import ConfigError, Problem
from syncd.i18n import _
from syncd.mapping import TableMapping

DEFAULT_SCHEDULE = "10m"

_INTERVAL = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_DOW_PART = re.compile(r"^(\*|[a-z0-9]+)(?:-([a-z0-9]+))?(?:/(\d+))?$")


@dataclass(frozen=True)
class Job:
    """Mappings that share a schedule; ``id`` is stable across reloads (the schedule group's name)."""

    id: str
    schedule: str
    trigger: BaseTrigger
    mappings: tuple[str, ...]

    @property
    def is_interval(self) -> bool:
        return isinstance(self.trigger, IntervalTrigger)

    def next_fire(self, now: datetime) -> datetime | None:
        return self.trigger.get_next_fire_time(None, now)


def _cron_day(token: str) -> int:
    if token.isdigit():
        value = int(token)
        if not 0 <= value <= 7:
            raise ValueError(_("day of week {value} is out of range 0-7").format(value=value))
        return value % 7
    name = token[:3]
    if name not in _DAY_NAMES:
        raise ValueError(_("unknown day of week {token!r}").format(token=token))
    return _DAY_NAMES.index(name)


def crontab_day_of_week(field: str) -> str:
    """The cron day-of-week field as weekday names, which APScheduler reads as cron does.

    APScheduler 3 counts 0 as Monday, cron as Sunday: "1-5" would run Tuesday to Saturday
    if handed over as it is.
    """
    field = field.strip().lower()
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        match = _DOW_PART.match(part)
        if not match:
            raise ValueError(_("cannot read day of week {part!r}").format(part=part))
        first, last, step = match.group(1), match.group(2), int(match.group(3) or 1)
        if step < 1:
            raise ValueError(_("step {step} in day of week must be at least 1").format(step=step))
        if first == "*":
            if last is not None:
                raise ValueError(_("cannot read day of week {part!r}").format(part=part))
            low, high = 0, 6
        else:
            low = _cron_day(first)
            high = low if last is None else _cron_day(last)
            if last is not None and last.isdigit() and int(last) == 7:
                high = 7
            if match.group(3) and last is None:
                high = 6
        if high < low:
            raise ValueError(_("day-of-week range {part!r} runs backwards").format(part=part))
        days.update(d % 7 for d in range(low, high + 1, step))
    return ",".join(_DAY_NAMES[d] for d in sorted(days))


def parse_schedule(text: Any, tz: tzinfo | str, *, file: str = "", key: str = "schedule",
                   line: int | None = None, start: datetime | None = None) -> BaseTrigger:
    """A trigger for ``text``; a ConfigError naming the file and key if it is neither cron nor interval.

    ``start`` anchors an interval (its first fire time); by default it is one interval from now.
    """
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz

    def problem(message: str) -> ConfigError:
        return ConfigError([Problem(file, line, key, message)])

    if not isinstance(text, str) or not text.strip():
        raise problem(f"{text!r} is not a schedule: write an interval (30s, 10m, 1h) "
                      "or a cron expression (*/10 * * * *)")
    interval = _INTERVAL.match(text)
    if interval:
        seconds = int(interval.group(1)) * _UNIT_SECONDS[interval.group(2)]
        if seconds <= 0:
            raise problem(f"interval {text!r} must be longer than zero")
        return IntervalTrigger(seconds=seconds, start_date=start, timezone=zone)
    fields = text.split()
    if len(fields) != 5:
        raise problem(f"{text!r} is not a schedule: an interval is a number and a unit (30s, 10m, 1h, 1d); "
                      f"a cron expression has 5 fields (minute hour day month weekday), this has {len(fields)}")
    try:
        day_of_week = crontab_day_of_week(fields[4])
        return CronTrigger(minute=fields[0], hour=fields[1], day=fields[2], month=fields[3],
                           day_of_week=day_of_week, timezone=zone)
    except ValueError as exc:
        raise problem(f"{text!r} is not a valid cron expression: {exc}") from None


def _group_problem(config: Config, loc: tuple[Any, ...], message: str) -> Problem:
    return Problem(str(config.path), _line(config, loc), ".".join(map(str, loc)), message)


def _line(config: Config, loc: tuple[Any, ...]) -> int | None:
    return yamlfile.line_at(config.schedules, loc[1:]) if loc and loc[0] == "schedules" else None


def plan_jobs(config: Config, mappings: Sequence[TableMapping], *, names: Iterable[str] = ()) -> list[Job]:
    """The jobs that run ``mappings`` (already in dependency order).

    Without ``names``, disabled mappings are left out; with ``names`` (``run -m``) exactly
    those run, as ``run --once -m`` does. Every invalid schedule is reported in one ConfigError.
    """
    chosen = set(names)
    wanted = [m for m in mappings if (m.name in chosen if chosen else m.spec.enabled)]
    problems: list[Problem] = []
    triggers: dict[str, tuple[str, BaseTrigger]] = {}   # job id -> (schedule, trigger)
    owner = _groups(config, {m.name for m in mappings}, triggers, problems)
    job_of: dict[str, str] = {}
    for m in wanted:
        job_id = f"group:{owner[m.name]}" if m.name in owner else _own_job(config, m, triggers, problems)
        if job_id is not None:
            job_of[m.name] = job_id
    if problems:
        raise ConfigError(problems)
    jobs: dict[str, list[str]] = {}
    for m in wanted:            # dependency order is kept inside each job
        if m.name in job_of:
            jobs.setdefault(job_of[m.name], []).append(m.name)
    return [Job(job_id, triggers[job_id][0], triggers[job_id][1], tuple(members))
            for job_id, members in jobs.items()]


def _groups(config: Config, known: set[str], triggers: dict[str, tuple[str, BaseTrigger]],
            problems: list[Problem]) -> dict[str, str]:
    """The named ``schedules:`` groups: their triggers go into ``triggers``; returns mapping -> group."""
    owner: dict[str, str] = {}
    if not isinstance(config.schedules, dict):
        problems.append(_group_problem(config, ("schedules",), "schedules must map a name to "
                                       "{schedule: ..., mappings: [...]}"))
        return owner
    for group, spec in config.schedules.items():
        where = ("schedules", group)
        if not isinstance(spec, dict) or set(spec) - {"schedule", "mappings"} or "schedule" not in spec:
            problems.append(_group_problem(config, where, "a schedule group needs 'schedule' and 'mappings' "
                                           "(and nothing else)"))
            continue
        try:
            trigger = parse_schedule(spec["schedule"], config.defaults.timezone, file=str(config.path),
                                     key=f"schedules.{group}.schedule",
                                     line=_line(config, (*where, "schedule")))
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        members = spec.get("mappings") or []
        for i, name in enumerate([members] if isinstance(members, str) else members):
            if name not in known:
                problems.append(_group_problem(config, (*where, "mappings", i),
                                               f"no mapping named {name!r} (known: {', '.join(sorted(known))})"))
            elif name in owner:
                problems.append(_group_problem(config, (*where, "mappings", i),
                                               f"mapping {name!r} is already in schedule group {owner[name]!r}"))
            else:
                owner[name] = str(group)
        triggers[f"group:{group}"] = (str(spec["schedule"]), trigger)
    return owner


def _own_job(config: Config, m: TableMapping, triggers: dict[str, tuple[str, BaseTrigger]],
             problems: list[Problem]) -> str | None:
    """The job of a mapping in no group: one per distinct schedule text; None if it does not parse."""
    text = m.schedule or DEFAULT_SCHEDULE
    job_id = f"schedule:{' '.join(text.split())}"
    if job_id not in triggers:
        own = m.spec.schedule is not None
        try:
            trigger = parse_schedule(text, config.defaults.timezone, file=str(m.file if own else config.path),
                                     key="schedule" if own else "defaults.schedule",
                                     line=m.line_of("schedule") if own else None)
        except ConfigError as exc:
            problems.extend(exc.problems)
            return None
        triggers[job_id] = (text, trigger)
    return job_id


def next_runs(jobs: Sequence[Job], now: datetime) -> dict[str, datetime | None]:
    """When each mapping would next run if a scheduler started at ``now``."""
    result: dict[str, datetime | None] = {}
    for job in jobs:
        when = job.next_fire(now)
        for name in job.mappings:
            result[name] = when
    return result



#: the id of the daemon's reconcile job
RECONCILE_JOB = "reconcile"


def reconcile_job(config: Config, mappings: Sequence[TableMapping]) -> Job | None:
    """The daemon's reconcile job (``reconcile: {schedule: ..., repair: ...}``), or None without a
    schedule. Its ``mappings`` are those listed under ``reconcile.mappings`` (default: every enabled
    mapping, in dependency order)."""
    spec = config.reconcile
    if spec.schedule is None:
        return None
    known = {m.name for m in mappings}
    problems = [Problem(str(config.path), None, f"reconcile.mappings.{i}",
                        _("no mapping named {name!r} (known: "
                          "{sorted})").format(name=name, sorted=', '.join(sorted(known))))
                for i, name in enumerate(spec.mappings) if name not in known]
    try:
        trigger = parse_schedule(spec.schedule, config.defaults.timezone, file=str(config.path),
                                 key="reconcile.schedule")
    except ConfigError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    chosen = tuple(m.name for m in mappings if (m.name in spec.mappings if spec.mappings else m.spec.enabled))
    return Job(RECONCILE_JOB, spec.schedule, trigger, chosen)
