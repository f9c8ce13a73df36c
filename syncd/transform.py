"""One batch of source rows -> target rows. Pure: takes values (the run's ``now`` included).

Owns what a column spec means. Each target column's value comes from its origin (from / expr /
const / value / uuid5), goes through the optional steps its spec asks for, in the order of
``STEPS``, then a NULL is rejected if the column is required and anything else is cast to the
target column's type (``make_caster``, one function per kind). Then the mapping's rules
(``syncd.rules``) run on the finished row. A step that cannot produce a value the target accepts
raises ``DataError``: the row becomes a reject with the reason, the rest of the batch goes on.

Each column is described once (``ColumnPlan``); the per-column functions and the compiled row
function of the fast path are both derived from it.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import sqlalchemy as sa

from syncd.errors import DataError
from syncd.mapping import CodeList, ColumnSpec, RuleSpec, TableMapping
from syncd.plan import EXPR_PREFIX, Layout

#: what a target column holds, as far as casting a value goes (``column_kind``)
Kind = Literal["str", "text", "int", "decimal", "float", "datetime", "date", "time", "bytes", "bool",
               "other"]

#: a character no 3-byte or legacy character set holds, and a NUL: asks the dialect once whether a
#: column's text needs checking at all
_OUTSIDE_BMP = "\U0001F600\x00"

#: uuid5 namespace of syncd's derived ids; a mapping's ``namespace: word`` derives a sub-namespace.
NAMESPACE = uuid.UUID("6f1c2d0e-6a52-5b8e-9d7c-3a1f0b6e2d41")


@dataclass(frozen=True)
class TargetColumn:
    name: str
    kind: Kind
    nullable: bool = True
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    charset: str | None = None


def column_kind(sa_type: sa.types.TypeEngine[Any]) -> tuple[Kind, int | None, int | None, int | None]:
    """(kind, length, precision, scale) of a reflected SQLAlchemy type."""
    if isinstance(sa_type, sa.Boolean):
        return "bool", None, None, None
    if isinstance(sa_type, (sa.LargeBinary, sa.types._Binary)):
        return "bytes", None, None, None
    if isinstance(sa_type, sa.Text) or (isinstance(sa_type, sa.String) and not sa_type.length):
        return "text", None, None, None
    if isinstance(sa_type, sa.String):
        return "str", sa_type.length, None, None
    if isinstance(sa_type, sa.Integer):
        return "int", None, None, None
    if isinstance(sa_type, sa.Float):
        return "float", None, None, None
    if isinstance(sa_type, sa.Numeric):
        if sa_type.scale == 0 and sa_type.precision is not None:
            return "int", None, sa_type.precision, 0
        return "decimal", None, sa_type.precision, sa_type.scale
    if isinstance(sa_type, sa.DateTime):
        return "datetime", None, None, None
    if isinstance(sa_type, sa.Date):
        return "date", None, None, None
    if isinstance(sa_type, sa.Time):
        return "time", None, None, None
    return "other", None, None, None


@dataclass(frozen=True)
class Reject:
    key: tuple[Any, ...]
    column: str | None
    reason: str
    row: dict[str, Any]


@dataclass(frozen=True)
class MappedBatch:
    rows: list[tuple[Any, ...]]
    keys: list[tuple[Any, ...]]          # source key of each row in ``rows``
    rejects: list[Reject]
    sources: list[Sequence[Any]]         # the source row of each row in ``rows``
    #: source keys of rows that a later row of the same target key replaced in this batch: written
    #: as far as the target goes (a pending reject of theirs is resolved with the later row)
    superseded: tuple[tuple[Any, ...], ...] = ()


class _Ctx:
    """Values fixed for one run that column functions close over."""

    def __init__(self, *, now: datetime, run_id: str, tz: tzinfo,
                 text_length: Callable[[str], int], unsupported_text: Callable[[str, str | None], str | None]):
        self.now, self.run_id, self.tz = now, run_id, tz
        self.text_length, self.unsupported_text = text_length, unsupported_text


def _parse_moment(value: str) -> datetime:
    text = value.strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for layout in ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y%m%d%H%M%S", "%Y%m%d",
                   "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日"):
        try:
            return datetime.strptime(text, layout)
        except ValueError:
            continue
    raise DataError(None, f"{value!r} is not a date/time this column can hold")


def _naive_in(tz: tzinfo) -> Callable[[datetime], datetime]:
    """Aware moments -> the run's timezone without tzinfo; naive ones are already local."""
    def naive(moment: datetime) -> datetime:
        return moment.astimezone(tz).replace(tzinfo=None) if moment.tzinfo is not None else moment
    return naive


