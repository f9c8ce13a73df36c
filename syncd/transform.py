"""One batch of source rows -> target rows. Pure: takes values (the run's ``now`` included).

Owns what a column spec means. Each target column's value comes from its origin (from / expr /
const / value / uuid5), goes through the optional steps its spec asks for, in the order of
``STEPS``, then a NULL is rejected if the column is required and anything else is cast to the
target column's type (``make_caster``, one function per kind). Then the mapping's rules
(``syncd.rules``) run on the finished row. A step that cannot produce a value the target accepts
raises ``DataError``: the row becomes a reject with the reason, the rest of the batch goes on.

The cast never narrows a value silently: a time of day that a DATE column would drop, decimal
places a column would round away, a whole number outside the column's range and text longer
than the column are rejects, unless the column says what to do (``cast: date``, ``round: N``,
``on_overflow: truncate``). Truncations are counted (``RowMapper.truncations``).

Each column is described once (``ColumnPlan``); the per-column functions and the compiled row
function of the fast path are both derived from it.
"""

from __future__ import annotations

import codecs
import functools
import json
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from math import isfinite
from typing import Any, Literal

import sqlalchemy as sa

from syncd.dialects.base import KeyForm
from syncd.errors import MAX_REASON, DataError, cut_reason
from syncd.i18n import N_
from syncd.mapping import CodeList, ColumnSpec, RuleSpec, TableMapping
from syncd.plan import EXPR_PREFIX, Layout

#: what a target column holds, as far as casting a value goes (``column_kind``)
Kind = Literal["str", "text", "int", "decimal", "float", "datetime", "date", "time", "bytes", "bool",
               "other"]

#: a character no 3-byte or legacy character set holds, and a NUL: asks the dialect once whether a
#: column's text needs checking at all
_OUTSIDE_BMP = "\U0001F600\x00"
#: one of each kind of character a character set may lack: outside the BMP, CJK, accented Latin,
#: a combining mark, a control character (not NUL)
_ANY_BUT_NUL = "\U0001F600\U00020BB7\u4e2d\u00e9\u00df\u0301\u20ac\x01\x7f"

#: uuid5 namespace of syncd's derived ids; a mapping's ``namespace: word`` derives a sub-namespace.
NAMESPACE = uuid.UUID("6f1c2d0e-6a52-5b8e-9d7c-3a1f0b6e2d41")


#: the most digits a whole-number column of any database holds (PostgreSQL's NUMERIC(1000, 0)); a
#: value with more is out of range without being turned into a Python int, which for a text such
#: as "1e400000000" would take hours
MAX_INTEGER_DIGITS = 1000


@dataclass(frozen=True)
class TargetColumn:
    name: str
    kind: Kind
    nullable: bool = True
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    charset: str | None = None
    #: a whole-number column's range (INT: -2147483648..2147483647); None: unknown. NUMBER(p, 0)
    #: needs none: its precision says it.
    minimum: int | None = None
    maximum: int | None = None
    #: how ``length`` is counted: ``char``, ``byte`` (in the column's ``charset``: Oracle's
    #: VARCHAR2(n BYTE)), or None: as the dialect counts (``Dialect.text_length``)
    length_unit: Literal["char", "byte"] | None = None
    #: a JSON column (json, jsonb): a list goes into it as JSON text, not as an array
    json: bool = False

    def integer_range(self) -> tuple[int, int] | None:
        """The whole numbers this column holds, when known."""
        if self.minimum is not None and self.maximum is not None:
            return self.minimum, self.maximum
        if self.kind == "int" and self.precision is not None:
            largest = 10 ** self.precision - 1
            return -largest, largest
        return None


_INTEGER_BITS = {"TINYINT": 8, "MEDIUMINT": 24}


def integer_range(sa_type: sa.types.TypeEngine[Any], *, wide: bool = False) -> tuple[int, int] | None:
    """The range of a reflected whole-number type: SMALLINT, INTEGER, BIGINT (MySQL's TINYINT and
    MEDIUMINT, UNSIGNED too), NUMBER(p, 0) / NUMERIC(p, 0). ``wide``: the database stores every
    integer type in 64 bits (SQLite). None for other types."""
    if isinstance(sa_type, sa.Numeric) and not isinstance(sa_type, sa.Float):
        # DECIMAL(p, 0), NUMBER(p, 0); Oracle's NUMBER is a Numeric and an Integer at once, and
        # without a precision it holds 38 digits: no range to check then.
        if sa_type.scale == 0 and sa_type.precision is not None:
            largest = 10 ** sa_type.precision - 1
            return -largest, largest
        return None
    if isinstance(sa_type, sa.Integer) and not isinstance(sa_type, sa.Boolean):
        if wide or isinstance(sa_type, sa.BigInteger):
            bits = 64
        elif isinstance(sa_type, sa.SmallInteger):
            bits = 16
        else:
            bits = _INTEGER_BITS.get(type(sa_type).__name__.upper(), 32)
        if getattr(sa_type, "unsigned", False) and not wide:
            return 0, 2 ** bits - 1
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return None


def target_column(name: str, sa_type: sa.types.TypeEngine[Any], *, nullable: bool = True,
                  charset: str | None = None, wide_integers: bool = False,
                  length_unit: Literal["char", "byte"] | None = None) -> TargetColumn:
    """A reflected target column, described for the casts: its kind, length, precision, scale,
    character set and, for whole numbers, its range."""
    kind, length, precision, scale = column_kind(sa_type)
    bounds = integer_range(sa_type, wide=wide_integers) if kind == "int" else None
    return TargetColumn(name, kind, nullable, length, precision, scale, charset,
                        bounds[0] if bounds else None, bounds[1] if bounds else None, length_unit,
                        json=isinstance(sa_type, sa.JSON))


def target_columns(reflected: Sequence[Mapping[str, Any]], charsets: Mapping[str, str],
                   length_units: Mapping[str, str], *, wide_integers: bool = False,
                   reflected_type: Callable[[Any], Any] | None = None) -> dict[str, TargetColumn]:
    """A target table's columns as ``sa.inspect(...).get_columns`` reflects them, described for the
    casts with what the dialect tells besides: each text column's character set and how its length
    counts (``char`` or ``byte``), whether every integer is 64 bits, and what a reflected type really
    holds (``Dialect.reflected_type``: Oracle's INTEGER is NUMBER(38,0))."""
    described = {}
    for col in reflected:
        name = col["name"]
        unit = length_units.get(name)
        sa_type = reflected_type(col["type"]) if reflected_type else col["type"]
        described[name] = target_column(name, sa_type, nullable=bool(col.get("nullable", True)),
                                        charset=charsets.get(name), wide_integers=wide_integers,
                                        length_unit="byte" if unit == "byte" else "char" if unit == "char" else None)
    return described


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

    def __post_init__(self) -> None:
        # A reason quotes the value it is about, which can be a megabyte: stored and shown cut.
        if len(self.reason) > MAX_REASON:
            object.__setattr__(self, "reason", cut_reason(self.reason))


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
                 text_length: Callable[[str], int], unsupported_text: Callable[[str, str | None], str | None],
                 datetime_texts: dict[datetime, str] | None = None, nonfinite_floats: bool = True):
        self.now, self.run_id, self.tz = now, run_id, tz
        self.text_length, self.unsupported_text = text_length, unsupported_text
        #: the target's ``Dialect.holds_nonfinite_floats``: whether a float column takes NaN and infinity
        self.nonfinite_floats = nonfinite_floats
        #: the target's ``Dialect.datetime_texts``: ISO text read into a DATETIME column, by value
        self.datetime_texts = datetime_texts
        #: the columns of the values cut to fit (``on_overflow: truncate``), one entry per value
        self.cuts: list[str] = []


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
    raise DataError(None, N_("{value!r} is not a date/time this column can hold").format(value=value))


