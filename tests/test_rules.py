"""Rule conditions: parsed and checked when a mapping file loads, evaluated on mapped rows."""

from __future__ import annotations

import textwrap
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from syncd.config import load_config
from syncd.errors import MappingError
from syncd.mapping import Mapping_, TableMapping, load_mappings
from syncd.plan import layout
from syncd.rules import OPERATORS, Condition
from syncd.transform import RowMapper, TargetColumn

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=timezone.utc)


def holds(test, value) -> bool:
    return Condition.model_validate({"c": test}).predicate({"c": 0})((value,))


@pytest.mark.parametrize(("test", "value", "expected"), [
    # a scalar: equals, as text
    ("9", "9", True), ("9", 9, True), (9, "9", True), ("9", "09", False), ("9", None, False),
    (1, True, False), (True, True, True), ("2026-01-02", date(2026, 1, 2), True),
    # null: is NULL
    (None, None, True), (None, "", False), (None, 0, False),
    # in / not_in, as text; a null in the list stands for NULL; one value is a list of one
    ({"in": ["1", 2]}, 2, True), ({"in": ["1", 2]}, "2", True), ({"in": ["1", 2]}, 3, False),
    ({"in": ["1"]}, None, False), ({"in": ["1", None]}, None, True), ({"in": "12"}, "1", False),
    ({"in": "12"}, "12", True),
    ({"not_in": ["1"]}, "1", False), ({"not_in": ["1"]}, "2", True), ({"not_in": ["1"]}, None, True),
    ({"not_in": ["1", None]}, None, False),
    # not: differs (NULL differs from everything); not null: is not NULL
    ({"not": "0"}, "0", False), ({"not": "0"}, "1", True), ({"not": "0"}, None, True),
    ({"not": None}, None, False), ({"not": None}, "", True), ({"not": None}, 0, True),
    # numeric comparisons, as decimals; NULL and non-numbers fail
    ({"gt": 0}, 1, True), ({"gt": 0}, 0, False), ({"gt": 0}, "0.5", True), ({"gt": 0}, None, False),
    ({"gt": 0}, "八", False), ({"gt": 0}, float("nan"), False), ({"gt": 0}, "NaN", False),
    ({"ge": 0.1}, Decimal("0.1"), True), ({"ge": 0.1}, 0.1, True), ({"lt": "1e3"}, 999, True),
    ({"le": 5}, 5, True), ({"le": 5}, Decimal("5.01"), False), ({"gt": -1}, True, False),
    # several tests under one column all hold
    ({"ge": 1, "le": 5}, 3, True), ({"ge": 1, "le": 5}, 6, False), ({"not": "3", "lt": 5}, 3, False),
    ({}, None, True),
])
def test_what_each_test_means(test, value, expected):
    assert holds(test, value) is expected


def test_every_column_of_a_condition_must_hold():
    cond = Condition.model_validate({"a": "1", "b": {"gt": 2}})
    check = cond.predicate({"a": 1, "b": 0})
    assert check((3, "1")) and not check((3, "2")) and not check((2, "1"))
    assert cond.columns == ("a", "b")
    assert Condition.model_validate({}).predicate({})(()) is True


@pytest.mark.parametrize(("test", "message"), [
    ({"equals": "1"}, "unknown test ['equals']; use one of ['ge', 'gt', 'in', 'le', 'lt', 'matches', 'not', "
                      "'not_in']"),
    ({"in": ["1"], "nin": ["2"], "ne": 3}, "unknown test ['ne', 'nin']"),
    ({"gt": "abc"}, "'gt' needs a number, not 'abc'"),
    ({"le": None}, "'le' needs a number"),
    ({"lt": True}, "'lt' needs a number"),
    ({"ge": ".nan"}, "'ge' needs a number"),
    ({"in": {"a": 1}}, "'in' needs a list of values"),
    ({"not": ["1", "2"]}, "'not' needs one value (or null)"),
    (["1", "2"], "write {in: [...]}"),
])
def test_a_test_that_does_not_exist_is_refused_on_load(test, message):
    with pytest.raises(ValidationError) as caught:
        Condition.model_validate({"c": test})
    assert message in str(caught.value)


def test_every_operator_is_known_to_the_model():
    assert sorted(OPERATORS) == ["ge", "gt", "in", "le", "lt", "matches", "not", "not_in"]
    for op in OPERATORS:
        assert holds({op: ["1"] if op.endswith("in") else "1" if op == "matches" else 1}, "1") in (True, False)


