"""The compiled fast path (``RowMapper.map_batch``) against a plain reference interpreter.

Random mappings (every target kind, every origin, every step, rules) and random rows go through
both; the mapped rows and the rejects (key, column, reason) must be the same. The reference below
is written from docs/mappings.md, one value at a time, sharing no code with ``syncd.transform``.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from pathlib import Path
from typing import Any, get_args
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncd.dialects import get as dialect
from syncd.mapping import ORIGINS, CodeList, ColumnSpec, Mapping_, Overflow, RuleSpec, TableMapping
from syncd.plan import layout
from syncd.rules import OPERATORS
from syncd.transform import NAMESPACE, STEPS, Kind, RowMapper, TargetColumn

NOW = datetime(2026, 11, 28, 6, 0, 30, 123456, tzinfo=timezone.utc)
TZ = ZoneInfo("Asia/Shanghai")
RUN_ID = "run-7"
CODES = {"units": CodeList.model_validate(
    {"name": "units", "codes": [{"code": "小时", "label": "小时", "aliases": ["时", "h"]},
                                {"code": "天", "label": "天", "aliases": ["日", " 1 "]},
                                {"code": "3", "label": "月"}]})}
INLINE_MAP = {"正常": "0", "存在隐患": "1", "1": "1", "2.0": "2", " 未排查 ": "2"}
SOURCES = ("a", "b", "c", "d", "e")
KINDS = ("str", "text", "int", "decimal", "float", "datetime", "date", "time", "bytes", "bool", "other")

# -- random values, as a county database or a YAML file would hold them ---------------------------

moments = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1),
                       timezones=st.sampled_from([None, None, timezone.utc, timezone(timedelta(hours=8))]))
moment_texts = st.tuples(moments, st.sampled_from([
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y%m%d%H%M%S", "%Y%m%d",
    "%Y年%m月%d日", "%Y年%m月%d日 %H:%M:%S", "%H:%M:%S", "%H:%M", " %Y-%m-%d "])).map(lambda p: p[0].strftime(p[1]))
texts = st.one_of(
    st.text(alphabet="0123456789.-+ eE:/T年月日时天小正常是否abcyn😀", max_size=12),
    st.sampled_from(["", " ", "8小时", "1天", " 时 ", "h", "正常", "存在隐患", " 未排查 ", "2.0", "1", "0", "9",
                     "true", "否", "NaN", "sNaN", "inf", "-Infinity", "-0", "1e3", "12.50", "0.001", "1_000",
                     "隐患😀", "四个汉字", "01:02:03.5", "None", "1e400000000", "-1E+39", "2147483648", "1e40",
                     "e\u0301e\u0301e\u0301", "👍🏽👍🏽ab", "a\u200db\u200dc", "Müllerstraße", "2026-01-02 00:00:00"]),
    moment_texts,
)
decimals = st.one_of(st.decimals(min_value=-10**7, max_value=10**7, places=3),
                     st.decimals(min_value=-10**7, max_value=10**7, places=0),
                     st.sampled_from([Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("1E+5"),
                                      Decimal("0E+5"), Decimal("-0"), Decimal("1.000")]))
#: moments that fall outside the years 1..9999 once moved to Asia/Shanghai (UTC+8)
edge_moments = st.sampled_from([datetime(1, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=10))),
                                datetime(9999, 12, 31, 20, 0, tzinfo=timezone.utc)])
values = st.one_of(
    st.none(), texts, st.integers(-10**7, 10**7), st.booleans(), decimals, moments, edge_moments,
    st.sampled_from([2**31, -2**31 - 1, 2**63, 10**40]),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(-1e6, 1e6).map(lambda f: float(round(f))),
    # what SQLite hands over for NUMERIC(p, s): floats of a few decimal places (and ints)
    st.floats(-1e5, 1e5).map(lambda f: round(f, 2)), st.floats(-1, 1).map(lambda f: round(f, 4)),
    st.sampled_from([1e-05, -0.0, 0.5, -0.5, 99.99, 100.0, -99.995, 1e16, 1.5e-07, 123456789.0, 5e-324]),
    st.dates(min_value=date(1970, 1, 2)), st.times(timezones=st.sampled_from([None, timezone.utc])),
    st.binary(max_size=3), st.binary(max_size=3).map(memoryview), st.binary(max_size=3).map(bytearray),
)
#: what a YAML scalar can be: const, default, unknown
scalars = st.one_of(st.sampled_from(["", "410102", "9", "1", "小时", "2026-01-02 03:04:05", "3.5", "否"]),
                    st.integers(-5, 99), st.booleans(), st.floats(-10, 10, allow_nan=False),
                    st.dates(min_value=date(1970, 1, 2)))

# -- random mappings ---------------------------------------------------------------------------------

PATTERNS = (r"^(\d+(?:\.\d+)?)", "(小时|天|月|年)$", r"\d", r"^\s*(\S*)\s*$", "([a-z]+)")
FORMATS = ("%Y-%m-%d", "%Y%m%d %H:%M", "%H:%M:%S", "%Y年%m月", "%d日%H时")


def sometimes(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``strategy``'s value one time in four, else None (the key is left out)."""
    return st.integers(0, 3).flatmap(lambda n: strategy if n == 0 else st.none())


#: how the random specs ask for each step; the reference applies them in the order of this dict
STEP_KEYS: dict[str, st.SearchStrategy[Any]] = {
    "recode": sometimes(st.sampled_from(["gbk", "gb18030"])),
    "pattern": sometimes(st.sampled_from(PATTERNS)),
    "map": sometimes(st.sampled_from(["units", INLINE_MAP])),
    "cast": sometimes(st.sampled_from(["date", "number"])),
    "round": sometimes(st.integers(0, 3)),
    "default": sometimes(scalars),
    "format": sometimes(st.sampled_from(FORMATS)),
}


