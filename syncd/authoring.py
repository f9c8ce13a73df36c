"""Writing and checking mappings against the live databases: what a DBA uses while editing YAML.

- ``check_connected``: the part of ``syncd check --connect`` that looks at each mapping against
  the databases: target table and columns, ``parents:`` tables and keys, the source query (a
  failing ``expr`` or ``where`` named by its column or key), what a column's options need of its
  target column, and columns whose values the target would narrow (warnings). Every problem
  names the file, the line and the key.
- ``preview``: a few source rows beside the rows the mapping makes of them, each with what a run
  would do (insert, update, unchanged, reject and why), read against the live target.
- ``plan_of``: the SQL a run executes for a mapping, with its window's bounds, and the order of
  the mappings.
- ``scaffold``: a mapping skeleton from a source table and a target table.

Reads only: nothing here writes to a database or to the state store.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from syncd import dialects, plan, resources
from syncd.config import Config
from syncd.engines import engine_for, missing_privileges, open_state
from syncd.errors import ConfigError, MappingError, Problem, first_line
from syncd.i18n import _
from syncd.mapping import CodeList, TableMapping, load_blocks, load_codes
from syncd.parents import ParentCheck
from syncd.project import Project
from syncd.source import Source
from syncd.sync import against_stored, describe_window
from syncd.target import Target
from syncd.transform import (
    RowMapper,
    TargetColumn,
    column_kind,
    integer_range,
    misread_text,
    stored_equal,
    target_problems,
    target_warnings,
)
from syncd.watermark import Watermark, Window, describe_value, lookback_problem, plan_window, text_cursor_problem

# -- the databases, without the state store --------------------------------------------------------


@contextmanager
def databases(config: Config) -> Iterator[tuple[Source, Target]]:
    """The source and the target (no state store: these commands keep no state), closed afterwards."""
    source_engine = engine_for(config.source)
    target_engine = engine_for(config.target, target=True, timezone=config.defaults.timezone)
    try:
        yield (Source(source_engine, dialects.get(source_engine.dialect.name)),
               Target(target_engine, dialects.get(target_engine.dialect.name), config.target.schema_))
    finally:
        source_engine.dispose()
        target_engine.dispose()


def _reader(target: Target) -> Source:
    """Reads of the target's own tables (their keys and rows, their description), through the
    database layer's reading methods."""
    return Source(target.engine, target.dialect)


# -- check --connect -------------------------------------------------------------------------------

def check_connected(project: Project, source: Source, target: Target) -> tuple[list[Problem], list[str]]:
    """Every mapping of ``project`` against the databases: (problems, warnings), each naming the
    mapping's file, line and key."""
    problems: list[Problem] = []
    warnings: list[str] = []
    for m in project.mappings:
        targets = _target_columns(m, target, problems)
        if targets is not None:
            problems += [m.problem(loc, _("mapping {name!r}: {message}").format(name=m.name, message=message))
                         for loc, message in target_problems(m, targets)]
            warnings += [str(m.problem(loc, message)) for loc, message in target_warnings(m, targets)]
            warnings += [str(w) for w in narrowing_warnings(m, source, targets)]
        warnings += [str(w) for w in misread_warnings(m, source)]
        problems += parent_problems(m, target)
        problems += source_problems(m, source)
        shape = _source_table(m, source)
        warnings += [str(w) for w in cursor_index_warnings(m, shape)]
        warnings += [str(w) for w in cursor_value_warnings(m, source, shape)]
    return problems, warnings


def _source_table(m: TableMapping, source: Source) -> dict[str, Any] | None:
    """The mapping's source table as the database describes it (``Source.describe_table``); None
    for a query source, a missing table, or one that cannot be described (source_problems says why)."""
    if m.source.table is None:
        return None
    try:
        return source.describe_table(m.source.table, m.source.schema_)
    except sa.exc.SQLAlchemyError:
        return None


def cursor_value_warnings(m: TableMapping, source: Source, shape: dict[str, Any] | None) -> list[Problem]:
    """From each cursor's newest value: a lookback that cannot step back from it (a duration on a
    cursor of numbers, a plain number on one of dates and times), so that runs would re-read
    nothing behind the watermark; and a cursor of text, which is ordered as text
    (``watermark.text_cursor_problem``; ``shape``: the source table, which says which columns are
    declared as text). An empty source says nothing of its cursor's values."""
    found = []
    texts = {str(c["name"]).lower() for c in (shape or {}).get("columns", []) if isinstance(c["type"], sa.String)}
    for cursor in m.source.cursors:
        try:
            newest = source.scalar(plan.probe_newest(m, cursor))
        except sa.exc.SQLAlchemyError:
            continue            # source_problems says what is wrong with the query
        text = text_cursor_problem(newest, declared_text=cursor.lower() in texts)
        if text is not None:
            told = _("cursor {cursor}: {problem}").format(cursor=cursor, problem=text)
            found.append(m.problem(("source", "cursor"), _("mapping {name!r}: {message}").format(name=m.name,
                                                                                                 message=told)))
        problem = lookback_problem(newest, m.lookback)
        if problem is not None:
            found.append(m.problem(("lookback",), _("mapping {name!r}: {message}").format(
                name=m.name, message=m.lookback_told(cursor, problem))))
    return found


