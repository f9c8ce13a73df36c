"""The mapping language for real province schemas, without a database: rule kinds, truncation,
narrowing casts, blocks of columns, the definition hash, and every new key checked when the file
loads (with file, line and key)."""

from __future__ import annotations

import textwrap
import time
import unicodedata
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.dialects import mysql, oracle, postgresql

from syncd import cli
from syncd.config import load_config
from syncd.errors import MappingError
from syncd.mapping import Mapping_, TableMapping, definition_change, load_mappings
from syncd.plan import layout
from syncd.transform import (
    Reject,
    RowMapper,
    TargetColumn,
    chinese_text,
    integer_range,
    misread_text,
    target_column,
    target_columns,
    truncate_text,
)

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=timezone.utc)
TZ = ZoneInfo("Asia/Shanghai")


def mapper(columns: dict, targets: dict, rules=(), **kw) -> RowMapper:
    spec = Mapping_.model_validate({
        "name": "m", "source": {"table": "s", "key": ["id"], "cursor": "ts"},
        "target": {"table": "t", "key": ["id"]}, "columns": {"id": {"from": "id"}, **columns},
        "rules": list(rules)})
    mapping = TableMapping(spec=spec, file=Path("m.yaml"), batch_size=10, lookback=0, lag=timedelta(0),
                           null_cursor="include", schedule=None)
    return RowMapper(mapping, layout(mapping), {"id": TargetColumn("id", "int", False), **targets}, {}, now=NOW,
                     run_id="run-1", tz=TZ, **kw)


def one(m: RowMapper, **row):
    batch = m.map_batch([tuple(row.get(n) for n in m.layout.names)])
    if batch.rejects:
        return batch.rejects[0]
    return dict(zip(m.columns, batch.rows[0], strict=True))


# -- rule kinds ----------------------------------------------------------------------------------

TEXT = {c: TargetColumn(c, "text") for c in ("mobile", "phone", "state")}


def test_require_any_needs_one_filled_and_keeps_its_message():
    m = mapper({c: {"from": c} for c in TEXT}, TEXT,
               rules=[{"require_any": ["mobile", "phone"], "message": "必须有手机号或固定电话"}])
    assert one(m, id=1, mobile=None, phone="").reason == "rule: 必须有手机号或固定电话 (none of: mobile, phone)"
    assert one(m, id=2, mobile=None, phone="0391-1234567")["phone"] == "0391-1234567"
    m = mapper({c: {"from": c} for c in TEXT}, TEXT, rules=[{"require_any": ["mobile", "phone"]}])
    assert one(m, id=3).reason == "rule: requires one of mobile, phone (none of: mobile, phone)"


def test_matches_rejects_with_its_message_and_lets_null_pass():
    m = mapper({c: {"from": c} for c in TEXT}, TEXT,
               rules=[{"matches": {"mobile": r"^1\d{10}$", "state": "^[0-9]$"}, "message": "手机号必须是11位数字"}])
    assert one(m, id=1, mobile="1391234567", state="x").reason == "rule: 手机号必须是11位数字 (not matching: mobile, state)"
    assert one(m, id=2, mobile="13912345678", state="9")["mobile"] == "13912345678"
    assert one(m, id=3, mobile=None)["mobile"] is None
    m = mapper({c: {"from": c} for c in TEXT}, TEXT, rules=[{"when": {"state": "1"}, "matches": {"mobile": "^1"}}])
    assert one(m, id=4, state="1", mobile="2").reason == "rule: when state 1; needs mobile matches '^1' (not matching: mobile)"
    assert one(m, id=5, state="2", mobile="2")["mobile"] == "2"


def test_matches_as_a_test_of_a_condition():
    m = mapper({c: {"from": c} for c in TEXT}, TEXT,
               rules=[{"when": {"state": {"matches": "^9"}}, "require": ["mobile"], "message": "m"}])
    assert one(m, id=1, state="91").reason == "rule: m (missing: mobile)"
    assert one(m, id=2, state=None)["state"] is None      # NULL matches nothing: the rule does not apply


@pytest.mark.parametrize(("start", "end", "passes"), [
    (date(2026, 1, 1), date(2026, 1, 2), True),
    (date(2026, 1, 2), date(2026, 1, 2), True),
    (date(2026, 1, 3), date(2026, 1, 2), False),
    (datetime(2026, 1, 2, 8, 0), date(2026, 1, 2), False),        # a date is its midnight
    (None, date(2026, 1, 2), False),                              # NULL on either side fails
    (date(2026, 1, 1), None, False),
])
def test_a_column_compared_with_another_date_column(start, end, passes):
    targets = {"stop_start": TargetColumn("stop_start", "datetime"), "stop_end": TargetColumn("stop_end", "date")}
    m = mapper({"stop_start": {"from": "a"}, "stop_end": {"from": "b"}}, targets,
               rules=[{"check": {"stop_end": {"ge": {"column": "stop_start"}}}, "message": "停用结束时间不能早于开始时间"}])
    result = one(m, id=1, a=start, b=end)
    assert (not hasattr(result, "reason")) is passes
    if not passes:
        assert result.reason == "rule: 停用结束时间不能早于开始时间"


