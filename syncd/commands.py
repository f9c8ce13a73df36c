"""One function per verb, returning values. Called by the CLI and by tests; never prints, never exits.

Commands open what they need (``open_project``, ``connect``) and close it again, so a library
caller can run them in a loop without leaking connections.
"""

from __future__ import annotations

import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence
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
from syncd.watermark import Window

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
                                   f"unknown time zone {config.defaults.timezone!r}; write e.g. Asia/Shanghai")])
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


def _engine_for(db: DatabaseConfig) -> sa.Engine:
    return make_engine(db.sqlalchemy_url(), connect_timeout=db.connect_timeout)


def open_state(config: Config) -> StateStore:
    url = config.state_url()
    if url.get_backend_name() == "sqlite" and url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    return StateStore(make_engine(url))


@contextmanager
def connect(project: Project) -> Iterator[Connections]:
    config = project.config
    source_engine = _engine_for(config.source)
    target_engine = _engine_for(config.target)
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
             observer: Observer | None = None, now: datetime | None = None,
             conns: Connections | None = None) -> RunReport:
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
    with (_given(conns) if conns else connect(project)) as c:
        for mapping in chosen:
            run = MappingRun(mapping, source=c.source, target=c.target, state=c.state, codes=project.codes,
                             run_id=report.run_id, now=now, tz=project.tz, mode=mode, dry_run=dry_run,
                             clock_offset=project.config.source.clock_offset, retry=policy, observer=observer,
                             is_transient=c.is_transient)
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


@contextmanager
def _given(conns: Connections) -> Iterator[Connections]:
    yield conns


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


def status(project: Project, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per mapping: watermark, last run and its counts, pending rejects."""
    state = open_state(project.config)
    try:
        marks = state.all_watermarks()
        last = state.last_runs()
        pending = state.pending_counts()
    finally:
        state.engine.dispose()
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
        })
    return rows


def rejects(project: Project, *, mapping: str | None = None, status_: str | None = "pending",
            limit: int = 1000) -> list[dict[str, Any]]:
    if mapping:
        project.mapping(mapping)
    state = open_state(project.config)
    try:
        return state.list_rejects(mapping, status=status_, limit=limit)
    finally:
        state.engine.dispose()
