"""Dialect statements compiled against SQLAlchemy's dialects, no server (Oracle has none here)."""

from __future__ import annotations

import re

import psycopg
import pymysql
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, oracle, postgresql, sqlite

from syncd import dialects
from syncd.dialects.base import Written
from syncd.errors import FatalSyncError

COLUMNS = ["id", "name", "level", "remark"]


def _holds(condition: str, old: dict, new: dict, functions: dict | None = None) -> bool:
    """Evaluate a MERGE's WHERE ``condition`` on SQLite: ``t`` the target's row, ``s`` the values sent.
    The condition is plain SQL (NULL logic alike in every database)."""
    engine = sa.create_engine("sqlite://")
    with engine.connect() as conn:
        for name, fn in (functions or {}).items():
            conn.connection.dbapi_connection.create_function(name, 2, fn)
        t = ", ".join(f':t_{c} AS "{c}"' for c in old)
        src = ", ".join(f':s_{c} AS "{c}"' for c in new)
        found = conn.execute(sa.text(f"SELECT CASE WHEN {condition} THEN 1 ELSE 0 END FROM (SELECT {t}) t, "
                                     f"(SELECT {src}) s"),
                             {**{f"t_{c}": v for c, v in old.items()}, **{f"s_{c}": v for c, v in new.items()}})
        return bool(found.scalar())


def _merge_parts(sql: str) -> tuple[str, str, str, str]:
    """(USING ... ON, SET list, WHERE condition, WHEN NOT MATCHED part) of a MERGE."""
    head, rest = sql.split(" WHEN MATCHED THEN UPDATE SET ")
    matched, insert = rest.split(" WHEN NOT MATCHED THEN ")
    sets, where = matched.split(" WHERE ", 1)
    return head, sets, where, insert


def test_oracle_merge_uses_numbered_binds_and_updates_only_changed_rows():
    sql = dialects.get("oracle").upsert_sql(oracle.dialect(), "dp_check_record", "fep", COLUMNS, ["id"],
                                            ["name", "level", "remark"])
    head, sets, where, insert = _merge_parts(sql)
    assert head.startswith("MERGE INTO fep.dp_check_record t USING (SELECT ") and head.endswith(
        "FROM dual) s ON (t.id = s.id)")
    # python-oracledb binds by position: :1 .. :n, in the order of the columns; LEVEL is reserved
    assert re.findall(r":(\d+) AS (\S+?)[,) ]", head) == [("1", "id"), ("2", "name"), ("3", '"level"'),
                                                          ("4", "remark")]
    assert sets.split(", ") == ["t.name = s.name", 't."level" = s."level"', "t.remark = s.remark"]   # not the key
    assert insert == 'INSERT (id, name, "level", remark) VALUES (s.id, s.name, s."level", s.remark)'
    row = {"name": "a", "level": 1, "remark": None}
    assert not _holds(where, row, dict(row))                          # the same values, NULL = NULL
    for column, value in [("name", "b"), ("level", 2), ("remark", "x"), ("name", None)]:
        assert _holds(where, row, {**row, column: value}), column     # any one differs, NULL-safe


def test_oracle_merge_leaves_stamp_columns_out_of_the_comparison_and_compares_lobs_with_dbms_lob():
    # sync_time (value: now) is set with the others, but only a difference in name or body
    # (a CLOB) makes a matched row updated; a CLOB cannot be compared with <>
    upsert = dialects.get("oracle").upsert(oracle.dialect(), "t", None, ["id", "name", "body", "sync_time"], ["id"],
                                           ["name", "body", "sync_time"], ["name", "body"],
                                           ["int", "str", "text", "datetime"])
    _, sets, where, _ = _merge_parts(upsert.sql)
    assert sets.split(", ") == ["t.name = s.name", "t.body = s.body", "t.sync_time = s.sync_time"]
    assert "sync_time" not in where and "t.body <>" not in where and "DBMS_LOB.COMPARE(t.body, s.body)" in where
    assert upsert.compare == ("name", "body")
    # evaluated with a stand-in for DBMS_LOB.COMPARE (0 when equal, NULL when either is NULL)
    lob = {"lob_compare": lambda a, b: None if a is None or b is None else int(a != b)}
    condition = where.replace("DBMS_LOB.COMPARE(", "lob_compare(")
    row = {"name": "a", "body": "long text", "sync_time": "10:00"}
    assert not _holds(condition, row, {**row, "sync_time": "11:00"}, lob)
    assert _holds(condition, row, {**row, "body": "other text"}, lob)
    assert _holds(condition, row, {**row, "body": None}, lob)
    assert not _holds(condition, {**row, "body": None}, {**row, "body": None}, lob)


