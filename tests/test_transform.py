"""Column specs, casts and rules on plain values: no database."""

from __future__ import annotations

import math
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql

from syncd import transform
from syncd.mapping import CodeList, ColumnSpec, Mapping_, TableMapping
from syncd.plan import layout
from syncd.transform import STEPS, RowMapper, Step, TargetColumn, derive_id

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=timezone.utc)
CODES = {"check_cycle_unit": CodeList.model_validate(
    {"name": "check_cycle_unit", "codes": [{"code": "小时", "label": "小时", "aliases": ["时"]},
                                           {"code": "天", "label": "天", "aliases": ["日"]}]})}


def mapper(columns: dict, targets: dict, rules=(), **kw) -> RowMapper:
    spec = Mapping_.model_validate({
        "name": "m", "source": {"table": "s", "key": ["id"], "cursor": "ts"},
        "target": {"table": "t", "key": ["id"]}, "columns": {"id": {"from": "id"}, **columns},
        "rules": list(rules)})
    mapping = TableMapping(spec=spec, file=Path("m.yaml"), batch_size=10, lookback=0, lag=NOW - NOW,
                           null_cursor="include", schedule=None)
    targets = {"id": TargetColumn("id", "str", False, 36), **targets}
    return RowMapper(mapping, layout(mapping), targets, CODES, now=NOW, run_id="run-1",
                     tz=ZoneInfo("Asia/Shanghai"), **kw)


def one(m: RowMapper, **row):
    values = tuple(row.get(n) for n in m.layout.names)
    batch = m.map_batch([values])
    if batch.rejects:
        return batch.rejects[0]
    return dict(zip(m.columns, batch.rows[0], strict=True))


def test_frequency_text_splits_into_cycle_and_unit():
    m = mapper({"check_cycle": {"from": "pcpc", "pattern": r"^(\d+(?:\.\d+)?)"},
                "check_cycle_unit": {"from": "pcpc", "pattern": "(小时|天|月|年)$", "map": "check_cycle_unit"}},
               {"check_cycle": TargetColumn("check_cycle", "int"), "check_cycle_unit": TargetColumn("u", "str")})
    assert one(m, id=1, pcpc="8小时") == {"id": "1", "check_cycle": 8, "check_cycle_unit": "小时"}
    assert one(m, id=2, pcpc="1天")["check_cycle_unit"] == "天"
    assert one(m, id=3, pcpc=None) == {"id": "3", "check_cycle": None, "check_cycle_unit": None}


def test_uuid5_is_stable_and_shared_between_parent_and_child_specs():
    spec = {"uuid5": ["qy", "dx"], "namespace": "risk_unit"}
    m = mapper({"unit_id": spec}, {"unit_id": TargetColumn("unit_id", "str", True, 36)})
    first = one(m, id=1, qy="410102001", dx="甲醇罐区")["unit_id"]
    assert first == one(m, id=2, qy="410102001", dx="甲醇罐区")["unit_id"]
    assert first == derive_id(["410102001", "甲醇罐区"], "risk_unit")
    assert first != derive_id(["410102001", "甲醇罐区"], "risk_event")
    assert one(m, id=3, qy="410102001", dx=None)["unit_id"] is None


def test_const_null_is_a_null_constant():
    m = mapper({"remark": {"const": None}}, {"remark": TargetColumn("remark", "text")})
    assert one(m, id=1)["remark"] is None


def test_value_now_and_run_id_const_default_format():
    m = mapper({"sync_time": {"value": "now"}, "run": {"value": "run_id"}, "area": {"const": "410102"},
                "remark": {"from": "bz", "default": ""}, "day": {"from": "ts", "format": "%Y-%m-%d"}},
               {"sync_time": TargetColumn("s", "datetime"), "run": TargetColumn("r", "str"),
                "area": TargetColumn("a", "str", True, 6), "remark": TargetColumn("b", "text"),
                "day": TargetColumn("d", "str", True, 10)})
    row = one(m, id=1, bz=None, ts="2026-01-02 03:04:05")
    assert row["sync_time"] == datetime(2026, 11, 28, 14, 0)  # 06:00 UTC in Asia/Shanghai
    assert (row["run"], row["area"], row["remark"], row["day"]) == ("run-1", "410102", "", "2026-01-02")