def test_a_column_compared_with_another_number_column_and_text():
    targets = {"low": TargetColumn("low", "decimal", precision=6, scale=2), "high": TargetColumn("high", "text")}
    m = mapper({"low": {"from": "a"}, "high": {"from": "b"}}, targets,
               rules=[{"check": {"high": {"gt": {"column": "low"}}}}])
    assert one(m, id=1, a="1.50", b="2")["high"] == "2"
    assert one(m, id=2, a="1.50", b="1.5").reason == "rule: needs high {'gt': {'column': 'low'}}"
    assert one(m, id=3, a="1.50", b="2026-01-02").reason.startswith("rule: ")      # a date and a number: no order


def test_every_rule_kind_keeps_its_message():
    rules = [{"require": ["mobile"], "message": "a"}, {"require_any": ["phone", "state"], "message": "b"},
             {"check": {"state": {"in": ["1"]}}, "message": "c"}, {"matches": {"mobile": "^1"}, "message": "d"}]
    m = mapper({c: {"from": c} for c in TEXT}, TEXT, rules=rules)
    assert one(m, id=1).reason == "rule: a (missing: mobile)"
    assert one(m, id=2, mobile="1").reason == "rule: b (none of: phone, state)"
    assert one(m, id=3, mobile="1", state="2").reason == "rule: c"
    assert one(m, id=4, mobile="2", state="1").reason == "rule: d (not matching: mobile)"


# -- on_overflow ---------------------------------------------------------------------------------

def test_truncate_cuts_characters_and_counts_only_rows_written():
    targets = {"name": TargetColumn("name", "str", length=4), "n": TargetColumn("n", "int")}
    m = mapper({"name": {"from": "name", "on_overflow": "truncate"}, "n": {"from": "n"}}, targets)
    assert m.layout.names == ("id", "ts", "name", "n")
    batch = m.map_batch([(1, NOW, "隐患排查治理", 1), (2, NOW, "短", 2), (3, NOW, "隐患排查治理台账", "x")])
    assert [r[1] for r in batch.rows] == ["隐患排查", "短"]
    assert [r.key for r in batch.rejects] == [(3,)]          # cut, then rejected by another column: not counted
    assert m.truncations == {"name": 1} and m.truncated == 1
    m.map_batch([(4, NOW, "abcdef", 4)])
    assert m.truncated == 2


def test_without_truncate_text_too_long_is_a_reject_that_says_how_to_cut_it():
    m = mapper({"name": {"from": "name"}}, {"name": TargetColumn("name", "str", length=4)})
    assert one(m, id=1, name="隐患排查治理").reason == (
        "name: text of 6 characters is longer than the column's 4; to cut such text to fit, set on_overflow: "
        "truncate on the column")


def test_truncate_by_bytes_for_a_byte_length_column():
    """Oracle's VARCHAR2(n BYTE) in AL32UTF8: each of these characters takes 3 bytes."""
    byte_column = TargetColumn("name", "str", length=10, charset="AL32UTF8", length_unit="byte")
    m = mapper({"name": {"from": "name", "on_overflow": "truncate"}}, {"name": byte_column})
    assert one(m, id=1, name="隐患排查治理")["name"] == "隐患排"            # 9 bytes; a 4th would make 12
    assert one(m, id=2, name="ab隐患排查")["name"] == "ab隐患"
    m = mapper({"name": {"from": "name"}}, {"name": byte_column})
    assert "text of 18 bytes is longer than the column's 10" in one(m, id=3, name="隐患排查治理").reason


def test_the_dialect_measure_counts_when_the_column_does_not_say():
    utf8 = lambda text: len(text.encode("utf-8"))  # noqa: E731
    m = mapper({"name": {"from": "name", "on_overflow": "truncate"}}, {"name": TargetColumn("name", "str", length=7)},
               text_length=utf8)
    assert one(m, id=1, name="隐患排查")["name"] == "隐患"