@st.composite
def column_specs(draw: st.DrawFn) -> dict[str, Any]:
    origin = draw(st.sampled_from(["from", "from", "from", "expr", "expr", "const", "now", "run_id", "uuid5"]))
    spec: dict[str, Any] = {
        "from": lambda: {"from": draw(st.sampled_from(SOURCES))},
        "expr": lambda: {"expr": "a || b"},
        "const": lambda: {"const": draw(st.none() | scalars)},
        "now": lambda: {"value": "now"},
        "run_id": lambda: {"value": "run_id"},
        "uuid5": lambda: {"uuid5": draw(st.lists(st.sampled_from(SOURCES), min_size=1, max_size=2)),
                          **({"namespace": "unit"} if draw(st.booleans()) else {})},
    }[origin]()
    for key, strategy in STEP_KEYS.items():
        value = draw(strategy)
        if value is not None:
            spec[key] = value
    # combinations a mapping file may not ask for (checked when it loads)
    if "round" in spec and ("format" in spec or spec.get("cast") == "date"):
        del spec["round"]
    if draw(st.integers(0, 3)) == 0:
        spec["on_overflow"] = draw(st.sampled_from(["truncate", "truncate", "reject"]))
    if "map" in spec:
        spec["unknown"] = draw(st.sampled_from(["reject", "reject", "keep", "9", None]))
    if draw(st.integers(0, 5)) == 0:
        spec["required"] = True
    return spec


INT_RANGES = [None, None, (-128, 127), (0, 255), (-32768, 32767), (-2**31, 2**31 - 1), (-2**63, 2**63 - 1)]


@st.composite
def target_columns(draw: st.DrawFn, name: str) -> TargetColumn:
    kind = draw(st.sampled_from(KINDS))
    length = draw(st.integers(1, 12)) if kind == "str" else None
    precision = scale = None
    if kind == "decimal":
        precision = draw(st.none() | st.integers(1, 8))
        scale = draw(st.integers(0, precision)) if precision is not None else None
    bounds = None
    if kind == "int":
        bounds = draw(st.sampled_from(INT_RANGES))
        if bounds is None and draw(st.booleans()):
            precision, scale = draw(st.integers(1, 12)), 0          # NUMBER(p, 0)
    text = kind in ("str", "text")
    charset = draw(st.sampled_from([None, "utf8mb3", "utf8mb4", "latin1"])) if text else None
    unit = draw(st.sampled_from([None, None, "char", "byte"])) if text else None
    return TargetColumn(name, kind, draw(st.integers(0, 3)) > 0, length, precision, scale, charset,
                        bounds[0] if bounds else None, bounds[1] if bounds else None, unit)


TESTS = ("1", 0, None, "小时", {"in": ["1", "小时", None]}, {"in": "0"}, {"not_in": ["0", "天"]}, {"not": "0"},
         {"not": None}, {"gt": 0}, {"ge": 1, "le": 100}, {"lt": "1e3"}, {"not_in": [None]}, {"matches": r"^\d+$"},
         {"matches": "小时|天"})
REGEXES = (r"^\d+$", "^[a-z]", "小时|天", r"^\d{4}-\d{2}")


@st.composite
def rule_specs(draw: st.DrawFn, columns: list[str]) -> dict[str, Any]:
    # a comparison with another mapped column: numbers, dates and times of day with each other
    other = st.tuples(st.sampled_from(["gt", "ge", "lt", "le"]), st.sampled_from(columns)).map(
        lambda p: {p[0]: {"column": p[1]}})
    condition = st.dictionaries(st.sampled_from(columns), st.sampled_from(TESTS) | other, min_size=1, max_size=2)
    some_columns = st.lists(st.sampled_from(columns), min_size=1, max_size=2, unique=True)
    rule: dict[str, Any] = {}
    if draw(st.booleans()):
        rule["when"] = draw(condition)
    if draw(st.booleans()):
        rule["require"] = draw(some_columns)
    if draw(st.integers(0, 2)) == 0:
        rule["require_any"] = draw(some_columns)
    if draw(st.integers(0, 2)) == 0:
        rule["matches"] = draw(st.dictionaries(st.sampled_from(columns), st.sampled_from(REGEXES), min_size=1,
                                               max_size=2))
    if not ({"require", "require_any", "matches"} & set(rule)) or draw(st.booleans()):
        rule["check"] = draw(condition)
    if draw(st.booleans()):
        rule["message"] = "规则不满足"
    return rule


#: values a column of each kind accepts (most of the time: "" is no number, nor 10 characters a str(4))
FITTING: dict[str, st.SearchStrategy[Any]] = {
    "str": st.one_of(st.text(max_size=6), st.integers(-999, 9999), st.booleans(),
                     st.dates(min_value=date(1970, 1, 2))),
    "int": st.one_of(st.integers(-10**12, 10**12), st.integers(-99, 99).map(str), st.decimals(-99, 99, places=0),
                     st.sampled_from([" 12 ", "-0", "3.000", 2.0, True])),
    "decimal": st.one_of(st.decimals(-9999, 9999, places=2), st.decimals(-9, 9, places=4).map(str),
                         st.integers(-99, 99), st.floats(-99, 99).map(lambda f: round(f, 2))),
    "float": st.one_of(st.floats(), st.integers(-10**6, 10**6), st.decimals(-99, 99, places=2),
                       st.sampled_from([" 1.5 ", "1e3", "-inf"])),
    "datetime": st.one_of(moments, moment_texts, st.dates(min_value=date(1970, 1, 2))),
    "time": st.one_of(st.times(timezones=st.sampled_from([None, timezone.utc])), moments,
                      st.times().map(lambda t: f" {t.isoformat()} ")),
    "bytes": st.one_of(st.binary(max_size=4), st.binary(max_size=4).map(memoryview),
                       st.binary(max_size=4).map(bytearray)),
    "bool": st.one_of(st.booleans(), st.sampled_from(["是", "否", " Yes", "n", "T", "0", 1, 0])),
}
FITTING |= {"text": FITTING["str"], "date": FITTING["datetime"], "other": values}
SPELLINGS = {"units": ["时", " 小时 ", "h", "日", "天", "1", "月", "3", 3, 1.0], "inline": [*INLINE_MAP, 2.0, " 正常"]}


