"""The library of commands: one function per verb, returning values. Called by the CLI and by tests;
never prints, never exits.

The verbs that have a module of their own are re-exported here, so that the CLI (and a library
caller) finds every verb in one place: ``open_project`` (syncd.project), ``run_once``
(syncd.runner), ``status`` and ``health`` (syncd.status). ``run_once`` and the reports are
imported the first time they are asked for, so that ``syncd status`` does not load the copying
machinery. Commands open what they need and close it again (``syncd.engines``), so a caller can
run them in a loop without leaking connections.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from syncd import audit, dialects, lock
from syncd.config import parse_duration
from syncd.engines import (
    ServerFacts,
    answers,
    connect,
    engine_for,
    file_problem,
    make_engine,
    open_state,
    state_warnings,
    state_write_problems,
)
from syncd.errors import ConfigError, MappingError, Problem, SyncdError
from syncd.i18n import _
from syncd.project import Project, config_language, open_project, secret_warnings
from syncd.source import Source
from syncd.state import (
    StateStore,
    as_utc,
    check_store,
    journal_directory,
    journal_settings,
    read_journal_files,
    read_key,
    salvage,
)
from syncd.watermark import Watermark, cursor_problem, decode_key, decode_value, format_like

if TYPE_CHECKING:
    from syncd import alerts
    from syncd.runner import RunReport, run_once
    from syncd.status import health, lag, status

#: re-exported verbs -> their module, imported when first asked for
_ELSEWHERE = {"RunReport": "syncd.runner", "run_once": "syncd.runner",
              "health": "syncd.status", "lag": "syncd.status", "status": "syncd.status"}


def __getattr__(name: str) -> Any:
    if name not in _ELSEWHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_ELSEWHERE[name]), name)
    globals()[name] = value
    return value


__all__ = ["HISTORY_FIELDS", "Project", "RunReport", "ServerFacts", "StoreCheck", "audit_head",
           "audit_list", "audit_verify", "check", "config_language", "drop_rejects", "health", "history",
           "history_records", "key_text",
           "lag", "note_files", "open_project", "plan_mapping", "preview", "reconcile", "rejects", "report",
           "rewind_watermark", "run_once", "scaffold", "schedule_problems", "secret_warnings", "server_facts",
           "set_watermark", "source_notes", "state_warnings",
           "state_check", "state_rebuild", "status", "watermark_show"]


def check(project: Project, *, connect_databases: bool = False,
          warnings: list[str] | None = None) -> list[dict[str, Any]]:
    """What each mapping does; with ``connect_databases`` also checks each mapping against the
    databases (``syncd.authoring.check_connected``); what works but narrows values goes into
    ``warnings``.

    Raises MappingError listing every mapping that does not fit the databases.
    """
    rows = [{"mapping": m.name, "source": m.source.table or "(query)", "target": m.target.table,
             "columns": len(m.columns), "depends_on": ", ".join(m.spec.depends_on),
             "cursor": m.source.cursor, "key": ", ".join(m.source.key)} for m in project.mappings]
    config = project.config
    static = schedule_problems(project)
    static += [Problem(str(config.path), None, f"{role}.url", missing)
               for role, db in (("source", config.source), ("target", config.target))
               if (missing := file_problem(role, db)) is not None]
    if static:
        raise ConfigError(static)
    if not connect_databases:
        return rows
    problems = [Problem(str(config.path), None, f"{role}.url", failure)
                for role, db in (("source", config.source), ("target", config.target))
                if (failure := answers(role, db)) is not None]
    if problems:   # nothing more can be checked against a database that does not answer
        raise MappingError(problems)
    from syncd.authoring import check_connected, databases, privilege_problems

    with databases(config) as (source, target):
        found, warned = check_connected(project, source, target)
        found += privilege_problems(project, source, target)
    problems.extend(found)
    problems.extend(Problem(str(config.path), None, "state", line) for line in state_write_problems(config))
    if warnings is not None:
        warnings.extend(warned)
    if problems:
        raise MappingError(problems)
    return rows


@contextmanager
def _state(project: Project, *, journaled: bool = False, mappings: Sequence[Any] = ()) -> Iterator[StateStore]:
    """The state store, closed again afterwards; ``journaled``: its changes go into the audit journal."""
    state = open_state(project.config)
    try:
        if journaled:
            state.attach_journal(journal_settings(project.config, mappings))
        yield state
    finally:
        state.engine.dispose()



def schedule_problems(project: Project) -> list[Problem]:
    """Every schedule the daemon would refuse (a mapping's, ``defaults.schedule``, ``schedules:``
    groups, ``reconcile.schedule``), so that check fails where ``syncd run`` would."""
    from syncd import schedule

    found: list[Problem] = []
    for plan in (lambda: schedule.plan_jobs(project.config, project.mappings),
                 lambda: schedule.reconcile_job(project.config, project.mappings)):
        try:
            plan()
        except ConfigError as exc:
            found.extend(p for p in exc.problems if p not in found)
    return found


def server_facts(project: Project) -> list[ServerFacts]:
    """Per database (source, target, state store): server version, clock and its offset from this
    machine, session time zone and character set (``syncd.engines.ServerFacts``)."""
    from syncd.engines import server_facts as ask

    return ask(project.config)


def source_notes(project: Project) -> list[str]:
    """What check --connect tells about how the source's windows are bounded."""
    with connect(project.config) as c:
        if c.source.transactions_visible():
            return [_("source: open transactions are visible: each window stops before the oldest that may still "
                      "write a row, so a row of a long transaction is read once it commits (a transaction left "
                      "open delays the rows committed after its start until it ends)")]
        grant = c.source.dialect.transactions_grant
        return [_("source: open write transactions of other users are not visible to this user: a row committed "
                  "later than lag + lookback after its cursor time is missed by incremental runs (reconcile finds "
                  "it)") + (_("; {grant} lets syncd hold each window before them").format(
                      grant=grant) if grant else "")]

