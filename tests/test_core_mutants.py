"""Behaviour of the pure core that mutation testing found unchecked (docs/testing.md).

`bash scripts/mutation.sh --tool` runs these with the other fast tests against the mutants of
syncd/watermark.py, plan.py, transform.py, mapping.py, rules.py, schedule.py and config.py. Each
test states what the code promises in full (the exact value, the whole message with file, line and
key), so that a change of any part of it is seen.
"""

from __future__ import annotations

import json
import textwrap
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite

from syncd import commands, plan, schedule, yamlfile
from syncd import config as config_module
from syncd.errors import ConfigError, FatalSyncError, Problem
from syncd.mapping import (
    Block,
    ColumnSpec,
    Mapping_,
    RuleSpec,
    SoftDelete,
    SourceSpec,
    TableMapping,
    TargetSpec,
    change_message,
    column_checks,
    dependency_order,
    load_blocks,
    load_codes,
    load_mappings,
)
from syncd.rules import Condition
from syncd.transform import (
    RowMapper,
    TargetColumn,
    column_kind,
    integer_range,
    stored_equal,
    target_column,
    target_key_of,
    target_problems,
    target_warnings,
)
from syncd.watermark import (
    Watermark,
    Window,
    WindowPlan,
    _gt,
    _is_number_text,
    _parse_datetime,
    _step_back,
    cursor_problem,
    decode_key,
    describe_value,
    encode_key,
    encode_value,
    format_like,
    plan_window,
)

NOW = datetime(2026, 11, 28, 10, 0, 0)
NOW_UTC = datetime(2026, 11, 28, 2, 0, 0, tzinfo=timezone.utc)


def planned(previous, newest, **kw):
    kw.setdefault("lookback", timedelta(minutes=10))
    kw.setdefault("lag", timedelta(seconds=5))
    return plan_window(previous, newest=newest, db_now=kw.pop("db_now", NOW), db_now_utc=kw.pop("db_now_utc", NOW_UTC),
                       **kw)


# -- watermarks: JSON, names of rejects, descriptions -------------------------------------------------------

def test_a_watermark_with_every_part_round_trips_through_json():
    inner = Watermark(datetime(2026, 1, 2, 3, 4, 5), (7,), bound=datetime(2026, 1, 2, 4, 0))
    mark = Watermark(Decimal("1.50"), ("a", 2), snapshot=True, bound=datetime(2026, 1, 3),
                     also=(("ent_update_time", inner),))
    assert Watermark.from_json(mark.to_json()) == mark


def test_the_stored_json_of_a_watermark_is_stable_text():
    """The state store keeps this text; a syncd reading it after an upgrade must find the same."""
    mark = Watermark(datetime(2026, 1, 2, 3, 4, 5), ("区", 2), bound=date(2026, 1, 3),
                     also=(("b", Watermark(time(1, 2), ())),))
    assert mark.to_json() == (
        '{"also": {"b": {"cursor": {"t": "time", "v": "01:02:00"}, "key": []}}, '
        '"bound": {"t": "date", "v": "2026-01-03"}, "cursor": {"t": "datetime", "v": "2026-01-02T03:04:05"}, '
        '"key": [{"t": "str", "v": "区"}, {"t": "int", "v": "2"}]}')
    assert Watermark(1, (), snapshot=True).to_json() == \
        '{"cursor": {"t": "int", "v": "1"}, "key": [], "snapshot": true}'
    assert Watermark.from_json('{"cursor": {"t": "int", "v": "1"}, "key": []}') == Watermark(1, ())
    assert Watermark.from_json(None) is None and Watermark.from_json("") is None


def test_a_reject_is_named_by_a_stable_text_of_its_key():
    """encode_key names a reject in the state store: the same key must give the same text forever."""
    assert encode_key(("区", 7, None)) == '[{"t": "str", "v": "区"}, {"t": "int", "v": "7"}, {"t": "null"}]'
    assert decode_key(encode_key(("区", 7, None))) == ("区", 7, None)


class Odd:
    def __str__(self) -> str:
        return "odd value"


@pytest.mark.parametrize(("value", "encoded"), [
    (None, {"t": "null"}),
    (True, {"t": "bool", "v": True}),
    (12, {"t": "int", "v": "12"}),
    (Decimal("1.50"), {"t": "decimal", "v": "1.50"}),
    (1.5, {"t": "float", "v": "1.5"}),
    (datetime(2026, 1, 2, 3, 4, 5, 6), {"t": "datetime", "v": "2026-01-02T03:04:05.000006"}),
    (date(2026, 1, 2), {"t": "date", "v": "2026-01-02"}),
    (time(3, 4, 5), {"t": "time", "v": "03:04:05"}),
    (b"\x00\xff", {"t": "bytes", "v": "AP8="}),
    ("文本", {"t": "str", "v": "文本"}),
    (Odd(), {"t": "str", "v": "odd value"}),
])
def test_each_kind_of_value_has_its_json_form(value, encoded):
    assert encode_value(value) == encoded
    assert json.loads(json.dumps(encode_value(value))) == encoded


def test_a_watermark_describes_itself_for_the_operator():
    assert Watermark(datetime(2026, 1, 2, 3, 4), ()).describe() == "2026-01-02 03:04:00"
    assert Watermark(datetime(2026, 1, 2, 3, 4), ("a", 2)).describe() == "2026-01-02 03:04:00 / a, 2"
    copying = Watermark(None, ("a", 2), snapshot=True, bound=datetime(2026, 1, 3), also=(("b", Watermark(1, ())),))
    assert copying.describe() == "full copy up to 2026-01-03 00:00:00 in progress, done through key a, 2"
    two = Watermark(5, (1,), also=(("b", Watermark(7, (2,))), ("c", Watermark(9, ()))))
    assert two.describe() == "5 / 1; b 7 / 2; c 9"


def test_describe_value_writes_times_with_a_space():
    assert describe_value(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02 03:04:05"
    assert describe_value(date(2026, 1, 2)) == "2026-01-02"
    assert describe_value(time(3, 4)) == "03:04:00"
    assert describe_value(Decimal("1.5")) == "1.5"


def test_positions_of_further_cursors_are_kept_by_name_in_order():
    a, b = Watermark(1, ()), Watermark(2, ())
    mark = Watermark(0, ()).with_position("zeta", a).with_position("alpha", b)
    assert mark.also == (("alpha", b), ("zeta", a))
    assert mark.position("zeta") == a and mark.position("nothing") is None
    moved = mark.with_position("zeta", b)
    assert moved.also == (("alpha", b), ("zeta", b))
    assert moved.with_position("alpha", None).also == (("zeta", b),)
    assert (moved.cursor, moved.key) == (0, ())


# -- windows --------------------------------------------------------------------------------------

def test_an_empty_source_is_an_empty_window_and_nothing_is_ahead():
    assert planned(None, None) == WindowPlan(Window(empty=True), False, ())
    assert planned(Watermark(1, ()), None).ahead is False


def test_a_cursor_ahead_of_the_clock_is_reported_in_every_kind_of_window():
    ahead = datetime(2026, 11, 28, 18, 0)
    message = ("the newest cursor value 2026-11-28 18:00:00 is ahead of the source database's clock "
               "(2026-11-28 10:00:00 with clock_offset 1:00:00); rows beyond the clock are not read until the "
               "clock passes them. If the application writes local time into a database whose clock is UTC, "
               "set source.clock_offset (e.g. 8h) in the config")
    busy = Watermark(datetime(2026, 11, 28, 9, 58), (7,), bound=datetime(2026, 11, 28, 9, 59))
    quiet = Watermark(datetime(2026, 1, 1), (7,), bound=datetime(2026, 11, 28, 9, 59))
    copying = Watermark(None, (7,), snapshot=True, bound=datetime(2026, 11, 28, 9, 0))
    for previous in (None, busy, quiet, copying):
        plan = planned(previous, ahead, clock_offset=timedelta(hours=1))
        assert plan.ahead is True
        assert plan.warnings == (message,)
    assert planned(busy, ahead).warnings[0].split("); ")[0].endswith("(2026-11-28 10:00:00")
    assert planned(busy, datetime(2026, 11, 28, 9, 0)) == WindowPlan(
        Window(since=datetime(2026, 11, 28, 9, 49), until=NOW - timedelta(seconds=5)), False, ())


def test_an_open_transaction_holds_every_kind_of_window_before_it():
    opened = datetime(2026, 11, 28, 9, 30)
    held = datetime(2026, 11, 28, 9, 29, 59, 999999)
    kw = {"open_since": opened, "open_since_utc": opened.replace(tzinfo=timezone.utc) - timedelta(hours=8)}
    busy = Watermark(datetime(2026, 11, 28, 9, 20), (7,), bound=datetime(2026, 11, 28, 9, 25))
    quiet = Watermark(datetime(2026, 1, 1), (7,), bound=datetime(2026, 11, 28, 9, 25))
    assert planned(None, datetime(2026, 11, 28, 9, 0), **kw) == WindowPlan(
        Window(until=held, snapshot=True), False, (), opened)
    assert planned(busy, datetime(2026, 11, 28, 9, 0), **kw) == WindowPlan(
        Window(since=datetime(2026, 11, 28, 9, 15), until=held), False, (), opened)
    assert planned(quiet, datetime(2026, 1, 1), **kw) == WindowPlan(Window(after=quiet, until=held), False, (), opened)
    late = {"open_since": NOW, "open_since_utc": NOW_UTC}
    assert planned(quiet, datetime(2026, 1, 1), **late).held_by is None


def test_number_text_cursors_are_numbers_not_times():
    plan = planned(None, "125")
    assert plan.window == Window(until="125", snapshot=True)
    # a number that happens to read as a compact date (fromisoformat takes 20261128) stays a number
    assert planned(None, "20261128").window == Window(until="20261128", snapshot=True)
    assert planned(None, "2026-11-28 09:00:00").window.until == "2026-11-28 09:59:55"


def test_a_cursor_that_is_no_time_is_bounded_by_the_newest_value():
    """A number, or text that is no time (a version string): no clock bound, the newest value."""
    assert planned(None, 17).window == Window(until=17, snapshot=True)
    assert planned(None, "v-7").window == Window(until="v-7", snapshot=True)


def test_aware_and_date_cursors_take_the_offset_and_the_lag():
    offset, lag = timedelta(hours=8), timedelta(minutes=1)
    aware = planned(None, datetime(2026, 11, 28, 1, 0, tzinfo=timezone.utc), clock_offset=offset, lag=lag)
    assert aware.window.until == NOW_UTC + offset - lag
    days = planned(None, date(2026, 11, 27), clock_offset=timedelta(hours=15), lag=timedelta(0))
    assert days.window.until == date(2026, 11, 29)
    days = planned(None, date(2026, 11, 27), lag=timedelta(hours=11))
    assert days.window.until == date(2026, 11, 27)
    text = planned(None, "2026/11/28 09:00:00", clock_offset=timedelta(hours=1), lag=timedelta(0))
    assert text.window.until == "2026/11/28 11:00:00"


def test_a_clock_that_is_no_time_stops_the_run_and_says_what_to_check():
    with pytest.raises(FatalSyncError) as caught:
        planned(None, datetime(2026, 11, 28, 9, 0), db_now="0000-00-00")
    assert str(caught.value) == (
        "the source database's clock answered '0000-00-00', which is not a date and time; syncd bounds every "
        "window by that clock. Check the source's time settings (and the dialect's clock query in syncd/dialects)")


# -- stepping back by the lookback -----------------------------------------------------------------

@pytest.mark.parametrize(("cursor", "lookback", "floor"), [
    (datetime(2026, 11, 28, 9, 30), timedelta(minutes=10), datetime(2026, 11, 28, 9, 20)),
    (datetime(2026, 11, 28, 9, 30), timedelta(0), None),
    (date(2026, 11, 28), timedelta(minutes=10), date(2026, 11, 27)),
    (date(2026, 11, 28), timedelta(days=3), date(2026, 11, 25)),
    ("2026-11-28 09:30:00", timedelta(minutes=10), "2026-11-28 09:20:00"),
    ("2026-11-28", timedelta(minutes=10), "2026-11-27"),
    ("2026/11/28", timedelta(days=2), "2026/11/26"),
    ("2026-11-28 09:30:00", timedelta(0), None),
    ("not a time", timedelta(minutes=10), None),
    ("125", timedelta(minutes=10), None),
    ("20261128", timedelta(minutes=10), None),
    (125, 10, 115),
    (Decimal("12.5"), 10, Decimal("2.5")),
    (125, 0, None),
    (True, 1, None),
    (125, timedelta(minutes=10), None),
    (datetime(2026, 11, 28), 10, None),
])
def test_the_lookback_steps_back_in_the_cursors_own_type(cursor, lookback, floor):
    assert _step_back(cursor, lookback) == floor


@pytest.mark.parametrize(("a", "b", "greater"), [
    ("2026-11-28 10:00:00", "2026/11/28 09:00:00", True),       # compared as times, not as text
    ("2026/11/28 09:00:00", "2026-11-28 10:00:00", False),
    ("2026-11-28 10:00:00", "2026-11-28 10:00:00", False),
    ("2026-11-28T10:00:00+08:00", "2026-11-28 09:00:00", True),
    ("b", "a", True),
    ("b", "2026-11-28", True),
    (3, 2, True),
])
def test_cursor_values_compare_as_times_when_both_are(a, b, greater):
    assert _gt(a, b) is greater


@pytest.mark.parametrize(("text", "moment"), [
    ("2026-11-28 09:30:00.123", datetime(2026, 11, 28, 9, 30, 0, 123000)),
    ("2026/11/28 09:30:01", datetime(2026, 11, 28, 9, 30, 1)),
    ("2026/11/28", datetime(2026, 11, 28)),
    (" 2026-11-28 ", datetime(2026, 11, 28)),
    ("28.11.2026", None),
    (20261128, None),
])
def test_cursor_text_in_the_layouts_county_systems_write(text, moment):
    assert _parse_datetime(text) == moment


@pytest.mark.parametrize(("text", "number"), [
    ("12", True), (" -12 ", True), ("1.5", True), ("-1.5", True), ("1.2.3", False), ("1-2", False),
    ("", False), ("abc", False), (12, False), ("X12", False),
    ("--1", True)])
def test_number_text(text, number):
    assert _is_number_text(text) is number


@pytest.mark.parametrize(("template", "written"), [
    ("2026-01-01", "2026-11-28"),
    ("2026/01/01", "2026/11/28"),
    ("2026-01-01 00:00:00", "2026-11-28 09:30:05"),
    ("2026/01/01 00:00:00", "2026/11/28 09:30:05"),
    ("2026-01-01T00:00:00", "2026-11-28T09:30:05"),
    ("2026-01-01 00:00:00.000", "2026-11-28 09:30:05.123"),
    ("2026-01-01 00:00:00.0", "2026-11-28 09:30:05.1"),
    ("2026-01-01 00:00:00.", "2026-11-28 09:30:05"),
    ("2026-01-01 00:00:00.0000000", "2026-11-28 09:30:05.1234560"),
    ("2026-01-01 00:00:00.000+08:00", "2026-11-28 09:30:05.123"),
    ("2026-1-1", "2026-11-28 09:30:05"),           # shorter than a date: written in full
])
def test_format_like_keeps_the_layout_of_the_column(template, written):
    assert format_like(datetime(2026, 11, 28, 9, 30, 5, 123456), template) == written


# -- a cursor value that is no value of its kind ------------------------------------------------------

@pytest.mark.parametrize(("value", "like", "problem"), [
    (None, datetime(2026, 1, 1), None),
    (datetime(2026, 1, 1), None, None),
    (datetime(2026, 1, 1), datetime(2026, 1, 2), None),
    (datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 1, 2),
     "cursor value '2026-01-01 00:00:00+00:00' is not a date and time"),
    (datetime(2026, 1, 1), datetime(2026, 1, 2, tzinfo=timezone.utc),
     "cursor value '2026-01-01 00:00:00' is not a date and time"),
    ("0000-00-00 00:00:00", datetime(2026, 1, 2), "cursor value '0000-00-00 00:00:00' is not a date and time"),
    (date(2026, 1, 1), date(2026, 1, 2), None),
    (datetime(2026, 1, 1), date(2026, 1, 2), "cursor value '2026-01-01 00:00:00' is not a date"),
    ("2026-01-01", date(2026, 1, 2), "cursor value '2026-01-01' is not a date"),
    (3, 5, None), (Decimal("3.5"), 5, None), (2.5, Decimal("1"), None),
    (True, 5, "cursor value 'True' is not a number"),
    ("3", 5, "cursor value '3' is not a number"),
    (3, True, "cursor value '3' is not a bool"),
    (False, True, None),
    ("7", "12", None),
    ("x7", "12", "cursor value 'x7' is not a number"),
    (7, "12", "cursor value '7' is not a number"),
    ("2026-01-01 00:00:00", "2026-01-02 00:00:00", None),
    ("2026-02-30 00:00:00", "2026-01-02 00:00:00", "cursor value '2026-02-30 00:00:00' is not a date and time"),
    (datetime(2026, 1, 1), "2026-01-02 00:00:00", "cursor value '2026-01-01 00:00:00' is not a date and time"),
    ("b", "a", None),
    (b"b", "a", "cursor value \"b'b'\" is not a str"),
    (b"b", b"a", None),
    ("b", b"a", "cursor value 'b' is not a bytes"),
])
def test_cursor_problem_names_the_value_and_its_kind(value, like, problem):
    assert cursor_problem(value, like) == problem


