"""Mapping files (``mappings/*.yaml``) and code lists (``mappings/codes/*.yaml``) -> frozen values.

Pure: reads files, never connects. Every problem in every file is collected and raised as
one ``MappingError``, each naming the file, the line and the key. Checks that need the
databases (do the columns exist?) happen when a run reflects the tables, in ``sync``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from syncd import yamlfile
from syncd.config import Config, Duration, pydantic_problems
from syncd.errors import MappingError, Problem
from syncd.rules import Condition

NullCursor = Literal["include", "exclude", "error"]
BadCursor = Literal["reject", "exclude", "error"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class SourceSpec(_Frozen):
    table: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    query: str | None = None
    key: tuple[str, ...]
    cursor: str
    # ``cursor: [a, b]``: the further cursors (a row is read when any of its cursors moved)
    also_cursors: tuple[str, ...] = ()
    where: str | None = None
    null_cursor: NullCursor | None = None
    bad_cursor: BadCursor | None = None

    @field_validator("key", mode="before")
    @classmethod
    def _key_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="before")
    @classmethod
    def _cursor_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("cursor"), list):
            cursors = data["cursor"]
            if not cursors or not all(isinstance(c, str) for c in cursors) or len(set(cursors)) != len(cursors):
                raise ValueError("'cursor' is a column name, or a list of different column names")
            data = {**data, "cursor": cursors[0], "also_cursors": tuple(cursors[1:])}
        return data

    @property
    def cursors(self) -> tuple[str, ...]:
        """Every cursor, the first (which full copies and the main watermark follow) first."""
        return (self.cursor, *self.also_cursors)

    @model_validator(mode="after")
    def _table_or_query(self) -> SourceSpec:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of 'table' or 'query'")
        if not self.key:
            raise ValueError("'key' needs at least one column")
        return self


class TargetSpec(_Frozen):
    table: str
    schema_: str | None = Field(default=None, alias="schema")
    key: tuple[str, ...]

    @field_validator("key", mode="before")
    @classmethod
    def _key_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


ORIGINS = ("from", "const", "expr", "value", "uuid5")


class ColumnSpec(_Frozen):
    """How one target column is filled. Exactly one origin: from, const, expr, value, uuid5."""

    from_: str | None = Field(default=None, alias="from")
    const: Any = None
    expr: str | None = None
    value: Literal["now", "run_id"] | None = None
    uuid5: tuple[str, ...] | None = None
    namespace: str | None = None
    pattern: str | None = None
    map: str | dict[str, Any] | None = None
    unknown: Any = "reject"
    default: Any = None
    format: str | None = None
    update: bool = True
    required: bool = False

    @model_validator(mode="before")
    @classmethod
    def _one_origin(cls, data: Any) -> Any:
        if isinstance(data, dict):
            given = [k for k in ORIGINS if k in data]
            if len(given) != 1:
                known = set(cls.model_fields) | {"from"}
                strange = [str(k) for k in data if k not in known]
                raise ValueError("give exactly one of from, const, expr, value, uuid5"
                                 + (f" (found {', '.join(given)})" if given else "")
                                 + (f"; unknown key {', '.join(map(repr, strange))}: check the spelling"
                                    if strange else ""))
        return data

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compiled = re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern is not a valid regular expression: {exc}") from None
            if compiled.groups > 1:
                raise ValueError("pattern may have at most one group (the value to keep)")
        return value

    @property
    def origin(self) -> str:
        for name in ORIGINS:
            if ("from_" if name == "from" else name) in self.model_fields_set:
                return name
        raise AssertionError("validated to have one origin")

    def source_columns(self) -> tuple[str, ...]:
        if self.from_ is not None:
            return (self.from_,)
        return tuple(self.uuid5 or ())


class RuleSpec(_Frozen):
    """A row check on the mapped values; its conditions are parsed (and their tests checked) on load."""

    when: Condition | None = None
    require: tuple[str, ...] = ()
    check: Condition | None = None
    message: str | None = None

    @model_validator(mode="after")
    def _does_something(self) -> RuleSpec:
        if not self.require and (self.check is None or not self.check.tests):
            raise ValueError("a rule needs 'require' or 'check'")
        return self

    def describe(self) -> str:
        """What the rule asks for, when it has no ``message``."""
        parts = []
        if self.when is not None and self.when.tests:
            parts.append("when " + self.when.describe())
        if self.require:
            parts.append("requires " + ", ".join(self.require))
        if self.check is not None and self.check.tests:
            parts.append("needs " + self.check.describe())
        return "; ".join(parts)


class ParentSpec(_Frozen):
    columns: tuple[str, ...]
    table: str
    schema_: str | None = Field(default=None, alias="schema")
    key: tuple[str, ...] = ("id",)
    optional: bool = False


class Mapping_(_Frozen):
    name: str
    source: SourceSpec
    target: TargetSpec
    depends_on: tuple[str, ...] = ()
    columns: dict[str, ColumnSpec]
    rules: tuple[RuleSpec, ...] = ()
    parents: tuple[ParentSpec, ...] = ()
    schedule: str | None = None
    batch_size: int | None = Field(default=None, ge=1, le=1_000_000)
    lookback: int | Duration | None = None
    lag: Duration | None = None
    enabled: bool = True


class TableMapping(BaseModel):
    """A validated mapping with the run settings resolved against the config defaults."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    spec: Mapping_
    file: Path
    batch_size: int
    lookback: timedelta | int
    lag: timedelta
    null_cursor: NullCursor
    bad_cursor: BadCursor = "reject"
    schedule: str | None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def source(self) -> SourceSpec:
        return self.spec.source

    @property
    def target(self) -> TargetSpec:
        return self.spec.target

    @property
    def columns(self) -> dict[str, ColumnSpec]:
        return self.spec.columns

    def where(self) -> str:
        return f"mapping {self.name!r} ({self.file})"


