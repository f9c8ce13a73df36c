"""Reconciliation names every difference between source and target by key."""

from __future__ import annotations

import sqlalchemy as sa

from syncd import commands
from syncd.reconcile import same
from tests.scenario import Scenario, dp_record


def test_equal_after_a_sync_then_every_kind_of_difference_is_named(tmp_path, make_database):
    s = Scenario(tmp_path, make_database("mariadb"), make_database("postgresql"), lookback="0s")
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 11))
    s.insert([{"id": 11, "jg": "坏值", "update_time": s.at(11)}])
    s.run()
    [clean] = commands.reconcile(s.project())
    assert clean.equal and clean.source_rows == 11 and clean.target_rows == 10
    assert list(clean.differences["kind"]) == ["rejected"]

    with s.target.begin() as conn:
        conn.execute(sa.delete(dp_record).where(dp_record.c.id == "3"))                 # lost
        conn.execute(sa.update(dp_record).where(dp_record.c.id == "4").values(title="被改"))  # changed
        conn.execute(sa.insert(dp_record).values(id="999", check_status="0"))          # not from the source
    s.insert([{"id": 12, "update_time": s.at(20)}])                                     # not synced yet
    [found] = commands.reconcile(s.project())
    kinds = {(r.kind, r.key, r.column) for r in found.differences.itertuples()}
    assert kinds == {("missing", "3", None), ("different", "4", "title"), ("extra", "999", None),
                     ("waiting", "12", None), ("rejected", "11", "check_status")}
    assert not found.equal
    row = found.differences[found.differences["kind"] == "different"].iloc[0]
    assert (row["expected"], row["actual"]) == ("记录4", "被改")
    s.run(full=True)
    assert commands.reconcile(s.project())[0].count("missing") == 0
    s.dispose()


def test_same_compares_as_the_target_stores():
    from datetime import datetime
    from decimal import Decimal

    assert same(Decimal("1.50"), Decimal("1.5")) and same(1, Decimal("1.000"))
    assert same("", None) and not same("a", None)
    assert same(datetime(2026, 1, 1, 1, 1, 1, 500), datetime(2026, 1, 1, 1, 1, 1))
    assert not same(datetime(2026, 1, 1, 1, 1, 2), datetime(2026, 1, 1, 1, 1, 1))
    assert same(memoryview(b"\x89PNG"), b"\x89PNG")