@pytest.mark.parametrize(("target", "value", "expected"), [
    (TargetColumn("c", "int"), "12", 12),
    (TargetColumn("c", "int"), Decimal("3.000"), 3),
    (TargetColumn("c", "decimal", precision=6, scale=2), "1234.5", Decimal("1234.5")),
    (TargetColumn("c", "datetime"), "2026/01/02 03:04:05", datetime(2026, 1, 2, 3, 4, 5)),
    (TargetColumn("c", "datetime"), datetime(2026, 1, 1, 16, 0, tzinfo=timezone.utc), datetime(2026, 1, 2, 0, 0)),
    (TargetColumn("c", "date"), datetime(2026, 1, 2), date(2026, 1, 2)),
    (TargetColumn("c", "str", length=4), 1234, "1234"),
    (TargetColumn("c", "bytes"), memoryview(b"\x89PNG"), b"\x89PNG"),
])
def test_casts_to_the_target_type(target, value, expected):
    m = mapper({"c": {"from": "v"}}, {"c": target})
    assert one(m, id=1, v=value)["c"] == expected


@pytest.mark.parametrize(("target", "value", "reason"), [
    (TargetColumn("c", "int"), "1.5", "not a whole number"),
    (TargetColumn("c", "decimal", precision=4, scale=2), "123.4", "more than 2 digits"),
    (TargetColumn("c", "datetime"), "昨天", "not a date/time"),
    (TargetColumn("c", "str", length=3), "四个汉字", "longer than the column's 3"),
    (TargetColumn("c", "str", nullable=False), None, "is NULL but the column is required"),
    (TargetColumn("c", "bytes"), "text", "cannot go into a binary column"),
])
def test_values_that_cannot_be_cast_are_rejects_naming_the_column(target, value, reason):
    m = mapper({"c": {"from": "v"}}, {"c": target})
    reject = one(m, id=7, v=value)
    assert reject.key == (7,) and reject.column == "c" and reason in reject.reason
    assert reject.row["v"] == value


@pytest.mark.parametrize("value", ["NaN", " -inf ", "1e999", float("nan"), float("inf"), Decimal("-Infinity")])
def test_nan_and_infinity_are_rejects_where_the_target_holds_neither(value):
    """The target's ``holds_nonfinite_floats`` comes as a value: where it is false, such a float
    is a reject saying why; where it is true (PostgreSQL), the float itself."""
    column = {"c": TargetColumn("c", "float")}
    reject = one(mapper({"c": {"from": "v"}}, column, nonfinite_floats=False), id=7, v=value)
    assert reject.column == "c" and reject.reason == (
        f"c: {value!r} is not a finite number, and the target's floating-point columns hold no NaN or infinity")
    kept = one(mapper({"c": {"from": "v"}}, column, nonfinite_floats=True), id=7, v=value)["c"]
    assert type(kept) is float and not math.isfinite(kept)
    assert one(mapper({"c": {"from": "v"}}, column, nonfinite_floats=False), id=8, v="-1.5e300")["c"] == -1.5e300


def test_json_read_as_objects_and_lists_goes_as_its_json_text():
    """psycopg reads json/jsonb as dicts and lists, which no driver sends: a JSON column and a text
    column get the JSON text (characters as they are, keys in the order read); a list into a column
    that is not JSON (an array) stays a list, a JSON text stays as it is."""
    doc = {"隐患": "管道泄漏", "n": [1, 2.5, None, True], "z": {"b": 1, "a": 2}}
    text = '{"隐患": "管道泄漏", "n": [1, 2.5, null, true], "z": {"b": 1, "a": 2}}'
    m = mapper({c: {"from": c} for c in ("j", "t", "o", "a")},
               {"j": TargetColumn("j", "other", json=True), "t": TargetColumn("t", "text"),
                "o": TargetColumn("o", "other"), "a": TargetColumn("a", "other")})
    assert one(m, id=1, j=doc, t=[doc], o=doc, a=[4, 5]) == {"id": "1", "j": text, "t": f"[{text}]", "o": text,
                                                          "a": [4, 5]}
    assert one(m, id=2, j=["x"], t='{"k": 1}', o="[1]", a=None) == {"id": "2", "j": '["x"]', "t": '{"k": 1}',
                                                                     "o": "[1]", "a": None}


