"""MySQL and MariaDB (PyMySQL)."""

from __future__ import annotations

import functools
import math
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect as SADialect

from syncd.dialects.base import Dialect, KeyForm, UniqueIndex, Upsert, Written, is_fixed_length, text_form
from syncd.digest import HashColumn
from syncd.i18n import _


class MySQLDialect(Dialect):
    name = "mysql"
    ddl_note = "-- Tables use InnoDB and utf8mb4; VARCHAR(n) counts characters."

    def sqlalchemy_dialect(self) -> Any:
        from sqlalchemy.dialects import mysql

        return mysql.dialect()
    clock_sql = "SELECT NOW(6), UTC_TIMESTAMP(6)"
    facts_sql = ("SELECT VERSION(), UTC_TIMESTAMP(6), CASE WHEN @@session.time_zone = 'SYSTEM' THEN "
                 "CONCAT('SYSTEM (', @@system_time_zone, ')') ELSE @@session.time_zone END, "
                 "CONCAT(@@character_set_database, ' (connection ', @@character_set_connection, ')')")
    transactions_grant = "GRANT PROCESS ON *.* TO the source user"
    # 1048 column cannot be NULL, 1264 out of range, 1265 truncated, 1292 incorrect date/time,
    # 1366 incorrect string or number value, 1406 too long, 1452 foreign key, 1644 refused by a
    # trigger (SIGNAL), 1690 out of range in an expression, 3819/4025 CHECK constraint.
    row_error_codes = frozenset({1048, 1264, 1265, 1292, 1366, 1406, 1452, 1644, 1690, 3819, 4025})
    # PyMySQL's own refusal of a float NaN or infinity (FLOAT and DOUBLE hold neither), before
    # the server sees the batch
    unsendable_words = ("can not be used with mysql",)

    # 1142 command denied on a table, 1143 on a column, 1044 access denied to a database
    privilege_error_codes = frozenset({1142, 1143, 1044})
    whoami_sql = "SELECT CURRENT_USER(), DATABASE()"
    from_nothing = " FROM DUAL"

    def grantee(self, user: str) -> str:
        name, _, host = user.rpartition("@")
        return f"'{name}'@'{host}'" if name else f"'{user}'"

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

    # Reconcile's digests in the database (syncd.digest has the rules; tests/test_digest.py holds
    # every column kind to them on MariaDB). MD5 and CONV need no privilege.
    digest_in_database = True

    def datetime_fraction(self, sa_type: Any) -> int:
        return int(getattr(sa_type, "fsp", None) or 0)

    def rounds_fractions(self, sa_dialect: SADialect) -> bool:
        # MySQL rounds a finer fraction of a second; MariaDB cuts it off.
        return not getattr(sa_dialect, "is_mariadb", False)

    def digest_piece_sql(self, column: str, col: HashColumn, server_version: tuple[int, ...] | None = None) -> str:
        c = column
        kind = col.kind
        if kind in ("str", "text"):
            return (f"(CASE WHEN {c} IS NULL OR CHAR_LENGTH({c}) = 0 THEN '' "
                    f"ELSE CONCAT(CHAR_LENGTH({c}), ':', CONVERT({c} USING utf8mb4)) END)")
        if kind == "bytes":
            return f"(CASE WHEN {c} IS NULL OR LENGTH({c}) = 0 THEN '' ELSE MD5({c}) END)"
        if kind == "int" or (kind == "decimal" and col.scale is not None):
            return f"COALESCE(CAST({c} AS CHAR), '')"
        if kind == "decimal":
            text = f"CAST({c} AS CHAR)"
            return (f"COALESCE(CASE WHEN INSTR({text}, '.') > 0 THEN TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM "
                    f"{text})) ELSE {text} END, '')")
        if kind == "datetime":
            layout = "%Y-%m-%d %H:%i:%s" + (".%f" if col.fraction > 0 else "")
            return f"COALESCE(DATE_FORMAT({c}, '{layout}'), '')"
        if kind == "date":
            return f"COALESCE(DATE_FORMAT({c}, '%Y-%m-%d'), '')"
        if kind == "bool":
            return f"(CASE WHEN {c} IS NULL THEN '' WHEN {c} THEN '1' ELSE '0' END)"
        raise ValueError(_("no canonical text for a column of kind {kind!r}").format(kind=kind))

    def md5_sql(self, text: str, server_version: tuple[int, ...] | None) -> str:
        return f"MD5({text})"

    def hex_number_sql(self, hex_text: str, digits: int) -> str:
        return f"CAST(CONV(SUBSTRING({hex_text}, 1, {int(digits)}), 16, 10) AS UNSIGNED)"

    def concat_sql(self, parts: Sequence[str]) -> str:
        return f"CONCAT({', '.join(parts)})"
    # 1040 too many connections, 1205 lock wait timeout, 1213 deadlock, 2003 can't connect,
    # 2006 server gone away, 2013 lost connection, 2055 lost connection (SSL), 0 closed socket.
    transient_codes = frozenset({1040, 1205, 1213, 2002, 2003, 2006, 2013, 2055})
    transient_words = ("lost connection", "server has gone away", "connection reset", "broken pipe",
                       "already closed", "timed out")

    def upsert_sql(self, sa_dialect: SADialect, table: str, schema: str | None, columns: Sequence[str],
                   key: Sequence[str], update: Sequence[str], compare: Sequence[str] | None = None,
                   kinds: Sequence[str] = (), fixed: Sequence[str] = ()) -> str:
        # PyMySQL turns an executemany of exactly this shape into multi-row INSERTs.
        #
        # An existing row whose compared columns already hold the values sent is left alone: the
        # compared columns are set to what they hold (MySQL writes no row whose values are all
        # the same, and counts it as found, not changed), and the others (value: now, run_id) keep
        # theirs too. MySQL evaluates the assignments left to right, each seeing the columns set
        # before it: so the others come first, each testing the compared columns while none has
        # been set yet. Text is compared byte for byte (as MySQL decides whether a row changed),
        # not by its collation, under which 'a' and 'A' may be equal.
        q = lambda n: self.quote(sa_dialect, n)  # noqa: E731
        cols = ", ".join(q(c) for c in columns)
        marks = ", ".join(self.placeholders(sa_dialect, len(columns)))
        compare = list(update if compare is None else compare)
        kind_of = dict(zip(columns, kinds, strict=False))

        def same(c: str) -> str:
            if kind_of.get(c) in ("str", "text"):
                return f"CAST({q(c)} AS BINARY) <=> CAST(VALUES({q(c)}) AS BINARY)"
            return f"{q(c)} <=> VALUES({q(c)})"
        unchanged = " AND ".join(same(c) for c in compare)
        stamped = [f"{q(c)} = IF({unchanged}, {q(c)}, VALUES({q(c)}))" for c in update if c not in compare]
        sets = ", ".join([*stamped, *(f"{q(c)} = VALUES({q(c)})" for c in update if c in compare)])
        if not update or not compare:
            sets = f"{q(key[0])} = {q(key[0])}"
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

    def key_forms(self, conn: sa.Connection, table: str, schema: str | None,
                  types: dict[str, Any]) -> dict[str, KeyForm]:
        # A key compares by its column's collation: trailing spaces do not count under a PAD SPACE
        # collation (all but MariaDB's _nopad_ and MySQL's _0900_ ones) nor in a CHAR column; case
        # does not under a _ci one, nor accents unless it is _as_ (MySQL 8). Python's casefold
        # and accent stripping stand for the collation's own rules: close, not the same letter for
        # letter (utf8mb4_general_ci takes 'ß' for 's').
        rows = conn.execute(sa.text(
            "SELECT column_name, collation_name FROM information_schema.columns "
            "WHERE table_schema = COALESCE(:schema, DATABASE()) AND table_name = :table "
            "AND collation_name IS NOT NULL"), {"schema": schema, "table": table})
        forms = {}
        for name, collation in rows:
            name, collation = str(name), str(collation).lower()
            fixed = is_fixed_length(types.get(name))
            pad = fixed or not ("nopad" in collation or "_0900_" in collation)
            case = "_ci" in collation
            why = f"{name} compares by collation {collation}" + (" (CHAR)" if fixed else "")
            form = text_form(pad=pad, case=case, accents=case and "_as_" not in collation, why=why, fixed=fixed)
            if form is not None:
                forms[name] = form
        return forms

    def connect_args(self, driver: str, timeout: timedelta) -> dict[str, Any]:
        seconds = max(1, int(timeout.total_seconds()))
        # A read or write that hangs longer than this on a cut extranet link raises instead of
        # blocking forever; it then counts as transient and is retried.
        return {"connect_timeout": seconds, "read_timeout": seconds * 20, "write_timeout": seconds * 20}

    # 1205 lock wait timeout (a row lock: innodb_lock_wait_timeout; a table lock: lock_wait_timeout)
    lock_wait_codes = frozenset({1205})

    def bound_lock_waits(self, dbapi_connection: Any, lock_timeout: timedelta) -> None:
        seconds = max(1, math.ceil(lock_timeout.total_seconds()))
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"SET SESSION innodb_lock_wait_timeout = {seconds}, SESSION lock_wait_timeout = {seconds}")
        finally:
            cursor.close()

    def write(self, cursor: Any, upsert: Upsert, rows: list[tuple[Any, ...]], kinds: Sequence[str]) -> Written:
        # MySQL counts an inserted row 1, an updated one 2 and a found, unchanged one 1 (0 without
        # the FOUND_ROWS client flag, which SQLAlchemy always sets): one total per statement. A
        # multi-row INSERT also reports "Records: R  Duplicates: D". With FOUND_ROWS, D counts the
        # rows that met an existing key: inserted = R - D, updated = total - R. Without it, D
        # counts only the rows updated: updated = D, inserted = total - 2 D, unchanged the rest.
        # A one-row statement reports no such line: its key is looked up first (with FOUND_ROWS;
        # without, its total alone tells: 1 inserted, 2 updated, 0 unchanged).
        found_rows = _found_rows(cursor)
        writer = _batch_writer(cursor, upsert.sql, tuple(kinds))
        if writer is not None:
            def existed(row: tuple[Any, ...]) -> bool:
                if not found_rows:
                    return False    # not needed: the row's total tells
                return self.count_existing(cursor, upsert, [row], kinds) > 0
            written = writer(cursor, rows, existed, found_rows)
        else:
            existing = self.count_existing(cursor, upsert, rows, kinds)
            cursor.executemany(upsert.sql, rows)
            inserted = len(rows) - existing
            total = cursor.rowcount
            updated = total - len(rows) if found_rows else (total - inserted) // 2
            written = Written(inserted, updated, existing - updated)
        for index in upsert.other_unique:
            _refuse_other_keys(cursor, upsert, index, rows)
        return written

    def prepare(self, conn: sa.Connection, upsert: Upsert) -> Upsert:
        # ON DUPLICATE KEY UPDATE updates the row a new row meets on ANY unique index, not only on
        # the mapping's key: a row meeting another key's row on another unique index would be
        # written over that row. Such indexes are found here, and each batch is checked against
        # them after its write, in its transaction (see _refuse_other_keys). A unique index
        # holding the whole key (the key's own) is not one: two rows equal on it are equal on the key.
        found = conn.execute(sa.text(
            "SELECT s.index_name, s.column_name, s.sub_part, c.data_type, c.datetime_precision, "
            "c.numeric_precision, c.numeric_scale "
            "FROM information_schema.statistics s LEFT JOIN information_schema.columns c "
            "ON c.table_schema = s.table_schema AND c.table_name = s.table_name AND c.column_name = s.column_name "
            "WHERE s.table_schema = COALESCE(:schema, DATABASE()) AND s.table_name = :table AND s.non_unique = 0 "
            "ORDER BY s.index_name, s.seq_in_index"), {"schema": upsert.schema, "table": upsert.table})
        indexes: dict[str, list[tuple[str | None, int | None, str]]] = {}
        for name, column, part, data_type, fraction, digits, scale in found:
            # A value is looked for as the column stores it: a time to its fraction of a second, a
            # decimal to its scale.
            fsp = int(fraction or 0)
            stored = {"datetime": f"CAST(%s AS DATETIME({fsp}))", "timestamp": f"CAST(%s AS DATETIME({fsp}))",
                      "time": f"CAST(%s AS TIME({fsp}))", "date": "CAST(%s AS DATE)",
                      "decimal": f"CAST(%s AS DECIMAL({int(digits or 10)}, {int(scale or 0)}))",
                      }.get(str(data_type or "").lower(), "%s")
            indexes.setdefault(str(name), []).append((None if column is None else str(column).lower(),
                                                      None if part is None else int(part), stored))
        sent = {c.lower(): c for c in upsert.columns}
        key = {k.lower() for k in upsert.key}
        others = []
        for name, parts in indexes.items():
            if any(column is None or column not in sent for column, _part, _stored in parts):
                continue    # on an expression, or on a column the mapping does not fill
            if key <= {column for column, part, _stored in parts if part is None}:
                continue
            others.append(self._unique_index(conn.dialect, upsert, name,
                                             [(sent[str(column)], part, stored) for column, part, stored in parts]))
        return replace(upsert, other_unique=tuple(others)) if others else upsert

    def _unique_index(self, sa_dialect: SADialect, upsert: Upsert, name: str,
                      parts: Sequence[tuple[str, int | None, str]]) -> UniqueIndex:
        q = lambda n: self.quote(sa_dialect, n)  # noqa: E731
        table = self.table_ref(sa_dialect, upsert.table, upsert.schema)
        columns = tuple(c for c, _part, _stored in parts)
        held = [*upsert.key, *(c for c in columns if c not in upsert.key)]
        # Compared as the index compares them: by the column's collation, a prefix by its characters.
        equal = " AND ".join(f"{q(c)} = {stored}" if part is None
                             else f"LEFT({q(c)}, {int(part)}) = LEFT({stored}, {int(part)})"
                             for c, part, stored in parts)
        other = " AND ".join(f"{q(k)} <=> %s" for k in upsert.key)
        keys = ", ".join(q(k) for k in upsert.key)
        met = f"(SELECT %s, {keys} FROM {table} WHERE {equal} AND NOT ({other}))"
        held_row = "(" + ", ".join(["%s"] * len(held)) + ")"

        @functools.lru_cache(maxsize=8)
        def held_sql(rows: int) -> str:
            return (f"SELECT COUNT(*) FROM {table} WHERE ({', '.join(q(c) for c in held)}) "
                    f"IN ({', '.join([held_row] * rows)})")

        @functools.lru_cache(maxsize=8)
        def met_sql(rows: int) -> str:
            return " UNION ALL ".join([met] * rows) + " LIMIT 1"
        return UniqueIndex(name, columns, held_sql, met_sql)

    def executemany(self, cursor: Any, sql: str, rows: list[tuple[Any, ...]], kinds: Sequence[str]) -> None:
        # PyMySQL's executemany spends most of its time escaping, one generic call per value
        # (an isinstance chain, a dict lookup by type, str.format for a datetime). The batch
        # writer below sends byte for byte the statements PyMySQL would send, building each row's
        # literals with code written out for the mapping's column kinds; about twice as fast.
        writer = _batch_writer(cursor, sql, tuple(kinds))
        if writer is None:
            cursor.executemany(sql, rows)
        else:
            writer(cursor, rows, lambda row: False, _found_rows(cursor))