@pytest.mark.parametrize(("text", "length", "cut"), [
    ("e\u0301e\u0301e\u0301", 3, "e\u0301"),              # never between a letter and its accent
    ("👍🏽👍🏽", 3, "👍🏽"),                                # nor between an emoji and its skin tone
    ("a\u200db", 2, ""),                                 # nor around a zero-width joiner
    ("abc", 5, "abc"),
])
def test_truncation_never_splits_a_character(text, length, cut):
    assert truncate_text(text, length) == cut
    assert truncate_text(text, length * 4, lambda v: len(v.encode("utf-8"))) == truncate_text(
        text, length * 4, lambda v: len(v.encode("utf-8")))


def test_a_constant_cut_to_fit_is_counted_per_row():
    m = mapper({"area": {"const": "410922000000", "on_overflow": "truncate"}},
               {"area": TargetColumn("area", "str", length=6)})
    batch = m.map_batch([(1, NOW), (2, NOW)])
    assert [r[1] for r in batch.rows] == ["410922", "410922"] and m.truncated == 2


# -- narrowing -----------------------------------------------------------------------------------

def test_a_time_of_day_into_a_date_column_is_a_reject_unless_cast_date():
    m = mapper({"day": {"from": "v"}}, {"day": TargetColumn("day", "date")})
    assert one(m, id=1, v=datetime(2026, 1, 2))["day"] == date(2026, 1, 2)
    assert one(m, id=2, v="2026-01-02 00:00:00")["day"] == date(2026, 1, 2)
    reason = one(m, id=3, v=datetime(2026, 1, 2, 14, 30)).reason
    assert reason == ("day: 2026-01-02 14:30:00 is not a date: it has a time of day (14:30:00), which a DATE column "
                      "would drop; to drop it, set cast: date on the column")
    assert "cast: date" in one(m, id=4, v="2026-01-02 14:30").reason
    m = mapper({"day": {"from": "v", "cast": "date"}}, {"day": TargetColumn("day", "date")})
    assert one(m, id=5, v=datetime(2026, 1, 2, 14, 30))["day"] == date(2026, 1, 2)
    assert one(m, id=6, v=datetime(2026, 1, 2, 20, 0, tzinfo=timezone.utc))["day"] == date(2026, 1, 3)  # in Shanghai


def test_more_decimal_places_than_the_column_is_a_reject_unless_round():
    target = {"cost": TargetColumn("cost", "decimal", precision=12, scale=2)}
    m = mapper({"cost": {"from": "v"}}, target)
    assert one(m, id=1, v=Decimal("12.50"))["cost"] == Decimal("12.50")
    assert one(m, id=2, v=Decimal("12.5000"))["cost"] == Decimal("12.5000")   # the extra places are zeros
    assert one(m, id=3, v=Decimal("0.000"))["cost"] == Decimal("0")
    assert one(m, id=4, v="12.345").reason == ("cost: 12.345 has more than 2 digits after the decimal point, which "
                                               "the column would round away; to round it, set round: 2 on the column")
    assert "round: 2" in one(m, id=5, v=0.1 + 0.2).reason
    m = mapper({"cost": {"from": "v", "round": 2}}, target)
    assert one(m, id=6, v="12.345")["cost"] == Decimal("12.35")                  # half up
    assert one(m, id=7, v=-2.675)["cost"] == Decimal("-2.68")
    assert one(m, id=8, v="abc").reason == "cost: 'abc' is not a number to round"


def test_a_fraction_into_a_whole_number_column_is_a_reject_unless_round_0():
    m = mapper({"n": {"from": "v"}}, {"n": TargetColumn("n", "int")})
    assert one(m, id=1, v="2.5").reason == "n: '2.5' is not a whole number; to round it, set round: 0 on the column"
    m = mapper({"n": {"from": "v", "round": 0}}, {"n": TargetColumn("n", "int")})
    assert one(m, id=2, v="2.5")["n"] == 3 and one(m, id=3, v=Decimal("-2.5"))["n"] == -3


def test_cast_number_reads_text_and_turns_empty_text_into_null():
    m = mapper({"n": {"from": "v", "cast": "number", "default": 0}}, {"n": TargetColumn("n", "decimal")})
    assert one(m, id=1, v=" 12.5 ")["n"] == Decimal("12.5")
    assert one(m, id=2, v="  ")["n"] == Decimal("0")
    assert one(m, id=3, v="十二").reason == "n: '十二' is not a number (cast: number)"


def test_text_too_big_for_any_whole_number_column_is_out_of_range_at_once():
    m = mapper({"n": {"from": "v"}}, {"n": TargetColumn("n", "int")})
    started = time.monotonic()
    reason = one(m, id=1, v="1e400000000").reason
    assert time.monotonic() - started < 1
    assert reason == "n: '1e400000000' is out of range: the column holds whole numbers of at most 1000 digits"
    m = mapper({"n": {"from": "v", "round": 0}}, {"n": TargetColumn("n", "int")})
    assert "out of range" in one(m, id=2, v="1e400000000").reason