def _naive_in(tz: tzinfo) -> Callable[[datetime], datetime]:
    """Aware moments -> the run's timezone without tzinfo; naive ones are already local."""
    def naive(moment: datetime) -> datetime:
        if moment.tzinfo is None:
            return moment
        return _in_zone(moment, tz).replace(tzinfo=None)
    return naive


def _in_zone(moment: datetime, tz: tzinfo) -> datetime:
    """``moment`` in ``tz``; a moment that falls outside the years 1..9999 there is a reject."""
    try:
        return moment.astimezone(tz)
    except (OverflowError, ValueError):
        raise DataError(None, N_("{isoformat} is not a date/time this column can hold: in {tz} it falls outside the "
                                 "years 1 to 9999").format(isoformat=moment.isoformat(), tz=tz)) from None


def _as_text(v: Any, naive: Callable[[datetime], datetime]) -> str:
    """A value that is not ``str`` as the text a text column stores."""
    if isinstance(v, (bytes, bytearray, memoryview)):
        raise DataError(None, N_("binary value cannot go into a text column"))
    if isinstance(v, datetime):
        return naive(v).isoformat(sep=" ")
    if isinstance(v, (date, time)):
        return v.isoformat()
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)):     # JSON read as an object or a list: its JSON text
        return json_text(v)
    return str(v)


Caster = Callable[[Any], Any]


#: character sets as databases name them -> Python's codec (for byte-length columns)
_ENCODINGS = {"utf8": "utf-8", "utf8mb3": "utf-8", "utf8mb4": "utf-8", "al32utf8": "utf-8", "latin1": "cp1252",
              "we8mswin1252": "cp1252", "we8iso8859p1": "latin-1", "zhs16gbk": "gbk", "zhs32gb18030": "gb18030",
              "us7ascii": "ascii", "al16utf16": "utf-16-be", "ucs2": "utf-16-be", "utf16": "utf-16-be"}


def _encoding(charset: str | None) -> str:
    name = (charset or "utf8").lower()
    if name in _ENCODINGS:
        return _ENCODINGS[name]
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"


def text_measure(col: TargetColumn, text_length: Callable[[str], int]) -> Callable[[str], int]:
    """How the column's length counts a text: ``len`` (characters), bytes in the column's character
    set (``length_unit: byte``), or as the dialect counts (``text_length``)."""
    if col.length_unit == "char":
        return len
    if col.length_unit == "byte":
        encoding = _encoding(col.charset)
        return lambda v: len(v.encode(encoding, "replace"))
    return text_length


def _joins_previous(ch: str) -> bool:
    """A character that belongs to the one before it: a combining mark, a variation selector,
    a zero-width joiner, an emoji skin tone."""
    return bool(unicodedata.combining(ch)) or ch in "\u200d\ufe0e\ufe0f" or "\U0001F3FB" <= ch <= "\U0001F3FF"


def truncate_text(text: str, length: int, measure: Callable[[str], int] = len) -> str:
    """The longest start of ``text`` that ``measure`` finds no longer than ``length``, cut between
    characters: never inside one (nor between a letter and its accent, or an emoji's parts)."""
    if measure is len:
        cut = min(len(text), length)
    else:
        low, high = 0, len(text)             # the longest prefix that fits: measures grow with the prefix
        while low < high:
            middle = (low + high + 1) // 2
            if measure(text[:middle]) <= length:
                low = middle
            else:
                high = middle - 1
        cut = low
    while 0 < cut < len(text) and (_joins_previous(text[cut]) or text[cut - 1] == "\u200d"):
        cut -= 1
    return text[:cut]


def _text_caster(col: TargetColumn, ctx: _Ctx, truncate: str | None = None) -> Caster:
    length, charset = col.length, col.charset
    measure, naive = text_measure(col, ctx.text_length), _naive_in(ctx.tz)
    unit = "characters" if measure is len else "bytes"
    # Ask the dialect once whether this column's character set can refuse anything.
    check_charset = ctx.unsupported_text if ctx.unsupported_text(_OUTSIDE_BMP, charset) else None
    cut_noted = ctx.cuts.append

    def cast_text(v: Any) -> Any:
        if not isinstance(v, str):
            try:
                v = _as_text(v, naive)
            except ValueError:        # an integer of more digits than Python writes out
                raise DataError(None, N_("the number has too many digits to be written as text")) from None
        if length is not None and measure(v) > length:
            if truncate is None:
                raise DataError(None, N_("text of {measure} {unit} is longer than the column's {length}; to cut such "
                                         "text to fit, set "
                                         "on_overflow: truncate on the column")
                                      .format(measure=measure(v), unit=unit, length=length))
            v = truncate_text(v, length, measure)
            cut_noted(truncate)
        if check_charset is not None:
            problem = check_charset(v, charset)
            if problem:
                raise DataError(None, problem)
        return v
    return cast_text


def _int_caster(col: TargetColumn, ctx: _Ctx, truncate: str | None = None) -> Caster:
    bounds = col.integer_range()
    low, high = bounds if bounds is not None else (None, None)
    # More digits than the largest value the column holds: out of range before any int() is made.
    most_digits = MAX_INTEGER_DIGITS if bounds is None else len(str(max(-bounds[0], bounds[1])))
    out_of_range = (N_("out of range: the column holds whole numbers from {low} to {high}").format(low=low, high=high)
                    if bounds is not None else
                    N_("out of range: the column holds whole numbers of at most {digits} digits").format(
                        digits=MAX_INTEGER_DIGITS))

    def in_range(number: int) -> int:
        if low is not None and high is not None and not low <= number <= high:
            raise DataError(None, N_("{number} is {out_of_range}").format(number=number, out_of_range=out_of_range))
        return number

    def cast_int(v: Any) -> Any:
        if type(v) is int:
            return v if low is None else in_range(v)
        if isinstance(v, bool):
            return int(v) if low is None else in_range(int(v))
        if isinstance(v, int):
            return v if low is None else in_range(int(v))
        try:
            number = Decimal(v.strip()) if isinstance(v, str) else Decimal(str(v))
        except (InvalidOperation, ValueError, TypeError):
            raise DataError(None, N_("{v!r} is not a whole number").format(v=v)) from None
        # Infinity and NaN are no whole numbers either (and int() of them would raise).
        if not number.is_finite():
            raise DataError(None, N_("{v!r} is not a whole number").format(v=v))
        if number.adjusted() >= most_digits and number:
            raise DataError(None, N_("{v!r} is {out_of_range}").format(v=v, out_of_range=out_of_range))
        if number != number.to_integral_value():
            raise DataError(None, N_("{v!r} is not a whole number; to round it, set round: 0 on the "
                                     "column").format(v=v))
        return int(number) if low is None else in_range(int(number))
    return cast_int


def decimal_places(number: Decimal) -> int:
    """How many decimal places a finite number needs (``1.50`` needs 1, ``12`` and ``0.000`` none)."""
    _sign, digits, exponent = number.as_tuple()
    if not isinstance(exponent, int) or exponent >= 0 or not any(digits):
        return 0
    zeros = 0
    while zeros < -exponent and digits[-1 - zeros] == 0:
        zeros += 1
    return -exponent - zeros


