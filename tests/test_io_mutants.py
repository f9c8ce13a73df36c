"""Promises of the I/O modules that the curated mutations (scripts/mutations.yaml) found
unchecked: each test holds one (docs/testing.md)."""

from __future__ import annotations

from datetime import timedelta

import pymysql
import pytest
import sqlalchemy as sa

from syncd import commands, engines
from syncd.dialects import get
from syncd.mapping import ParentSpec
from syncd.parents import _orphan_reason
from syncd.source import _Reader
from syncd.sync import Observer, RetryBudget
from tests.scenario import Scenario, scenarios


@pytest.fixture
def on(tmp_path, make_database):
    """``on(backend, **mapping options)``: a Scenario with source and target on ``backend``."""
    with scenarios(tmp_path, make_database) as build:
        yield build


def test_the_retry_budget_allows_exactly_the_configured_attempts_in_a_row():
    """RetryPolicy.attempts = defaults.retries + 1: the run gives up at the last attempt, not before."""
    budget = RetryBudget(attempts=3)
    assert [budget.exhausted(0) for _ in range(3)] == [False, False, True]


def test_a_batch_that_got_through_renews_the_retry_budget():
    """A link that drops now and then but lets batches through never exhausts the retries."""
    budget = RetryBudget(attempts=2)
    assert not budget.exhausted(0)
    assert not budget.exhausted(1)       # a checkpoint since the last failure: counting starts again
    assert not budget.exhausted(2)
    assert budget.exhausted(2)           # two failures in a row without a checkpoint between them


def test_a_read_error_in_the_reader_thread_reaches_the_run():
    """With prefetch, a connection lost while reading fails the run; it never looks like the end
    of the table (which would let the run finish 'ok' with rows missing)."""
    def batches():
        yield [(1,), (2,)]
        raise ConnectionError("lost connection to the source")

    reader = _Reader(batches(), 1)
    reader.start()
    got = []
    try:
        with pytest.raises(ConnectionError, match="lost connection"):
            for batch in reader:
                got.append(batch)
    finally:
        reader.stop()
    assert got == [[(1,), (2,)]]


def test_a_read_whose_close_fails_leaves_no_traceback_from_the_reader_thread(monkeypatch):
    """The run stops reading (its target failed, say) after the link to the source was cut: closing the
    read rolls back on the dead connection and fails too. That error must not escape the reader
    thread as a traceback on stderr."""
    import threading

    escaped = []
    monkeypatch.setattr(threading, "excepthook", escaped.append)

    def batches():
        try:
            while True:
                yield [(1,)]
        finally:
            raise OSError("rollback on a closed connection")

    reader = _Reader(batches(), 1)
    reader.start()
    first = next(iter(reader))
    reader.stop()
    reader.join(5)
    assert first == [(1,)]
    assert not reader.is_alive()
    assert escaped == []


@pytest.mark.parametrize("depth", [1, 3])
def test_the_reader_fetches_at_most_depth_batches_ahead_of_the_one_in_work(depth):
    """Each batch held is a batch of memory: ahead of the one the run works on, the reader has at
    most ``depth`` batches ready or being fetched."""
    import time

    fetched = []

    def batches():
        for i in range(8):
            fetched.append(i)
            yield [(i,)]

    reader = _Reader(batches(), depth)
    reader.start()
    try:
        for taken, batch in enumerate(reader):
            assert batch == [(taken,)]
            # the run writes the batch; meanwhile the reader reads ahead, and no further
            ahead = min(depth, 7 - taken)
            deadline = time.monotonic() + 10
            while len(fetched) - 1 - taken < ahead and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.05)
            assert len(fetched) - 1 - taken == ahead, (taken, fetched)
    finally:
        reader.stop()
    assert fetched == list(range(8))


def test_a_null_in_a_required_parent_column_holds_the_child_back():
    required = ParentSpec(columns=("unit_id",), table="dp_unit")
    optional = ParentSpec(columns=("unit_id",), table="dp_unit", optional=True)
    assert _orphan_reason(required, (None,), set()) == "unit_id is NULL but must name a row of dp_unit"
    assert _orphan_reason(optional, (None,), set()) is None
    assert _orphan_reason(required, ("u1",), {("u1",)}) is None
    assert "parent dp_unit id='u2' is not in the target yet" in _orphan_reason(required, ("u2",), {("u1",)})


@pytest.mark.parametrize("backend", ["mariadb", "postgresql"])
def test_each_incremental_batch_moves_the_watermark(on, backend):
    """A run reads what changed since the last one, and the run after it reads nothing again."""
    s = on(backend, lookback="0s", batch_size=2)
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 8))
    assert not s.run().failed
    s.update([2, 4, 6], title="改", update_time=s.now())
    assert s.run().results[0].counts.rows_read == 3
    assert s.run().results[0].counts.rows_read == 0
    assert s.actual() == s.expected()
    assert commands.status(s.project())[0]["last_status"] == "ok"