def misread(text: str) -> str:
    """``text`` in GBK as a MySQL latin1 column hands it out: each byte its Windows-1252 character,
    or, for the five bytes Windows-1252 leaves undefined, the character of that number."""
    out = []
    for byte in text.encode("gbk"):
        try:
            out.append(bytes([byte]).decode("cp1252"))
        except UnicodeDecodeError:
            out.append(chr(byte))
    return "".join(out)


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def gbk_sign(ch: str) -> bool:
    """Whether ``ch`` is one of the signs of GBK's rows of them: A1 (punctuation), A2 (numbers),
    A3 (full-width forms), A6 (Greek and vertical forms), A9 (box drawing, units, small forms) and
    the symbols at the start of A8; not kana, Cyrillic (A7) or pinyin letters (the rest of A8)."""
    try:
        code = ch.encode("gbk")
    except UnicodeEncodeError:
        return False
    name = unicodedata.name(ch, "")
    return len(code) == 2 and (code[0] in (0xA1, 0xA2, 0xA3, 0xA6, 0xA9) or (code[0] == 0xA8 and code[1] < 0xA1)) \
        and "HIRAGANA" not in name and "KATAKANA" not in name


#: text a ``recode`` step takes: GBK read as latin1, ASCII, and what is neither
MISREAD = [misread(t) for t in ("风险点", "隐患排查治理", "12小时", "正常", "丂")] + [
    "abc 12", "", "caf\xe9", "\x81", "€", "€€", "隐患", "\xff\xff", b"\xb7\xe7\xcf\xd5", b"\xff", "M\xfcller"]


def fitting(spec: dict[str, Any], target: TargetColumn) -> st.SearchStrategy[Any]:
    """Values the column's first step, or its cast, most likely takes: so that not every row is a reject."""
    if "recode" in spec:
        return st.sampled_from(MISREAD)
    if "map" in spec:
        return st.sampled_from(SPELLINGS["units" if spec["map"] == "units" else "inline"])
    if "pattern" in spec:
        return st.sampled_from(["8小时", "1天", " 12.5 ", "abc1", "年", "3月"])
    if "format" in spec or spec.get("cast") == "date":
        return st.one_of(moments, moment_texts, st.dates(min_value=date(1970, 1, 2)))
    if "round" in spec or spec.get("cast") == "number":
        return st.one_of(FITTING["decimal"], st.sampled_from(["", " ", " 3.14159 ", "2.5", "-2.5", "abc"]))
    return FITTING[target.kind]


@st.composite
def cases(draw: st.DrawFn, with_rules: bool) -> tuple[dict[str, Any], dict[str, TargetColumn], list[dict[str, Any]]]:
    names = [f"c{i}" for i in range(draw(st.integers(1, 4)))]
    columns = {"id": {"from": "id"}, **{n: draw(column_specs()) for n in names}}
    targets = {"id": TargetColumn("id", "int", False), **{n: draw(target_columns(n)) for n in names}}
    rules = draw(st.lists(rule_specs(names), max_size=3)) if with_rules else []
    # Each source column and each expr value mostly holds what the first column that reads it takes.
    readers = {f"_expr_{n}": n for n, spec in columns.items() if "expr" in spec}
    for n, spec in reversed(columns.items()):
        if spec.get("from") in SOURCES:
            readers[spec["from"]] = n
    likely = {name: st.one_of(fitting(columns[n], targets[n]), fitting(columns[n], targets[n]), values)
              for name, n in readers.items()}
    rows = []
    for i in range(draw(st.integers(1, 10))):
        row = {"id": i, "ts": NOW}
        row.update({name: draw(likely.get(name, values)) for name in (*SOURCES, *readers)})
        rows.append(row)
    return {"columns": columns, "rules": rules}, targets, rows


# Random mappings draw every key at random, so that a key meets every other; the columns below ask
# for one narrowing at a time (a length, a scale, a date, a range) with values near its edge, so
# that truncating, rounding and the narrowing rejects are each met often.

long_texts = st.one_of(st.text(alphabet="ab中文😀é\u0301\u200d👍🏽ßü", min_size=0, max_size=14),
                       st.sampled_from(["e\u0301e\u0301e\u0301", "👍🏽👍🏽ab", "a\u200db\u200dc", "Müllerstraße",
                                        "隐患排查治理台账", "abcdefghijklmnop", "a\x00b", "\x00"]),
                       # whole numbers whose digits just fit a text column, or are one too many
                       st.integers(0, 9).flatmap(lambda n: st.sampled_from([10**n - 1, 10**n, 1 - 10**n, -10**n])))
scaled = st.one_of(st.decimals(-999, 999, places=0), st.decimals(-999, 999, places=1),
                   st.decimals(-99, 99, places=3), st.decimals(-99, 99, places=4).map(str),
                   st.floats(-99, 99).map(lambda f: round(f, 3)), st.sampled_from(["2.5", "-2.5", "0.125", "1e-3"]),
                   # SQLite's NUMERIC values: floats of a few places and whole numbers, near every edge
                   st.integers(0, 6).flatmap(lambda n: st.floats(-10.0 ** n, 10.0 ** n).map(lambda f: round(f, n % 4))),
                   st.integers(0, 5).flatmap(lambda n: st.sampled_from([10**n - 1, 10**n, -10**n, 1 - 10**n])),
                   st.sampled_from([0.5, -0.5, -0.0, 1e-05, 12.0, 1e16, 99.995, 999.99, -1000.0, float("nan")]))
days = st.one_of(moments, moments.map(lambda m: m.replace(hour=0, minute=0, second=0, microsecond=0)),
                 st.dates(min_value=date(1970, 1, 2)), st.sampled_from(["2026-01-02", "2026-01-02 00:00:00",
                                                                        "2026-01-02 08:30:00", "2026/01/02"]))
whole = st.one_of(st.integers(-300, 300), st.sampled_from([2**31 - 1, 2**31, -2**31, 2**63, 255, 256, -129]),
                  st.sampled_from(["1e400000000", "-1e40", "12", " 127 ", "128", "1.5", "2.5", "1E+2"]),
                  st.decimals(-300, 300, places=1))