def _decimal_caster(col: TargetColumn, ctx: _Ctx, truncate: str | None = None) -> Caster:
    digits = None if col.precision is None else col.precision - (col.scale or 0)
    scale = col.scale
    # A value with exactly the column's decimal places fits as it is (the usual case: a DECIMAL
    # read from a DECIMAL of the same scale); anything else is looked at more closely.
    quantum = Decimal(1).scaleb(-scale) if scale is not None else None

    def cast_decimal(v: Any) -> Any:
        if type(v) is Decimal and (v.same_quantum(quantum) if quantum is not None else v.is_finite()) and \
                (digits is None or v.adjusted() < digits):
            return v
        try:
            number = v if isinstance(v, Decimal) else Decimal(v.strip() if isinstance(v, str) else str(v))
        except (InvalidOperation, ValueError, TypeError):
            raise DataError(None, N_("{v!r} is not a number").format(v=v)) from None
        if not number.is_finite():
            raise DataError(None, N_("{v!r} is not a finite number").format(v=v))
        if digits is not None and number != 0 and number.adjusted() + 1 > digits:
            raise DataError(None, N_("{v} has more than {digits} digits before the "
                                     "decimal point").format(v=v, digits=digits))
        # written with the column's decimal places (a float or text read from SQLite): they fit
        if quantum is not None and scale is not None and not number.same_quantum(quantum) and \
                decimal_places(number) > scale:
            raise DataError(None, N_("{v} has more than {scale} digits after the decimal point, which the column "
                                     "would round away; to round it, set round: {scale} on "
                                     "the column").format(v=v, scale=scale))
        return number
    return cast_decimal


def _float_caster(col: TargetColumn, ctx: _Ctx, truncate: str | None = None) -> Caster:
    nonfinite = ctx.nonfinite_floats

    def cast_float(v: Any) -> Any:
        try:
            number = float(v)
        except (ValueError, TypeError):
            raise DataError(None, N_("{v!r} is not a number").format(v=v)) from None
        except OverflowError:
            raise DataError(None, N_("{v!r} is out of range of a floating-point column").format(v=v)) from None
        if not nonfinite and not isfinite(number):
            raise DataError(None, N_("{v!r} is not a finite number, and the target's floating-point columns hold "
                                     "no NaN or infinity").format(v=v))
        return number
    return cast_float


def _datetime_caster(col: TargetColumn, ctx: _Ctx, truncate: str | None = None) -> Caster:
    naive = _naive_in(ctx.tz)

    def cast_datetime(v: Any) -> Any:
        if type(v) is datetime and v.tzinfo is None:
            return v
        if type(v) is str:
            # ISO text as it stands (what SQLite returns) without the detour of _parse_moment
            try:
                moment = fromisoformat(v)
            except ValueError:
                return naive(_parse_moment(v))
            return moment if moment.tzinfo is None else naive(moment)
        if isinstance(v, datetime):
            return naive(v)
        if isinstance(v, date):
            return datetime(v.year, v.month, v.day)
        if isinstance(v, str):
            return naive(_parse_moment(v))
        raise DataError(None, N_("{v!r} is not a date/time").format(v=v))
    return cast_datetime


fromisoformat = datetime.fromisoformat


_MIDNIGHT = time()


def _date_of(moment: datetime, v: Any) -> date:
    """The day of a moment at midnight; a moment with a time of day is no date (the column would
    drop its time)."""
    if moment.time() != _MIDNIGHT:
        shown = v.isoformat(sep=" ") if isinstance(v, datetime) else repr(v)
        raise DataError(None, N_("{shown} is not a date: it has a time of day ({isoformat}), which a DATE column "
                                 "would drop; to drop it, "
                                 "set cast: date on the column")
                              .format(shown=shown, isoformat=moment.time().isoformat()))
    return moment.date()


def _date_caster(col: TargetColumn, ctx: _Ctx, truncate: str | None = None) -> Caster:
    naive = _naive_in(ctx.tz)

    def cast_date(v: Any) -> Any:
        if isinstance(v, datetime):
            moment = v if v.tzinfo is None else naive(v)
            if moment.time() == _MIDNIGHT:
                return moment.date()
            return _date_of(moment, v)
        if isinstance(v, date):
            return v
        if isinstance(v, str):
            return _date_of(_parse_moment(v), v)
        raise DataError(None, N_("{v!r} is not a date").format(v=v))
    return cast_date


def _time_caster(col: TargetColumn, ctx: _Ctx, truncate: str | None = None) -> Caster:
    def cast_time(v: Any) -> Any:
        if isinstance(v, time):
            return v
        if isinstance(v, datetime):
            return v.time()
        if isinstance(v, str):
            try:
                return time.fromisoformat(v.strip())
            except ValueError:
                raise DataError(None, N_("{v!r} is not a time of day").format(v=v)) from None
        raise DataError(None, N_("{v!r} is not a time of day").format(v=v))
    return cast_time


def _bytes_caster(col: TargetColumn, ctx: _Ctx, truncate: str | None = None) -> Caster:
    def cast_bytes(v: Any) -> Any:
        if isinstance(v, bytes):
            return v
        if isinstance(v, (bytearray, memoryview)):
            return bytes(v)
        raise DataError(None, N_("a {name} value cannot go into a binary column").format(name=type(v).__name__))
    return cast_bytes


_TRUE = frozenset(("1", "true", "t", "y", "yes", "是"))
_FALSE = frozenset(("0", "false", "f", "n", "no", "否"))


def _bool_caster(col: TargetColumn, ctx: _Ctx, truncate: str | None = None) -> Caster:
    def cast_bool(v: Any) -> Any:
        if isinstance(v, bool):
            return v
        text = str(v).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise DataError(None, N_("{v!r} is not true or false").format(v=v))
    return cast_bool


def _other_caster(col: TargetColumn, ctx: _Ctx, truncate: str | None = None) -> Caster:
    # A type syncd does not know (JSON, arrays, ...): the driver gets the value as it was read,
    # but for JSON read as an object or a list (PostgreSQL's json and jsonb), which no driver
    # sends as it is: its JSON text. A list into any other column (an array) stays a list.
    if col.json:
        return lambda v: json_text(v) if isinstance(v, (dict, list)) else v
    return lambda v: json_text(v) if isinstance(v, dict) else v


def json_text(v: dict[Any, Any] | list[Any]) -> str:
    """A JSON object or list read from the source as the JSON text a column stores: the same text
    for the same value every run (keys in the order read, characters as they are)."""
    return json.dumps(v, ensure_ascii=False, default=str)


#: how a value becomes what a column of each kind holds (``truncate``: the mapping's column whose
#: text may be cut to fit, and under whose name each cut is counted; None: too long rejects)
_CASTERS: dict[Kind, Callable[[TargetColumn, _Ctx, str | None], Caster]] = {
    "str": _text_caster, "text": _text_caster, "int": _int_caster, "decimal": _decimal_caster,
    "float": _float_caster, "datetime": _datetime_caster, "date": _date_caster, "time": _time_caster,
    "bytes": _bytes_caster, "bool": _bool_caster, "other": _other_caster,
}


def make_caster(col: TargetColumn, ctx: _Ctx, *, truncate: str | None = None) -> Caster:
    """A function that turns a mapped value into what the target column holds, or raises DataError.
    ``truncate``: the name of the mapping's column, when text too long for it is cut to fit
    (``on_overflow: truncate``) rather than rejected."""
    return _CASTERS[col.kind](col, ctx, truncate)


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