class UniqueConflict(Exception):
    """A row meets the row of another key on a unique index besides the key (see MySQLDialect.prepare)."""


#: rows per statement counting the rows of a batch held as written, and looking for the rows of
#: other keys a batch's rows meet
_HELD_ROWS = 2000
_MET_ROWS = 100


def _refuse_other_keys(cursor: Any, upsert: Upsert, index: UniqueIndex, rows: list[tuple[Any, ...]]) -> None:
    """Raise, rolling the batch back, if a row of ``rows`` (just written) met the row of another key
    on ``index``: ON DUPLICATE KEY UPDATE then wrote over that row (or left it) instead of its own.
    A row written as its own holds its key and its values of the index, and a row that met another
    key's row does not (no row can hold both: its key's row is not the other one, and only one row
    holds those values). So the target rows holding (key, values of the index) of the batch's rows
    are counted, one look-up a row by the key; only if some are missing (a row met another, or the
    target stored a value in another form, or kept an ``update: false`` one) are the rows of other
    keys looked for, row by row, by the index's own comparison, which also names one. A NULL
    never meets a value: a row with a NULL in the key or the index is not checked."""
    at_key = [upsert.columns.index(k) for k in upsert.key]
    at = [upsert.columns.index(c) for c in index.columns]
    held = [*at_key, *(i for i in at if i not in at_key)]
    checked = [row for row in rows if all(row[i] is not None for i in held)]
    found = 0
    for start in range(0, len(checked), _HELD_ROWS):
        part = checked[start:start + _HELD_ROWS]
        cursor.execute(index.held_sql(len(part)), [row[i] for row in part for i in held])
        found += int(cursor.fetchone()[0])
    unsure = [] if found == len(checked) else checked
    for start in range(0, len(unsure), _MET_ROWS):
        part = unsure[start:start + _MET_ROWS]
        sql = index.met_sql(len(part))
        cursor.execute(sql, [v for n, row in enumerate(part)
                             for v in (n, *(row[i] for i in at), *(row[i] for i in at_key))])
        met = cursor.fetchone()
        if met is not None:
            other = ", ".join(f"{k}={v}" for k, v in zip(upsert.key, met[1:], strict=True))
            values = ", ".join(f"{c}={part[int(met[0])][i]!r}" for c, i in zip(index.columns, at, strict=True))
            raise sa.exc.IntegrityError(sql, None, UniqueConflict(_(
                "unique index {index} of table {table}: the row of key {other} already holds {values} (as the "
                "index compares them); written, this row would overwrite that row: make the values unique in "
                "the source, or correct that row in the target").format(
                    index=index.name, table=upsert.table, values=values, other=other)))