@st.composite
def narrowing_column(draw: st.DrawFn, name: str) -> tuple[dict[str, Any], TargetColumn, st.SearchStrategy[Any]]:
    shape = draw(st.sampled_from(["text", "decimal", "date", "int", "number"]))
    spec: dict[str, Any] = {"from": name}
    if shape == "text":
        if draw(st.integers(0, 3)):
            spec["on_overflow"] = "truncate"
        target = TargetColumn(name, draw(st.sampled_from(["str", "str", "text"])), True, draw(st.integers(0, 8)),
                              charset=draw(st.sampled_from([None, "utf8mb3", "utf8mb4", "latin1"])),
                              length_unit=draw(st.sampled_from([None, "char", "byte"])))
        return spec, target, long_texts
    if shape == "decimal":
        precision = draw(st.integers(1, 8))
        scale = draw(st.integers(0, min(3, precision)))
        if draw(st.booleans()):
            spec["round"] = draw(st.integers(0, scale + 1))
        return spec, TargetColumn(name, "decimal", precision=precision, scale=scale), scaled
    if shape == "date":
        if draw(st.booleans()):
            spec["cast"] = "date"
        return spec, TargetColumn(name, "date"), days
    if shape == "int":
        if draw(st.integers(0, 2)) == 0:
            spec["round"] = 0
        bounds = draw(st.sampled_from(INT_RANGES))
        precision = draw(st.sampled_from([None, 3, 10])) if bounds is None else None
        return spec, TargetColumn(name, "int", precision=precision, scale=0 if precision else None,
                                  minimum=bounds[0] if bounds else None, maximum=bounds[1] if bounds else None), whole
    spec["cast"] = "number"
    if draw(st.booleans()):
        spec["default"] = 0
    return spec, TargetColumn(name, draw(st.sampled_from(["decimal", "int", "float"]))), st.one_of(
        whole, st.sampled_from(["", "  ", "abc", " 3 ", "NaN"]))


@st.composite
def narrowing_cases(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, TargetColumn], list[dict[str, Any]]]:
    names = [f"c{i}" for i in range(draw(st.integers(1, 3)))]
    columns: dict[str, Any] = {"id": {"from": "id"}}
    targets = {"id": TargetColumn("id", "int", False)}
    strategies = {}
    for name in names:
        columns[name], targets[name], strategies[name] = draw(narrowing_column(name))
    rows = [{"id": i, "ts": NOW, **{n: draw(strategies[n]) for n in names}} for i in range(draw(st.integers(1, 8)))]
    return {"columns": columns, "rules": []}, targets, rows


# -- the reference interpreter -----------------------------------------------------------------------

class Refused(Exception):
    """The reference's reject: the value cannot go into the column."""


MOMENT_LAYOUTS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y%m%d%H%M%S", "%Y%m%d",
                  "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日")


def parse_moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        pass
    for layout_ in MOMENT_LAYOUTS:
        try:
            return datetime.strptime(text.strip(), layout_)
        except ValueError:
            pass
    raise Refused(f"{text!r} is not a date/time this column can hold")


def local(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    try:
        return moment.astimezone(TZ).replace(tzinfo=None)
    except OverflowError:
        raise Refused(f"{moment.isoformat()} is not a date/time this column can hold: in {TZ} it falls outside "
                      "the years 1 to 9999") from None


ENCODINGS = {None: "utf-8", "utf8mb3": "utf-8", "utf8mb4": "utf-8", "latin1": "cp1252"}


def joins_previous(ch: str) -> bool:
    return unicodedata.combining(ch) > 0 or ch in ("\u200d", "\ufe0e", "\ufe0f") or 0x1F3FB <= ord(ch) <= 0x1F3FF


def places(number: Decimal) -> int:
    exponent = number.normalize().as_tuple().exponent
    return max(0, -int(exponent))


def ordered(v: Any) -> tuple[str, Any] | None:
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, datetime):
        return ("moment", v)
    if isinstance(v, date):
        return ("moment", datetime.combine(v, time()))
    if isinstance(v, time):
        return ("time", v)
    if isinstance(v, (int, float, Decimal, str)):
        try:
            number = Decimal(str(v).strip())
            return None if number.is_nan() else ("number", number)
        except InvalidOperation:
            pass
    if isinstance(v, str):
        for sort, parse in (("moment", datetime.fromisoformat), ("time", time.fromisoformat)):
            try:
                return (sort, parse(v.strip()))
            except ValueError:
                pass
    return None