def _as_text(v: Any, naive: Callable[[datetime], datetime]) -> str:
    """A value that is not ``str`` as the text a text column stores."""
    if isinstance(v, (bytes, bytearray, memoryview)):
        raise DataError(None, "binary value cannot go into a text column")
    if isinstance(v, datetime):
        return naive(v).isoformat(sep=" ")
    if isinstance(v, (date, time)):
        return v.isoformat()
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


Caster = Callable[[Any], Any]


def _text_caster(col: TargetColumn, ctx: _Ctx) -> Caster:
    length, charset = col.length, col.charset
    measure, naive = ctx.text_length, _naive_in(ctx.tz)
    # Ask the dialect once whether this column's character set can refuse anything.
    check_charset = ctx.unsupported_text if ctx.unsupported_text(_OUTSIDE_BMP, charset) else None

    def cast_text(v: Any) -> Any:
        if not isinstance(v, str):
            v = _as_text(v, naive)
        if length is not None and measure(v) > length:
            raise DataError(None, f"text of {measure(v)} characters is longer than the column's {length}")
        if check_charset is not None:
            problem = check_charset(v, charset)
            if problem:
                raise DataError(None, problem)
        return v
    return cast_text


def _int_caster(col: TargetColumn, ctx: _Ctx) -> Caster:
    def cast_int(v: Any) -> Any:
        if type(v) is int:
            return v
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, int):
            return v
        try:
            number = Decimal(v.strip()) if isinstance(v, str) else Decimal(str(v))
        except (InvalidOperation, ValueError, TypeError):
            raise DataError(None, f"{v!r} is not a whole number") from None
        # Infinity and NaN are no whole numbers either (and int() of them would raise).
        if not number.is_finite() or number != number.to_integral_value():
            raise DataError(None, f"{v!r} is not a whole number")
        return int(number)
    return cast_int


def _decimal_caster(col: TargetColumn, ctx: _Ctx) -> Caster:
    digits = None if col.precision is None else col.precision - (col.scale or 0)

    def cast_decimal(v: Any) -> Any:
        if type(v) is Decimal and v.is_finite() and (digits is None or v.adjusted() < digits):
            return v
        try:
            number = v if isinstance(v, Decimal) else Decimal(v.strip() if isinstance(v, str) else str(v))
        except (InvalidOperation, ValueError, TypeError):
            raise DataError(None, f"{v!r} is not a number") from None
        if not number.is_finite():
            raise DataError(None, f"{v!r} is not a finite number")
        if digits is not None and number != 0 and number.adjusted() + 1 > digits:
            raise DataError(None, f"{v} has more than {digits} digits before the decimal point")
        return number
    return cast_decimal


def _float_caster(col: TargetColumn, ctx: _Ctx) -> Caster:
    def cast_float(v: Any) -> Any:
        try:
            return float(v)
        except (ValueError, TypeError):
            raise DataError(None, f"{v!r} is not a number") from None
    return cast_float


def _datetime_caster(col: TargetColumn, ctx: _Ctx) -> Caster:
    naive = _naive_in(ctx.tz)

    def cast_datetime(v: Any) -> Any:
        if type(v) is datetime and v.tzinfo is None:
            return v
        if isinstance(v, datetime):
            return naive(v)
        if isinstance(v, date):
            return datetime(v.year, v.month, v.day)
        if isinstance(v, str):
            return naive(_parse_moment(v))
        raise DataError(None, f"{v!r} is not a date/time")
    return cast_datetime


def _date_caster(col: TargetColumn, ctx: _Ctx) -> Caster:
    naive = _naive_in(ctx.tz)

    def cast_date(v: Any) -> Any:
        if isinstance(v, datetime):
            return naive(v).date()
        if isinstance(v, date):
            return v
        if isinstance(v, str):
            return _parse_moment(v).date()
        raise DataError(None, f"{v!r} is not a date")
    return cast_date