class CrashAfter(Observer):
    def __init__(self, batches: int):
        self.batches = batches

    def batch_written(self, mapping, batch, rows):
        if batch == self.batches:
            raise RuntimeError(f"simulated crash after batch {batch}, before its checkpoint")


def run_crashing_after(s: Scenario, batches: int) -> None:
    """A run that fails after ``batches`` batches were written, the last of them not checkpointed."""
    try:
        report = commands.run_once(s.project(), observer=CrashAfter(batches))
    except RuntimeError:
        return
    assert report.failed and "simulated crash" in (report.failed[0].error or "")


@pytest.mark.parametrize("backend", ["mariadb", "postgresql"])
def test_an_incremental_run_cut_inside_a_run_of_equal_cursors_resumes_after_its_key(on, backend):
    """The watermark (cursor, key) of a checkpoint in the middle of rows sharing one cursor value:
    the next run reads the rest of them, ``cursor = c AND key > k``, however small the lookback."""
    s = on(backend, lookback="0s", batch_size=3)
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 4))
    assert not s.run().failed
    moment = s.now() - timedelta(seconds=1)
    s.insert({"id": i, "update_time": moment} for i in range(10, 20))
    run_crashing_after(s, 2)      # batch 1 checkpointed, batch 2 not
    report = s.run()
    assert not report.failed
    assert report.results[0].counts.rows_read == 7
    assert s.actual() == s.expected()


def test_rows_sharing_a_cursor_are_read_in_key_order_whatever_order_they_were_written(on):
    """PostgreSQL returns rows of equal cursor in the order they sit in the heap: only ORDER BY
    (cursor, key) makes the keyset resume of the next batch sound."""
    s = on("postgresql", lookback="0s", batch_size=4)
    s.insert([{"id": 1, "update_time": s.at(1)}])
    assert not s.run().failed
    moment = s.now() - timedelta(seconds=1)
    s.insert([{"id": i, "update_time": moment} for i in range(30, 10, -1)])     # written last key first
    s.update([12, 25], title="改")                                                # moved to the heap's end
    run_crashing_after(s, 3)
    assert not s.run().failed
    assert s.actual() == s.expected()


def recent(tmp_path) -> Scenario:
    """Rows stamped just now (SQLite both sides) and a lookback of an hour: every run reads them again."""
    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", f"sqlite:///{tmp_path / 'fep.db'}", lookback="1h")
    now = s.now() - timedelta(seconds=5)
    s.insert([{"id": 1, "update_time": now}, {"id": 2, "jg": "坏值", "update_time": now}])
    s.run()
    return s


def test_healing_a_second_episode_leaves_the_first_as_it_was_decided(tmp_path):
    s = recent(tmp_path)
    try:
        codes = s.dir / "mappings" / "codes" / "check_status.yaml"
        codes.write_text(codes.read_text(encoding="utf-8").replace("[无隐患]", "[无隐患, 坏值]"), encoding="utf-8")
        first = s.run()
        s.update([2], jg="又坏了", update_time=s.now())
        s.run()
        s.update([2], jg="正常", update_time=s.now())
        second = s.run()
        assert second.results[0].counts.rejects_resolved == 1
        old, new = commands.rejects(s.project(), mapping="record", status_=None, key="2")
        assert (old["episode"], old["status"], old["resolved_run"]) == (1, "resolved", first.run_id)
        assert (new["episode"], new["status"], new["resolved_run"]) == (2, "resolved", second.run_id)
        resolved = commands.audit_list(s.project(), kinds=["reject.resolved"])
        assert [(r["run_id"], r["detail"]["episode"]) for r in resolved] == [(first.run_id, 1), (second.run_id, 2)]
    finally:
        s.dispose()


def test_a_database_error_never_carries_the_row_values(tmp_path):
    """A driver error's message names the statement, never the values bound to it (a reject's
    row: names, phone numbers), so it can go to the log as it is."""
    engine = engines.make_engine(sa.make_url(f"sqlite:///{tmp_path / 'x.db'}"))
    try:
        with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as caught:
            conn.execute(sa.text("INSERT INTO nowhere (v) VALUES (:v)"), {"v": "一行只属于源库的秘密值"})
        assert "nowhere" in str(caught.value)
        assert "一行只属于源库的秘密值" not in str(caught.value)
    finally:
        engine.dispose()


@pytest.mark.parametrize(("code", "message"), [
    (1213, "Deadlock found when trying to get lock; try restarting transaction"),
    (1205, "Lock wait timeout exceeded; try restarting transaction"),
    (2013, "Lost connection to MySQL server during query"),
    (2006, "MySQL server has gone away"),
])
def test_mariadb_errors_a_retry_cures_are_transient(code, message):
    assert get("mysql").is_transient(pymysql.err.OperationalError(code, message))
    assert not get("mysql").is_transient(pymysql.err.IntegrityError(1062, "Duplicate entry '1' for key 'PRIMARY'"))