def cursor_index_warnings(m: TableMapping, shape: dict[str, Any] | None) -> list[Problem]:
    """Each cursor of a table source (``shape``: as ``_source_table`` describes it) that no index
    begins with: every run then reads the whole table to find its window. (A query source is left
    alone: its indexes are its tables'.)"""
    if shape is None:
        return []
    leading = {ix[0].lower() for ix in shape["indexes"] if ix}
    leading |= {shape["primary_key"][0].lower()} if shape["primary_key"] else set()
    where = f"{m.source.schema_}.{m.source.table}" if m.source.schema_ else m.source.table
    return [m.problem(("source", "cursor"),
                      _("mapping {name!r}: cursor column {cursor} has no index in the source (no index begins "
                        "with it): every run reads all of {where} to find its window; ask the county's DBA for "
                        "{statement}").format(
                          name=m.name, cursor=cursor, where=where,
                          statement=f"CREATE INDEX idx_{m.source.table}_{cursor} ON {where} ({cursor})"))
            for cursor in m.source.cursors if cursor.lower() not in leading]


#: why a run needs each privilege on a target table
_WHY = {"SELECT": "the upsert, parent checks and reconcile read it", "INSERT": "new rows are inserted",
        "UPDATE": "changed rows are updated", "DELETE": "on_source_delete: delete deletes rows"}


def privilege_problems(project: Project, source: Source, target: Target) -> list[Problem]:
    """Every privilege a run will use that its user lacks, one problem each, with the GRANT that
    gives it: on each target table SELECT, INSERT, UPDATE (and DELETE with ``on_source_delete:
    delete``); on each source table SELECT. Mappings whose tables do not fit are left to
    ``check_connected``."""
    problems: list[Problem] = []
    seen: set[tuple[str, str, str | None, str]] = set()

    def report(m: TableMapping, side: str, table: str, schema: str | None, gaps: list[tuple[str, str | None]],
               why: dict[str, str], loc: tuple[str, ...]) -> None:
        for privilege, grant in gaps:
            if (side, table, schema, privilege) not in seen:
                seen.add((side, table, schema, privilege))
                if grant is None:
                    problems.append(m.problem(loc, _("mapping {name!r}: could not check whether the {side} user may "
                                                     "{privilege} {table} (the table is locked by another session); "
                                                     "run check --connect again").format(
                        name=m.name, side=side, privilege=privilege, table=table)))
                    continue
                problems.append(m.problem(loc, _("mapping {name!r}: the {side} user may not {privilege} {table} "
                                                 "({get}): {grant}")
                                               .format(
                                                   name=m.name, side=side, privilege=privilege, table=table,
                                                   get=why.get(privilege, 'the run reads it'), grant=grant)))

    for m in project.mappings:
        try:
            described = target.describe(m)
        except (MappingError, sa.exc.SQLAlchemyError):
            described = None
        if described is not None:
            names = [col.name for col in described.values()]
            update = [described[c].name for c, spec in m.columns.items()
                      if spec.update and c not in m.target.key and c in described]
            schema = target.schema_of(m.target.schema_)
            try:
                gaps = missing_privileges(target.engine, m.target.table, schema, select=names, insert=names,
                                          update=update, delete=m.spec.on_source_delete == "delete")
            except sa.exc.SQLAlchemyError:
                gaps = []
            report(m, "target", m.target.table, schema, gaps, _WHY, ("target", "table"))
        if m.source.table is not None:
            try:
                gaps = missing_privileges(source.engine, m.source.table, m.source.schema_,
                                          select=plan.needed_columns(m))
            except sa.exc.SQLAlchemyError:
                gaps = []
            report(m, "source", m.source.table, m.source.schema_, gaps, {}, ("source", "table"))
    return problems


def placed(m: TableMapping, problem: Problem) -> Problem:
    """``problem`` with the line of its key in the mapping's file, when it has none yet."""
    if problem.line is not None or problem.file != str(m.file) or not problem.where:
        return problem
    parts = [int(p) if p.isdigit() else p for p in problem.where.split(".")]
    return dataclasses.replace(problem, line=m.line_of(*parts))


def _target_columns(m: TableMapping, target: Target, problems: list[Problem]) -> dict[str, TargetColumn] | None:
    try:
        return target.describe(m)
    except MappingError as exc:
        problems.extend(placed(m, p) for p in exc.problems)
    except sa.exc.SQLAlchemyError as exc:
        problems.append(m.problem(("target", "table"), _("mapping {name!r}: cannot read target table {table}: {exc}")
                                                       .format(name=m.name, table=m.target.table, exc=first_line(exc))))
    return None