def _time_caster(col: TargetColumn, ctx: _Ctx) -> Caster:
    def cast_time(v: Any) -> Any:
        if isinstance(v, time):
            return v
        if isinstance(v, datetime):
            return v.time()
        if isinstance(v, str):
            try:
                return time.fromisoformat(v.strip())
            except ValueError:
                raise DataError(None, f"{v!r} is not a time of day") from None
        raise DataError(None, f"{v!r} is not a time of day")
    return cast_time


def _bytes_caster(col: TargetColumn, ctx: _Ctx) -> Caster:
    def cast_bytes(v: Any) -> Any:
        if isinstance(v, bytes):
            return v
        if isinstance(v, (bytearray, memoryview)):
            return bytes(v)
        raise DataError(None, f"a {type(v).__name__} value cannot go into a binary column")
    return cast_bytes


_TRUE = frozenset(("1", "true", "t", "y", "yes", "是"))
_FALSE = frozenset(("0", "false", "f", "n", "no", "否"))


def _bool_caster(col: TargetColumn, ctx: _Ctx) -> Caster:
    def cast_bool(v: Any) -> Any:
        if isinstance(v, bool):
            return v
        text = str(v).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise DataError(None, f"{v!r} is not true or false")
    return cast_bool


def _other_caster(col: TargetColumn, ctx: _Ctx) -> Caster:
    # A type syncd does not know (JSON, arrays, ...): the driver gets the value as it was read.
    return lambda v: v


#: how a value becomes what a column of each kind holds
_CASTERS: dict[Kind, Callable[[TargetColumn, _Ctx], Caster]] = {
    "str": _text_caster, "text": _text_caster, "int": _int_caster, "decimal": _decimal_caster,
    "float": _float_caster, "datetime": _datetime_caster, "date": _date_caster, "time": _time_caster,
    "bytes": _bytes_caster, "bool": _bool_caster, "other": _other_caster,
}


def make_caster(col: TargetColumn, ctx: _Ctx) -> Caster:
    """A function that turns a mapped value into what the target column holds, or raises DataError."""
    return _CASTERS[col.kind](col, ctx)


def _read_index(name: str, spec: ColumnSpec, lay: Layout) -> int | None:
    """Where the row read holds the value a ``from`` or ``expr`` column copies; None for other origins."""
    if spec.from_ is not None:
        return lay.index(spec.from_)
    if spec.expr is not None:
        return lay.index(EXPR_PREFIX + name)
    return None


def _origin(name: str, spec: ColumnSpec, lay: Layout, ctx: _Ctx,
            target: TargetColumn) -> Callable[[Sequence[Any]], Any]:
    index = _read_index(name, spec, lay)
    if index is not None:
        return lambda row: row[index]
    if spec.value == "now":
        stamp: Any = ctx.now if target.kind == "other" else ctx.now.astimezone(ctx.tz).replace(tzinfo=None)
        return lambda row: stamp
    if spec.value == "run_id":
        run_id = ctx.run_id
        return lambda row: run_id
    if spec.uuid5 is not None:
        indexes = [lay.index(c) for c in spec.uuid5]
        namespace = spec.namespace
        return lambda row: derive_id([row[i] for i in indexes], namespace)
    const = spec.const
    return lambda row: const


def derive_id(values: Sequence[Any], namespace: str | None = None) -> str | None:
    """The id ``uuid5: [...]`` derives from these values; None if any is NULL, since an id made
    from part of a row's identity would name a parent that does not exist."""
    if any(v is None for v in values):
        return None
    return str(uuid.uuid5(_namespace(namespace), "\x1f".join(str(v) for v in values)))


@functools.cache
def _namespace(word: str | None) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, word) if word else NAMESPACE


StepFunction = Callable[[Any], Any]


def _pattern_step(spec: ColumnSpec, codes: Mapping[str, CodeList], ctx: _Ctx) -> StepFunction:
    regex = re.compile(spec.pattern or "")

    def extract(v: Any) -> Any:
        if v is None:
            return None
        match = regex.search(str(v))
        if match is None:
            return None
        return match.group(1) if regex.groups else match.group(0)
    return extract