class Code(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")
    code: str
    label: str
    aliases: tuple[str, ...] = ()

    @field_validator("code", "label", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, (int, float)) else value

    @field_validator("aliases", mode="before")
    @classmethod
    def _alias_text(cls, value: Any) -> Any:
        return [str(v) for v in value] if isinstance(value, list) else value


class CodeList(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    title: str | None = None
    codes: tuple[Code, ...]

    def lookup(self) -> dict[str, str]:
        """Every spelling a county system may store (code, label, aliases) -> the code."""
        table: dict[str, str] = {}
        for code in self.codes:
            for spelling in (code.code, code.label, *code.aliases):
                table.setdefault(spelling.strip(), code.code)
        return table


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))


def load_codes(folder: Path) -> tuple[dict[str, CodeList], list[Problem]]:
    codes: dict[str, CodeList] = {}
    problems: list[Problem] = []
    if not folder.is_dir():
        return codes, problems
    for path in _yaml_files(folder):
        data, found = yamlfile.load(path)
        problems.extend(found)
        if data is None:
            continue
        if isinstance(data, dict):
            data.setdefault("name", path.stem)
        try:
            code_list = CodeList.model_validate(data)
        except ValidationError as exc:
            problems.extend(pydantic_problems(exc, data, str(path)))
            continue
        codes[code_list.name] = code_list
    return codes, problems


#: where in a mapping file a problem sits, and what it is
_Found = tuple[tuple[Any, ...], str]


def _check_mapping(m: Mapping_, data: Any, file: str, codes: Mapping[str, CodeList]) -> list[Problem]:
    """Cross-field checks that pydantic's per-field validation cannot express."""
    found = [*_key_problems(m), *_column_problems(m, codes), *_rule_problems(m), *_parent_problems(m)]
    return [Problem(file, yamlfile.line_at(data, loc), yamlfile.format_loc(loc), message) for loc, message in found]


def _key_problems(m: Mapping_) -> Iterator[_Found]:
    for key in m.target.key:
        if key not in m.columns:
            yield ("target", "key"), (f"target key column {key!r} is not under 'columns:'; "
                                      "syncd must fill every key column")


def _column_problems(m: Mapping_, codes: Mapping[str, CodeList]) -> Iterator[_Found]:
    for name, col in m.columns.items():
        if isinstance(col.map, str) and col.map not in codes:
            known = ", ".join(sorted(codes)) or "none"
            yield ("columns", name, "map"), f"code list {col.map!r} not found in mappings/codes/ (known: {known})"
        if col.map is None and col.unknown != "reject":
            yield ("columns", name, "unknown"), "'unknown' only applies together with 'map'"
        if col.namespace is not None and col.uuid5 is None:
            yield ("columns", name, "namespace"), "'namespace' only applies together with 'uuid5'"
        if col.origin == "uuid5" and not col.uuid5:
            yield ("columns", name, "uuid5"), "uuid5 needs at least one source column"


def _rule_problems(m: Mapping_) -> Iterator[_Found]:
    # Unknown tests are found when the condition is parsed; what is left is naming mapped columns.
    for i, rule in enumerate(m.rules):
        for part, cond in (("when", rule.when), ("check", rule.check)):
            for column in cond.columns if cond is not None else ():
                if column not in m.columns:
                    yield ("rules", i, part), f"rule names column {column!r}, which is not under 'columns:'"
        for column in rule.require:
            if column not in m.columns:
                yield ("rules", i, "require"), f"rule requires column {column!r}, which is not under 'columns:'"


