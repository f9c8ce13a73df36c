"""The state store's schema version, its migrations and its failures, on real databases.

The starting point is tests/fixtures/state-v1.db, a store written by syncd before the store
carried a version (see tests/fixtures/README.md). Each test works on a copy of it, or on a fresh
database of the MariaDB and PostgreSQL test servers holding the same records.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from syncd import state
from syncd.errors import FatalSyncError, TransientSyncError
from syncd.state import SCHEMA_VERSION, StateStore, as_utc
from syncd.watermark import Watermark, decode_key
from tests.servers import BACKENDS, SERVER_BACKENDS

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "state-v1.db"

# Version 1, frozen: the tables exactly as syncd created them before the store carried a version.
# syncd.state describes the latest layout; this one must not follow it.
V1 = sa.MetaData()
sa.Table(
    "syncd_watermark", V1,
    sa.Column("mapping", sa.String(200), primary_key=True),
    sa.Column("watermark", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Table(
    "syncd_run", V1,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("run_id", sa.String(40), nullable=False, index=True),
    sa.Column("mapping", sa.String(200), nullable=False, index=True),
    sa.Column("mode", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True)),
    sa.Column("rows_read", sa.Integer, nullable=False, default=0),
    sa.Column("rows_written", sa.Integer, nullable=False, default=0),
    sa.Column("rows_rejected", sa.Integer, nullable=False, default=0),
    sa.Column("rejects_resolved", sa.Integer, nullable=False, default=0),
    sa.Column("rejects_gone", sa.Integer, nullable=False, default=0),
    sa.Column("null_cursor_rows", sa.Integer, nullable=False, default=0),
    sa.Column("retries", sa.Integer, nullable=False, default=0),
    sa.Column("watermark_before", sa.Text),
    sa.Column("watermark_after", sa.Text),
    sa.Column("window", sa.Text),
    sa.Column("warning", sa.Text),
    sa.Column("error", sa.Text),
)
sa.Table(
    "syncd_reject", V1,
    sa.Column("mapping", sa.String(200), primary_key=True),
    sa.Column("source_key", sa.String(500), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("column_name", sa.String(200)),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("row_data", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("resolved_at", sa.DateTime(timezone=True)),
)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def readonly_url(path: Path) -> str:
    return f"sqlite:///file:{path}?mode=ro&uri=true"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def v1_copy(tmp_path: Path) -> Path:
    path = tmp_path / "state.db"
    shutil.copyfile(FIXTURE, path)
    return path


@pytest.fixture
def engines():
    made: list[sa.Engine] = []

    def make(url: str) -> sa.Engine:
        made.append(sa.create_engine(url))
        return made[-1]

    yield make
    for engine in made:
        engine.dispose()


def v1_records(engine: sa.Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of a version-1 store, read with the frozen layout (not through StateStore)."""
    with engine.connect() as conn:
        return {name: [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(*table.primary_key))]
                for name, table in V1.tables.items()}


def moment(value: Any, precision: str) -> Any:
    """Moments compared as UTC instants, at the precision the database keeps."""
    if not isinstance(value, datetime):
        return value
    value = as_utc(value)
    assert value is not None
    return value.replace(microsecond=0) if precision == "s" else value


def comparable(rows: list[dict[str, Any]], precision: str) -> list[dict[str, Any]]:
    return [{k: moment(v, precision) for k, v in row.items()} for row in rows]


def store_view(store: StateStore, precision: str = "us") -> dict[str, Any]:
    """Everything the StateStore API reads, in one comparable structure."""
    marks = store.all_watermarks()
    rejects = store.list_rejects(status=None, limit=100_000)
    mappings = sorted({*marks, *(r["mapping"] for r in rejects)})
    return {
        "all_watermarks": {m: (w, moment(u, precision)) for m, (w, u) in marks.items()},
        "watermark": {m: store.watermark(m) for m in mappings},
        "rejects": sorted(comparable(rejects, precision), key=lambda r: (r["mapping"], r["source_key"])),
        "pending_keys": {m: store.pending_keys(m) for m in mappings},
        "keys_with_status": {(m, s): sorted(store.keys_with_status(m, s)) for m in mappings
                             for s in ("pending", "resolved", "gone", "dropped")},
        "pending_counts": store.pending_counts(),
        "history": sorted(comparable(store.history(limit=100_000), precision), key=lambda r: r["id"]),
        "last_runs": {m: moment_row(r, precision) for m, r in store.last_runs().items()},
    }


