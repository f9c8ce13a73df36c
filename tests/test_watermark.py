"""The incremental semantics, without a database."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from syncd import plan
from syncd.errors import FatalSyncError
from syncd.watermark import (
    Watermark, Window, decode_key, encode_key, format_like, lookback_problem, named_key, plan_window,
)

NOW = datetime(2026, 11, 28, 10, 0, 0)
NOW_UTC = datetime(2026, 11, 28, 2, 0, 0, tzinfo=timezone.utc)


def window(previous, newest, **kw):
    kw.setdefault("lookback", timedelta(minutes=10))
    kw.setdefault("lag", timedelta(seconds=5))
    return plan_window(previous, newest=newest, db_now=kw.pop("db_now", NOW), db_now_utc=NOW_UTC, **kw)


def test_first_run_is_a_full_copy_up_to_the_source_clock_minus_lag():
    planned = window(None, datetime(2026, 11, 28, 9, 0))
    assert planned.window == Window(until=NOW - timedelta(seconds=5), snapshot=True)
    assert not planned.ahead


def test_interrupted_full_copy_resumes_with_its_own_bound():
    bound = datetime(2026, 11, 27, 10, 0)
    wm = Watermark(datetime(2026, 11, 20), (500,), snapshot=True, bound=bound)
    planned = window(wm, datetime(2026, 11, 28, 9, 50))
    assert planned.window == Window(after=wm, until=bound, snapshot=True)


def test_finished_full_copy_continues_strictly_after_its_largest_cursor_when_quiet():
    wm = Watermark(datetime(2026, 11, 1), (), bound=datetime(2026, 11, 28, 9, 0))
    planned = window(wm, datetime(2026, 11, 28, 9, 50))
    assert planned.window == Window(after=wm, until=NOW - timedelta(seconds=5))


def test_lookback_is_measured_from_the_last_runs_clock():
    busy = Watermark(datetime(2026, 11, 28, 9, 58), (7,), bound=datetime(2026, 11, 28, 9, 59))
    assert window(busy, datetime(2026, 11, 28, 9, 59)).window.since == datetime(2026, 11, 28, 9, 49)
    quiet = Watermark(datetime(2026, 1, 1), (7,), bound=datetime(2026, 11, 28, 9, 59))
    assert window(quiet, datetime(2026, 1, 1)).window.after == quiet


def test_lookback_steps_back_from_the_watermark():
    wm = Watermark(datetime(2026, 11, 28, 9, 30), (42,))
    planned = window(wm, datetime(2026, 11, 28, 9, 50))
    assert planned.window.since == datetime(2026, 11, 28, 9, 20)
    assert planned.window.after is None


def test_no_lookback_continues_strictly_after_the_watermark():
    wm = Watermark(datetime(2026, 11, 28, 9, 30), (42,))
    planned = window(wm, datetime(2026, 11, 28, 9, 50), lookback=timedelta(0))
    assert planned.window.after == wm


def test_full_ignores_the_watermark():
    wm = Watermark(datetime(2026, 11, 28, 9, 30), (42,))
    assert window(wm, datetime(2026, 11, 28, 9, 50), full=True).window.since is None
    assert window(wm, datetime(2026, 11, 28, 9, 50), full=True).window.after is None


def test_empty_source_is_an_empty_window():
    assert window(None, None).window.empty


def test_cursor_ahead_of_the_source_clock_is_reported():
    planned = window(None, datetime(2026, 11, 28, 18, 0))
    assert planned.ahead
    assert "ahead of the source database's clock" in planned.warnings[0]
    assert "clock_offset" in planned.warnings[0]
    # a clock offset for an application writing local time into a UTC database fixes it
    fixed = window(None, datetime(2026, 11, 28, 18, 0), clock_offset=timedelta(hours=8))
    assert not fixed.ahead and fixed.window.until == NOW + timedelta(hours=8) - timedelta(seconds=5)


def test_aware_cursor_uses_the_aware_clock():
    newest = datetime(2026, 11, 28, 1, 0, tzinfo=timezone.utc)
    planned = window(None, newest)
    assert planned.window.until == NOW_UTC - timedelta(seconds=5)


def test_integer_cursor_is_bounded_by_the_newest_value_and_uses_integer_lookback():
    planned = window(Watermark(100, (7,)), 250, lookback=20)
    assert planned.window.until == 250 and planned.window.since == 80
    assert window(Watermark(100, (7,)), 250).window.after == Watermark(100, (7,))


def test_date_cursor_always_rereads_the_last_day():
    planned = window(Watermark(date(2026, 11, 27), (1,)), date(2026, 11, 28), lookback=timedelta(0))
    assert planned.window.since == date(2026, 11, 26)
    assert planned.window.until == date(2026, 11, 28)


def test_text_cursor_keeps_its_layout():
    wm = Watermark("2026-11-28 09:30:00", (1,))
    planned = window(wm, "2026-11-28 09:40:00", db_now="2026-11-28 10:00:00")
    assert planned.window.since == "2026-11-28 09:20:00"
    assert planned.window.until == "2026-11-28 09:59:55"
    assert format_like(datetime(2026, 1, 2, 3, 4, 5, 678900), "2025-01-01T00:00:00.123") == "2026-01-02T03:04:05.678"
    assert format_like(datetime(2026, 1, 2, 3, 4, 5), "2025/01/01") == "2026/01/02"


def test_resume_continues_after_a_checkpoint():
    w = Window(since=datetime(2026, 1, 1), until=NOW)
    checkpoint = Watermark(datetime(2026, 1, 2), (5,))
    assert w.resume(checkpoint) == Window(after=checkpoint, until=NOW)


@pytest.mark.parametrize("value", [None, 7, Decimal("1.20"), 1.5, "文本", datetime(2026, 1, 1, 1, 2, 3, 4),
                                   datetime(2026, 1, 1, tzinfo=timezone.utc), date(2026, 1, 1), b"\x00\xff", True])
def test_watermark_values_round_trip_with_their_type(value):
    wm = Watermark(value, (value, "k"))
    back = Watermark.from_json(wm.to_json())
    assert back == wm and type(back.cursor) is type(value)
    assert decode_key(encode_key((value,))) == (value,)


def test_keyset_predicate_pages_by_cursor_then_key():
    t = sa.table("t", sa.column("c"), sa.column("k1"), sa.column("k2"))
    sql = str(plan.keyset_after([t.c.c, t.c.k1, t.c.k2], [1, 2, 3]).compile(
        dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    assert sql == "t.c > 1 OR t.c = 1 AND (t.k1 > 2 OR t.k1 = 2 AND t.k2 > 3)"


UUID = uuid.UUID("6f1c2a4e-0b7d-4e59-9a3b-1d2c3e4f5a6b")


def test_a_uuid_keeps_its_type_in_a_watermark_and_an_old_text_one_is_still_read():
    wm = Watermark(datetime(2026, 1, 1), (UUID,), snapshot=True, bound=datetime(2026, 1, 2))
    back = Watermark.from_json(wm.to_json())
    assert back == wm and type(back.key[0]) is uuid.UUID
    assert json.loads(wm.to_json())["key"] == [{"t": "uuid", "v": str(UUID)}]
    # as an earlier syncd stored it: text, which still reads
    old = wm.to_json().replace('"t": "uuid"', '"t": "str"')
    assert Watermark.from_json(old).key == (str(UUID),)
    # a reject is named as before (its name is its identity in the state store), and compared by that name
    assert json.loads(encode_key((UUID,))) == [{"t": "str", "v": str(UUID)}]
    assert named_key((UUID, 7)) == decode_key(encode_key((UUID, 7))) == (str(UUID), 7)
    assert named_key((7, "a")) == (7, "a")


def test_text_key_values_are_bound_as_the_columns_type():
    """On PostgreSQL (psycopg) a typed text value is sent as varchar, which a uuid column does not compare with."""
    t = sa.table("t", sa.column("c"), sa.column("k"))
    pg = postgresql.psycopg.dialect()
    after = str(plan.keyset_after([t.c.c, t.c.k], [datetime(2026, 1, 1), str(UUID)]).compile(dialect=pg))
    assert "VARCHAR" not in after and "t.k > %(param_1)s" in after
    found = str(plan.key_in([t.c.k], [(str(UUID),), ("x",)]).compile(dialect=pg))
    assert "VARCHAR" not in found


def literal(condition):
    return str(condition.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))


def test_a_null_in_a_stored_position_cuts_it_short_and_reads_from_there_on():
    """A position stored by an earlier syncd may hold a NULL key part: nothing compares with NULL."""
    t = sa.table("t", sa.column("c"), sa.column("k1"), sa.column("k2"))
    assert literal(plan.keyset_after([t.c.c, t.c.k1], [1, None])) == "t.c >= 1"
    assert literal(plan.keyset_after([t.c.c, t.c.k1, t.c.k2], [1, 2, None])) == "t.c > 1 OR t.c = 1 AND t.k1 >= 2"
    assert literal(plan.keyset_after([t.c.k1], [None])) == literal(sa.true())   # from the start


def test_a_reject_with_a_null_in_its_key_is_looked_up_with_is_null():
    t = sa.table("t", sa.column("k1"), sa.column("k2"))
    assert literal(plan.key_in([t.c.k1], [(1,), (None,)])) == "t.k1 IN (1) OR t.k1 IS NULL"
    assert literal(plan.key_in([t.c.k1], [(1,), (2,)])) == "t.k1 IN (1, 2)"
    assert literal(plan.key_in([t.c.k1, t.c.k2], [(1, None)])) == "t.k1 = 1 AND t.k2 IS NULL"


LAYOUT = plan.Layout(names=("k", "c"), cursor=1, key=(0,))


def test_a_key_with_a_null_never_becomes_a_position():
    """NULL sorts first (SQLite, MySQL) or last (PostgreSQL): the position is the last complete key either way."""
    incremental, copy = Window(since=5, until=99), Window(until=99, snapshot=True)
    nulls_last = [(1, 10), (2, 11), (None, 12)]
    assert plan.watermark_of(nulls_last, LAYOUT, incremental, None) == Watermark(11, (2,), bound=99)
    assert plan.watermark_of([(None, 10), (3, 10)], LAYOUT, incremental, None) == Watermark(10, (3,), bound=99)
    assert plan.watermark_of([(None, 12)], LAYOUT, incremental, None) is None
    assert plan.watermark_of(nulls_last, LAYOUT, copy, None) == Watermark(12, (2,), snapshot=True, bound=99)
    assert plan.watermark_of([(None, 10), (None, 11)], LAYOUT, copy, None) is None
    pair = plan.Layout(names=("k1", "k2", "c"), cursor=2, key=(0, 1))
    assert plan.watermark_of([(1, 1, 5), (1, None, 6)], pair, incremental, None) == Watermark(5, (1, 1), bound=99)


@pytest.mark.parametrize("newest", [datetime(2026, 11, 28, 9, 0), datetime(2026, 11, 28, 1, 0, tzinfo=timezone.utc),
                                    date(2026, 11, 28), "2026-11-28 09:00:00"])
def test_a_source_clock_that_is_no_time_stops_the_run_with_what_it_said(newest):
    with pytest.raises(FatalSyncError, match="clock answered 'not a time'"):
        plan_window(None, newest=newest, db_now="not a time", db_now_utc="not a time",
                    lookback=timedelta(minutes=10), lag=timedelta(seconds=5))


def test_an_open_write_transaction_holds_the_bound_before_its_start():
    started = NOW - timedelta(minutes=3)
    planned = plan_window(Watermark(NOW - timedelta(minutes=30), (5,), bound=NOW - timedelta(minutes=20)),
                          newest=NOW - timedelta(seconds=1), db_now=NOW, db_now_utc=NOW_UTC,
                          lookback=timedelta(0), lag=timedelta(seconds=5), open_since=started,
                          open_since_utc=NOW_UTC - timedelta(minutes=3))
    assert planned.window.until == started - timedelta(microseconds=1)
    assert planned.held_by == started


def test_an_open_transaction_younger_than_the_lag_changes_nothing():
    planned = window(None, datetime(2026, 11, 28, 9, 0), open_since=NOW - timedelta(seconds=1),
                     open_since_utc=NOW_UTC - timedelta(seconds=1))
    assert planned.window.until == NOW - timedelta(seconds=5)
    assert planned.held_by is None


def test_an_open_transaction_bounds_an_aware_cursor_by_its_aware_start():
    started_utc = NOW_UTC - timedelta(minutes=10)
    planned = plan_window(None, newest=datetime(2026, 11, 28, 1, 0, tzinfo=timezone.utc), db_now=NOW,
                          db_now_utc=NOW_UTC, lookback=timedelta(0), lag=timedelta(seconds=5),
                          open_since=NOW - timedelta(minutes=10), open_since_utc=started_utc)
    assert planned.window.until == started_utc - timedelta(microseconds=1)


# -- a lookback that cannot apply to the cursor's values is never silent --------------------------
def _after_run(cursor):
    """The watermark of a run that read up to ``cursor`` (the newest value at its start)."""
    return Watermark(cursor, (3,), bound=cursor)


@pytest.mark.parametrize(("cursor", "lookback", "since"), [
    # yyyymmddhhmmss kept as text or as a number: a duration steps back in the same layout
    ("20261129100200", timedelta(minutes=10), "20261129095200"),
    ("20261129000500", timedelta(minutes=10), "20261128235500"),
    (20261129100200, timedelta(minutes=10), 20261129095200),
    (Decimal("20261129100200"), timedelta(minutes=10), Decimal("20261129095200")),
    # a number steps back by that much of the number, whether kept as a number or as digit text
    ("20261129100200", 100, "20261129100100"),
    ("00000123", 100, "00000023"),
    ("00000050", 100, "00000000"),
    (20261129100200, 100, 20261129100100),
])
def test_a_lookback_steps_back_cursors_of_digits(cursor, lookback, since):
    newest = cursor + 100 if not isinstance(cursor, str) else str(int(cursor) + 100).zfill(len(cursor))
    planned = window(_after_run(cursor), newest, lookback=lookback)
    assert planned.window.since == since and planned.window.after is None
    assert type(planned.window.since) is type(cursor)
    assert planned.lookback_problem is None


@pytest.mark.parametrize(("cursor", "lookback", "words"), [
    # a number on a time cursor is not guessed as seconds
    (datetime(2026, 11, 29, 10, 2), 600, ["lookback 600 is a plain number", "not taken as seconds",
                                           "lookback: 10m", "600s"]),
    ("2026-11-29 10:02:00", 600, ["lookback 600 is a plain number", "not taken as seconds"]),
    # a duration on numbers that are no time (a version counter)
    (4711, timedelta(minutes=10), ["lookback 10m is a duration", "numbers (4711)", "lookback: 0"]),
    ("004711", timedelta(seconds=90), ["lookback 90s is a duration", "numbers (004711)"]),
    (Decimal("12.5"), timedelta(hours=2), ["lookback 2h is a duration"]),
    # 14 digits that are no time (month 13)
    (20261329100200, timedelta(minutes=10), ["lookback 10m is a duration"]),
    ("12.5", 1, ["lookback 1 cannot step back from cursor values like '12.5'"]),
])
def test_a_lookback_that_cannot_apply_is_said_not_dropped(cursor, lookback, words):
    planned = window(_after_run(cursor), cursor, lookback=lookback)
    assert planned.window.since is None and planned.window.after == _after_run(cursor)
    assert planned.lookback_problem is not None
    for word in words:
        assert word in planned.lookback_problem
    # said on a full copy too (the runs after it will need the lookback)
    assert window(None, cursor, lookback=lookback).lookback_problem == planned.lookback_problem


@pytest.mark.parametrize(("cursor", "lookback"), [
    (datetime(2026, 11, 29, 10, 2), timedelta(0)), (datetime(2026, 11, 29, 10, 2), 0),
    (4711, 0), (4711, timedelta(0)), ("20261129100200", 0), (date(2026, 11, 29), 0),
    (None, 600),
])
def test_a_lookback_of_zero_is_no_lookback_as_asked(cursor, lookback):
    assert lookback_problem(cursor, lookback) is None


def test_a_date_cursor_rereads_the_last_day_whatever_the_lookback_and_says_a_number_is_no_duration():
    planned = window(Watermark(date(2026, 11, 27), (1,)), date(2026, 11, 28), lookback=3)
    assert planned.window.since == date(2026, 11, 26)
    assert planned.lookback_problem is not None and "lookback 3 is a plain number" in planned.lookback_problem


def test_a_cursor_of_no_kind_is_told_so_not_called_a_number():
    problem = lookback_problem("garbage", timedelta(minutes=10))
    assert problem is not None and "cannot step back from cursor values like 'garbage'" in problem


@pytest.mark.parametrize("keys", [[("a",), ("b",), ("c",)], [(1,), (2,), (3,)], [("a",), (None,), ("b",)]])
def test_a_one_column_key_list_is_one_parameter_expanded_when_the_statement_runs(keys):
    """A batch's keys (5 000 of them) are one list parameter, as ``in_`` makes of plain values: the
    statement is compiled once for every batch, not with a parameter of its own per key (which
    took a MariaDB copy 25 % more time and 20 MB more memory)."""
    condition = plan.key_in([sa.column("id")], keys)
    compiled = condition.compile(dialect=postgresql.dialect())
    binds = {id(b): b for b in compiled.binds.values()}
    assert len(binds) == 1 and all(b.expanding for b in binds.values())
    assert ("IS NULL" in str(compiled)) == any(k[0] is None for k in keys)


def test_what_check_says_of_a_text_cursor():
    from syncd.watermark import text_cursor_problem

    assert text_cursor_problem(datetime(2026, 1, 1), declared_text=True) is None
    assert text_cursor_problem("2026-01-01 10:00:00", declared_text=False) is None
    assert "one fixed layout" in (text_cursor_problem("2026-01-01 10:00:00", declared_text=True) or "")
    assert "one fixed layout" in (text_cursor_problem("20260101100000", declared_text=True) or "")
    for garbage in ("未填", "n/a"):
        for declared in (True, False):
            assert "neither a time nor a number" in (text_cursor_problem(garbage, declared_text=declared) or "")