@pytest.mark.parametrize(("old", "new", "changed"), [
    (None, None, 0), (None, 1, 1), (1, None, 1), (1, 1, 0), (1, 2, 1), ("a", "a", 0), ("a", "", 1)])
def test_the_oracle_comparison_is_null_safe(old, new, changed):
    # The condition is plain SQL; its NULL logic is the same in any database: evaluated on SQLite.
    condition = dialects.get("oracle").changed_sql("o", "n", "str")
    engine = sa.create_engine("sqlite://")
    with engine.connect() as conn:
        found = conn.execute(sa.text(f"SELECT CASE WHEN {condition} THEN 1 ELSE 0 END FROM (SELECT :o AS o, :n AS n)"),
                             {"o": old, "n": new}).scalar()
    assert found == changed


def test_oracle_merge_without_update_columns_only_inserts():
    sql = dialects.get("oracle").upsert_sql(oracle.dialect(), "t", None, ["id"], ["id"], [])
    assert "WHEN MATCHED" not in sql and sql.endswith("WHEN NOT MATCHED THEN INSERT (id) VALUES (s.id)")


def test_an_upsert_with_only_stamp_columns_to_update_only_inserts():
    # nothing to compare: an existing row is never changed, so it is never written
    for name, dialect in [("oracle", oracle.dialect()), ("mysql", mysql.dialect()), ("sqlite", sqlite.dialect())]:
        upsert = dialects.get(name).upsert(dialect, "t", None, ["id", "sync_time"], ["id"], ["sync_time"], [])
        assert upsert.update == () and "sync_time =" not in upsert.sql and "sync_time\" =" not in upsert.sql


def test_oracle_binds_text_and_binary_as_lobs():
    import oracledb

    calls = []

    class Cursor:
        def setinputsizes(self, *sizes):
            calls.append(sizes)

        def executemany(self, sql, rows):
            calls.append(len(rows))

    dialects.get("oracle").executemany(Cursor(), "MERGE ...", [("a", "x" * 5000, b"\x89PNG")] * 3,
                                       ["str", "text", "bytes"])
    assert calls == [(None, oracledb.DB_TYPE_CLOB, oracledb.DB_TYPE_BLOB), 3]


def test_mysql_upsert_is_the_shape_pymysql_batches_into_multirow_inserts():
    sql = dialects.get("mysql").upsert_sql(mysql.dialect(), "dp_check_record", None, COLUMNS, ["id"],
                                           ["name", "level", "remark"])
    assert pymysql.cursors.RE_INSERT_VALUES.match(sql)
    sql = dialects.get("mysql").upsert_sql(mysql.dialect(), "t", None, ["id", "name", "n", "sync_time"], ["id"],
                                           ["name", "sync_time", "n"], ["name", "n"], ["int", "str", "int", "datetime"])
    assert pymysql.cursors.RE_INSERT_VALUES.match(sql)


@pytest.fixture
def mariadb(make_database):
    from syncd.engines import make_engine

    engine = make_engine(sa.make_url(make_database("mariadb")))
    yield engine
    engine.dispose()


