"""PostgreSQL (psycopg 3)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from syncd.dialects.base import Dialect, KeyForm, Upsert, Written, text_form
from syncd.digest import HashColumn
from syncd.i18n import _

#: the application_name of every session syncd opens (pg_stat_activity shows it)
APPLICATION_NAME = "syncd"


class PostgreSQLDialect(Dialect):
    name = "postgresql"
    ddl_separate_comments = True
    exact_column_names = True

    def sqlalchemy_dialect(self) -> Any:
        from sqlalchemy.dialects import postgresql

        return postgresql.dialect()
    clock_sql = "SELECT LOCALTIMESTAMP, CURRENT_TIMESTAMP"
    facts_sql = ("SELECT split_part(version(), ' on ', 1), CURRENT_TIMESTAMP, current_setting('TimeZone'), "
                 "current_setting('server_encoding') || ' (client ' || current_setting('client_encoding') || ')'")
    transactions_grant: str | None = "GRANT pg_read_all_stats TO the source user"

    privilege_error_codes = frozenset({"42501"})      # insufficient_privilege
    whoami_sql = "SELECT current_user, current_schema()"

    def grantee(self, user: str) -> str:
        return '"' + user.replace('"', '""') + '"'

    def privilege_query(self, sa_dialect: Any, table: str, schema: str | None, current_schema: str | None,
                        privilege: str, columns: Sequence[str]) -> sa.TextClause | None:
        # has_table_privilege / has_column_privilege: the privileges of the session's user, through
        # the roles it inherits, a table-wide grant or one on each column; they run no statement on
        # the table, so no trigger fires and no lock is waited for.
        ref = self.table_ref(sa_dialect, table, schema)
        if columns:
            tests = " AND ".join(f"has_column_privilege(:t, :c{i}, :p)" for i in range(len(columns)))
            params = {f"c{i}": c for i, c in enumerate(columns)}
        else:
            tests, params = "has_table_privilege(:t, :p)", {}
        return sa.text(f"SELECT {tests}").bindparams(t=ref, p=privilege, **params)

    def is_row_error(self, exc: BaseException) -> bool:
        # SQLSTATE class 22 (a value the column cannot hold), 23 (a constraint), P0001 (raised
        # by a trigger): the row, not the batch.
        orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
        code = str(self.error_code(orig) or "") if orig is not None else ""
        # 21000 (cardinality_violation: ON CONFLICT DO UPDATE meeting one target row twice) is
        # two rows of the batch the target takes for one key; bisection isolates them.
        return code[:2] in ("22", "23") or code in ("P0001", "21000") or super().is_row_error(exc)

    # the driver cannot send a value of this type (psycopg 3; psycopg2's words): a dict, say
    unsendable_words = ("cannot adapt type", "can't adapt type")
    # double precision and real hold 'NaN', 'Infinity' and '-Infinity'
    holds_nonfinite_floats = True

    def unsupported_text(self, value: str, charset: str | None) -> str | None:
        if "\x00" in value:
            return (f"contains a NUL character (position {value.index(chr(0)) + 1}), which PostgreSQL text cannot "
                    "store; remove it in the source, or strip it with a pattern on the column")
        return None

    def open_since(self, conn: sa.Connection) -> tuple[bool, Any]:
        # Other roles' transactions show in pg_stat_activity only to members of pg_read_all_stats
        # (and superusers). now() and LOCALTIMESTAMP are the transaction's start, whenever it
        # writes: a transaction that has only read so far (no xid yet) may still write a row with
        # that cursor, so every open transaction of this database counts, not only those that
        # have written. Not: sessions without a transaction, nor an aborted one (it can only roll
        # back; PostgreSQL clears xact_start when it aborts), background processes, and syncd's own
        # sessions (APPLICATION_NAME), which never write to the source.
        sees_all = conn.execute(sa.text(
            "SELECT pg_has_role('pg_read_all_stats', 'MEMBER') "
            "OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)")).scalar()
        started = conn.execute(sa.text(
            "SELECT MIN(xact_start) AT TIME ZONE current_setting('TimeZone') FROM pg_stat_activity "
            "WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() AND datname = current_database() "
            "AND backend_type = 'client backend' "
            "AND application_name IS DISTINCT FROM :syncd")
            .bindparams(syncd=APPLICATION_NAME)).scalar()
        return bool(sees_all), started

    def key_forms(self, conn: sa.Connection, table: str, schema: str | None,
                  types: dict[str, Any]) -> dict[str, KeyForm]:
        # CHAR(n) (the default's), citext (compared by lower()) and a nondeterministic collation
        # (ICU; strength level1 ignores accents too, level2 case only).
        forms = super().key_forms(conn, table, schema, types)
        q = conn.dialect.identifier_preparer.quote
        for name, collation in _text_compared(conn, f"{q(schema)}.{q(table)}" if schema else q(table)).items():
            level1 = "level1" in collation.lower()
            form = text_form(pad=name in forms, case=True, accents=level1, fixed=name in forms,
                             why=f"{name} compares ignoring case" + (" and accents" if level1 else "")
                             + f" ({collation})")
            if form is not None:
                forms[name] = form
        return forms

    # Reconcile's digests in the database (syncd.digest has the rules; tests/test_digest.py holds
    # every column kind to them on PostgreSQL). md5() and the bit casts need no privilege.
    digest_in_database = True

    def datetime_fraction(self, sa_type: Any) -> int:
        precision = getattr(sa_type, "precision", None)
        return 6 if precision is None else int(precision)

    def digest_piece_sql(self, column: str, col: HashColumn, server_version: tuple[int, ...] | None = None) -> str:
        c = column
        kind = col.kind
        if kind in ("str", "text"):
            return f"(CASE WHEN {c} IS NULL OR length({c}) = 0 THEN '' ELSE length({c}) || ':' || {c} END)"
        if kind == "bytes":
            return f"(CASE WHEN {c} IS NULL OR length({c}) = 0 THEN '' ELSE md5({c}) END)"
        if kind == "int" or (kind == "decimal" and col.scale is not None):
            return f"COALESCE(CAST({c} AS text), '')"
        if kind == "decimal":
            text = f"CAST({c} AS text)"
            return (f"COALESCE(CASE WHEN strpos({text}, '.') > 0 THEN rtrim(rtrim({text}, '0'), '.') "
                    f"ELSE {text} END, '')")
        if kind == "datetime":
            layout = "YYYY-MM-DD HH24:MI:SS" + (".US" if col.fraction > 0 else "")
            return f"COALESCE(to_char({c}, '{layout}'), '')"
        if kind == "date":
            return f"COALESCE(to_char({c}, 'YYYY-MM-DD'), '')"
        if kind == "bool":
            return f"(CASE WHEN {c} IS NULL THEN '' WHEN {c} THEN '1' ELSE '0' END)"
        raise ValueError(_("no canonical text for a column of kind {kind!r}").format(kind=kind))

    def md5_sql(self, text: str, server_version: tuple[int, ...] | None) -> str:
        return f"md5(convert_to({text}, 'UTF8'))"

    def hex_number_sql(self, hex_text: str, digits: int) -> str:
        bits = 4 * int(digits)
        return f"CAST(CAST(('x' || substr({hex_text}, 1, {int(digits)})) AS bit({bits})) AS bigint)"
    transient_sqlstates = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300"})
    transient_words = ("server closed the connection", "connection timeout", "terminating connection",
                       "could not connect", "connection refused", "consuming input failed",
                       "the connection is lost", "connection is closed")

    def error_code(self, orig: BaseException) -> Any:
        return getattr(orig, "sqlstate", None)

    def primary_message(self, orig: BaseException) -> str:
        # The server's own message without its DETAIL ("Failing row contains (...)": the row's
        # values), HINT and CONTEXT; a message of the driver's (a lost connection) as it is.
        primary = getattr(getattr(orig, "diag", None), "message_primary", None)
        return primary if isinstance(primary, str) else str(orig)

    def is_transient(self, exc: BaseException) -> bool:
        orig = getattr(exc, "orig", exc)
        code = self.error_code(orig) or ""
        if code in self.transient_sqlstates or code.startswith("08"):
            return True
        return super().is_transient(exc)

    lock_wait_codes = frozenset({"55P03"})     # lock_not_available: lock_timeout ran out

    def bound_lock_waits(self, dbapi_connection: Any, lock_timeout: timedelta) -> None:
        milliseconds = max(1, int(lock_timeout.total_seconds() * 1000))
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {milliseconds}")
        dbapi_connection.commit()           # SET is transactional: keep it past the pool's rollback

    def use_time_zone(self, dbapi_connection: Any, timezone: str) -> None:
        # A timestamptz column takes a time sent without a zone (the staged and the direct COPY,
        # the INSERT's cast) in the session's TimeZone, the server's own by default: UTC on many.
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT set_config('TimeZone', %s, false)", (timezone,))
        dbapi_connection.commit()           # set_config is transactional: keep it past the pool's rollback

    def connect_args(self, driver: str, timeout: timedelta) -> dict[str, Any]:
        # application_name: how open_since tells syncd's own sessions from the county's
        return {"application_name": APPLICATION_NAME,
                "connect_timeout": max(1, int(timeout.total_seconds())), "keepalives": 1,
                "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}

    def prepare(self, conn: sa.Connection, upsert: Upsert) -> Upsert:
        # COPY into a session's temporary table, then one INSERT ... SELECT ... ON CONFLICT: about
        # 1.4x an executemany of the upsert (docs/performance.md). Needs the TEMP privilege, which
        # PUBLIC has unless a province revoked it; without it, executemany.
        allowed = conn.execute(sa.text("SELECT has_database_privilege(current_database(), 'TEMP')")).scalar()
        conn.rollback()
        q = conn.dialect.identifier_preparer.quote
        target = f"{q(upsert.schema)}.{q(upsert.table)}" if upsert.schema else q(upsert.table)
        cols = ", ".join(q(c) for c in upsert.columns)
        conflict = self._conflict(conn, upsert, target)
        attributes = _attributes(conn, target)
        upsert = replace(upsert, sql=f"INSERT INTO {target} AS t ({cols}) VALUES "
                                     f"({', '.join(['%s'] * len(upsert.columns))}) {conflict}")
        direct = _direct_types(conn, target, upsert.columns, attributes,
                               f"INSERT INTO {target} AS t ({cols}) SELECT {cols} FROM {target} WHERE false {conflict}")
        if direct is not None:
            upsert = replace(upsert, direct=f"COPY {target} ({cols}) FROM STDIN (FORMAT BINARY)", direct_types=direct)
        if not allowed:
            return upsert

        def stage(layout: str) -> tuple[str, str, str]:
            name = "syncd_stage_" + hashlib.sha1(f"{target}({cols}) {layout}".encode()).hexdigest()[:12]
            # The rows the INSERT wrote come back as one row of counts: xmax is 0 in a row version
            # this statement inserted, and holds this transaction's id in one it updated (ON
            # CONFLICT locks the row it updates); an unchanged row is not written, so not returned.
            return (f"CREATE TEMP TABLE IF NOT EXISTS {name} {layout}", f"COPY {name} ({cols}) FROM STDIN",
                    f"WITH w AS (INSERT INTO {target} AS t ({cols}) SELECT {cols} FROM {name} {conflict} "
                    "RETURNING (xmax = 0) AS inserted) SELECT COUNT(*) FILTER (WHERE inserted), COUNT(*) FROM w")

        # The text path: a staging table of the target's own types.
        staging = stage(f"ON COMMIT DELETE ROWS AS SELECT {cols} FROM {target} WITH NO DATA")
        types = _types(attributes, upsert.columns, _BINARY_STAGE)
        if types is None:
            # A column of a type the binary path does not cover (a domain, an enum, json, uuid,
            # an array ...): text for every batch.
            return replace(upsert, staging=staging)
        typed = ", ".join(f"{q(c)} {t}" for c, t in zip(upsert.columns, types, strict=True))
        create, copy_in, merge = stage(f"({typed}) ON COMMIT DELETE ROWS")
        return replace(upsert, staging=(*staging, create, copy_in + " (FORMAT BINARY)", merge), staging_types=types)

    def _conflict(self, conn: sa.Connection, upsert: Upsert, target: str) -> str:
        """``ON CONFLICT (key) DO UPDATE SET ... WHERE`` a compared column IS DISTINCT FROM the value
        sent: an unchanged row is not written. Compared by their text (in the C collation): a
        column whose type has no equality operator (json, xml, ...), one whose equality misses a
        change the column would keep (numeric without a scale: 1.0 = 1.00; citext and a
        nondeterministic collation: a change of case)."""
        q = conn.dialect.identifier_preparer.quote
        if not upsert.update or not upsert.compare:
            return f"ON CONFLICT ({', '.join(q(k) for k in upsert.key)}) DO NOTHING"
        try:
            by_text = {str(name) for (name,) in conn.execute(sa.text(
                "SELECT a.attname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
                "LEFT JOIN pg_collation c ON c.oid = a.attcollation "
                "WHERE a.attrelid = CAST(:target AS regclass) AND a.attnum > 0 AND NOT a.attisdropped "
                "AND (NOT EXISTS (SELECT 1 FROM pg_operator o "
                "WHERE o.oprname = '=' AND o.oprleft = a.atttypid AND o.oprright = a.atttypid) "
                "OR (a.atttypid = 1700 AND a.atttypmod = -1) OR t.typname = 'citext' "
                "OR NOT COALESCE(c.collisdeterministic, true))"),
                {"target": target})}
        except sa.exc.DBAPIError:
            by_text = set()
        conn.rollback()

        def value(side: str, c: str) -> str:
            return f'(CAST({side}.{q(c)} AS text) COLLATE "C")' if c in by_text else f"{side}.{q(c)}"
        changed = " OR ".join(f"{value('t', c)} IS DISTINCT FROM {value('excluded', c)}" for c in upsert.compare)
        sets = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in upsert.update)
        return f"ON CONFLICT ({', '.join(q(k) for k in upsert.key)}) DO UPDATE SET {sets} WHERE {changed}"

    def write(self, cursor: Any, upsert: Upsert, rows: list[tuple[Any, ...]], kinds: Sequence[str]) -> Written:
        if upsert.direct is not None:
            done = _copy_direct(cursor, upsert.direct, upsert.direct_types, rows)
            if done is not None:
                return done
        if not upsert.staging:
            return super().write(cursor, upsert, rows, kinds)
        if not upsert.staging_types:
            return _stage_and_merge(cursor, upsert.staging[:3], rows)
        # Binary COPY: psycopg's C dumpers format a row in half the time its text COPY takes, and
        # the server reads it faster (raw_copy against raw_copy_text in docs/performance.md). The
        # mapping casts every value to its target column's kind (transform.make_caster), which
        # is the Python type these dumpers take. Should a value still be one a binary dumper
        # refuses, the savepoint lets the batch go again by the text path, exactly as it always
        # went. The savepoint's statements ride on round trips the batch makes anyway.
        create, copy_in, merge = upsert.staging[3:6]
        cursor.execute(f"{create}; SAVEPOINT syncd_copy")
        try:
            _copy(cursor, copy_in, rows, upsert.staging_types)
        except _binary_refusals():
            if cursor.connection.broken:
                raise
            cursor.execute("ROLLBACK TO SAVEPOINT syncd_copy")
            return _stage_and_merge(cursor, upsert.staging[:3], rows)
        cursor.execute(f"RELEASE SAVEPOINT syncd_copy; {merge}")
        return _merged(cursor, len(rows))


def _text_compared(conn: sa.Connection, target: str) -> dict[str, str]:
    """The columns of ``target`` whose equality ignores case: citext, or a nondeterministic
    collation; by name, with the type or collation (and its locale) that says so."""
    try:
        found = {str(name): str(why) for name, why in conn.execute(sa.text(
            "SELECT a.attname, CASE WHEN t.typname = 'citext' THEN 'citext' ELSE c.collname || ' ' || "
            "COALESCE(to_jsonb(c) ->> 'colliculocale', to_jsonb(c) ->> 'colllocale', c.collcollate, '') END "
            "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "LEFT JOIN pg_collation c ON c.oid = a.attcollation "
            "WHERE a.attrelid = CAST(:target AS regclass) AND a.attnum > 0 AND NOT a.attisdropped "
            "AND (t.typname = 'citext' OR NOT c.collisdeterministic)"), {"target": target})}
    except sa.exc.DBAPIError:
        found = {}
    conn.rollback()
    return found


def _attributes(conn: sa.Connection, target: str) -> dict[str, tuple[int, bool]] | None:
    """The target's columns: name -> (type OID, whether a value sent may not be stored as given:
    an identity column GENERATED ALWAYS, or a generated column); None when they cannot be read."""
    try:
        found = {str(name): (int(oid), bool(fixed)) for name, oid, fixed in conn.execute(sa.text(
            "SELECT a.attname, a.atttypid, COALESCE(to_jsonb(a) ->> 'attidentity', '') = 'a' "
            "OR COALESCE(to_jsonb(a) ->> 'attgenerated', '') <> '' FROM pg_attribute a "
            "WHERE a.attrelid = CAST(:target AS regclass) AND a.attnum > 0 AND NOT a.attisdropped"),
            {"target": target})}
    except sa.exc.DBAPIError:
        found = None
    conn.rollback()
    return found


def _types(attributes: dict[str, tuple[int, bool]] | None, columns: Sequence[str],
           by_oid: dict[int, str]) -> tuple[str, ...] | None:
    """The binary COPY types of ``columns`` by their target types, or None when a column has none."""
    if attributes is None:
        return None
    types = [by_oid.get(attributes.get(c, (0, False))[0]) for c in columns]
    if any(t is None for t in types):
        return None
    return tuple(t for t in types if t is not None)


def _direct_types(conn: sa.Connection, target: str, columns: Sequence[str],
                  attributes: dict[str, tuple[int, bool]] | None, merge: str) -> tuple[str, ...] | None:
    """The column types for a binary COPY straight into ``target``, when this run may try one: the
    table holds no row yet (a first full copy), and a COPY into it does all that the INSERT ... ON
    CONFLICT would do to new rows. That is so for a plain table (not a view, a partitioned or a
    foreign table) without rules (which COPY does not apply), row security (which refuses COPY),
    triggers of its own (ON CONFLICT DO UPDATE fires UPDATE statement triggers too), deferrable
    unique keys (which would refuse a duplicate only at commit), and identity or generated columns
    among the columns sent, each of whose types COPY reads in binary exactly as the INSERT casts
    the staged value (_BINARY_DIRECT). And the server must take the run's upsert itself (``merge``,
    run on no rows): a table without a unique index on the key would otherwise take a key twice
    (ON CONFLICT refuses it), and a missing UPDATE privilege would be found only by the next run.
    Otherwise None: the run writes as it always does."""
    types = _types(attributes, columns, _BINARY_DIRECT)
    if types is None or attributes is None or any(attributes[c][1] for c in columns):
        return None
    try:
        plain = conn.execute(sa.text(
            "SELECT c.relkind = 'r' AND NOT c.relhasrules AND NOT c.relrowsecurity "
            "AND NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid "
            "AND k.contype IN ('p', 'u', 'x') AND k.condeferrable) "
            "FROM pg_class c WHERE c.oid = CAST(:target AS regclass)"), {"target": target}).scalar()
        empty = plain and conn.execute(sa.text(f"SELECT NOT EXISTS (SELECT 1 FROM {target})")).scalar()
        if empty:
            # no row is selected, so none is written; with no trigger of its own, nothing fires
            conn.exec_driver_sql(merge)
    except sa.exc.DBAPIError:
        empty = False
    conn.rollback()
    return types if empty else None


#: Target column type (built-in OID) -> its binary COPY type when a batch goes straight into the
#: target: the server's binary input of each applies the column's modifier as the INSERT's cast
#: from the staging table does (numeric(p, s) rounds, varchar(n) and char(n) check the length and
#: cut trailing spaces, timestamp(p) rounds). The binary encoding of smallint and integer would
#: wrap a value out of their range: a batch holding one is staged (_INTEGER_RANGES), where the
#: INSERT refuses it. real is not here (a double too large or too small for it would become an
#: infinity or a zero), nor is timestamptz (a naive timestamp is staged and becomes one in the
#: session's time zone).
_BINARY_DIRECT: dict[int, str] = {
    20: "int8", 21: "int2", 23: "int4", 701: "float8", 1700: "numeric",
    25: "text", 1043: "text", 1042: "text", 1114: "timestamp", 1082: "date", 16: "bool", 17: "bytea",
}
_INTEGER_RANGES = {"int2": (-2 ** 15, 2 ** 15 - 1), "int4": (-2 ** 31, 2 ** 31 - 1)}


#: Target column type (built-in OID) -> staging column type for a binary COPY. The INSERT from the
#: staging table casts to the target's type as COPY into the target's own type would parse: the
#: same range checks (smallint, integer and real are staged wider, so an out-of-range value is an
#: error there instead of wrapping in the binary encoding), the same rounding to numeric(p, s),
#: the same length checks for varchar(n) and char(n), and a timestamp becomes a timestamptz in the
#: session's time zone, as its text would. Types not listed keep the text path.
_BINARY_STAGE: dict[int, str] = {
    20: "int8", 21: "int8", 23: "int8",             # bigint, smallint, integer
    700: "float8", 701: "float8",                   # real, double precision
    1700: "numeric",
    25: "text", 1043: "text", 1042: "text",         # text, varchar, char
    1114: "timestamp", 1184: "timestamp",           # timestamp, timestamptz
    1082: "date",
    16: "bool",
    17: "bytea",
}


def _binary_refusals() -> tuple[type[BaseException], ...]:
    """What a binary COPY raises for a value it cannot encode (the driver is loaded by then)."""
    import psycopg

    return (TypeError, ValueError, OverflowError, psycopg.DataError, psycopg.ProgrammingError)


#: SQLSTATE classes of a server's refusal of a direct COPY that the staged INSERT meets as it always
#: did (then with the same message): a value (22), a constraint or a key the table holds (23), a
#: type or a privilege (42), what COPY does not support (0A), a raise (P0)
_STAGE_AGAIN = frozenset({"22", "23", "42", "0A", "P0"})


def _copy_direct(cursor: Any, statement: str, types: Sequence[str], rows: list[tuple[Any, ...]]) -> Written | None:
    """The batch as new rows, by one binary COPY into the target; None when it went back (to a
    savepoint) because the server or the driver refused it, a key the table holds among them:
    the caller then writes it as it would have. A lock wait, a cut connection or a cancel is raised."""
    import psycopg

    for i, kind in enumerate(types):
        bounds = _INTEGER_RANGES.get(kind)
        if bounds is not None:
            values = [row[i] for row in rows if row[i] is not None]
            try:
                if values and (min(values) < bounds[0] or max(values) > bounds[1]):
                    return None
            except TypeError:
                return None
    cursor.execute("SAVEPOINT syncd_direct")
    try:
        _copy(cursor, statement, rows, types)
    except (TypeError, ValueError, OverflowError, psycopg.Error) as exc:
        state = getattr(exc, "sqlstate", None)
        if cursor.connection.broken or (state is not None and state[:2] not in _STAGE_AGAIN):
            raise
        cursor.execute("ROLLBACK TO SAVEPOINT syncd_direct")
        return None
    return Written(inserted=len(rows))


def _stage_and_merge(cursor: Any, statements: Sequence[str], rows: list[tuple[Any, ...]]) -> Written:
    create, copy_in, merge = statements
    cursor.execute(create)
    _copy(cursor, copy_in, rows)
    cursor.execute(merge)
    return _merged(cursor, len(rows))


def _merged(cursor: Any, rows: int) -> Written:
    """What the merge from the staging table did: its one row of counts (after any results of the
    statements sent before it in the same string)."""
    while cursor.description is None and cursor.nextset():
        pass
    inserted, written = cursor.fetchone()
    return Written(int(inserted), int(written) - int(inserted), rows - int(written))


def _copy(cursor: Any, statement: str, rows: list[tuple[Any, ...]], types: Sequence[str] = ()) -> None:
    with cursor.copy(statement) as copy:
        if types:
            copy.set_types(types)
        write_row = copy.write_row
        for row in rows:
            write_row(row)
