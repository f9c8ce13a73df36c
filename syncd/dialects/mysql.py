"""MySQL and MariaDB (PyMySQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect as SADialect

from syncd.dialects.base import Dialect


class MySQLDialect(Dialect):
    name = "mysql"
    ddl_note = "-- Tables use InnoDB and utf8mb4; VARCHAR(n) counts characters."

    def sqlalchemy_dialect(self) -> Any:
        from sqlalchemy.dialects import mysql

        return mysql.dialect()
    clock_sql = "SELECT NOW(6), UTC_TIMESTAMP(6)"
    transactions_grant = "GRANT PROCESS ON *.* TO the source user"
    # 1048 column cannot be NULL, 1264 out of range, 1265 truncated, 1292 incorrect date/time,
    # 1366 incorrect string or number value, 1406 too long, 1452 foreign key, 1644 refused by a
    # trigger (SIGNAL), 1690 out of range in an expression, 3819/4025 CHECK constraint.
    row_error_codes = frozenset({1048, 1264, 1265, 1292, 1366, 1406, 1452, 1644, 1690, 3819, 4025})

    def open_since(self, conn: sa.Connection) -> tuple[bool, Any]:
        # InnoDB lists every open transaction; reading the list needs the PROCESS privilege.
        # trx_started is the server's local time, as NOW() is; a row it wrote has a later cursor.
        try:
            started = conn.execute(sa.text(
                "SELECT MIN(trx_started) FROM information_schema.innodb_trx "
                "WHERE trx_mysql_thread_id <> CONNECTION_ID() AND trx_rows_modified > 0")).scalar()
        except sa.exc.DBAPIError:
            conn.rollback()
            return False, None
        return True, started
    # 1040 too many connections, 1205 lock wait timeout, 1213 deadlock, 2003 can't connect,
    # 2006 server gone away, 2013 lost connection, 2055 lost connection (SSL), 0 closed socket.
    transient_codes = frozenset({1040, 1205, 1213, 2002, 2003, 2006, 2013, 2055})
    transient_words = ("lost connection", "server has gone away", "connection reset", "broken pipe",
                       "already closed", "timed out")

    def upsert_sql(self, sa_dialect: SADialect, table: str, schema: str | None, columns: Sequence[str],
                   key: Sequence[str], update: Sequence[str]) -> str:
        # PyMySQL turns an executemany of exactly this shape into multi-row INSERTs.
        q = lambda n: self.quote(sa_dialect, n)  # noqa: E731
        cols = ", ".join(q(c) for c in columns)
        marks = ", ".join(self.placeholders(sa_dialect, len(columns)))
        sets = ", ".join(f"{q(c)} = VALUES({q(c)})" for c in update) or f"{q(key[0])} = {q(key[0])}"
        return (f"INSERT INTO {self.table_ref(sa_dialect, table, schema)} ({cols}) VALUES ({marks}) "
                f"ON DUPLICATE KEY UPDATE {sets}")

    def unsupported_text(self, value: str, charset: str | None) -> str | None:
        name = (charset or "").lower()
        # utf8 / utf8mb3 store at most 3 bytes a character: emoji and rare CJK do not fit.
        if name in ("utf8", "utf8mb3"):
            if any(ord(ch) > 0xFFFF for ch in value):
                return (f"contains characters outside the Basic Multilingual Plane (emoji, rare CJK) that a "
                        f"{charset} column cannot store; convert the target column to utf8mb4")
            return None
        codec = _CODECS.get(name)
        if codec is None:
            return None
        try:
            value.encode(codec)
        except UnicodeEncodeError as exc:
            bad = value[exc.start:exc.end]
            return (f"contains {bad!r} (position {exc.start + 1}), which a {charset} column cannot store; "
                    "convert the target column to utf8mb4, or replace the character in the source")
        return None

    def column_charsets(self, conn: sa.Connection, table: str, schema: str | None) -> dict[str, str]:
        rows = conn.execute(sa.text(
            "SELECT column_name, character_set_name FROM information_schema.columns "
            "WHERE table_schema = COALESCE(:schema, DATABASE()) AND table_name = :table "
            "AND character_set_name IS NOT NULL"), {"schema": schema, "table": table})
        return {str(name): str(charset) for name, charset in rows}

    def connect_args(self, driver: str, timeout: timedelta) -> dict[str, Any]:
        seconds = max(1, int(timeout.total_seconds()))
        # A read or write that hangs longer than this on a cut extranet link raises instead of
        # blocking forever; it then counts as transient and is retried.
        return {"connect_timeout": seconds, "read_timeout": seconds * 20, "write_timeout": seconds * 20}


#: MySQL character sets that hold less than Unicode, and the Python codec that holds the same
#: (MySQL's latin1 is Windows-1252).
_CODECS = {"gbk": "gbk", "gb2312": "gb2312", "big5": "big5", "latin1": "cp1252", "ascii": "ascii",
           "ujis": "euc_jp", "sjis": "shift_jis", "euckr": "euc_kr", "latin2": "iso8859_2", "greek": "iso8859_7",
           "cp1251": "cp1251", "koi8r": "koi8_r"}
