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
from syncd.digest import HashColumn
from syncd.errors import FatalSyncError
from syncd.i18n import N_, _


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
            raise FatalSyncError(N_("oracle_client changed from {thick_client} to {folder}; thick mode is chosen "
                                    "once a process: "
                                    "restart syncd").format(thick_client=OracleDialect.thick_client, folder=folder))
        import oracledb

        try:
            oracledb.init_oracle_client(lib_dir=folder)
        except oracledb.Error as exc:
            raise FatalSyncError(N_("oracle_client {folder}: the Oracle Client libraries cannot be loaded ({exc}); "
                                    "check that the folder holds Instant Client (libclntsh.so) for this machine's "
                                    "architecture, and that its libaio "
                                    "dependency is installed").format(folder=folder, exc=exc)) from None
        OracleDialect.thick_client = folder

    def sqlalchemy_dialect(self) -> Any:
        from sqlalchemy.dialects import oracle

        return oracle.dialect()

    def reflected_type(self, sa_type: Any) -> Any:
        """Oracle's INTEGER and SMALLINT are NUMBER(*,0), 38 digits; SQLAlchemy reflects them (and
        NUMBER(*,0) itself) as a plain INTEGER, which would read as 32 bits. NUMBER(p,0) with a
        precision keeps its own range."""
        import sqlalchemy as sa
        from sqlalchemy.dialects import oracle

        if isinstance(sa_type, sa.Integer) and not isinstance(sa_type, (sa.Numeric, sa.Boolean)):
            return oracle.NUMBER(38, 0)
        return sa_type
    clock_sql = "SELECT LOCALTIMESTAMP, SYSTIMESTAMP FROM dual"
    facts_sql = ("SELECT (SELECT banner FROM v$version WHERE ROWNUM = 1), SYS_EXTRACT_UTC(SYSTIMESTAMP), "
                 "SESSIONTIMEZONE, (SELECT value FROM nls_database_parameters WHERE parameter = 'NLS_CHARACTERSET') "
                 "FROM dual")
    transactions_grant = "GRANT SELECT ON v_$transaction TO the source user (as SYS)"
    # ORA-01400 cannot insert NULL, ORA-01407 cannot update to NULL, ORA-01438 value larger than
    # the precision, ORA-01722 invalid number, ORA-01830/01861 date format, ORA-02290 check
    # constraint, ORA-02291 parent key not found, ORA-12899 value too large, ORA-20000..20999 raised
    # by a trigger: the row, not the batch.
    row_error_codes = frozenset({1400, 1407, 1438, 1722, 1830, 1861, 2290, 2291, 12899, *range(20000, 21000)})

    # ORA-01031 insufficient privileges; ORA-00942 no such table or view, which is what a table
    # the user may not see says (its existence is checked first, by reflecting it)
    privilege_error_codes = frozenset({1031, 942})
    whoami_sql = "SELECT USER, SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA') FROM dual"
    from_nothing = " FROM dual"

    def privilege_query(self, sa_dialect: Any, table: str, schema: str | None, current_schema: str | None,
                        privilege: str, columns: Sequence[str]) -> Any:
        """The dictionary, not a statement on the table: an Oracle statement trigger would fire for a
        statement that touches no row (and an autonomous transaction's audit row would stay). The user
        holds ``privilege`` when it owns the table, holds the ``… ANY TABLE`` system privilege
        (SESSION_PRIVS: directly or through an enabled role), or was granted it on the table, itself,
        through PUBLIC or an enabled role (ALL_TAB_PRIVS lists all three); INSERT and UPDATE may be
        granted column by column (ALL_COL_PRIVS). Compiled in the tests; not run on a live server."""
        import sqlalchemy as sa

        grantee = "(p.grantee IN (USER, 'PUBLIC') OR p.grantee IN (SELECT role FROM session_roles))"
        held = [":owner = USER",
                "EXISTS (SELECT 1 FROM session_privs WHERE privilege = :any_privilege)",
                f"EXISTS (SELECT 1 FROM all_tab_privs p WHERE p.table_schema = :owner AND p.table_name = :name "
                f"AND p.privilege = :privilege AND {grantee})"]
        params: dict[str, Any] = {"owner": _oracle_name(schema) or current_schema, "name": _oracle_name(table),
                                  "privilege": privilege, "any_privilege": f"{privilege} ANY TABLE"}
        if columns and privilege in ("INSERT", "UPDATE"):
            names = ", ".join(f":c{i}" for i in range(len(columns)))
            held.append(f"(SELECT COUNT(DISTINCT p.column_name) FROM all_col_privs p WHERE p.table_schema = :owner "
                        f"AND p.table_name = :name AND p.privilege = :privilege AND p.column_name IN ({names}) "
                        f"AND {grantee}) = :columns")
            stored = [_oracle_name(c) for c in columns]
            params.update({f"c{i}": c for i, c in enumerate(stored)}, columns=len(set(stored)))
        return sa.text(f"SELECT CASE WHEN {' OR '.join(held)} THEN 1 ELSE 0 END FROM dual").bindparams(**params)

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

    # Reconcile's digests in the database, with functions every user may call: STANDARD_HASH
    # (12c and later) or, on 11g, DBMS_OBFUSCATION_TOOLKIT.MD5 (EXECUTE granted to PUBLIC by
    # default). Both hash at most 2000 bytes (a RAW) in SQL, so text and binary values are compared
    # by their length and the hash of their first 500 characters (at most 2000 bytes in UTF-8) or
    # 2000 bytes, and a row's text is hashed in groups of pieces (syncd.digest.GROUP). Text is hashed
    # as UTF-8 whatever the database character set (UTL_I18N, granted to PUBLIC). Compiled only:
    # no Oracle server runs in this project's tests (docs/databases.md).
    digest_in_database = True
    TEXT_PREFIX = 500
    BYTES_PREFIX = 2000

    def digest_prefix(self, kind: str) -> int | None:
        return self.BYTES_PREFIX if kind == "bytes" else self.TEXT_PREFIX if kind in ("str", "text") else None

    def datetime_fraction(self, sa_type: Any) -> int:
        # DATE keeps whole seconds; TIMESTAMP(n) n digits (6 by default).
        if type(sa_type).__name__.upper() == "DATE":
            return 0
        precision = getattr(sa_type, "precision", None)
        return 6 if precision is None else int(precision)

    def rounds_fractions(self, sa_dialect: SADialect) -> bool:
        # A DATE keeps no fraction of a second: python-oracledb binds a datetime into it without one.
        return False

    def digest_piece_sql(self, column: str, col: HashColumn, server_version: tuple[int, ...] | None = None) -> str:
        c = column
        kind = col.kind

        def md5(raw: str) -> str:
            return self._md5_raw(raw, server_version)

        def utf8(text: str) -> str:
            return f"UTL_I18N.STRING_TO_RAW({text}, 'AL32UTF8')"
        if kind == "text":
            return (f"(CASE WHEN {c} IS NULL OR DBMS_LOB.GETLENGTH({c}) = 0 THEN NULL ELSE DBMS_LOB.GETLENGTH({c}) "
                    f"|| ':' || {md5(utf8(f'DBMS_LOB.SUBSTR({c}, {self.TEXT_PREFIX}, 1)'))} END)")
        if kind == "str":
            return (f"(CASE WHEN {c} IS NULL THEN NULL ELSE LENGTH({c}) || ':' || "
                    f"{md5(utf8(f'SUBSTR({c}, 1, {self.TEXT_PREFIX})'))} END)")
        if kind == "bytes":
            return (f"(CASE WHEN {c} IS NULL OR DBMS_LOB.GETLENGTH({c}) = 0 THEN NULL ELSE DBMS_LOB.GETLENGTH({c}) "
                    f"|| ':' || {md5(f'DBMS_LOB.SUBSTR({c}, {self.BYTES_PREFIX}, 1)')} END)")
        if kind == "int":
            return f"TO_CHAR({c})"
        if kind == "decimal":
            whole = "9" * max(1, (col.precision or 38) - (col.scale or 0) - 1)
            if col.scale is not None:
                return f"TO_CHAR({c}, 'FM{whole}0.{'0' * col.scale}')"
            return f"RTRIM(TO_CHAR({c}, 'FM{'9' * 29}0.{'9' * 30}'), '.')"
        if kind == "datetime":
            layout = "YYYY-MM-DD HH24:MI:SS" + (".FF6" if col.fraction > 0 else "")
            return f"TO_CHAR({c}, '{layout}')"
        if kind == "date":
            return f"TO_CHAR({c}, 'YYYY-MM-DD')"
        if kind == "bool":
            return f"(CASE WHEN {c} IS NULL THEN NULL WHEN {c} = 0 THEN '0' ELSE '1' END)"
        raise ValueError(_("no canonical text for a column of kind {kind!r}").format(kind=kind))

    @staticmethod
    def _md5_raw(raw: str, server_version: tuple[int, ...] | None) -> str:
        """Lower-case hex MD5 of the RAW ``raw``: STANDARD_HASH from 12c, the 11g toolkit before."""
        if server_version is not None and server_version[0] < 12:
            return f"LOWER(RAWTOHEX(DBMS_OBFUSCATION_TOOLKIT.MD5(input => {raw})))"
        return f"LOWER(RAWTOHEX(STANDARD_HASH({raw}, 'MD5')))"

    def md5_sql(self, text: str, server_version: tuple[int, ...] | None) -> str:
        return self._md5_raw(f"UTL_RAW.CAST_TO_RAW({text})", server_version)

    def hex_number_sql(self, hex_text: str, digits: int) -> str:
        return f"TO_NUMBER(UPPER(SUBSTR({hex_text}, 1, {int(digits)})), '{'X' * int(digits)}')"
    # ORA-00060 deadlock, 00054 resource busy, 03113/03114/03135 connection lost, 12170 timeout,
    # 12514/12541/12545/12537/12547 listener/connect failures, 25408 cannot replay.
    transient_codes = frozenset({60, 54, 3113, 3114, 3135, 12170, 12514, 12537, 12541, 12545, 12547, 25408})
    transient_words = ("dpy-4011", "dpy-6005", "dpy-4024", "not connected", "connection was closed")

    # Existing keys counted 10 000 at a time (two round trips for a batch of 20 000 rows): an IN
    # list holds at most 1000 values (ORA-01795), so several lists, OR-ed; a statement at most
    # 65 535 bound values.
    existing_binds = 10_000
    in_list_limit = 1000

    def changed_sql(self, old: str, new: str, kind: str | None = None, *, fixed: bool = False) -> str:
        # Oracle has no IS DISTINCT FROM (before 23ai): NULL counts as a value by hand. A CLOB or
        # BLOB (text and bytes columns) cannot be compared with <>: DBMS_LOB.COMPARE (NULL when
        # either side is NULL, which the other two tests cover).
        # A CHAR(n) column holds its value padded with blanks, while the value sent is a VARCHAR2
        # bind, compared without padding: both without their trailing blanks (RTRIM of blanks
        # alone is NULL, as an empty VARCHAR2 is).
        if fixed:
            old, new = f"RTRIM({old})", f"RTRIM({new})"
        differ = f"DBMS_LOB.COMPARE({old}, {new}) <> 0" if kind in ("text", "bytes") else f"{old} <> {new}"
        return self.differ_or_one_null(old, new, differ)

    def upsert_sql(self, sa_dialect: SADialect, table: str, schema: str | None, columns: Sequence[str],
                   key: Sequence[str], update: Sequence[str], compare: Sequence[str] | None = None,
                   kinds: Sequence[str] = (), fixed: Sequence[str] = ()) -> str:
        """``MERGE INTO``, its matched rows updated only when a compared column differs."""
        return self.merge_sql(sa_dialect, table, schema, columns, key, update, compare, kinds, fixed)

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
    # (VARCHAR2(n CHAR)); a column declared in BYTE semantics says so in CHAR_USED, and is then
    # measured in bytes of the database character set (column_length_units, column_charsets).

    def column_length_units(self, conn: Any, table: str, schema: str | None) -> dict[str, str]:
        import sqlalchemy as sa

        rows = conn.execute(sa.text(
            "SELECT column_name, char_used FROM all_tab_columns WHERE owner = COALESCE(:schema, USER) "
            "AND table_name = :table AND char_used IN ('B', 'C')"),
            {"schema": _oracle_name(schema), "table": _oracle_name(table)})
        return {_reflected_name(str(name)): "byte" if used == "B" else "char" for name, used in rows}

    def column_charsets(self, conn: Any, table: str, schema: str | None) -> dict[str, str]:
        # VARCHAR2 and CLOB columns hold the database character set (AL32UTF8, ZHS16GBK ...);
        # NVARCHAR2 the national one.
        import sqlalchemy as sa

        rows = conn.execute(sa.text(
            "SELECT c.column_name, CASE WHEN c.character_set_name = 'NCHAR_CS' THEN "
            "(SELECT value FROM nls_database_parameters WHERE parameter = 'NLS_NCHAR_CHARACTERSET') ELSE "
            "(SELECT value FROM nls_database_parameters WHERE parameter = 'NLS_CHARACTERSET') END "
            "FROM all_tab_columns c WHERE c.owner = COALESCE(:schema, USER) AND c.table_name = :table "
            "AND c.character_set_name IS NOT NULL"),
            {"schema": _oracle_name(schema), "table": _oracle_name(table)})
        return {_reflected_name(str(name)): str(charset) for name, charset in rows}

    # DPY-4024: a call outlasted call_timeout (Oracle has no session setting that bounds a lock wait
    # alone: the driver's call timeout bounds every round trip of the target's connection)
    lock_wait_words = ("dpy-4024",)

    #: The call timeout bounds a whole batch's MERGE too, which a thin extranet link may take minutes
    #: to carry: a shorter one would fail the same batch on every retry.
    call_timeout_floor = timedelta(minutes=10)

    def bound_lock_waits(self, dbapi_connection: Any, lock_timeout: timedelta) -> None:
        bound = max(lock_timeout, self.call_timeout_floor)
        dbapi_connection.call_timeout = int(bound.total_seconds() * 1000)

    def connect_args(self, driver: str, timeout: timedelta) -> dict[str, Any]:
        return {"tcp_connect_timeout": max(1.0, timeout.total_seconds())}


def _oracle_name(name: str | None) -> str | None:
    """A name as Oracle's dictionary stores it: a name SQLAlchemy reflects in lower case is upper case there."""
    return None if name is None else name.upper() if name == name.lower() else name


def _reflected_name(name: str) -> str:
    """A dictionary name as SQLAlchemy reflects it (case-insensitive names in lower case)."""
    return name.lower() if name == name.upper() else name