@pytest.mark.parametrize(("sa_type", "json"), [
    (sa.JSON(), True), (postgresql.JSONB(), True), (postgresql.JSON(), True), (mysql.JSON(), True),
    (postgresql.ARRAY(sa.Integer), False), (mysql.YEAR(), False),
])
def test_a_reflected_json_column_is_told_apart(sa_type, json):
    column = transform.target_column("c", sa_type)
    assert (column.kind, column.json) == ("other", json)


def test_charset_check_comes_from_the_dialect():
    from syncd.dialects import get

    m = mapper({"c": {"from": "v"}}, {"c": TargetColumn("c", "text", charset="utf8mb3")},
               unsupported_text=get("mysql").unsupported_text)
    assert "utf8mb4" in one(m, id=1, v="隐患😀").reason
    assert one(m, id=2, v="隐患")["c"] == "隐患"


def test_rules_when_require_check():
    rules = [{"when": {"state": "9"}, "require": ["acceptor"], "message": "已验收的隐患必须有验收人"},
             {"check": {"cycle": {"gt": 0}}, "message": "排查周期必须大于0"},
             {"when": {"work_type": {"not": "0"}}, "require": ["task_num"]}]
    m = mapper({"state": {"from": "state"}, "acceptor": {"from": "acceptor"}, "cycle": {"from": "cycle"},
                "work_type": {"from": "wt"}, "task_num": {"from": "tn"}},
               {"state": TargetColumn("s", "str"), "acceptor": TargetColumn("a", "str"),
                "cycle": TargetColumn("c", "int"), "work_type": TargetColumn("w", "str"),
                "task_num": TargetColumn("t", "str")}, rules=rules)
    ok = dict(id=1, state="0", acceptor=None, cycle=1, wt="0", tn=None)
    assert one(m, **ok)["state"] == "0"
    assert "已验收的隐患必须有验收人" in one(m, **{**ok, "state": "9"}).reason
    assert "排查周期必须大于0" in one(m, **{**ok, "cycle": 0}).reason
    assert "missing: task_num" in one(m, **{**ok, "wt": "1"}).reason


def test_two_rows_for_one_target_key_keep_the_later():
    m = mapper({"name": {"from": "n"}, "id": {"const": "same"}}, {"name": TargetColumn("n", "str")})
    batch = m.map_batch([(1, None, "first"), (2, None, "second")])
    assert [r[m.columns.index("name")] for r in batch.rows] == ["second"]


def test_code_list_matches_code_label_and_alias_after_trimming():
    assert CODES["check_cycle_unit"].lookup()["日"] == "天"
    m = mapper({"u": {"from": "v", "map": "check_cycle_unit"}}, {"u": TargetColumn("u", "str")})
    assert one(m, id=1, v=" 时 ")["u"] == "小时"
    assert "not in code list check_cycle_unit" in one(m, id=2, v="周").reason


def test_column_spec_needs_exactly_one_origin():
    with pytest.raises(ValueError):
        ColumnSpec.model_validate({"from": "a", "const": 1})


def test_generated_row_function_agrees_with_the_column_functions():
    """The compiled fast path and the per-column path (used to explain rejects) give the same answer."""
    targets = {"s": TargetColumn("s", "str", True, 4), "t": TargetColumn("t", "text", False),
               "i": TargetColumn("i", "int"), "d": TargetColumn("d", "datetime", False),
               "n": TargetColumn("n", "decimal", precision=5, scale=2), "b": TargetColumn("b", "bytes"),
               "day": TargetColumn("day", "date")}
    m = mapper({c: {"from": c} for c in targets}, targets)
    samples = {"s": ["abcd", "abcde", None, 12, "四个汉字"], "t": ["x", None, 3.0], "i": [1, "2", "2.5", True, None],
               "d": [datetime(2026, 1, 1), "2026-01-02 03:04:05", None, "bad",
                     datetime(2026, 1, 1, tzinfo=timezone.utc)],
               "n": [Decimal("1.5"), "999.99", "1000", 2, None], "b": [b"x", memoryview(b"y"), "z", None],
               "day": [date(2026, 1, 1), datetime(2026, 1, 2, 3, 4), "2026-01-03", None]}
    rng = __import__("random").Random(5)
    for n in range(300):
        row = {"id": n, **{c: rng.choice(v) for c, v in samples.items()}}
        values = tuple(row.get(name) for name in m.layout.names)
        batch = m.map_batch([values])
        one_by_one = []
        reason = None
        for name, fn in m._functions:
            try:
                one_by_one.append(fn(values))
            except Exception as exc:  # noqa: BLE001 - compared, not swallowed
                reason = f"{name}: {exc}"
                break
        if reason is None:
            assert batch.rows == [tuple(one_by_one)] and not batch.rejects
        else:
            assert not batch.rows and batch.rejects[0].reason == reason


