"""The library of commands: one function per verb, returning values. Called by the CLI and by tests;
never prints, never exits.

The verbs that have a module of their own are re-exported here, so that the CLI (and a library
caller) finds every verb in one place: ``open_project`` (syncd.project), ``run_once``
(syncd.runner), ``status`` and ``health`` (syncd.status). Commands open what they need and close
it again (``syncd.engines``), so a caller can run them in a loop without leaking connections.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from syncd import plan
from syncd.engines import answers, connect, open_state
from syncd.errors import ConfigError, MappingError, Problem, first_line
from syncd.project import Project, open_project, secret_warnings
from syncd.runner import RunReport, run_once
from syncd.status import health, lag, status
from syncd.watermark import Window, decode_key, decode_value

__all__ = ["Project", "RunReport", "check", "drop_rejects", "health", "history", "key_text", "lag", "open_project",
           "reconcile", "rejects", "run_once", "secret_warnings", "status"]


def check(project: Project, *, connect_databases: bool = False) -> list[dict[str, Any]]:
    """What each mapping does; with ``connect_databases`` also checks tables and columns exist.

    Raises MappingError listing every mapping that does not fit the databases.
    """
    rows = [{"mapping": m.name, "source": m.source.table or "(query)", "target": m.target.table,
             "columns": len(m.columns), "depends_on": ", ".join(m.spec.depends_on),
             "cursor": m.source.cursor, "key": ", ".join(m.source.key)} for m in project.mappings]
    if not connect_databases:
        return rows
    config = project.config
    problems = [Problem(str(config.path), None, f"{role}.url", failure)
                for role, db in (("source", config.source), ("target", config.target))
                if (failure := answers(role, db)) is not None]
    if problems:   # nothing more can be checked against a database that does not answer
        raise MappingError(problems)
    with connect(config) as c:
        for m in project.mappings:
            try:
                c.target.describe(m)
            except MappingError as exc:
                problems.extend(exc.problems)
            except sa.exc.SQLAlchemyError as exc:
                problems.append(Problem(str(m.file), None, "target",
                                        f"mapping {m.name!r}: cannot read target table {m.target.table}: "
                                        f"{first_line(exc)}"))
            failure = c.source.query_problem(plan.read_window(m, Window()))
            if failure is not None:
                problems.append(Problem(str(m.file), None, "source",
                                        f"mapping {m.name!r}: the source query fails: {failure}"))
    if problems:
        raise MappingError(problems)
    return rows


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
    with connect(project.config) as c:
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
