"""End-to-end incremental semantics, on every (source, target) pair of real databases in tests.servers.PAIRS."""

from __future__ import annotations

import gc
import threading
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from syncd import commands
from syncd.state import rejects as rejects_table
from syncd.sync import Observer
from syncd.transform import MappedBatch
from tests.scenario import Scenario
from tests.servers import PAIRS


@pytest.fixture(params=PAIRS, ids=[f"{a}-to-{b}" for a, b in PAIRS])
def scenario(request, tmp_path, make_database):
    source, target = request.param
    made = []

    def build(**options):
        s = Scenario(tmp_path, make_database(source), make_database(target), **options)
        made.append(s)
        return s
    yield build
    for s in made:
        s.dispose()


def test_full_copy_equals_source(scenario):
    s = scenario()
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 51))
    report = s.run()
    assert not report.failed
    assert s.actual() == s.expected()
    result = report.results[0]
    assert (result.counts.rows_read, result.counts.rows_written, result.counts.rows_rejected) == (50, 50, 0)


def test_incremental_picks_up_inserts_and_updates_only(scenario):
    s = scenario(lookback="0s")
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 21))
    s.run()
    s.update([3, 7], title="改过的", update_time=s.at(100))
    s.insert([{"id": 21, "update_time": s.at(101)}])
    report = s.run()
    result = report.results[0]
    assert result.counts.rows_read == 3
    assert s.actual() == s.expected()
    assert s.actual()["3"]["title"] == "改过的"


@pytest.mark.parametrize("batch_size", [3, 7])
def test_equal_cursor_values_across_batch_boundaries(scenario, batch_size):
    s = scenario(batch_size=batch_size, lookback="0s")
    # 25 rows share one timestamp, framed by rows before and after it
    s.insert([{"id": 1, "update_time": s.at(0)}])
    s.insert({"id": i, "update_time": s.at(10)} for i in range(2, 27))
    s.insert([{"id": 27, "update_time": s.at(20)}])
    report = s.run()
    assert report.results[0].counts.rows_read == 27
    assert s.actual() == s.expected()
    # a second run reads nothing again: the keyset does not loop on the equal values
    assert s.run().results[0].counts.rows_read == 0


def test_one_timestamp_on_ten_thousand_rows(scenario):
    s = scenario(batch_size=2000, lookback="0s")
    s.insert({"id": i, "update_time": s.at(5)} for i in range(1, 10_001))
    report = s.run()
    assert report.results[0].counts.rows_read == 10_000
    assert s.target_count() == 10_000
    s.update(range(5000, 5010), title="批量更新", update_time=s.at(6))
    again = s.run()
    assert again.results[0].counts.rows_read == 10
    assert s.actual() == s.expected()


def test_late_commit_inside_lookback_is_caught(scenario):
    s = scenario(lookback="10m")
    t0 = s.now() - timedelta(minutes=5)
    s.insert({"id": i, "update_time": t0 + timedelta(seconds=i * 10)} for i in range(1, 11))
    s.run()
    # a slow transaction commits after the run, with a cursor value older than the watermark
    s.insert([{"id": 99, "update_time": t0 + timedelta(seconds=55)}])
    s.run()
    assert "99" in s.actual()
    assert s.actual() == s.expected()


def test_late_commit_outside_lookback_is_missed_without_it(scenario):
    """The lookback is what catches late commits: with none, the same row is not read."""
    s = scenario(lookback="0s")
    t0 = s.now() - timedelta(minutes=5)
    s.insert({"id": i, "update_time": t0 + timedelta(seconds=i * 10)} for i in range(1, 11))
    s.run()
    s.insert([{"id": 99, "update_time": t0 + timedelta(seconds=55)}])
    s.run()
    assert "99" not in s.actual()
    s.run(full=True)
    assert s.actual() == s.expected()


def test_a_quiet_table_is_not_read_again_and_again(scenario):
    """The lookback is measured from the last run's clock, not from old cursor values."""
    s = scenario(lookback="10m")
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 31))  # two hours old
    s.run()
    assert [s.run().results[0].counts.rows_read for _ in range(2)] == [0, 0]
    s.update([5], title="改", update_time=s.now())
    assert s.run().results[0].counts.rows_read == 1
    assert s.actual() == s.expected()