def _upsert_on(engine, rows, *args, kinds):
    """Write ``rows`` with the MySQL upsert built from ``args`` on a real server; what it did, and the table."""
    from syncd.target import Target

    d = dialects.get("mysql")
    upsert = d.upsert(engine.dialect, *args, kinds)
    written = Target(engine, d).write(upsert, rows, kinds)
    with engine.connect() as conn:
        return written, [tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {args[0]} ORDER BY id")]


def test_mysql_upsert_on_a_server_writes_only_changed_rows_and_stamps_only_them(mariadb):
    # The stamp (value: now) is set only when a compared column differs; text compares exactly
    # (BINARY: case and trailing spaces count, whatever the collation); update: false (level) never.
    with mariadb.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20), `order` INT, level INT, "
                             "sync_time VARCHAR(20)) COLLATE utf8mb4_general_ci")
    args = ("t", None, ["id", "name", "order", "level", "sync_time"], ["id"], ["name", "sync_time", "order"],
            ["name", "order"])
    kinds = ["int", "str", "int", "int", "str"]
    written, rows = _upsert_on(mariadb, [(1, "a", 1, 1, "s1"), (2, "b", 2, 1, "s1"), (3, "c", 3, 1, "s1"),
                                         (4, "d", 4, 1, "s1")], *args, kinds=kinds)
    assert written == Written(4, 0, 0)
    written, rows = _upsert_on(mariadb, [(1, "a", 1, 9, "s2"),          # only the stamp and level: unchanged
                                         (2, "B", 2, 9, "s2"),          # case only: changed
                                         (3, "c ", 3, 9, "s2"),         # a trailing space: changed
                                         (4, "d", 40, 9, "s2"),         # a reserved-word column: changed
                                         (5, "e", 5, 9, "s2")], *args, kinds=kinds)
    assert written == Written(1, 3, 1)
    assert rows == [(1, "a", 1, 1, "s1"), (2, "B", 2, 1, "s2"), (3, "c ", 3, 1, "s2"), (4, "d", 40, 1, "s2"),
                    (5, "e", 5, 9, "s2")]
    # nothing to compare (only stamps to update): the upsert only inserts, an existing row stays
    only_stamps = ("t", None, ["id", "name", "order", "level", "sync_time"], ["id"], ["sync_time"], [])
    written, after = _upsert_on(mariadb, [(1, "z", 0, 0, "s3"), (6, "f", 6, 6, "s3")], *only_stamps, kinds=kinds)
    assert written == Written(1, 0, 1)
    assert after == [*rows, (6, "f", 6, 6, "s3")]