def _required(text: str, option: str, what: str) -> str:
    if not text.strip():
        raise ConfigError([Problem("", None, option, _("say {what}: {option} TEXT").format(what=what, option=option))])
    return text.strip()


def rejects(project: Project, *, mapping: str | None = None, status_: str | None = "pending",
            limit: int | None = 1000, key: str | None = None) -> list[dict[str, Any]]:
    """Reject episodes with their reason; ``key`` is the source key as an operator types it (``1`` or
    ``a, b``). With ``key`` (and ``mapping``): every episode of that key, oldest first."""
    if mapping:
        project.mapping(mapping)
    with _state(project) as state:
        if key is not None and mapping:
            stored = [k for k in state.reject_keys(mapping) if key_text(decode_key(k)) == key]
            found = [r for k in stored for r in state.list_rejects(mapping, status=status_, limit=None, source_key=k)]
        else:
            found = state.list_rejects(mapping, status=status_, limit=limit)
    for row in found:
        row["key"] = key_text(decode_key(row["source_key"]))
        row["row"] = {k: decode_value(v) for k, v in json.loads(row["row_data"]).items()}
    if key is not None:
        found = [r for r in found if r["key"] == key]
    return found


def key_text(key: Sequence[Any]) -> str:
    return ", ".join(str(k) for k in key)


def drop_rejects(project: Project, *, mapping: str, keys: Sequence[str], reason: str,
                 by: str | None = None) -> list[str]:
    """Mark pending rejects of ``mapping`` (by ``key`` text) as dropped, by ``by`` (default: the OS
    user), journaled; returns the keys not found. They stay dropped while their source row is
    unchanged."""
    chosen = project.mapping(mapping)
    reason = _required(reason, "--reason", "why the rows are dropped")
    with _state(project, journaled=True, mappings=[chosen]) as state:
        by_text = {key_text(decode_key(k)): k for k in state.pending_keys(mapping)}
        unknown = [k for k in keys if k not in by_text]
        state.drop_rejects(mapping, [by_text[k] for k in keys if k in by_text], reason,
                           by=by.strip() if by and by.strip() else None)
    return unknown


def reconcile(project: Project, *, names: Sequence[str] = (), now: datetime | None = None) -> list[Any]:
    """Compare each chosen mapping's target table with what its source says it should hold
    (a list of ``syncd.reconcile.Reconciliation``)."""
    # pandas is imported here, not at start-up: it costs every sync run 40 MB and 0.3 s.
    from syncd.reconcile import reconcile as reconcile_mapping

    now = now or datetime.now(timezone.utc)
    for name in names:
        project.mapping(name)
    chosen = [m for m in project.mappings if not names or m.name in names]
    with connect(project.config) as c:
        return [reconcile_mapping(m, source=c.source, target=c.target, state=c.state, codes=project.codes,
                                  now=now, tz=project.tz) for m in chosen]


def _day_start(day: date, tz: Any) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(timezone.utc)