def latin1_bytes(text: str) -> bytes | None:
    """The bytes a latin1 column held for ``text`` as a driver read them: a character below U+0100
    is its own byte (ISO-8859-1, and MySQL's latin1 for the five bytes Windows-1252 leaves
    undefined), any other is its Windows-1252 byte (MySQL's latin1 is Windows-1252); None when a
    character is in neither, so that the text was never latin1 bytes."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("cp1252")
    except UnicodeEncodeError:
        pass
    out = bytearray()
    for ch in text:
        if ord(ch) < 0x100:
            out.append(ord(ch))
        else:
            try:
                out += ch.encode("cp1252")
            except UnicodeEncodeError:
                return None
    return bytes(out)


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# What Chinese text holds besides ASCII and ideographs: the signs of GBK's rows of them (A1-A3,
# A6, A9 and the symbols of A8): the tone marks (ˇ ˉ ˊ ˋ ˙), Greek letters (β), general punctuation
# (“”…—), letterlike symbols and number forms (℃ № Ⅳ), arrows, mathematical and technical signs
# (≥ ≠ ⌒), circled numbers (①), box drawing and shapes (■ ○ ★), CJK punctuation (、。《》),
# enclosed ideographs (㈠), units (㎡ ㎏), vertical, small and full-width forms, and the few latin1
# signs GB2312 has (° ± · × ÷ § ¤ ¨). Not kana, Cyrillic or pinyin letters.
_CHINESE_TEXT = re.compile(r"[\x00-\x7f\xa4\xa7\xa8\xb0\xb1\xb7\xd7\xf7\u02c7\u02c9-\u02cb\u02d9\u0391-\u03c9"
                           r"\u2010-\u205e\u2100-\u23ff\u2460-\u24ff\u2500-\u25ff\u2600-\u26ff\u3000-\u303f"
                           r"\u3200-\u33ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe6f\uff00-\uffef]*")


@functools.lru_cache(maxsize=8192)
def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


@functools.lru_cache(maxsize=8192)
def _gb2312_sign(ch: str) -> bool:
    """Whether ``ch`` is a sign of GB2312's own part of GBK: both its bytes A1-FE."""
    try:
        code = ch.encode("gbk")
    except UnicodeEncodeError:
        return False
    return len(code) == 2 and code[0] >= 0xA1 and code[1] >= 0xA1


def chinese_text(text: str) -> bool:
    """Whether ``text`` reads as Chinese: ASCII, ideographs and the punctuation and signs Chinese
    text uses, nothing else, and at least half of its ideographs among GB2312's common ones. Real
    latin1 text read as GBK fails: an accented letter and the ASCII letter after it make one rare
    ideograph outside GB2312 ('Müller' reads 'M黮ler', 'São' 'S鉶'). Text without an ideograph has
    none to judge by: its signs must be GB2312's (both bytes A1-FE), which no latin1 sign followed by
    an ASCII letter spells ('©Sony' reads '㏒ony': the sign A9 53 of GBK's extension)."""
    if not _CHINESE_TEXT.fullmatch(text):
        return False
    ideographs = _CJK.findall(text)
    if not ideographs:
        return all(ch.isascii() or _gb2312_sign(ch) for ch in text)
    return 2 * sum(map(_in_gb2312, ideographs)) >= len(ideographs)


def misread_text(text: str, codec: str = "gbk") -> str | None:
    """What ``text`` says when it is ``codec`` bytes that a latin1 column handed out as latin1: the
    repaired text when its latin1 bytes decode cleanly as ``codec`` into Chinese text
    (``chinese_text``) with Chinese characters; else None (ASCII, real latin1 text, text already right)."""
    raw = latin1_bytes(text)
    if raw is None or raw.isascii():
        return None
    try:
        repaired = raw.decode(codec)
    except UnicodeDecodeError:
        return None
    return repaired if _CJK.search(repaired) and chinese_text(repaired) else None


def _recode_step(spec: ColumnSpec, codes: Mapping[str, CodeList], ctx: _Ctx) -> StepFunction:
    codec = spec.recode or "gbk"

    def recode(v: Any) -> Any:
        if isinstance(v, str):
            raw = latin1_bytes(v)
            if raw is None:
                raise DataError(None, N_("{v!r} holds characters latin1 has not, so it is no {codec} text read as "
                                         "latin1; remove 'recode: {codec}' if the source "
                                         "column was converted").format(v=v, codec=codec))
        elif isinstance(v, (bytes, bytearray, memoryview)):
            raw = bytes(v)
        else:
            return v                  # NULL, numbers, dates: the same in every character set
        try:
            repaired = raw.decode(codec)
        except UnicodeDecodeError as exc:
            raise DataError(None, N_("{v!r} is no {codec} text: byte {byte} of it does not decode as {codec}; fix "
                                     "the value in the source").format(v=v, codec=codec, byte=exc.start + 1)) from None
        if not raw.isascii() and not chinese_text(repaired):
            raise DataError(None, N_("{v!r} is no {codec} text: read as {codec} it says {repaired!r}, which is not "
                                     "Chinese; it looks like real latin1 text: fix the value in the source, or remove "
                                     "'recode: {codec}' if the column holds such text").format(
                v=v, codec=codec, repaired=repaired))
        return repaired
    return recode


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
    return CodeLookup(table, spec.unknown, spec.map if isinstance(spec.map, str) else "the inline map")


class CodeLookup:
    """The ``map`` step: a value -> its code. The compiled row function reads ``table`` itself
    for text that is a key as it stands (the keys are trimmed), and calls the step for the rest."""

    __slots__ = ("label", "table", "unknown")

    def __init__(self, table: dict[str, Any], unknown: Any, label: str):
        self.table, self.unknown, self.label = table, unknown, label

    def __call__(self, v: Any) -> Any:
        if v is None:
            return None
        text = v if isinstance(v, str) else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
        text = text.strip()
        if text in self.table:
            return self.table[text]
        if self.unknown == "reject":
            raise DataError(None, N_("{v!r} is not in code list {label}; add it (as a code or alias) to the code "
                                     "list, or set 'unknown:' on the column").format(v=v, label=self.label))
        if self.unknown == "keep":
            return v
        return self.unknown


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
            raise DataError(None, N_("{v!r} is not a date/time to format").format(v=v))
        if isinstance(moment, datetime) and moment.tzinfo is not None:
            moment = _in_zone(moment, ctx.tz)
        return moment.strftime(layout_)
    return render


def _cast_step(spec: ColumnSpec, codes: Mapping[str, CodeList], ctx: _Ctx) -> StepFunction:
    """``cast: date``: a date/time (or its text) -> its day, the time of day dropped.
    ``cast: number``: text -> a number, spaces trimmed; empty text -> NULL."""
    if spec.cast == "number":
        return _to_number
    naive = _naive_in(ctx.tz)

    def to_date(v: Any) -> Any:
        if v is None or (isinstance(v, date) and not isinstance(v, datetime)):
            return v
        if isinstance(v, datetime):
            return naive(v).date()
        if isinstance(v, str):
            return naive(_parse_moment(v)).date()
        raise DataError(None, N_("{v!r} is not a date/time (cast: date)").format(v=v))
    return to_date


