"""True counts (issue 11, section 2): rows read again by the lookback that the target already holds
as they are are counted unchanged and not written, on SQLite, MariaDB and PostgreSQL targets."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from syncd import commands
from syncd.dialects.base import Written
from tests.scenario import Scenario, dp_record

TARGETS = ["sqlite", "mariadb", "postgresql"]


@pytest.fixture(params=TARGETS, ids=[f"to-{t}" for t in TARGETS])
def scenario(request, tmp_path, make_database):
    made = []

    def build(**options):
        s = Scenario(tmp_path, make_database("sqlite"), make_database(request.param), **options)
        made.append(s)
        return s
    yield build
    for s in made:
        s.dispose()


def counts(result):
    c = result.counts
    return {"read": c.rows_read, "inserted": c.inserted, "updated": c.updated, "unchanged": c.unchanged,
            "rejected": c.rows_rejected, "written": c.rows_written}


def stamps(s: Scenario) -> dict[str, tuple]:
    """Per target key: (sync_time, run_id), the columns filled by value: now and value: run_id."""
    with s.target.connect() as conn:
        return {r.id: (r.sync_time, r.run_id) for r in conn.execute(sa.select(dp_record))}


def recent_rows(s: Scenario, ids, **values):
    """Rows stamped a minute ago: a lookback of an hour reads them again on every run."""
    at = s.now() - timedelta(minutes=1)
    return [{"id": i, "update_time": at, **values} for i in ids]


@pytest.mark.parametrize("batch_size", [2000, 1])
def test_a_reread_counts_only_the_changed_rows_and_leaves_the_others_as_they_are(scenario, batch_size):
    s = scenario(lookback="1h", batch_size=batch_size)
    s.insert(recent_rows(s, range(1, 20)))
    s.update([4], title=None)
    first = s.run().results[0]
    # a first copy inserts every row (and the incremental window after it reads them all again:
    # unchanged, since the copy)
    assert counts(first) == {"read": 38, "inserted": 19, "updated": 0, "unchanged": 19, "rejected": 0, "written": 19}
    before = stamps(s)
    time.sleep(1.1)     # sync_time (value: now) of the next run differs, to the second
    s.update([4], title="补上标题")                  # NULL -> value
    s.update([5], title=None)                        # value -> NULL
    s.insert(recent_rows(s, [20]))
    second = s.run().results[0]
    assert not second.error
    # 20 rows read again, 3 of them changed: inserted + updated = 3, unchanged = 17
    assert counts(second) == {"read": 20, "inserted": 1, "updated": 2, "unchanged": 17, "rejected": 0, "written": 3}
    after = stamps(s)
    kept = {k for k in before if k not in ("4", "5")}
    assert len(kept) == 17
    assert {k: after[k] for k in kept} == {k: before[k] for k in kept}       # sync_time and run_id stay
    for changed in ("4", "5"):
        assert after[changed][1] != before[changed][1] and after[changed][0] > before[changed][0]
    assert s.actual() == s.expected()

    # the run record and the journal's batch records say the same
    record = commands.history_records(s.project())[0]       # newest first
    assert (record["read"], record["inserted"], record["updated"], record["unchanged"], record["written"]) == \
        (20, 1, 2, 17, 3)
    batches = [r["counts"] for r in commands.audit_list(s.project(), kinds=["checkpoint"])
               if r["run_id"] == record["run_id"] and "read" in r["counts"]]
    assert sum(b["read"] for b in batches) == 20
    assert (sum(b["inserted"] for b in batches), sum(b["updated"] for b in batches),
            sum(b["unchanged"] for b in batches)) == (1, 2, 17)
    assert len(batches) == (1 if batch_size == 2000 else 20)


def test_a_row_differing_only_in_a_stamp_column_or_an_update_false_column_is_unchanged(scenario):
    s = scenario(lookback="1h", columns={"amount": "{from: amount, update: false}"})
    s.insert(recent_rows(s, range(1, 6)))
    s.run()
    before = stamps(s)
    time.sleep(1.1)
    s.update([2], amount=Decimal("9.99"))     # update: false: never written again
    result = s.run().results[0]
    assert counts(result) == {"read": 5, "inserted": 0, "updated": 0, "unchanged": 5, "rejected": 0, "written": 0}
    assert stamps(s) == before
    assert s.actual()["2"]["amount"] == Decimal("1.50")


def test_only_stamp_columns_to_update_means_nothing_is_written_again(scenario):
    s = scenario(lookback="1h", columns={"title": "{from: title, update: false}",
                                         "check_status": "{from: jg, map: check_status, update: false}",
                                         "amount": "{from: amount, update: false}",
                                         "update_time": "{from: update_time, update: false}"})
    s.insert(recent_rows(s, range(1, 4)))
    s.run()
    before = stamps(s)
    time.sleep(1.1)
    s.update([1], title="改过的")
    result = s.run().results[0]
    assert (result.counts.inserted, result.counts.updated, result.counts.unchanged) == (0, 0, 3)
    assert stamps(s) == before


def test_refused_rows_are_rejected_and_the_rest_counted_right(scenario):
    s = scenario(lookback="1h", batch_size=2000)
    s.insert(recent_rows(s, range(1, 11)))
    s.run()
    s.refuse_insert_of(12)
    s.insert(recent_rows(s, [11, 12]))
    s.update([3], title="改过的")
    result = s.run().results[0]
    # the batch is split until row 12 is found; the parts written are counted once
    assert counts(result) == {"read": 12, "inserted": 1, "updated": 1, "unchanged": 9, "rejected": 1, "written": 2}
    s.allow_again()
    retried = s.run().results[0]
    # the reject retried by key is inserted; the window's rows are all there already
    assert retried.counts.rejects_resolved == 1
    assert (retried.counts.inserted, retried.counts.updated, retried.counts.unchanged) == (1, 0, 12)
    assert s.actual() == s.expected()


def test_old_run_records_without_the_counts_read_back_as_unknown(tmp_path, make_database):
    s = Scenario(tmp_path, make_database("sqlite"), make_database("sqlite"), lookback="1h")
    try:
        s.insert(recent_rows(s, range(1, 4)))
        s.run()
        from syncd.state import runs

        with sa.create_engine(f"sqlite:///{tmp_path / 'state.db'}").begin() as conn:
            conn.execute(sa.update(runs).values(inserted=None, updated=None, unchanged=None))
        [record] = commands.history_records(s.project())
        assert (record["inserted"], record["updated"], record["unchanged"], record["written"]) == (None, None, None, 3)
    finally:
        s.dispose()


def test_mariadb_counts_without_the_batch_writer(tmp_path, make_database):
    """With NO_BACKSLASH_ESCAPES PyMySQL's own executemany writes (see dialects/mysql.py): the
    batch's keys are counted first, then the affected rows tell updated from unchanged."""
    from pymysql.constants.SERVER_STATUS import SERVER_STATUS_NO_BACKSLASH_ESCAPES
    from sqlalchemy.engine import make_url

    url = make_url(make_database("mariadb")).update_query_dict(
        {"init_command": "SET sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')"})
    s = Scenario(tmp_path, make_database("sqlite"), url.render_as_string(hide_password=False), lookback="1h")
    try:
        with s.target.connect() as conn:
            assert conn.connection.dbapi_connection.server_status & SERVER_STATUS_NO_BACKSLASH_ESCAPES
        s.insert(recent_rows(s, range(1, 11), title="a\\b 'quoted'"))
        first = s.run().results[0]
        assert (first.counts.inserted, first.counts.updated) == (10, 0)
        s.update([2], title="changed")
        s.insert(recent_rows(s, [11]))
        second = s.run().results[0]
        assert counts(second) == {"read": 11, "inserted": 1, "updated": 1, "unchanged": 9, "rejected": 0,
                                  "written": 2}
        assert s.actual() == s.expected()
    finally:
        s.dispose()