def history(project: Project, *, mapping: str | None = None, limit: int | None = 50, since: date | None = None,
            until: date | None = None, status_: str | None = None) -> list[dict[str, Any]]:
    """Run records (all mappings, or one), newest first; ``since`` and ``until`` are days in
    defaults.timezone, both included."""
    if mapping:
        project.mapping(mapping)
    tz = project.tz
    with _state(project) as state:
        return state.history(mapping, limit=limit, status=status_,
                             since=_day_start(since, tz) if since else None,
                             until=_day_start(until + timedelta(days=1), tz) if until else None)


#: The fields of ``syncd history --format json`` and the columns of ``--format csv``, in order.
HISTORY_FIELDS = ("run_id", "mapping", "mode", "status", "started_at", "ended_at", "read", "inserted", "updated",
                  "unchanged", "written", "rejected", "rejects_resolved", "window", "watermark_before",
                  "watermark_after", "error")


def _local_text(moment: datetime | None, tz: Any) -> str | None:
    moment = as_utc(moment)
    return moment.astimezone(tz).isoformat(timespec="seconds") if moment is not None else None


def _described(text: str | None) -> str | None:
    try:
        mark = Watermark.from_json(text)
    except (ValueError, KeyError, TypeError):
        return text
    return mark.describe() if mark is not None else None


def history_records(project: Project, **filters: Any) -> list[dict[str, Any]]:
    """``history`` as an auditor reads it (``HISTORY_FIELDS``): times in defaults.timezone, nothing
    cut. ``inserted``, ``updated`` and ``unchanged`` are null for runs whose write path did not
    tell them apart; ``written`` (= inserted + updated) is always there."""
    tz = project.tz
    return [{"run_id": r["run_id"], "mapping": r["mapping"], "mode": r["mode"], "status": r["status"],
             "started_at": _local_text(r["started_at"], tz), "ended_at": _local_text(r["ended_at"], tz),
             "read": r["rows_read"], "inserted": r.get("inserted"), "updated": r.get("updated"),
             "unchanged": r.get("unchanged"), "written": r["rows_written"], "rejected": r["rows_rejected"],
             "rejects_resolved": r["rejects_resolved"], "window": r["window"],
             "watermark_before": _described(r["watermark_before"]), "watermark_after": _described(r["watermark_after"]),
             "error": r["error"]} for r in history(project, **filters)]


# -- watermarks by hand --------------------------------------------------------------------

def watermark_show(project: Project, *, mapping: str) -> dict[str, Any]:
    """A mapping's watermark, when and by what it was written, and every change made by hand."""
    project.mapping(mapping)
    with _state(project) as state:
        row = state.watermark_row(mapping)
        changes = state.journal_select(mapping=mapping, kinds=[audit.WATERMARK_SET, audit.WATERMARK_RESET])
    mark = Watermark.from_json(row["watermark"]) if row else None
    return {"mapping": mapping, "watermark": mark, "describe": mark.describe() if mark else None,
            "updated_at": row["updated_at"] if row else None, "run_id": row["run_id"] if row else None,
            "changes": changes}