def _to_number(v: Any) -> Any:
    if v is None or (isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)):
        return v
    if isinstance(v, str):
        text = v.strip()
        if not text:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise DataError(None, N_("{v!r} is not a number (cast: number)").format(v=v)) from None
        if number.is_nan():
            raise DataError(None, N_("{v!r} is not a number (cast: number)").format(v=v))
        return number
    raise DataError(None, N_("{v!r} is not a number (cast: number)").format(v=v))


def _round_step(spec: ColumnSpec, codes: Mapping[str, CodeList], ctx: _Ctx) -> StepFunction:
    """``round: N``: a number (or its text) rounded half up to N decimal places, as a Decimal."""
    places = spec.round or 0
    quantum = Decimal(1).scaleb(-places)

    def round_half_up(v: Any) -> Any:
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float, Decimal, str)):
            raise DataError(None, N_("{v!r} is not a number to round").format(v=v))
        try:
            number = v if isinstance(v, Decimal) else Decimal(v.strip() if isinstance(v, str) else str(v))
        except (InvalidOperation, ValueError):
            raise DataError(None, N_("{v!r} is not a number to round").format(v=v)) from None
        if not number.is_finite():
            raise DataError(None, N_("{v!r} is not a finite number").format(v=v))
        if number and number.adjusted() >= MAX_INTEGER_DIGITS:
            raise DataError(None, N_("{v!r} is out of range: more "
                                     "than {max_integer_digits} digits")
                                  .format(v=v, max_integer_digits=MAX_INTEGER_DIGITS))
        context = Context(prec=max(28, number.adjusted() + places + 2), rounding=ROUND_HALF_UP)
        return number.quantize(quantum, context=context)
    return round_half_up


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
    Step("recode", lambda spec: spec.recode is not None, _recode_step),
    Step("pattern", lambda spec: spec.pattern is not None, _pattern_step),
    Step("map", lambda spec: spec.map is not None, _code_map),
    Step("cast", lambda spec: spec.cast is not None, _cast_step),
    Step("round", lambda spec: spec.round is not None, _round_step),
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
        truncate = name if spec.on_overflow == "truncate" and target.kind in ("str", "text") else None
        return cls(name, target, _read_index(name, spec, lay), spec.origin in ("const", "value"),
                   _origin(name, spec, lay, ctx, target),
                   tuple(step.build(spec, codes, ctx) for step in steps_of(spec)),
                   make_caster(target, ctx, truncate=truncate), required, null_reason)


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
    """The reason a mapped row breaks the rule, or None. The parts are checked in this order:
    ``require``, ``require_any``, ``check``, ``matches``; the first that fails is the reason."""
    when = rule.when.predicate(positions) if rule.when is not None else None
    check = rule.check.predicate(positions) if rule.check is not None else None
    matching = rule.matches.failing(positions) if rule.matches is not None and rule.matches.tests else None
    require = [(c, positions[c]) for c in rule.require]
    any_of = [positions[c] for c in rule.require_any]
    text = rule.message or rule.describe()

    def apply(out: Sequence[Any]) -> str | None:
        if when is not None and not when(out):
            return None
        missing = [c for c, i in require if out[i] is None or out[i] == ""]
        if missing:
            return f"rule: {text} (missing: {', '.join(missing)})"
        if any_of and all(out[i] is None or out[i] == "" for i in any_of):
            return f"rule: {text} (none of: {', '.join(rule.require_any)})"
        if check is not None and not check(out):
            return f"rule: {text}"
        if matching is not None:
            wrong = matching(out)
            if wrong:
                return f"rule: {text} (not matching: {', '.join(wrong)})"
        return None
    return apply


#: Values of a kind that already are what the target column holds pass these tests untouched;
#: anything else goes through the column's caster, which converts it or rejects the row.
_ALREADY_CAST = {
    "int": "type(v) is int",     # unless the column's range is known: then the caster checks it
    "datetime": "type(v) is datetime and v.tzinfo is None",
    "date": "type(v) is date",
    "bytes": "type(v) is bytes",
}


def _already_cast(target: TargetColumn, ctx: _Ctx, scope: dict[str, Any], j: int) -> str | None:
    """An inline test for values the caster would return unchanged, or None (constants it needs go
    into ``scope``, named after column ``j``)."""
    if target.kind in ("str", "text"):
        # Only when the length is counted in characters and the character set refuses nothing, or
        # nothing but NUL (PostgreSQL), which the test then looks for.
        if text_measure(target, ctx.text_length) is not len:
            return None
        test = "type(v) is str" + (f" and len(v) <= {int(target.length)}" if target.length is not None else "")
        if not ctx.unsupported_text(_OUTSIDE_BMP, target.charset):
            return test
        if ctx.unsupported_text("\x00", target.charset) and not ctx.unsupported_text(_ANY_BUT_NUL, target.charset):
            return test + ' and "\\x00" not in v'
        return None
    if target.kind == "int" and target.integer_range() is not None:
        low, high = target.integer_range() or (0, 0)
        return f"type(v) is int and {low} <= v <= {high}"
    if target.kind == "decimal" and target.scale is not None:
        # exactly the column's decimal places, and room for the digits before the point
        scope[f"q{j}"] = Decimal(1).scaleb(-target.scale)
        room = f" and v.adjusted() < {target.precision - target.scale}" if target.precision is not None else ""
        return f"type(v) is Decimal and v.same_quantum(q{j}){room}"
    return _ALREADY_CAST.get(target.kind)