def _found_rows(cursor: Any) -> bool:
    """Whether the connection counts a found but unchanged row as affected (CLIENT_FOUND_ROWS)."""
    flags = getattr(cursor.connection, "client_flag", None)
    if flags is None:
        return True     # SQLAlchemy sets it for every MySQL driver
    from pymysql.constants import CLIENT

    return bool(flags & CLIENT.FOUND_ROWS)


_RECORDS = re.compile(rb"Records: (\d+)\s+Duplicates: (\d+)")


def _statement_written(cursor: Any, rows: int, total: int, existed: bool, found_rows: bool) -> Written:
    """What one INSERT ... ON DUPLICATE KEY UPDATE of ``rows`` rows did, from its affected rows
    ``total`` and the server's "Records: R  Duplicates: D" line (``existed``: whether the key of a
    one-row statement was there before)."""
    result = getattr(cursor, "_result", None)
    info = _RECORDS.search(getattr(result, "message", None) or b"")
    if info is not None:
        records, duplicates = int(info.group(1)), int(info.group(2))
        if found_rows:          # duplicates: the rows whose key existed
            inserted, updated = records - duplicates, total - records
        else:                   # duplicates: the rows updated
            inserted, updated = total - 2 * duplicates, duplicates
        return Written(inserted, updated, records - inserted - updated)
    if total == 2:
        return Written(0, 1, 0)
    if total == 1 and not (found_rows and existed):
        return Written(1, 0, 0)
    return Written(0, 0, rows)