def test_null_cursor_include(scenario):
    s = scenario(null_cursor="include")
    s.insert([{"id": 1, "update_time": s.at(1)}, {"id": 2, "update_time": None}])
    report = s.run()
    assert set(s.actual()) == {"1", "2"}
    assert report.results[0].counts.null_cursor_rows == 1


def test_null_cursor_exclude_is_counted_and_warned(scenario):
    s = scenario(null_cursor="exclude")
    s.insert([{"id": 1, "update_time": s.at(1)}, {"id": 2, "update_time": None}])
    report = s.run()
    assert set(s.actual()) == {"1"}
    result = report.results[0]
    assert result.counts.null_cursor_rows == 1
    assert any("NULL cursor" in w for w in result.warnings)
    history = commands.status(s.project())[0]
    assert "NULL cursor" in history["warning"]


def test_null_cursor_error_fails_the_run(scenario):
    s = scenario(null_cursor="error")
    s.insert([{"id": 1, "update_time": s.at(1)}, {"id": 2, "update_time": None}])
    report = s.run()
    assert report.failed and "NULL cursor" in report.failed[0].error
    assert commands.status(s.project())[0]["last_status"] == "failed"


class SimulatedCrash(BaseException):
    """A crash in the middle of a run: not an error syncd handles (that would be an Exception), the
    process going away, as a kill would make it."""


class CrashAfter(Observer):
    def __init__(self, batches: int):
        self.batches = batches

    def batch_written(self, mapping, batch, rows):
        if batch == self.batches:
            raise SimulatedCrash(f"simulated crash after batch {batch}, before its checkpoint")