def _code_map(spec: ColumnSpec, codes: Mapping[str, CodeList], ctx: _Ctx) -> StepFunction:
    table = codes[spec.map].lookup() if isinstance(spec.map, str) else \
        {str(k).strip(): v for k, v in (spec.map or {}).items()}
    unknown = spec.unknown
    label = spec.map if isinstance(spec.map, str) else "the inline map"

    def lookup(v: Any) -> Any:
        if v is None:
            return None
        text = v if isinstance(v, str) else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
        text = text.strip()
        if text in table:
            return table[text]
        if unknown == "reject":
            raise DataError(None, f"{v!r} is not in code list {label}; add it (as a code or alias) "
                                  f"to the code list, or set 'unknown:' on the column")
        if unknown == "keep":
            return v
        return unknown
    return lookup


def _default_step(spec: ColumnSpec, codes: Mapping[str, CodeList], ctx: _Ctx) -> StepFunction:
    default = spec.default
    return lambda v: default if v is None else v


def _format_step(spec: ColumnSpec, codes: Mapping[str, CodeList], ctx: _Ctx) -> StepFunction:
    layout_ = spec.format or ""

    def render(v: Any) -> Any:
        if v is None:
            return None
        moment = _parse_moment(v) if isinstance(v, str) else v
        if not isinstance(moment, (date, time)):
            raise DataError(None, f"{v!r} is not a date/time to format")
        if isinstance(moment, datetime) and moment.tzinfo is not None:
            moment = moment.astimezone(ctx.tz)
        return moment.strftime(layout_)
    return render


@dataclass(frozen=True)
class Step:
    """One optional step of a column, between its origin and the cast."""

    key: str                                    # the spec key that asks for it
    applies: Callable[[ColumnSpec], bool]
    build: Callable[[ColumnSpec, Mapping[str, CodeList], _Ctx], StepFunction]


#: Every optional step, in the order a value goes through them. Nothing else lists them: the column
#: functions and the compiled row function both take a column's steps from ``steps_of``, so a step
#: added here cannot be run by one path and skipped by the other.
STEPS: tuple[Step, ...] = (
    Step("pattern", lambda spec: spec.pattern is not None, _pattern_step),
    Step("map", lambda spec: spec.map is not None, _code_map),
    Step("default", lambda spec: spec.default is not None, _default_step),
    Step("format", lambda spec: spec.format is not None, _format_step),
)


def steps_of(spec: ColumnSpec) -> tuple[Step, ...]:
    """The steps a column's spec asks for, in order."""
    return tuple(step for step in STEPS if step.applies(spec))


@dataclass(frozen=True)
class ColumnPlan:
    """How one target column gets its value in this run: origin -> steps -> NULL check -> cast."""

    name: str
    target: TargetColumn
    read: int | None                    # the row index a ``from``/``expr`` origin copies
    row_free: bool                      # the origin does not look at the row (``const``, ``value``)
    origin: Callable[[Sequence[Any]], Any]
    steps: tuple[StepFunction, ...]
    cast: Caster
    required: bool                      # a NULL rejects the row ...
    null_reason: str                    # ... with this reason

    @classmethod
    def build(cls, name: str, spec: ColumnSpec, lay: Layout, target: TargetColumn,
              codes: Mapping[str, CodeList], ctx: _Ctx) -> ColumnPlan:
        required, null_reason = _required(spec, target)
        return cls(name, target, _read_index(name, spec, lay), spec.origin in ("const", "value"),
                   _origin(name, spec, lay, ctx, target),
                   tuple(step.build(spec, codes, ctx) for step in steps_of(spec)),
                   make_caster(target, ctx), required, null_reason)


def _column_function(col: ColumnPlan) -> Callable[[Sequence[Any]], Any]:
    """The column's value for one row, or DataError: the slow path, and the fast one for columns with steps."""
    origin, steps, cast, required, null_reason = col.origin, col.steps, col.cast, col.required, col.null_reason

    def value(row: Sequence[Any]) -> Any:
        v = origin(row)
        for step in steps:
            v = step(v)
        if v is None:
            if required:
                raise DataError(None, null_reason)
            return None
        return cast(v)
    return value