def moment_row(row: dict[str, Any], precision: str) -> dict[str, Any]:
    return comparable([row], precision)[0]


def as_episode(reject: dict[str, Any]) -> dict[str, Any]:
    """A version-1 reject as the migration keeps it: the first episode of its key, with the hash of
    its source row; who dropped it is unknown, why is the operator's part of the old reason."""
    drop_reason = None
    if reject["status"] == "dropped":
        drop_reason = reject["reason"].removeprefix("dropped: ").split(" (was: ")[0]
    return {**reject, "episode": 1, "row_hash": hashlib.sha256(reject["row_data"].encode()).hexdigest(),
            "opened_run": None, "resolved_run": None, "dropped_by": None, "drop_reason": drop_reason}


def as_run(run: dict[str, Any]) -> dict[str, Any]:
    """A version-1 run record: inserted, updated and unchanged were not told apart, truncations not
    counted (NULL)."""
    return {**run, "inserted": None, "updated": None, "unchanged": None, "rows_truncated": None}


def expected_view(records: dict[str, list[dict[str, Any]]], precision: str = "us") -> dict[str, Any]:
    """What the StateStore API must read from a store holding ``records`` (the version-1 rows)."""
    marks, rejects, runs = records["syncd_watermark"], records["syncd_reject"], records["syncd_run"]
    rejects = [as_episode(r) for r in rejects]
    runs = [as_run(r) for r in runs]
    mappings = sorted({*(w["mapping"] for w in marks), *(r["mapping"] for r in rejects)})
    by_mapping = {w["mapping"]: w for w in marks}
    newest: dict[str, dict[str, Any]] = {}
    for run in sorted(runs, key=lambda r: r["id"]):
        newest[run["mapping"]] = run
    pending_counts: dict[str, int] = {}
    for r in rejects:
        if r["status"] == "pending":
            pending_counts[r["mapping"]] = pending_counts.get(r["mapping"], 0) + 1
    return {
        "all_watermarks": {w["mapping"]: (Watermark.from_json(w["watermark"]), moment(w["updated_at"], precision))
                           for w in marks},
        "watermark": {m: Watermark.from_json(by_mapping[m]["watermark"]) if m in by_mapping else None
                      for m in mappings},
        "rejects": sorted(comparable(rejects, precision), key=lambda r: (r["mapping"], r["source_key"])),
        "pending_keys": {m: sorted(r["source_key"] for r in rejects if r["mapping"] == m and r["status"] == "pending")
                         for m in mappings},
        "keys_with_status": {(m, s): sorted(r["source_key"] for r in rejects if r["mapping"] == m and r["status"] == s)
                             for m in mappings for s in ("pending", "resolved", "gone", "dropped")},
        "pending_counts": pending_counts,
        "history": sorted(comparable(runs, precision), key=lambda r: r["id"]),
        "last_runs": {m: moment_row(r, precision) for m, r in newest.items()},
    }


def layout(engine: sa.Engine) -> dict[str, Any]:
    """Tables, columns (name, type, nullable), primary keys and indexes of syncd's tables."""
    inspector = sa.inspect(engine)
    found: dict[str, Any] = {}
    for table in sorted(t for t in inspector.get_table_names() if t.startswith("syncd_")):
        found[table] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                              for i in inspector.get_indexes(table)),
        }
    return found


# -- the fixture itself --------------------------------------------------------------------

def test_the_fixture_is_version_1_holding_every_kind_of_record(engines):
    engine = engines(readonly_url(FIXTURE))
    assert set(sa.inspect(engine).get_table_names()) == {"syncd_watermark", "syncd_run", "syncd_reject"}
    records = v1_records(engine)
    marks = {w["mapping"]: Watermark.from_json(w["watermark"]) for w in records["syncd_watermark"]}
    assert len(marks) == 11
    assert marks["risk_event"] is not None and len(marks["risk_event"].key) == 4
    assert marks["check_record"] is not None and marks["check_record"].snapshot
    statuses = sorted(r["status"] for r in records["syncd_reject"])
    assert statuses == ["dropped", "gone", "pending", "pending", "pending", "resolved"]
    dropped = next(r for r in records["syncd_reject"] if r["status"] == "dropped")
    assert dropped["reason"].startswith("dropped: 企业已停产注销")
    assert {r["status"] for r in records["syncd_run"]} == {"ok", "failed", "running"}