@pytest.mark.parametrize("k", [1, 2, 5])
def test_crash_after_k_batches_then_rerun(scenario, k):
    s = scenario(batch_size=7)
    s.insert({"id": i, "update_time": s.at(i // 4)} for i in range(1, 61))
    with pytest.raises(SimulatedCrash):
        commands.run_once(s.project(), observer=CrashAfter(k))
    assert s.target_count() == 7 * k
    # changed between the crash and the rerun: one row already copied, one not yet
    s.update([2, 50], title="崩溃后修改", update_time=s.now())
    report = s.run()
    assert not report.failed
    assert s.actual() == s.expected()
    assert s.target_count() == 60


def test_unknown_code_is_rejected_then_healed(scenario, tmp_path):
    s = scenario()
    s.insert([{"id": 1, "update_time": s.at(1)}, {"id": 2, "jg": "合格", "update_time": s.at(2)},
              {"id": 3, "update_time": s.at(3)}])
    report = s.run()
    result = report.results[0]
    assert result.counts.rows_rejected == 1
    assert set(s.actual()) == {"1", "3"}
    pending = commands.rejects(s.project())
    assert len(pending) == 1 and "合格" in pending[0]["reason"] and pending[0]["column_name"] == "check_status"
    # the DBA adds the county's spelling to the code list; the next run heals the row
    codes = tmp_path / "mappings" / "codes" / "check_status.yaml"
    codes.write_text(codes.read_text(encoding="utf-8").replace("[无隐患]", "[无隐患, 合格]"), encoding="utf-8")
    healed = s.run().results[0]
    assert healed.counts.rejects_resolved == 1
    assert s.actual() == s.expected()
    assert commands.rejects(s.project()) == []


def test_a_dropped_reject_stops_counting_but_stays_in_the_audit_trail(scenario):
    s = scenario()
    s.insert([{"id": 1, "update_time": s.at(1)}, {"id": 2, "jg": "坏值", "update_time": s.at(2)}])
    s.run()
    assert commands.health(s.project())[0] is False
    assert commands.drop_rejects(s.project(), mapping="record", keys=["2", "77"], reason="企业已注销") == ["77"]
    assert commands.rejects(s.project()) == []
    [dropped] = commands.rejects(s.project(), status_="dropped")
    assert dropped["key"] == "2" and dropped["reason"].startswith("dropped: 企业已注销 (was: check_status:")
    assert dropped["row"]["jg"] == "坏值"
    s.run()
    assert commands.rejects(s.project()) == []  # not retried any more
    assert commands.health(s.project())[0] is True
    [report] = commands.reconcile(s.project())
    assert report.equal and list(report.differences["kind"]) == ["dropped"]


def test_unknown_code_keep_sends_the_county_value_as_it_is(scenario):
    s = scenario(unknown="keep")
    s.insert([{"id": 1, "jg": "奇怪", "update_time": s.at(1)}, {"id": 2, "jg": "有隐患", "update_time": s.at(2)}])
    assert s.run().results[0].counts.rows_rejected == 0
    assert s.actual()["1"]["check_status"] == "奇怪"
    assert s.actual()["2"]["check_status"] == "1"   # a value in the list is still mapped
    assert commands.rejects(s.project()) == []


def test_unknown_code_default_sends_the_default_code(scenario):
    s = scenario(unknown='"9"')
    s.insert([{"id": 1, "jg": "奇怪", "update_time": s.at(1)}, {"id": 2, "jg": "有隐患", "update_time": s.at(2)}])
    assert s.run().results[0].counts.rows_rejected == 0
    assert s.actual()["1"]["check_status"] == "9"
    assert s.actual()["2"]["check_status"] == "1"


def test_reject_whose_source_row_disappears_is_marked_gone(scenario):
    s = scenario()
    s.insert([{"id": 1, "jg": "坏值", "update_time": s.at(1)}])
    s.run()
    s.update([1], del_flag="9")
    result = s.run().results[0]
    assert result.counts.rejects_gone == 1
    with sa.create_engine(f"sqlite:///{s.dir / 'state.db'}").connect() as conn:
        assert conn.execute(sa.select(rejects_table.c.status)).scalar() == "gone"


def test_dry_run_writes_nothing(scenario):
    s = scenario()
    s.insert([{"id": 1, "update_time": s.at(1)}, {"id": 2, "jg": "坏值", "update_time": s.at(2)}])
    report = s.run(dry_run=True)
    result = report.results[0]
    assert result.status == "dry-run"
    assert result.counts.rows_written == 1 and len(result.rejects) == 1
    assert result.sample[0]["id"] == "1"
    assert s.target_count() == 0
    assert commands.status(s.project())[0]["watermark"] is None
    assert commands.rejects(s.project()) == []


def test_run_history_records_every_run(scenario):
    s = scenario()
    s.insert([{"id": 1, "update_time": s.at(1)}])
    s.run()
    s.run()
    row = commands.status(s.project())[0]
    assert row["last_status"] == "ok" and row["rows_read"] == 0
    assert row["watermark"] == s.at(1).strftime("%Y-%m-%d %H:%M:%S") or row["watermark"].startswith(
        s.at(1).strftime("%Y-%m-%d %H:%M:%S"))
    assert [r["mode"] for r in commands.history(s.project())] == ["incremental", "incremental"]


@pytest.mark.parametrize("prefetch", [0, 3])
def test_prefetch_depth_changes_nothing_but_speed(scenario, prefetch):
    s = scenario(batch_size=7, lookback="0s", defaults=f"prefetch: {prefetch}")
    s.insert({"id": i, "update_time": s.at(i // 5)} for i in range(1, 101))
    with pytest.raises(SimulatedCrash):
        commands.run_once(s.project(), observer=CrashAfter(3))
    assert s.target_count() == 21
    assert not s.run().failed
    assert s.actual() == s.expected()


class ThreadsSeen(Observer):
    """The names of the threads alive whenever a batch has been written."""

    def __init__(self):
        self.names: set[str] = set()

    def batch_written(self, mapping, batch, rows):
        self.names.update(t.name for t in threading.enumerate())


@pytest.mark.parametrize(("setting", "reader"), [("", None), ("prefetch: 1", True), ("prefetch: 0", False)])
def test_a_sqlite_source_is_read_without_a_reader_thread_unless_prefetch_says_so(scenario, setting, reader):
    """Unset, ``prefetch`` is the source database's: 0 for SQLite, whose driver gives up the
    interpreter lock at every row (a reader thread would trade it with the writer row by row), 1
    for a server."""
    s = scenario(batch_size=7, lookback="0s", defaults=setting)
    if reader is None:
        reader = s.source.dialect.name != "sqlite"
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 31))
    seen = ThreadsSeen()
    report = commands.run_once(s.project(), observer=seen)
    assert not report.failed and s.actual() == s.expected()
    assert seen.names and ("syncd-reader" in seen.names) is reader


class CountingDict(dict):
    def __init__(self):
        super().__init__()
        self.kept = 0

    def __setitem__(self, key, value):
        self.kept += 1
        super().__setitem__(key, value)


class SizeWhenWritten(Observer):
    def __init__(self, texts):
        self.texts, self.sizes = texts, []

    def batch_written(self, mapping, batch, rows):
        self.sizes.append(len(self.texts))


def test_the_iso_texts_kept_for_a_sqlite_write_are_let_go_once_the_batch_is_written(scenario, monkeypatch):
    """SQLite's writer sends the ISO text a DATETIME was read as (``Dialect.datetime_texts``); the
    texts of a batch are not held once it is written, while the next one is read."""
    from syncd.dialects import get

    s = scenario(batch_size=7, lookback="0s", defaults="prefetch: 0")
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 31))
    texts = CountingDict()
    monkeypatch.setattr(get("sqlite"), "datetime_texts", texts)
    seen = SizeWhenWritten(texts)
    report = commands.run_once(s.project(), observer=seen)
    assert not report.failed and s.actual() == s.expected()
    assert len(seen.sizes) == 5 and set(seen.sizes) == {0}
    both_sqlite = s.source.dialect.name == "sqlite" and s.target.dialect.name == "sqlite"
    assert (texts.kept >= 30) is both_sqlite


def test_a_written_batch_is_freed_without_the_cyclic_collector(scenario):
    """A batch is freed once it is written and checkpointed, by reference counting alone: nothing
    the write path makes (a recursive closure used to) holds it in a reference cycle until the
    cyclic collector runs, which in a full copy kept several batches of memory alive."""
    s = scenario(batch_size=7, lookback="0s", defaults="prefetch: 0")
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 51))
    project = s.project()
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        report = commands.run_once(project)
        left = [o for o in gc.get_objects() if isinstance(o, MappedBatch)]
    finally:
        if enabled:
            gc.enable()
    assert not report.failed and s.actual() == s.expected()
    assert left == []