# -- query plans: the SQL each statement sends ------------------------------------------------------

def table_mapping(**source) -> TableMapping:
    spec = Mapping_.model_validate({
        "name": "m", "source": {"key": ["id"], "cursor": "ts", **source},
        "target": {"table": "t", "key": ["id"]},
        "columns": {"id": {"from": "id"}, "name": {"from": "nm"}, "code": {"expr": "UPPER(cd)"},
                    "ref": {"uuid5": ["id", "nm"]}, "at": {"value": "now"}}})
    return TableMapping(spec=spec, file=Path("m.yaml"), batch_size=10, lookback=0, lag=timedelta(0),
                        null_cursor="include", schedule=None)


def sql(statement) -> str:
    return " ".join(str(statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})).split())


COLUMNS = "s.id, s.ts, s.nm, UPPER(cd) AS _expr_code"
FROM = "FROM s"


@pytest.fixture
def on_table():
    return table_mapping(table="s", where="del_flag = '0'")


def test_a_run_reads_the_key_the_cursors_and_every_column_a_target_column_is_made_of(on_table):
    assert plan.needed_columns(on_table) == ("id", "ts", "nm")
    lay = plan.layout(on_table)
    assert lay == plan.Layout(names=("id", "ts", "nm", "_expr_code"), cursor=1, key=(0,), cursors=(1,))
    assert lay.index("nm") == 2
    two = table_mapping(table="s", key=["nm", "id"], cursor=["ts", "ts2"])
    assert plan.layout(two) == plan.Layout(names=("nm", "id", "ts", "ts2", "_expr_code"), cursor=2, key=(0, 1),
                                           cursors=(2, 3))


def test_an_incremental_window_is_read_in_cursor_then_key_order(on_table):
    since = Window(since=5, until=9)
    assert sql(plan.read_window(on_table, since)) == (
        f"SELECT {COLUMNS} {FROM} WHERE s.ts IS NOT NULL AND (del_flag = '0') AND s.ts >= 5 AND s.ts <= 9 "
        "ORDER BY s.ts, s.id")
    after = Window(after=Watermark(5, (3,)), until=9)
    assert sql(plan.read_window(on_table, after)) == (
        f"SELECT {COLUMNS} {FROM} WHERE s.ts IS NOT NULL AND (del_flag = '0') AND (s.ts > 5 OR s.ts = 5 AND s.id > 3) "
        "AND s.ts <= 9 ORDER BY s.ts, s.id")
    finished_copy = Window(after=Watermark(5, ()))
    assert sql(plan.read_window(on_table, finished_copy)) == (
        f"SELECT {COLUMNS} {FROM} WHERE s.ts IS NOT NULL AND (del_flag = '0') AND s.ts > 5 ORDER BY s.ts, s.id")
    assert sql(plan.read_window(table_mapping(table="s", cursor=["ts", "ts2"]), Window(since=5), "ts2")) == (
        "SELECT s.id, s.ts, s.ts2, s.nm, UPPER(cd) AS _expr_code FROM s WHERE s.ts2 IS NOT NULL AND s.ts2 >= 5 "
        "ORDER BY s.ts2, s.id")


def test_a_full_copy_is_read_in_key_order_and_resumed_by_key(on_table):
    assert sql(plan.read_window(on_table, Window(until=9, snapshot=True))) == (
        f"SELECT {COLUMNS} {FROM} WHERE s.ts IS NOT NULL AND (del_flag = '0') AND s.ts <= 9 ORDER BY s.id")
    resumed = Window(after=Watermark(4, (3,), snapshot=True), until=9, snapshot=True)
    assert sql(plan.read_window(on_table, resumed)) == (
        f"SELECT {COLUMNS} {FROM} WHERE s.ts IS NOT NULL AND (del_flag = '0') AND s.ts <= 9 AND s.id > 3 ORDER BY s.id")
    assert sql(plan.read_window(table_mapping(table="s"), Window(snapshot=True))) == (
        "SELECT s.id, s.ts, s.nm, UPPER(cd) AS _expr_code FROM s WHERE s.ts IS NOT NULL ORDER BY s.id")


def test_rows_with_a_null_cursor_are_read_by_key(on_table):
    assert sql(plan.read_null_cursor(on_table)) == (
        f"SELECT {COLUMNS} {FROM} WHERE s.ts IS NULL AND (del_flag = '0') ORDER BY s.id")
    assert sql(plan.read_null_cursor(on_table, (3,))) == (
        f"SELECT {COLUMNS} {FROM} WHERE s.ts IS NULL AND (del_flag = '0') AND s.id > 3 ORDER BY s.id")


def test_rejects_are_read_again_by_key_in_window_order(on_table):
    assert sql(plan.read_keys(on_table, [(1,), (2,)])) == (
        f"SELECT {COLUMNS} {FROM} WHERE s.id IN (1, 2) AND (del_flag = '0') ORDER BY s.ts, s.id")
    two = table_mapping(table="s", key=["id", "nm"])
    assert sql(plan.read_keys(two, [(1, "a"), (2, "b")])) == (
        "SELECT s.id, s.nm, s.ts, UPPER(cd) AS _expr_code FROM s WHERE s.id = 1 AND s.nm = 'a' OR s.id = 2 "
        "AND s.nm = 'b' ORDER BY s.ts, s.id, s.nm")


def test_probes_count_and_parent_checks(on_table):
    assert sql(plan.probe_newest(on_table)) == f"SELECT max(s.ts) AS max_1 {FROM} WHERE (del_flag = '0')"
    assert sql(plan.probe_newest(table_mapping(table="s", schema="sales"))) == \
        "SELECT max(sales.s.ts) AS max_1 FROM sales.s"
    assert sql(plan.probe_newest(table_mapping(table="s", cursor=["ts", "ts2"]), "ts2")) == \
        "SELECT max(s.ts2) AS max_1 FROM s"
    assert sql(plan.count_null_cursor(on_table)) == \
        f"SELECT count(*) AS count_1 {FROM} WHERE s.ts IS NULL AND (del_flag = '0')"
    assert sql(plan.count_ahead(on_table, 9)) == \
        f"SELECT count(*) AS count_1 {FROM} WHERE s.ts > 9 AND (del_flag = '0')"
    assert sql(plan.count_ahead(table_mapping(table="s", cursor=["ts", "ts2"]), 9, "ts2")) == \
        "SELECT count(*) AS count_1 FROM s WHERE s.ts2 > 9"
    assert sql(plan.target_keys("p", "prov", ["a", "b"], [(1, 2), (3, 4)])) == \
        "SELECT prov.p.a, prov.p.b FROM prov.p WHERE prov.p.a = 1 AND prov.p.b = 2 OR prov.p.a = 3 AND prov.p.b = 4"
    assert sql(plan.target_keys("p", None, ["id"], [(1,), (3,)])) == "SELECT p.id FROM p WHERE p.id IN (1, 3)"


def test_a_query_source_is_a_subquery_named_src():
    mapping = table_mapping(query="SELECT * FROM a JOIN b USING (id)")
    assert sql(plan.read_window(mapping, Window(since=5))) == (
        "SELECT src.id, src.ts, src.nm, UPPER(cd) AS _expr_code FROM (SELECT * FROM a JOIN b USING (id)) AS src "
        "WHERE src.ts IS NOT NULL AND src.ts >= 5 ORDER BY src.ts, src.id")


