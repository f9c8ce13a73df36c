"""Promises of docs/mappings.md and docs/sync-semantics.md, checked by their outcome: the rows in the
target, the state of each reject in the state store, and what `syncd health` says."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from syncd import commands
from tests.scenario import REFUSAL, Scenario, dp_record, mapping_yaml, scenarios
from tests.servers import BACKENDS


@pytest.fixture
def on(tmp_path, make_database):
    """``on(backend, **mapping options)``: a Scenario with source and target on ``backend``."""
    with scenarios(tmp_path, make_database) as build:
        yield build


def pending(s: Scenario, key: int) -> dict[str, Any]:
    """The state store's pending reject of source row ``key``."""
    [found] = [r for r in commands.rejects(s.project()) if r["key"] == str(key)]
    return found


def healthy(s: Scenario) -> bool:
    return commands.health(s.project())[0]


# -- columns ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_an_update_false_column_is_written_on_insert_and_never_updated(on, backend):
    s = on(backend, columns={"title": "{from: title, update: false}"})
    s.insert([{"id": 1, "title": "首次标题", "update_time": s.at(1)}])
    assert not s.run().failed
    s.update([1], title="改后标题", amount=Decimal("9.99"), jg="存在隐患", update_time=s.now())
    s.insert([{"id": 2, "title": "新行标题", "update_time": s.now()}])
    assert not s.run().failed
    row = s.actual()["1"]
    assert row["title"] == "首次标题"
    assert (row["amount"], row["check_status"]) == (Decimal("9.99"), "1")   # the other columns are updated
    assert s.actual()["2"]["title"] == "新行标题"                            # and an insert writes it


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])  # MariaDB has no per-column UPDATE triggers
def test_an_update_never_sets_the_target_key(on, backend):
    """A province table may refuse any UPDATE of its key (and Oracle's MERGE cannot express one)."""
    s = on(backend)
    s.insert([{"id": 1, "update_time": s.at(1)}])
    assert not s.run().failed
    s.refuse_key_updates()
    s.update([1], title="改", update_time=s.now())
    report = s.run()
    assert not report.failed, report.failed[0].error
    assert s.actual()["1"]["title"] == "改"


# -- rejects ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_a_reject_that_fails_again_on_retry_stays_pending(on, backend):
    s = on(backend)
    s.insert([{"id": 1, "update_time": s.at(1)}, {"id": 2, "jg": "坏值", "update_time": s.at(2)},
              {"id": 3, "jg": None, "update_time": s.at(3)}])
    s.run()
    assert s.reject_keys() == {"2", "3"}
    s.update([3], jg="正常")   # fixed in place; row 2 is as bad as before
    assert s.run().results[0].counts.rejects_resolved == 1
    assert s.reject_keys() == {"2"} and s.reject_keys("resolved") == {"3"}
    assert pending(s, 2)["attempts"] == 2 and "坏值" in pending(s, 2)["reason"]
    assert set(s.actual()) == {"1", "3"}
    health = s.syncd("health")
    assert health.returncode == 1 and "1 pending reject(s)" in health.stdout
    s.run()
    assert s.reject_keys() == {"2"} and pending(s, 2)["attempts"] == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_healed_reject_that_breaks_again_is_pending_again(on, backend):
    s = on(backend)
    s.insert([{"id": 1, "update_time": s.at(1)}, {"id": 2, "jg": "坏值", "update_time": s.at(2)}])
    s.run()
    s.update([2], jg="有隐患", update_time=s.now())
    s.run()
    assert s.reject_keys() == set() and s.reject_keys("resolved") == {"2"}
    assert healthy(s)
    s.update([2], jg="又坏了", title="坏的修改", update_time=s.now())
    s.run()
    assert s.reject_keys() == {"2"} and "又坏了" in pending(s, 2)["reason"]
    assert not healthy(s)
    # the target keeps the last version that could be written
    assert (s.actual()["2"]["check_status"], s.actual()["2"]["title"]) == ("1", "记录2")


def test_rows_sharing_a_target_key_heal_together_and_the_later_one_stays(on):
    """Two source rows that map to one target key: the later wins (docs/mappings.md). When both
    were rejects and the county fixes them, the retry writes the later one and resolves both; the
    earlier one is neither left pending nor written over the later one by the next run."""
    s = on("sqlite", columns={"id": "{from: title}"})
    s.insert([{"id": 1, "title": "同一行", "jg": "坏值", "update_time": s.at(1)},
              {"id": 2, "title": "同一行", "jg": "坏值", "update_time": s.at(2)}])
    s.run()
    assert s.reject_keys() == {"1", "2"}
    s.update([1, 2], jg="正常")
    s.run()
    assert s.reject_keys() == set()
    assert healthy(s)
    s.run()
    assert s.actual()["同一行"]["update_time"] == s.at(2)


# -- failures --------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_a_target_error_fails_its_mapping_and_the_others_still_run(on, backend):
    """docs/sync-semantics.md: other errors fail the mapping's run at once; other mappings run."""
    s = on(backend)
    dp_record.to_metadata(sa.MetaData(), name="dp_record_copy").create(s.target)
    copy = mapping_yaml().replace("name: record", "name: record_copy").replace("dp_record", "dp_record_copy")
    (s.dir / "mappings" / "record_copy.yaml").write_text(copy, encoding="utf-8")
    s.insert({"id": i, "update_time": s.at(i)} for i in (1, 2, 3))
    s.fail_insert_of(2)
    report = s.run()
    assert [(r.mapping, r.status) for r in report.results] == [("record", "failed"), ("record_copy", "ok")]
    assert REFUSAL in report.results[0].error
    with s.target.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM dp_record_copy")).scalar() == 3
    cli = s.syncd("run", "--once")
    assert cli.returncode == 1 and "unexpected error" not in cli.stderr
    assert REFUSAL in cli.stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_row_the_target_refuses_is_a_reject_and_the_rest_of_its_batch_commits(on, backend):
    """A trigger of the province's refuses one row: that row is a reject with the database's words,
    the other rows of its batch are written, and the run is ok."""
    s = on(backend)
    s.insert({"id": i, "update_time": s.at(i)} for i in (1, 2, 3))
    s.refuse_insert_of(2)
    [result] = s.run().results
    assert result.status == "ok", result.error
    assert sorted(s.target_ids()) == ["1", "3"]
    [reject] = commands.rejects(s.project())
    assert reject["key"] == "2" and REFUSAL in reject["reason"]
    s.allow_again()
    assert not s.run().failed
    assert sorted(s.target_ids()) == ["1", "2", "3"]
    assert commands.rejects(s.project()) == []