def test_the_frozen_version_1_layout_is_the_fixtures(tmp_path, engines):
    fresh = engines(sqlite_url(tmp_path / "v1.db"))
    V1.create_all(fresh)
    assert layout(fresh) == layout(engines(readonly_url(FIXTURE)))


# -- migrating the fixture -----------------------------------------------------------------

def test_migrating_the_fixture_keeps_every_record(v1_copy, engines):
    expected = expected_view(v1_records(engines(readonly_url(FIXTURE))))
    store = StateStore(engines(sqlite_url(v1_copy)))
    assert store.schema_version() == SCHEMA_VERSION
    assert store_view(store) == expected
    # Spelled out, so the comparison above cannot pass on two empty stores.
    assert store.watermark("risk_unit") == Watermark(
        "2026-11-29 09:19:38.801770", ("961425548", "液化烃罐区", "球罐微单元"), bound="2026-11-29 09:19:41.000000")
    assert store.watermark("check_record") == Watermark(
        "2025-10-07 20:31:22.000000", (100,), snapshot=True, bound="2026-11-29 09:19:44.000000")
    assert store.pending_counts() == {"check_task": 1, "risk_event": 1, "risk_unit": 1}
    assert [decode_key(k) for k in store.pending_keys("check_task")] == [(8,)]
    [dropped] = store.list_rejects("check_task", status="dropped")
    assert decode_key(dropped["source_key"]) == (7,)
    assert dropped["reason"] == "dropped: 企业已停产注销，经省厅同意不再上报 (was: rule: 排查周期必须大于0)"
    assert dropped["attempts"] == 3 and dropped["resolved_at"] is not None
    # Rejects became episodes: the drop's why on its own, who dropped it unknown before version 3.
    assert (dropped["episode"], dropped["drop_reason"], dropped["dropped_by"]) == (
        1, "企业已停产注销，经省厅同意不再上报", None)
    assert [decode_key(k) for k in store.keys_with_status("check_task", "resolved")] == [(5,)]
    assert [decode_key(k) for k in store.keys_with_status("check_task", "gone")] == [(6,)]
    history = store.history(limit=100)
    assert len(history) == 28
    assert history[0]["status"] == "running" and history[0]["ended_at"] is None
    assert "dp_risk_zone does not exist" in store.last_runs()["risk_zone"]["error"]


def test_the_migrated_fixture_has_the_layout_of_a_new_store(tmp_path, v1_copy, engines):
    StateStore(migrated := engines(sqlite_url(v1_copy)))
    StateStore(new := engines(sqlite_url(tmp_path / "new.db")))
    assert layout(migrated) == layout(new)
    assert "syncd_meta" in layout(new)


def test_a_second_open_changes_nothing(v1_copy, engines):
    StateStore(engines(sqlite_url(v1_copy))).engine.dispose()
    before = digest(v1_copy)
    store = StateStore(engines(sqlite_url(v1_copy)))
    store.engine.dispose()
    assert digest(v1_copy) == before
    # Nothing to write at all: a read-only open of an up-to-date store works.
    readonly = StateStore(engines(readonly_url(v1_copy)))
    assert readonly.schema_version() == SCHEMA_VERSION
    assert len(readonly.history(limit=100)) == 28


def test_the_migrated_fixture_goes_on_working(v1_copy, engines):
    store = StateStore(engines(sqlite_url(v1_copy)))
    record = store.start_run("20261201T000000Z-abcdef", "check_task", "incremental", store.watermark("check_task"))
    assert record == 29
    mark = Watermark("2026-12-01 00:00:00.000000", (9,), bound="2026-12-01 00:00:05.000000")
    store.checkpoint("check_task", mark, [], [(8,)], "20261201T000000Z-abcdef")
    store.finish_run(record, status="ok", counts=state.RunCounts(rows_read=1, rejects_resolved=1),
                     watermark_after=mark, window=None, warning=None, error=None)
    assert store.watermark("check_task") == mark
    assert store.pending_keys("check_task") == []
    assert store.last_runs()["check_task"]["rejects_resolved"] == 1