def test_keys_are_looked_up_in_chunks():
    assert [list(c) for c in plan.chunks(list(range(7)), 3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(list(plan.chunks(list(range(1001))))) == 3


LAYOUT = plan.Layout(names=("id", "ts"), cursor=1, key=(0,), cursors=(1, 2))


def test_the_watermark_after_a_batch_is_its_last_rows_cursor_and_key():
    rows = [(1, 10, 50), (2, 11, 40), (3, 12, 30)]
    window = Window(since=5, until=99)
    assert plan.watermark_of(rows, LAYOUT, window, None) == Watermark(12, (3,), bound=99)
    assert plan.watermark_of(rows, LAYOUT, window, None, cursor=2) == Watermark(30, (3,), bound=99)
    assert plan.watermark_of([], LAYOUT, window, None) is None


def test_a_bad_cursor_never_becomes_the_watermark():
    rows = [(1, 10), (2, 11), (3, "0000-00-00")]
    window = Window(since=5, until=99)
    assert plan.watermark_of(rows, LAYOUT, window, None, like=12) == Watermark(11, (2,), bound=99)
    assert plan.watermark_of([(3, "0000-00-00")], LAYOUT, window, None, like=12) is None
    copy = Window(until=99, snapshot=True)
    assert plan.watermark_of(rows, LAYOUT, copy, None, like=12) == Watermark(11, (3,), snapshot=True, bound=99)


def test_a_full_copy_keeps_the_largest_cursor_copied_so_far():
    copy = Window(until=99, snapshot=True)
    rows = [(1, 30), (2, None), (3, 20)]
    assert plan.watermark_of(rows, LAYOUT, copy, None) == Watermark(30, (3,), snapshot=True, bound=99)
    earlier = Watermark(50, (0,), snapshot=True, bound=99)
    assert plan.watermark_of(rows, LAYOUT, copy, earlier) == Watermark(50, (3,), snapshot=True, bound=99)
    smaller = Watermark(10, (0,), snapshot=True, bound=99)
    assert plan.watermark_of(rows, LAYOUT, copy, smaller) == Watermark(30, (3,), snapshot=True, bound=99)
    assert plan.watermark_of([(4, None)], LAYOUT, copy, earlier) == Watermark(50, (4,), snapshot=True, bound=99)
    assert plan.watermark_of([(4, None)], LAYOUT, copy, None) == Watermark(None, (4,), snapshot=True, bound=99)
    no_cursor = Watermark(None, (0,), snapshot=True, bound=99)
    assert plan.watermark_of(rows, LAYOUT, copy, no_cursor) == Watermark(30, (3,), snapshot=True, bound=99)
    not_a_copy = Watermark(50, (0,), bound=99)
    assert plan.watermark_of(rows, LAYOUT, copy, not_a_copy) == Watermark(30, (3,), snapshot=True, bound=99)


# -- schedules --------------------------------------------------------------------------------------

SH = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2024, 5, 6, 10, 3, 20, tzinfo=SH)
SCHEDULED = """\
name: {name}
source: {{table: src_{name}, key: [id], cursor: update_time}}
target: {{table: dp_{name}, key: [id]}}
{extra}
columns:
  id: {{from: id}}
"""


def scheduled_project(tmp_path: Path, mappings: dict[str, str], config_extra: str = ""):
    (tmp_path / "mappings").mkdir(exist_ok=True)
    for name, extra in mappings.items():
        (tmp_path / "mappings" / f"{name}.yaml").write_text(SCHEDULED.format(name=name, extra=extra), encoding="utf-8")
    (tmp_path / "config.yaml").write_text(
        'source: {url: "sqlite:///src.db"}\ntarget: {url: "sqlite:///dst.db"}\n' + textwrap.dedent(config_extra),
        encoding="utf-8")
    return commands.open_project(tmp_path / "config.yaml")


def schedule_problems(p, config=None) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        schedule.plan_jobs(config or p.config, p.mappings)
    return caught.value.problems


@pytest.mark.parametrize(("field", "days"), [
    ("?", "*"), ("SUNDAY", "sun"), ("mon-fri", "mon,tue,wed,thu,fri"), ("*/3", "sun,wed,sat"),
    ("5/1", "fri,sat"), ("1/2", "mon,wed,fri"), ("6-7", "sun,sat"), ("7", "sun"), ("3-5/2", "wed,fri"),
])
def test_cron_day_of_week_fields(field, days):
    assert schedule.crontab_day_of_week(field) == days


@pytest.mark.parametrize(("field", "message"), [
    ("8", "day of week 8 is out of range 0-7"),
    ("funday", "unknown day of week 'funday'"),
    ("mon--fri", "cannot read day of week 'mon--fri'"),
    ("*-3", "cannot read day of week '*-3'"),
    ("*/0", "step 0 in day of week must be at least 1"),
    ("fri-mon", "day-of-week range 'fri-mon' runs backwards"),
])
def test_cron_day_of_week_refusals_say_what_is_wrong(field, message):
    with pytest.raises(ValueError) as caught:
        schedule.crontab_day_of_week(field)
    assert str(caught.value) == message


@pytest.mark.parametrize(("text", "message"), [
    ("", "'' is not a schedule: write an interval (30s, 10m, 1h) or a cron expression (*/10 * * * *)"),
    (5, "5 is not a schedule: write an interval (30s, 10m, 1h) or a cron expression (*/10 * * * *)"),
    ("0s", "interval '0s' must be longer than zero"),
    ("* * *", "'* * *' is not a schedule: an interval is a number and a unit (30s, 10m, 1h, 1d); a cron "
              "expression has 5 fields (minute hour day month weekday), this has 3"),
    ("0 9 * * 9", "'0 9 * * 9' is not a valid cron expression: day of week 9 is out of range 0-7"),
])
def test_a_schedule_that_is_neither_is_one_problem_with_file_line_and_key(text, message):
    with pytest.raises(ConfigError) as caught:
        schedule.parse_schedule(text, SH, file="c.yaml", key="schedules.g.schedule", line=7)
    assert caught.value.problems == [Problem("c.yaml", 7, "schedules.g.schedule", message)]
    with pytest.raises(ConfigError) as caught:
        schedule.parse_schedule(text, "Asia/Shanghai")
    assert caught.value.problems == [Problem("", None, "schedule", message)]


def test_a_one_second_interval_is_an_interval():
    trigger = schedule.parse_schedule("1s", "Asia/Shanghai", start=MONDAY)
    assert trigger.get_next_fire_time(MONDAY, MONDAY + timedelta(seconds=1)) == MONDAY + timedelta(seconds=1)


def test_schedules_run_in_the_configured_time_zone():
    for tz in ("Asia/Shanghai", SH):
        interval = schedule.parse_schedule("10m", tz)
        cron = schedule.parse_schedule("0 2 1 8 *", tz)
        assert interval.timezone == SH and cron.timezone == SH
        assert cron.get_next_fire_time(None, MONDAY) == datetime(2024, 8, 1, 2, 0, tzinfo=SH)


GROUPS = """\
schedules:
  good:
    schedule: 1h
    mappings: [a]
  again:
    schedule: 2h
    mappings: [nope, a]
  extra:
    schedule: 1h
    mappings: [b]
    when: never
  broken:
    schedule: 5q
    mappings: [b]
"""
GROUP_PROBLEMS = [
    ("schedules.again.mappings.0", "no mapping named 'nope' (known: a, b)"),
    ("schedules.again.mappings.1", "mapping 'a' is already in schedule group 'good'"),
    ("schedules.extra", "a schedule group needs 'schedule' and 'mappings' (and nothing else)"),
    ("schedules.broken.schedule", "'5q' is not a schedule: an interval is a number and a unit (30s, 10m, 1h, 1d); "
                                  "a cron expression has 5 fields (minute hour day month weekday), this has 1"),
]


def test_every_problem_of_the_schedule_groups_is_reported_with_the_config_file(tmp_path):
    p = scheduled_project(tmp_path, {"a": "", "b": ""}, GROUPS)
    config = str(tmp_path / "config.yaml")
    assert [(x.file, x.where, x.message) for x in schedule_problems(p)] == [(config, *w) for w in GROUP_PROBLEMS]


def test_schedule_group_problems_name_their_line_when_the_groups_carry_lines(tmp_path):
    """``_line`` reads the lines the YAML loader gives each key (the config as loaded)."""
    p = scheduled_project(tmp_path, {"a": "", "b": ""})
    (tmp_path / "groups.yaml").write_text(GROUPS, encoding="utf-8")
    loaded, _ = yamlfile.load(tmp_path / "groups.yaml")
    config = p.config.model_copy(update={"schedules": loaded["schedules"], "path": Path("/etc/syncd/config.yaml")})
    assert schedule_problems(p, config) == [
        Problem("/etc/syncd/config.yaml", line, where, message)
        for line, (where, message) in zip([7, 7, 8, 13], GROUP_PROBLEMS, strict=True)]


def test_schedules_must_be_a_mapping_of_groups(tmp_path):
    p = scheduled_project(tmp_path, {"a": ""})
    config = p.config.model_copy(update={"schedules": ["1h"], "path": Path("/etc/syncd/config.yaml")})
    assert schedule_problems(p, config) == [
        Problem("/etc/syncd/config.yaml", None, "schedules",
                "schedules must map a name to {schedule: ..., mappings: [...]}")]
    p = scheduled_project(tmp_path, {"a": ""}, "schedules:\n  g: {mappings: [a]}\n  h: 1h\n")
    assert [x.where for x in schedule_problems(p)] == ["schedules.g", "schedules.h"]


def test_a_group_may_name_one_mapping_without_a_list(tmp_path):
    p = scheduled_project(tmp_path, {"alpha": "", "b": ""}, "schedules:\n  g: {schedule: 1h, mappings: alpha}\n")
    assert {(j.id, j.schedule, j.mappings) for j in schedule.plan_jobs(p.config, p.mappings)} == {
        ("group:g", "1h", ("alpha",)), ("schedule:10m", "10m", ("b",))}


def test_a_bad_schedule_of_a_mapping_names_the_mapping_file(tmp_path):
    p = scheduled_project(tmp_path, {"a": "schedule: '  */5   x * * *'"}, "defaults: {timezone: UTC}\n")
    [problem] = schedule_problems(p)
    assert (problem.file, problem.where) == (str(tmp_path / "mappings" / "a.yaml"), "schedule")
    lines = (tmp_path / "mappings" / "a.yaml").read_text(encoding="utf-8").splitlines()
    assert problem.line is not None and lines[problem.line - 1].startswith("schedule:")
    p = scheduled_project(tmp_path, {"a": ""}, "defaults: {schedule: 5q}\n")
    [problem] = schedule_problems(p)
    assert (problem.file, problem.where) == (str(tmp_path / "config.yaml"), "defaults.schedule")


def test_mappings_whose_schedules_differ_only_in_spaces_share_a_job(tmp_path):
    p = scheduled_project(tmp_path, {"a": "schedule: '*/5  * * * *'", "b": "schedule: '*/5 * * * *'"},
                          "defaults: {timezone: UTC}\n")
    [job] = schedule.plan_jobs(p.config, p.mappings)
    assert (job.id, job.schedule, job.mappings) == ("schedule:*/5 * * * *", "*/5  * * * *", ("a", "b"))
    assert str(job.trigger.timezone) == "UTC"
    assert not job.is_interval


# -- the config file ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "duration"), [
    ("30s", timedelta(seconds=30)), ("10m", timedelta(minutes=10)), ("2h", timedelta(hours=2)),
    ("1d", timedelta(days=1)), ("500ms", timedelta(milliseconds=500)), (" 1.5 m ", timedelta(seconds=90)),
    ("45", timedelta(seconds=45)), (45, timedelta(seconds=45)), (0.5, timedelta(milliseconds=500)),
    (timedelta(hours=3), timedelta(hours=3)),
])
def test_durations(value, duration):
    assert config_module.parse_duration(value) == duration


@pytest.mark.parametrize(("value", "message"), [
    (True, "expected a duration such as 30s, 10m, 1h"),
    ("soon", "'soon' is not a duration: write e.g. 30s, 10m, 1h or 2d"),
    ("-5s", "'-5s' is not a duration: write e.g. 30s, 10m, 1h or 2d"),
])
def test_a_duration_that_is_none_says_how_to_write_one(value, message):
    with pytest.raises(ValueError) as caught:
        config_module.parse_duration(value)
    assert str(caught.value) == message


@pytest.mark.parametrize(("value", "days"), [
    (365, 365), ("365", 365), ("200d", 200), ("181 days", 181), ("26 weeks", 182), ("30 w", 210),
    ("7 months", 210), ("1 year", 365), ("2y", 730), (timedelta(days=180), 180),
])
def test_audit_retention_in_whole_days(value, days):
    assert config_module.parse_retention(value) == timedelta(days=days)


@pytest.mark.parametrize(("value", "message"), [
    (True, "expected a number of days, e.g. 365 days"),
    (1.5, "expected a number of days, e.g. 365 days"),
    ("a while", "'a while' is not a number of days: write e.g. 365 days, 52 weeks or 1 year"),
    (179, "179 days is too short: network logs must be kept at least six months, so audit.retention must be "
          "180 days or more"),
    ("25 weeks", "175 days is too short: network logs must be kept at least six months, so audit.retention "
                 "must be 180 days or more"),
])
def test_an_audit_retention_below_six_months_is_refused(value, message):
    with pytest.raises(ValueError) as caught:
        config_module.parse_retention(value)
    assert str(caught.value) == message


def write_config(tmp_path: Path, text: str) -> Path:
    (tmp_path / "mappings").mkdir(exist_ok=True)
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def config_problems(path: Path, env=None) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ConfigError) as caught:
        config_module.load_config(path, env or {})
    return [(p.line, p.where, p.message) for p in caught.value.problems]