def compile_row_function(columns: Sequence[ColumnPlan], functions: Sequence[Callable[[Sequence[Any]], Any]],
                         ctx: _Ctx) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """One function that maps a whole row, written out for this mapping and compiled once.

    Calling a closure per column per row is most of the mapping's cost. A column that copies a
    value read (``from``, ``expr``) is written out: the generated code reads the value, runs its
    steps (a ``map`` of text that is a key looked up inline, any other step called), checks for
    NULL and for a value that needs no cast inline (so are the casts the sources' usual values
    need: a whole number into a text column, a whole number or a short float into a DECIMAL, ISO
    text into a DATETIME), and calls the caster only otherwise. A column whose origin does not look at
    the row (``const``, ``value``) is the same value for every row, steps and cast included:
    computed once. Every other column calls its column function, ``functions[j]``. Same results
    as calling ``functions`` one by one (``RowMapper._explain`` does that to say why a row failed).
    """
    lines = ["def map_row(row):"]
    scope: dict[str, Any] = {"DataError": DataError, "datetime": datetime, "date": date, "Decimal": Decimal}
    for j, (col, function) in enumerate(zip(columns, functions, strict=True)):
        inline = _inline_column(j, col, function, ctx, scope)
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
        mark = len(ctx.cuts)
        try:
            scope[f"k{j}"] = function(())
        except DataError:
            return None    # every row is a reject: the function says why, row by row
        if len(ctx.cuts) > mark:
            del ctx.cuts[mark:]
            return None    # a constant cut to fit: cut (and counted) row by row
        return [f"    c{j} = k{j}"]
    if col.read is None:
        return None
    scope[f"cast{j}"], scope[f"null{j}"] = col.cast, col.null_reason
    lines = [f"    v = row[{col.read}]"]
    for n, step in enumerate(col.steps):
        scope[f"s{j}_{n}"] = step
        if isinstance(step, CodeLookup):
            scope[f"t{j}_{n}"] = step.table
            lines.append(f"    v = t{j}_{n}[v] if type(v) is str and v in t{j}_{n} else s{j}_{n}(v)")
        else:
            lines.append(f"    v = s{j}_{n}(v)")
    guard, cast = _already_cast(col.target, ctx, scope, j), f"cast{j}(v)"
    int_text = _int_as_text(col.target, ctx)
    if int_text is not None:
        cast = f"str(v) if type(v) is int and {int_text} else cast{j}(v)"
    number = _number_as_decimal(col.target)
    if number is not None:
        # A float's Decimal is remembered (repr and Decimal cost 0.3 µs, a look-up 0.03): the
        # values of a DECIMAL column repeat (scores, amounts, areas). Not a zero's: a zero
        # Decimal is false, and its sign would be lost (0.0 == -0.0 as keys). At most FLOAT_MEMO
        # floats a column, then afresh.
        scope[f"m{j}"] = {}
        exec(compile(f"def d{j}(v):\n"  # noqa: S102 - our own generated code
                     f"    if {number[1]}:\n"
                     "        d = Decimal(t)\n"
                     "        if v:\n"
                     f"            if len(m{j}) >= {FLOAT_MEMO}: m{j}.clear()\n"
                     f"            m{j}[v] = d\n"
                     "        return d\n"
                     f"    return cast{j}(v)\n", "<syncd mapping>", "exec"), scope)
        cast = f"Decimal(v) if {number[0]} else (m{j}.get(v) or d{j}(v)) if type(v) is float else cast{j}(v)"
    if col.required:
        lines.append(f"    if v is None: raise DataError(None, null{j})")
        test = f"not ({guard})" if guard else None
    else:
        test = f"v is not None and not ({guard})" if guard else "v is not None"
    if col.target.kind == "datetime":
        # ISO text (what SQLite hands over) read here: the caster's first step without the call
        scope["fromisoformat"] = fromisoformat
        lines += [f"    if {test or 'True'}:",
                  "        if type(v) is str:",
                  "            try:",
                  "                m = fromisoformat(v)",
                  "            except ValueError:",
                  "                m = None",
                  "            if m is not None and m.tzinfo is None:"]
        if ctx.datetime_texts is not None:
            # 'YYYY-MM-DD HH:MM:SS.ffffff' is the one text of its value that parses with these
            # four characters where they are (a week date 'YYYY-Www-D' has no '-' at 7)
            scope["texts"] = ctx.datetime_texts
            lines.append('                if len(v) == 26 and v[19] == "." and v[10] == " " and v[7] == "-": '
                         'texts[m] = v')
        lines += ["                v = m",
                  "            else:",
                  f"                v = cast{j}(v)",
                  "        else:",
                  f"            v = {cast}"]
    else:
        lines.append(f"    if {test}: v = {cast}" if test else f"    v = {cast}")
    lines.append(f"    c{j} = v")
    return lines


def _int_as_text(target: TargetColumn, ctx: _Ctx) -> str | None:
    """For a text column of a known length that takes any text as it is: an inline test for the
    whole numbers whose digits fit it (``str`` of them is what the caster would return), or None."""
    if target.kind not in ("str", "text") or target.length is None or not 0 < target.length <= 1000 or \
            _already_cast(target, ctx, {}, 0) is None:
        return None
    length = int(target.length)
    return f"{-10 ** (length - 1)} < v < {10 ** length}"


#: floats a DECIMAL column's row function remembers the Decimal of (some 160 bytes each)
FLOAT_MEMO = 16_384


def _number_as_decimal(target: TargetColumn) -> tuple[str, str] | None:
    """For a DECIMAL column of a known scale: inline tests for the whole numbers (first) and the
    floats (second, its text in ``t``) that fit it as they are, which the caster would return as
    ``Decimal(v)`` and ``Decimal(repr(v))``; or None. SQLite hands NUMERIC values over as either.

    A float fits when its shortest text (``repr``: what ``str`` gives and the caster reads) has no
    exponent, at most ``scale`` digits after the point and less than ``10 ** (precision - scale)``
    in magnitude (so ``12.0`` into DECIMAL(5,0) is left to the caster, which knows better); NaN
    and infinities are left to it too.

    Written for speed (0.65 -> 0.5 µs a float): a text without exponent has one point, so it has
    at most ``scale`` digits after it when the point is among its last ``scale + 1`` characters;
    and the magnitude is tested before ``repr`` is called."""
    if target.kind != "decimal" or target.scale is None or target.scale < 0:
        # (a negative scale, Oracle's NUMBER(p, -s), rounds to tens, hundreds ...: the caster's)
        return None
    short = f"'e' not in (t := repr(v)) and '.' in t[-{target.scale + 1}:]"
    if target.precision is None:
        return "type(v) is int", f"type(v) is float and {short}"
    digits = int(target.precision) - int(target.scale)
    return (f"type(v) is int and {-10 ** digits} < v < {10 ** digits}",
            f"type(v) is float and -1e{digits} < v < 1e{digits} and {short}")


def target_problems(mapping: TableMapping, targets: Mapping[str, TargetColumn]) -> list[tuple[tuple[Any, ...], str]]:
    """What in the mapping cannot work with these target columns: (where, problem)."""
    found = []
    for name, spec in mapping.columns.items():
        target = targets.get(name)
        if target is None:
            continue
        if spec.on_overflow == "truncate" and target.kind not in ("str", "text"):
            found.append((("columns", name, "on_overflow"),
                          f"on_overflow: truncate cuts text, and target column {target.name} holds "
                          f"{_kind_text(target)}; remove on_overflow from the column"))
    return found


def target_warnings(mapping: TableMapping, targets: Mapping[str, TargetColumn]) -> list[tuple[tuple[Any, ...], str]]:
    """What in the mapping works with these target columns but does not do what it seems to: (where, warning)."""
    found = []
    for name, spec in mapping.columns.items():
        target = targets.get(name)
        if target is None:
            continue
        if spec.on_overflow == "truncate" and target.kind in ("str", "text") and target.length is None:
            found.append((("columns", name, "on_overflow"),
                          f"target column {target.name} has no length limit: on_overflow: truncate never cuts"))
        if spec.round is not None and target.kind == "decimal" and target.scale is not None and \
                spec.round > target.scale:
            found.append((("columns", name, "round"),
                          f"round: {spec.round} keeps more decimal places than target column {target.name} holds "
                          f"({target.scale}): such values are still rejects; write round: {target.scale}"))
        if spec.cast == "date" and target.kind not in ("date", "datetime", "str", "text", "other"):
            found.append((("columns", name, "cast"),
                          f"cast: date makes a date, and target column {target.name} holds {_kind_text(target)}: "
                          "every value would be a reject"))
    return found


def _kind_text(target: TargetColumn) -> str:
    return {"str": "text", "text": "text", "int": "whole numbers", "decimal": "numbers", "float": "numbers",
            "datetime": "dates and times", "date": "dates", "time": "times of day", "bytes": "binary data",
            "bool": "true/false"}.get(target.kind, "values of a type syncd passes on as they are")