@pytest.mark.parametrize("kind", ["datetime", "date", "str", "text"])
def test_an_aware_moment_outside_the_years_1_to_9999_in_the_run_s_zone_is_a_reject(kind):
    early = datetime(1, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=10)))     # year 0 in Asia/Shanghai
    m = mapper({"c": {"from": "v"}}, {"c": TargetColumn("c", kind)})
    reason = one(m, id=1, v=early).reason
    assert reason.startswith("c: 0001-01-01T01:00:00+10:00 is not a date/time this column can hold")
    m = mapper({"c": {"from": "v", "format": "%Y"}}, {"c": TargetColumn("c", "text")})
    assert "falls outside the years 1 to 9999" in one(m, id=2, v=datetime(9999, 12, 31, 20, tzinfo=timezone.utc)).reason


@pytest.mark.parametrize(("sa_type", "bounds"), [
    (sa.Integer(), (-2**31, 2**31 - 1)),
    (sa.SmallInteger(), (-2**15, 2**15 - 1)),
    (sa.BigInteger(), (-2**63, 2**63 - 1)),
    (mysql.TINYINT(unsigned=True), (0, 255)),
    (mysql.MEDIUMINT(), (-2**23, 2**23 - 1)),
    (mysql.INTEGER(unsigned=True), (0, 2**32 - 1)),
    (oracle.NUMBER(5, 0), (-99999, 99999)),
    (postgresql.NUMERIC(3, 0), (-999, 999)),
    (sa.Numeric(10, 2), None),
    (sa.String(10), None),
])
def test_the_range_of_reflected_whole_number_types(sa_type, bounds):
    assert integer_range(sa_type) == bounds
    assert integer_range(sa.Integer(), wide=True) == (-2**63, 2**63 - 1)            # SQLite
    assert target_column("c", sa_type).integer_range() == bounds


def test_a_whole_number_outside_the_column_s_range_is_a_reject_naming_the_column():
    m = mapper({"n": {"from": "v"}, "s": {"from": "w"}},
               {"n": target_column("n", sa.Integer()), "s": target_column("s", oracle.NUMBER(3, 0))})
    assert one(m, id=1, v=2**31 - 1, w=999)["n"] == 2**31 - 1
    assert one(m, id=2, v=2**31, w=1).reason == (
        "n: 2147483648 is out of range: the column holds whole numbers from -2147483648 to 2147483647")
    assert one(m, id=3, v="-2147483649", w=1).reason.startswith("n: -2147483649 is out of range")
    assert one(m, id=4, v=1, w="1000").reason.startswith("s: '1000' is out of range")
    assert one(m, id=5, v=1, w=True)["s"] == 1


def test_oracle_columns_as_reflected_check_ranges_and_byte_lengths_before_the_write():
    """Stand-ins for what Target.columns reads from an Oracle target: the reflected columns, the
    database character set of each text column (column_charsets) and CHAR_USED (column_length_units)."""
    reflected = [{"name": "id", "type": oracle.NUMBER(10, 0), "nullable": False},
                 {"name": "n", "type": oracle.NUMBER(3, 0), "nullable": True},
                 {"name": "utf8_bytes", "type": oracle.VARCHAR2(10), "nullable": True},
                 {"name": "gbk_bytes", "type": oracle.VARCHAR2(10), "nullable": True},
                 {"name": "chars", "type": oracle.VARCHAR2(5), "nullable": True}]
    charsets = {"utf8_bytes": "AL32UTF8", "gbk_bytes": "ZHS16GBK", "chars": "AL32UTF8"}
    units = {"utf8_bytes": "byte", "gbk_bytes": "byte", "chars": "char"}
    targets = target_columns(reflected, charsets, units)
    assert targets["n"].integer_range() == (-999, 999) and targets["gbk_bytes"].length_unit == "byte"
    m = mapper({"n": {"from": "n"}, "utf8_bytes": {"from": "a"}, "gbk_bytes": {"from": "b"}, "chars": {"from": "c"}},
               targets)
    fine = one(m, id=1, n=999, a="隐患排", b="隐患排查治", c="隐患排查治")     # 9 UTF-8 bytes, 10 GBK bytes, 5 characters
    assert (fine["n"], fine["gbk_bytes"], fine["chars"]) == (999, "隐患排查治", "隐患排查治")
    assert one(m, id=2, n=1000, a="", b="", c="").reason.startswith("n: 1000 is out of range")
    assert one(m, id=3, n=1, a="隐患排查", b="", c="").reason.startswith(
        "utf8_bytes: text of 12 bytes is longer than the column's 10")
    assert one(m, id=4, n=1, a="", b="隐患排查治理", c="").reason.startswith(
        "gbk_bytes: text of 12 bytes is longer than the column's 10")
    assert one(m, id=5, n=1, a="", b="", c="隐患排查治理").reason.startswith(
        "chars: text of 6 characters is longer than the column's 5")