def test_on_conflict_upsert_writes_only_changed_rows():
    sql = dialects.get("sqlite").upsert_sql(sqlite.dialect(), "t", None, ["id", "name", "n"], ["id"], ["name", "n"])
    assert sql == ("INSERT INTO t AS t (id, name, n) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                   "name = excluded.name, n = excluded.n WHERE t.name IS NOT excluded.name OR t.n IS NOT excluded.n")
    sql = dialects.get("postgresql").upsert_sql(postgresql.psycopg.dialect(), "t", None, ["id", "name"], ["id"],
                                                ["name"])
    assert sql == ("INSERT INTO t AS t (id, name) VALUES (%s, %s) ON CONFLICT (id) DO UPDATE SET "
                   "name = excluded.name WHERE t.name IS DISTINCT FROM excluded.name")


def test_utf8mb3_cannot_hold_four_byte_characters():
    d = dialects.get("mysql")
    assert d.unsupported_text("𠀀 and 😀", "utf8mb3")
    assert d.unsupported_text("𠀀 and 😀", "utf8mb4") is None
    assert d.unsupported_text("普通中文", "utf8") is None


@pytest.mark.parametrize(("name", "exc", "transient"), [
    ("mysql", pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query"), True),
    ("mysql", pymysql.err.OperationalError(1213, "Deadlock found"), True),
    ("mysql", pymysql.err.IntegrityError(1062, "Duplicate entry"), False),
    ("sqlite", __import__("sqlite3").OperationalError("database is locked"), True),
    ("sqlite", __import__("sqlite3").OperationalError("no such table: x"), False),
])
def test_transient_errors_are_told_apart(name, exc, transient):
    wrapped = sa.exc.OperationalError("SELECT 1", {}, exc)
    assert dialects.get(name).is_transient(wrapped) is transient


def test_an_unknown_database_kind_is_refused_with_the_supported_ones():
    with pytest.raises(FatalSyncError,
                       match=r"'db2' \(supported: sqlite, mysql, mariadb, postgresql, oracle, dm, kingbase\)"):
        dialects.get("db2")


@pytest.mark.parametrize(("url", "words"), [
    ("nosuchdb://u@h/db", "does not support the database kind 'nosuchdb'"),
    ("mysql+nosuchdriver://u@h/db", "the driver of 'mysql+nosuchdriver' cannot be loaded"),
])
def test_a_url_syncd_cannot_use_is_named_before_connecting(url, words):
    assert words in dialects.url_problem(sa.make_url(url))


def test_a_usable_url_has_no_problem():
    assert dialects.url_problem(sa.make_url("sqlite:///x.db")) is None


def test_oracle_bounds_a_lock_wait_by_the_call_timeout_never_below_a_batch_on_a_thin_link():
    """Oracle has no session lock timeout: the driver's call timeout bounds every round trip, a whole
    batch's MERGE too, so lock_timeout sets it but never below ten minutes."""
    from datetime import timedelta
    from types import SimpleNamespace

    oracle = dialects.get("oracle")
    connection = SimpleNamespace(call_timeout=0)
    oracle.bound_lock_waits(connection, timedelta(seconds=60))
    assert connection.call_timeout == 600_000
    oracle.bound_lock_waits(connection, timedelta(minutes=25))
    assert connection.call_timeout == 1_500_000


def test_a_full_copy_from_sqlite_reads_in_key_order_without_the_cursor_index(tmp_path):
    """SQLite answers ``cursor <= ? ORDER BY key`` through the cursor's index and a sort of every
    row; the snapshot read writes ``+cursor`` so that it scans the table in key order, with the
    same rows."""
    import sqlite3
    from datetime import datetime, timedelta
    from pathlib import Path

    from syncd.mapping import Mapping_, TableMapping
    from syncd.plan import read_window
    from syncd.watermark import Window

    path = tmp_path / "s.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE s (id BIGINT PRIMARY KEY, title TEXT, ts DATETIME)")
        db.execute("CREATE INDEX ix_s_ts ON s (ts)")
        db.executemany("INSERT INTO s VALUES (?, ?, ?)", [(i, f"t{i}", f"2026-11-{1 + i % 28:02d} 10:00:00")
                                                           for i in range(2000)])
        db.execute("ANALYZE")
    spec = Mapping_.model_validate({"name": "m", "source": {"table": "s", "key": ["id"], "cursor": "ts"},
                                    "target": {"table": "t", "key": ["id"]},
                                    "columns": {"id": {"from": "id"}, "title": {"from": "title"}}})
    mapping = TableMapping(spec=spec, file=Path("m.yaml"), batch_size=10, lookback=0, lag=timedelta(0),
                           null_cursor="include", schedule=None)
    window = Window(snapshot=True, until=datetime(2026, 11, 20))
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            def explained(statement):
                compiled = statement.compile(dialect=engine.dialect)
                return " ".join(str(r[-1]) for r in conn.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {compiled}", tuple(compiled.params.values())))

            plain, tuned = read_window(mapping, window), read_window(mapping, window, None, dialects.get("sqlite"))
            assert "ix_s_ts" in explained(plain) and "TEMP B-TREE" in explained(plain)
            assert "ix_s_ts" not in explained(tuned) and "TEMP B-TREE" not in explained(tuned)
            rows = conn.execute(tuned).all()
            assert rows == conn.execute(plain).all() and len(rows) > 1000
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", ["oracle", "dm"])
def test_a_char_column_is_compared_without_its_padding(name):
    # A CHAR(n) column holds 'ab  ' for 'ab'; the value sent is a VARCHAR2 bind: compared as
    # they are, every row would count as changed. RTRIM on both sides, for fixed-length columns only.
    d = dialects.get(name)
    upsert = d.upsert(d.sqlalchemy_dialect() if name == "dm" else oracle.dialect(), "t", None,
                      ["id", "code", "name"], ["id"], ["code", "name"], None, ["int", "str", "str"], ["code"])
    where = upsert.sql.split(" WHERE ")[1].split(" WHEN NOT MATCHED ")[0]
    assert where == (d.changed_sql("RTRIM(t.code)", "RTRIM(s.code)", "str") + " OR " +
                     d.changed_sql("t.name", "s.name", "str"))
    condition = d.changed_sql("o", "n", "str", fixed=True)
    engine = sa.create_engine("sqlite://")
    with engine.connect() as conn:
        for old, new, changed in [("ab  ", "ab", 0), ("ab  ", "ab ", 0), ("ab  ", "ac", 1), (" ab", "ab", 1),
                                  (None, "ab", 1), ("ab  ", None, 1), (None, None, 0)]:
            found = conn.execute(sa.text(f"SELECT CASE WHEN {condition} THEN 1 ELSE 0 END "
                                         "FROM (SELECT :o AS o, :n AS n)"), {"o": old, "n": new}).scalar()
            assert found == changed, (old, new)


def test_fixed_length_columns_as_reflected():
    from syncd.dialects.base import is_fixed_length

    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (a CHAR(4), b NCHAR(4), c VARCHAR(4), d NVARCHAR(4), e TEXT, f INT)")
    types = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns("t")}
    assert [n for n, t in types.items() if is_fixed_length(t)] == ["a", "b"]
    assert is_fixed_length(oracle.NCHAR(4)) and is_fixed_length(postgresql.CHAR(4))
    assert not is_fixed_length(oracle.VARCHAR2(4)) and not is_fixed_length(oracle.NVARCHAR2(4))


def test_existing_keys_are_counted_in_large_chunks_within_oracles_in_list_limit():
    d = dialects.get("oracle")
    assert d.existing_chunk(1) == 10_000 and d.existing_chunk(2) == 5_000
    one = d.upsert(oracle.dialect(), "t", None, ["id", "v"], ["id"], ["v"]).existing_sql
    assert one is not None
    sql = one(2500)
    lists = sql.split(" WHERE ")[1]
    assert lists.startswith("(id IN (:1, ") and lists.count("id IN (") == 3 and lists.count(" OR ") == 2
    assert all(part.count(":") <= 1000 for part in lists.split(" OR "))
    assert ":2500)" in lists and ":2501" not in lists
    two = d.upsert(oracle.dialect(), "t", None, ["a", "b", "v"], ["a", "b"], ["v"]).existing_sql
    assert two is not None
    assert two(2).endswith("WHERE (a, b) IN ((:1, :2), (:3, :4))")
    assert two(1500).split(" WHERE ")[1].count("(a, b) IN (") == 2
    # elsewhere: within SQLite's 999 host parameters, one list
    s = dialects.get("sqlite")
    assert s.existing_chunk(1) == 500 and s.existing_chunk(2) == 250
    plain = s.upsert(sqlite.dialect(), "t", None, ["id", "v"], ["id"], ["v"]).existing_sql
    assert plain is not None and plain(3).endswith("WHERE id IN (?, ?, ?)")


@pytest.mark.parametrize("key", [["id"], ["id", "part"]])
def test_the_existing_key_lists_count_right_on_a_database(key):
    # the OR-ed lists and the row values, run: SQLite takes both shapes as Oracle writes them
    d = dialects.get("oracle")
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INT, part INT, v INT, PRIMARY KEY (id, part))")
        conn.exec_driver_sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
                             "INSERT INTO t SELECT i, 0, i FROM n")
    sql = d.upsert(oracle.dialect(), "t", None, [*key, "v"], key, ["v"]).existing_sql
    assert sql is not None
    keys = [(i, 0)[:len(key)] for i in range(2001, 4501)]      # 1000 of them exist
    text = sql(len(keys))
    for n in range(len(keys) * len(key), 0, -1):
        text = text.replace(f":{n}", f":p{n}")
    with engine.connect() as conn:
        found = conn.execute(sa.text(text), {f"p{i + 1}": v for i, v in enumerate(x for k in keys for x in k)}).scalar()
    assert found == 1000


