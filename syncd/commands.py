"""One function per verb, returning values. Called by the CLI and by tests; never prints, never exits.

Commands open what they need (``open_project``, ``connect``) and close it again, so a library
caller can run them in a loop without leaking connections.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from loguru import logger

from syncd import dialects, plan
from syncd.config import Config, DatabaseConfig, find_config, load_config
from syncd.errors import ConfigError, MappingError, Problem, SyncdError, TransientSyncError
from syncd.mapping import CodeList, TableMapping, load_code_lists, load_mappings
from syncd.source import Source
from syncd.state import StateStore, as_utc
from syncd.sync import MappingResult, MappingRun, Mode, Observer, RetryPolicy
from syncd.target import Target
from syncd.watermark import Window, decode_key, decode_value

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Project:
    """Config, mappings (in dependency order) and code lists, parsed and validated once."""

    config: Config
    mappings: tuple[TableMapping, ...]
    codes: dict[str, CodeList]

    def mapping(self, name: str) -> TableMapping:
        for m in self.mappings:
            if m.name == name:
                return m
        raise ConfigError([Problem(str(self.config.mappings), None, "-m", f"no mapping named {name!r}")])

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.defaults.timezone)


def open_project(config_path: str | Path | None = None, *, only: Sequence[str] = ()) -> Project:
    """Find, parse and validate the config and every mapping; one ConfigError lists all problems."""
    config = load_config(find_config(config_path))
    try:
        ZoneInfo(config.defaults.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError([Problem(str(config.path), None, "defaults.timezone",
                                   f"unknown time zone {config.defaults.timezone!r}; write e.g. Asia/Shanghai")]) from None
    mappings = load_mappings(config, only=tuple(only))
    return Project(config, mappings, load_code_lists(config))


def make_engine(url: sa.URL, *, connect_timeout: timedelta = timedelta(seconds=15)) -> sa.Engine:
    dialect = dialects.get(url.get_backend_name())
    return sa.create_engine(url, pool_pre_ping=True, hide_parameters=True,
                            connect_args=dialect.connect_args(url.get_driver_name(), connect_timeout))


@dataclass
class Connections:
    source: Source
    target: Target
    state: StateStore

    def is_transient(self, exc: BaseException) -> bool:
        if isinstance(exc, TransientSyncError):
            return True
        if isinstance(exc, SyncdError):
            return False
        return any(d.is_transient(exc) for d in {self.source.dialect, self.target.dialect})

    def dispose(self) -> None:
        for engine in {self.source.engine, self.target.engine, self.state.engine}:
            engine.dispose()


def engine_for(db: DatabaseConfig) -> sa.Engine:
    """An engine for a configured database, its password read from its password_file."""
    return make_engine(db.sqlalchemy_url(), connect_timeout=db.connect_timeout)


def open_state(config: Config) -> StateStore:
    url = config.state_url()
    db = dialects.get(url.get_backend_name()).database_file(url)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    return StateStore(make_engine(url))


@contextmanager
def connect(project: Project) -> Iterator[Connections]:
    config = project.config
    source_engine = engine_for(config.source)
    target_engine = engine_for(config.target)
    conns = Connections(
        Source(source_engine, dialects.get(source_engine.dialect.name)),
        Target(target_engine, dialects.get(target_engine.dialect.name), config.target.schema_),
        open_state(config))
    try:
        yield conns
    finally:
        conns.dispose()


def new_run_id(now: datetime) -> str:
    return f"{now.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


@dataclass
class RunReport:
    run_id: str
    results: list[MappingResult] = field(default_factory=list)

    @property
    def failed(self) -> list[MappingResult]:
        return [r for r in self.results if r.status == "failed"]


def run_once(project: Project, *, names: Sequence[str] = (), full: bool = False, dry_run: bool = False,
             observer: Observer | None = None, now: datetime | None = None) -> RunReport:
    """Run the chosen mappings (all by default) once, in dependency order.

    A failing mapping is recorded and reported; the others still run (a child whose parent
    failed holds its rows back as rejects until the parent arrives).
    """
    now = now or datetime.now(timezone.utc)
    report = RunReport(new_run_id(now))
    chosen = [m for m in project.mappings if (not names or m.name in names) and (names or m.spec.enabled)]
    for name in names:
        project.mapping(name)
    defaults = project.config.defaults
    policy = RetryPolicy(attempts=defaults.retries + 1, wait=defaults.retry_wait.total_seconds(),
                         wait_max=defaults.retry_wait_max.total_seconds())
    mode: Mode = "full" if full else "incremental"
    with connect(project) as c:
        for mapping in chosen:
            run = MappingRun(mapping, source=c.source, target=c.target, state=c.state, codes=project.codes,
                             run_id=report.run_id, now=now, tz=project.tz, mode=mode, dry_run=dry_run,
                             clock_offset=project.config.source.clock_offset, retry=policy, observer=observer,
                             is_transient=c.is_transient, prefetch=defaults.prefetch)
            try:
                result = run.execute()
                counts = result.counts
                logger.info("mapping {} {}: read {}, written {}, rejected {}, rejects resolved {}, in {:.2f}s; "
                            "watermark {}", mapping.name, result.status, counts.rows_read, counts.rows_written,
                            counts.rows_rejected, counts.rejects_resolved, result.seconds,
                            result.watermark_after.describe() if result.watermark_after else "none")
            except (SyncdError, sa.exc.SQLAlchemyError, OSError) as exc:
                result = run.result
                kind = "transient (retries exhausted)" if c.is_transient(exc) else "fatal"
                logger.error("mapping {} failed ({}): {}; the next run resumes from the last checkpoint",
                             mapping.name, kind, result.error)
            report.results.append(result)
    return report


def check(project: Project, *, connect_databases: bool = False) -> list[dict[str, Any]]:
    """What each mapping does; with ``connect_databases`` also checks tables and columns exist.

    Raises MappingError listing every mapping that does not fit the databases.
    """
    rows = [{"mapping": m.name, "source": m.source.table or "(query)", "target": m.target.table,
             "columns": len(m.columns), "depends_on": ", ".join(m.spec.depends_on),
             "cursor": m.source.cursor, "key": ", ".join(m.source.key)} for m in project.mappings]
    if not connect_databases:
        return rows
    problems: list[Problem] = []
    with connect(project) as c:
        for m in project.mappings:
            try:
                c.target.describe(m)
            except MappingError as exc:
                problems.extend(exc.problems)
            try:
                with c.source.engine.connect() as conn:
                    conn.execute(plan.read_window(m, Window()).limit(0)).fetchall()
            except sa.exc.DBAPIError as exc:
                problems.append(Problem(str(m.file), None, "source",
                                        f"mapping {m.name!r}: the source query fails: "
                                        f"{str(exc.orig).strip().splitlines()[0]}"))
    if problems:
        raise MappingError(problems)
    return rows


def status(project: Project, *, now: datetime | None = None, source_problems: list[str] | None = None
           ) -> list[dict[str, Any]]:
    """Per mapping: watermark, last run and its counts, pending rejects, next run (while a daemon
    runs) and lag. A source that cannot be read leaves lag empty and its reason in ``source_problems``."""
    from syncd import lock

    now = now or datetime.now(timezone.utc)
    state = open_state(project.config)
    try:
        marks = state.all_watermarks()
        last = state.last_runs()
        pending = state.pending_counts()
    finally:
        state.engine.dispose()
    newest = _newest(project, source_problems if source_problems is not None else [])
    next_runs = lock.published_next_runs(lock.lock_path(project.config))
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
            "rows_rejected": run.get("rows_rejected"),
            "pending_rejects": pending.get(m.name, 0),
            "warning": run.get("warning"),
            "error": run.get("error"),
            "schedule": m.schedule,
            "started_at": as_utc(run.get("started_at")),
            "next_run": next_runs.get(m.name),
            "newest_source": newest.get(m.name),
            "lag": lag(newest[m.name], watermark, updated, now) if m.name in newest else None,
        })
    return rows


def _newest(project: Project, problems: list[str]) -> dict[str, Any]:
    """The newest source cursor of each mapping (None for an empty source); missing when unreadable."""
    found: dict[str, Any] = {}
    try:
        engine = engine_for(project.config.source)
    except OSError as exc:
        problems.append(f"cannot read the source password file: {exc}")
        return found
    try:
        with engine.connect() as conn:
            for m in project.mappings:
                try:
                    found[m.name] = conn.execute(plan.probe_newest(m)).scalar()
                except sa.exc.DBAPIError as exc:
                    problems.append(f"mapping {m.name}: cannot read the newest source row: "
                                    f"{str(exc.orig).strip().splitlines()[0]}")
                    conn.rollback()
    except sa.exc.SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None) or exc
        problems.append(f"the source database does not answer: {str(orig).strip().splitlines()[0]}")
    finally:
        engine.dispose()
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
    if checkpointed_at is None:
        return None
    return timedelta(seconds=round(max((now - as_utc(checkpointed_at)).total_seconds(), 0)))


def health(project: Project, *, now: datetime | None = None) -> tuple[bool, str]:
    """(True, summary) when every enabled mapping is fresh, else (False, the first reason in one line).

    Not fresh: never ran, last run failed, no run for longer than ``health.max_lag``, the
    watermark more than ``health.max_lag`` behind the newest source row, or more pending rejects
    than ``health.max_rejects``.
    """
    now = now or datetime.now(timezone.utc)
    limits = project.config.health
    source_problems: list[str] = []
    rows = {r["mapping"]: r for r in status(project, now=now, source_problems=source_problems)}
    reasons: list[str] = []
    if source_problems:
        reasons.append(source_problems[0])
    worst = timedelta(0)
    enabled = [m for m in project.mappings if m.spec.enabled]
    for m in enabled:
        row = rows[m.name]
        name = m.name
        if row["last_status"] is None:
            reasons.append(f"mapping {name} has never run")
            continue
        if row["last_status"] == "failed":
            error = (row["error"] or "").strip().splitlines()
            reasons.append(f"mapping {name}: last run failed at {_local(row['last_ended'])}: "
                           f"{error[0] if error else 'see syncd status'}")
        last_seen = row["last_ended"] or row["started_at"]
        if last_seen is not None and now - last_seen > limits.max_lag:
            reasons.append(f"mapping {name}: no run since {_local(last_seen)} (more than health.max_lag "
                           f"{_span(limits.max_lag)}); is the daemon running?")
        behind = row["lag"]
        if behind is None and row["newest_source"] is not None:   # (both None: the source was unreadable)
            reasons.append(f"mapping {name}: has not synced any row of a non-empty source")
        elif behind is not None:
            worst = max(worst, behind)
            if behind > limits.max_lag:
                reasons.append(f"mapping {name}: {_span(behind)} behind the newest source row "
                               f"(health.max_lag {_span(limits.max_lag)})")
        if row["pending_rejects"] > limits.max_rejects:
            reasons.append(f"mapping {name}: {row['pending_rejects']} pending reject(s) (health.max_rejects "
                           f"{limits.max_rejects}); see syncd rejects")
    if reasons:
        more = f" (and {len(reasons) - 1} more problem(s))" if len(reasons) > 1 else ""
        return False, reasons[0] + more
    return True, f"ok: {len(enabled)} mapping(s) fresh, largest lag {_span(worst)}"


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


def rejects(project: Project, *, mapping: str | None = None, status_: str | None = "pending",
            limit: int = 1000) -> list[dict[str, Any]]:
    """Rejects with their reason; ``key`` is the source key as an operator types it (``1`` or ``a, b``)."""
    if mapping:
        project.mapping(mapping)
    state = open_state(project.config)
    try:
        found = state.list_rejects(mapping, status=status_, limit=limit)
    finally:
        state.engine.dispose()
    for row in found:
        row["key"] = key_text(decode_key(row["source_key"]))
        row["row"] = {k: decode_value(v) for k, v in json.loads(row["row_data"]).items()}
    return found


def key_text(key: Sequence[Any]) -> str:
    return ", ".join(str(k) for k in key)


def drop_rejects(project: Project, *, mapping: str, keys: Sequence[str], reason: str) -> list[str]:
    """Mark pending rejects of ``mapping`` (by ``key`` text) as dropped; returns the keys not found."""
    project.mapping(mapping)
    if not reason.strip():
        raise ConfigError([Problem("", None, "--reason", "say why the rows are dropped: --reason TEXT")])
    state = open_state(project.config)
    try:
        by_text = {key_text(decode_key(k)): k for k in state.pending_keys(mapping)}
        unknown = [k for k in keys if k not in by_text]
        state.drop_rejects(mapping, [by_text[k] for k in keys if k in by_text], reason.strip())
    finally:
        state.engine.dispose()
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
    with connect(project) as c:
        return [reconcile_mapping(m, source=c.source, target=c.target, state=c.state, codes=project.codes,
                                  now=now, tz=project.tz) for m in chosen]


def history(project: Project, *, mapping: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest run records (all mappings, or one), newest first."""
    if mapping:
        project.mapping(mapping)
    state = open_state(project.config)
    try:
        return state.history(mapping, limit=limit)
    finally:
        state.engine.dispose()