def test_a_sqlite_source_is_read_as_the_drivers_tuples_and_a_driver_error_midway_is_sqlalchemys(tmp_path):
    """A SQLite source's rows come from the driver's cursor as its own tuples (no SQLAlchemy Rows);
    an error of the driver between two batches still reaches the run as SQLAlchemy's, with the
    driver's error inside it, so it is classified like any other."""
    import sqlite3

    from syncd.dialects import get
    from syncd.engines import make_engine
    from syncd.source import Source

    engine = make_engine(sa.make_url(f"sqlite:///{tmp_path / 'county.db'}"))
    interrupt: list[bool] = []

    @sa.event.listens_for(engine, "connect")
    def _progress(dbapi_connection, _record):
        dbapi_connection.set_progress_handler(lambda: 1 if interrupt else 0, 1)

    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
            conn.exec_driver_sql("INSERT INTO t VALUES " + ", ".join(f"({i}, 'v{i}')" for i in range(1, 31)))
        statement = sa.select(sa.column("id"), sa.column("v")).select_from(sa.table("t")).order_by(sa.column("id"))
        with Source(engine, get("sqlite")).stream(statement, 7) as batches:
            first = next(batches)
            assert first == [(i, f"v{i}") for i in range(1, 8)]
            assert {type(row) for row in first} == {tuple}
            interrupt.append(True)
            with pytest.raises(sa.exc.OperationalError) as caught:
                next(batches)
        assert isinstance(caught.value.orig, sqlite3.OperationalError)
        assert "interrupted" in str(caught.value.orig)
        # a column with a type SQLAlchemy converts as it reads: its Rows, converted
        interrupt.clear()
        typed = sa.select(sa.column("id"), sa.column("v", sa.Integer)).select_from(sa.table("t"))
        with Source(engine, get("sqlite")).stream(typed.order_by(sa.column("id")), 7) as batches:
            assert {type(row) for row in next(batches)} == {sa.Row}
    finally:
        engine.dispose()