#: writes a batch: (cursor, rows, whether a row's key existed, FOUND_ROWS) -> what it did
BatchWriter = Callable[[Any, list[tuple[Any, ...]], Callable[[tuple[Any, ...]], bool], bool], Written]

#: Column kind -> expression giving PyMySQL's literal for value ``{v}`` when ``{v}`` has the type
#: the kind's caster produces; any other value goes to the connection's own ``escape`` (``E``),
#: so every value is escaped exactly as PyMySQL escapes it. ``T`` is PyMySQL's escape table.
_LITERALS: dict[str, str] = {
    "str": """("'" + {v}.translate(T) + "'") if type({v}) is str else E({v})""",
    "text": """("'" + {v}.translate(T) + "'") if type({v}) is str else E({v})""",
    "int": "str({v}) if type({v}) is int else E({v})",
    "decimal": """format({v}, "f") if type({v}) is Decimal and {v}.is_finite() else E({v})""",
    "datetime": """("'" + {v}.isoformat(" ") + "'") if type({v}) is datetime and {v}.tzinfo is None else E({v})""",
}


def _batch_writer(cursor: Any, sql: str, kinds: tuple[str, ...]) -> BatchWriter | None:
    """A writer for a PyMySQL cursor and a statement its executemany batches; None for anything else."""
    if "pymysql" not in sys.modules:  # another driver (mysqlclient): its own executemany
        return None
    from pymysql.constants.SERVER_STATUS import SERVER_STATUS_NO_BACKSLASH_ESCAPES
    from pymysql.cursors import Cursor

    if not isinstance(cursor, Cursor):
        return None

    # With NO_BACKSLASH_ESCAPES PyMySQL escapes strings another way: leave it to PyMySQL.
    if cursor.connection.server_status & SERVER_STATUS_NO_BACKSLASH_ESCAPES:
        return None
    return _compiled_writer(sql, kinds)