def test_a_new_store_starts_at_the_latest_version(tmp_path, engines):
    path = tmp_path / "state.db"
    store = StateStore(engines(sqlite_url(path)))
    assert store.schema_version() == SCHEMA_VERSION
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name, value FROM syncd_meta").fetchall() == [("schema_version", str(SCHEMA_VERSION))]


def test_syncds_opening_an_old_store_at_once_migrate_it_once(v1_copy, engines):
    urls = [sqlite_url(v1_copy)] * 4
    with ThreadPoolExecutor(len(urls)) as pool:
        versions = list(pool.map(lambda url: StateStore(engines(url)).schema_version(), urls))
    assert versions == [SCHEMA_VERSION] * 4
    with sqlite3.connect(v1_copy) as db:
        assert db.execute("SELECT count(*) FROM syncd_meta").fetchone() == (1,)


# -- adding a migration --------------------------------------------------------------------

def _add_reviewed(conn: sa.Connection) -> None:
    conn.exec_driver_sql("ALTER TABLE syncd_reject ADD COLUMN reviewed INTEGER")
    conn.exec_driver_sql("UPDATE syncd_reject SET reviewed = 1")


def test_a_migration_is_one_function_appended(monkeypatch, v1_copy, engines):
    monkeypatch.setattr(state, "MIGRATIONS", (*state.MIGRATIONS, _add_reviewed))
    monkeypatch.setattr(state, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    expected = expected_view(v1_records(engines(readonly_url(FIXTURE))))
    store = StateStore(engines(sqlite_url(v1_copy)))
    assert store.schema_version() == SCHEMA_VERSION + 1
    assert store_view(store) == expected
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT reviewed FROM syncd_reject").scalars().all() == [1] * 6


def _half_done(conn: sa.Connection) -> None:
    conn.exec_driver_sql("CREATE TABLE syncd_half (id INTEGER PRIMARY KEY)")
    raise RuntimeError("cut off")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_failing_migration_leaves_the_store_at_the_version_before(monkeypatch, make_database, kind):
    # SQLite and PostgreSQL undo DDL with the transaction; MariaDB cannot (see syncd/state.py).
    engine = make_database.engine(make_database(kind))
    V1.create_all(engine)
    monkeypatch.setattr(state, "MIGRATIONS", (*state.MIGRATIONS, _half_done))
    monkeypatch.setattr(state, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(RuntimeError, match="cut off"):
        StateStore(engine)
    monkeypatch.undo()
    tables = set(sa.inspect(engine).get_table_names())
    assert "syncd_half" not in tables and "syncd_meta" in tables
    assert StateStore(engine).schema_version() == SCHEMA_VERSION


# -- refusals and failures -----------------------------------------------------------------

def test_a_store_from_a_newer_syncd_is_refused(v1_copy, engines):
    StateStore(engines(sqlite_url(v1_copy))).engine.dispose()
    with sqlite3.connect(v1_copy) as db:
        db.execute("UPDATE syncd_meta SET value = ? WHERE name = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    before = digest(v1_copy)
    with pytest.raises(FatalSyncError) as caught:
        StateStore(engines(sqlite_url(v1_copy)))
    message = str(caught.value)
    assert str(v1_copy) in message
    assert f"schema version {SCHEMA_VERSION + 1}" in message and f"up to {SCHEMA_VERSION}" in message
    assert "Upgrade syncd" in message
    assert digest(v1_copy) == before


def test_a_version_that_is_not_a_number_is_refused(v1_copy, engines):
    StateStore(engines(sqlite_url(v1_copy))).engine.dispose()
    with sqlite3.connect(v1_copy) as db:
        db.execute("UPDATE syncd_meta SET value = 'two' WHERE name = 'schema_version'")
    with pytest.raises(FatalSyncError, match="schema version 'two'") as caught:
        StateStore(engines(sqlite_url(v1_copy)))
    assert str(v1_copy) in str(caught.value)


def read_everything(url: str, engines) -> None:
    store = StateStore(engines(url))
    store.all_watermarks()
    store.list_rejects(status=None, limit=100_000)
    store.history(limit=100_000)


@pytest.mark.parametrize("size", [0.5, 0.1, 50], ids=["half", "tenth", "50-bytes"])
def test_a_truncated_store_is_damaged_and_left_alone(tmp_path, engines, size):
    path = tmp_path / "state.db"
    data = FIXTURE.read_bytes()
    path.write_bytes(data[:int(len(data) * size) if size < 1 else int(size)])
    before = digest(path)
    with pytest.raises(FatalSyncError) as caught:
        read_everything(sqlite_url(path), engines)
    message = str(caught.value)
    assert f"state store {path} is damaged" in message
    assert "Keep a copy" in message and "repaired" in message and "rebuilt" in message
    assert caught.value.__cause__ is not None  # the driver's error stays in the chain, for the log
    assert digest(path) == before


def test_a_file_that_is_not_a_database_is_damaged(tmp_path, engines):
    path = tmp_path / "state.db"
    path.write_text("syncd state\n" * 500)
    with pytest.raises(FatalSyncError, match="file is not a database") as caught:
        StateStore(engines(sqlite_url(path)))
    assert str(path) in str(caught.value) and "Keep a copy" in str(caught.value)
    assert path.read_text() == "syncd state\n" * 500


def test_a_read_only_store_cannot_be_migrated(v1_copy, engines):
    # A read-only open fails for root too, unlike file permissions.
    before = digest(v1_copy)
    with pytest.raises(FatalSyncError) as caught:
        StateStore(engines(readonly_url(v1_copy)))
    message = str(caught.value)
    assert str(v1_copy) in message and "readonly database" in message
    assert "may read and write" in message and "disk is not full" in message
    assert digest(v1_copy) == before


def test_a_read_only_store_fails_on_the_first_write(v1_copy, engines):
    StateStore(engines(sqlite_url(v1_copy))).engine.dispose()
    store = StateStore(engines(readonly_url(v1_copy)))
    with pytest.raises(FatalSyncError, match="cannot record the start of a run: attempt to write a readonly") as caught:
        store.start_run("20261201T000000Z-abcdef", "check_task", "incremental", None)
    assert str(v1_copy) in str(caught.value)


def test_a_store_locked_by_another_process_is_a_transient_error(v1_copy):
    holder = sqlite3.connect(v1_copy, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    engine = sa.create_engine(sqlite_url(v1_copy), connect_args={"timeout": 0.2})
    try:
        with pytest.raises(TransientSyncError, match="database is locked") as caught:
            StateStore(engine)
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()
    assert str(v1_copy) in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_a_store_without_write_permission(v1_copy, engines):
    v1_copy.chmod(0o444)
    v1_copy.parent.chmod(0o555)
    try:
        with pytest.raises(FatalSyncError) as caught:
            StateStore(engines(sqlite_url(v1_copy)))
    finally:
        v1_copy.parent.chmod(0o755)
    assert str(v1_copy) in str(caught.value) and "may read and write" in str(caught.value)


@pytest.mark.parametrize("where", ["missing/state.db", "a-file/state.db"])
def test_a_store_in_a_directory_that_cannot_be_used(tmp_path, engines, where):
    (tmp_path / "a-file").write_text("not a directory")
    path = tmp_path / where
    with pytest.raises(FatalSyncError) as caught:
        StateStore(engines(sqlite_url(path)))
    message = str(caught.value)
    assert f"state store {path}: cannot open it: unable to open database file" in message
    assert "directory exist" in message


def test_the_command_line_says_what_is_wrong_without_a_traceback(tmp_path):
    (tmp_path / "state.db").write_text("syncd state\n" * 500)
    (tmp_path / "config.yaml").write_text(
        f'source: {{url: "sqlite:///{tmp_path / "county.db"}"}}\n'
        f'target: {{url: "sqlite:///{tmp_path / "fep.db"}"}}\n'
        f'state: {{url: "sqlite:///{tmp_path / "state.db"}"}}\n'
        f"mappings: {REPO / 'mappings'}\n"
        'vars: {AREA_CODE: "410102"}\n', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "syncd", "-c", str(tmp_path / "config.yaml"), "history"],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"state store {tmp_path / 'state.db'} is damaged" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stdout + result.stderr


def test_a_store_that_fails_before_a_run_begins_fails_the_run_and_exits_1(tmp_path):
    """The state store fails on the first read of a run (its watermarks unreadable): every
    mapping's run is failed with the store's error, and run --once exits 1, not 0."""
    from tests.test_daemon import build, syncd

    s = build(tmp_path, rows=5)
    assert syncd(s, "run", "--once").returncode == 0
    with sqlite3.connect(tmp_path / "state.db") as conn:
        conn.execute("DROP TABLE syncd_watermark")
    result = syncd(s, "run", "--once")
    out = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 1, out
    assert "failed (fatal): state store" in out and "syncd_watermark" in out
    assert "None" not in out and "Traceback" not in out
    s.dispose()


def test_a_store_created_beside_the_journal_of_an_earlier_one_says_so(tmp_path):
    """state.db lost (or emptied) while its audit journal's JSON lines stay: the run that creates
    a new store says that the earlier one's watermarks, rejects and decisions start afresh, and
    how to carry them over; a first run says nothing of the kind."""
    from tests.test_daemon import build, syncd

    s = build(tmp_path, rows=5)
    first = syncd(s, "run", "--once")
    assert first.returncode == 0 and "was created new" not in first.stderr
    for name in ("state.db", "state.db-wal", "state.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    again = syncd(s, "run", "--once")
    said = " ".join(again.stderr.split())
    assert again.returncode == 0, said
    assert "was created new, but the audit journal in" in said and "syncd state rebuild" in said
    assert syncd(s, "run", "--once").stderr.count("was created new") == 0
    s.dispose()


# -- the database servers ------------------------------------------------------------------

def load_v1(engine: sa.Engine, records: dict[str, list[dict[str, Any]]]) -> None:
    """A version-1 store on ``engine`` holding ``records``, as syncd before versions made it."""
    V1.create_all(engine)
    with engine.begin() as conn:
        for name, rows in records.items():
            conn.execute(V1.tables[name].insert(), [{k: as_utc(v) if isinstance(v, datetime) else v
                                                     for k, v in row.items()} for row in rows])
        if engine.dialect.name == "postgresql":
            # The rows came with their ids; new runs must number after them.
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('syncd_run', 'id'), max(id)) FROM syncd_run")


@pytest.mark.parametrize("kind", SERVER_BACKENDS)
def test_migrating_on_a_database_server_keeps_every_record(make_database, kind):
    records = v1_records(make_database.engine(readonly_url(FIXTURE)))
    engine = make_database.engine(make_database(kind))
    load_v1(engine, records)
    # MariaDB's DATETIME keeps whole seconds.
    precision = "s" if kind == "mariadb" else "us"
    store = StateStore(engine)
    assert store.schema_version() == SCHEMA_VERSION
    assert store_view(store, precision) == expected_view(records, precision)
    assert StateStore(engine).schema_version() == SCHEMA_VERSION
    new = make_database.engine(make_database(kind))
    StateStore(new)
    assert layout(engine) == layout(new)
    record = store.start_run("20261201T000000Z-abcdef", "check_task", "incremental", None)
    assert record == 29


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_newer_store_is_refused_on_every_database(make_database, kind):
    url = make_database(kind)
    engine = make_database.engine(url)
    StateStore(engine)
    with engine.begin() as conn:
        conn.execute(sa.update(state.meta).values(value=str(SCHEMA_VERSION + 5)))
    with pytest.raises(FatalSyncError) as caught:
        StateStore(engine)
    message = str(caught.value)
    if kind == "sqlite":
        assert f"state store {engine.url.database} has schema version {SCHEMA_VERSION + 5}" in message
    else:
        assert f"state store {engine.url.render_as_string(hide_password=True)} has schema version" in message
        assert engine.url.password and str(engine.url.password) not in message
    assert "Upgrade syncd" in message


@pytest.mark.parametrize("kind", SERVER_BACKENDS)
def test_a_server_that_refuses_names_the_url_without_its_password(make_database, kind):
    url = sa.make_url(make_database(kind)).set(password="wrong-password")
    engine = sa.create_engine(url)
    try:
        with pytest.raises(FatalSyncError) as caught:
            StateStore(engine)
    finally:
        engine.dispose()
    message = str(caught.value)
    assert url.render_as_string(hide_password=True) in message and "wrong-password" not in message
    assert "database server is up" in message

