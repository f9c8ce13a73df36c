"""Rows whose cursor is no value of its kind: MySQL zero dates from a ``sql_mode=''`` county system.

PyMySQL hands ``0000-00-00 00:00:00`` back as text. Compared with a real time, it used to stop
every run with a TypeError; now each such row is a reject naming its cursor (the default), is
left out with a warning, or stops the run with a message, as ``source.bad_cursor`` says.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from syncd import commands
from syncd.watermark import cursor_problem
from tests.scenario import Scenario, src_record


@pytest.fixture
def zero_dates(tmp_path, make_database):
    s = Scenario(tmp_path, make_database("mariadb"), f"sqlite:///{tmp_path / 'fep.db'}", batch_size=3)
    base = s.now() - timedelta(hours=1)
    s.insert([{"id": i, "update_time": base + timedelta(seconds=i)} for i in range(1, 8)])
    with s.source.begin() as conn:
        conn.execute(sa.text("SET SESSION sql_mode = ''"))
        for key in (3, 5, 9):
            conn.execute(sa.text("INSERT INTO src_record (id, jg, title, amount, update_time, del_flag) "
                                 "VALUES (:id, '正常', :t, 1.5, '0000-00-00 00:00:00', '0') "
                                 "ON DUPLICATE KEY UPDATE update_time = '0000-00-00 00:00:00'"),
                         {"id": key, "t": f"记录{key}"})
    yield s
    s.dispose()


def _set_policy(s: Scenario, policy: str) -> None:
    mapping = s.dir / "mappings" / "record.yaml"
    mapping.write_text(mapping.read_text().replace("  null_cursor: include",
                                                   f"  null_cursor: include\n  bad_cursor: {policy}"), encoding="utf-8")


def _good_ids(s: Scenario) -> set[str]:
    return {str(i) for i in range(1, 8) if i not in (3, 5)}


def test_zero_dates_become_rejects_naming_the_cursor_and_the_rest_arrive(zero_dates):
    s = zero_dates
    first = s.run().results[0]
    assert first.status == "ok", first.error
    assert set(s.actual()) == _good_ids(s)
    rejects = commands.rejects(s.project())
    assert {r["key"] for r in rejects} == {"3", "5", "9"}
    assert all(r["column_name"] == "update_time" and "0000-00-00 00:00:00" in r["reason"] for r in rejects)
    # Later runs go on (the watermark is a real time) and keep the rejects pending.
    s.insert([{"id": 20, "update_time": s.now() - timedelta(seconds=30)}])
    second = s.run().results[0]
    assert second.status == "ok", second.error
    assert "20" in s.actual()
    assert {r["key"] for r in commands.rejects(s.project())} == {"3", "5", "9"}
    # Fixed in the source: the reject retry writes them and marks them resolved.
    s.update([3, 5, 9], update_time=s.now() - timedelta(seconds=20))
    third = s.run().results[0]
    assert third.status == "ok", third.error
    assert commands.rejects(s.project()) == []
    assert s.actual() == s.expected()


def test_exclude_leaves_them_out_with_a_warning(zero_dates):
    s = zero_dates
    _set_policy(s, "exclude")
    result = s.run().results[0]
    assert result.status == "ok", result.error
    assert set(s.actual()) == _good_ids(s)
    assert commands.rejects(s.project()) == []
    assert any("bad_cursor: exclude" in w and "3 row(s)" in w for w in result.warnings)


def test_error_stops_the_run_naming_the_row_and_the_setting(zero_dates):
    s = zero_dates
    _set_policy(s, "error")
    result = s.run().results[0]
    assert result.status == "failed"
    assert "0000-00-00 00:00:00" in result.error and "source.bad_cursor" in result.error


@pytest.mark.parametrize(("value", "like", "bad"), [
    ("0000-00-00 00:00:00", datetime(2026, 1, 1), True),
    (datetime(2026, 1, 1), datetime(2026, 1, 2), False),
    ("2026-02-30 00:00:00", "2026-01-01 00:00:00", True),
    ("2026-01-30 00:00:00", "2026-01-01 00:00:00", False),
    ("abc", 5, True),
    (7, 5, False),
    (None, datetime(2026, 1, 1), False),
])
def test_cursor_problem(value, like, bad):
    assert (cursor_problem(value, like) is not None) == bad


def test_the_scenario_table_is_the_one_we_think(zero_dates):
    assert "update_time" in src_record.c
