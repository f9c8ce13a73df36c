"""Dialect statements compiled against SQLAlchemy's dialects, no server (Oracle has none here)."""

from __future__ import annotations

import pymysql
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, oracle, postgresql, sqlite

from syncd import dialects
from syncd.errors import FatalSyncError

COLUMNS = ["id", "name", "level", "remark"]


def test_oracle_merge_uses_numbered_binds_and_updates_only_non_key_columns():
    sql = dialects.get("oracle").upsert_sql(oracle.dialect(), "dp_check_record", "fep", COLUMNS, ["id"],
                                            ["name", "level", "remark"])
    assert sql == (
        'MERGE INTO fep.dp_check_record t USING (SELECT :1 AS id, :2 AS name, :3 AS "level", :4 AS remark FROM dual) s '
        'ON (t.id = s.id) WHEN MATCHED THEN UPDATE SET t.name = s.name, t."level" = s."level", t.remark = s.remark '
        'WHEN NOT MATCHED THEN INSERT (id, name, "level", remark) VALUES (s.id, s.name, s."level", s.remark)')


def test_oracle_merge_without_update_columns_only_inserts():
    sql = dialects.get("oracle").upsert_sql(oracle.dialect(), "t", None, ["id"], ["id"], [])
    assert "WHEN MATCHED" not in sql and sql.endswith("WHEN NOT MATCHED THEN INSERT (id) VALUES (s.id)")


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
    assert sql == ("INSERT INTO dp_check_record (id, name, level, remark) VALUES (%s, %s, %s, %s) "
                   "ON DUPLICATE KEY UPDATE name = VALUES(name), level = VALUES(level), remark = VALUES(remark)")
    assert pymysql.cursors.RE_INSERT_VALUES.match(sql)


def test_mysql_quotes_reserved_words():
    sql = dialects.get("mysql").upsert_sql(mysql.dialect(), "t", None, ["id", "order"], ["id"], ["order"])
    assert "`order` = VALUES(`order`)" in sql


def test_mysql_upsert_without_update_columns_keeps_the_row():
    sql = dialects.get("mysql").upsert_sql(mysql.dialect(), "t", None, ["id", "a"], ["id"], [])
    assert sql.endswith("ON DUPLICATE KEY UPDATE id = id")


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.psycopg.dialect()])
def test_on_conflict_upsert(dialect):
    sql = dialects.get(dialect.name).upsert_sql(dialect, "t", None, ["id", "name"], ["id"], ["name"])
    mark = "?" if dialect.name == "sqlite" else "%s"
    assert sql == f"INSERT INTO t (id, name) VALUES ({mark}, {mark}) ON CONFLICT (id) DO UPDATE SET name = excluded.name"


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
