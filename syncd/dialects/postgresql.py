"""PostgreSQL (psycopg 3)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from syncd.dialects.base import Dialect, Upsert


class PostgreSQLDialect(Dialect):
    name = "postgresql"
    ddl_separate_comments = True

    def sqlalchemy_dialect(self) -> Any:
        from sqlalchemy.dialects import postgresql

        return postgresql.dialect()
    clock_sql = "SELECT LOCALTIMESTAMP, CURRENT_TIMESTAMP"
    transactions_grant = "GRANT pg_read_all_stats TO the source user"

    def is_row_error(self, exc: BaseException) -> bool:
        # SQLSTATE class 22 (a value the column cannot hold), 23 (a constraint), P0001 (raised
        # by a trigger): the row, not the batch.
        orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
        code = str(self.error_code(orig) or "") if orig is not None else ""
        return code[:2] in ("22", "23") or code == "P0001" or super().is_row_error(exc)

    def unsupported_text(self, value: str, charset: str | None) -> str | None:
        if "\x00" in value:
            return (f"contains a NUL character (position {value.index(chr(0)) + 1}), which PostgreSQL text cannot "
                    "store; remove it in the source, or strip it with a pattern on the column")
        return None

    def open_since(self, conn: sa.Connection) -> tuple[bool, Any]:
        # Other roles' transactions show in pg_stat_activity only to members of pg_read_all_stats
        # (and superusers). now() is the transaction's start: a row it writes has that cursor.
        sees_all = conn.execute(sa.text(
            "SELECT pg_has_role('pg_read_all_stats', 'MEMBER') "
            "OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)")).scalar()
        started = conn.execute(sa.text(
            "SELECT MIN(xact_start) AT TIME ZONE current_setting('TimeZone') FROM pg_stat_activity "
            "WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() "
            "AND datname = current_database()")).scalar()
        return bool(sees_all), started
    transient_sqlstates = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300"})
    transient_words = ("server closed the connection", "connection timeout", "terminating connection",
                       "could not connect", "connection refused", "consuming input failed",
                       "the connection is lost", "connection is closed")

    def error_code(self, orig: BaseException) -> Any:
        return getattr(orig, "sqlstate", None)

    def is_transient(self, exc: BaseException) -> bool:
        orig = getattr(exc, "orig", exc)
        code = self.error_code(orig) or ""
        if code in self.transient_sqlstates or code.startswith("08"):
            return True
        return super().is_transient(exc)

    def connect_args(self, driver: str, timeout: timedelta) -> dict[str, Any]:
        return {"connect_timeout": max(1, int(timeout.total_seconds())), "keepalives": 1,
                "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}

    def prepare(self, conn: sa.Connection, upsert: Upsert) -> Upsert:
        # COPY into a session's temporary table, then one INSERT ... SELECT ... ON CONFLICT: about
        # 1.4x an executemany of the upsert (docs/performance.md). Needs the TEMP privilege, which
        # PUBLIC has unless a province revoked it; without it, executemany.
        allowed = conn.execute(sa.text("SELECT has_database_privilege(current_database(), 'TEMP')")).scalar()
        conn.rollback()
        if not allowed:
            return upsert
        preparer = conn.dialect.identifier_preparer
        q = preparer.quote
        target = f"{q(upsert.schema)}.{q(upsert.table)}" if upsert.schema else q(upsert.table)
        cols = ", ".join(q(c) for c in upsert.columns)
        digest = hashlib.sha1(f"{target}({cols})".encode()).hexdigest()[:12]
        stage = f"syncd_stage_{digest}"
        sets = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in upsert.update)
        action = f"DO UPDATE SET {sets}" if upsert.update else "DO NOTHING"
        return replace(upsert, staging=(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS "
            f"AS SELECT {cols} FROM {target} WITH NO DATA",
            f"COPY {stage} ({cols}) FROM STDIN",
            f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {stage} "
            f"ON CONFLICT ({', '.join(q(k) for k in upsert.key)}) {action}",
        ))

    def write(self, cursor: Any, upsert: Upsert, rows: list[tuple[Any, ...]], kinds: Sequence[str]) -> None:
        if not upsert.staging:
            return super().write(cursor, upsert, rows, kinds)
        create, copy_in, merge = upsert.staging
        cursor.execute(create)
        with cursor.copy(copy_in) as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(merge)