class Reference:
    def __init__(self, text_length: Any, unsupported_text: Any):
        self.text_length, self.unsupported_text = text_length, unsupported_text
        self.cuts = 0          # values cut to fit, in the rows that are not rejects

    def origin(self, name: str, spec: dict[str, Any], target: TargetColumn, row: dict[str, Any]) -> Any:
        if "from" in spec:
            return row[spec["from"]]
        if "expr" in spec:
            return row[f"_expr_{name}"]
        if "const" in spec:
            return spec["const"]
        if spec.get("value") == "now":
            return NOW if target.kind == "other" else NOW.astimezone(TZ).replace(tzinfo=None)
        if spec.get("value") == "run_id":
            return RUN_ID
        parts = [row[c] for c in spec["uuid5"]]
        if None in parts:
            return None
        namespace = uuid.uuid5(NAMESPACE, spec["namespace"]) if spec.get("namespace") else NAMESPACE
        return str(uuid.uuid5(namespace, "\x1f".join(map(str, parts))))

    def recode(self, spec: dict[str, Any], v: Any) -> Any:
        codec = spec["recode"]
        if isinstance(v, str):
            raw = b""
            for ch in v:
                if ord(ch) <= 0xFF:
                    raw += bytes([ord(ch)])
                else:
                    try:
                        raw += ch.encode("cp1252")
                    except UnicodeEncodeError:
                        raise Refused(f"{v!r} holds characters latin1 has not, so it is no {codec} text read as "
                                      f"latin1; remove 'recode: {codec}' if the source column was converted") from None
        elif isinstance(v, (bytes, bytearray, memoryview)):
            raw = bytes(v)
        else:
            return v
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError as exc:
            raise Refused(f"{v!r} is no {codec} text: byte {exc.start + 1} of it does not decode as {codec}; "
                          "fix the value in the source") from None
        # Chinese text: every character ASCII, an ideograph or a GB2312 sign, and at least half of
        # the ideographs GB2312's (the values drawn here hold no kana or Cyrillic, which GB2312 has)
        ideographs = [ch for ch in text if unicodedata.name(ch, "").startswith("CJK ")]
        common = [ch for ch in ideographs if _in_gb2312(ch)]
        # without an ideograph, only GB2312's signs: both bytes A1-FE
        signs = [ch for ch in text if not ch.isascii() and ch not in ideographs]
        if not all(gbk_sign(ch) for ch in signs) or 2 * len(common) < len(ideographs) or \
                (not ideographs and not all(min(ch.encode("gbk")) >= 0xA1 for ch in signs)):
            raise Refused(f"{v!r} is no {codec} text: read as {codec} it says {text!r}, which is not Chinese; it looks "
                          f"like real latin1 text: fix the value in the source, or remove 'recode: {codec}' if the "
                          "column holds such text")
        return text

    def pattern(self, spec: dict[str, Any], v: Any) -> Any:
        found = None if v is None else re.search(spec["pattern"], str(v))
        if found is None:
            return None
        return found.group(1) if found.re.groups else found.group(0)

    def map(self, spec: dict[str, Any], v: Any) -> Any:
        if v is None:
            return None
        if spec["map"] == "units":   # no spelling in this list names two codes
            table = {s.strip(): c.code for c in CODES["units"].codes for s in (c.code, c.label, *c.aliases)}
            label = "units"
        else:
            table, label = {str(k).strip(): code for k, code in spec["map"].items()}, "the inline map"
        text = str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
        if text.strip() in table:
            return table[text.strip()]
        unknown = spec.get("unknown", "reject")
        if unknown == "reject":
            raise Refused(f"{v!r} is not in code list {label}; add it (as a code or alias) to the code list, "
                          f"or set 'unknown:' on the column")
        return v if unknown == "keep" else unknown

    def cast(self, spec: dict[str, Any], v: Any) -> Any:
        if v is None:
            return None
        if spec["cast"] == "date":
            if isinstance(v, datetime):
                return local(v).date()
            if isinstance(v, date):
                return v
            if isinstance(v, str):
                return local(parse_moment(v)).date()
            raise Refused(f"{v!r} is not a date/time (cast: date)")
        if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
            return v
        if not isinstance(v, str):
            raise Refused(f"{v!r} is not a number (cast: number)")
        if v.strip() == "":
            return None
        try:
            number = Decimal(v.strip())
        except InvalidOperation:
            raise Refused(f"{v!r} is not a number (cast: number)") from None
        if number.is_nan():
            raise Refused(f"{v!r} is not a number (cast: number)")
        return number

    def round(self, spec: dict[str, Any], v: Any) -> Any:
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float, Decimal, str)):
            raise Refused(f"{v!r} is not a number to round")
        try:
            number = Decimal(str(v).strip())
        except InvalidOperation:
            raise Refused(f"{v!r} is not a number to round") from None
        if not number.is_finite():
            raise Refused(f"{v!r} is not a finite number")
        if number != 0 and number.adjusted() >= 1000:
            raise Refused(f"{v!r} is out of range: more than 1000 digits")
        with localcontext() as context:
            context.prec = 2000
            return number.quantize(Decimal(10) ** -spec["round"], rounding=ROUND_HALF_UP)

    def default(self, spec: dict[str, Any], v: Any) -> Any:
        return spec["default"] if v is None else v

    def format(self, spec: dict[str, Any], v: Any) -> Any:
        if v is None:
            return None
        moment = parse_moment(v) if isinstance(v, str) else v
        if not isinstance(moment, (datetime, date, time)):
            raise Refused(f"{v!r} is not a date/time to format")
        if isinstance(moment, datetime) and moment.tzinfo is not None:
            moment = local(moment).replace(tzinfo=TZ)
        return moment.strftime(spec["format"])

    def cast_to(self, target: TargetColumn, v: Any) -> Any:
        return getattr(self, f"cast_{target.kind}")(target, v)

    def measure(self, target: TargetColumn) -> Any:
        if target.length_unit == "char":
            return len
        if target.length_unit == "byte":
            return lambda text: len(text.encode(ENCODINGS[target.charset], "replace"))
        return self.text_length

    def truncated(self, text: str, length: int, measure: Any) -> str:
        cut = 0
        while cut < len(text) and measure(text[:cut + 1]) <= length:
            cut += 1
        while 0 < cut < len(text) and (joins_previous(text[cut]) or text[cut - 1] == "\u200d"):
            cut -= 1
        return text[:cut]

    def cast_str(self, target: TargetColumn, v: Any, truncate: bool = False) -> Any:
        if isinstance(v, (bytes, bytearray, memoryview)):
            raise Refused("binary value cannot go into a text column")
        if isinstance(v, datetime):
            v = local(v).isoformat(" ")
        elif isinstance(v, (date, time)):
            v = v.isoformat()
        elif isinstance(v, bool) or (isinstance(v, float) and v.is_integer()):
            v = str(int(v))
        else:
            v = str(v)
        measure = self.measure(target)
        if target.length is not None and measure(v) > target.length:
            if not truncate:
                unit = "characters" if measure is len else "bytes"
                raise Refused(f"text of {measure(v)} {unit} is longer than the column's {target.length}; to cut "
                              "such text to fit, set on_overflow: truncate on the column")
            v = self.truncated(v, target.length, measure)
            self.cuts += 1
        problem = self.unsupported_text(v, target.charset)
        if problem:
            raise Refused(problem)
        return v

    cast_text = cast_str

    def cast_int(self, target: TargetColumn, v: Any) -> Any:
        if target.minimum is not None:
            low, high = target.minimum, target.maximum
        elif target.precision is not None:
            low, high = -(10 ** target.precision - 1), 10 ** target.precision - 1
        else:
            low = high = None
        holds = ("out of range: the column holds whole numbers " +
                 (f"from {low} to {high}" if low is not None else "of at most 1000 digits"))
        if isinstance(v, int):
            if low is not None and not low <= int(v) <= high:
                raise Refused(f"{int(v)} is {holds}")
            return int(v) if isinstance(v, bool) or low is not None else v
        try:
            number = Decimal(str(v).strip())
        except (InvalidOperation, ValueError):
            raise Refused(f"{v!r} is not a whole number") from None
        if not number.is_finite():
            raise Refused(f"{v!r} is not a whole number")
        most = 1000 if low is None else len(str(max(-low, high)))
        if number != 0 and number.adjusted() + 1 > most:
            raise Refused(f"{v!r} is {holds}")
        if number != number.to_integral_value():
            raise Refused(f"{v!r} is not a whole number; to round it, set round: 0 on the column")
        if low is not None and not low <= int(number) <= high:
            raise Refused(f"{int(number)} is {holds}")
        return int(number)

    def cast_decimal(self, target: TargetColumn, v: Any) -> Any:
        try:
            number = v if isinstance(v, Decimal) else Decimal(str(v).strip())
        except (InvalidOperation, ValueError):
            raise Refused(f"{v!r} is not a number") from None
        if not number.is_finite():
            raise Refused(f"{v!r} is not a finite number")
        if target.precision is not None:
            room = target.precision - (target.scale or 0)
            if abs(number) >= 1 and len(str(int(abs(number)))) > room:
                raise Refused(f"{v} has more than {room} digits before the decimal point")
        if target.scale is not None and places(number) > target.scale:
            raise Refused(f"{v} has more than {target.scale} digits after the decimal point, which the column "
                          f"would round away; to round it, set round: {target.scale} on the column")
        return number

    def cast_float(self, target: TargetColumn, v: Any) -> Any:
        try:
            return float(v)
        except (TypeError, ValueError):
            raise Refused(f"{v!r} is not a number") from None
        except OverflowError:
            raise Refused(f"{v!r} is out of range of a floating-point column") from None

    def cast_datetime(self, target: TargetColumn, v: Any) -> Any:
        if isinstance(v, datetime):
            return local(v)
        if isinstance(v, date):
            return datetime.combine(v, time())
        if isinstance(v, str):
            return local(parse_moment(v))
        raise Refused(f"{v!r} is not a date/time")

    def cast_date(self, target: TargetColumn, v: Any) -> Any:
        if isinstance(v, datetime):
            moment = local(v)
        elif isinstance(v, date):
            return v
        elif isinstance(v, str):
            moment = parse_moment(v)
        else:
            raise Refused(f"{v!r} is not a date")
        if moment.time() != time(0):
            shown = v.isoformat(" ") if isinstance(v, datetime) else repr(v)
            raise Refused(f"{shown} is not a date: it has a time of day ({moment.time().isoformat()}), which a DATE "
                          "column would drop; to drop it, set cast: date on the column")
        return moment.date()

    def cast_time(self, target: TargetColumn, v: Any) -> Any:
        if isinstance(v, datetime):
            return v.time()
        if isinstance(v, time):
            return v
        if isinstance(v, str):
            try:
                return time.fromisoformat(v.strip())
            except ValueError:
                pass
        raise Refused(f"{v!r} is not a time of day")

    def cast_bytes(self, target: TargetColumn, v: Any) -> Any:
        if isinstance(v, (bytes, bytearray, memoryview)):
            return bytes(v)
        raise Refused(f"a {type(v).__name__} value cannot go into a binary column")

    def cast_bool(self, target: TargetColumn, v: Any) -> Any:
        if isinstance(v, bool):
            return v
        text = str(v).strip().lower()
        if text in ("1", "true", "t", "y", "yes", "是", "0", "false", "f", "n", "no", "否"):
            return text in ("1", "true", "t", "y", "yes", "是")
        raise Refused(f"{v!r} is not true or false")

    def cast_other(self, target: TargetColumn, v: Any) -> Any:
        return v

    def column(self, name: str, spec: dict[str, Any], target: TargetColumn, row: dict[str, Any]) -> Any:
        v = self.origin(name, spec, target, row)
        for key in STEP_KEYS:
            if key in spec:
                v = getattr(self, key)(spec, v)
        if v is None:
            if spec.get("required"):
                raise Refused("is NULL but the column is required")
            if not target.nullable:
                raise Refused("is NULL but the column is required (NOT NULL in the target)")
            return None
        if target.kind in ("str", "text"):
            return self.cast_str(target, v, truncate=spec.get("on_overflow") == "truncate")
        return self.cast_to(target, v)

    def test(self, value: Any, test: Any, out: dict[str, Any]) -> bool:
        if test is None:
            return value is None
        if not isinstance(test, dict):
            return value is not None and str(value) == str(test)
        return all(self.operator(value, op, arg, out) for op, arg in test.items())

    def operator(self, value: Any, op: str, arg: Any, out: dict[str, Any]) -> bool:
        if op == "matches":
            return value is not None and re.search(arg, str(value)) is not None
        if isinstance(arg, dict):              # {column: NAME}: compared with that column's value
            left, right = ordered(value), ordered(out[arg["column"]])
            if left is None or right is None or left[0] != right[0]:
                return False
            try:
                return {"gt": left[1] > right[1], "ge": left[1] >= right[1], "lt": left[1] < right[1],
                        "le": left[1] <= right[1]}[op]
            except TypeError:
                return False
        if op in ("in", "not_in"):
            listed = arg if isinstance(arg, list) else [arg]
            member = None in listed if value is None else str(value) in [str(a) for a in listed if a is not None]
            return member == (op == "in")
        if op == "not":
            return value is not None if arg is None else (value is None or str(value) != str(arg))
        try:
            number = Decimal(str(value))
        except (InvalidOperation, ValueError):
            return False
        if value is None or number.is_nan():
            return False
        bound = Decimal(str(arg))
        return {"gt": number > bound, "ge": number >= bound, "lt": number < bound, "le": number <= bound}[op]

    def rule(self, rule: dict[str, Any], out: dict[str, Any]) -> str | None:
        def spelled(cond: dict[str, Any]) -> str:
            return ", ".join(f"{c} {'is NULL' if t is None else t}" for c, t in cond.items())
        parts = []
        if "when" in rule:
            parts.append(f"when {spelled(rule['when'])}")
        if "require" in rule:
            parts.append(f"requires {', '.join(rule['require'])}")
        if "require_any" in rule:
            parts.append(f"requires one of {', '.join(rule['require_any'])}")
        if "check" in rule:
            parts.append(f"needs {spelled(rule['check'])}")
        if "matches" in rule:
            parts.append("needs " + ", ".join(f"{c} matches '{p}'" for c, p in rule["matches"].items()))
        text = rule.get("message") or "; ".join(parts)
        if not all(self.test(out[c], t, out) for c, t in rule.get("when", {}).items()):
            return None
        missing = [c for c in rule.get("require", ()) if out[c] is None or out[c] == ""]
        if missing:
            return f"rule: {text} (missing: {', '.join(missing)})"
        if rule.get("require_any") and all(out[c] is None or out[c] == "" for c in rule["require_any"]):
            return f"rule: {text} (none of: {', '.join(rule['require_any'])})"
        if not all(self.test(out[c], t, out) for c, t in rule.get("check", {}).items()):
            return f"rule: {text}"
        wrong = [c for c, p in rule.get("matches", {}).items()
                 if out[c] is not None and re.search(p, str(out[c])) is None]
        if wrong:
            return f"rule: {text} (not matching: {', '.join(wrong)})"
        return None

    def row(self, mapping: dict[str, Any], targets: dict[str, TargetColumn],
            row: dict[str, Any]) -> tuple[tuple[Any, ...] | None, tuple[str | None, str] | None]:
        out = {}
        cuts = self.cuts
        for name, spec in mapping["columns"].items():
            try:
                out[name] = self.column(name, spec, targets[name], row)
            except Refused as exc:
                self.cuts = cuts            # a reject's cuts are not counted
                return None, (name, f"{name}: {exc}")
        for rule in mapping["rules"]:
            reason = self.rule(rule, out)
            if reason:
                self.cuts = cuts
                return None, (None, reason)
        return tuple(out.values()), None


