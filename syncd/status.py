"""Reports on the state of a project: status per mapping, lag, and the one-line health verdict."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from syncd import dialects, i18n, lock
from syncd.engines import engine_for, open_state
from syncd.i18n import _
from syncd.project import Project
from syncd.source import Source
from syncd.state import as_utc


def status(project: Project, *, now: datetime | None = None, source_problems: list[str] | None = None,
           probe: bool = True) -> list[dict[str, Any]]:
    """Per mapping: watermark, last run and its counts, pending rejects, next run (while a daemon
    runs) and lag. A source that cannot be read leaves lag empty and its reason in ``source_problems``;
    with ``probe`` False the source is not read at all (no lag, no newest cursor)."""
    now = now or datetime.now(timezone.utc)
    state = open_state(project.config)
    try:
        marks = state.all_watermarks()
        last = state.last_runs()
        pending = state.pending_counts()
    finally:
        state.engine.dispose()
    newest = _newest(project, source_problems if source_problems is not None else []) if probe else {}
    next_runs = lock.published_next_runs(lock.lock_path(project.config))
    running = lock.published_running(lock.lock_path(project.config))
    rows = []
    for m in project.mappings:
        watermark, updated = marks.get(m.name, (None, None))
        run = last.get(m.name, {})
        rows.append({
            "mapping": m.name,
            "target": m.target.table,
            "watermark": watermark.describe() if watermark else None,
            "watermark_cursor": watermark.cursor if watermark else None,
            "checkpointed_at": updated,
            "last_run": run.get("run_id"),
            "last_status": run.get("status"),
            "last_ended": as_utc(run.get("ended_at")),
            "rows_read": run.get("rows_read"),
            "rows_written": run.get("rows_written"),
            "inserted": run.get("inserted"),
            "updated": run.get("updated"),
            "unchanged": run.get("unchanged"),
            "rows_rejected": run.get("rows_rejected"),
            "pending_rejects": pending.get(m.name, 0),
            "warning": run.get("warning"),
            "error": run.get("error"),
            "schedule": m.schedule,
            "started_at": as_utc(run.get("started_at")),
            "next_run": next_runs.get(m.name),
            "running_since": running[m.name].run_since if m.name in running else None,
            "doing": running[m.name].doing if m.name in running else None,
            "doing_since": running[m.name].doing_since if m.name in running else None,
            "newest_source": newest.get(m.name),
            "lag": lag(newest[m.name], watermark, updated, now) if m.name in newest else None,
        })
    return rows


def _newest(project: Project, problems: list[str]) -> dict[str, Any]:
    """The newest source cursor of each mapping (None for an empty source); missing when unreadable."""
    try:
        engine = engine_for(project.config.source)
    except OSError as exc:
        problems.append(_("cannot read the source password file: {exc}").format(exc=exc))
        return {}
    try:
        found, unread = Source(engine, dialects.get(engine.dialect.name)).newest(project.mappings)
    finally:
        engine.dispose()
    problems.extend(unread)
    return found


def _as_moment(value: Any) -> Any:
    if isinstance(value, str):   # SQLite hands back max() of a DATETIME column as text
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def lag(newest: Any, watermark: Any, checkpointed_at: datetime | None, now: datetime) -> timedelta | None:
    """How far the synced watermark is behind the newest source row.

    For a time cursor: newest cursor minus the watermark's. For any other cursor (a number, a
    version) the gap cannot be read as time, so it is how long the watermark has not moved while
    newer rows wait. None when nothing was ever synced from a non-empty source.
    """
    if newest is None:
        return timedelta(0)
    if watermark is None:
        return None
    high, mark = _as_moment(newest), _as_moment(watermark.cursor)
    try:
        if isinstance(high, datetime) and isinstance(mark, datetime):
            if (high.tzinfo is None) != (mark.tzinfo is None):
                high, mark = high.replace(tzinfo=None), mark.replace(tzinfo=None)
            return timedelta(seconds=round(max((high - mark).total_seconds(), 0)))
        if high <= mark:
            return timedelta(0)
    except TypeError:
        return None
    since = as_utc(checkpointed_at)
    if since is None:
        return None
    return timedelta(seconds=round(max((now - since).total_seconds(), 0)))


@dataclass(frozen=True)
class Finding:
    """One reason a mapping (or, with ``mapping`` None, the whole project) is not fresh. ``kind``:
    source, running, never-ran, failed, stale (no run for too long), lag, unsynced or rejects."""

    mapping: str | None
    kind: str
    text: str


def findings(project: Project, *, now: datetime | None = None, probe: bool = True,
             rows_out: dict[str, dict[str, Any]] | None = None) -> tuple[list[Finding], timedelta, int]:
    """What ``health`` judges by: (the findings, the largest lag, how many mappings are enabled).

    Not fresh: a run under way for longer than ``health.max_run``, never ran, last run failed,
    no run for longer than ``health.max_lag``, the
    watermark more than ``health.max_lag`` behind the newest source row, or more pending rejects
    than ``health.max_rejects``. With ``probe`` False the source is not read: no lag is judged.
    ``rows_out`` receives the ``status`` row of each mapping the findings were judged from.
    """
    now = now or datetime.now(timezone.utc)
    limits = project.config.health
    source_problems: list[str] = []
    rows = {r["mapping"]: r for r in status(project, now=now, source_problems=source_problems, probe=probe)}
    if rows_out is not None:
        rows_out.update(rows)
    found: list[Finding] = []
    if source_problems:
        found.append(Finding(None, "source", source_problems[0]))
    worst = timedelta(0)
    enabled = [m for m in project.mappings if m.spec.enabled]
    for m in enabled:
        row = rows[m.name]
        name = m.name

        def note(kind: str, text: str, name: str = name) -> None:
            found.append(Finding(name, kind, text))

        if row["running_since"] is not None and now - row["running_since"] > limits.max_run:
            note("running", _("mapping {name}: its run has lasted {span} (more than health.max_run {limit}); it is "
                              "{doing} since {time}").format(
                name=name, span=_span(now - row["running_since"]), limit=_span(limits.max_run),
                doing=i18n.translate_stored(row["doing"] or ""), time=_local(row["doing_since"])))
        if row["last_status"] is None:
            note("never-ran", _("mapping {name} has never run").format(name=name))
            continue
        if row["last_status"] == "failed":
            error = (row["error"] or "").strip().splitlines()
            note("failed", _("mapping {name}: last run failed at {time}: {error}").format(
                name=name, time=_local(row["last_ended"]),
                error=i18n.translate_stored(error[0]) if error else _("see syncd status")))
        last_seen = row["last_ended"] or row["started_at"]
        if last_seen is not None and now - last_seen > limits.max_lag:
            note("stale", _("mapping {name}: no run since {time} (more than health.max_lag {span}); is the daemon "
                            "running?").format(name=name, time=_local(last_seen), span=_span(limits.max_lag)))
        behind = row["lag"]
        if behind is None and row["newest_source"] is not None:   # (both None: the source was unreadable)
            note("unsynced", _("mapping {name}: has not synced any row of a non-empty source").format(name=name))
        elif behind is not None:
            worst = max(worst, behind)
            if behind > limits.max_lag:
                note("lag", _("mapping {name}: {span} behind the newest source row (health.max_lag {limit})").format(
                    name=name, span=_span(behind), limit=_span(limits.max_lag)))
        if row["pending_rejects"] > limits.max_rejects:
            note("rejects", _("mapping {name}: {pending_rejects} pending reject(s) (health.max_rejects "
                              "{max_rejects}); see syncd rejects").format(
                name=name, pending_rejects=row["pending_rejects"], max_rejects=limits.max_rejects))
    return found, worst, len(enabled)


def health(project: Project, *, now: datetime | None = None) -> tuple[bool, str]:
    """(True, summary) when every enabled mapping is fresh, else (False, the first reason in one
    line); the reasons are ``findings``."""
    found, worst, enabled = findings(project, now=now)
    if found:
        more = _(" (and {count} more problem(s))").format(count=len(found) - 1) if len(found) > 1 else ""
        return False, found[0].text + more
    return True, _("ok: {count} mapping(s) fresh, largest lag {lag}").format(count=enabled, lag=_span(worst))


def _local(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "?"


def _span(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d"