def _step_back(cursor: Any, by: str) -> Any:
    """``cursor`` moved back ``by`` (a duration for a time cursor, a number for a numeric one)."""
    if isinstance(cursor, (datetime, date)) or (isinstance(cursor, str) and _moment(cursor) is not None):
        try:
            span = parse_duration(by)
        except ValueError as exc:
            raise ValueError(_("--by {by}: {exc}").format(by=by, exc=exc)) from None
        if isinstance(cursor, datetime):
            return cursor - span
        if isinstance(cursor, date):
            return cursor - timedelta(days=-(-span // timedelta(days=1)))
        moment = _moment(cursor)
        assert moment is not None
        return format_like(moment - span, cursor)
    try:
        amount = Decimal(by.strip())
    except InvalidOperation:
        raise ValueError(_("--by {by}: the cursor is a number ({cursor}), so "
                           "--by must be a number too").format(by=by, cursor=cursor)) from None
    if isinstance(cursor, int) and not isinstance(cursor, bool) and amount == int(amount):
        return cursor - int(amount)
    if isinstance(cursor, (Decimal, float)):
        return type(cursor)(Decimal(str(cursor)) - amount)
    if isinstance(cursor, str):
        return str(Decimal(cursor.strip()) - amount)
    raise ValueError(_("a cursor {cursor!r} cannot be moved back by {by}").format(cursor=cursor, by=by))


def _moment(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        return None


def _cursor_like(text: str, like: Any) -> Any:
    """``text`` as a cursor value of the kind of ``like`` (the watermark's, or the newest source value)."""
    text = text.strip()
    try:
        if isinstance(like, datetime):
            value: Any = datetime.fromisoformat(text)
            if (value.tzinfo is None) != (like.tzinfo is None):
                raise ValueError(_("with a time zone") if like.tzinfo else _("without a time zone"))
            return value
        if isinstance(like, date):
            return date.fromisoformat(text)
        if isinstance(like, bool):
            raise ValueError(_("a cursor that is true or false"))
        if isinstance(like, int):
            return int(text)
        if isinstance(like, Decimal):
            return Decimal(text)
        if isinstance(like, float):
            return float(text)
        if isinstance(like, str) and _moment(like) is not None:
            moment = _moment(text)
            if moment is None:
                raise ValueError(_("a date and time"))
            return format_like(moment, like)
    except (ValueError, InvalidOperation) as exc:
        raise ValueError(_("--cursor {text!r} is not a cursor value like "
                           "{like!r} ({exc}); write it in that form").format(text=text, like=like, exc=exc)) \
            from None
    return text


def _newest_cursor(project: Project, mapping: Any) -> Any:
    engine = engine_for(project.config.source)
    try:
        found, problems = Source(engine, dialects.get(engine.dialect.name)).newest([mapping])
    finally:
        engine.dispose()
    if problems:
        raise ConfigError([Problem(str(mapping.file), None, "--cursor", _("{value}; the cursor's kind cannot be told "
                                                                          "without the "
                                                                          "source").format(value=problems[0]))])
    return found.get(mapping.name)


def _change_watermark(project: Project, mapping: str, action: str, reason: str, who: str | None,
                      wait: bool | float, make: Any) -> tuple[Watermark | None, Watermark]:
    chosen = project.mapping(mapping)
    reason = _required(reason, "--reason", f"why the watermark is changed ({action})")
    with lock.acquire(lock.lock_path(project.config), wait, purpose=f"watermark {action}"), \
            _state(project, journaled=True, mappings=[chosen]) as state:
        before = state.watermark(mapping)
        try:
            after, detail = make(chosen, before)
        except ValueError as exc:
            raise ConfigError([Problem(str(chosen.file), None, f"watermark {action}", str(exc))]) from None
        who = who.strip() if who and who.strip() else None
        state.set_watermark(mapping, after, action=action, reason=reason, by=who, detail=detail)
    return before, after


def rewind_watermark(project: Project, *, mapping: str, by: str, reason: str, who: str | None = None,
                     wait: bool | float = False) -> tuple[Watermark | None, Watermark]:
    """Move a mapping's watermark back ``by`` (``2h``; a number for a numeric cursor), so that the
    next run reads those rows again. Refused (LockedError) while another syncd holds the store."""
    def make(chosen: Any, before: Watermark | None) -> tuple[Watermark, dict[str, Any]]:
        if before is None:
            raise ValueError(_("mapping {mapping} has no watermark yet: its next run copies "
                               "everything anyway").format(mapping=mapping))
        if before.snapshot:
            raise ValueError(_("mapping {mapping} is in the middle of a full copy ({describe}); let it finish, or "
                               "set a watermark with syncd "
                               "watermark set").format(mapping=mapping, describe=before.describe()))
        after = Watermark(_step_back(before.cursor, by), ())
        also = tuple((name, Watermark(_step_back(w.cursor, by), ())) for name, w in before.also)
        if also:   # a mapping with several cursors: each moves back as far
            after = dataclasses.replace(after, also=also)
        return after, {"rewound_by": by}
    return _change_watermark(project, mapping, "rewind", reason, who, wait, make)


def set_watermark(project: Project, *, mapping: str, cursor: str, reason: str, who: str | None = None,
                  wait: bool | float = False) -> tuple[Watermark | None, Watermark]:
    """Set a mapping's watermark to ``cursor`` (in the form of the cursor's values), so that the
    next run reads the rows after it. Refused (LockedError) while another syncd holds the store."""
    def make(chosen: Any, before: Watermark | None) -> tuple[Watermark, dict[str, Any]]:
        like = before.cursor if before is not None and before.cursor is not None else _newest_cursor(project, chosen)
        if like is None:
            raise ValueError(_("mapping {mapping}: the source is empty and there is no watermark, so the cursor's "
                               "kind is unknown; nothing to set").format(mapping=mapping))
        value = _cursor_like(cursor, like)
        problem = cursor_problem(value, like)
        if problem:
            raise ValueError(_("--cursor {cursor!r}: {problem}").format(cursor=cursor, problem=problem))
        after = Watermark(value, ())
        if before is not None and before.also:   # further cursors keep their positions
            after = dataclasses.replace(after, also=before.also)
        return after, {"cursor": cursor}
    return _change_watermark(project, mapping, "set", reason, who, wait, make)


# -- the audit journal ---------------------------------------------------------------------

def _key(project: Project) -> bytes | None:
    key_file = project.config.audit.key_file
    return read_key(key_file) if key_file is not None else None


def audit_head(project: Project) -> dict[str, Any] | None:
    """The newest record of the journal: its sequence number, hash, time and kind (as stored)."""
    with _state(project) as state:
        row = state.journal_last()
    if row is None:
        return None
    return {"seq": row.get("seq"), "hash": row.get("hash"), "time": row.get("at"), "kind": row.get("kind"),
            "mapping": row.get("mapping")}


def audit_list(project: Project, *, since: date | None = None, until: date | None = None,
               mapping: str | None = None, kinds: Sequence[str] = (), limit: int | None = None
               ) -> list[dict[str, Any]]:
    """Journal records (from the state store's table), oldest first; days in defaults.timezone."""
    with _state(project) as state:
        return state.journal_select(since=since.isoformat() if since else None,
                                    until=(until + timedelta(days=1)).isoformat() if until else None,
                                    mapping=mapping, kinds=kinds, limit=limit)


@dataclass
class AuditCheck:
    """``audit_verify``'s answer: the verdict, and where the two copies were read."""

    verdict: audit.Verdict
    store: str
    directory: Path
    more: int = 0                 # findings left out of the verdict (it keeps the first ones)
    notes: list[str] = field(default_factory=list)


def audit_verify(project: Project, *, since: date | None = None, head: tuple[int, str] | None = None,
                 settle: float = 3.0) -> AuditCheck:
    """Check both copies of the journal and that they agree; ``since``: only the records from that
    day on (their link to the record before is checked too); ``head``: the (seq, hash) an auditor
    kept, which the journal must still hold. Reads only. The newest records missing only from the
    JSON lines are looked at again for up to ``settle`` seconds (a writer between its two writes)."""
    key = _key(project)
    directory = journal_directory(project.config)
    with _state(project) as state:
        check = _verify_once(state, directory, key, since, head)
        for _attempt in range(3):
            if not check.verdict.only_tail:
                break
            time.sleep(settle / 3)
            check = _verify_once(state, directory, key, since, head)
    return check


def _verify_start(state: StateStore, since: date | None, head: tuple[int, str] | None, through: int | None,
                  notes: list[str]) -> tuple[int, dict[str, Any] | None]:
    """The first record to check (``since``), and the record before it, whose link is checked too."""
    if since is None:
        return 1, None
    first = state.journal_first_since(since.isoformat())
    start = first if first is not None else (through or 0) + 1
    if head is not None:
        start = min(start, head[0])
    if start <= 1:
        return 1, None
    row = state.journal_row(start - 1)
    entry = audit.table_entry(row) if row is not None else None
    if entry is None or entry.record is None:
        notes.append(_("record {value}, before the first one checked, cannot be read from the table: the link of "
                       "record {start} to it is not checked").format(value=start - 1, start=start))
        return start, None
    return start, entry.record


def _head_finding(state: StateStore, head: tuple[int, str], through: int | None,
                  anchors: Sequence[audit.Anchor]) -> audit.Finding | None:
    row = state.journal_row(head[0])
    entry = audit.table_entry(row) if row is not None else None
    if entry is not None and entry.record is not None:
        found: dict[str, Any] | None = entry.record
    else:
        found = {"hash": row.get("hash")} if row is not None else None
    return audit.check_head(head, found, last_seq=through, anchors=anchors)


def _past_the_table(state: StateStore, beyond: Sequence[tuple[int, str]], through: int | None
                    ) -> Iterator[audit.Finding]:
    """The lines (seq, where) past the table's newest record ``through`` that the table does not
    hold even now. A record reaches the JSON lines only after its transaction has committed, so
    one the table lacks was removed from it; the others were written while verify read."""
    if not beyond:
        return
    _first, newest, _head = state.journal_ends()
    now = newest[0] if newest is not None and isinstance(newest[0], int) else through
    for seq, where in beyond:
        if now is None or seq > now:
            yield audit.Finding(seq, where, _("it is in the JSON lines but not in the state store's table, which ends "
                                              "with record {through}: it was removed from the "
                                              "table").format(through=now))


def _verify_once(state: StateStore, directory: Path, key: bytes | None, since: date | None,
                 head: tuple[int, str] | None) -> AuditCheck:
    check = AuditCheck(audit.Verdict(), state.where, directory)
    anchors = state.journal_anchors()
    # After the anchors: a pruning that commits in between only makes the table start later.
    first, last, head_row = state.journal_ends()
    through = last[0] if last is not None and isinstance(last[0], int) else None
    anchors, untrusted = audit.trusted_anchors(anchors, key, first_seq=first)
    start, before = _verify_start(state, since, head, through, check.notes)
    table = audit.ChainCheck("state store's table", key=key, anchors=anchors, before=before)
    lines = audit.ChainCheck("JSON lines", key=key, anchors=anchors, before=before)
    from_day = since.isoformat() if since is not None and start > 1 else None
    # Lines past the table's newest record: written since the table was read, or removed from it.
    beyond: list[tuple[int, str]] = []

    def table_records() -> Iterator[dict[str, Any]]:
        for row in state.journal_rows(after=start - 1, through=through):
            record = table.feed(audit.table_entry(row))
            if record is not None:
                yield record

    def file_records() -> Iterator[dict[str, Any]]:
        for entry in read_journal_files(directory, from_day=from_day):
            if entry.seq is not None and entry.seq < start:
                continue
            if through is not None and entry.seq is not None and entry.seq > through:
                beyond.append((entry.seq, entry.where))
                continue
            record = lines.feed(entry)
            if record is not None:
                yield record

    differences: list[audit.Finding] = []
    # the lines past the table are known once the comparison has read every line
    for finding in itertools.chain(audit.compare(table_records(), file_records()),
                                   _past_the_table(state, beyond, through)):
        if len(differences) < 1000:
            differences.append(finding)
        else:
            check.more += 1
    # What each copy's own chain says comes first: it is the more precise of two findings on one record.
    findings = [*untrusted, *table.finish(), *lines.finish(), *differences, *audit.check_ends(last, head_row)]
    if head is not None and (problem := _head_finding(state, head, through, anchors)) is not None:
        findings.append(problem)
    if not directory.is_dir() and through is not None:
        check.notes.append(_("the folder of the JSON lines, {directory}, does not exist").format(directory=directory))
    verdict = check.verdict
    verdict.findings = audit.sort_findings(findings)
    verdict.checked = table.count
    verdict.first_seq = table.first["seq"] if table.first else None
    verdict.last_seq = table.prev["seq"] if table.prev else None
    verdict.last_hash = table.prev["hash"] if table.prev else None
    verdict.keyed = table.keyed_seen is not None
    return check


def note_files(project: Project, *, trigger: str = "SIGHUP") -> int:
    """Journal the config and mapping files that changed since the journal last saw them (the
    daemon calls this when SIGHUP has reloaded them); returns how many."""
    with _state(project, journaled=True, mappings=project.mappings) as state:
        return state.note_files(trigger=trigger)


# -- the state store itself ----------------------------------------------------------------

@dataclass
class StoreCheck:
    where: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems


def state_check(project: Project) -> StoreCheck:
    """Whether the state store is sound (its database's own integrity check where it is a file,
    its schema, every table and watermark readable). Reads only; migrates nothing."""
    url = project.config.state_url()
    file = dialects.get(url.get_backend_name()).database_file(url)
    result = StoreCheck(str(file) if file is not None else url.render_as_string(hide_password=True))
    if file is not None and not file.is_file():
        result.problems.append(_("the file does not exist (nothing has run yet, or it was moved away)"))
        return result
    engine = make_engine(url)
    try:
        result.problems, result.notes = check_store(engine)
    finally:
        engine.dispose()
    return result


def state_rebuild(project: Project, *, wait: bool | float = False, now: datetime | None = None) -> dict[str, Any]:
    """Move the state store's file aside (kept), create a new store and carry over what can still
    be read: watermarks, rejects with their decisions, run history, and the audit journal (the
    old table and the JSON lines together); the rebuild is journaled. Refused (LockedError) while
    another syncd holds the store. The next run copies in full only the mappings whose watermark
    was lost."""
    config = project.config
    url = config.state_url()
    file = dialects.get(url.get_backend_name()).database_file(url)
    if file is None:
        raise ConfigError([Problem(str(config.path), None, "state.url",
                                   _("syncd state rebuild works on a state store that is a file; restore a store on "
                                     "a database server from the server's backup"))])
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    with lock.acquire(lock.lock_path(config), wait, purpose="state rebuild"):
        if not file.is_file():
            raise ConfigError([Problem(str(config.path), None, "state", _("there is no state store at {file} to "
                                                                          "rebuild; the next run "
                                                                          "creates one").format(file=file))])
        aside = file.with_name(f"{file.name}.damaged-{moment:%Y%m%dT%H%M%SZ}")
        for suffix in ("", "-journal", "-wal", "-shm"):
            part = Path(f"{file}{suffix}")
            if part.exists():
                os.replace(part, Path(f"{aside}{suffix}"))
        old = make_engine(dialects.file_url(aside))
        try:
            salvaged = salvage(old)
        finally:
            old.dispose()
        settings = journal_settings(config, project.mappings)
        lines = list(read_journal_files(settings.directory))
        with _state(project) as state:
            state.attach_journal(settings)
            carried = state.restore(salvaged, lines)
            have = state.all_watermarks()
            lost = [m.name for m in project.mappings if m.name not in have]
            state.journal_rebuilt({"moved_to": str(aside), "carried": carried, "problems": salvaged.problems[:20],
                                   "full_copy_next": lost})
    return {"store": str(file), "moved_to": str(aside), "carried": carried, "problems": salvaged.problems,
            "full_copy_next": lost}


# -- the supervisor's report -------------------------------------------------------------------

def report(project: Project, start: date, end: date, out: str | Path, lang: str | None = None, *,
           now: datetime | None = None) -> Any:
    """Write the report of the days ``start``..``end`` (defaults.timezone, both included) to
    ``out``: HTML or xlsx by its suffix, in ``lang`` (``zh``, ``en``; None: from the locale).
    Returns the ``syncd.report.Report``. Reads the state store only."""
    # Jinja2 and openpyxl are imported here, not at start-up.
    from syncd import report as report_module

    path = Path(out)
    try:
        kind = report_module.format_of(path)
    except ValueError as exc:
        raise ConfigError([Problem(str(path), None, "--out", str(exc))]) from None
    try:
        chosen = report_module.language(lang)
    except ValueError as exc:
        raise ConfigError([Problem("", None, "--lang", str(exc))]) from None
    if end < start:
        raise ConfigError([Problem("", None, "--from/--to", _("--from {since} is after --to {to}; give "
                                                              "the earlier day first")
                                                            .format(
                                                                since=start.isoformat(),
                                                                to=end.isoformat()))])
    with _state(project) as state:
        built = report_module.make_report(state, start, end, tz=project.tz, lang=chosen, now=now)
    report_module.write(built, path, kind)
    return built


# -- writing mappings: preview, plan, scaffold ---------------------------------------------------

def preview(project: Project, *, mapping: str, limit: int = 20, where: str | None = None) -> Any:
    """The newest ``limit`` source rows of ``mapping`` (``where``: a filter in the source's SQL) beside
    the rows the mapping makes of them, each with what a run would do: insert, update (which
    columns), unchanged, or reject and why. Read against the live target; writes nothing
    (a ``syncd.authoring.Preview``)."""
    from syncd import authoring

    if limit < 1:
        raise ConfigError([Problem("", None, "--limit", _("--limit {limit}: preview at least 1 "
                                                          "row").format(limit=limit))])
    return authoring.preview(project, mapping, limit=limit, where=where.strip() if where and where.strip() else None)


def plan_mapping(project: Project, *, mapping: str, full: bool = False) -> Any:
    """The SQL a run of ``mapping`` executes now (its window's query with the bounds, the upsert of
    the target's dialect, the parent checks) and the order of the mappings (a
    ``syncd.authoring.MappingPlan``). Reads only."""
    from syncd import authoring

    return authoring.plan_of(project, mapping, full=full)


def scaffold(config_path: str | Path | None, *, source_table: str, target_table: str,
             source_schema: str | None = None, target_schema: str | None = None,
             out: str | Path | None = None, force: bool = False) -> str:
    """A mapping skeleton from the live source and target tables (YAML text); with ``out``, also
    written there (refused when the file exists, unless ``force``). Needs only the config: the
    mappings may be half-written."""
    from syncd import authoring
    from syncd.config import find_config, load_config
    from syncd.engines import prepare_drivers

    config = load_config(find_config(config_path))
    prepare_drivers(config)
    path = Path(out) if out is not None else None
    if path is not None and path.exists() and not force:
        raise ConfigError([Problem(str(path), None, "--out", _("the file exists; choose another name, or pass "
                                                               "--force to overwrite it"))])
    text = authoring.scaffold(config, source_table=source_table, target_table=target_table,
                              source_schema=source_schema, target_schema=target_schema,
                              name=path.stem if path is not None else None)
    if path is not None:
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError([Problem(str(path), None, "--out", _("cannot write the file: {value}; check that its "
                                                                   "folder exists")
                                                                 .format(value=exc.strerror or exc))]) from None
    return text


# -- reconcile by buckets, and repair -----------------------------------------------------------

def repair(project: Project, *, names: Sequence[str] = (), repair: bool = True, now: datetime | None = None,
           observer: Any = None, wait: bool | float = False, locked: bool = False,
           clock: Any = None) -> list[Any]:
    """Reconcile the chosen mappings by buckets (``syncd.repair``) and, with ``repair``, re-send what
    is missing or different and apply each mapping's ``on_source_delete``. A repair takes the lock
    (refused while a syncd daemon runs, which repairs on its own ``reconcile.schedule``) unless
    ``locked`` (the daemon's own job). Returns a ``syncd.repair.RepairResult`` per mapping; a
    mapping that fails is recorded and the others still run."""
    import sqlalchemy as sa

    from syncd.repair import Reconciler
    from syncd.runner import new_run_id, pacing_for
    from syncd.sync import RetryPolicy, Stopped

    now = now or datetime.now(timezone.utc)
    for name in names:
        project.mapping(name)
    chosen = [m for m in project.mappings if (m.name in names if names else m.spec.enabled)]
    config = project.config
    defaults = config.defaults
    tables: dict[tuple[Any, str], int] = {}
    for m in project.mappings:
        where = (m.target.schema_ or config.target.schema_, m.target.table.lower())
        tables[where] = tables.get(where, 0) + 1
    policy = RetryPolicy(attempts=defaults.retries + 1, wait=defaults.retry_wait.total_seconds(),
                         wait_max=defaults.retry_wait_max.total_seconds())
    run_id = new_run_id(now)
    results: list[Any] = []
    held = None if locked or not repair else lock.acquire(lock.lock_path(config), wait, purpose="reconcile --repair")
    try:
        with connect(config) as c:
            c.state.attach_journal(journal_settings(config, project.mappings))
            for m in chosen:
                shared = tables[(m.target.schema_ or config.target.schema_, m.target.table.lower())] > 1
                reconciler = Reconciler(m, source=c.source, target=c.target, state=c.state, codes=project.codes,
                                        run_id=run_id, now=now, tz=project.tz, repair=repair,
                                        pacing=pacing_for(project, m), clock=clock, observer=observer,
                                        shared=shared, prefetch=defaults.prefetch, retry=policy,
                                        is_transient=c.is_transient)
                try:
                    results.append(reconciler.run())
                except Stopped:
                    results.append(reconciler.result)
                    raise
                except (SyncdError, sa.exc.SQLAlchemyError, OSError):
                    results.append(reconciler.result)
    finally:
        if held is not None:
            held.release()
    return results


def check_alerts(project: Project, *, now: datetime | None = None) -> alerts.CheckResult | None:
    """Send the alerts that are due (``alerts:``). Nothing here stops a sync: a message that could
    not be sent, or incidents that could not be judged, are logged and tried at the next check."""
    from syncd import alerts  # smtplib, ssl, urllib: imported by the commands that send or forget alerts

    try:
        if not project.config.alerts.enabled:
            alerts.forget(project)       # alerts put back later start afresh
            return None
        return alerts.check(project, now=now)
    except Exception as exc:  # noqa: BLE001 - alerts never stop the sync; the next check tries again
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        logger.warning(_("alerts: could not check for incidents: {error}; tried again at the next check").format(
            error=alerts.scrub(project, text)))
        return None


def send_test_alert(project: Project) -> list[tuple[str, str | None]]:
    """Send a test message on every alert channel: (channel and where, None or why it failed)."""
    if not project.config.alerts.enabled:
        raise ConfigError([Problem(str(project.config.path), None, "alerts",
                                   _("no alerts.smtp or alerts.webhook in the config: nothing to test"))])
    from syncd import alerts

    return alerts.send_test(project)