def test_a_step_added_to_the_table_runs_on_the_fast_path_and_in_the_explanation(monkeypatch):
    """Both paths take a column's steps from ``STEPS``: a new step cannot be skipped by one of them."""
    def shout(spec, codes, ctx):
        def step(v):
            if v == "bad":
                raise transform.DataError(None, "shouted at")
            return None if v is None else f"{v}!"
        return step
    monkeypatch.setattr(transform, "STEPS", (*STEPS, Step("namespace", lambda s: s.namespace is not None, shout)))
    m = mapper({"c": {"from": "v", "namespace": "loud"}, "d": {"from": "v"}},
               {"c": TargetColumn("c", "str", True, 3), "d": TargetColumn("d", "text")})
    assert one(m, id=1, v="ab") == {"id": "1", "c": "ab!", "d": "ab"}
    assert one(m, id=2, v="abc").reason == ("c: text of 4 characters is longer than the column's 3; to cut such "
                                            "text to fit, set on_overflow: truncate on the column")
    assert one(m, id=3, v="bad").reason == "c: shouted at"


def test_every_kind_has_a_caster():
    from typing import get_args

    assert set(transform._CASTERS) == set(get_args(transform.Kind))


def test_a_constant_is_cast_once_and_a_constant_that_cannot_be_cast_rejects_every_row():
    m = mapper({"n": {"const": "12"}, "bad": {"const": "twelve"}},
               {"n": TargetColumn("n", "int"), "bad": TargetColumn("bad", "text")})
    assert one(m, id=1) == {"id": "1", "n": 12, "bad": "twelve"}
    m = mapper({"n": {"const": "twelve"}}, {"n": TargetColumn("n", "int")})
    batch = m.map_batch([(1, None), (2, None)])
    assert [r.reason for r in batch.rejects] == ["n: 'twelve' is not a whole number"] * 2


def test_a_numeric_key_written_as_text_is_not_remembered_but_text_cast_to_a_number_is():
    """Two source keys the target takes for one are found across batches by remembering the keys a
    cast changed. Whole numbers into a text key cannot meet each other: nothing is remembered, so a
    full copy's memory does not grow with the table. Text into a number key can ('01' and '1')."""
    m = mapper({}, {})
    for start in range(0, 3000, 1000):
        batch = m.map_batch([tuple({"id": n}.get(name) for name in m.layout.names) for n in range(start, start + 1000)])
        assert not batch.rejects and len(batch.rows) == 1000
    assert m._written_keys == {}
    numbers = mapper({}, {"id": TargetColumn("id", "int", False)})
    assert not numbers.map_batch([tuple({"id": "01"}.get(name) for name in numbers.layout.names)]).rejects
    [reject] = numbers.map_batch([tuple({"id": "1"}.get(name) for name in numbers.layout.names)]).rejects
    assert "key not unique in the target" in reject.reason and "written earlier in this run" in reject.reason


def test_whole_numbers_cut_to_fit_a_text_key_are_remembered_across_batches():
    """A whole number whose digits were cut (``on_overflow: truncate``) is no longer its digits: 123
    and then 124, in two batches, both become '12', and the second is held back, not written over
    the first."""
    m = mapper({"id": {"from": "id", "on_overflow": "truncate"}}, {"id": TargetColumn("id", "str", False, 2)})
    first = m.map_batch([tuple({"id": n}.get(name) for name in m.layout.names) for n in (123, 7)])
    assert [r[0] for r in first.rows] == ["12", "7"] and not first.rejects
    [reject] = m.map_batch([tuple({"id": 124}.get(name) for name in m.layout.names)]).rejects
    assert reject.key == (124,)
    assert "key not unique in the target" in reject.reason and "written earlier in this run" in reject.reason