def _parent_problems(m: Mapping_) -> Iterator[_Found]:
    for i, parent in enumerate(m.parents):
        if len(parent.columns) != len(parent.key):
            yield ("parents", i), "'columns' and 'key' must name the same number of columns"
        for column in parent.columns:
            if column not in m.columns:
                yield ("parents", i, "columns"), f"parent column {column!r} is not under 'columns:'"


def load_mappings(config: Config, *, only: tuple[str, ...] = ()) -> tuple[TableMapping, ...]:
    """Every mapping under ``config.mappings`` in dependency order. Raises MappingError with all problems."""
    codes, problems = load_codes(config.codes_dir)
    mappings: dict[str, TableMapping] = {}
    raw: dict[str, tuple[Any, str]] = {}
    import os

    files = _yaml_files(config.mappings)
    if not files:
        problems.append(Problem(str(config.mappings), None, "", "no mapping files (*.yaml) in this directory"))
    for path in files:
        file = str(path)
        data, found = yamlfile.load(path)
        problems.extend(found)
        if data is None:
            if not found:
                problems.append(Problem(file, None, "", "the mapping file is empty; write the mapping, or move the "
                                                        "file out of the mappings directory"))
            continue
        if not isinstance(data, dict):
            problems.append(Problem(file, 1, "", "a mapping file must be a YAML mapping"))
            continue
        data = yamlfile.interpolate(data, config.vars, os.environ, file=file, problems=problems)
        data.setdefault("name", path.stem)
        try:
            spec = Mapping_.model_validate(data)
        except ValidationError as exc:
            problems.extend(pydantic_problems(exc, data, file))
            continue
        problems.extend(_check_mapping(spec, data, file, codes))
        if spec.name in mappings:
            problems.append(Problem(file, yamlfile.line_at(data, ("name",)), "name",
                                    f"mapping name {spec.name!r} is also used by {mappings[spec.name].file}"))
            continue
        defaults = config.defaults
        lookback = spec.lookback if spec.lookback is not None else defaults.lookback
        mappings[spec.name] = TableMapping(
            spec=spec, file=path, batch_size=spec.batch_size or defaults.batch_size,
            lookback=lookback, lag=spec.lag if spec.lag is not None else defaults.lag,
            null_cursor=spec.source.null_cursor or defaults.null_cursor,
            bad_cursor=spec.source.bad_cursor or defaults.bad_cursor,
            schedule=spec.schedule or defaults.schedule)
        raw[spec.name] = (data, file)
    for name, m in mappings.items():
        data, file = raw[name]
        for i, dep in enumerate(m.spec.depends_on):
            if dep not in mappings:
                problems.append(Problem(file, yamlfile.line_at(data, ("depends_on", i)), "depends_on",
                                        f"depends on unknown mapping {dep!r} (known: {', '.join(sorted(mappings))})"))
    order, cycle = dependency_order({n: m.spec.depends_on for n, m in mappings.items()})
    if cycle:
        first = mappings[cycle[0]]
        problems.append(Problem(str(first.file), yamlfile.line_at(raw[cycle[0]][0], ("depends_on",)), "depends_on",
                                "depends_on forms a cycle: " + " -> ".join(cycle + [cycle[0]])))
    for name in only:
        if name not in mappings:
            problems.append(Problem(str(config.mappings), None, "-m",
                                    f"no mapping named {name!r} (known: {', '.join(sorted(mappings))})"))
    if problems:
        raise MappingError(problems)
    chosen = [mappings[n] for n in order if (not only or n in only)]
    return tuple(chosen)


def load_code_lists(config: Config) -> dict[str, CodeList]:
    codes, problems = load_codes(config.codes_dir)
    if problems:
        raise MappingError(problems)
    return codes


def dependency_order(deps: Mapping[str, tuple[str, ...]]) -> tuple[list[str], list[str]]:
    """Names ordered so each comes after its dependencies (ties by name), and a cycle if any."""
    order: list[str] = []
    state: dict[str, int] = {}
    stack: list[str] = []
    cycle: list[str] = []

    def visit(name: str) -> None:
        nonlocal cycle
        if cycle:
            return
        mark = state.get(name, 0)
        if mark == 2:
            return
        if mark == 1:
            cycle = stack[stack.index(name):]
            return
        state[name] = 1
        stack.append(name)
        for dep in sorted(deps.get(name, ())):
            if dep in deps:
                visit(dep)
        stack.pop()
        state[name] = 2
        order.append(name)

    for name in sorted(deps):
        visit(name)
    return order, cycle