def test_a_mappings_reads_carry_no_types_so_a_sqlite_source_hands_the_drivers_tuples():
    """Every query a mapping reads its rows with (a window, a snapshot, NULL cursors, by key; with
    ``expr`` columns and ``where``) selects untyped columns: SQLAlchemy would convert nothing, and
    a SQLite source reads them through the driver (``source._typed``)."""
    from datetime import datetime
    from pathlib import Path

    from syncd import plan
    from syncd.mapping import Mapping_, TableMapping
    from syncd.source import _typed
    from syncd.watermark import Watermark, Window

    spec = Mapping_.model_validate({
        "name": "m", "source": {"table": "s", "key": ["id", "k2"], "cursor": "ts", "where": "flag = 1"},
        "target": {"table": "t", "key": ["id", "k2"]},
        "columns": {"id": {"from": "id"}, "k2": {"from": "k2"}, "title": {"expr": "upper(title)"},
                    "n": {"expr": "CAST(n AS INTEGER) + 1"}}})
    mapping = TableMapping(spec=spec, file=Path("m.yaml"), batch_size=10, lookback=0, lag=timedelta(0),
                           null_cursor="include", schedule=None)
    at = datetime(2026, 11, 20)
    statements = [plan.read_window(mapping, Window(snapshot=True, until=at)),
                  plan.read_window(mapping, Window(snapshot=True, until=at, after=Watermark(at, (1, 2)))),
                  plan.read_window(mapping, Window(after=Watermark(at, (1, 2)), until=at)),
                  plan.read_window(mapping, Window(since=at, until=at)),
                  plan.read_null_cursor(mapping, (1, 2)), plan.read_keys(mapping, [(1, 2), (3, 4)])]
    assert [_typed(s) for s in statements] == [False] * len(statements)


def nullable_key(s):
    """The scenario's source table with a key column that allows NULL (a UNIQUE column, as a
    ``query:`` with a LEFT JOIN can also give): the scenario's own inserts still fit it."""
    from tests.scenario import src_record

    columns = [sa.Column(c.name, c.type, nullable=c.name != "del_flag", unique=c.name == "id",
                         server_default=c.server_default) for c in src_record.columns]
    table = sa.Table("src_record", sa.MetaData(), *columns)
    with s.source.begin() as conn:
        table.drop(conn)
        table.create(conn)


def episodes(s):
    with sa.create_engine(f"sqlite:///{s.dir / 'state.db'}").connect() as conn:
        return conn.execute(sa.select(rejects_table.c.source_key, rejects_table.c.status)).all()


def stored_watermark(s):
    from syncd.state import watermarks

    with sa.create_engine(f"sqlite:///{s.dir / 'state.db'}").connect() as conn:
        return conn.execute(sa.select(watermarks.c.watermark)).scalar()


def test_a_null_key_never_becomes_the_watermark_and_its_reject_stays_pending(scenario):
    """A row whose key is NULL is rejected; as the newest row of a window it must not become the
    watermark (nothing compares with NULL: a quiet table's next window would fail every run), and
    the reject is found again by key (IS NULL), so it stays pending instead of gone every run."""
    s = scenario(lookback="0s")       # every window after the first is "after the watermark"
    nullable_key(s)
    s.insert({"id": i, "update_time": s.at(i)} for i in (1, 2, 3))
    assert not s.run().failed
    s.insert([{"id": None, "update_time": s.at(10)}])
    for _ in range(3):
        report = s.run()
        assert not report.failed, report.results[0].error
        assert '"t": "null"' not in (stored_watermark(s) or "")
    assert s.reject_keys() == {"None"}
    # rows after it, one with its very cursor (NULL sorts before 4 on SQLite and MariaDB, after on PostgreSQL)
    s.insert([{"id": 4, "update_time": s.at(10)}, {"id": 5, "update_time": s.at(11)}])
    report = s.run()
    assert not report.failed, report.results[0].error
    assert sorted(s.actual()) == ["1", "2", "3", "4", "5"]
    assert report.results[0].counts.rejects_gone == 0
    assert episodes(s) == [('[{"t": "null"}]', "pending")]
    # the row goes: its reject is gone, as any other's
    with s.source.begin() as conn:
        conn.execute(sa.text("DELETE FROM src_record WHERE id IS NULL"))
    assert s.run().results[0].counts.rejects_gone == 1 and s.reject_keys() == set()