def parent_problems(m: TableMapping, target: Target) -> list[Problem]:
    """Each ``parents:`` entry against the target: the table exists and has the key columns."""
    found = []
    for i, parent in enumerate(m.spec.parents):
        schema = target.schema_of(parent.schema_)
        try:
            columns = target.columns(parent.table, schema)
        except sa.exc.SQLAlchemyError as exc:
            found.append(m.problem(("parents", i, "table"), _("mapping {name!r}: cannot read parent table {table}: "
                                                              "{exc}")
                                                            .format(
                                                                name=m.name, table=parent.table, exc=first_line(exc))))
            continue
        if columns is None:
            where = f"{schema}.{parent.table}" if schema else parent.table
            found.append(m.problem(("parents", i, "table"),
                                   _("mapping {name!r}: parent table {where} does not exist in the target; name the "
                                     "intermediate table whose rows this table's "
                                     "columns point at").format(name=m.name, where=where)))
            continue
        have = {c.lower() for c in columns}
        for j, key in enumerate(parent.key):
            if key.lower() not in have:
                found.append(m.problem(("parents", i, "key", j) if m.line_of("parents", i, "key") else ("parents", i),
                                       _("mapping {name!r}: parent key column {key!r} is not in {table} (it has: "
                                         "{columns}); set 'key:' of this parent to its key columns")
                                       .format(name=m.name, key=key, table=parent.table, columns=', '.join(columns))))
    return found


_HINTS = {"table": "check source.table (and source.schema) against the source database",
          "query": "run the query in the source database's own client to see what it says",
          "expr": "an expr is SQL of the source database over the columns of the source table or query",
          "where": "source.where is SQL of the source database over the columns of the source table or query"}


def source_problems(m: TableMapping, source: Source) -> list[Problem]:
    """The mapping's window query against the source; when it fails, each part alone (table or
    query, source columns, each ``expr``, ``where``) so that the problem names the key to fix."""
    try:
        failure = source.query_problem(plan.read_window(m, Window()))
    except sa.exc.SQLAlchemyError as exc:
        return [m.problem(("source",), _("mapping {name!r}: cannot ask the "
                                         "source: {exc}").format(name=m.name, exc=first_line(exc)))]
    if failure is None:
        return []
    found = []
    for loc, what, statement in plan.probes(m):
        problem = source.query_problem(statement)
        if problem is None:
            continue
        key = str(loc[-1]) if not isinstance(loc[-1], int) else str(loc[-2])
        hint = _HINTS.get(key, "check the column name against the source table or query")
        found.append(m.problem(loc, _("mapping {name!r}: "
                                      "the source query fails at {what}: {problem}; {hint}")
                                    .format(name=m.name, what=what, problem=problem, hint=hint)))
        if loc in (("source", "table"), ("source", "query")):
            break         # nothing else can work without it
    if not found:
        found.append(m.problem(("source",), _("mapping {name!r}: the source "
                                              "query fails: {failure}").format(name=m.name, failure=failure)))
    return found


def _source_types(m: TableMapping, source: Source) -> dict[str, Any]:
    """The source table's reflected column types by lower-case name; empty for a query source."""
    if m.source.table is None:
        return {}
    try:
        shape = source.describe_table(m.source.table, m.source.schema_)
    except sa.exc.SQLAlchemyError:
        return {}
    return {} if shape is None else {c["name"].lower(): c["type"] for c in shape["columns"]}


def narrowing_warnings(m: TableMapping, source: Source, targets: Mapping[str, TargetColumn]) -> list[Problem]:
    """Columns copied from a source column whose type holds values the target column cannot take
    as they are: those rows become rejects unless the column says what to do."""
    types = _source_types(m, source)
    found = []
    for name, spec in m.columns.items():
        if spec.from_ is None or spec.pattern or spec.map is not None or spec.format or name not in targets:
            continue
        sa_type = types.get(spec.from_.lower())
        if sa_type is None:
            continue
        message = narrowing(spec.from_, sa_type, targets[name], cast=spec.cast, rounded=spec.round,
                            truncate=spec.on_overflow == "truncate")
        if message:
            found.append(m.problem(("columns", name), message))
    return found


#: how many of a source's newest rows check --connect reads to see whether text columns hold
#: GBK text read as latin1
SAMPLE_ROWS = 200


def misread_warnings(m: TableMapping, source: Source, sample: int = SAMPLE_ROWS) -> list[Problem]:
    """Columns copied from a source column whose sampled values are mostly GBK text that the source
    database holds as latin1 (a legacy habit): the column wants ``recode: gbk``."""
    copied = {name: spec.from_ for name, spec in m.columns.items() if spec.from_ is not None and spec.recode is None}
    if not copied:
        return []
    try:
        rows = source.fetch(plan.preview_rows(m, limit=sample))
    except sa.exc.SQLAlchemyError:
        return []            # source_problems says what is wrong with the query
    lay = plan.layout(m)
    found = []
    for name, column in copied.items():
        at = lay.index(column)
        texts = [v for row in rows if isinstance(v := row[at], str) and not v.isascii()]
        misread = [(v, fixed) for v in texts if (fixed := misread_text(v)) is not None]
        if misread and 2 * len(misread) > len(texts):
            shown, fixed = misread[0]
            found.append(m.problem(("columns", name), (
                _("source column {column}: {count} of {count2} sampled values are GBK text held as latin1 (e.g. "
                  "{value!r} is {value2!r} in GBK); to repair them in flight, set recode: gbk on the column")
                .format(column=column, count=len(misread), count2=len(rows), value=shown[:20], value2=fixed[:10]))))
    return found


