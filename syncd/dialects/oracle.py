"""Oracle (python-oracledb). No Oracle server runs in this project's tests: the statements
here are checked by compiling them against SQLAlchemy's Oracle dialect (tests/test_dialects.py);
docs/databases.md says what was and was not verified on a live server."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Dialect as SADialect

from syncd.dialects.base import Dialect
from syncd.errors import FatalSyncError


class OracleDialect(Dialect):
    name = "oracle"
    ddl_note = "-- Strings use CHAR length semantics: VARCHAR2(n CHAR) holds n characters, not n bytes."
    ddl_separate_comments = True
    #: the Instant Client folder thick mode was turned on with (python-oracledb allows it once a process)
    thick_client: str | None = None

    def use_client(self, lib_dir: Path) -> None:
        """Thick mode with the Oracle Client libraries in ``lib_dir``: needed for Oracle 11g and older,
        which python-oracledb's default thin mode cannot reach. Once a process; asking for another
        folder afterwards is an error that says to restart."""
        folder = str(lib_dir)
        if OracleDialect.thick_client == folder:
            return
        if OracleDialect.thick_client is not None:
            raise FatalSyncError(f"oracle_client changed from {OracleDialect.thick_client} to {folder}; thick mode "
                                 "is chosen once a process: restart syncd")
        import oracledb

        try:
            oracledb.init_oracle_client(lib_dir=folder)
        except oracledb.Error as exc:
            raise FatalSyncError(f"oracle_client {folder}: the Oracle Client libraries cannot be loaded ({exc}); "
                                 "check that the folder holds Instant Client (libclntsh.so) for this machine's "
                                 "architecture, and that its libaio dependency is installed") from None
        OracleDialect.thick_client = folder

    def sqlalchemy_dialect(self) -> Any:
        from sqlalchemy.dialects import oracle

        return oracle.dialect()
    clock_sql = "SELECT LOCALTIMESTAMP, SYSTIMESTAMP FROM dual"
    transactions_grant = "GRANT SELECT ON v_$transaction TO the source user (as SYS)"
    # ORA-01400 cannot insert NULL, ORA-01407 cannot update to NULL, ORA-01438 value larger than
    # the precision, ORA-01722 invalid number, ORA-01830/01861 date format, ORA-02290 check
    # constraint, ORA-02291 parent key not found, ORA-12899 value too large, ORA-20000..20999 raised
    # by a trigger: the row, not the batch.
    row_error_codes = frozenset({1400, 1407, 1438, 1722, 1830, 1861, 2290, 2291, 12899, *range(20000, 21000)})

    def open_since(self, conn: Any) -> tuple[bool, Any]:
        # v$transaction lists the transactions that have changed data; START_TIME is the
        # database's local time as text. Reading it needs the grant above. Not verified on a live
        # server (none runs here; see docs/databases.md).
        import sqlalchemy as sa

        try:
            started = conn.execute(sa.text(
                "SELECT MIN(TO_DATE(start_time, 'MM/DD/RR HH24:MI:SS')) FROM v$transaction")).scalar()
        except sa.exc.DBAPIError:
            conn.rollback()
            return False, None
        return True, started
    # ORA-00060 deadlock, 00054 resource busy, 03113/03114/03135 connection lost, 12170 timeout,
    # 12514/12541/12545/12537/12547 listener/connect failures, 25408 cannot replay.
    transient_codes = frozenset({60, 54, 3113, 3114, 3135, 12170, 12514, 12537, 12541, 12545, 12547, 25408})
    transient_words = ("dpy-4011", "dpy-6005", "dpy-4024", "not connected", "connection was closed")

    def upsert_sql(self, sa_dialect: SADialect, table: str, schema: str | None, columns: Sequence[str],
                   key: Sequence[str], update: Sequence[str]) -> str:
        q = lambda n: self.quote(sa_dialect, n)  # noqa: E731
        marks = self.placeholders(sa_dialect, len(columns))
        using = ", ".join(f"{m} AS {q(c)}" for m, c in zip(marks, columns, strict=False))
        on = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in key)
        insert_cols = ", ".join(q(c) for c in columns)
        insert_vals = ", ".join(f"s.{q(c)}" for c in columns)
        sql = f"MERGE INTO {self.table_ref(sa_dialect, table, schema)} t USING (SELECT {using} FROM dual) s ON ({on})"
        if update:
            sql += " WHEN MATCHED THEN UPDATE SET " + ", ".join(f"t.{q(c)} = s.{q(c)}" for c in update)
        return sql + f" WHEN NOT MATCHED THEN INSERT ({insert_cols}) VALUES ({insert_vals})"

    def error_code(self, orig: BaseException) -> Any:
        args = getattr(orig, "args", ())
        return getattr(args[0], "code", None) if args else None

    def executemany(self, cursor: Any, sql: str, rows: list[tuple[Any, ...]], kinds: Sequence[str]) -> None:
        # Strings over 4000 bytes bound as VARCHAR2 raise ORA-01461; bind text and binary
        # columns of unlimited length as LOBs, array-bound over the whole batch.
        import oracledb

        sizes = [oracledb.DB_TYPE_CLOB if k == "text" else oracledb.DB_TYPE_BLOB if k == "bytes" else None
                 for k in kinds]
        if any(sizes):
            cursor.setinputsizes(*sizes)
        cursor.executemany(sql, rows)

    # text_length stays characters: the reference tables use CHAR length semantics
    # (VARCHAR2(n CHAR)); a BYTE-semantics column would be measured in UTF-8 bytes.

    def connect_args(self, driver: str, timeout: timedelta) -> dict[str, Any]:
        return {"tcp_connect_timeout": max(1.0, timeout.total_seconds())}