def test_relative_paths_and_database_files_lie_beside_the_config(tmp_path):
    (tmp_path / "pw").write_text(" s3cret \n", encoding="utf-8")
    (tmp_path / "audit.key").write_text("k", encoding="utf-8")
    path = write_config(tmp_path, """\
        source: {url: "mysql+pymysql://reader@db:3306/county", password_file: pw}
        target: {url: "sqlite:///fep.db"}
        state: {dir: state, url: "postgresql+psycopg://syncd@db/state", password_file: pw}
        log: {dir: ~/logs}
        audit: {key_file: audit.key, retention: 200 days}
        """)
    loaded = config_module.load_config(path, {})
    assert loaded.path == path
    assert loaded.mappings == tmp_path / "mappings" and loaded.codes_dir == tmp_path / "mappings" / "codes"
    assert loaded.target.url == f"sqlite:///{tmp_path / 'fep.db'}"
    assert loaded.source.url == "mysql+pymysql://reader@db:3306/county"
    assert loaded.source.sqlalchemy_url().password == "s3cret"
    assert loaded.state.dir == tmp_path / "state"
    assert loaded.log.dir == Path.home() / "logs"
    assert loaded.audit.key_file == tmp_path / "audit.key" and loaded.audit.retention == timedelta(days=200)
    assert loaded.state_url().password == "s3cret" and loaded.state_url().database == "state"
    assert loaded.state_dir() == tmp_path / "state"


def test_a_password_never_shows_in_the_url_syncd_displays(tmp_path):
    path = write_config(tmp_path, """\
        source: {url: "mysql+pymysql://reader:pw-in-url@db:3306/county"}
        target: {url: "sqlite:////var/lib/fep.db"}
        """)
    loaded = config_module.load_config(path, {})
    assert loaded.source.display_url() == "mysql+pymysql://reader:***@db:3306/county"
    assert loaded.source.sqlalchemy_url().password == "pw-in-url"
    assert loaded.target.url == "sqlite:////var/lib/fep.db"


def test_the_state_store_defaults_to_a_file_in_the_state_directory(tmp_path, monkeypatch):
    path = write_config(tmp_path, 'source: {url: "sqlite:///s.db"}\ntarget: {url: "sqlite:///t.db"}\n')
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    loaded = config_module.load_config(path, {})
    assert loaded.state_dir() == tmp_path / "state"
    assert str(loaded.state_url()) == f"sqlite:///{tmp_path / 'state' / 'state.db'}"
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/syncd:/var/lib/other")
    assert loaded.state_dir() == Path("/var/lib/syncd")
    with_url = loaded.model_copy(update={"state": config_module.StateConfig(url="sqlite:///x.db")})
    assert str(with_url.state_url()) == "sqlite:///x.db"


def test_every_missing_file_of_the_config_is_named_with_its_line(tmp_path):
    path = write_config(tmp_path, """\
        source: {url: "sqlite:///s.db", password_file: nope.pw}
        target: {url: "sqlite:///t.db"}
        audit:
          key_file: no.key
        oracle_client: /nowhere/instantclient
        """)
    assert config_problems(path) == [
        (1, "source.password_file", f"password file {tmp_path / 'nope.pw'} does not exist or is not readable"),
        (4, "audit.key_file", f"key file {tmp_path / 'no.key'} does not exist or is not readable; create it (e.g. "
                              "head -c 32 /dev/urandom | base64 > FILE, mode 0400, owned by syncd's user)"),
        (5, "oracle_client", "Oracle Instant Client folder /nowhere/instantclient does not exist; unpack Instant "
                             "Client there (see docs/databases.md), or remove the key"),
    ]


def test_unknown_missing_and_wrong_keys_of_the_config(tmp_path):
    path = write_config(tmp_path, """\
        source: {url: "sqlite:///s.db", colour: blue}
        defaults:
          lookback: soon
        mappings: elsewhere
        """)
    assert config_problems(path) == [
        (1, "source.colour", "unknown key 'colour': check the spelling (see the documentation of this file)"),
        (1, "target", "required key 'target' is missing"),
        (3, "defaults.lookback", "'soon' is not a duration: write e.g. 30s, 10m, 1h or 2d"),
    ]
    path = write_config(tmp_path, 'source: {url: "sqlite:///s.db"}\ntarget: {url: "sqlite:///t.db"}\n'
                                  'mappings: elsewhere\n')
    assert config_problems(path) == [(3, "mappings", f"mappings directory {tmp_path / 'elsewhere'} does not exist")]
    path.write_text("- a list\n", encoding="utf-8")
    assert config_problems(path) == [(1, "", "the config must be a YAML mapping (key: value lines)")]


@pytest.mark.parametrize(("url", "start", "end"), [
    ("not a url", "not a database URL (", "); write e.g. mysql+pymysql://user@host:3306/db"),
    ("mongodb://h/db", "syncd does not support the database kind 'mongodb' (supported: ",
     "write e.g. mysql+pymysql://, postgresql+psycopg://, oracle+oracledb://, dm+dmPython://, kingbase+psycopg:// "
     "or sqlite:///"),
])
def test_a_url_syncd_cannot_use_is_a_problem_of_its_key(tmp_path, url, start, end):
    path = write_config(tmp_path, f'source: {{url: "{url}"}}\ntarget: {{url: "sqlite:///t.db"}}\n')
    [(line, where, text)] = config_problems(path)
    assert (line, where) == (1, "source.url")
    assert text.startswith(start) and text.endswith(end)


def test_the_config_file_is_found_by_the_documented_order(tmp_path, monkeypatch):
    assert config_module.find_config(Path("given.yaml"), {"SYNCD_CONFIG": "env.yaml"}) == Path("given.yaml")
    assert config_module.find_config("", {"SYNCD_CONFIG": "env.yaml"}) == Path("env.yaml")
    if Path("/etc/syncd/config.yaml").exists():
        pytest.skip("this machine has /etc/syncd/config.yaml")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        config_module.find_config(None, {"SYNCD_CONFIG": ""})
    assert caught.value.problems == [Problem(
        "config.yaml", None, "", "no config file: pass -c FILE, set SYNCD_CONFIG, or create ./config.yaml or "
        "/etc/syncd/config.yaml (see config.example.yaml)")]


# -- mapping files --------------------------------------------------------------------------------------

MAPPING = """\
name: {name}
source: {{table: src, key: [id], cursor: update_time}}
target: {{table: dst, key: [id]}}
columns:
  id: {{from: id}}
  status: {{from: jg, map: check_status}}
"""