def test_an_oracle_integer_holds_38_digits_as_its_number_does():
    """SQLAlchemy reflects Oracle's INTEGER, SMALLINT and NUMBER(*,0) as a plain INTEGER(); on Oracle
    they are NUMBER(38,0), so 3 000 000 000 fits. DM8's INTEGER is 32 bits, its BIGINT 64."""
    from syncd import dialects

    reflected = [{"name": "id", "type": sa.INTEGER(), "nullable": False},
                 {"name": "n", "type": oracle.NUMBER(10, 0), "nullable": True}]
    oracle_cols = target_columns(reflected, {}, {}, reflected_type=dialects.get("oracle").reflected_type)
    assert oracle_cols["id"].integer_range() == (-(10 ** 38 - 1), 10 ** 38 - 1)
    assert oracle_cols["n"].integer_range() == (-(10 ** 10 - 1), 10 ** 10 - 1)
    m = mapper({"n": {"from": "n"}}, oracle_cols)
    assert one(m, id=3_000_000_000, n=1)["id"] == 3_000_000_000
    assert one(m, id=10 ** 38, n=1).reason.startswith("id: 100000000000000000000000000000000000000 is out of range")
    dm = dialects.get("dm").reflected_type
    dm_cols = target_columns([{"name": "id", "type": sa.INTEGER()}, {"name": "b", "type": sa.BIGINT()}], {}, {},
                             reflected_type=dm)
    assert dm_cols["id"].integer_range() == (-2 ** 31, 2 ** 31 - 1)
    assert dm_cols["b"].integer_range() == (-2 ** 63, 2 ** 63 - 1)


def test_sqlite_integers_are_64_bits_whatever_their_declared_type():
    [col] = target_columns([{"name": "n", "type": sa.SmallInteger()}], {}, {}, wide_integers=True).values()
    assert col.integer_range() == (-2 ** 63, 2 ** 63 - 1)


def _as_mysql_latin1(text: str) -> str:
    """``text`` in GBK, as a MySQL latin1 column hands the bytes out (Windows-1252, and the five
    bytes it leaves undefined as the characters of those numbers)."""
    out = []
    for byte in text.encode("gbk"):
        try:
            out.append(bytes([byte]).decode("cp1252"))
        except UnicodeDecodeError:
            out.append(chr(byte))
    return "".join(out)


def test_recode_repairs_gbk_text_read_as_latin1():
    m = mapper({"title": {"from": "title", "recode": "gbk"}}, {"title": TargetColumn("title", "text")})
    misread = _as_mysql_latin1("丂隐患排查")                 # 丂 is 0x81 0x40: a byte Windows-1252 leaves undefined
    assert "\x81" in misread
    assert one(m, id=1, title=misread)["title"] == "丂隐患排查"
    assert one(m, id=2, title="隐患排查".encode("gbk"))["title"] == "隐患排查"         # a binary column
    assert one(m, id=3, title="plain")["title"] == "plain"
    assert one(m, id=4, title=None)["title"] is None
    assert one(m, id=5, title="隐患").reason.startswith("title: '隐患' holds characters latin1 has not")
    assert one(m, id=6, title="\xff\xff").reason == (
        "title: 'ÿÿ' is no gbk text: byte 1 of it does not decode as gbk; fix the value in the source")


LATIN1_WORDS = ["Müller", "São Paulo", "naïve", "Ångström", "Zürich", "Français", "©Sony", "©Apple",
                "©Microsoft 2024", "Logo©Nokia", "©ps", "¨Test"]


@pytest.mark.parametrize("word", LATIN1_WORDS)
def test_recode_rejects_real_latin1_text_instead_of_mangling_it(word):
    m = mapper({"title": {"from": "title", "recode": "gbk"}}, {"title": TargetColumn("title", "text")})
    reject = one(m, id=1, title=word)
    assert isinstance(reject, Reject) and reject.column == "title", reject
    assert reject.reason.startswith(f"title: {word!r} is no gbk text: read as gbk it says ")
    assert "not Chinese" in reject.reason
    assert misread_text(word) is None


@pytest.mark.parametrize("text", ["隐患排查治理", "丂隐患排查", "王堃", "（一）风险点：重大，温度≥30℃。",
                                  "①检查“消防通道”…", "２０２６年 第Ⅲ季度", "罐区面积 120㎡，储量 5㎏", "爱新觉罗·溥仪",
                                  "ⅰ类﹑ⅱ类", "声调 ˉˊˇˋ˙", "弧形⌒"])