def test_a_full_copy_stopped_after_a_batch_of_null_keys_resumes_without_skipping_a_row(scenario):
    """The first batch of a full copy in key order is all NULL keys where NULL sorts first (SQLite,
    MariaDB): it moves nothing, and the copy resumed after the stop reads every row with a key."""
    from syncd.faults import CRASH_EXIT

    s = scenario(batch_size=2)
    nullable_key(s)
    s.insert([{"id": None, "update_time": s.at(0)}, {"id": None, "update_time": s.at(1)}])
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 6))
    done = s.syncd("run", "--once", env={"SYNCD_TEST_CRASH_AT": "after-checkpoint:1"})
    assert done.returncode == CRASH_EXIT, done.stderr
    report = s.run()
    assert not report.failed, report.results[0].error
    assert sorted(s.actual()) == ["1", "2", "3", "4", "5"]
    if s.source.dialect.name != "postgresql":
        assert s.reject_keys() == {"None"}
    # (PostgreSQL sorts NULL last: the copy stopped before it reached them, and "after key 2" does
    # not read them; docs/sync-semantics.md says so)


def test_a_uuid_key_on_postgresql_resumes_retries_and_reads_after_its_watermark(tmp_path, make_database):
    """A PostgreSQL ``uuid`` source key goes back into SQL from the state store three ways: a
    resumed full copy, a reject retried by key, a quiet table's window after the watermark. Each
    must compare as uuid, and so must a watermark stored as text by an earlier syncd."""
    from syncd.faults import CRASH_EXIT
    from syncd.state import watermarks
    from tests.scenario import scenarios, src_record

    with scenarios(tmp_path, make_database) as build:
        s = build("postgresql", "sqlite", batch_size=2, lookback="0s")
        columns = [sa.Column(c.name, sa.Uuid if c.name == "id" else c.type, primary_key=c.primary_key,
                             nullable=c.nullable, server_default=c.server_default) for c in src_record.columns]
        table = sa.Table("src_record", sa.MetaData(), *columns)
        ids = [uuid.UUID(int=i) for i in range(1, 7)]
        with s.source.begin() as conn:
            table.drop(conn)
            table.create(conn)
            conn.execute(table.insert(), [{"id": k, "jg": "坏值" if n == 2 else "正常", "title": f"记录{n}",
                                           "update_time": s.at(n)} for n, k in enumerate(ids)])
        done = s.syncd("run", "--once", env={"SYNCD_TEST_CRASH_AT": "after-checkpoint:1"})
        assert done.returncode == CRASH_EXIT, done.stderr
        report = s.run()                  # the copy resumes after a uuid key, and retries the reject by key
        assert not report.failed, report.results[0].error
        good = sorted(str(k) for n, k in enumerate(ids) if n != 2)
        assert sorted(s.actual()) == good and s.reject_keys() == {str(ids[2])}

        def touch(n, **values):
            with s.source.begin() as conn:
                conn.execute(table.update().where(table.c.id == ids[n]).values(update_time=s.at(20 + n), **values))

        touch(0)
        assert not s.run().failed and '"t": "uuid"' in stored_watermark(s)
        assert not (report := s.run()).failed, report.results[0].error     # quiet: after (cursor, uuid)
        # as an earlier syncd stored it: the key as text
        with sa.create_engine(f"sqlite:///{s.dir / 'state.db'}").begin() as conn:
            conn.execute(sa.update(watermarks).values(
                watermark=sa.func.replace(watermarks.c.watermark, '"t": "uuid"', '"t": "str"')))
        assert '"t": "str"' in stored_watermark(s)
        touch(2, jg="正常")
        report = s.run()
        assert not report.failed, report.results[0].error
        assert (report.results[0].counts.rejects_resolved, report.results[0].counts.rejects_gone) == (1, 0)
        assert sorted(s.actual()) == sorted(str(k) for k in ids) and s.reject_keys() == set()