@pytest.mark.parametrize("found_rows", [True, False], ids=["FOUND_ROWS", "no-FOUND_ROWS"])
@pytest.mark.parametrize("escapes", [True, False], ids=["batch-writer", "executemany"])
def test_mariadb_counts_with_a_raw_connection_with_or_without_found_rows(make_database, found_rows, escapes):
    """A PyMySQL connection of our own: without CLIENT_FOUND_ROWS the server counts an unchanged
    row 0 and its "Duplicates" only the rows updated; the counts must come out the same."""
    import pymysql
    from pymysql.constants import CLIENT
    from sqlalchemy.engine import make_url

    from syncd.dialects import get

    url = make_url(make_database("mariadb"))
    conn = pymysql.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                           database=url.database, client_flag=CLIENT.FOUND_ROWS if found_rows else 0,
                           init_command=None if escapes else "SET sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')")
    try:
        cur = conn.cursor()
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, v INT, s INT)")
        d = get("mysql")
        up = d.upsert(sa.create_engine("mysql+pymysql://").dialect, "t", None, ["id", "v", "s"], ["id"], ["v", "s"],
                      ["v"], ["int", "int", "int"])
        kinds = ["int"] * 3
        assert d.write(cur, up, [(1, 1, 1), (2, 2, 1), (3, 3, 1)], kinds) == Written(3, 0, 0)
        # 1 unchanged (its stamp s differs only), 2 updated, 4 new
        assert d.write(cur, up, [(1, 1, 2), (2, 20, 2), (4, 4, 2)], kinds) == Written(1, 1, 1)
        # one row per statement: each kind alone
        assert d.write(cur, up, [(5, 5, 5)], kinds) == Written(1, 0, 0)
        assert d.write(cur, up, [(5, 50, 5)], kinds) == Written(0, 1, 0)
        assert d.write(cur, up, [(5, 50, 6)], kinds) == Written(0, 0, 1)
        conn.commit()
        cur.execute("SELECT id, v, s FROM t ORDER BY id")
        assert cur.fetchall() == ((1, 1, 1), (2, 20, 2), (3, 3, 1), (4, 4, 2), (5, 50, 5))
    finally:
        conn.close()