# -- the property -------------------------------------------------------------------------------------

def same(a: Any, b: Any) -> bool:
    """Equal values of the same type, written alike: a NaN equals the same NaN, and -0.0 is not
    0.0 nor Decimal('1.50') Decimal('1.5') (what is sent differs)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (float, Decimal)):
        return repr(a) == repr(b)
    return bool(a == b)


def utf8_length(text: str) -> int:
    return len(text.encode("utf-8"))


def no_charset_limit(value: str, charset: str | None) -> str | None:
    return None


def row_mapper(mapping: dict[str, Any], targets: dict[str, TargetColumn], text_length: Any = len,
               unsupported_text: Any = no_charset_limit) -> RowMapper:
    """The fast path under test: the mapper of a mapping ``m`` from ``s`` (key id, cursor ts)."""
    spec = Mapping_.model_validate({"name": "m", "source": {"table": "s", "key": ["id"], "cursor": "ts"},
                                    "target": {"table": "t", "key": ["id"]}, **mapping})
    table = TableMapping(spec=spec, file=Path("m.yaml"), batch_size=100, lookback=0, lag=timedelta(0),
                         null_cursor="include", schedule=None)
    return RowMapper(table, layout(table), targets, CODES, now=NOW, run_id=RUN_ID, tz=TZ, text_length=text_length,
                     unsupported_text=unsupported_text)


def check(case: tuple[dict[str, Any], dict[str, TargetColumn], list[dict[str, Any]]], text_length: Any,
          unsupported_text: Any) -> None:
    mapping, targets, rows = case
    mapper = row_mapper(mapping, targets, text_length, unsupported_text)
    batch = mapper.map_batch([tuple(row[n] for n in mapper.layout.names) for row in rows])

    reference = Reference(text_length, unsupported_text)
    expected_rows, expected_rejects = [], []
    for row in rows:
        values, refused = reference.row(mapping, targets, row)
        if refused is None:
            expected_rows.append(values)
        else:
            expected_rejects.append(((row["id"],), *refused))
    assert [(r.key, r.column, r.reason) for r in batch.rejects] == expected_rejects
    assert mapper.truncated == reference.cuts
    assert len(batch.rows) == len(expected_rows)
    for got, want in zip(batch.rows, expected_rows, strict=True):
        assert all(same(g, w) for g, w in zip(got, want, strict=True)), (got, want)


contexts = st.sampled_from([(len, no_charset_limit), (utf8_length, no_charset_limit),
                            (len, dialect("mysql").unsupported_text), (len, dialect("postgresql").unsupported_text)])


@settings(max_examples=600, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(with_rules=False), context=contexts)
def test_the_fast_path_maps_columns_as_the_reference_does(case, context):
    check(case, *context)


@settings(max_examples=250, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(with_rules=True), context=contexts)
def test_the_fast_path_applies_rules_as_the_reference_does(case, context):
    check(case, *context)


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=narrowing_cases(), context=contexts)
def test_truncating_rounding_and_narrowing_as_the_reference_does(case, context):
    check(case, *context)


class Whole(int):
    """An int of another type (a driver's own): not the plain int the inline test takes."""


@st.composite
def numbers_near_the_edges(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, TargetColumn], list[dict[str, Any]]]:
    """One DECIMAL(p, s) column (s up to 6, so that exponents meet short scales too) and the
    numbers SQLite hands over for it: floats of a few places and whole numbers at its edges."""
    precision = draw(st.none() | st.integers(1, 12))
    # a negative scale too: Oracle's NUMBER(p, -s) rounds to tens, hundreds ...
    scale = draw(st.integers(-2, min(6, precision if precision is not None else 6)))
    digits = (precision or 12) - scale
    edge = st.sampled_from([digits - 1, digits, digits + 1]).filter(lambda n: n >= 0)
    numbers = st.one_of(
        edge.flatmap(lambda n: st.sampled_from([10**n - 1, 10**n, -10**n, 1 - 10**n, 10**n + 0.5, 10.0**n - 0.5])),
        st.integers(-(10 ** digits), 10 ** digits),
        st.tuples(edge, st.integers(0, max(scale, 0) + 1)).flatmap(
            lambda t: st.floats(-10.0 ** t[0], 10.0 ** t[0]).map(lambda f: round(f, t[1]))),
        st.sampled_from([0.5, -0.5, -0.0, 0.0, 1e-05, 1.5e-07, 1.5e16, 2.5e+20, 1e16, float("inf"), float("nan"),
                         True, False, Whole(3), Whole(-1)]))
    rows = [{"id": i, "ts": NOW, "a": draw(numbers)} for i in range(draw(st.integers(1, 8)))]
    return ({"columns": {"id": {"from": "id"}, "n": {"from": "a"}}, "rules": []},
            {"id": TargetColumn("id", "int", False), "n": TargetColumn("n", "decimal", precision=precision, scale=scale)},
            rows)