@functools.lru_cache(maxsize=64)
def _compiled_writer(sql: str, kinds: tuple[str, ...]) -> BatchWriter | None:
    from pymysql import converters
    from pymysql.cursors import RE_INSERT_VALUES

    match = RE_INSERT_VALUES.match(sql)
    if not match:
        return None
    # The same split PyMySQL's executemany makes (the ``% ()`` undoes doubled percent signs).
    prefix, values, postfix = match.group(1) % (), match.group(2).rstrip(), (match.group(3) or "") % ()
    if values.count("%s") != len(kinds) or "%(" in values:
        return None
    names = [f"c{i}" for i in range(len(kinds))]
    literals = [_LITERALS[k].replace("{v}", n) if k in _LITERALS else f"E({n})"
                for n, k in zip(names, kinds, strict=True)]
    unpack = ", ".join(names) + ("," if len(names) == 1 else "")
    source = f"def literals(row, E):\n    {unpack} = row\n    return ({', '.join(literals)},)\n"
    scope: dict[str, Any] = {"T": converters._escape_table, "Decimal": Decimal, "datetime": datetime}
    exec(compile(source, "<syncd mysql literals>", "exec"), scope)  # noqa: S102 - our own generated code
    literals_of: Callable[[tuple[Any, ...], Callable[[Any], str]], tuple[str, ...]] = scope["literals"]

    def write(cursor: Any, rows: list[tuple[Any, ...]], existed: Callable[[tuple[Any, ...]], bool],
              found_rows: bool) -> Written:
        # PyMySQL's Cursor._do_execute_many, with the row's literals from ``literals_of``; what
        # each statement did is added up (see MySQLDialect.write).
        written = Written()
        if not rows:
            return written
        connection = cursor.connection
        escape, encoding = connection.escape, connection.encoding
        head, tail = prefix.encode(encoding), postfix.encode(encoding)
        limit = cursor.max_stmt_length
        statement = bytearray(head)
        count = first = 0

        def send(last: int) -> None:
            nonlocal count, written
            single = last - first == 1
            was = single and existed(rows[first])
            total = cursor.execute(statement + tail)
            count += total
            written += _statement_written(cursor, last - first, total, was, found_rows)

        for at, row in enumerate(rows):
            value = (values % literals_of(row, escape)).encode(encoding)
            if len(statement) > len(head):  # a statement's first row goes in whatever its length
                if len(statement) + len(value) + len(tail) + 1 > limit:
                    send(at)
                    statement, first = bytearray(head), at
                else:
                    statement += b","
            statement += value
        send(len(rows))
        cursor.rowcount = count
        return written

    return write


#: MySQL character sets that hold less than Unicode, and the Python codec that holds the same
#: (MySQL's latin1 is Windows-1252).
_CODECS = {"gbk": "gbk", "gb2312": "gb2312", "big5": "big5", "latin1": "cp1252", "ascii": "ascii",
           "ujis": "euc_jp", "sjis": "shift_jis", "euckr": "euc_kr", "latin2": "iso8859_2", "greek": "iso8859_7",
           "cp1251": "cp1251", "koi8r": "koi8_r"}