def mapping_dir(tmp_path: Path, mappings: dict[str, str], codes: str | None = None, extra: str = "") -> Path:
    (tmp_path / "mappings" / "codes").mkdir(parents=True, exist_ok=True)
    (tmp_path / "mappings" / "codes" / "check_status.yaml").write_text(
        codes if codes is not None else "codes:\n  - {code: '0', label: 正常, aliases: [好, 1]}\n", encoding="utf-8")
    for name, text in mappings.items():
        (tmp_path / "mappings" / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    path = tmp_path / "config.yaml"
    path.write_text('source: {url: "sqlite:///s.db"}\ntarget: {url: "sqlite:///t.db"}\n' + extra, encoding="utf-8")
    return path


def mapping_problems(path: Path, **kw) -> list[tuple[str, int | None, str, str]]:
    with pytest.raises(ConfigError) as caught:
        load_mappings(config_module.load_config(path, {}), **kw)
    return [(Path(p.file).name, p.line, p.where, p.message) for p in caught.value.problems]


MAPPED = "; rules test the mapped target columns"


def test_every_cross_field_problem_of_a_mapping_names_its_line(tmp_path):
    path = mapping_dir(tmp_path, {"a": """\
        name: a
        source: {table: src, key: [id], cursor: update_time}
        target: {table: dst, key: [id, code]}
        columns:
          id: {from: id}
          status: {from: jg, map: nowhere}
          flag: {from: f, unknown: keep}
          ref: {from: r, namespace: units}
          uid: {uuid5: []}
        rules:
          - when: {ghost: 1}
            check: {phantom: 2}
            require: [spectre]
        parents:
          - {columns: [id, ref], table: p}
          - {columns: [missing], table: p, key: [id]}
        """})
    assert mapping_problems(path) == [
        ("a.yaml", 3, "target.key", "target key column 'code' is not under 'columns:'; syncd must fill every key "
                                    "column: add it under 'columns:'"),
        ("a.yaml", 6, "columns.status.map", "code list 'nowhere' not found in mappings/codes/ (known: check_status)"),
        ("a.yaml", 7, "columns.flag.unknown", "'unknown' only applies together with 'map'"),
        ("a.yaml", 8, "columns.ref.namespace", "'namespace' only applies together with 'uuid5'"),
        ("a.yaml", 9, "columns.uid.uuid5", "uuid5 needs at least one source column"),
        ("a.yaml", 11, "rules.0.when", f"rule names column 'ghost', which is not under 'columns:'{MAPPED}"),
        ("a.yaml", 12, "rules.0.check", f"rule names column 'phantom', which is not under 'columns:'{MAPPED}"),
        ("a.yaml", 13, "rules.0.require", f"rule requires column 'spectre', which is not under 'columns:'{MAPPED}"),
        ("a.yaml", 15, "parents.0", "'columns' and 'key' must name the same number of columns"),
        ("a.yaml", 16, "parents.1.columns", "parent column 'missing' is not under 'columns:'"),
    ]


def test_problems_of_whole_files_and_of_the_set_of_mappings(tmp_path):
    path = mapping_dir(tmp_path, {
        "empty": "",
        "list": "- a\n- b\n",
        "one": MAPPING.format(name="one"),
        "two": MAPPING.format(name="two"),
        "again": MAPPING.format(name="one"),
    }, codes="codes: 5\n")
    found = mapping_problems(path, only=("nope",))
    assert found == [
        ("check_status.yaml", 1, "codes", "Input should be a valid tuple"),
        ("again.yaml", 6, "columns.status.map", "code list 'check_status' not found in mappings/codes/ (known: none)"),
        ("empty.yaml", None, "", "the mapping file is empty; write the mapping, or move the file out of the "
                                 "mappings directory"),
        ("list.yaml", 1, "", "a mapping file must be a YAML mapping"),
        ("one.yaml", 6, "columns.status.map", "code list 'check_status' not found in mappings/codes/ (known: none)"),
        ("one.yaml", 1, "name", f"mapping name 'one' is also used by {tmp_path / 'mappings' / 'again.yaml'}; give "
                                "each mapping its own name"),
        ("two.yaml", 6, "columns.status.map", "code list 'check_status' not found in mappings/codes/ (known: none)"),
        ("mappings", None, "-m", "no mapping named 'nope' (known: one, two)"),
    ]


def test_unknown_dependencies_and_cycles_name_the_file_and_line(tmp_path):
    path = mapping_dir(tmp_path, {
        "one": MAPPING.format(name="one") + "depends_on: [two, ghost]\n",
        "two": MAPPING.format(name="two") + "depends_on: [three]\n",
        "three": MAPPING.format(name="three") + "depends_on:\n  - one\n",
    })
    assert mapping_problems(path) == [
        ("one.yaml", 7, "depends_on", "depends on unknown mapping 'ghost' (known: one, three, two)"),
        ("one.yaml", 7, "depends_on", "depends_on forms a cycle: one -> two -> three -> one"),
    ]


def test_a_mappings_directory_without_mappings_is_a_problem(tmp_path):
    path = mapping_dir(tmp_path, {})
    (tmp_path / "mappings" / "notes.txt").write_text("x", encoding="utf-8")
    assert mapping_problems(path) == [("mappings", None, "", "no mapping files (*.yaml) in this directory")]


def test_settings_come_from_the_mapping_then_the_defaults(tmp_path):
    path = mapping_dir(tmp_path, {
        "own": (MAPPING.format(name="own") + "batch_size: 7\nlookback: 120\nlag: 3s\nschedule: 1h\n").replace(
            "source: {table: src, key: [id], cursor: update_time}",
            "source: {table: src, key: id, cursor: update_time, null_cursor: error, bad_cursor: exclude}"),
        "plain": MAPPING.format(name="plain"),
        "spaced": MAPPING.format(name="spaced").replace("update_time}", "update_time}\nlookback: 0"),
    }, extra="defaults: {batch_size: 9, lookback: 1m, lag: 2s, null_cursor: exclude, bad_cursor: error, "
             "schedule: 5m}\n")
    own, plain, spaced = (load_mappings(config_module.load_config(path, {}), only=(n,))[0]
                          for n in ("own", "plain", "spaced"))
    assert (own.batch_size, own.lookback, own.lag, own.null_cursor, own.bad_cursor, own.schedule) == \
        (7, 120, timedelta(seconds=3), "error", "exclude", "1h")
    assert own.source.key == ("id",)
    assert (plain.batch_size, plain.lookback, plain.lag, plain.null_cursor, plain.bad_cursor, plain.schedule) == \
        (9, timedelta(minutes=1), timedelta(seconds=2), "exclude", "error", "5m")
    assert spaced.lookback == 0
    assert own.where() == f"mapping 'own' ({tmp_path / 'mappings' / 'own.yaml'})"
    assert (own.name, own.target.table, list(own.columns)) == ("own", "dst", ["id", "status"])


def test_a_mapping_takes_its_name_from_its_file_and_vars_from_the_config(tmp_path):
    path = mapping_dir(tmp_path, {"from_file": MAPPING.format(name="x").replace("name: x\n", "").replace(
        "table: dst", "table: '${TARGET}'")}, extra="vars: {TARGET: dp_record}\n")
    [m] = load_mappings(config_module.load_config(path, {}))
    assert (m.name, m.target.table) == ("from_file", "dp_record")


def test_mappings_come_in_dependency_order_ties_by_name(tmp_path):
    path = mapping_dir(tmp_path, {
        "c": MAPPING.format(name="c") + "depends_on: [a]\n",
        "b": MAPPING.format(name="b") + "depends_on: [c, a]\n",
        "a": MAPPING.format(name="a"),
        "d": MAPPING.format(name="d") + "enabled: false\n",
    })
    config = config_module.load_config(path, {})
    assert [m.name for m in load_mappings(config)] == ["a", "c", "b", "d"]
    assert [m.name for m in load_mappings(config, only=("b", "a"))] == ["a", "b"]
    assert dependency_order({"x": ("y",), "y": (), "z": ("x", "y")}) == (["y", "x", "z"], [])
    assert dependency_order({"x": ("y",), "y": ("z",), "z": ("x",)})[1] == ["x", "y", "z"]
    assert dependency_order({"a": ("b", "a"), "b": ()})[1] == ["a"]
    assert dependency_order({"a": ("ghost",)}) == (["a"], [])


def test_code_lists_read_every_spelling_of_a_code(tmp_path):
    path = mapping_dir(tmp_path, {"one": MAPPING.format(name="one")},
                       codes="title: 检查状态\ncodes:\n  - {code: 1, label: ' 正常 ', aliases: [好, 2]}\n"
                             "  - {code: 3, label: 正常}\n")
    codes, problems = load_codes(config_module.load_config(path, {}).codes_dir)
    assert problems == []
    assert codes["check_status"].lookup() == {"1": "1", "正常": "1", "好": "1", "2": "1", "3": "3"}
    assert codes["check_status"].title == "检查状态"
    (tmp_path / "mappings" / "codes" / "bad.yml").write_text("codes: [{label: x}]\n", encoding="utf-8")
    (tmp_path / "mappings" / "codes" / "skipped.txt").write_text("codes: [{label: x}]\n", encoding="utf-8")
    _codes, problems = load_codes(config_module.load_config(path, {}).codes_dir)
    assert [(Path(p.file).name, p.line, p.where, p.message) for p in problems] == [
        ("bad.yml", 1, "codes.0.code", "required key 'code' is missing")]


@pytest.mark.parametrize(("spec", "message"), [
    ({}, "give exactly one of from, const, expr, value, uuid5"),
    ({"from": "a", "const": 1}, "give exactly one of from, const, expr, value, uuid5 (found from, const)"),
    ({"form": "a"}, "give exactly one of from, const, expr, value, uuid5; unknown key 'form': check the spelling"),
    ({"from": "a", "pattern": "("}, "pattern is not a valid regular expression: missing ), unterminated "
                                    "subpattern at position 0"),
    ({"from": "a", "pattern": "(a)(b)"}, "pattern may have at most one group (the value to keep)"),
])
def test_a_column_spec_says_what_is_wrong_with_it(spec, message):
    with pytest.raises(ValueError) as caught:
        ColumnSpec.model_validate(spec)
    assert caught.value.errors()[0]["msg"].removeprefix("Value error, ") == message


@pytest.mark.parametrize(("spec", "origin", "reads"), [
    ({"from": "a"}, "from", ("a",)), ({"const": None}, "const", ()), ({"expr": "1"}, "expr", ()),
    ({"value": "now"}, "value", ()), ({"uuid5": ["a", "b"]}, "uuid5", ("a", "b")),
])
def test_a_column_knows_its_origin_and_what_it_reads(spec, origin, reads):
    column = ColumnSpec.model_validate(spec)
    assert (column.origin, column.source_columns()) == (origin, reads)


@pytest.mark.parametrize(("source", "message"), [
    ({"table": "s", "query": "q", "key": ["id"], "cursor": "c"}, "give exactly one of 'table' or 'query'"),
    ({"key": ["id"], "cursor": "c"}, "give exactly one of 'table' or 'query'"),
    ({"table": "s", "key": [], "cursor": "c"}, "'key' needs at least one column"),
    ({"table": "s", "key": "id", "cursor": []}, "'cursor' is a column name, or a list of different column names"),
    ({"table": "s", "key": "id", "cursor": ["a", "a"]},
     "'cursor' is a column name, or a list of different column names"),
    ({"table": "s", "key": "id", "cursor": ["a", 1]},
     "'cursor' is a column name, or a list of different column names"),
])
def test_a_source_says_what_is_wrong_with_it(source, message):
    with pytest.raises(ValueError) as caught:
        SourceSpec.model_validate(source)
    assert caught.value.errors()[0]["msg"].removeprefix("Value error, ") == message


def test_several_cursors_the_first_leading():
    source = SourceSpec.model_validate({"table": "s", "key": "id", "cursor": ["a", "b", "c"]})
    assert (source.cursor, source.also_cursors, source.cursors) == ("a", ("b", "c"), ("a", "b", "c"))
    assert TargetSpec.model_validate({"table": "t", "key": "id"}).key == ("id",)


def test_a_rule_describes_itself_and_needs_something_to_check():
    rule = RuleSpec.model_validate({"when": {"state": "9"}, "require": ["a", "b"], "check": {"n": {"ge": 1}}})
    assert rule.describe() == "when state 9; requires a, b; needs n {'ge': 1}"
    assert RuleSpec.model_validate({"require": ["a"], "when": {}}).describe() == "requires a"
    assert RuleSpec.model_validate({"check": {"n": None}}).describe() == "needs n is NULL"
    for bad in ({"when": {"a": 1}}, {"check": {}}):
        with pytest.raises(ValueError) as caught:
            RuleSpec.model_validate(bad)
        assert caught.value.errors()[0]["msg"] == \
            "Value error, a rule needs 'require', 'require_any', 'check' or 'matches'"


def test_pydantic_errors_become_problems_with_the_key_as_written(tmp_path):
    path = mapping_dir(tmp_path, {"a": MAPPING.format(name="a") + "lookback: soon\n"})
    assert mapping_problems(path) == [
        ("a.yaml", 7, "lookback.int", "Input should be a valid integer, unable to parse string as an integer"),
        ("a.yaml", 7, "lookback", "'soon' is not a duration: write e.g. 30s, 10m, 1h or 2d"),
    ]
    path = write_config(tmp_path, 'source: {schema: x}\ntarget: {url: "sqlite:///t.db"}\n')
    assert config_problems(path) == [(1, "source.url", "required key 'url' is missing")]


def test_rows_that_derive_different_target_keys_are_all_kept():
    """With a target key that is not a plain copy of the source key, only rows deriving the same
    target row collapse to the later one."""
    spec = Mapping_.model_validate({
        "name": "m", "source": {"table": "s", "key": ["id"], "cursor": "ts"},
        "target": {"table": "t", "key": ["code"]},
        "columns": {"code": {"from": "nm", "pattern": r"^(\w+)-"}, "id": {"from": "id"}}})
    mapping = TableMapping(spec=spec, file=Path("m.yaml"), batch_size=10, lookback=0, lag=timedelta(0),
                           null_cursor="include", schedule=None)
    targets = {"code": TargetColumn("code", "str", False, 20), "id": TargetColumn("id", "int")}
    mapper = RowMapper(mapping, plan.layout(mapping), targets, {}, now=NOW, run_id="r", tz=ZoneInfo("UTC"))
    batch = mapper.map_batch([(1, 0, "a-1"), (2, 0, "b-1"), (3, 0, "a-2"), (4, 0, "c-1")])
    assert batch.rows == [("b", 2), ("a", 3), ("c", 4)]
    assert batch.keys == [(2,), (3,), (4,)] and batch.superseded == ((1,),)
    assert [mapper.target_key(r) for r in batch.rows] == [("b",), ("a",), ("c",)]


@pytest.mark.parametrize(("sa_type", "kind"), [
    (sa.Boolean(), ("bool", None, None, None)),
    (sa.LargeBinary(), ("bytes", None, None, None)),
    (sa.Text(), ("text", None, None, None)),
    (sa.String(), ("text", None, None, None)),
    (sa.String(20), ("str", 20, None, None)),
    (sa.Integer(), ("int", None, None, None)),
    (sa.Float(), ("float", None, None, None)),
    (sa.Numeric(10, 0), ("int", None, 10, 0)),
    (sa.Numeric(10, 1), ("decimal", None, 10, 1)),
    (sa.Numeric(None, 0), ("decimal", None, None, 0)),
    (sa.Numeric(), ("decimal", None, None, None)),
    (sa.DateTime(), ("datetime", None, None, None)),
    (sa.Date(), ("date", None, None, None)),
    (sa.Time(), ("time", None, None, None)),
    (sa.JSON(), ("other", None, None, None)),
])
def test_a_reflected_column_type_is_a_kind_with_its_size(sa_type, kind):
    assert column_kind(sa_type) == kind


# -- mapping rows ---------------------------------------------------------------------------------

UTC = ZoneInfo("UTC")


def row_mapper(columns: dict, targets: dict, rules=(), key=("id",)) -> RowMapper:
    spec = Mapping_.model_validate({
        "name": "m", "source": {"table": "s", "key": list(key), "cursor": "ts"},
        "target": {"table": "t", "key": ["id"]}, "columns": {"id": {"from": "id"}, **columns},
        "rules": list(rules)})
    mapping = TableMapping(spec=spec, file=Path("m.yaml"), batch_size=10, lookback=0, lag=timedelta(0),
                           null_cursor="include", schedule=None)
    return RowMapper(mapping, plan.layout(mapping), {"id": TargetColumn("id", "int", False), **targets}, {},
                     now=NOW, run_id="r", tz=UTC)


def map_one(m: RowMapper, **row):
    batch = m.map_batch([tuple(row.get(n) for n in m.layout.names)])
    return batch.rejects[0] if batch.rejects else dict(zip(m.columns, batch.rows[0], strict=True))


@pytest.mark.parametrize(("text", "moment"), [
    ("2026/11/28 09:30:05", datetime(2026, 11, 28, 9, 30, 5)),
    ("2026/11/28 09:30", datetime(2026, 11, 28, 9, 30)),
    ("2026/11/28", datetime(2026, 11, 28)),
    ("20261128093005", datetime(2026, 11, 28, 9, 30, 5)),
    ("2026年11月28日 09:30:05", datetime(2026, 11, 28, 9, 30, 5)),
    ("2026年11月28日", datetime(2026, 11, 28)),
    (" 2026-11-28T09:30:05 ", datetime(2026, 11, 28, 9, 30, 5)),
])
def test_the_date_layouts_county_systems_write(text, moment):
    m = row_mapper({"at": {"from": "v"}}, {"at": TargetColumn("at", "datetime")})
    assert map_one(m, id=1, v=text)["at"] == moment


@pytest.mark.parametrize(("target", "value", "expected"), [
    (TargetColumn("n", "decimal", precision=5), Decimal("12345"), Decimal("12345")),
    (TargetColumn("n", "decimal", precision=5), "12345", Decimal("12345")),
    (TargetColumn("n", "decimal", precision=4, scale=2), Decimal("99.99"), Decimal("99.99")),
    (TargetColumn("n", "bool"), "Yes", True), (TargetColumn("n", "bool"), " TRUE ", True),
    (TargetColumn("n", "bool"), "1", True), (TargetColumn("n", "bool"), "否", False),
    (TargetColumn("n", "bool"), "F", False), (TargetColumn("n", "bool"), 0, False),
])
def test_casts_at_the_edges(target, value, expected):
    m = row_mapper({"n": {"from": "v"}}, {"n": target})
    got = map_one(m, id=1, v=value)["n"]
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(("target", "value", "reason"), [
    (TargetColumn("n", "decimal", precision=4, scale=2), Decimal("100"),
     "n: 100 has more than 2 digits before the decimal point"),
    (TargetColumn("n", "decimal", precision=4, scale=2), Decimal("100.5"),
     "n: 100.5 has more than 2 digits before the decimal point"),
    (TargetColumn("n", "bool"), "maybe", "n: 'maybe' is not true or false"),
])
def test_values_out_of_the_columns_range_are_rejects(target, value, reason):
    m = row_mapper({"n": {"from": "v"}}, {"n": target})
    assert map_one(m, id=1, v=value).reason == reason


def test_an_empty_pattern_or_format_is_applied_as_written():
    m = row_mapper({"p": {"from": "v", "pattern": ""}, "f": {"from": "w", "format": ""}},
                   {"p": TargetColumn("p", "str"), "f": TargetColumn("f", "str")})
    assert map_one(m, id=1, v="abc", w=datetime(2026, 1, 1)) == {"id": 1, "p": "", "f": ""}


def test_a_rule_counts_empty_text_as_missing_and_names_every_missing_column():
    m = row_mapper({"a": {"from": "a"}, "b": {"from": "b"}},
                   {"a": TargetColumn("a", "str"), "b": TargetColumn("b", "str")},
                   rules=[{"require": ["a", "b"]}])
    reject = map_one(m, id=1, a="", b=None)
    assert (reject.column, reject.reason) == (None, "rule: requires a, b (missing: a, b)")
    assert reject.row == {"id": 1, "ts": None, "a": "", "b": None}
    assert map_one(m, id=1, a="x", b="y") == {"id": 1, "a": "x", "b": "y"}


@pytest.mark.parametrize(("target", "value", "outcome"), [
    (TargetColumn("n", "decimal", precision=6, scale=2), "Infinity", "n: 'Infinity' is not a finite number"),
    (TargetColumn("n", "decimal", precision=6, scale=2), "12x", "n: '12x' is not a number"),
    (TargetColumn("n", "decimal", precision=2, scale=2), Decimal("1"),
     "n: 1 has more than 0 digits before the decimal point"),
    (TargetColumn("n", "decimal", precision=2, scale=2), Decimal("0"), Decimal("0")),
    (TargetColumn("n", "decimal", precision=2, scale=2), Decimal("0.99"), Decimal("0.99")),
])
def test_decimal_columns_take_finite_numbers_that_fit(target, value, outcome):
    m = row_mapper({"n": {"from": "v"}}, {"n": target})
    got = map_one(m, id=1, v=value)
    assert (got.reason if hasattr(got, "reason") else got["n"]) == outcome


def test_the_update_set_leaves_out_the_target_key_and_update_false_columns():
    m = row_mapper({"name": {"from": "nm"}, "born": {"from": "b", "update": False}},
                   {"name": TargetColumn("name", "str"), "born": TargetColumn("born", "str")})
    assert m.columns == ("id", "name", "born")
    assert m.update_columns == ("name",)
    assert m.kinds == ("int", "str", "str")


def test_rows_are_kept_with_their_source_keys_and_source_rows():
    m = row_mapper({"name": {"from": "nm"}}, {"name": TargetColumn("name", "str")})
    batch = m.map_batch([(1, 0, "a"), (2, 0, None)])
    assert batch.rows == [(1, "a"), (2, None)]
    assert batch.keys == [(1,), (2,)] and batch.sources == [(1, 0, "a"), (2, 0, None)]
    assert batch.superseded == () and batch.rejects == []
    assert m.source_row((1, 0, "a")) == {"id": 1, "ts": 0, "nm": "a"}


@pytest.mark.parametrize("columns", [
    {"id": {"from": "nm"}},                                   # the target key copies a column that is no key
    {"id": {"from": "id", "pattern": r"^(\d+)-"}},            # the key itself, through a step
])
def test_rows_of_one_batch_that_derive_one_target_row_keep_the_later(columns):
    spec = Mapping_.model_validate({
        "name": "m", "source": {"table": "s", "key": ["id"], "cursor": "ts"},
        "target": {"table": "t", "key": ["id"]}, "columns": {**columns, "v": {"from": "v"}}})
    mapping = TableMapping(spec=spec, file=Path("m.yaml"), batch_size=10, lookback=0, lag=timedelta(0),
                           null_cursor="include", schedule=None)
    mapper = RowMapper(mapping, plan.layout(mapping), {"id": TargetColumn("id", "str"), "v": TargetColumn("v", "str")},
                       {}, now=NOW, run_id="r", tz=UTC)
    # rows 1-a and 1-b both derive target row "1-a" (by nm) or "1" (by the pattern on id)
    rows = [{"id": "1-a", "nm": "1-a", "v": "first"}, {"id": "2-a", "nm": "2-a", "v": "other"},
            {"id": "1-b", "nm": "1-a", "v": "later"}]
    batch = mapper.map_batch([tuple(r.get(n) for n in mapper.layout.names) for r in rows])
    assert [r[1] for r in batch.rows] == ["other", "later"]
    assert batch.superseded == (("1-a",),)


def test_an_aware_time_into_a_text_column_is_written_in_the_runs_time_zone():
    spec = Mapping_.model_validate({
        "name": "m", "source": {"table": "s", "key": ["id"], "cursor": "ts"},
        "target": {"table": "t", "key": ["id"]}, "columns": {"id": {"from": "id"}, "at": {"from": "v"}}})
    mapping = TableMapping(spec=spec, file=Path("m.yaml"), batch_size=10, lookback=0, lag=timedelta(0),
                           null_cursor="include", schedule=None)
    targets = {"id": TargetColumn("id", "int"), "at": TargetColumn("at", "str", length=30)}
    mapper = RowMapper(mapping, plan.layout(mapping), targets, {}, now=NOW, run_id="r", tz=SH)
    batch = mapper.map_batch([(1, None, datetime(2026, 1, 1, 16, 0, tzinfo=timezone.utc))])
    assert batch.rows == [(1, "2026-01-02 00:00:00")]


def test_a_text_column_measured_by_the_dialect_is_checked_on_every_row():
    """A dialect that measures text its own way (bytes, say) gets no shortcut on the length check."""
    spec = Mapping_.model_validate({
        "name": "m", "source": {"table": "s", "key": ["id"], "cursor": "ts"},
        "target": {"table": "t", "key": ["id"]}, "columns": {"id": {"from": "id"}, "t": {"from": "v"}}})
    mapping = TableMapping(spec=spec, file=Path("m.yaml"), batch_size=10, lookback=0, lag=timedelta(0),
                           null_cursor="include", schedule=None)
    targets = {"id": TargetColumn("id", "int"), "t": TargetColumn("t", "str", length=4)}
    mapper = RowMapper(mapping, plan.layout(mapping), targets, {}, now=NOW, run_id="r", tz=UTC,
                       text_length=lambda text: len(text.encode("utf-8")))
    batch = mapper.map_batch([(1, None, "四个"), (2, None, "abcd")])
    assert batch.rows == [(2, "abcd")]
    assert batch.rejects[0].reason == ("t: text of 6 bytes is longer than the column's 4; to cut such text to fit, set "
                                       "on_overflow: truncate on the column")


# -- target columns as reflected, and the mapping checked against them ---------------------------------

@pytest.mark.parametrize(("sa_type", "wide", "bounds"), [
    (sa.Integer(), False, (-2 ** 31, 2 ** 31 - 1)),
    (sa.Integer(), True, (-2 ** 63, 2 ** 63 - 1)),
    (sa.SmallInteger(), False, (-2 ** 15, 2 ** 15 - 1)),
    (sa.BigInteger(), False, (-2 ** 63, 2 ** 63 - 1)),
    (mysql.TINYINT(), False, (-128, 127)),
    (mysql.TINYINT(unsigned=True), False, (0, 255)),
    (mysql.MEDIUMINT(unsigned=True), False, (0, 2 ** 24 - 1)),
    (mysql.INTEGER(unsigned=True), True, (-2 ** 63, 2 ** 63 - 1)),
    (sa.Numeric(5, 0), False, (-99999, 99999)),
    (sa.Numeric(5, 2), False, None),
    (sa.Numeric(), False, None),
    (sa.Float(), False, None),
    (sa.Boolean(), False, None),
    (sa.String(5), False, None),
])
def test_the_range_of_a_whole_number_column(sa_type, wide, bounds):
    assert integer_range(sa_type, wide=wide) == bounds


def test_a_reflected_target_column_carries_what_the_casts_need():
    assert target_column("n", sa.SmallInteger(), nullable=False) == TargetColumn(
        "n", "int", False, None, None, None, None, -2 ** 15, 2 ** 15 - 1, None)
    assert target_column("t", sa.String(10), charset="gbk", length_unit="byte") == TargetColumn(
        "t", "str", True, 10, None, None, "gbk", None, None, "byte")
    assert target_column("n", sa.Integer(), wide_integers=True).integer_range() == (-2 ** 63, 2 ** 63 - 1)
    assert target_column("d", sa.Numeric(6, 2)).integer_range() is None
    assert TargetColumn("n", "int", precision=3).integer_range() == (-999, 999)
    assert TargetColumn("n", "int", precision=3, minimum=0, maximum=5).integer_range() == (0, 5)
    assert TargetColumn("n", "int", minimum=0).integer_range() is None
    assert TargetColumn("n", "decimal", precision=3).integer_range() is None


def checked_mapping(columns: dict) -> TableMapping:
    spec = Mapping_.model_validate({
        "name": "m", "source": {"table": "s", "key": ["id"], "cursor": "ts"},
        "target": {"table": "t", "key": ["id"]}, "columns": {"id": {"from": "id"}, **columns}})
    return TableMapping(spec=spec, file=Path("m.yaml"), batch_size=10, lookback=0, lag=timedelta(0),
                        null_cursor="include", schedule=None)


def test_what_cannot_work_with_the_target_columns_is_a_problem():
    mapping = checked_mapping({"a": {"from": "a", "on_overflow": "truncate"},
                               "b": {"from": "b", "on_overflow": "truncate"}, "gone": {"from": "g"}})
    targets = {"a": TargetColumn("A", "int"), "b": TargetColumn("B", "str", length=5)}
    assert target_problems(mapping, targets) == [
        (("columns", "a", "on_overflow"), "on_overflow: truncate cuts text, and target column A holds whole numbers; "
                                          "remove on_overflow from the column")]


@pytest.mark.parametrize(("kind", "text"), [
    ("str", "text"), ("text", "text"), ("int", "whole numbers"), ("decimal", "numbers"), ("float", "numbers"),
    ("datetime", "dates and times"), ("date", "dates"), ("time", "times of day"), ("bytes", "binary data"),
    ("bool", "true/false"), ("other", "values of a type syncd passes on as they are"),
])
def test_what_does_not_do_what_it_seems_is_a_warning(kind, text):
    mapping = checked_mapping({"c": {"from": "c", "cast": "date"}})
    warned = target_warnings(mapping, {"c": TargetColumn("C", kind)})
    if kind in ("date", "datetime", "str", "text", "other"):
        assert warned == []
    else:
        assert warned == [(("columns", "c", "cast"), f"cast: date makes a date, and target column C holds {text}: "
                                                     "every value would be a reject")]


def test_warnings_about_truncating_and_rounding():
    mapping = checked_mapping({"t": {"from": "t", "on_overflow": "truncate"},
                               "u": {"from": "u", "on_overflow": "truncate"},
                               "r": {"from": "r", "round": 3}, "s": {"from": "s", "round": 2}, "x": {"from": "x"}})
    targets = {"t": TargetColumn("T", "text"), "u": TargetColumn("U", "str", length=9),
               "r": TargetColumn("R", "decimal", precision=8, scale=2), "s": TargetColumn("S", "decimal", scale=2),
               "x": TargetColumn("X", "decimal")}
    assert target_warnings(mapping, targets) == [
        (("columns", "t", "on_overflow"), "target column T has no length limit: on_overflow: truncate never cuts"),
        (("columns", "r", "round"), "round: 3 keeps more decimal places than target column R holds (2): such values "
                                    "are still rejects; write round: 2"),
    ]
    assert target_warnings(mapping, {"r": TargetColumn("R", "decimal")}) == []


@pytest.mark.parametrize(("mapped", "stored", "equal"), [
    (None, None, True), ("", None, True), (None, "", True), (None, 0, False), ("x", None, False),
    (True, 1, True), (False, 0, True), (1, True, True), (True, 0, False),
    (datetime(2026, 1, 1, 9, 0, 0, 500), datetime(2026, 1, 1, 9, 0, 0), True),
    (datetime(2026, 1, 1, 9, 0, 0), datetime(2026, 1, 1, 9, 0, 0, 500), True),
    (datetime(2026, 1, 1, 9, 0, 0, 500), datetime(2026, 1, 1, 9, 0, 0, 400), False),
    (datetime(2026, 1, 1, 9, 0, 1), datetime(2026, 1, 1, 9, 0, 0), False),
    (datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc), datetime(2026, 1, 1, 9, 0), True),
    (date(2026, 1, 1), datetime(2026, 1, 1), True), (datetime(2026, 1, 1, 5), date(2026, 1, 1), True),
    (date(2026, 1, 1), date(2026, 1, 2), False),
    (b"ab", memoryview(b"ab"), True), (b"ab", "ab", False), ("ab", b"ab", False), (b"ab", b"ac", False),
    (Decimal("1.50"), 1.5, True), (2, "2.0", True), (2, "two", False), (1.5, Decimal("1.6"), False),
    ("a", "a", True), ("1", 1, True), ("a", "b", False),
])
def test_a_mapped_value_equals_the_stored_one_as_the_target_stores_it(mapped, stored, equal):
    assert stored_equal(mapped, stored) is equal