def test_the_sqlite_adapter_converts_each_value_as_sqlalchemy_stores_it_also_when_one_object_repeats():
    """The adapter keeps each column's last conversion for a value that is the same object again (a
    ``value: now`` column); a different object, an equal one, NULL between them, all convert anew."""
    from datetime import date, datetime, time
    from decimal import Decimal

    from syncd.dialects.sqlite import _adapter

    now = datetime(2026, 11, 29, 8, 30, 0, 5)
    kinds = ("str", "datetime", "decimal", "date", "time", "int")
    rows = [("a", now, Decimal("1.50"), date(2026, 1, 2), time(8, 0), 1),
            ("b", now, Decimal("1.50"), None, time(8, 0, 0, 7), 2),
            ("c", None, Decimal("1.5"), date(2026, 1, 2), None, None),
            ("d", datetime(2026, 11, 29, 8, 30, 0, 5), None, date(2026, 1, 3), time(9, 1), 4),
            ("e", now, Decimal("-0"), date(2026, 1, 3), time(9, 1), 5)]
    adapt = _adapter(kinds)
    assert adapt is not None
    assert list(adapt(rows, {})) == [
        ("a", "2026-11-29 08:30:00.000005", "1.50", "2026-01-02", "08:00:00.000000", 1),
        ("b", "2026-11-29 08:30:00.000005", "1.50", None, "08:00:00.000007", 2),
        ("c", None, "1.5", "2026-01-02", None, None),
        ("d", "2026-11-29 08:30:00.000005", None, "2026-01-03", "09:01:00.000000", 4),
        ("e", "2026-11-29 08:30:00.000005", "-0", "2026-01-03", "09:01:00.000000", 5)]
    assert _adapter(("str", "int")) is None
    # a datetime whose text the mapper kept is sent as that text (the mapper keeps only the one
    # text of its value; a different one here shows that it is the text that is sent)
    kept = {datetime(2026, 11, 29, 8, 30, 0, 5): "2026-11-29 08:30:00.000005 (kept)"}
    assert [r[1] for r in adapt(rows, kept)] == ["2026-11-29 08:30:00.000005 (kept)"] * 2 + [None] + \
        ["2026-11-29 08:30:00.000005 (kept)"] * 2