def test_recode_repairs_real_gbk_text_with_punctuation_and_rare_characters(text):
    m = mapper({"title": {"from": "title", "recode": "gbk"}}, {"title": TargetColumn("title", "text")})
    assert one(m, id=1, title=_as_mysql_latin1(text))["title"] == text
    assert misread_text(_as_mysql_latin1(text)) == text


def test_every_sign_of_gbks_rows_of_signs_reads_as_chinese_and_kana_cyrillic_and_pinyin_do_not():
    """The signs GBK encodes in its rows of them (A1-A3, A6, A9, the symbols at the start of A8)
    are what Chinese text holds besides ideographs: each one beside an ideograph is Chinese text,
    and alone when it is GB2312's (both bytes A1-FE; a sign of GBK's extension alone is what a
    latin1 sign and an ASCII letter make: '©S' reads '㏒'); the kana (A4, A5 and the marks in A9),
    Cyrillic (A7) and the pinyin and bopomofo letters (A8) are not Chinese text either way."""
    signs, others = [], []
    for lead in range(0xA1, 0xAA):
        for trail in range(0x40, 0xFF):
            try:
                ch = bytes([lead, trail]).decode("gbk")
            except UnicodeDecodeError:
                continue
            name = unicodedata.name(ch, "")
            sign = (lead in (0xA1, 0xA2, 0xA3, 0xA6, 0xA9) or (lead == 0xA8 and trail < 0xA1)) \
                and "HIRAGANA" not in name and "KATAKANA" not in name
            (signs if sign else others).append(ch)
    assert len(signs) > 500 and len(others) > 300
    assert [ch for ch in signs if not chinese_text("区" + ch)] == []
    assert [ch for ch in others if chinese_text("区" + ch)] == []
    alone = [ch for ch in signs if chinese_text(ch)]
    assert alone == [ch for ch in signs if min(ch.encode("gbk")) >= 0xA1]
    assert len(alone) > 400 and {"·", "①", "℃", "（", "ⅰ"} <= set(alone)
    assert not {"㏒", "㎡", "﹑", "〢"} & set(alone)


@pytest.mark.parametrize(("text", "found"), [
    (_as_mysql_latin1("风险点"), "风险点"),
    ("plain ascii", None),
    ("风险点", None),                    # already right
    ("caf\xe9", None),                  # real latin1 text: no GBK
    (_as_mysql_latin1("ab"), None),
])
def test_misread_text_finds_gbk_read_as_latin1(text, found):
    assert misread_text(text) == found


# -- loading: every new key is checked, with file, line and key -----------------------------------

