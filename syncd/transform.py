"""One batch of source rows -> target rows. Pure: takes values (the run's ``now`` included).

For each target column the value goes through the same steps in the same order:
origin (from / expr / const / value / uuid5) -> pattern -> map -> default -> format -> cast to
the target column's type -> required. Then the mapping's rules run on the finished row.
A step that cannot produce a value the target accepts raises ``DataError``: the row becomes a
reject with the reason, the rest of the batch goes on.
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

Kind = Literal["str", "text", "int", "decimal", "float", "datetime", "date", "time", "bytes", "bool", "other"]

#: a character no 3-byte character set holds: asks the dialect once whether a column needs checking
_OUTSIDE_BMP = "\U0001F600"

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


def make_caster(col: TargetColumn, ctx: _Ctx) -> Callable[[Any], Any]:
    """A function that turns a mapped value into what the target column holds, or raises DataError."""
    kind = col.kind

    def naive(moment: datetime) -> datetime:
        return moment.astimezone(ctx.tz).replace(tzinfo=None) if moment.tzinfo is not None else moment

    if kind in ("str", "text"):
        length, charset = col.length, col.charset
        measure = ctx.text_length
        check_charset = ctx.unsupported_text if ctx.unsupported_text(_OUTSIDE_BMP, charset) else None

        def cast_text(v: Any) -> Any:
            if not isinstance(v, str):
                if isinstance(v, (bytes, bytearray, memoryview)):
                    raise DataError(None, "binary value cannot go into a text column")
                if isinstance(v, datetime):
                    v = naive(v).isoformat(sep=" ")
                elif isinstance(v, (date, time)):
                    v = v.isoformat()
                elif isinstance(v, bool):
                    v = "1" if v else "0"
                elif isinstance(v, float) and v.is_integer():
                    v = str(int(v))
                else:
                    v = str(v)
            if length is not None and measure(v) > length:
                raise DataError(None, f"text of {measure(v)} characters is longer than the column's {length}")
            if check_charset is not None:
                problem = check_charset(v, charset)
                if problem:
                    raise DataError(None, problem)
            return v
        return cast_text
    if kind == "int":
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
            if number != number.to_integral_value():
                raise DataError(None, f"{v!r} is not a whole number")
            return int(number)
        return cast_int
    if kind == "decimal":
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
    if kind == "float":
        def cast_float(v: Any) -> Any:
            try:
                return float(v)
            except (ValueError, TypeError):
                raise DataError(None, f"{v!r} is not a number") from None
        return cast_float
    if kind == "datetime":
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
    if kind == "date":
        def cast_date(v: Any) -> Any:
            if isinstance(v, datetime):
                return naive(v).date()
            if isinstance(v, date):
                return v
            if isinstance(v, str):
                return _parse_moment(v).date()
            raise DataError(None, f"{v!r} is not a date")
        return cast_date
    if kind == "time":
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
    if kind == "bytes":
        def cast_bytes(v: Any) -> Any:
            if isinstance(v, bytes):
                return v
            if isinstance(v, (bytearray, memoryview)):
                return bytes(v)
            raise DataError(None, f"a {type(v).__name__} value cannot go into a binary column")
        return cast_bytes
    if kind == "bool":
        def cast_bool(v: Any) -> Any:
            if isinstance(v, bool):
                return v
            text = str(v).strip().lower()
            if text in ("1", "true", "t", "y", "yes", "是"):
                return True
            if text in ("0", "false", "f", "n", "no", "否"):
                return False
            raise DataError(None, f"{v!r} is not true or false")
        return cast_bool
    return lambda v: v


def _origin(name: str, spec: ColumnSpec, lay: Layout, ctx: _Ctx, target: TargetColumn) -> Callable[[Sequence[Any]], Any]:
    if spec.from_ is not None:
        index = lay.index(spec.from_)
        return lambda row: row[index]
    if spec.expr is not None:
        index = lay.index(EXPR_PREFIX + name)
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


def _code_map(spec: ColumnSpec, codes: Mapping[str, CodeList]) -> Callable[[Any], Any]:
    table = codes[spec.map].lookup() if isinstance(spec.map, str) else \
        {str(k).strip(): v for k, v in (spec.map or {}).items()}
    unknown = spec.unknown
    label = spec.map if isinstance(spec.map, str) else "the inline map"

    def lookup(v: Any) -> Any:
        if v is None:
            return None
        text = (v if isinstance(v, str) else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))).strip()
        if text in table:
            return table[text]
        if unknown == "reject":
            raise DataError(None, f"{v!r} is not in code list {label}; add it (as a code or alias) "
                                  f"to the code list, or set 'unknown:' on the column")
        if unknown == "keep":
            return v
        return unknown
    return lookup


def _column_function(name: str, spec: ColumnSpec, lay: Layout, target: TargetColumn,
                     codes: Mapping[str, CodeList], ctx: _Ctx) -> Callable[[Sequence[Any]], Any]:
    origin = _origin(name, spec, lay, ctx, target)
    steps: list[Callable[[Any], Any]] = []
    if spec.pattern is not None:
        regex = re.compile(spec.pattern)

        def extract(v: Any) -> Any:
            if v is None:
                return None
            match = regex.search(str(v))
            if match is None:
                return None
            return match.group(1) if regex.groups else match.group(0)
        steps.append(extract)
    if spec.map is not None:
        steps.append(_code_map(spec, codes))
    if spec.default is not None:
        default = spec.default
        steps.append(lambda v: default if v is None else v)
    if spec.format is not None:
        layout_ = spec.format

        def render(v: Any) -> Any:
            if v is None:
                return None
            moment = _parse_moment(v) if isinstance(v, str) else v
            if not isinstance(moment, (date, time)):
                raise DataError(None, f"{v!r} is not a date/time to format")
            if isinstance(moment, datetime) and moment.tzinfo is not None:
                moment = moment.astimezone(ctx.tz)
            return moment.strftime(layout_)
        steps.append(render)
    cast = make_caster(target, ctx)
    required, null_reason = _required(spec, target)

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


def _test(value: Any, test: Any) -> bool:
    """One condition of a rule: ``test`` is a scalar (equals) or {in|not_in|not|gt|ge|lt|le: ...}."""
    if not isinstance(test, dict):
        return value is not None and str(value) == str(test)
    for op, arg in test.items():
        if op == "in" and not (value is not None and str(value) in {str(a) for a in arg}):
            return False
        if op == "not_in" and value is not None and str(value) in {str(a) for a in arg}:
            return False
        if op == "not" and value is not None and str(value) == str(arg):
            return False
        if op in ("gt", "ge", "lt", "le"):
            if value is None:
                return False
            try:
                a, b = Decimal(str(value)), Decimal(str(arg))
            except InvalidOperation:
                return False
            if not {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]:
                return False
    return True


def _rule_function(rule: RuleSpec, positions: Mapping[str, int]) -> Callable[[Sequence[Any]], str | None]:
    when = [(positions[c], t) for c, t in (rule.when or {}).items()]
    check = [(positions[c], t) for c, t in (rule.check or {}).items()]
    require = [(c, positions[c]) for c in rule.require]

    def describe() -> str:
        parts = []
        if rule.when:
            parts.append("when " + ", ".join(f"{c} {t}" for c, t in rule.when.items()))
        if rule.require:
            parts.append("requires " + ", ".join(rule.require))
        if rule.check:
            parts.append("needs " + ", ".join(f"{c} {t}" for c, t in rule.check.items()))
        return "; ".join(parts)
    text = rule.message or describe()

    def apply(out: Sequence[Any]) -> str | None:
        if not all(_test(out[i], t) for i, t in when):
            return None
        missing = [c for c, i in require if out[i] is None or out[i] == ""]
        if missing:
            return f"rule: {text} (missing: {', '.join(missing)})"
        if not all(_test(out[i], t) for i, t in check):
            return f"rule: {text}"
        return None
    return apply


def _plain_copy(spec: ColumnSpec) -> bool:
    return spec.from_ is not None and _plain_steps(spec)


#: Values of a kind that already are what the target column holds pass these tests untouched;
#: anything else goes through the column's caster, which converts it or rejects the row.
_ALREADY_CAST = {
    "int": "type(v) is int",
    "datetime": "type(v) is datetime and v.tzinfo is None",
    "date": "type(v) is date",
    "bytes": "type(v) is bytes",
}


def compile_row_function(names: Sequence[str], specs: Mapping[str, ColumnSpec], lay: Layout,
                         targets: Mapping[str, TargetColumn], functions: Sequence[Callable[[Sequence[Any]], Any]],
                         ctx: _Ctx) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """One function that maps a whole row, written out for this mapping and compiled once.

    Calling a closure per column per row is most of the mapping's cost; for columns copied from
    the source (no pattern, map, default or format) the generated code reads the value, checks
    for NULL and for a value that needs no cast inline, and calls the caster only otherwise. Every
    other column calls its column function. Same results as calling ``functions`` one by one
    (``RowMapper._explain`` does that to say why a row failed).
    """
    lines = ["def map_row(row):"]
    scope: dict[str, Any] = {"DataError": DataError, "datetime": datetime, "date": date}
    for j, name in enumerate(names):
        spec, target = specs[name], targets[name]
        copied = (spec.from_ is not None or spec.expr is not None) and _plain_steps(spec)
        if not copied:
            scope[f"f{j}"] = functions[j]
            lines.append(f"    c{j} = f{j}(row)")
            continue
        index = lay.index(spec.from_ if spec.from_ is not None else EXPR_PREFIX + name)
        scope[f"cast{j}"] = make_caster(target, ctx)
        guard = _ALREADY_CAST.get(target.kind)
        if target.kind in ("str", "text") and ctx.text_length is len and \
                not ctx.unsupported_text(_OUTSIDE_BMP, target.charset):
            guard = "type(v) is str" + (f" and len(v) <= {int(target.length)}" if target.length is not None else "")
        lines.append(f"    v = row[{index}]")
        required, scope[f"null{j}"] = _required(spec, target)
        if required:
            lines.append(f"    if v is None: raise DataError(None, null{j})")
            lines.append(f"    if not ({guard}): v = cast{j}(v)" if guard else f"    v = cast{j}(v)")
        else:
            lines.append(f"    if v is not None and not ({guard}): v = cast{j}(v)" if guard else
                         f"    if v is not None: v = cast{j}(v)")
        lines.append(f"    c{j} = v")
    lines.append("    return (" + "".join(f"c{j}, " for j in range(len(names))) + ")")
    exec(compile("\n".join(lines), "<syncd mapping>", "exec"), scope)  # noqa: S102 - our own generated code
    return scope["map_row"]


def _required(spec: ColumnSpec, target: TargetColumn) -> tuple[bool, str]:
    """Whether a NULL rejects the row, and the reason it gives."""
    return (spec.required or not target.nullable,
            "is NULL but the column is required" + ("" if spec.required else " (NOT NULL in the target)"))


def _plain_steps(spec: ColumnSpec) -> bool:
    return spec.pattern is None and spec.map is None and spec.default is None and spec.format is None


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
        self._functions = [(c, _column_function(c, mapping.columns[c], lay, targets[c], codes, ctx))
                           for c in self.columns]
        self._map_row = compile_row_function(self.columns, mapping.columns, lay, targets,
                                             [fn for _, fn in self._functions], ctx)
        positions = {c: i for i, c in enumerate(self.columns)}
        self._rules = [_rule_function(r, positions) for r in mapping.spec.rules]
        self._target_key = [positions[k] for k in mapping.target.key]
        # When the target key is a plain copy of the whole source key, source rows (unique by
        # their key) cannot collide in the target: no need to look for duplicates.
        copied = {mapping.columns[k].from_ for k in mapping.target.key
                  if _plain_copy(mapping.columns[k])}
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
        if not self._unique_target_key:
            mapped_rows, keys, sources = self._last_per_target_key(mapped_rows, keys, sources)
        return MappedBatch(mapped_rows, keys, rejects, sources)

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