def test_the_target_key_of_a_source_row_even_one_that_failed():
    m = row_mapper({"code": {"from": "c", "map": {"a": "A"}}}, {"code": TargetColumn("code", "str")})
    names = m.layout.names
    assert target_key_of(m, tuple({"id": 7, "c": "zzz"}.get(n) for n in names)) == (7,)
    assert target_key_of(m, tuple({"id": "x"}.get(n) for n in names)) is None


def test_statements_of_preview_reconcile_and_scaffolding(on_table):
    assert sql(plan.preview_rows(on_table, limit=5)) == (
        f"SELECT {COLUMNS} {FROM} WHERE (del_flag = '0') ORDER BY s.ts DESC, s.id DESC LIMIT 5 OFFSET 0")
    assert sql(plan.preview_rows(on_table, limit=2, where="nm LIKE 'a%'")) == (
        f"SELECT {COLUMNS} {FROM} WHERE (del_flag = '0') AND (nm LIKE 'a%') ORDER BY s.ts DESC, s.id DESC "
        "LIMIT 2 OFFSET 0")
    assert sql(plan.preview_rows(table_mapping(table="s"), limit=1)) == (
        f"SELECT {COLUMNS} {FROM} ORDER BY s.ts DESC, s.id DESC LIMIT 1 OFFSET 0")
    assert sql(plan.target_rows("t", "prov", ["b", "id", "a"], ["id"], [(1,), (2,)])) == \
        "SELECT prov.t.id, prov.t.b, prov.t.a FROM prov.t WHERE prov.t.id IN (1, 2)"
    assert sql(plan.distinct_values("t", "prov", "code", 20)) == \
        "SELECT DISTINCT prov.t.code FROM prov.t WHERE prov.t.code IS NOT NULL LIMIT 20 OFFSET 0"
    assert sql(plan.count_rows(on_table)) == f"SELECT count(*) AS count_1 {FROM} WHERE (del_flag = '0')"
    assert sql(plan.count_rows(table_mapping(table="s"))) == "SELECT count(*) AS count_1 FROM s"