@settings(max_examples=500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=numbers_near_the_edges())
def test_numbers_into_a_decimal_column_as_the_reference_does(case):
    check(case, len, no_charset_limit)


@st.composite
def moments_into_a_datetime_column(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, TargetColumn],
                                                               list[dict[str, Any]]]:
    """One DATETIME column and what sources hand over for it: ISO text (SQLite's), with and without
    an offset, other layouts, text that is no date, aware and naive datetimes, dates."""
    spec: dict[str, Any] = {"from": "a", **({"required": True} if draw(st.booleans()) else {})}
    moment_values = st.one_of(moment_texts, moments.map(str), moments.map(lambda m: m.isoformat()), moments,
                              edge_moments, edge_moments.map(str), st.dates(min_value=date(1970, 1, 2)),
                              st.none(), texts)
    rows = [{"id": i, "ts": NOW, "a": draw(moment_values)} for i in range(draw(st.integers(1, 8)))]
    return ({"columns": {"id": {"from": "id"}, "m": spec}, "rules": []},
            {"id": TargetColumn("id", "int", False), "m": TargetColumn("m", "datetime")}, rows)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=moments_into_a_datetime_column())
def test_moments_into_a_datetime_column_as_the_reference_does(case):
    check(case, len, no_charset_limit)


def datetime_mapper(texts: dict[datetime, str]) -> RowMapper:
    spec = Mapping_.model_validate({"name": "m", "source": {"table": "s", "key": ["id"], "cursor": "ts"},
                                    "target": {"table": "t", "key": ["id"]},
                                    "columns": {"id": {"from": "id"}, "m": {"from": "a"}}})
    table = TableMapping(spec=spec, file=Path("m.yaml"), batch_size=100, lookback=0, lag=timedelta(0),
                         null_cursor="include", schedule=None)
    targets = {"id": TargetColumn("id", "int", False), "m": TargetColumn("m", "datetime")}
    return RowMapper(table, layout(table), targets, CODES, now=NOW, run_id=RUN_ID, tz=TZ, datetime_texts=texts)