# -- lookback and the cursor's values (docs/sync-semantics.md, "Lookback and the cursor's values") -----
def _digit_cursor_scenario(tmp_path, column_type: str, lookback: str) -> Scenario:
    """A SQLite source whose cursor is yyyymmddhhmmss in a column of ``column_type``."""
    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'src.db'}", f"sqlite:///{tmp_path / 'fep.db'}",
                 lookback=lookback, columns={"update_time": "{value: now}"})
    with s.source.begin() as conn:
        conn.execute(sa.text("DROP TABLE src_record"))
        conn.execute(sa.text(f"CREATE TABLE src_record (id INTEGER PRIMARY KEY, jg VARCHAR(20), title VARCHAR(200), "
                             f"amount NUMERIC, update_time {column_type}, del_flag VARCHAR(1) NOT NULL DEFAULT '0')"))
    return s


def _insert_digits(s: Scenario, rows: list[tuple[int, str]], as_number: bool) -> None:
    with s.source.begin() as conn:
        for key, stamp in rows:
            conn.execute(sa.text("INSERT INTO src_record VALUES (:k, '正常', :t, 1.5, :u, '0')"),
                         {"k": key, "t": f"v-{key}", "u": int(stamp) if as_number else stamp})


@pytest.mark.parametrize(("column_type", "lookback"), [
    ("VARCHAR(14)", "10m"), ("VARCHAR(14)", "100"), ("INTEGER", "10m"), ("INTEGER", "100")])
def test_a_yyyymmddhhmmss_cursor_catches_a_late_commit_within_its_lookback(tmp_path, column_type, lookback):
    s = _digit_cursor_scenario(tmp_path, column_type, lookback)
    try:
        number = column_type == "INTEGER"
        _insert_digits(s, [(1, "20261129100000"), (2, "20261129100100"), (3, "20261129100200")], number)
        assert s.run().results[0].status == "ok"
        # a transaction that began at 10:01:30 commits after the run read up to 10:02:00
        _insert_digits(s, [(4, "20261129100130"), (5, "20261129100300")], number)
        result = s.run().results[0]
        assert result.status == "ok", result.error
        assert not result.warnings
        assert s.target_ids() == ["1", "2", "3", "4", "5"]
    finally:
        s.dispose()


def test_a_number_lookback_on_a_time_cursor_is_warned_about_not_guessed(tmp_path):
    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'src.db'}", f"sqlite:///{tmp_path / 'fep.db'}", lookback="600")
    try:
        start = s.now() - timedelta(minutes=5)
        s.insert({"id": i, "update_time": start + timedelta(seconds=10 * i)} for i in range(1, 11))
        first = s.run().results[0]
        s.insert([{"id": 99, "update_time": start + timedelta(seconds=55)}])   # a late commit, 4 minutes back
        result = s.run().results[0]
        assert result.status == "ok", result.error
        for warned in (first, result):
            said = [w for w in warned.warnings if "lookback" in w]
            assert len(said) == 1, warned.warnings
            assert "record.yaml" in said[0] and "[lookback]" in said[0] and "cursor update_time" in said[0]
            assert "lookback 600 is a plain number" in said[0] and "lookback: 10m" in said[0]
        assert "99" not in s.target_ids()       # 600 is not taken as seconds
    finally:
        s.dispose()


def test_the_default_lookback_on_a_counter_cursor_is_warned_about(tmp_path):
    s = _digit_cursor_scenario(tmp_path, "INTEGER", "10m")
    try:
        mapping = s.dir / "mappings" / "record.yaml"
        mapping.write_text("".join(line for line in mapping.read_text(encoding="utf-8").splitlines(keepends=True)
                                   if not line.startswith("lookback:")), encoding="utf-8")
        _insert_digits(s, [(1, "4711"), (2, "4712")], True)
        result = s.run().results[0]
        assert result.status == "ok", result.error
        said = " ".join(result.warnings)
        assert "lookback 10m is a duration" in said and "numbers (4712)" in said and "lookback: 0" in said
        assert "defaults.lookback" in said
    finally:
        s.dispose()