def test_render_writes_the_values_in_or_after_the_statement():
    t = sa.table("t", sa.column("a"))
    assert plan.render(sa.select(t.c.a).where(t.c.a == 5), sqlite.dialect()) == "SELECT t.a \nFROM t \nWHERE t.a = 5"
    odd = sa.select(t.c.a).where(t.c.a == sa.bindparam("v", value=object(), type_=sa.PickleType()))
    rendered = plan.render(odd, sqlite.dialect())
    assert rendered.startswith("SELECT t.a \nFROM t \nWHERE t.a = ?\n-- values: v = <object object at ")
    assert plan.render(sa.text("SELECT 1"), sqlite.dialect()) == "SELECT 1"


def test_the_daemons_reconcile_job(tmp_path):
    p = scheduled_project(tmp_path, {"a": "", "b": "", "paused": "enabled: false"})
    assert schedule.reconcile_job(p.config, p.mappings) is None
    p = scheduled_project(tmp_path, {"a": "", "b": "", "paused": "enabled: false"},
                          "reconcile: {schedule: '0 3 * * *', repair: true}\n")
    job = schedule.reconcile_job(p.config, p.mappings)
    assert (job.id, job.schedule, job.mappings) == ("reconcile", "0 3 * * *", ("a", "b"))
    assert job.next_fire(MONDAY) == datetime(2024, 5, 7, 3, 0, tzinfo=SH)
    p = scheduled_project(tmp_path, {"a": "", "b": ""}, "reconcile: {schedule: 1h, mappings: b}\n")
    assert schedule.reconcile_job(p.config, p.mappings).mappings == ("b",)  # paused.yaml is still there
    p = scheduled_project(tmp_path, {"a": "", "b": ""}, "reconcile: {schedule: 5q, mappings: [b, nope]}\n")
    with pytest.raises(ConfigError) as caught:
        schedule.reconcile_job(p.config, p.mappings)
    config = str(tmp_path / "config.yaml")
    assert [(x.file, x.line, x.where, x.message.split(":")[0]) for x in caught.value.problems] == [
        (config, None, "reconcile.mappings.1", "no mapping named 'nope' (known"),
        (config, None, "reconcile.schedule", "'5q' is not a schedule")]
    assert caught.value.problems[0].message == "no mapping named 'nope' (known: a, b, paused)"


# -- rules that compare two columns; what a mapping's definition is --------------------------------------

@pytest.mark.parametrize(("left", "op", "right", "holds"), [
    (5, "gt", 3, True), (3, "gt", 3, False), (3, "ge", 3, True), ("2.5", "lt", Decimal("3"), True),
    (date(2026, 1, 2), "gt", datetime(2026, 1, 1, 23, 0), True),
    ("2026-01-02 08:00", "le", datetime(2026, 1, 2, 8, 0), True),
    (" 2026-01-02 ", "lt", "2026-01-03", True),
    ("08:30", "lt", time(9, 0), True), (time(9, 0), "lt", "08:30", False),
    ("08:30", "lt", 9, False),                       # a time and a number: no order
    (None, "lt", 1, False), (1, "gt", None, False), (True, "gt", 0, False), ("abc", "gt", "abb", False),
    ("NaN", "gt", 1, False), (b"1", "gt", 0, False),
    (datetime(2026, 1, 1, tzinfo=timezone.utc), "gt", datetime(2026, 1, 1), False),
])
def test_a_rule_compares_two_columns_of_the_same_row(left, op, right, holds):
    rule = RuleSpec.model_validate({"check": {"a": {op: {"column": "b"}}}})
    test = rule.check.predicate({"a": 0, "b": 1})
    assert test((left, right)) is holds


def test_the_definition_of_a_rule_leaves_out_its_message():
    rule = RuleSpec.model_validate({"when": {"s": "9"}, "check": {"n": {"ge": 1}}, "require": ["a"],
                                    "require_any": ["b", "c"], "message": "说明"})
    assert rule.canonical() == {"when": "s 9", "check": "n {'ge': 1}", "require": ["a"], "require_any": ["b", "c"]}
    assert RuleSpec.model_validate({"require": ["a"], "when": {}}).canonical() == {"require": ["a"]}


def test_what_a_run_says_when_its_mapping_changed(tmp_path):
    path = mapping_dir(tmp_path, {"one": MAPPING.format(name="one")})
    [m] = load_mappings(config_module.load_config(path, {}))
    file = tmp_path / "mappings" / "one.yaml"
    assert change_message(m, "resync") == (
        f"the mapping's columns or expressions changed since its last run ({file}): every row is sent again (a full "
        "copy) so that the target holds what the mapping says now")
    assert change_message(m, "warn") == (
        f"the mapping's columns or expressions changed since its last run ({file}); rows already sent keep their old "
        "values until they change in the source (on_change: warn). `syncd run --once --full -m one` sends every row "
        "again")


def test_a_soft_delete_is_recognised_by_its_constant_columns():
    deleted = SoftDelete.model_validate({"set": {"deleted": "1", "at": {"value": "now"}, "by": 0}})
    assert deleted.constants() == {"deleted": "1", "by": 0}


# -- blocks of columns, soft deletes, and where problems point --------------------------------------------

def test_columns_included_from_blocks_and_their_problems(tmp_path):
    (tmp_path / "mappings").mkdir(exist_ok=True)
    (tmp_path / "mappings" / "_common.yaml").write_text(textwrap.dedent("""\
        audit:
          create_by: {from: cjr}
          create_time: {from: cjsj}
        sync:
          create_by: {from: other}
          sync_time: {value: now}
        broken:
          bad: {form: x}
          coded: {from: c, map: nowhere}
        empty: {}
        """), encoding="utf-8")
    path = mapping_dir(tmp_path, {
        "good": MAPPING.format(name="good") + "include: [audit]\n",
        "own": MAPPING.format(name="own") + "include: audit\n",
        "clash": MAPPING.format(name="clash") + "include: [audit, sync, ghost]\n",
        "wrong": MAPPING.format(name="wrong") + "include: {audit: 1}\n",
        "waits": MAPPING.format(name="waits") + "include: [broken]\n",
    })
    with pytest.raises(ConfigError) as caught:
        load_mappings(config_module.load_config(path, {}))
    found = [(Path(p.file).name, p.line, p.where, p.message) for p in caught.value.problems]
    assert ("_common.yaml", 8, "broken.bad", "give exactly one of from, const, expr, value, uuid5; unknown key "
                                             "'form': check the spelling") in found
    assert ("_common.yaml", 9, "broken.coded.map", "code list 'nowhere' not found in mappings/codes/ (known: "
                                                   "check_status)") in found
    assert ("_common.yaml", 10, "empty", "block 'empty' must map target columns to their specs, as 'columns:' "
                                         "of a mapping does, e.g. create_by: {from: cjr}") in found
    assert ("clash.yaml", 7, "include.1", "column 'create_by' is in block 'audit' and in block 'sync'; write the "
                                          "column under 'columns:' to say which one it is") in found
    assert ("clash.yaml", 7, "include.2", "no block named 'ghost' (known: audit, broken, empty, sync); define it "
                                          "in mappings/_common.yaml or fix the name") in found
    assert ("wrong.yaml", 7, "include", "'include' is a list of block names from the mappings' _*.yaml files, "
                                        "e.g. include: [audit, sync]") in found
    # a mapping that includes a broken block says so at its include: line
    assert [x for x in found if x[0] in ("good.yaml", "own.yaml", "waits.yaml")] == [
        ("waits.yaml", 7, "columns.bad", "give exactly one of from, const, expr, value, uuid5; unknown key 'form': "
                                         "check the spelling")]


def test_a_mapping_takes_the_columns_of_its_blocks_its_own_winning(tmp_path):
    (tmp_path / "mappings").mkdir(exist_ok=True)
    (tmp_path / "mappings" / "_common.yaml").write_text(
        "audit:\n  create_by: {from: cjr}\n  STATUS: {const: '9'}\n", encoding="utf-8")
    path = mapping_dir(tmp_path, {"good": MAPPING.format(name="good").replace("[id]}\ncolumns", "[ID]}\ncolumns")
                                  + "include: audit\n"})
    [m] = load_mappings(config_module.load_config(path, {}))
    assert list(m.columns) == ["id", "status", "create_by"]
    assert m.columns["status"].map == "check_status" and m.included == {"create_by": "audit"}
    assert m.target.key == ("id",)                    # spelled as under columns:
    assert m.line_of("columns", "create_by", "from") == 7     # the line of include:
    assert m.line_of("columns", "status", "map") == 6
    assert m.problem("columns.status.map", "x") == Problem(str(tmp_path / "mappings" / "good.yaml"), 6,
                                                           "columns.status.map", "x")
    assert m.problem(("source", "key", 0), "y").line == 2


def test_a_soft_delete_must_set_mapped_updatable_columns_and_a_constant(tmp_path):
    path = mapping_dir(tmp_path, {"m": MAPPING.format(name="m") + textwrap.dedent("""\
          flag: {from: f, update: false}
        on_source_delete:
          set:
            id: '0'
            gone: '1'
            flag: '1'
            status: {value: now}
        """).replace("columns:\n", "")})
    text = (tmp_path / "mappings" / "m.yaml").read_text(encoding="utf-8")
    assert "flag: {from: f" in text
    with pytest.raises(ConfigError) as caught:
        load_mappings(config_module.load_config(path, {}))
    assert [(p.line, p.where, p.message) for p in caught.value.problems] == [
        (10, "on_source_delete.set.id", "'id' is the target key; a deleted row keeps its key: mark it with another "
                                        "column"),
        (11, "on_source_delete.set.gone", "column 'gone' is not under 'columns:'; map it (e.g. gone: {const: '0'} "
                                          "or from the source's flag), so that a row that comes back to the source "
                                          "is no longer marked deleted"),
        (12, "on_source_delete.set.flag", "column 'flag' has update: false, so the upsert could not mark a row "
                                          "deleted; remove it"),
    ]
    path = mapping_dir(tmp_path, {"m": MAPPING.format(name="m") + "on_source_delete: {set: {status: {value: now}}}\n"})
    with pytest.raises(ConfigError) as caught:
        load_mappings(config_module.load_config(path, {}))
    assert [(p.line, p.where, p.message) for p in caught.value.problems] == [
        (7, "on_source_delete.set", "set at least one column to a fixed value (deleted: '1'): it is how reconcile "
                                    "recognises a row already marked deleted")]