@pytest.mark.parametrize(("name", "exc", "row", "transient"), [
    # a row the database refused: its message quotes the row's values or a trigger's text
    ("mysql", pymysql.err.OperationalError(1644, "pump 3: connection timed out, network down"), True, False),
    ("mysql", pymysql.err.IntegrityError(1062, "Duplicate entry 'lost connection' for key 'PRIMARY'"), True, False),
    ("postgresql", psycopg.errors.CheckViolation(
        'new row for relation "t" violates check constraint "t_level_check"\n'
        "DETAIL:  Failing row contains (1, PLC alarm: connection refused at pump 3, 9)."), True, False),
    # a value the driver cannot send, before the database sees the batch
    ("mysql", pymysql.err.ProgrammingError("nan can not be used with MySQL"), True, False),
    ("postgresql", psycopg.ProgrammingError(
        "cannot adapt type 'dict' using placeholder '%s' (format: AUTO)"), True, False),
    # mistakes in the statement stay what they are: neither the row nor a retry cures them
    ("mysql", pymysql.err.ProgrammingError(1064, "You have an error in your SQL syntax"), False, False),
    ("postgresql", psycopg.ProgrammingError(
        "the query has 2 placeholders but 1 parameters were passed"), False, False),
    # a lost connection is still one
    ("mysql", pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query"), False, True),
    ("postgresql", psycopg.OperationalError(
        "consuming input failed: server closed the connection unexpectedly"), False, True),
])
def test_a_refused_row_is_never_taken_for_a_network_error(name, exc, row, transient):
    driver = psycopg if name == "postgresql" else pymysql
    wrapped = sa.exc.DBAPIError.instance("INSERT ...", None, exc, driver.Error)
    assert isinstance(wrapped, sa.exc.DBAPIError)
    d = dialects.get(name)
    assert (d.is_row_error(wrapped), d.is_transient(wrapped)) == (row, transient)


def test_only_postgresql_holds_nan_and_infinity_in_its_float_columns():
    assert {n: dialects.get(n).holds_nonfinite_floats for n in ("postgresql", "kingbase", "mysql", "sqlite",
                                                                "oracle", "dm")} == {
        "postgresql": True, "kingbase": True, "mysql": False, "sqlite": False, "oracle": False, "dm": False}
