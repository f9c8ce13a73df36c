"""DM8 (达梦) through the dmPython driver and the dmSQLAlchemy dialect (``dm+dmPython://``).

dmSQLAlchemy registers itself with SQLAlchemy under the name ``dm`` (the entry points ``dm`` and
``dm.dmPython``); both come with ``pip install 'syncd[dm]'``. No DM server runs in this project's
tests: the statements here are compiled against dmSQLAlchemy's own dialect (tests/test_dialects.py),
and docs/databases.md says what was and was not verified on a live server.

DM8's SQL is close to Oracle's (``MERGE INTO ... USING (SELECT ... FROM dual)``, ``SYSTIMESTAMP``,
``LOCALTIMESTAMP``, ``SESSIONTIMEZONE``); its error codes are its own, negative numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Dialect as SADialect

from syncd.dialects.base import Dialect


class DMDialect(Dialect):
    name = "dm"
    ddl_note = ("-- DM8: VARCHAR2(n CHAR) holds n characters whatever LENGTH_IN_CHAR says; DATETIME keeps the time "
                "of day (a DM8 DATE does not, unlike Oracle's).")
    ddl_separate_comments = True
    clock_sql = "SELECT LOCALTIMESTAMP, SYSTIMESTAMP FROM dual"
    # Version, the clock in UTC, the session's time zone and the database's character set
    # (SF_GET_UNICODE_FLAG: 0 GB18030, 1 UTF-8, 2 EUC-KR, fixed when the database was initialised).
    facts_sql = ("SELECT (SELECT banner FROM v$version WHERE ROWNUM = 1), SYS_EXTRACT_UTC(SYSTIMESTAMP), "
                 "SESSIONTIMEZONE, CASE SF_GET_UNICODE_FLAG() WHEN 0 THEN 'GB18030' WHEN 1 THEN 'UTF-8' "
                 "WHEN 2 THEN 'EUC-KR' END FROM dual")

    # Reconcile hashes the target's rows in Python: DM8's hash functions (MD5 in DBMS_CRYPTO or the
    # toolkit packages) depend on packages a province may not have installed; its rows cross the
    # link once per reconcile instead.
    digest_in_database = False

    # The codes dmPython reports (negative, DM's own): -6111 a string that cannot be converted,
    # -6121 a number beyond the column's precision, -6169 a value longer than the column, -6132 ..
    # -6137 a date or time that cannot be read, -2665 a row too long for a page, -7071 an error
    # raised in a trigger. Constraint violations (dmPython maps no SQLSTATE: they may arrive as a plain
    # DatabaseError with the code): -6601 an invalid primary key value, -6602 unique, -6603 a view's
    # CHECK OPTION, -6604 CHECK, -6605 NOT NULL, -6606/-6607 foreign key, -6608 primary key,
    # -6609 NOT NULL on a column, -6610 … -6612 unique, -6628 foreign key (named), as the message
    # table of dmPython's client library (libdmdpi) lists them. Not verified on a live server.
    row_error_codes = frozenset({-6111, -6121, -6169, -6132, -6133, -6134, -6136, -6137, -2665, -7071,
                                 *range(-6612, -6600), -6628})
    # -70019/-70025/-70028/-6010: the connection is lost (dmSQLAlchemy's own is_disconnect);
    # -6012 cannot reach the host; -6407 a lock wait timed out.
    transient_codes = frozenset({-70019, -70025, -70028, -6010, -6012, -6407})
    transient_words = ("not connected", "connection closed", "network", "网络通信异常", "连接已断开")

    def sqlalchemy_dialect(self) -> Any:
        import sqlalchemy as sa

        return sa.make_url("dm+dmPython://").get_dialect()()

    def changed_sql(self, old: str, new: str, kind: str | None = None, *, fixed: bool = False) -> str:
        if kind in ("text", "bytes"):
            # A CLOB or BLOB is not compared (whether DM8 compares LOBs with <>, or has
            # DBMS_LOB.COMPARE, is not verified): one that is not NULL on both sides counts as
            # changed, so a change in it is never missed; such rows are written again.
            return f"({old} IS NOT NULL OR {new} IS NOT NULL)"
        if fixed:   # CHAR(n): blank-padded, the value sent a VARCHAR bind (as on Oracle)
            old, new = f"RTRIM({old})", f"RTRIM({new})"
        return self.differ_or_one_null(old, new, f"{old} <> {new}")

    def upsert_sql(self, sa_dialect: SADialect, table: str, schema: str | None, columns: Sequence[str],
                   key: Sequence[str], update: Sequence[str], compare: Sequence[str] | None = None,
                   kinds: Sequence[str] = (), fixed: Sequence[str] = ()) -> str:
        """``MERGE INTO`` as Oracle writes it, which DM8 takes as it is (with DM8's ``changed_sql``)."""
        return self.merge_sql(sa_dialect, table, schema, columns, key, update, compare, kinds, fixed)

    def error_code(self, orig: BaseException) -> Any:
        # dmPython raises with one argument: an error object with ``code`` (as dmSQLAlchemy reads it),
        # or a text beginning "[CODE:-6602]".
        args = getattr(orig, "args", ())
        if not args:
            return None
        code = getattr(args[0], "code", None)
        if isinstance(code, int):
            return code
        found = _CODE.search(str(args[0]))
        return int(found.group(1)) if found else None

    # text_length stays characters. A DM8 VARCHAR(n) counts bytes unless the column says CHAR
    # (VARCHAR(n CHAR)) or the database was initialised with LENGTH_IN_CHAR=1; a value that fits in
    # characters but not in bytes is refused by the server (-6169) and becomes a reject with its words.


_CODE = re.compile(r"\[CODE:(-?\d+)\]")