def test_postgresql_writes_a_change_its_equality_would_miss(make_database):
    """numeric without a scale keeps 1.0 and 1.00 apart, citext and a nondeterministic collation
    keep the case: a change of those is a change (compared by text), counted and written."""
    from syncd.dialects import get
    from syncd.engines import make_engine
    from syncd.target import Target

    engine = make_engine(sa.make_url(make_database("postgresql")))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS citext")
            conn.exec_driver_sql("CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', "
                                 "deterministic = false)")
            conn.exec_driver_sql("CREATE TABLE t (id int PRIMARY KEY, n numeric, p numeric(6, 2), c citext, "
                                 "v varchar(20) COLLATE ci, stamp text)")
        d = get("postgresql")
        cols, kinds = ["id", "n", "p", "c", "v", "stamp"], ["int", "decimal", "decimal", "text", "str", "text"]
        tgt = Target(engine, d)
        up = d.upsert(engine.dialect, "t", None, cols, ["id"], cols[1:], cols[1:5], kinds)
        with engine.connect() as conn:
            up = d.prepare(conn, up)

        def write(rows):
            return tgt.write(up, rows, kinds)

        def stored():
            with engine.connect() as conn:
                return [tuple(str(v) for v in row) for row in conn.exec_driver_sql(
                    "SELECT id, n, p, c, v FROM t ORDER BY id")]
        one = Decimal("1.0")
        assert write([(i, one, Decimal("1.5"), "Abc", "Xy", "s1") for i in (1, 2, 3, 4)]) == Written(4, 0, 0)
        assert write([(1, Decimal("1.00"), Decimal("1.5"), "Abc", "Xy", "s2"),     # numeric: 1.0 -> 1.00
                      (2, one, Decimal("1.50"), "Abc", "Xy", "s2"),                # numeric(6, 2): same value
                      (3, one, Decimal("1.5"), "abc", "Xy", "s2"),                 # citext: case only
                      (4, one, Decimal("1.5"), "Abc", "XY", "s2")]) == Written(0, 3, 1)
        assert stored() == [("1", "1.00", "1.50", "Abc", "Xy"), ("2", "1.0", "1.50", "Abc", "Xy"),
                            ("3", "1.0", "1.50", "abc", "Xy"), ("4", "1.0", "1.50", "Abc", "XY")]
        # the same values again: unchanged
        assert write([(3, one, Decimal("1.5"), "abc", "Xy", "s3")]) == Written(0, 0, 1)
    finally:
        engine.dispose()


def test_sqlite_counts_existing_keys_inside_the_upserts_transaction(tmp_path):
    """Between the count of existing keys and the upsert another writer must not get in: on SQLite
    the count runs after BEGIN IMMEDIATE, holding the write lock."""
    import sqlite3

    from syncd.dialects.sqlite import SQLiteDialect
    from syncd.engines import make_engine
    from syncd.target import Target

    path = tmp_path / "fep.db"
    engine = make_engine(sa.make_url(f"sqlite:///{path}"))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1, 1)")
    seen = []

    class Watching(SQLiteDialect):
        def count_existing(self, cursor, upsert, rows, kinds):
            found = super().count_existing(cursor, upsert, rows, kinds)
            other = sqlite3.connect(path, timeout=0)
            try:
                other.execute("INSERT INTO t VALUES (2, 2)")       # what a second writer would do here
                other.commit()
                seen.append("got in")
            except sqlite3.OperationalError as exc:
                seen.append(str(exc))
            finally:
                other.close()
            return found

    d = Watching()
    up = d.upsert(engine.dialect, "t", None, ["id", "v"], ["id"], ["v"], None, ["int", "int"])
    assert Target(engine, d).write(up, [(1, 10), (2, 20)], ["int", "int"]) == Written(1, 1, 0)
    assert seen == ["database is locked"]
    with engine.connect() as conn:
        assert list(conn.exec_driver_sql("SELECT id, v FROM t ORDER BY id")) == [(1, 10), (2, 20)]
    engine.dispose()


