"""Mapping files (``mappings/*.yaml``) and code lists (``mappings/codes/*.yaml``) -> frozen values.

Pure: reads files, never connects. Every problem in every file is collected and raised as
one ``MappingError``, each naming the file, the line and the key. Checks that need the
databases (do the columns exist?) happen when a run reflects the tables, in ``sync``, and in
``syncd check --connect``.

Files whose name starts with ``_`` (``mappings/_common.yaml``) are no mappings: they hold named
blocks of columns that a mapping takes in with ``include: [audit]``; the mapping's own columns
win. A loaded ``TableMapping`` keeps the file's data with its line numbers (``line_of``), so a
problem found later, against the databases, still names the line.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from syncd import yamlfile
from syncd.config import Config, Duration, HeavyHoursSetting, pydantic_problems
from syncd.errors import MappingError, Problem
from syncd.i18n import _
from syncd.rules import Condition

NullCursor = Literal["include", "exclude", "error"]
BadCursor = Literal["reject", "exclude", "error"]
#: what a run does with text longer than its column: reject the row, or cut the text to fit
Overflow = Literal["reject", "truncate"]
#: ``cast:``: what a value is turned into before the target column's own cast
CastTo = Literal["date", "number"]
#: ``recode:``: the character set a source column's text really is in, though the source database
#: holds it as latin1 and the driver read it so (GBK bytes in a latin1 column, a legacy habit)
Recode = Literal["gbk", "gb18030"]
#: what a run does when the mapping's definition changed since its last run
OnChange = Literal["resync", "warn"]


#: A mapping's name (in logs, ``status``, ``-m NAME``, ``depends_on`` and the state store): 1 to
#: ``MAX_NAME`` ASCII letters, digits, Chinese characters (CJK ideographs), ``_``, ``-`` or ``.``.
#: No spaces, quotes or other signs: the name is one word in a log line and on the command line.
#: The state store holds Chinese text anyway (rejected rows), so it takes a Chinese name.
MAX_NAME = 64
_NAME = re.compile(r"[A-Za-z0-9_.\-\u3400-\u4dbf\u4e00-\u9fff]+")


def _name_rule() -> str:
    return _("a mapping's name is 1 to {max_name} letters (A-Z, a-z), Chinese characters, digits, '_', '-' or "
             "'.'").format(max_name=MAX_NAME)


#: The longest name of a table, schema or column (Oracle 12.2+ and MySQL take 128 and 64;
#: PostgreSQL 63 bytes); a name has no control characters.
MAX_IDENTIFIER = 128
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _shown(value: str, limit: int = 40) -> str:
    """A name as a message quotes it: cut when long (a name can be a megabyte)."""
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}… ({len(value)} characters)"


def _mapping_name(value: str) -> str:
    if len(value) > MAX_NAME or not _NAME.fullmatch(value):
        raise ValueError(_("mapping name {value}: {rule}").format(value=_shown(value), rule=_name_rule()))
    return value


def _file_name_problem(path: Path) -> Problem:
    """A mapping file without ``name:`` is named after the file; when that name is not valid, say so."""
    return Problem(str(path), None, "name",
                   _("the file name {file} gives the mapping name {name}, which is not a valid mapping name "
                     "({rule}): add `name: ...` to the file or rename the file").format(
                       file=path.name, name=_shown(path.stem), rule=_name_rule()))


def _identifier(value: str) -> str:
    if not value:
        raise ValueError(_("a table or column name cannot be empty"))
    if len(value) > MAX_IDENTIFIER:
        raise ValueError(_("the name {value} is longer than {max_identifier} characters, more than any database "
                           "allows for a table or column "
                           "name").format(value=_shown(value), max_identifier=MAX_IDENTIFIER))
    control = _CONTROL.search(value)
    if control is not None:
        raise ValueError(_("the name {value} holds a control character ({group!r} at position {position}); check the "
                           "file for "
                           "a stray tab or line break")
                         .format(value=_shown(value), group=control.group(), position=control.start() + 1))
    return value


#: a mapping's name, and a table, schema or column name: length and characters checked on load
MappingName = Annotated[str, AfterValidator(_mapping_name)]
Identifier = Annotated[str, AfterValidator(_identifier)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class SourceSpec(_Frozen):
    table: Identifier | None = None
    schema_: Identifier | None = Field(default=None, alias="schema")
    query: str | None = None
    key: tuple[Identifier, ...]
    cursor: Identifier
    # ``cursor: [a, b]``: the further cursors (a row is read when any of its cursors moved)
    also_cursors: tuple[Identifier, ...] = ()
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
                raise ValueError(_("'cursor' is a column name, or a list of different column names"))
            data = {**data, "cursor": cursors[0], "also_cursors": tuple(cursors[1:])}
        return data

    @property
    def cursors(self) -> tuple[str, ...]:
        """Every cursor, the first (which full copies and the main watermark follow) first."""
        return (self.cursor, *self.also_cursors)

    @model_validator(mode="after")
    def _table_or_query(self) -> SourceSpec:
        if (self.table is None) == (self.query is None):
            raise ValueError(_("give exactly one of 'table' or 'query'"))
        if not self.key:
            raise ValueError(_("'key' needs at least one column"))
        return self


class TargetSpec(_Frozen):
    table: Identifier
    schema_: Identifier | None = Field(default=None, alias="schema")
    key: tuple[Identifier, ...]
    #: a SQL condition on the target table: the rows this mapping owns, where mappings share a table
    scope: str | None = None

    @field_validator("key", mode="before")
    @classmethod
    def _key_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


ORIGINS = ("from", "const", "expr", "value", "uuid5")


class ColumnSpec(_Frozen):
    """How one target column is filled. Exactly one origin: from, const, expr, value, uuid5."""

    from_: Identifier | None = Field(default=None, alias="from")
    const: Any = None
    expr: str | None = None
    value: Literal["now", "run_id"] | None = None
    uuid5: tuple[Identifier, ...] | None = None
    namespace: str | None = None
    recode: Recode | None = None
    pattern: str | None = None
    map: str | dict[str, Any] | None = None
    unknown: Any = "reject"
    default: Any = None
    format: str | None = None
    cast: CastTo | None = None
    round: int | None = Field(default=None, ge=0, le=30)
    on_overflow: Overflow = "reject"
    update: bool = True
    required: bool = False

    @field_validator("round", mode="before")
    @classmethod
    def _round_places(cls, value: Any) -> Any:
        if isinstance(value, bool) or (value is not None and not isinstance(value, int)):
            raise ValueError(_("'round' is a number of decimal places (0, 1, 2, ...), not "
                               "{value!r}").format(value=value))
        return value

    @model_validator(mode="before")
    @classmethod
    def _one_origin(cls, data: Any) -> Any:
        if isinstance(data, dict):
            given = [k for k in ORIGINS if k in data]
            if len(given) != 1:
                known = set(cls.model_fields) | {"from"}
                strange = [str(k) for k in data if k not in known]
                raise ValueError(_("give exactly one of from, const, expr, value, uuid5")
                                 + (_(" (found {given})").format(given=', '.join(given)) if given else "")
                                 + (_("; unknown key {key}: check the "
                                      "spelling").format(key=', '.join(map(repr, strange)))
                                    if strange else ""))
        return data

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compiled = re.compile(value)
            except re.error as exc:
                raise ValueError(_("pattern is not a valid regular expression: {exc}").format(exc=exc)) from None
            if compiled.groups > 1:
                raise ValueError(_("pattern may have at most one group (the value to keep)"))
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
    """A row check on the mapped values; its conditions are parsed (and their tests checked) on load.

    ``require``: every column filled; ``require_any``: at least one filled; ``check``: a
    condition that must hold; ``matches``: each column's text (when not NULL) matches its regular
    expression. ``when`` limits the rule to the rows that meet it."""

    when: Condition | None = None
    require: tuple[str, ...] = ()
    require_any: tuple[str, ...] = ()
    check: Condition | None = None
    matches: Condition | None = None
    message: str | None = None

    @field_validator("require", "require_any", mode="before")
    @classmethod
    def _column_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("matches", mode="before")
    @classmethod
    def _patterns(cls, value: Any) -> Any:
        return None if value is None else Condition.patterns(value)

    @model_validator(mode="after")
    def _does_something(self) -> RuleSpec:
        if not (self.require or self.require_any or (self.check is not None and self.check.tests)
                or (self.matches is not None and self.matches.tests)):
            raise ValueError(_("a rule needs 'require', 'require_any', 'check' or 'matches'"))
        return self

    def conditions(self) -> Iterator[tuple[str, Condition]]:
        """(key, condition) of each condition the rule has."""
        for part, cond in (("when", self.when), ("check", self.check), ("matches", self.matches)):
            if cond is not None:
                yield part, cond

    def describe(self) -> str:
        """What the rule asks for, when it has no ``message``."""
        parts = []
        if self.when is not None and self.when.tests:
            parts.append("when " + self.when.describe())
        if self.require:
            parts.append("requires " + ", ".join(self.require))
        if self.require_any:
            parts.append("requires one of " + ", ".join(self.require_any))
        if self.check is not None and self.check.tests:
            parts.append("needs " + self.check.describe())
        if self.matches is not None and self.matches.tests:
            parts.append("needs " + self.matches.describe())
        return "; ".join(parts)

    def canonical(self) -> dict[str, Any]:
        """What the rule tests, without its message (part of a mapping's definition hash)."""
        found: dict[str, Any] = {part: cond.describe() for part, cond in self.conditions() if cond.tests}
        if self.require:
            found["require"] = list(self.require)
        if self.require_any:
            found["require_any"] = list(self.require_any)
        return found


class ParentSpec(_Frozen):
    columns: tuple[Identifier, ...]
    table: Identifier
    schema_: Identifier | None = Field(default=None, alias="schema")
    key: tuple[Identifier, ...] = ("id",)
    optional: bool = False


class SoftDelete(_Frozen):
    """``on_source_delete: {set: {deleted: "1", update_date: {value: now}}}``: a row deleted at the
    source is marked deleted in the target (its key and these columns, through the upsert)."""

    set: dict[str, Any]

    @field_validator("set")
    @classmethod
    def _values(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            raise ValueError(_("'set' names the target columns that mark a row deleted, e.g. {deleted: '1'}"))
        for column, given in value.items():
            if isinstance(given, dict):
                if set(given) != {"value"} or given["value"] not in ("now", "run_id"):
                    raise ValueError(_("column {column!r}: write a value ('1', 0, ...) or {{value: now}} or {{value: "
                                       "run_id}}").format(column=column))
            elif isinstance(given, (list, tuple)):
                raise ValueError(_("column {column!r}: a list is no column value; write a "
                                   "single value").format(column=column))
        return value

    def constants(self) -> dict[str, Any]:
        """The columns set to a fixed value: together they recognise a row marked deleted."""
        return {c: v for c, v in self.set.items() if not isinstance(v, dict)}


#: what reconcile does with a target row whose source row is gone: report it (default), mark it
#: deleted (``{set: ...}``), or delete it (where the province allows deletes)
OnSourceDelete = Literal["report", "delete"] | SoftDelete


class Mapping_(_Frozen):
    name: MappingName
    source: SourceSpec
    target: TargetSpec
    depends_on: tuple[MappingName, ...] = ()
    include: tuple[str, ...] = ()
    columns: dict[Identifier, ColumnSpec]
    rules: tuple[RuleSpec, ...] = ()
    parents: tuple[ParentSpec, ...] = ()
    schedule: str | None = None
    batch_size: int | None = Field(default=None, ge=1, le=1_000_000)
    lookback: int | Duration | None = None
    lag: Duration | None = None
    enabled: bool = True
    on_change: OnChange = "resync"
    on_source_delete: OnSourceDelete = "report"
    heavy_hours: HeavyHoursSetting = None
    max_rows_per_second: int | None = Field(default=None, ge=1)

    @field_validator("on_source_delete", mode="before")
    @classmethod
    def _source_delete(cls, value: Any) -> Any:
        if isinstance(value, str) and value not in ("report", "delete"):
            raise ValueError(_("{value!r}: on_source_delete is report (the default), delete, or {{set: {{deleted: "
                               "'1', update_date: {{value: now}}}}}}").format(value=value))
        if isinstance(value, dict):
            if set(value) != {"set"}:
                raise ValueError(_("on_source_delete as a mapping has one key, 'set': {set: {deleted: '1'}}"))
            try:
                return SoftDelete.model_validate(value)
            except ValidationError as exc:
                first = exc.errors()[0]
                raise ValueError(_("on_source_delete.set: {problem}")
                                 .format(problem=first['msg'].removeprefix('Value error, '))) from None
        if not isinstance(value, (str, SoftDelete)):
            raise ValueError(_("on_source_delete is report, delete, or {set: {deleted: '1'}}"))
        return value

    @field_validator("include", mode="before")
    @classmethod
    def _include_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


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
    #: the file's data as loaded (``LineDict``s that know their lines), includes merged in
    raw: Any = Field(default=None, repr=False)
    #: columns taken from a block (``include:``) -> the block's name
    included: dict[str, str] = Field(default_factory=dict)

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

    @property
    def on_change(self) -> OnChange:
        return self.spec.on_change

    def where(self) -> str:
        return f"mapping {self.name!r} ({self.file})"

    def line_of(self, *loc: Any) -> int | None:
        """The line of the deepest key along ``loc`` (``"columns", "area_code", "from"``) in the
        mapping's file; for a column taken in by ``include:``, the line of ``include``."""
        if self.raw is None:
            return None
        if len(loc) >= 2 and loc[0] == "columns" and loc[1] in self.included:
            return yamlfile.line_at(self.raw, ("include",))
        return yamlfile.line_at(self.raw, tuple(loc))

    def problem(self, loc: Sequence[Any] | str, message: str) -> Problem:
        """A problem with this mapping at ``loc`` (a tuple, or dotted text such as ``columns.id``),
        naming the file and the line."""
        parts: tuple[Any, ...] = tuple(_loc_parts(loc)) if isinstance(loc, str) else tuple(loc)
        return Problem(str(self.file), self.line_of(*parts), yamlfile.format_loc(parts), message)

    def lookback_told(self, cursor: str, problem: str) -> str:
        """What to say of a lookback that cannot apply to ``cursor``'s values (``problem``, from
        ``watermark.lookback_problem``), and where it comes from when this mapping sets none."""
        told = _("cursor {cursor}: {problem}").format(cursor=cursor, problem=problem)
        if self.spec.lookback is None:
            told += _(" (the mapping sets no lookback: this is defaults.lookback, 10m unless the config "
                      "says otherwise; set lookback: in this mapping)")
        return told

    @property
    def definition(self) -> dict[str, Any]:
        """What decides the rows this mapping writes: the source (table or query, key, where),
        the target (table, key), every column (with includes) and the rules' tests. Settings that
        only decide when or how fast it runs (schedule, batch size, cursor, lookback) and the
        rules' messages are not part of it."""
        spec = self.spec

        def dump(model: BaseModel, **options: Any) -> Any:
            return model.model_dump(mode="json", by_alias=True, exclude_defaults=True, **options)
        return {
            "source": dump(spec.source, exclude={"cursor", "also_cursors", "null_cursor", "bad_cursor"}),
            "target": dump(spec.target, exclude={"scope"}),   # scope limits what reconcile reads, no row
            "columns": {name: dump(col) for name, col in sorted(spec.columns.items())},
            "rules": [rule.canonical() for rule in spec.rules],
        }

    @property
    def definition_hash(self) -> str:
        """A hash of ``definition``: it changes when the mapping would write other values (a column,
        an expression, the query, a rule), not when the file is only reformatted or commented."""
        text = json.dumps(self.definition, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _loc_parts(text: str) -> Iterator[Any]:
    for part in text.split("."):
        yield int(part) if part.isdigit() else part


def definition_change(mapping: TableMapping, previous_hash: str | None) -> OnChange | None:
    """What a run does about the mapping's definition: ``resync`` (send every row again, as a full
    copy), ``warn``, or None (unchanged, or never recorded: a store from before hashes were kept)."""
    if previous_hash is None or previous_hash == mapping.definition_hash:
        return None
    return mapping.on_change


def change_message(mapping: TableMapping, action: OnChange) -> str:
    """The run's warning when the definition of ``mapping`` changed since its last run."""
    if action == "resync":
        return (f"the mapping's columns or expressions changed since its last run ({mapping.file}): every row is "
                "sent again (a full copy) so that the target holds what the mapping says now")
    return (f"the mapping's columns or expressions changed since its last run ({mapping.file}); rows already sent "
            "keep their old values until they change in the source (on_change: warn). `syncd run --once --full "
            f"-m {mapping.name}` sends every row again")


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


def mapping_files(folder: Path) -> list[Path]:
    """The mapping files of a mappings directory: every ``*.yaml`` but those named ``_*`` (blocks)."""
    return [p for p in _yaml_files(folder) if not p.name.startswith("_")]


def block_files(folder: Path) -> list[Path]:
    """The files of named column blocks (``_common.yaml``, any ``_*.yaml``) of a mappings directory."""
    return [p for p in _yaml_files(folder) if p.name.startswith("_")]


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


def _check_mapping(m: Mapping_, data: Any, file: str, codes: Mapping[str, CodeList],
                   included: Mapping[str, str] | None = None) -> list[Problem]:
    """Cross-field checks that pydantic's per-field validation cannot express. Columns taken from a
    block are checked once, with the block."""
    found = [*_key_problems(m), *_column_problems(m, codes, included or {}), *_rule_problems(m),
             *_parent_problems(m), *_source_delete_problems(m)]
    return [Problem(file, yamlfile.line_at(data, loc), yamlfile.format_loc(loc), message) for loc, message in found]


def _key_problems(m: Mapping_) -> Iterator[_Found]:
    for key in m.target.key:
        if key not in m.columns:
            yield ("target", "key"), (f"target key column {key!r} is not under 'columns:'; "
                                      "syncd must fill every key column: add it under 'columns:'")


def column_checks(col: ColumnSpec, codes: Mapping[str, CodeList]) -> Iterator[tuple[str, str]]:
    """(key, problem) of one column spec, for what pydantic's per-field validation cannot see."""
    if isinstance(col.map, str) and col.map not in codes:
        known = ", ".join(sorted(codes)) or "none"
        yield "map", f"code list {col.map!r} not found in mappings/codes/ (known: {known})"
    if col.map is None and col.unknown != "reject":
        yield "unknown", "'unknown' only applies together with 'map'"
    if col.namespace is not None and col.uuid5 is None:
        yield "namespace", "'namespace' only applies together with 'uuid5'"
    if col.origin == "uuid5" and not col.uuid5:
        yield "uuid5", "uuid5 needs at least one source column"
    if col.round is not None and col.format is not None:
        yield "round", "'round' makes a number and 'format' renders a date as text: keep one of them"
    if col.round is not None and col.cast == "date":
        yield "round", "'cast: date' makes a date, which 'round' cannot round: keep one of them"


def _column_problems(m: Mapping_, codes: Mapping[str, CodeList], included: Mapping[str, str]) -> Iterator[_Found]:
    for name, col in m.columns.items():
        if name not in included:
            for key, message in column_checks(col, codes):
                yield ("columns", name, key), message


def _rule_problems(m: Mapping_) -> Iterator[_Found]:
    # Unknown tests and regular expressions that do not compile are found when the condition is
    # parsed; what is left is naming mapped columns.
    for i, rule in enumerate(m.rules):
        for part, cond in rule.conditions():
            for column in cond.columns:
                if column not in m.columns:
                    yield ("rules", i, part), (f"rule names column {column!r}, which is not under 'columns:'; "
                                               "rules test the mapped target columns")
            for column in cond.references:
                if column not in m.columns:
                    yield ("rules", i, part), (f"rule compares with column {column!r}, which is not under "
                                               "'columns:'; name a mapped target column in {column: NAME}")
        for part, columns in (("require", rule.require), ("require_any", rule.require_any)):
            for column in columns:
                if column not in m.columns:
                    yield ("rules", i, part), (f"rule requires column {column!r}, which is not under 'columns:'; "
                                               "rules test the mapped target columns")


def _parent_problems(m: Mapping_) -> Iterator[_Found]:
    for i, parent in enumerate(m.parents):
        if len(parent.columns) != len(parent.key):
            yield ("parents", i), "'columns' and 'key' must name the same number of columns"
        for column in parent.columns:
            if column not in m.columns:
                yield ("parents", i, "columns"), f"parent column {column!r} is not under 'columns:'"


def _with_key_as_columns(spec: Mapping_) -> Mapping_:
    """``target.key`` spelled as under ``columns:`` (names match case-insensitively, as the
    target's columns do), so that the upsert names each column one way."""
    by_lower = {name.lower(): name for name in spec.columns}
    key = tuple(k if k in spec.columns else by_lower.get(k.lower(), k) for k in spec.target.key)
    if key == spec.target.key:
        return spec
    return spec.model_copy(update={"target": spec.target.model_copy(update={"key": key})})


# -- blocks of columns (``_common.yaml``) ---------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Block:
    """A named block of columns in a ``_*.yaml`` file of the mappings directory."""

    name: str
    file: str
    line: int | None
    columns: dict[str, Any]        # column name -> its spec as written (a LineDict), interpolated
    broken: bool = False           # a problem was reported for the block: mappings that include it wait


def load_blocks(folder: Path, codes: Mapping[str, CodeList], variables: Mapping[str, str],
                env: Mapping[str, str] = os.environ) -> tuple[dict[str, Block], list[Problem]]:
    """The named blocks of columns in the ``_*.yaml`` files of ``folder``, each column checked as a
    mapping's column would be."""
    blocks: dict[str, Block] = {}
    problems: list[Problem] = []
    for path in block_files(folder) if folder.is_dir() else []:
        file = str(path)
        data, found = yamlfile.load(path)
        problems.extend(found)
        if data is None:
            continue
        if not isinstance(data, dict):
            problems.append(Problem(file, 1, "", _("a blocks file maps block names to columns, e.g.\naudit:\n  "
                                                   "create_by: {from: cjr}")))
            continue
        data = yamlfile.interpolate(data, variables, env, file=file, problems=problems)
        for name, columns in data.items():
            found = _block_problems(str(name), columns, data, file, codes)
            if str(name) in blocks:
                found.append(Problem(file, yamlfile.line_at(data, (name,)), str(name),
                                     _("block {name!r} is also "
                                       "defined in {file}; rename one of them")
                                     .format(name=name, file=blocks[str(name)].file)))
            problems.extend(found)
            blocks.setdefault(str(name), Block(str(name), file, yamlfile.line_at(data, (name,)),
                                               dict(columns) if isinstance(columns, dict) else {}, bool(found)))
    return blocks, problems


def _block_problems(name: str, columns: Any, data: Any, file: str, codes: Mapping[str, CodeList]) -> list[Problem]:
    if not isinstance(columns, dict) or not columns:
        return [Problem(file, yamlfile.line_at(data, (name,)), name,
                        _("block {name!r} must map target columns to their specs, as 'columns:' of a mapping does, "
                          "e.g. create_by: {{from: cjr}}").format(name=name))]
    problems: list[Problem] = []
    for column, spec in columns.items():
        try:
            parsed = ColumnSpec.model_validate(spec)
        except ValidationError as exc:
            problems.extend(dataclasses.replace(p, line=p.line or yamlfile.line_at(data, (name, column)),
                                                where=yamlfile.format_loc((name, column, *_loc_parts(p.where)))
                                                if p.where else f"{name}.{column}")
                            for p in pydantic_problems(exc, spec, file))
            continue
        problems.extend(Problem(file, yamlfile.line_at(data, (name, column, key)), f"{name}.{column}.{key}", message)
                        for key, message in column_checks(parsed, codes))
    return problems


def _include(data: dict[Any, Any], blocks: Mapping[str, Block],
             file: str) -> tuple[dict[str, str], list[Problem], bool]:
    """Merge the columns of the blocks ``data`` includes into its ``columns`` (its own columns win).
    Returns (column -> block it came from, problems, whether an included block is broken)."""
    names = data.get("include")
    if names is None:
        return {}, [], False
    if isinstance(names, str):
        names = [names]
    where = yamlfile.line_at(data, ("include",))
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return {}, [Problem(file, where, "include", _("'include' is a list of block names from the mappings' _*.yaml "
                                                      "files, e.g. include: [audit, sync]"))], False
    own: Any = data.get("columns")
    if own is not None and not isinstance(own, dict):
        return {}, [], False          # pydantic says what is wrong with 'columns:'
    own = own or {}
    own_lower = {str(c).lower() for c in own}
    origin: dict[str, str] = {}
    taken: dict[str, Any] = {}
    problems: list[Problem] = []
    waiting = False
    for i, name in enumerate(names):
        block = blocks.get(name)
        if block is None:
            known = ", ".join(sorted(blocks)) or "none: there is no _*.yaml file in the mappings directory"
            problems.append(Problem(file, yamlfile.line_at(data, ("include", i)), f"include.{i}",
                                    _("no block named {name!r} (known: {known}); define it in mappings/_common.yaml "
                                      "or fix the name").format(name=name, known=known)))
            continue
        waiting = waiting or block.broken
        for column, spec in block.columns.items():
            if str(column).lower() in own_lower:
                continue
            if column in origin:
                problems.append(Problem(file, yamlfile.line_at(data, ("include", i)), f"include.{i}",
                                        _("column {column!r} is in block {value!r} and in block {name!r}; write the "
                                          "column under "
                                          "'columns:' to say which one it is")
                                        .format(column=column, value=origin[column], name=name)))
                continue
            origin[column], taken[column] = name, spec
    merged = yamlfile.LineDict(own)
    merged.line = getattr(own, "line", None) or where
    merged.key_lines = {**{c: where for c in taken if where is not None}, **getattr(own, "key_lines", {})}
    merged.update(taken)
    data["columns"] = merged
    return origin, problems, waiting


def _load_mapping(path: Path, config: Config, codes: Mapping[str, CodeList], blocks: Mapping[str, Block],
                  problems: list[Problem]) -> TableMapping | str:
    """One mapping file: the mapping, or the name of a mapping that did not load (its problems are
    added to ``problems``)."""
    file = str(path)
    data, found = yamlfile.load(path)
    problems.extend(found)
    if data is None:
        if not found:
            problems.append(Problem(file, None, "", _("the mapping file is empty; write the mapping, or move the "
                                                      "file out of the mappings directory")))
        return path.stem
    if not isinstance(data, dict):
        problems.append(Problem(file, 1, "", _("a mapping file must be a YAML mapping")))
        return path.stem
    data = yamlfile.interpolate(data, config.vars, os.environ, file=file, problems=problems)
    named_by_file = "name" not in data
    data.setdefault("name", path.stem)
    included, found, waiting = _include(data, blocks, file)
    problems.extend(found)
    try:
        spec = Mapping_.model_validate(data)
    except ValidationError as exc:
        found_now = pydantic_problems(exc, data, file)
        if named_by_file:
            found_now = [_file_name_problem(path) if p.where == "name" else p for p in found_now]
        problems.extend(found_now)
        return str(data.get("name"))
    if found or waiting:
        return spec.name
    spec = _with_key_as_columns(spec)
    problems.extend(_check_mapping(spec, data, file, codes, included))
    defaults = config.defaults
    return TableMapping(
        spec=spec, file=path, batch_size=spec.batch_size or defaults.batch_size,
        lookback=spec.lookback if spec.lookback is not None else defaults.lookback,
        lag=spec.lag if spec.lag is not None else defaults.lag,
        null_cursor=spec.source.null_cursor or defaults.null_cursor,
        bad_cursor=spec.source.bad_cursor or defaults.bad_cursor,
        schedule=spec.schedule or defaults.schedule, raw=data, included=included)


def load_mappings(config: Config, *, only: tuple[str, ...] = (),
                  code_lists: tuple[dict[str, CodeList], list[Problem]] | None = None) -> tuple[TableMapping, ...]:
    """Every mapping under ``config.mappings`` in dependency order. Raises MappingError with all
    problems, those of the code lists too. ``code_lists``: what ``load_codes`` gave for the
    config's code lists, when the caller has read them already."""
    codes, problems = code_lists if code_lists is not None else load_codes(config.codes_dir)
    problems = list(problems)
    blocks, found = load_blocks(config.mappings, codes, config.vars)
    problems.extend(found)
    mappings: dict[str, TableMapping] = {}
    #: names of mappings whose file has a problem that kept it from loading: already reported, so
    #: a mapping that depends on one is not told again that it depends on an unknown mapping
    broken: set[str] = set()
    files = mapping_files(config.mappings)
    if not files:
        problems.append(Problem(str(config.mappings), None, "", _("no mapping files (*.yaml) in this directory")))
    for path in files:
        loaded = _load_mapping(path, config, codes, blocks, problems)
        if isinstance(loaded, str):
            broken.add(loaded)
        elif loaded.name in mappings:
            problems.append(loaded.problem(("name",), f"mapping name {loaded.name!r} is also used by "
                                                      f"{mappings[loaded.name].file}; give each mapping its own name"))
        else:
            mappings[loaded.name] = loaded
    for m in mappings.values():
        for i, dep in enumerate(m.spec.depends_on):
            if dep not in mappings and dep not in broken:
                problems.append(Problem(str(m.file), m.line_of("depends_on", i), "depends_on",
                                        _("depends on unknown "
                                          "mapping {dep!r} (known: {sorted})")
                                        .format(dep=dep, sorted=', '.join(sorted(mappings)))))
    order, cycle = dependency_order({n: m.spec.depends_on for n, m in mappings.items()})
    if cycle:
        problems.append(mappings[cycle[0]].problem(("depends_on",), "depends_on forms a cycle: "
                                                   + " -> ".join(cycle + [cycle[0]])))
    for name in only:
        if name not in mappings and name not in broken:
            problems.append(Problem(str(config.mappings), None, "-m",
                                    _("no mapping named "
                                      "{name!r} (known: {sorted})")
                                    .format(name=name, sorted=', '.join(sorted(mappings)))))
    if problems:
        raise MappingError(problems)
    return tuple(mappings[n] for n in order if (not only or n in only))


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


def _source_delete_problems(m: Mapping_) -> Iterator[_Found]:
    """``on_source_delete: {set: ...}``: the columns must be mapped, updatable, not the key, and
    at least one set to a fixed value (by which a row marked deleted is recognised)."""
    spec = m.on_source_delete
    if not isinstance(spec, SoftDelete):
        return
    key = {k.lower() for k in m.target.key}
    mapped = {c.lower(): c for c in m.columns}
    for column in spec.set:
        loc = ("on_source_delete", "set", column)
        name = mapped.get(str(column).lower())
        if str(column).lower() in key:
            yield loc, f"{column!r} is the target key; a deleted row keeps its key: mark it with another column"
        elif name is None:
            yield loc, (f"column {column!r} is not under 'columns:'; map it (e.g. {column}: {{const: '0'}} or "
                        "from the source's flag), so that a row that comes back to the source is no longer "
                        "marked deleted")
        elif not m.columns[name].update:
            yield loc, f"column {column!r} has update: false, so the upsert could not mark a row deleted; remove it"
    if not spec.constants():
        yield ("on_source_delete", "set"), ("set at least one column to a fixed value (deleted: '1'): it is how "
                                            "reconcile recognises a row already marked deleted")