def load(tmp_path: Path, rules: str):
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "a.yaml").write_text(textwrap.dedent("""\
        source: {table: src, key: [id], cursor: update_time}
        target: {table: dst, key: [id]}
        columns:
          id: {from: id}
          state: {from: zt}
        """) + textwrap.dedent(rules), encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text('source: {url: "sqlite:///s.db"}\ntarget: {url: "sqlite:///t.db"}\n', encoding="utf-8")
    return load_mappings(load_config(config))


def test_an_unknown_test_names_the_file_line_and_key(tmp_path):
    with pytest.raises(MappingError) as caught:
        load(tmp_path, """\
            rules:
              - require: [state]
              - when:
                  state: {bigger: 1}
                require: [state]
            """)
    [problem] = caught.value.problems
    assert (Path(problem.file).name, problem.line, problem.where) == ("a.yaml", 8, "rules.1.when")
    assert "unknown test ['bigger']" in problem.message


def test_a_rule_naming_an_unmapped_column_is_a_problem(tmp_path):
    with pytest.raises(MappingError) as caught:
        load(tmp_path, """\
            rules:
              - check: {status: null}
            """)
    [problem] = caught.value.problems
    assert (problem.line, problem.where) == (7, "rules.0.check")
    assert "'status'" in problem.message


def test_an_empty_check_alone_is_not_a_rule(tmp_path):
    with pytest.raises(MappingError) as caught:
        load(tmp_path, "rules:\n  - check: {}\n")
    assert "a rule needs 'require', 'require_any', 'check' or 'matches'" in str(caught.value)


def test_a_null_test_loads_from_yaml(tmp_path):
    [m] = load(tmp_path, """\
        rules:
          - when: {state: null}
            check: {id: {not: null}}
        """)
    assert holds(None, None)
    assert m.spec.rules[0].describe() == "when state is NULL; needs id {'not': None}"


def mapper(rules: list) -> RowMapper:
    spec = Mapping_.model_validate({
        "name": "m", "source": {"table": "s", "key": ["id"], "cursor": "ts"},
        "target": {"table": "t", "key": ["id"]},
        "columns": {"id": {"from": "id"}, "state": {"from": "state"}, "who": {"from": "who"},
                    "n": {"from": "n"}},
        "rules": rules})
    mapping = TableMapping(spec=spec, file=Path("m.yaml"), batch_size=10, lookback=0, lag=NOW - NOW,
                           null_cursor="include", schedule=None)
    targets = {"id": TargetColumn("id", "int", False), "state": TargetColumn("state", "str"),
               "who": TargetColumn("who", "text"), "n": TargetColumn("n", "decimal", precision=6, scale=2)}
    return RowMapper(mapping, layout(mapping), targets, {}, now=NOW, run_id="r", tz=ZoneInfo("Asia/Shanghai"))


def reason(m: RowMapper, **row) -> str | None:
    batch = m.map_batch([tuple(row.get(n) for n in m.layout.names)])
    return batch.rejects[0].reason if batch.rejects else None


def test_when_null_matches_a_null_value():
    m = mapper([{"when": {"state": None}, "require": ["who"], "message": "没有状态时必须有人"}])
    assert reason(m, id=1, state=None, who=None) == "rule: 没有状态时必须有人 (missing: who)"
    assert reason(m, id=2, state="None", who=None) is None
    assert reason(m, id=3, state=None, who="张三") is None


def test_check_not_null():
    m = mapper([{"check": {"who": {"not": None}}}])
    assert reason(m, id=1, who=None) == "rule: needs who {'not': None}"
    assert reason(m, id=2, who="") is None


def test_reasons_without_a_message_describe_the_rule_as_written():
    m = mapper([{"when": {"state": "9"}, "require": ["who"]},
                {"when": {"state": {"in": ["1", "2"]}}, "check": {"n": {"gt": 0, "le": 100}}}])
    assert reason(m, id=1, state="9") == "rule: when state 9; requires who (missing: who)"
    assert reason(m, id=2, state="1", n="0") == "rule: when state {'in': ['1', '2']}; needs n {'gt': 0, 'le': 100}"
    assert reason(m, id=3, state="1", n="5") is None
    assert reason(m, id=4, state="3", n="-5") is None


def test_rules_run_in_order_and_the_first_broken_one_is_the_reason():
    m = mapper([{"check": {"n": {"ge": 0}}, "message": "first"}, {"check": {"n": {"ge": 10}}, "message": "second"}])
    assert reason(m, id=1, n="-1") == "rule: first"
    assert reason(m, id=2, n="5") == "rule: second"
    assert reason(m, id=3, n="10") is None