def project(tmp_path: Path, files: dict[str, str], vars_: str = "") -> Path:
    (tmp_path / "mappings" / "codes").mkdir(parents=True, exist_ok=True)
    (tmp_path / "mappings" / "codes" / "deleted.yaml").write_text(
        "codes:\n  - {code: '0', label: 正常}\n  - {code: '1', label: 删除}\n", encoding="utf-8")
    for name, text in files.items():
        (tmp_path / "mappings" / name).write_text(textwrap.dedent(text), encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text('source: {url: "sqlite:///s.db"}\ntarget: {url: "sqlite:///t.db"}\n' + vars_, encoding="utf-8")
    return config


BASE = """\
source: {table: src, key: [id], cursor: update_time}
target: {table: dst, key: [id]}
columns:
  id:    {from: id}
  start: {from: kssj}
  stop:  {from: jssj}
"""


def problems_of(config: Path) -> list[tuple[str, int | None, str, str]]:
    with pytest.raises(MappingError) as caught:
        load_mappings(load_config(config))
    return [(Path(p.file).name, p.line, p.where, p.message) for p in caught.value.problems]


@pytest.mark.parametrize(("extra", "line", "where", "words"), [
    ("rules:\n  - check: {stop: {after: {column: start}}}\n", 8, "rules.0.check", "unknown test ['after']"),
    ("rules:\n  - check: {stop: {ge: {column: finish}}}\n", 8, "rules.0.check",
     "rule compares with column 'finish', which is not under 'columns:'"),
    ("rules:\n  - check: {stop: {ge: {col: start}}}\n", 8, "rules.0.check", "{column: NAME}"),
    ("rules:\n  - matches: {stop: '(unclosed'}\n    message: x\n", 8, "rules.0.matches",
     "is not a valid regular expression"),
    ("rules:\n  - check: {stop: {matches: '[a-'}}\n", 8, "rules.0.check", "is not a valid regular expression"),
    ("rules:\n  - require_any: [stop, nothing]\n", 8, "rules.0.require_any",
     "rule requires column 'nothing', which is not under 'columns:'"),
    ("rules:\n  - matches: {nothing: '^1'}\n", 8, "rules.0.matches", "rule names column 'nothing'"),
    ("rules:\n  - message: only a message\n", 8, "rules.0",
     "a rule needs 'require', 'require_any', 'check' or 'matches'"),
])
def test_a_bad_rule_is_a_problem_with_file_line_and_key(tmp_path, extra, line, where, words):
    [(file, found_line, found_where, message)] = problems_of(project(tmp_path, {"a.yaml": BASE + extra}))
    assert (file, found_line, found_where) == ("a.yaml", line, where)
    assert words in message


@pytest.mark.parametrize(("spec", "where", "words"), [
    ("{from: kssj, on_overflow: cut}", "columns.start.on_overflow", "'reject' or 'truncate'"),
    ("{from: kssj, cast: datetime}", "columns.start.cast", "'date' or 'number'"),
    ("{from: kssj, round: -1}", "columns.start.round", "greater than or equal to 0"),
    ("{from: kssj, round: two}", "columns.start.round", "a number of decimal places"),
    ("{from: kssj, round: 2, format: '%Y'}", "columns.start.round", "keep one of them"),
    ("{from: kssj, round: 2, cast: date}", "columns.start.round", "cannot round"),
])
def test_a_bad_column_key_is_a_problem_with_file_line_and_key(tmp_path, spec, where, words):
    text = BASE.replace("  start: {from: kssj}", f"  start: {spec}")
    [(file, line, found_where, message)] = problems_of(project(tmp_path, {"a.yaml": text}))
    assert (file, line, found_where) == ("a.yaml", 5, where)
    assert words in message


def test_check_exits_2_naming_file_line_and_key_without_a_traceback(tmp_path):
    config = project(tmp_path, {"a.yaml": BASE + "rules:\n  - matches: {stop: '(x'}\n    message: 格式不对\n"})
    result = CliRunner().invoke(cli.cli, ["-c", str(config), "check"])
    assert result.exit_code == 2, result.output
    assert "a.yaml, line 8 [rules.0.matches]" in result.output and "Traceback" not in result.output


def test_target_key_matches_the_columns_case_insensitively(tmp_path):
    config = project(tmp_path, {"a.yaml": BASE.replace("target: {table: dst, key: [id]}", "target: {table: dst, key: [ID]}")})
    [m] = load_mappings(load_config(config))
    assert m.target.key == ("id",)
    config = project(tmp_path / "2", {"a.yaml": BASE.replace("key: [id]}\ncolumns", "key: [nope]}\ncolumns")})
    [(_, line, where, message)] = problems_of(config)
    assert (line, where) == (2, "target.key") and "add it under 'columns:'" in message


def test_a_broken_file_is_reported_once_not_again_by_its_dependants(tmp_path):
    config = project(tmp_path, {"parent.yaml": "source: {table: [oops\n",
                                "child.yaml": BASE + "depends_on: [parent]\n",
                                "other.yaml": BASE.replace("columns:", "depends_on: [nobody]\ncolumns:")})
    found = problems_of(config)
    assert [f for f, *_ in found].count("parent.yaml") == 1 and "not valid YAML" in found[0][3]
    assert not any(f == "child.yaml" for f, *_ in found)
    assert any(f == "other.yaml" and "unknown mapping 'nobody'" in m for f, _, _, m in found)


def test_a_mapping_that_fails_validation_does_not_cascade_either(tmp_path):
    config = project(tmp_path, {"parent.yaml": BASE.replace("cursor: update_time", "cursr: update_time"),
                                "child.yaml": BASE + "depends_on: [parent]\n"})
    found = problems_of(config)
    assert {f for f, *_ in found} == {"parent.yaml"} and ("parent.yaml", "source.cursor") in [(f, w) for f, _, w, _ in found]


# -- blocks of columns -----------------------------------------------------------------------------

COMMON = """\
# shared columns
audit:
  deleted:   {from: del_flag, map: deleted}
  create_by: {from: cjr, default: 系统}
sync:
  area_code: {const: "${AREA_CODE}"}
  sync_time: {value: now}
"""


def test_include_takes_the_blocks_and_the_mapping_s_own_column_wins(tmp_path):
    mapping = BASE.replace("columns:", "include: [audit, sync]\ncolumns:") + "  create_by: {from: pcr}\n"
    config = project(tmp_path, {"_common.yaml": COMMON, "a.yaml": mapping}, "vars: {AREA_CODE: '410922'}\n")
    [m] = load_mappings(load_config(config))            # _common.yaml is no mapping
    assert list(m.columns) == ["id", "start", "stop", "create_by", "deleted", "area_code", "sync_time"]
    assert m.columns["create_by"].from_ == "pcr" and m.columns["area_code"].const == "410922"
    assert m.included == {"deleted": "audit", "area_code": "sync", "sync_time": "sync"}
    assert m.line_of("columns", "area_code") == 3 and m.line_of("columns", "stop") == 7


def test_a_problem_in_a_block_is_reported_once_at_the_block(tmp_path):
    common = COMMON.replace("{from: del_flag, map: deleted}", "{from: del_flag, map: no_such_list}")
    mapping = BASE.replace("columns:", "include: [audit]\ncolumns:")
    found = problems_of(project(tmp_path, {"_common.yaml": common, "a.yaml": mapping, "b.yaml": mapping},
                                "vars: {AREA_CODE: '410922'}\n"))
    assert [(f, line, w) for f, line, w, _ in found] == [("_common.yaml", 3, "audit.deleted.map")]


def test_an_unknown_block_and_a_column_in_two_blocks_are_problems_at_include(tmp_path):
    common = COMMON + "other:\n  sync_time: {value: now}\n"
    found = problems_of(project(tmp_path, {"_common.yaml": common,
                                           "a.yaml": BASE.replace("columns:", "include: [audti]\ncolumns:"),
                                           "b.yaml": BASE.replace("columns:", "include: [sync, other]\ncolumns:")},
                                "vars: {AREA_CODE: '1'}\n"))
    assert ("a.yaml", 3, "include.0") in [(f, line, w) for f, line, w, _ in found]
    assert "no block named 'audti' (known: audit, other, sync)" in found[0][3]
    assert any(f == "b.yaml" and "in block 'sync' and in block 'other'" in m for f, _, _, m in found)


def test_the_shipped_mappings_take_the_shared_columns_from_blocks():
    repo = Path(__file__).resolve().parent.parent
    shipped = (repo / "mappings" / "hazard.yaml").read_text(encoding="utf-8")
    assert "include: [audit, sync]" in shipped and "sync_time" not in shipped
    assert "audit:" in (repo / "mappings" / "_common.yaml").read_text(encoding="utf-8")


# -- the definition hash ---------------------------------------------------------------------------

def hash_of(tmp_path: Path, text: str, common: str = COMMON) -> str:
    config = project(tmp_path, {"_common.yaml": common, "a.yaml": text}, "vars: {AREA_CODE: '410922'}\n")
    [m] = load_mappings(load_config(config))
    return m.definition_hash


def test_the_definition_hash_changes_with_what_the_mapping_writes_only(tmp_path):
    base = BASE.replace("columns:", "include: [audit]\ncolumns:") + "rules:\n  - require: [stop]\n    message: a\n"
    first = hash_of(tmp_path / "0", base)
    same = [base.replace("columns:", "# a comment\ncolumns:"), base + "schedule: 5m\nbatch_size: 10\n",
            base.replace("message: a", "message: b"), base.replace("{from: jssj}", "{ from: jssj }"),
            base.replace("cursor: update_time", "cursor: gxsj")]
    for i, text in enumerate(same):
        assert hash_of(tmp_path / f"s{i}", text) == first, text
    different = [base.replace("{from: jssj}", "{from: jssj, round: 2}"),
                 base.replace("source: {table: src,", "source: {table: src, where: \"x = 1\","),
                 base.replace("require: [stop]", "require: [start]")]
    for i, text in enumerate(different):
        assert hash_of(tmp_path / f"d{i}", text) != first, text
    assert hash_of(tmp_path / "c", base, COMMON.replace("default: 系统", "default: system")) != first


def test_on_change_says_what_a_run_does_when_the_definition_changed(tmp_path):
    config = project(tmp_path, {"a.yaml": BASE, "b.yaml": BASE + "on_change: warn\n"})
    a, b = load_mappings(load_config(config))
    assert definition_change(a, None) is None                     # never recorded: nothing to compare
    assert definition_change(a, a.definition_hash) is None
    assert definition_change(a, "0" * 64) == "resync" and definition_change(b, "0" * 64) == "warn"
    with pytest.raises(MappingError) as caught:
        load_mappings(load_config(project(tmp_path / "x", {"a.yaml": BASE + "on_change: ignore\n"})))
    assert caught.value.problems[0].where == "on_change"


def test_a_loaded_mapping_names_the_line_of_any_key(tmp_path):
    [m] = load_mappings(load_config(project(tmp_path, {"a.yaml": BASE})))
    assert m.line_of("columns", "stop", "from") == 6 and m.line_of("target", "table") == 2
    problem = m.problem("columns.start", "x")
    assert (Path(problem.file).name, problem.line, problem.where) == ("a.yaml", 5, "columns.start")
