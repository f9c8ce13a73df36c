"""A syncd process killed at any named point of a batch (syncd/faults.py) and run again in a fresh
process leaves the target equal to the source: every row there once, with its latest values, and
exactly the rows that cannot be written held back as pending rejects.

The data is what makes a wrong resume visible: long runs of equal cursor values whose rows were
inserted last key first, so that a database asked to order them by the cursor alone hands them
back in an order unlike key order (a PostgreSQL heap in insertion order, MariaDB as its sort
leaves them), bad rows among them, and batches of 7, so that every crash lands inside a run of
equal values.
"""

from __future__ import annotations

import functools
import random

import pytest

from syncd import commands
from syncd.faults import CRASH_EXIT
from tests.scenario import REFUSAL, Scenario, scenarios
from tests.servers import BACKENDS

BATCH = 7
#: rows 1..45, in two long runs of equal cursor values
ROWS = range(1, 46)
#: rows the target cannot take: a NULL for a NOT NULL column, or a code not in the code list
BAD = {4: None, 13: "坏值", 22: None, 30: "坏值", 41: "坏值"}
BAD_KEYS = frozenset(BAD)


@pytest.fixture(params=BACKENDS)
def scenario(request, tmp_path, make_database):
    """``scenario()``: a Scenario with source and target on one backend, read in batches of 7."""
    with scenarios(tmp_path, make_database) as build:
        yield functools.partial(build, request.param, batch_size=BATCH)


def insert_unordered(s: Scenario, ids=ROWS) -> None:
    """Rows ``ids``, one by one, last key first, in two long runs of equal cursor values that
    interleave by key; the rows in ``BAD`` carry a value the target cannot take."""
    by_cursor = list(ids)
    random.Random(7).shuffle(by_cursor)
    cursor = {i: s.at(10) if n < len(by_cursor) * 3 // 5 else s.at(20) for n, i in enumerate(by_cursor)}
    for i in sorted(ids, reverse=True):
        s.insert([{"id": i, "update_time": cursor[i], **({"jg": BAD[i]} if i in BAD else {})}])


def copy_first(s: Scenario) -> None:
    """A first run copies three older rows: the rows inserted after it are read incrementally."""
    s.insert({"id": i, "update_time": s.at(0)} for i in (101, 102, 103))
    assert not s.run().failed


def crash(s: Scenario, point: str) -> None:
    """``syncd run --once`` in a process that dies at ``point`` (``name`` or ``name:n``)."""
    done = s.syncd("run", "--once", env={"SYNCD_TEST_CRASH_AT": point})
    assert done.returncode == CRASH_EXIT, f"expected a crash at {point}:\n{done.stdout}\n{done.stderr}"


def rerun(s: Scenario) -> None:
    done = s.syncd("run", "--once")
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"


def assert_synced(s: Scenario, bad: frozenset[int] = BAD_KEYS) -> None:
    """Source = target (no row missing, none extra, none twice, equal values) and the pending
    rejects are exactly the rows that cannot be written, none of them in the target."""
    expected = {k: v for k, v in s.expected().items() if int(k) not in bad}
    assert s.target_ids() == sorted(expected)
    assert s.actual() == expected
    assert s.reject_keys("pending") == {str(i) for i in bad}


@pytest.mark.parametrize("point", ["after-read:3", "after-commit:3", "after-checkpoint:3"])
def test_incremental_run_killed_mid_batch_resumes_without_loss(scenario, point):
    s = scenario()
    copy_first(s)
    insert_unordered(s)
    crash(s, point)
    # the crash landed inside the run of equal cursor values, with batches still to come
    assert 3 < s.target_count() < 3 + len(ROWS) - len(BAD)
    rerun(s)
    assert_synced(s)


@pytest.mark.parametrize("point", ["after-read:2", "after-commit:2", "after-checkpoint:2"])
def test_full_copy_killed_mid_batch_resumes_without_loss(scenario, point):
    s = scenario()
    insert_unordered(s)
    crash(s, point)
    assert s.target_count() < len(ROWS) - len(BAD)
    rerun(s)
    assert_synced(s)


def test_full_copy_killed_again_as_it_resumes(scenario):
    s = scenario()
    insert_unordered(s)
    crash(s, "after-checkpoint:2")
    copied = s.target_count()
    assert 0 < copied < len(ROWS) - len(BAD)
    crash(s, "full-resume")
    assert s.target_count() == copied   # died before the first resumed batch was read
    rerun(s)
    assert_synced(s)
    assert s.run().results[0].counts.rows_read == 0   # the copy is finished, not started again


def test_reject_retry_killed_before_its_checkpoint(scenario):
    s = scenario()
    insert_unordered(s)
    rerun(s)
    assert s.reject_keys() == {str(i) for i in BAD}
    # the county fixes two of the bad rows in place (the cursor unchanged: only the retry sees it)
    fixed = {4, 30}
    s.update(fixed, jg="正常")
    crash(s, "reject-retry")
    rerun(s)
    assert_synced(s, bad=BAD_KEYS - fixed)
    assert s.reject_keys("resolved") == {str(i) for i in fixed}


# -- the target refuses a batch ------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_a_batch_the_target_refuses_is_not_checkpointed(scenario, mode):
    """The checkpoint follows the target commit: a batch whose write fails is read again by the
    next run, from the state store, once the target takes it."""
    s = scenario()
    if mode == "incremental":
        copy_first(s)
    insert_unordered(s)
    s.fail_insert_of(20)     # a row in the middle of either read order
    failed = s.syncd("run", "--once")
    assert failed.returncode == 1, f"{failed.stdout}\n{failed.stderr}"
    [last] = commands.history(s.project(), limit=1)
    assert last["status"] == "failed" and REFUSAL in last["error"]
    assert "20" not in s.target_ids()
    s.allow_again()
    assert not s.run().failed
    assert_synced(s)