def narrowing(column: str, sa_type: Any, target: TargetColumn, *, cast: str | None = None,
              rounded: int | None = None, truncate: bool = False) -> str | None:
    """What a copy of source column ``column`` (of ``sa_type``) into ``target`` narrows, and the key
    that says what to do; None when every value fits."""
    kind, length, precision, scale = column_kind(sa_type)
    shown = f"source column {column} ({sa_type})"
    if kind == "datetime" and target.kind == "date" and cast != "date":
        return (f"{shown} holds dates with a time of day and target column {target.name} is a DATE: a row whose "
                "time is not 00:00 is rejected; to drop the time, set cast: date on the column")
    if kind in ("decimal", "float") and target.kind in ("decimal", "int") and rounded is None:
        keeps = target.scale if target.kind == "decimal" else 0
        if keeps is not None and (kind == "float" or scale is None or scale > keeps):
            return (f"{shown} holds more decimal places than target column {target.name} keeps ({keeps}): such "
                    f"values are rejected; to round them, set round: {keeps} on the column")
    if kind in ("str", "text") and target.kind in ("int", "decimal", "float") and cast is None and rounded is None:
        return (f"{shown} holds text and target column {target.name} numbers: text that is not a number is "
                "rejected; set cast: number on the column (empty text becomes NULL), or pick the number out with "
                "pattern:")
    if kind in ("str", "text") and target.kind == "str" and target.length is not None and not truncate and \
            (length is None or length > target.length):
        return (f"{shown} holds longer text than target column {target.name} ({target.length}): longer text is "
                "rejected; to cut it to fit, set on_overflow: truncate on the column")
    wide, narrow = integer_range(sa_type), target.integer_range()
    if kind == "int" and wide is not None and narrow is not None and (wide[0] < narrow[0] or wide[1] > narrow[1]):
        return (f"{shown} holds whole numbers from {wide[0]} to {wide[1]} and target column {target.name} from "
                f"{narrow[0]} to {narrow[1]}: the others are rejected")
    return None


# -- preview ---------------------------------------------------------------------------------------

@dataclass
class PreviewRow:
    """One source row and what a run would do with it."""

    key: tuple[Any, ...]
    verdict: str                      # insert | update | unchanged | reject | replaced
    reason: str | None                # a reject's reason; an update's changed columns
    source: dict[str, Any]
    mapped: dict[str, Any] | None = None
    current: dict[str, Any] | None = None      # the target row as it is now (update, unchanged)
    changed: list[str] = field(default_factory=list)


@dataclass
class Preview:
    mapping: str
    columns: tuple[str, ...]
    origins: dict[str, str]           # target column -> where its value comes from
    rows: list[PreviewRow]
    statement: str                    # the query that read the source rows


def origin_text(name: str, m: TableMapping) -> str:
    """Where column ``name`` of a mapping gets its value, in the mapping's own words."""
    spec = m.columns[name]
    if spec.from_ is not None:
        return spec.from_
    if spec.expr is not None:
        return f"expr {spec.expr}"
    if spec.uuid5 is not None:
        return f"uuid5({', '.join(spec.uuid5)})"
    if spec.value is not None:
        return f"value {spec.value}"
    return f"const {spec.const!r}"


def preview(project: Project, name: str, *, limit: int = 20, where: str | None = None,
            now: datetime | None = None) -> Preview:
    """The newest ``limit`` source rows of a mapping (``where``: a filter of the source's SQL) beside
    the rows it makes of them, with what a run would do with each, read against the live target.
    Writes nothing."""
    m = project.mapping(name)
    now = now or datetime.now(timezone.utc)
    with databases(project.config) as (source, target):
        try:
            targets = target.describe(m)
        except MappingError as exc:
            raise MappingError([placed(m, p) for p in exc.problems]) from None
        lay = plan.layout(m)
        mapper = RowMapper(m, lay, targets, project.codes, now=now, run_id="preview", tz=project.tz,
                           text_length=target.dialect.text_length, unsupported_text=target.dialect.unsupported_text,
                           key_forms=target.key_forms(m), nonfinite_floats=target.dialect.holds_nonfinite_floats)
        statement = plan.preview_rows(m, limit=limit, where=where)
        try:
            rows = source.fetch(statement)
        except sa.exc.DBAPIError as exc:
            what = "--where" if where else "source"
            raise ConfigError([Problem(str(m.file), None, what, _("the source refuses the preview's query: {exc}; "
                                                                  "check --where and the mapping with syncd check "
                                                                  "--connect").format(exc=first_line(exc)))]) from None
        rows.reverse()          # read order (oldest first): of two rows for one target row, the later wins
        # as a run: the keys as the target compares them, what it holds from another source key, parents
        mapped = ParentCheck(m, mapper, target).apply(against_stored(m, mapper, target, mapper.map_batch(rows)))
        current = _current_rows(m, mapper, target, mapped.rows)
        text = plan.render(statement, source.engine.dialect)
    verdicts = _verdicts(m, mapper, mapped, current)
    shown = [_preview_row(mapper, lay.key, row, verdicts) for row in reversed(rows)]
    return Preview(m.name, mapper.columns, {c: origin_text(c, m) for c in mapper.columns}, shown, text)