LAYOUTS = {
    # (the table, whether its inserted rows are counted by row id)
    "text-key": ("CREATE TABLE t (id TEXT PRIMARY KEY, v INTEGER, s INTEGER)", True),
    "int-key": ("CREATE TABLE t (id INT NOT NULL PRIMARY KEY, v INTEGER, s INTEGER)", True),
    "two-column-key": ("CREATE TABLE t (id TEXT, v INTEGER, s INTEGER, PRIMARY KEY (id))", True),
    "autoincrement": ("CREATE TABLE t (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE, v INTEGER, "
                      "s INTEGER)", False),
    "rowid-is-the-key": ("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER, s INTEGER)", False),
    "without-rowid": ("CREATE TABLE t (id TEXT PRIMARY KEY, v INTEGER, s INTEGER) WITHOUT ROWID", False),
    "a-column-named-rowid": ('CREATE TABLE t (id TEXT PRIMARY KEY, v INTEGER, s INTEGER, "rowid" INTEGER)', True),
    "every-rowid-name-taken": ('CREATE TABLE t (id TEXT PRIMARY KEY, v INTEGER, s INTEGER, "rowid" INTEGER, '
                               '"_ROWID_" INTEGER, oid INTEGER)', False),
    # a trigger adding a row of its own to the table for each row inserted
    "a-generated-column-named-rowid": ("CREATE TABLE t (id TEXT PRIMARY KEY, v INTEGER, s INTEGER, "
                                       "rowid INTEGER GENERATED ALWAYS AS (v) VIRTUAL)", True),
    # a constraint that deletes the row it meets and inserts anew
    "a-replace-constraint": ("CREATE TABLE t (id TEXT PRIMARY KEY, v INTEGER, s INTEGER, "
                             "code TEXT UNIQUE ON CONFLICT REPLACE)", False),
    "a-trigger": ("CREATE TABLE t (id TEXT PRIMARY KEY, v INTEGER, s INTEGER);; "
                  "CREATE TRIGGER t_x AFTER INSERT ON t WHEN new.id NOT LIKE 'x%' "
                  "BEGIN INSERT OR IGNORE INTO t VALUES ('x' || new.id, 0, 0); END", False),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_sqlite_counts_a_batchs_inserted_rows_by_row_id_only_where_that_is_sure(tmp_path, layout):
    """A SQLite target counts the rows a batch inserted by the row ids above the largest before it,
    where a new row's id is sure to be above it; elsewhere by the batch's keys. Either way the
    counts are true: after gaps, after the top row was deleted, and when a batch reaches the
    largest row id there is (SQLite gives the rows after it random ids)."""
    from syncd.dialects.sqlite import SQLiteDialect
    from syncd.engines import make_engine
    from syncd.target import Target

    table, by_rowid = LAYOUTS[layout]
    engine = make_engine(sa.make_url(f"sqlite:///{tmp_path / 'fep.db'}"))
    try:
        with engine.begin() as conn:
            for statement in table.split(";; "):
                conn.exec_driver_sql(statement)
        d = SQLiteDialect()
        kinds = ["str", "int", "int"]
        up = d.upsert(engine.dialect, "t", None, ["id", "v", "s"], ["id"], ["v", "s"], ["v"], kinds)
        with engine.connect() as conn:
            up = d.prepare(conn, up)
        assert (up.rowids is not None) == by_rowid
        target = Target(engine, d)

        # an INTEGER PRIMARY KEY holds whole numbers: a, b, c ... as 1, 2, 3 ...
        key = (lambda k: ord(k) - ord("a") + 1) if layout == "rowid-is-the-key" else (lambda k: k)

        def write(*rows):
            return target.write(up, [(key(k), *rest) for k, *rest in rows], kinds)

        assert write(("a", 1, 1), ("b", 2, 1), ("c", 3, 1)) == Written(3, 0, 0)
        # a unchanged (its stamp s only), b updated, d new
        assert write(("a", 1, 2), ("b", 20, 2), ("d", 4, 2)) == Written(1, 1, 1)
        with engine.begin() as conn:                 # a gap, and the top row gone
            conn.exec_driver_sql("DELETE FROM t WHERE id IN (?, ?)", (key("b"), key("d")))
        assert write(("d", 4, 3), ("c", 30, 3), ("e", 5, 3)) == Written(2, 1, 0)
        assert write(("a", 1, 4)) == Written(0, 0, 1)
        expected = {"a": 1, "c": 30, "d": 4, "e": 5}
        # (AUTOINCREMENT refuses new rows once the largest row id is used: SQLITE_FULL)
        if layout not in ("without-rowid", "rowid-is-the-key", "every-rowid-name-taken", "autoincrement"):
            with engine.begin() as conn:             # next to the largest row id: the batch's first new
                conn.exec_driver_sql(                # row takes it, and the next one a random free id
                    f"UPDATE t SET {'_rowid_' if 'named' in layout else 'rowid'} = 9223372036854775806 WHERE id = ?",
                    (key("e"),))
            assert write(("f", 6, 5), ("a", 10, 5), ("g", 7, 5), ("e", 5, 5)) == Written(2, 1, 1)
            expected.update(a=10, f=6, g=7)
        if layout == "a-trigger":
            expected.update({"x" + k: 0 for k in "abcdefg" if k in expected or k in "bd"})
        with engine.connect() as conn:
            assert dict(conn.exec_driver_sql("SELECT id, v FROM t").all()) == {key(k): v for k, v in expected.items()}
    finally:
        engine.dispose()


@pytest.mark.parametrize("layout", ["text-key", "a-column-named-rowid", "a-generated-column-named-rowid"])
def test_sqlite_counts_by_row_id_in_a_table_emptied_and_below_row_id_zero(tmp_path, layout):
    """The largest row id after the upsert less the one before is the count of new rows: in a
    table emptied (new rows start at 1 again) and where the largest row id is below zero."""
    from syncd.dialects.sqlite import SQLiteDialect
    from syncd.engines import make_engine
    from syncd.target import Target

    table, by_rowid = LAYOUTS[layout]
    assert by_rowid
    rowid = "_rowid_" if "named" in layout else "rowid"
    engine = make_engine(sa.make_url(f"sqlite:///{tmp_path / 'fep.db'}"))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(table)
        d = SQLiteDialect()
        kinds = ["str", "int", "int"]
        up = d.upsert(engine.dialect, "t", None, ["id", "v", "s"], ["id"], ["v", "s"], ["v"], kinds)
        with engine.connect() as conn:
            up = d.prepare(conn, up)
        assert up.rowids is not None
        target = Target(engine, d)
        assert target.write(up, [("a", 1, 1), ("b", 2, 1)], kinds) == Written(2, 0, 0)
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM t")
        assert target.write(up, [("c", 3, 2), ("d", 4, 2), ("e", 5, 2)], kinds) == Written(3, 0, 0)
        with engine.begin() as conn:                 # the only rows left hold ids below zero
            conn.exec_driver_sql("DELETE FROM t WHERE id <> 'c' AND id <> 'd'")
            conn.exec_driver_sql(f"UPDATE t SET {rowid} = -7 WHERE id = 'c'")
            conn.exec_driver_sql(f"UPDATE t SET {rowid} = -3 WHERE id = 'd'")
        assert target.write(up, [("f", 6, 3), ("c", 30, 3), ("d", 4, 3), ("g", 7, 3)], kinds) == Written(2, 1, 1)
        with engine.connect() as conn:
            assert dict(conn.exec_driver_sql("SELECT id, v FROM t").all()) == {"c": 30, "d": 4, "f": 6, "g": 7}
            assert conn.exec_driver_sql(f"SELECT {rowid} FROM t WHERE id IN ('f', 'g') ORDER BY 1").scalars().all() \
                == [-2, -1]
    finally:
        engine.dispose()


def test_sqlite_does_not_count_a_views_rows_by_row_id(tmp_path):
    """A view has no row ids of its own (max(rowid) is NULL there): its writes, if its triggers
    take them, are counted by their keys."""
    from syncd.dialects.sqlite import SQLiteDialect
    from syncd.engines import make_engine

    engine = make_engine(sa.make_url(f"sqlite:///{tmp_path / 'fep.db'}"))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE base (id TEXT PRIMARY KEY, v INTEGER)")
            conn.exec_driver_sql("CREATE VIEW t AS SELECT id, v FROM base")
        d = SQLiteDialect()
        up = d.upsert(engine.dialect, "t", None, ["id", "v"], ["id"], ["v"], None, ["str", "int"])
        with engine.connect() as conn:
            assert d.prepare(conn, up).rowids is None
            assert d.prepare(conn, replace(up, table="base")).rowids is not None
    finally:
        engine.dispose()