def stored_equal(mapped: Any, stored: Any) -> bool:
    """Whether a mapped value equals the value a target row holds, as the target stores values:
    Oracle's '' is NULL, DATETIME(0) drops fractions of a second, 1.50 is 1.5, a DATE read back as
    a midnight datetime is that day, a BOOLEAN read back as 0/1 is that truth value."""
    if isinstance(mapped, bool):
        mapped = int(mapped)
    if isinstance(stored, bool):
        stored = int(stored)
    if mapped in (None, "") and stored in (None, ""):
        return True
    if mapped is None or stored is None:
        return False
    if isinstance(mapped, datetime) and isinstance(stored, datetime):
        if mapped.microsecond == 0 or stored.microsecond == 0:
            return mapped.replace(microsecond=0, tzinfo=None) == stored.replace(microsecond=0, tzinfo=None)
        return mapped.replace(tzinfo=None) == stored.replace(tzinfo=None)
    if isinstance(mapped, date) and isinstance(stored, date):
        return (mapped.date() if isinstance(mapped, datetime) else mapped) == \
            (stored.date() if isinstance(stored, datetime) else stored)
    if isinstance(mapped, (bytes, bytearray, memoryview)) or isinstance(stored, (bytes, bytearray, memoryview)):
        return isinstance(mapped, (bytes, bytearray, memoryview)) and \
            isinstance(stored, (bytes, bytearray, memoryview)) and bytes(mapped) == bytes(stored)
    if isinstance(mapped, (int, float, Decimal)) or isinstance(stored, (int, float, Decimal)):
        try:
            return Decimal(str(mapped)) == Decimal(str(stored))
        except (InvalidOperation, ValueError):
            return False
    return bool(mapped == stored) or str(mapped) == str(stored)


def _required(spec: ColumnSpec, target: TargetColumn) -> tuple[bool, str]:
    """Whether a NULL rejects the row, and the reason it gives."""
    return (spec.required or not target.nullable,
            "is NULL but the column is required" + ("" if spec.required else " (NOT NULL in the target)"))


RowFunction = Callable[[Sequence[Any]], tuple[Any, ...]]

#: a run remembers at most this many target keys written (beyond it, only batches are checked)
MAX_REMEMBERED_KEYS = 2_000_000