def _current_rows(m: TableMapping, mapper: RowMapper, target: Target,
                  rows: Sequence[tuple[Any, ...]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The target rows that the mapped rows would update, by target key."""
    keys = sorted({mapper.target_key(r) for r in rows}, key=repr)
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    if not keys:
        return found
    key = m.target.key
    names = [*key, *[c for c in mapper.columns if c not in key]]
    schema = target.schema_of(m.target.schema_)
    for part in plan.chunks(keys):
        for row in _reader(target).fetch(plan.target_rows(m.target.table, schema, mapper.columns, key, part)):
            values = dict(zip(names, row, strict=False))
            found[tuple(values[k] for k in key)] = values
    return found


def _verdicts(m: TableMapping, mapper: RowMapper, mapped: Any,
              current: Mapping[tuple[Any, ...], dict[str, Any]]) -> dict[tuple[Any, ...], PreviewRow]:
    compared = [c for c in mapper.update_columns if m.columns[c].value is None]
    verdicts: dict[tuple[Any, ...], PreviewRow] = {}
    for reject in mapped.rejects:
        verdicts[reject.key] = PreviewRow(reject.key, "reject", reject.reason, reject.row)
    for key in mapped.superseded:
        verdicts[key] = PreviewRow(key, "replaced", "a later row makes the same target row; that one is written",
                                   {})
    for key, values in zip(mapped.keys, mapped.rows, strict=True):
        out = dict(zip(mapper.columns, values, strict=True))
        now = _lookup(current, mapper.target_key(values))
        if now is None:
            verdicts[key] = PreviewRow(key, "insert", None, {}, out)
            continue
        changed = [c for c in compared if not stored_equal(out[c], now.get(c))]
        verdicts[key] = PreviewRow(key, "update" if changed else "unchanged",
                                   ("changes " + ", ".join(changed)) if changed else None, {}, out, now, changed)
    return verdicts


def _lookup(current: Mapping[tuple[Any, ...], dict[str, Any]], key: tuple[Any, ...]) -> dict[str, Any] | None:
    """The target row of ``key``; keys compare as text too (an id read back as another type)."""
    if key in current:
        return current[key]
    text = tuple(str(k) for k in key)
    for found, row in current.items():
        if tuple(str(k) for k in found) == text:
            return row
    return None


def _preview_row(mapper: RowMapper, key_index: Sequence[int], row: Sequence[Any],
                 verdicts: Mapping[tuple[Any, ...], PreviewRow]) -> PreviewRow:
    key = tuple(row[i] for i in key_index)
    found = verdicts.get(key) or PreviewRow(key, "reject", "not mapped", {})
    return dataclasses.replace(found, source=mapper.source_row(row))


# -- plan ------------------------------------------------------------------------------------------

@dataclass
class MappingPlan:
    """What a run of one mapping executes."""

    mapping: str
    order: list[tuple[str, tuple[str, ...]]]   # every mapping in run order, with what it depends on
    watermark: str | None                       # where the last run left off (None: nothing synced yet)
    window: str                                 # the next window, described
    read: str                                   # the window's query, its bounds written in
    nulls: str | None                           # the query of rows with a NULL cursor, if they are read
    retry: str                                  # how pending rejects are read again by key
    upsert: str                                 # the statement each batch is written with
    staging: tuple[str, ...] = ()               # the dialect's bulk path, when it has one
    parents: list[str] = field(default_factory=list)
    definition_hash: str = ""


def plan_of(project: Project, name: str, *, full: bool = False) -> MappingPlan:
    """The SQL a run of mapping ``name`` executes now: its next window (``full``: a full copy) and
    query, the NULL-cursor query, the reject re-read, the upsert for the target's dialect and the
    parent checks; with the order of all mappings. Reads the source's clock and newest cursor and
    the state store's watermark; writes nothing."""
    m = project.mapping(name)
    config = project.config
    previous = _watermark(config, m.name)
    with databases(config) as (source, target):
        probe = source.probe(m)
        planned = plan_window(previous, newest=probe.newest, db_now=probe.db_now, db_now_utc=probe.db_now_utc,
                              lookback=m.lookback, lag=m.lag, clock_offset=config.source.clock_offset or timedelta(0),
                              full=full, open_since=probe.open_since, open_since_utc=probe.open_since_utc)
        source_dialect = source.engine.dialect
        columns = tuple(m.columns)
        update = tuple(c for c, spec in m.columns.items() if spec.update and c not in m.target.key)
        upsert = target.upsert(m, columns, update)
        key_marks: list[tuple[Any, ...]] = [tuple(sa.literal_column(f":{k}") for k in m.source.key)]
        parents = []
        for parent in m.spec.parents:
            marks: list[tuple[Any, ...]] = [tuple(sa.literal_column(f":{c}") for c in parent.columns)]
            statement = plan.target_keys(parent.table, target.schema_of(parent.schema_), parent.key, marks)
            parents.append(plan.render(statement, target.engine.dialect))
        window = planned.window
        described = describe_window(window)
        if planned.held_by is not None:
            described += f" (held before a transaction open since {describe_value(planned.held_by)})"
        return MappingPlan(
            m.name, [(x.name, x.spec.depends_on) for x in project.mappings],
            previous.describe() if previous is not None else None, described,
            plan.render(plan.read_window(m, window), source_dialect) if not window.empty else
            f"(nothing to read: the source has no rows with a {m.source.cursor})",
            plan.render(plan.read_null_cursor(m), source_dialect) if m.null_cursor == "include" else None,
            plan.render(plan.read_keys(m, key_marks), source_dialect), upsert.sql, tuple(upsert.staging), parents,
            m.definition_hash)


def _watermark(config: Config, name: str) -> Watermark | None:
    """The mapping's watermark, without creating a state store that is not there yet."""
    url = config.state_url()
    file = dialects.get(url.get_backend_name()).database_file(url)
    if file is not None and not file.is_file():
        return None
    state = open_state(config)
    try:
        return state.watermark(name)
    finally:
        state.engine.dispose()


# -- scaffold --------------------------------------------------------------------------------------

#: at most this many different values make a column a code-list candidate
CODE_VALUES = 20
#: cursor names, most likely first
_CURSOR_WORDS = ("update", "modif", "gxsj", "xgsj", "change", "edit", "sync", "time", "date", "sj")
_KEYWORDS = {"and", "or", "not", "null", "is", "case", "when", "then", "else", "end", "as", "in", "like", "between",
             "true", "false", "distinct", "cast", "interval", "date", "timestamp"}


def _norm(name: str) -> str:
    return name.lower().replace("_", "")


def _scalar(value: Any) -> str:
    """A YAML flow scalar: bare when it is a number or a plain name, else in double quotes."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) and text.lower() not in ("true", "false", "null", "yes", "no",
                                                                             "on", "off", "y", "n"):
        return text
    return json.dumps(text, ensure_ascii=False)


@dataclass
class _Shape:
    columns: dict[str, Any]            # name -> SQLAlchemy type
    nullable: dict[str, bool]
    primary_key: tuple[str, ...]
    indexes: list[tuple[str, ...]]
    unique: list[tuple[str, ...]]

    @classmethod
    def of(cls, found: dict[str, Any]) -> _Shape:
        return cls({c["name"]: c["type"] for c in found["columns"]},
                   {c["name"]: bool(c.get("nullable", True)) for c in found["columns"]},
                   tuple(found["primary_key"]), list(found["indexes"]), list(found["unique"]))

    def key(self) -> tuple[str, ...]:
        return self.primary_key or (self.unique[0] if self.unique else ())

    def lower(self) -> dict[str, str]:
        return {n.lower(): n for n in self.columns}


def _reflect(reader: Source, table: str, schema: str | None, role: str) -> _Shape:
    found = reader.describe_table(table, schema)
    if found is None:
        where = f"{schema}.{table}" if schema else table
        raise ConfigError([Problem("", None, f"--{role}-table",
                                   _("there is no table {where} in the {role} database ({render_as_string}); check "
                                     "the name (and --{role}-schema)")
                                   .format(
                                       where=where, role=role,
                                       render_as_string=reader.engine.url.render_as_string(hide_password=True)))])
    return _Shape.of(found)


def _cursor(shape: _Shape) -> tuple[str | None, str]:
    """(the cursor column, why it was chosen); None when the source has no date/time column."""
    moments = [n for n, t in shape.columns.items() if column_kind(t)[0] in ("datetime", "date")]
    if not moments:
        return None, "TODO: no date/time column: name a column that grows on every insert and update"
    indexed = {ix[0] for ix in shape.indexes if ix}

    def rank(name: str) -> tuple[int, int, int]:
        words = [i for i, w in enumerate(_CURSOR_WORDS) if w in name.lower()]
        return (0 if name in indexed else 1, words[0] if words else len(_CURSOR_WORDS),
                0 if column_kind(shape.columns[name])[0] == "datetime" else 1)
    best = min(moments, key=rank)
    if best in indexed:
        return best, "an indexed date/time column: check that it changes on every insert and update"
    return best, ("TODO: not indexed, so every run scans the table: index it in the source, or name an indexed "
                  "column that changes on every insert and update")


def _block_fits(block: Any, source: _Shape, target_lower: Mapping[str, str]) -> bool:
    """Whether every column of a block is in the target and every source column it reads is in
    the source (an ``expr``'s names included)."""
    source_lower = source.lower()
    for column, spec in block.columns.items():
        if str(column).lower() not in target_lower or not isinstance(spec, dict):
            return False
        names: list[str] = []
        if isinstance(spec.get("from"), str):
            names.append(spec["from"])
        if isinstance(spec.get("uuid5"), list):
            names += [str(n) for n in spec["uuid5"]]
        if isinstance(spec.get("expr"), str):
            names += [n for n in re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()", spec["expr"])
                      if n.lower() not in _KEYWORDS]
        if any(n.lower() not in source_lower for n in names):
            return False
    return bool(block.columns)


def code_list_for(values: Sequence[Any], column: str, codes: Mapping[str, CodeList]) -> tuple[str, list[str]] | None:
    """The code list whose codes, labels and aliases best cover a column's county values: (its
    name, the values it does not know). A list is taken when it knows at least half of the values
    and one of them by label or alias (bare codes like 0 and 1 say nothing), or when it has the
    column's name."""
    texts = {str(v).strip() for v in values if str(v).strip()}
    best: tuple[tuple[Any, ...], str, list[str]] | None = None
    for name, code_list in codes.items():
        lookup = code_list.lookup()
        hits = texts & set(lookup)
        labels = texts & {s.strip() for c in code_list.codes for s in (c.label, *c.aliases)}
        named = _norm(name) == _norm(column)
        if not hits or not (named or (labels and 2 * len(hits) >= len(texts))):
            continue
        rank = (named, len(hits), len(labels), -len(lookup))
        if best is None or rank > best[0]:
            best = (rank, name, sorted(texts - set(lookup)))
    return (best[1], best[2]) if best else None


@dataclass
class _Column:
    """One target column as the scaffold writes it."""

    name: str
    spec: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    todo: str | None = None            # the column is written as a comment until this is done


def scaffold(config: Config, *, source_table: str, target_table: str, source_schema: str | None = None,
             target_schema: str | None = None, name: str | None = None) -> str:
    """A mapping skeleton (YAML text) for copying ``source_table`` into ``target_table``, from the
    two live schemas: columns matched by name (case and underscores ignored), key and cursor
    guessed, code lists proposed from the source's values, included blocks where they fit, and a
    TODO for each NOT NULL target column nothing fills. Filled in, it passes ``syncd check``."""
    codes, _problems = load_codes(config.codes_dir)
    if not codes:
        codes, _problems = load_codes(resources.mappings_dir() / "codes")
    blocks, _problems = load_blocks(config.mappings, codes, config.vars)
    target_schema = target_schema or config.target.schema_
    with databases(config) as (source, target):
        src = _reflect(source, source_table, source_schema, "source")
        dst = _reflect(_reader(target), target_table, target_schema, "target")
        described = target.columns(target_table, target_schema) or {}
        included = [b for b in sorted(blocks.values(), key=lambda b: b.name)
                    if not b.broken and _block_fits(b, src, dst.lower())]
        from_blocks = {str(c).lower() for b in included for c in b.columns}
        values = _Values(source, source_table, source_schema)
        columns = [_scaffold_column(col, described[col], dst, src, values, codes, target_table)
                   for col in dst.columns if col.lower() not in from_blocks]
        _guess_coded(columns, described, src, values, codes)
    cursor, why = _cursor(src)
    return _render(name or target_table, source_table, source_schema, target_table, target_schema, src, dst,
                   cursor, why, included, columns)


class _Values:
    """The different values of source columns (when there are few), each asked for once."""

    def __init__(self, source: Source, table: str, schema: str | None):
        self.source, self.table, self.schema = source, table, schema
        self.found: dict[str, list[Any] | None] = {}

    def of(self, column: str) -> list[Any] | None:
        if column not in self.found:
            try:
                self.found[column] = self.source.distinct_values(self.table, self.schema, column, CODE_VALUES)
            except sa.exc.SQLAlchemyError:
                self.found[column] = None
        return self.found[column]


def _codable(sa_type: Any) -> bool:
    """A source column that may hold a code or its label: short text."""
    kind, length, _scale, _unsigned = column_kind(sa_type)
    return kind == "str" and (length or 0) <= 40


def _scaffold_column(col: str, target: TargetColumn, dst: _Shape, src: _Shape, values: _Values,
                     codes: Mapping[str, CodeList], namespace: str) -> _Column:
    by_norm = {_norm(n): n for n in src.columns}
    out = _Column(col)
    match = by_norm.get(_norm(col))
    if match is None:
        return _unmatched(out, target, dst, src, namespace)
    out.spec["from"] = match
    sa_type = src.columns[match]
    kind = column_kind(sa_type)[0]
    if _codable(sa_type) and target.kind in ("str", "text") and (target.length or 0) <= 40:
        found_values = values.of(match)
        found = code_list_for(found_values, col, codes) if found_values else None
        if found is not None:
            out.spec["map"] = found[0]
            if found[1]:
                out.notes.append(_("TODO: values not in code list {value}: {items}; add them as aliases, or set "
                                   "unknown:").format(value=found[0], items=', '.join(found[1][:8])))
    warning = narrowing(match, sa_type, target)
    if warning is not None and kind == "datetime" and target.kind == "date":
        out.spec["cast"] = "date"
        out.notes.append(_("cast: date drops the time of day"))
    elif warning is not None and kind in ("decimal", "float") and "round:" in warning:
        out.spec["round"] = target.scale if target.kind == "decimal" else 0
        out.notes.append(_("round rounds half up to the decimal places the column keeps"))
    elif warning is not None:
        out.notes.append(_("TODO: {warning}").format(warning=warning))
    return out


def _guess_coded(columns: Sequence[_Column], described: Mapping[str, TargetColumn], src: _Shape, values: _Values,
                 codes: Mapping[str, CodeList]) -> None:
    """A target column that no source column names but a code list does (``check_status``) takes
    the unused source column whose values that code list knows best, with a TODO to check it."""
    used = {str(c.spec.get("from", "")).lower() for c in columns}
    for col in columns:
        if col.spec.get("from") is not None or col.spec.get("value") or col.spec.get("uuid5"):
            continue
        code_list = next((c for n, c in codes.items() if _norm(n) == _norm(col.name)), None)
        if code_list is None or described[col.name].kind not in ("str", "text"):
            continue
        best: tuple[int, str, list[str]] | None = None
        for name, sa_type in src.columns.items():
            if name.lower() in used or not _codable(sa_type):
                continue
            found = values.of(name)
            fit = code_list_for(found, "", {code_list.name: code_list}) if found else None
            if fit is not None:
                known = len({str(v).strip() for v in found or ()}) - len(fit[1])
                if best is None or known > best[0]:
                    best = (known, name, fit[1])
        if best is None:
            continue
        shown = ", ".join(str(v) for v in (values.of(best[1]) or [])[:6])
        col.spec, col.todo = {"from": best[1], "map": code_list.name}, None
        col.notes = [f"TODO: guessed from the values of {best[1]} ({shown}): check it"]
        if best[2]:
            col.notes.append(_("values not in code list "
                               "{name}: {items}").format(name=code_list.name, items=', '.join(best[2][:8])))
        used.add(best[1].lower())


def _unmatched(out: _Column, target: TargetColumn, dst: _Shape, src: _Shape, namespace: str) -> _Column:
    lower = out.name.lower()
    if lower == "sync_time" and target.kind in ("datetime", "other"):
        out.spec["value"] = "now"
        out.notes.append(_("stamped with the run's start"))
    elif lower == "run_id" and target.kind in ("str", "text"):
        out.spec["value"] = "run_id"
        out.notes.append(_("the run that wrote the row"))
    elif out.name in dst.key() and src.key() and target.kind in ("str", "text") and (target.length or 36) >= 36:
        out.spec["uuid5"] = list(src.key())
        out.spec["namespace"] = namespace
        out.notes.append(_("a deterministic id from the source key: the same row always gets the same id"))
    elif not target.nullable:
        out.todo = (f"TODO: {out.name} is NOT NULL ({_type_text(target)}) and no source column has its name: "
                    "fill it (from:, expr:, const:) and remove the # in front")
    return out


def _type_text(target: TargetColumn) -> str:
    if target.kind == "str":
        return f"text of up to {target.length}"
    if target.kind == "decimal" and target.precision is not None:
        return f"decimal({target.precision}, {target.scale or 0})"
    return {"int": "whole number", "datetime": "date and time", "text": "text"}.get(target.kind, target.kind)


def _render(name: str, source_table: str, source_schema: str | None, target_table: str, target_schema: str | None,
            src: _Shape, dst: _Shape, cursor: str | None, why: str, included: Sequence[Any],
            columns: Sequence[_Column]) -> str:
    lines = [f"# {source_table} -> {target_table}: written by `syncd scaffold` on {date.today().isoformat()} from the",
             "# two tables as the databases describe them. Review every line, do each TODO, then run",
             "# `syncd check --connect` and `syncd preview -m " + name + "`.",
             f"name: {_scalar(name)}", "source:", f"  table: {_scalar(source_table)}"]
    if source_schema:
        lines.append(f"  schema: {_scalar(source_schema)}")
    source_key = src.key()
    if source_key:
        lines.append(f"  key: [{', '.join(_scalar(k) for k in source_key)}]       # the source table's primary key")
    else:
        first = next(iter(src.columns))
        lines.append(f"  key: [{_scalar(first)}]       # TODO: the source table has no primary key: name columns "
                     "that are unique")
    lines.append(f"  cursor: {_scalar(cursor or 'TODO')}       # {why}")
    lines += ["target:", f"  table: {_scalar(target_table)}"]
    if target_schema:
        lines.append(f"  schema: {_scalar(target_schema)}")
    target_key = dst.key() or ((next(c for c in dst.columns if c.lower() == "id"),)
                               if any(c.lower() == "id" for c in dst.columns) else ())
    lines.append(f"  key: [{', '.join(_scalar(k) for k in target_key) or 'TODO'}]" +
                 ("       # the target table's primary key" if target_key else
                  "       # TODO: the target table has no primary key: name its unique key columns"))
    if included:
        names = ", ".join(b.name for b in included)
        filled = ", ".join(str(c) for b in included for c in b.columns)
        lines.append(f"include: [{names}]       # from {Path(included[0].file).name}: {filled}")
    lines.append("columns:")
    width = max((len(c.name) for c in columns), default=0) + 1
    left_out = []
    for col in columns:
        if col.todo is not None:
            lines.append(f"  # {col.todo}")
            lines.append(f"  # {col.name + ':':<{width}} {{from: }}")
        elif col.spec:
            spec = ", ".join(f"{k}: [{', '.join(_scalar(v) for v in value)}]" if isinstance(value, list)
                             else f"{k}: {_scalar(value)}" for k, value in col.spec.items())
            note = f"       # {'; '.join(col.notes)}" if col.notes else ""
            lines.append(f"  {col.name + ':':<{width}} {{{spec}}}{note}")
        else:
            left_out.append(col.name)
    if left_out:
        lines.append(f"# not filled (the target allows NULL; no source column has their names): {', '.join(left_out)}")
    return "\n".join(lines) + "\n"