@pytest.mark.parametrize(("spec", "problem"), [
    ({"from": "a", "round": 2, "format": "%Y"}, ("round", "'round' makes a number and 'format' renders a date as "
                                                          "text: keep one of them")),
    ({"from": "a", "round": 2, "cast": "date"}, ("round", "'cast: date' makes a date, which 'round' cannot round: "
                                                          "keep one of them")),
])
def test_column_settings_that_exclude_each_other(spec, problem):
    assert list(column_checks(ColumnSpec.model_validate(spec), {})) == [problem]


def test_a_rule_comparing_with_an_unmapped_column_is_a_problem(tmp_path):
    path = mapping_dir(tmp_path, {"m": MAPPING.format(name="m") + "rules:\n  - check: {id: {ge: {column: nope}}}\n"})
    assert mapping_problems(path) == [
        ("m.yaml", 8, "rules.0.check", "rule compares with column 'nope', which is not under 'columns:'; name a "
                                       "mapped target column in {column: NAME}")]


def test_probes_test_each_part_of_the_source_alone():
    mapping = table_mapping(table="s", schema="sales", where="del_flag = '0'", cursor=["ts", "ts2"])
    found = [(loc, what, sql(statement)) for loc, what, statement in plan.probes(mapping)]
    assert found == [
        (("source", "table"), "source table s", "SELECT 1 FROM sales.s"),
        (("source", "key", 0), "source column id", "SELECT sales.s.id FROM sales.s"),
        (("source", "cursor"), "source column ts", "SELECT sales.s.ts FROM sales.s"),
        (("source", "cursor", 1), "source column ts2", "SELECT sales.s.ts2 FROM sales.s"),
        (("columns", "name", "from"), "source column nm", "SELECT sales.s.nm FROM sales.s"),
        (("columns", "code", "expr"), "the expression of column code", "SELECT UPPER(cd) AS _expr_code FROM sales.s"),
        (("source", "where"), "source.where", "SELECT 1 FROM sales.s WHERE (del_flag = '0')"),
    ]
    query = table_mapping(query="SELECT * FROM a")
    assert [(loc, what) for loc, what, _ in plan.probes(query)][:3] == [
        (("source", "query"), "the source query"), (("source", "key", 0), "source column id"),
        (("source", "cursor"), "source column ts")]
    assert sql(plan.probes(query)[0][2]) == "SELECT 1 FROM (SELECT * FROM a) AS src"
    derived = table_mapping(table="s", key=["k"])
    assert plan._column_places(derived)["nm"] == ("columns", "name", "from")
    assert "id" in plan._column_places(derived) and plan._column_places(derived)["id"] == ("columns", "id", "from")


def test_blocks_files_say_what_is_wrong_with_them(tmp_path):
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "_a.yaml").write_text("audit:\n  create_by: {from: cjr}\nsync:\n  at: {value: now}\n", encoding="utf-8")
    (folder / "_b.yaml").write_text("# one block again\naudit:\n  x: {from: y}\n", encoding="utf-8")
    (folder / "_c.yaml").write_text("- not blocks\n", encoding="utf-8")
    (folder / "_d.yaml").write_text("", encoding="utf-8")
    blocks, problems = load_blocks(folder, {}, {})
    assert [(Path(p.file).name, p.line, p.where, p.message) for p in problems] == [
        ("_b.yaml", 2, "audit", f"block 'audit' is also defined in {folder / '_a.yaml'}; rename one of them"),
        ("_c.yaml", 1, "", "a blocks file maps block names to columns, e.g.\naudit:\n  create_by: {from: cjr}"),
    ]
    assert blocks["audit"] == Block("audit", str(folder / "_a.yaml"), 1, {"create_by": {"from": "cjr"}}, False)
    assert blocks["sync"].line == 3 and not blocks["sync"].broken
    assert load_blocks(tmp_path / "nowhere", {}, {}) == ({}, [])


@pytest.mark.parametrize(("condition", "message"), [
    ({"a": {"gt": {"col": "b"}}}, "'gt' compares with a number, or with another column as {column: NAME}; "
                                  "not {'col': 'b'}"),
    ({"a": {"lt": {"column": ""}}}, "'lt' compares with a number, or with another column as {column: NAME}; "
                                    "not {'column': ''}"),
    ({"a": {"ge": "x"}}, "'ge' needs a number, not 'x'; to compare with another column, write "
                         "{ge: {column: NAME}}"),
    ({"a": {"le": True}}, "'le' needs a number, not True; to compare with another column, write "
                          "{le: {column: NAME}}"),
    ({"a": {"matches": 5}}, "'matches' needs a regular expression in quotes, not 5"),
    ({"a": {"matches": "("}}, "'matches': '(' is not a valid regular expression (missing ), unterminated "
                              "subpattern at position 0); write it in single quotes, with a backslash before "
                              "( ) [ ] . * + ? that stand for themselves"),
])
def test_a_comparison_or_pattern_that_cannot_work_says_how_to_write_it(condition, message):
    with pytest.raises(ValueError) as caught:
        Condition.model_validate(condition)
    assert caught.value.errors()[0]["msg"] == "Value error, " + message


def test_a_rules_matches_tests_the_form_of_the_values_that_are_there():
    rule = RuleSpec.model_validate({"matches": {"phone": r"^1\d{10}$", "code": "^[A-Z]"}})
    test = rule.matches.predicate({"phone": 0, "code": 1})
    assert test(("13800138000", "Ab")) and test((None, None))
    assert not test(("1380013800", "Ab")) and not test(("13800138000", "ab"))
    assert rule.matches.describe() == "phone matches '^1\\d{10}$', code matches '^[A-Z]'"
    for bad, message in (({}, "'matches' maps column names to regular expressions, e.g. {phone: '^1\\d{10}$'}"),
                         ({"phone": 1}, "the regular expression of 'phone' needs a regular expression in quotes, "
                                        "not 1")):
        with pytest.raises(ValueError) as caught:
            RuleSpec.model_validate({"matches": bad})
        assert message in str(caught.value)


def test_an_unknown_key_deep_in_a_mapping_is_named_by_its_own_name(tmp_path):
    path = mapping_dir(tmp_path, {"m": MAPPING.format(name="m").replace("id: {from: id}", "id: {from: id, colour: 1}")})
    assert mapping_problems(path) == [
        ("m.yaml", 5, "columns.id.colour", "unknown key 'colour': check the spelling (see the documentation of this "
                                           "file)")]


# -- whole numbers into an integer column (transform._int_caster) ------------------------------------

class _Whole(int):
    """An int of a driver's own type."""


def _mapped_into(column: TargetColumn, values: list[object], **steps: object) -> list[object]:
    """Each value mapped into column ``n`` (through ``steps``): its value, or (column, reason) of its reject."""
    spec = Mapping_.model_validate({"name": "m", "source": {"table": "s", "key": ["id"], "cursor": "ts"},
                                    "target": {"table": "t", "key": ["id"]},
                                    "columns": {"id": {"from": "id"}, "n": {"from": "a", **steps}}})
    table = TableMapping(spec=spec, file=Path("m.yaml"), batch_size=100, lookback=0, lag=timedelta(0),
                         null_cursor="include", schedule=None)
    lay = plan.layout(table)
    now = datetime(2026, 11, 28, 6, 0, 30, tzinfo=timezone.utc)
    mapper = RowMapper(table, lay, {"id": TargetColumn("id", "int", False), "n": column}, {}, now=now, run_id="r",
                       tz=ZoneInfo("Asia/Shanghai"))
    batch = mapper.map_batch([tuple({"id": i, "ts": now, "a": v}[n] for n in lay.names) for i, v in enumerate(values)])
    got: dict[object, object] = {row[0]: row[1] for row in batch.rows}
    got.update({r.key[0]: (r.column, r.reason) for r in batch.rejects})
    return [got[i] for i in range(len(values))]


def test_whole_numbers_into_a_smallint_are_checked_against_its_range_whatever_they_arrive_as():
    small = TargetColumn("n", "int", minimum=-32768, maximum=32767)
    out = "is out of range: the column holds whole numbers from -32768 to 32767"
    assert _mapped_into(small, [32767, 32768, -32768, -32769, True, _Whole(40000), _Whole(7), "40000", " 12 ", "1e9",
                                "12.5", "abc", "NaN", "Infinity", Decimal("12.0"), 3.0, 3.5, "0e99999"]) == [
        32767, ("n", f"n: 32768 {out}"), -32768, ("n", f"n: -32769 {out}"), 1, ("n", f"n: 40000 {out}"), 7,
        ("n", f"n: 40000 {out}"), 12, ("n", f"n: '1e9' {out}"),
        ("n", "n: '12.5' is not a whole number; to round it, set round: 0 on the column"),
        ("n", "n: 'abc' is not a whole number"), ("n", "n: 'NaN' is not a whole number"),
        ("n", "n: 'Infinity' is not a whole number"), 12, 3,
        ("n", "n: 3.5 is not a whole number; to round it, set round: 0 on the column"), 0]


def test_a_number_precision_bounds_an_integer_column_by_its_digits():
    four = TargetColumn("n", "int", precision=4)
    out = "is out of range: the column holds whole numbers from -9999 to 9999"
    assert _mapped_into(four, [9999, 10000, "-9999", "-10000", -10000]) == [
        9999, ("n", f"n: 10000 {out}"), -9999, ("n", f"n: '-10000' {out}"), ("n", f"n: -10000 {out}")]


def test_an_integer_column_of_unknown_range_takes_up_to_a_thousand_digits():
    free = TargetColumn("n", "int")
    thousand, more = "9" * 1000, "1" + "0" * 1000
    *taken, (column, reason) = _mapped_into(free, [thousand, 10 ** 1000, True, "12.0", more])
    assert taken == [int(thousand), 10 ** 1000, 1, 12]
    # (the long value is cut in the middle of the reason)
    assert column == "n" and reason.startswith("n: '1000000000")
    assert reason.endswith("0000000000' is out of range: the column holds whole numbers of at most 1000 digits")


# -- round: N (transform._round_step) ------------------------------------------------------------------

def test_round_rounds_half_up_what_a_number_is_written_as_and_says_what_it_cannot_round():
    anything = TargetColumn("n", "decimal")
    assert [repr(v) if isinstance(v, Decimal) else v for v in _mapped_into(anything, [
        1.005, "2.345", Decimal("-2.345"), 7, True, [1], "abc", "inf", "1e1000", " 3.14159 ",
        "123456789012345678901234567890.125", None, "-0.004", 2.675], round=2)] == [
        "Decimal('1.01')", "Decimal('2.35')", "Decimal('-2.35')", "Decimal('7.00')",
        ("n", "n: True is not a number to round"), ("n", "n: [1] is not a number to round"),
        ("n", "n: 'abc' is not a number to round"), ("n", "n: 'inf' is not a finite number"),
        ("n", "n: '1e1000' is out of range: more than 1000 digits"), "Decimal('3.14')",
        "Decimal('123456789012345678901234567890.13')", None, "Decimal('-0.00')", "Decimal('2.68')"]
    whole = _mapped_into(anything, ["2.5", "-2.5", 0.5, "1e999"], round=0)
    assert [repr(v) for v in whole[:3]] == ["Decimal('3')", "Decimal('-3')", "Decimal('1')"]
    assert whole[3] == Decimal(10) ** 999 and whole[3].as_tuple().exponent == 0


# -- recode: gbk (transform._recode_step) --------------------------------------------------------------

def test_recode_repairs_gbk_read_as_latin1_and_refuses_what_is_no_such_text():
    text = TargetColumn("n", "str", length=50)
    gbk = "罐区".encode("gbk")
    assert _mapped_into(text, [gbk.decode("latin1"), gbk, bytearray(gbk), memoryview(gbk), "plain", None, 12, "中文",
                               b"\xff\xfe", "©Apple", b"\x81"], recode="gbk") == [
        "罐区", "罐区", "罐区", "罐区", "plain", None, "12",
        ("n", "n: '中文' holds characters latin1 has not, so it is no gbk text read as latin1; remove 'recode: gbk' "
              "if the source column was converted"),
        ("n", "n: b'\\xff\\xfe' is no gbk text: byte 1 of it does not decode as gbk; fix the value in the source"),
        ("n", "n: '©Apple' is no gbk text: read as gbk it says '〢pple', which is not Chinese; it looks like real "
              "latin1 text: fix the value in the source, or remove 'recode: gbk' if the column holds such text"),
        ("n", "n: b'\\x81' is no gbk text: byte 1 of it does not decode as gbk; fix the value in the source")]
    # GB18030's four-byte signs, which GBK has not: the codec the mapping names is the one used
    four = "罐㐀".encode("gb18030")
    assert _mapped_into(text, [four, four], recode="gb18030")[0] == "罐㐀"
    assert _mapped_into(text, [four], recode="gbk") == [
        ("n", f"n: {four!r} is no gbk text: byte 3 of it does not decode as gbk; fix the value in the source")]