@settings(max_examples=400, deadline=None, database=None)
@given(moment=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
       changes=st.lists(st.tuples(st.integers(0, 25), st.sampled_from("0123456789-:. TW,+Z_T")), max_size=3))
def test_a_datetime_keeps_only_the_one_text_it_is_stored_as(moment, changes):
    """What the mapper keeps for SQLite's writer (``datetime_texts``) is always the value's own
    'YYYY-MM-DD HH:MM:SS.ffffff', whatever other ISO spellings of it (or of other values) it reads."""
    text = moment.isoformat(" ", "microseconds")
    for at, ch in changes:
        text = text[:at] + ch + text[at + 1:]
    texts: dict[datetime, str] = {}
    mapper = datetime_mapper(texts)

    def rows(*values: str) -> list[tuple[Any, ...]]:
        return [tuple({"id": i, "ts": NOW, "a": v}[n] for n in mapper.layout.names) for i, v in enumerate(values)]

    batch = mapper.map_batch(rows(text, "2026-W48-5 15:08:19.000000", "2026-11-27T15:08:19.000000",
                                  "2026-11-27 15:08:19,000000"))
    assert all(kept == value.isoformat(" ", "microseconds") for value, kept in texts.items())
    assert (text in texts.values()) is (any(row[1].isoformat(" ", "microseconds") == text for row in batch.rows))
    assert len(texts) <= 1
    mapper.map_batch(rows("2026-01-02 03:04:05.000006"))     # the next batch: only its own
    assert texts == {datetime(2026, 1, 2, 3, 4, 5, 6): "2026-01-02 03:04:05.000006"}


def test_the_random_mappings_cover_every_kind_origin_step_and_operator():
    """A kind, origin, step or operator added to syncd must be added to the strategies above too."""
    assert set(KINDS) == set(get_args(Kind))
    assert list(STEP_KEYS) == [step.key for step in STEPS]
    assert set(get_args(get_args(ColumnSpec.model_fields["cast"].annotation)[0])) == {"date", "number"}
    assert set(get_args(Overflow)) == {"reject", "truncate"}
    assert set(RuleSpec.model_fields) == {"when", "require", "require_any", "check", "matches", "message"}
    assert set(ORIGINS) == {"from", "expr", "const", "value", "uuid5"}
    assert {op for t in TESTS if isinstance(t, dict) for op in t} == set(OPERATORS)


def test_a_float_decimal_remembered_is_the_one_its_text_gives_and_the_memo_is_bounded():
    """The row function remembers the Decimal of each float it cast into a DECIMAL column: a
    value met again gives the same Decimal, written alike (not 1.5 for 1.50, nor 0.0 for -0.0),
    whole numbers are not taken for the floats they equal, and the memo keeps FLOAT_MEMO at most."""
    from syncd import transform

    values = [0.5, -0.0, 0.0, -0.0, 0.5, 1.25, 1.25, 3, 3.0, 3, True, 1.0, -2.5, -2.5, 12.34]
    case = ({"columns": {"id": {"from": "id"}, "n": {"from": "a"}}, "rules": []},
            {"id": TargetColumn("id", "int", False), "n": TargetColumn("n", "decimal", precision=5, scale=2)},
            [{"id": i, "ts": NOW, "a": v} for i, v in enumerate(values)])
    check(case, len, no_charset_limit)

    mapping, targets, _rows = case
    mapper = row_mapper(mapping, targets)
    many = [i / 100 for i in range(1, transform.FLOAT_MEMO + 50)]
    batch = mapper.map_batch([tuple({"id": i, "ts": NOW, "a": v}[n] for n in mapper.layout.names)
                              for i, v in enumerate(many)])
    assert [repr(row[1]) for row in batch.rows] == [repr(Decimal(repr(v))) for v in many]
    memo = mapper._map_row.__globals__["m1"]
    assert 0 < len(memo) <= transform.FLOAT_MEMO