class RowMapper:
    """Maps rows read with ``layout`` into tuples for the target columns, in ``columns`` order."""

    def __init__(self, mapping: TableMapping, lay: Layout, targets: Mapping[str, TargetColumn],
                 codes: Mapping[str, CodeList], *, now: datetime, run_id: str, tz: tzinfo,
                 text_length: Callable[[str], int] = len,
                 unsupported_text: Callable[[str, str | None], str | None] = lambda v, c: None,
                 key_forms: Mapping[str, KeyForm] | None = None, datetime_texts: dict[datetime, str] | None = None,
                 nonfinite_floats: bool = True):
        ctx = _Ctx(now=now, run_id=run_id, tz=tz, text_length=text_length, unsupported_text=unsupported_text,
                   datetime_texts=datetime_texts, nonfinite_floats=nonfinite_floats)
        # filled while a batch is mapped, for its write; emptied once it is written (``written``)
        # and before the next is mapped: one batch's worth at most
        self._datetime_texts = datetime_texts
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
        self._batch_rules = self._rules      # the rules map_batch runs after map_row
        #: values cut to fit their column (``on_overflow: truncate``) in the rows mapped so far, by
        #: column; rows that became rejects are not counted
        self.truncations: dict[str, int] = {}
        self._cuts = ctx.cuts
        if any(mapping.columns[p.name].on_overflow == "truncate" for p in plans):
            self._map_row = self._counting(self._map_row)
        self._target_key = [positions[k] for k in mapping.target.key]
        forms = key_forms or {}
        #: the target key as the target compares it: (position, its form's function or None)
        self._key_forms = [(positions[k], forms[k].normal if k in forms else None) for k in mapping.target.key]
        self._key_why = "; ".join(forms[k].why for k in mapping.target.key if k in forms)
        self._key_kept = [(j, forms[k].kept if k in forms else None)
                          for k, (j, _) in zip(mapping.target.key, self._key_forms, strict=True)]
        # A target key that is a plain copy of the whole source key is meant to hold one row per
        # source row: two source keys the target takes for one (after the cast to the column's
        # type, by its collation, or CHAR's padding) are both rejects, within a batch and across
        # the batches of a run. A key made otherwise may merge source rows: the later wins.
        copied = {spec.from_ for spec in (mapping.columns[k] for k in mapping.target.key)
                  if spec.from_ is not None and not steps_of(spec)}
        self._copied_key = len(copied) == len(mapping.target.key) and set(mapping.source.key) <= copied
        #: in a copied key: each target key (its form) written in this run -> the source key that wrote it,
        #: for the keys that a cast or a form changed (others cannot meet another source key)
        self._written_keys: dict[Any, Any] = {}
        # With a form (a collation ...) every key could meet another: remembered, unless the target's
        # stored keys tell (``checks_stored_keys``: each batch's keys are looked up in the target,
        # where the earlier batches of the run are already written), which costs no memory a row.
        self._remember_all = bool(forms) and not (self._copied_key and any(k is not None for _, k in self._key_kept))
        self._copied_from = [(positions[k], lay.index(mapping.columns[k].from_ or "")) for k in mapping.target.key
                             if mapping.columns[k].from_ in lay.names] if self._copied_key else []

    @property
    def truncated(self) -> int:
        """How many values were cut to fit their column in the rows mapped so far."""
        return sum(self.truncations.values())

    def _counting(self, map_row: RowFunction) -> RowFunction:
        """``map_row`` that also runs the rules, and forgets the cuts of a row that fails: only the
        truncations of rows that are written count."""
        cuts, rules = self._cuts, self._rules
        self._batch_rules = []               # map_counted runs them

        def map_counted(row: Sequence[Any]) -> tuple[Any, ...]:
            mark = len(cuts)
            try:
                values = map_row(row)
                for rule in rules:
                    if rule(values):
                        raise DataError(None, N_("rule"))
            except DataError:
                del cuts[mark:]
                raise
            return values
        return map_counted

    def source_row(self, row: Sequence[Any]) -> dict[str, Any]:
        return dict(zip(self.layout.names, row, strict=False))

    def written(self) -> None:
        """The batch mapped last has been written: what was kept for its write (``datetime_texts``)
        is let go, so that it is not held while the next batch is read."""
        if self._datetime_texts:
            self._datetime_texts.clear()

    def map_batch(self, rows: Sequence[Sequence[Any]]) -> MappedBatch:
        self.written()
        map_row = self._map_row
        rules = self._batch_rules
        key_index = self.layout.key
        # the usual one-column key read without building a list per row
        only = key_index[0] if len(key_index) == 1 else None
        mapped_rows: list[tuple[Any, ...]] = []
        keys: list[tuple[Any, ...]] = []
        sources: list[Sequence[Any]] = []
        rejects: list[Reject] = []
        for row in rows:
            try:
                values = map_row(row)
                if rules:
                    for rule in rules:
                        if rule(values):
                            raise DataError(None, N_("rule"))
            except DataError:
                rejects.append(self._explain(row))
                continue
            mapped_rows.append(values)
            keys.append((row[only],) if only is not None else tuple([row[i] for i in key_index]))
            sources.append(row)
        if self._cuts:
            for column in self._cuts:
                self.truncations[column] = self.truncations.get(column, 0) + 1
            self._cuts.clear()
        superseded: tuple[tuple[Any, ...], ...] = ()
        if self._copied_key:
            mapped_rows, keys, sources = self._one_row_per_target_key(mapped_rows, keys, sources, rejects)
        else:
            every_key = keys
            mapped_rows, keys, sources = self._last_per_target_key(mapped_rows, keys, sources)
            if len(keys) != len(every_key):
                kept = set(keys)
                superseded = tuple(k for k in every_key if k not in kept)
        return MappedBatch(mapped_rows, keys, rejects, sources, superseded)

    def _compared_key(self, values: Sequence[Any]) -> Any:
        """The target key of mapped ``values`` as the target compares it."""
        return tuple([values[j] if form is None else form(values[j]) for j, form in self._key_forms])

    def _one_row_per_target_key(self, rows: list[tuple[Any, ...]], keys: list[tuple[Any, ...]],
                                sources: list[Sequence[Any]], rejects: list[Reject]
                                ) -> tuple[list[Any], list[Any], list[Any]]:
        """The rows whose target key no other source key has, in this batch or written earlier in
        the run; the others are rejects (``rejects`` grows), all of them, as with two source rows
        of one key (syncd.keys)."""
        compared = self._compared_keys(rows)
        written = self._written_keys
        # the keys the cast changed ('01' -> 1) are remembered: a later batch may bring another
        # source key cast alike; with a form (a collation ...) every key is
        cast = set(range(len(rows))) if self._remember_all else self._cast_changed(rows, sources)
        if len(set(compared)) == len(compared) and not written:
            # the common case: no two alike, nothing from before to meet
            for i in cast:
                self._remember(compared[i], keys[i])
            return rows, keys, sources
        places: dict[Any, list[int]] = {}
        for i, target_key in enumerate(compared):
            places.setdefault(target_key, []).append(i)
        held: set[int] = set()
        for target_key, at in places.items():
            before = written.get(target_key)
            if len(at) > 1:
                others = ", ".join(self._describe_key(keys[i]) for i in at)
                for i in at:
                    rejects.append(Reject(keys[i], None, (
                        f"key not unique in the target: {len(at)} source rows ({others}) have target key "
                        f"{self._describe_target(rows[i])}, which the target takes for one{self._because()}; all held "
                        "back until the source has one row per target key"), self.source_row(sources[i])))
                held.update(at)
            elif before is not None and before != keys[at[0]]:
                i = at[0]
                rejects.append(Reject(keys[i], None, (
                    f"key not unique in the target: the row of {self._describe_key(before)} written earlier in this "
                    f"run has target key {self._describe_target(rows[i])} too, which the target takes for one"
                    f"{self._because()}; this one is held back until the source has one row per target key"),
                    self.source_row(sources[i])))
                held.add(i)
            elif at[0] in cast:
                self._remember(target_key, keys[at[0]])
        if not held:
            return rows, keys, sources
        kept = [i for i in range(len(rows)) if i not in held]
        return [rows[i] for i in kept], [keys[i] for i in kept], [sources[i] for i in kept]

    @property
    def checks_stored_keys(self) -> bool:
        """Whether the target's stored keys can tell that another source key wrote a row this
        mapping's key copies (a case-insensitive collation keeps the case it was written with)."""
        return self._copied_key and any(kept is not None for _, kept in self._key_kept)

    def against_stored(self, mapped: MappedBatch, stored: Iterable[tuple[Any, ...]]) -> MappedBatch:
        """``mapped`` without the rows whose target key the target holds as written from another
        source key (``stored``: the keys the target returned for the batch's, as it keeps them):
        rejects, as two source keys of one target key in a run are."""
        def kept(key: Sequence[Any]) -> tuple[Any, ...]:
            return tuple(v if fn is None else fn(v) for v, (_, fn) in zip(key, self._key_kept, strict=True))

        def form(key: Sequence[Any]) -> tuple[Any, ...]:
            return tuple(v if fn is None else fn(v) for v, (_, fn) in zip(key, self._key_forms, strict=True))
        held = {form(key): key for key in stored}
        if not held:
            return mapped
        rows, keys, sources, rejects = [], [], [], list(mapped.rejects)
        for values, key, source in zip(mapped.rows, mapped.keys, mapped.sources, strict=True):
            sent = self.target_key(values)
            there = held.get(form(sent))
            if there is not None and kept(there) != kept(sent):
                shown = ", ".join(f"{c}={v!r}" for c, v in zip(self.mapping.target.key, there, strict=True))
                rejects.append(Reject(key, None, (
                    f"key not unique in the target: it holds {shown}, written from another source key, and takes "
                    f"target key {self._describe_target(values)} for the same{self._because()}; this row is held "
                    "back until the source has one row per target key"), self.source_row(source)))
                continue
            rows.append(values)
            keys.append(key)
            sources.append(source)
        if len(rows) == len(mapped.rows):
            return mapped
        return MappedBatch(rows, keys, rejects, sources, mapped.superseded)

    def _compared_keys(self, rows: Sequence[Sequence[Any]]) -> list[Any]:
        """The target key of each mapped row as the target compares it: the value itself for a
        one-column key (the common case, and cheap), else a tuple."""
        if len(self._key_forms) == 1:
            j, form = self._key_forms[0]
            column = [values[j] for values in rows]
            return column if form is None else [form(v) for v in column]
        return [self._compared_key(values) for values in rows]

    def _cast_changed(self, rows: Sequence[Sequence[Any]], sources: Sequence[Sequence[Any]]) -> set[int]:
        """The rows (their places) whose key a cast changed in a way that can meet another source
        key ('01' -> 1). A whole number written as its digits cannot: two numbers never give the
        same text, so a numeric key into a text column (the common case) remembers nothing, and a
        run's memory does not grow with the table. (A SQLite column holding both 1 and '1' is
        still caught within a batch.)"""
        changed: set[int] = set()
        for j, i in self._copied_from:
            mapped = [values[j] for values in rows]
            read = [source[i] for source in sources]
            if mapped == read:
                continue
            # whole numbers written as their digits, the whole batch (one comparison of two lists)
            if set(map(type, read)) == {int} and mapped == list(map(str, read)):
                continue
            changed.update(n for n, (a, b) in enumerate(zip(mapped, read, strict=True))
                           if a != b and not (type(b) is int and type(a) is str and a == str(b)))
        return changed

    def _remember(self, target_key: Any, key: tuple[Any, ...]) -> None:
        if len(self._written_keys) < MAX_REMEMBERED_KEYS:
            self._written_keys[target_key] = key

    def _because(self) -> str:
        return f" ({self._key_why})" if self._key_why else ""

    def _describe_key(self, key: tuple[Any, ...]) -> str:
        return ", ".join(f"{self.layout.names[i]}={v!r}" for i, v in zip(self.layout.key, key, strict=True))

    def _describe_target(self, values: Sequence[Any]) -> str:
        return ", ".join(f"{self.columns[j]}={values[j]!r}" for j in self._target_key)

    def _explain(self, row: Sequence[Any]) -> Reject:
        """The reject for a row that failed: which column or rule, and why (the slow path)."""
        mark = len(self._cuts)
        try:
            return self._reason(row)
        finally:
            del self._cuts[mark:]        # a reject's values are not written: their cuts do not count

    def _reason(self, row: Sequence[Any]) -> Reject:
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
            target_key = self._compared_key(values)
            last.pop(target_key, None)
            last[target_key] = i
        order = list(last.values())
        return [rows[i] for i in order], [keys[i] for i in order], [sources[i] for i in order]

    def target_key(self, mapped: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(mapped[i] for i in self._target_key)


def target_key_of(mapper: RowMapper, row: Sequence[Any]) -> tuple[Any, ...] | None:
    """The target key a source row (read with ``mapper``'s layout) maps to, or None when a key
    column cannot be mapped. For a row that failed elsewhere (a reject): which target row it is."""
    functions = dict(mapper._functions)
    try:
        return tuple(functions[k](row) for k in mapper.mapping.target.key)
    except DataError:
        return None