def _rule_function(rule: RuleSpec, positions: Mapping[str, int]) -> Callable[[Sequence[Any]], str | None]:
    """The reason a mapped row breaks the rule, or None."""
    when = rule.when.predicate(positions) if rule.when is not None else None
    check = rule.check.predicate(positions) if rule.check is not None else None
    require = [(c, positions[c]) for c in rule.require]
    text = rule.message or rule.describe()

    def apply(out: Sequence[Any]) -> str | None:
        if when is not None and not when(out):
            return None
        missing = [c for c, i in require if out[i] is None or out[i] == ""]
        if missing:
            return f"rule: {text} (missing: {', '.join(missing)})"
        if check is not None and not check(out):
            return f"rule: {text}"
        return None
    return apply


#: Values of a kind that already are what the target column holds pass these tests untouched;
#: anything else goes through the column's caster, which converts it or rejects the row.
_ALREADY_CAST = {
    "int": "type(v) is int",
    "datetime": "type(v) is datetime and v.tzinfo is None",
    "date": "type(v) is date",
    "bytes": "type(v) is bytes",
}


def _already_cast(target: TargetColumn, ctx: _Ctx) -> str | None:
    """An inline test for values the caster would return unchanged, or None."""
    if target.kind in ("str", "text"):
        # Only when the length is counted in characters and the character set refuses nothing.
        if ctx.text_length is not len or ctx.unsupported_text(_OUTSIDE_BMP, target.charset):
            return None
        return "type(v) is str" + (f" and len(v) <= {int(target.length)}" if target.length is not None else "")
    return _ALREADY_CAST.get(target.kind)


def compile_row_function(columns: Sequence[ColumnPlan], functions: Sequence[Callable[[Sequence[Any]], Any]],
                         ctx: _Ctx) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """One function that maps a whole row, written out for this mapping and compiled once.

    Calling a closure per column per row is most of the mapping's cost. Columns without steps are
    written out: for one that copies a value read (``from``, ``expr``) the generated code reads the
    value, checks for NULL and for a value that needs no cast inline, and calls the caster only
    otherwise; one whose origin does not look at the row (``const``, ``value``) is the same value
    for every row, computed once. Every other column calls its column function, ``functions[j]``.
    Same results as calling ``functions`` one by one (``RowMapper._explain`` does that to say why
    a row failed).
    """
    lines = ["def map_row(row):"]
    scope: dict[str, Any] = {"DataError": DataError, "datetime": datetime, "date": date}
    for j, (col, function) in enumerate(zip(columns, functions, strict=True)):
        inline = None if col.steps else _inline_column(j, col, function, ctx, scope)
        if inline is None:
            scope[f"f{j}"] = function
            inline = [f"    c{j} = f{j}(row)"]
        lines.extend(inline)
    lines.append("    return (" + "".join(f"c{j}, " for j in range(len(columns))) + ")")
    exec(compile("\n".join(lines), "<syncd mapping>", "exec"), scope)  # noqa: S102 - our own generated code
    return scope["map_row"]


def _inline_column(j: int, col: ColumnPlan, function: Callable[[Sequence[Any]], Any], ctx: _Ctx,
                   scope: dict[str, Any]) -> list[str] | None:
    """The generated lines that give column ``j`` its value in ``c{j}``, or None to call its function."""
    if col.row_free:
        try:
            scope[f"k{j}"] = function(())
        except DataError:
            return None    # every row is a reject: the function says why, row by row
        return [f"    c{j} = k{j}"]
    if col.read is None:
        return None
    scope[f"cast{j}"], scope[f"null{j}"] = col.cast, col.null_reason
    guard = _already_cast(col.target, ctx)
    lines = [f"    v = row[{col.read}]"]
    if col.required:
        lines.append(f"    if v is None: raise DataError(None, null{j})")
        lines.append(f"    if not ({guard}): v = cast{j}(v)" if guard else f"    v = cast{j}(v)")
    else:
        lines.append(f"    if v is not None and not ({guard}): v = cast{j}(v)" if guard else
                     f"    if v is not None: v = cast{j}(v)")
    lines.append(f"    c{j} = v")
    return lines


def _required(spec: ColumnSpec, target: TargetColumn) -> tuple[bool, str]:
    """Whether a NULL rejects the row, and the reason it gives."""
    return (spec.required or not target.nullable,
            "is NULL but the column is required" + ("" if spec.required else " (NOT NULL in the target)"))


class RowMapper:
    """Maps rows read with ``layout`` into tuples for the target columns, in ``columns`` order."""

    def __init__(self, mapping: TableMapping, lay: Layout, targets: Mapping[str, TargetColumn],
                 codes: Mapping[str, CodeList], *, now: datetime, run_id: str, tz: tzinfo,
                 text_length: Callable[[str], int] = len,
                 unsupported_text: Callable[[str, str | None], str | None] = lambda v, c: None):
        ctx = _Ctx(now=now, run_id=run_id, tz=tz, text_length=text_length, unsupported_text=unsupported_text)
        self.mapping = mapping
        self.layout = lay
        self.columns: tuple[str, ...] = tuple(mapping.columns)
        self.kinds: tuple[str, ...] = tuple(targets[c].kind for c in self.columns)
        self.update_columns: tuple[str, ...] = tuple(
            c for c, spec in mapping.columns.items() if spec.update and c not in mapping.target.key)
        plans = [ColumnPlan.build(c, mapping.columns[c], lay, targets[c], codes, ctx) for c in self.columns]
        self._functions = [(plan.name, _column_function(plan)) for plan in plans]
        self._map_row = compile_row_function(plans, [fn for _, fn in self._functions], ctx)
        positions = {c: i for i, c in enumerate(self.columns)}
        self._rules = [_rule_function(r, positions) for r in mapping.spec.rules]
        self._target_key = [positions[k] for k in mapping.target.key]
        # When the target key is a plain copy of the whole source key, source rows (unique by
        # their key) cannot collide in the target: no need to look for duplicates.
        copied = {spec.from_ for spec in (mapping.columns[k] for k in mapping.target.key)
                  if spec.from_ is not None and not steps_of(spec)}
        self._unique_target_key = len(copied) == len(mapping.target.key) and set(mapping.source.key) <= copied

    def source_row(self, row: Sequence[Any]) -> dict[str, Any]:
        return dict(zip(self.layout.names, row, strict=False))

    def map_batch(self, rows: Sequence[Sequence[Any]]) -> MappedBatch:
        map_row = self._map_row
        rules = self._rules
        key_index = self.layout.key
        mapped_rows: list[tuple[Any, ...]] = []
        keys: list[tuple[Any, ...]] = []
        sources: list[Sequence[Any]] = []
        rejects: list[Reject] = []
        for row in rows:
            try:
                values = map_row(row)
                for rule in rules:
                    if rule(values):
                        raise DataError(None, "rule")
            except DataError:
                rejects.append(self._explain(row))
                continue
            mapped_rows.append(values)
            keys.append(tuple([row[i] for i in key_index]))
            sources.append(row)
        superseded: tuple[tuple[Any, ...], ...] = ()
        if not self._unique_target_key:
            every_key = keys
            mapped_rows, keys, sources = self._last_per_target_key(mapped_rows, keys, sources)
            if len(keys) != len(every_key):
                kept = set(keys)
                superseded = tuple(k for k in every_key if k not in kept)
        return MappedBatch(mapped_rows, keys, rejects, sources, superseded)

    def _explain(self, row: Sequence[Any]) -> Reject:
        """The reject for a row that failed: which column or rule, and why (the slow path)."""
        key = tuple(row[i] for i in self.layout.key)
        values = []
        for name, fn in self._functions:
            try:
                values.append(fn(row))
            except DataError as exc:
                return Reject(key, name, f"{name}: {exc.reason}", self.source_row(row))
        for rule in self._rules:
            reason = rule(values)
            if reason:
                return Reject(key, None, reason, self.source_row(row))
        raise AssertionError("a row that failed to map maps on a second try")

    def _last_per_target_key(self, rows: list[tuple[Any, ...]], keys: list[tuple[Any, ...]],
                             sources: list[Sequence[Any]]) -> tuple[list[Any], list[Any], list[Any]]:
        # Two source rows that derive the same target row: the later one wins, as it would in the target.
        last: dict[tuple[Any, ...], int] = {}
        for i, values in enumerate(rows):
            target_key = tuple([values[j] for j in self._target_key])
            last.pop(target_key, None)
            last[target_key] = i
        order = list(last.values())
        return [rows[i] for i in order], [keys[i] for i in order], [sources[i] for i in order]

    def target_key(self, mapped: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(mapped[i] for i in self._target_key)
