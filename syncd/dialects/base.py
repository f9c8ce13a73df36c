"""What every dialect provides; the shared default behaviour.

A dialect here is a target or source *database kind*: how to upsert, how to ask the clock,
which errors are worth retrying, how to bind large values. Nothing outside ``syncd/dialects``
checks a dialect's name.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect as SADialect

from syncd.digest import BUCKET_DIGITS, GROUP, SEPARATOR, VALUE_DIGITS, DigestPlan, HashColumn, groups
from syncd.i18n import _


@dataclass(frozen=True)
class Written:
    """What one write did to the rows it sent: inserted, updated, or left unchanged (an existing row
    whose compared columns already hold the values sent is not written)."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: Written) -> Written:
        return Written(self.inserted + other.inserted, self.updated + other.updated,
                       self.unchanged + other.unchanged)

    @classmethod
    def of(cls, rows: int, existing: int, changed: int) -> Written:
        """From the rows sent, how many of their keys the target held before, and how many rows the
        statement inserted or updated (what most databases count)."""
        inserted = rows - existing
        updated = min(max(changed - inserted, 0), existing)
        return cls(inserted, updated, existing - updated)


@dataclass(frozen=True)
class KeyForm:
    """How the target compares a key column's values, where Python's ``==`` would differ: ``normal``
    maps two values to equal ones when the target takes them for the same key; ``why`` says so."""

    normal: Callable[[Any], Any]
    why: str
    #: what the target keeps of a value that ``normal`` loses (its case, accents): a stored key
    #: that differs from the one sent in this form was written from another source key. None:
    #: nothing (CHAR's padding is lost in storage too).
    kept: Callable[[Any], Any] | None = None


def text_form(*, pad: bool, case: bool, accents: bool, why: str, fixed: bool = False) -> KeyForm | None:
    """The form of a text key compared ignoring trailing spaces (``pad``: CHAR, a PAD SPACE
    collation), case (``case``) and accents (``accents``: an accent-insensitive collation).
    ``fixed``: a CHAR(n) column, which does not keep trailing spaces either."""
    if not (pad or case or accents):
        return None

    def normal(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if pad:
            value = value.rstrip(" ")
        if accents:
            value = "".join(c for c in unicodedata.normalize("NFKD", value) if not unicodedata.combining(c))
        return value.casefold() if case else value
    kept = None if fixed and not (case or accents) else _rstrip if fixed else _same
    return KeyForm(normal, why, kept)


def is_fixed_length(sa_type: Any) -> bool:
    """CHAR(n) / NCHAR(n): a fixed-length text type, its values padded with spaces."""
    return isinstance(sa_type, (sa.CHAR, sa.NCHAR)) and not isinstance(sa_type, (sa.VARCHAR, sa.NVARCHAR))




@dataclass(frozen=True)
class UniqueIndex:
    """A unique index of the target table besides the mapping's key, on columns the upsert sends,
    that the upsert does not arbitrate (MySQL's ON DUPLICATE KEY UPDATE meets a row on any unique
    index): after a batch is written, its rows are checked against the rows of other keys."""

    name: str
    columns: tuple[str, ...]            # as the upsert names them
    #: ``SELECT COUNT(*)`` of the target rows holding the key and ``columns`` of some number of rows
    held_sql: Callable[[int], str] = field(compare=False, repr=False)
    #: for some number of rows, a statement selecting (the row's position, the other row's key) of a
    #: row whose values of the index a row of another key holds: (position, values of the index,
    #: key) bound for each row
    met_sql: Callable[[int], str] = field(compare=False, repr=False)


@dataclass(frozen=True)
class Upsert:
    """How one run writes batches into one target table, built once per run."""

    table: str
    schema: str | None
    columns: tuple[str, ...]
    key: tuple[str, ...]
    update: tuple[str, ...]
    sql: str                            # the statement an executemany sends row by row
    staging: tuple[str, ...] = ()       # a dialect's bulk path (PostgreSQL: COPY statements)
    staging_types: tuple[str, ...] = ()  # the bulk path's column types, when it can send values in binary
    #: the update columns whose difference makes an existing row changed; the others (filled by
    #: ``value: now`` or ``value: run_id``) are set only when the row changed
    compare: tuple[str, ...] = ()
    #: ``SELECT COUNT(*)`` of the target rows holding some number of keys (placeholders for them)
    existing_sql: Callable[[int], str] | None = field(default=None, compare=False, repr=False)
    #: a dialect's statement for the largest row id, read before and after the upsert to count the
    #: rows a batch inserted (SQLite)
    rowids: str | None = None
    #: a dialect's COPY straight into the target table and its column types, for a run that found
    #: the table empty (PostgreSQL): a batch goes in as new rows, or the way above when it cannot
    direct: str | None = None
    direct_types: tuple[str, ...] = ()
    #: unique indexes besides the key that the statement does not arbitrate (MySQL), checked
    #: after each write
    other_unique: tuple[UniqueIndex, ...] = ()


class Dialect:
    """Defaults that hold for most databases; subclasses override what differs."""

    name = "default"
    #: for generated DDL: a line its reader should know, and whether comments need COMMENT ON
    ddl_note: str | None = None
    ddl_separate_comments = False
    #: SQL selecting (naive local timestamp, aware timestamp) of the database's clock
    clock_sql = "SELECT LOCALTIMESTAMP, CURRENT_TIMESTAMP"
    #: SQL selecting what check --connect shows of a database: (server version, its clock in UTC
    #: (naive UTC, or aware), the session's time zone, the character set)
    facts_sql = "SELECT NULL, CURRENT_TIMESTAMP, NULL, NULL"
    #: what would let the source user see other sessions' open transactions (for check --connect)
    transactions_grant: str | None = None
    #: error codes (driver-specific) that mean: the target refuses this row (a value it cannot
    #: hold, a constraint, a trigger), not the batch or the connection
    row_error_codes: frozenset[Any] = frozenset()
    #: words of the driver's own message when it cannot send a row's value (a type or a value it
    #: has no form for), before the database sees the batch: the row, not the batch
    unsendable_words: tuple[str, ...] = ()
    #: whether the target's floating-point columns hold NaN and infinity; where they do not, such
    #: a value is a reject before the write
    holds_nonfinite_floats = False

    def is_row_error(self, exc: BaseException) -> bool:
        """True when the target refused a batch for what some row holds: then the batch is split
        until the refused rows are found, and they become rejects."""
        if isinstance(exc, (sa.exc.DataError, sa.exc.IntegrityError)):
            return True
        orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
        if orig is None:
            return False
        if self.error_code(orig) in self.row_error_codes:
            return True
        text = str(orig).lower()
        return any(word in text for word in self.unsendable_words)

    def open_since(self, conn: sa.Connection) -> tuple[bool, Any]:
        """(whether this session sees every other session's open transactions, the start of the
        oldest it sees that may still write a row stamped with the database's clock, as a naive
        local time, or None). By default it sees none."""
        return False, None

    # -- reconcile's row digests (syncd.digest): the same canonical text, in SQL ----------------
    #: whether the database computes reconcile's digests itself; if not, the target's rows are read
    #: and hashed in Python (SQLite: a local file, with no link to spare)
    digest_in_database = False

    def digest_prefix(self, kind: str) -> int | None:
        """Text (``str``, ``text``) and binary (``bytes``) values compared by their length and the hash
        of this many leading characters or bytes; None: hashed whole."""
        return None

    def datetime_fraction(self, sa_type: Any) -> int:
        """Digits of a second's fraction a reflected date/time column keeps."""
        return 6

    def rounds_fractions(self, sa_dialect: SADialect) -> bool:
        """Whether a finer fraction of a second is rounded (True) or cut off when stored."""
        return True

    def digest_piece_sql(self, column: str, col: HashColumn, server_version: tuple[int, ...] | None = None) -> str:
        """SQL giving the canonical text of ``column`` (quoted) as ``syncd.digest`` writes it."""
        raise NotImplementedError(f"{self.name}: reconcile hashes this database's rows in Python")

    def md5_sql(self, text: str, server_version: tuple[int, ...] | None) -> str:
        """SQL giving the lower-case hex MD5 of the ASCII text ``text``."""
        raise NotImplementedError(f"{self.name}: reconcile hashes this database's rows in Python")

    def hex_number_sql(self, hex_text: str, digits: int) -> str:
        """SQL giving the number written by the first ``digits`` hex digits of ``hex_text``."""
        raise NotImplementedError(f"{self.name}: reconcile hashes this database's rows in Python")

    def concat_sql(self, parts: Sequence[str]) -> str:
        return "(" + " || ".join(parts) + ")"

    def row_hash_sql(self, pieces: Sequence[str], server_version: tuple[int, ...] | None) -> str:
        """SQL giving the hex MD5 of a row's text (``syncd.digest.row_text``) from its pieces' SQL."""
        def joined(parts: Sequence[str]) -> str:
            spaced: list[str] = []
            for part in parts:
                if spaced:
                    spaced.append(f"'{SEPARATOR}'")
                spaced.append(part)
            return self.concat_sql(spaced) if len(spaced) > 1 else spaced[0]
        if len(pieces) <= GROUP:
            return self.md5_sql(joined(pieces), server_version)
        return self.md5_sql(joined([self.md5_sql(joined(g), server_version) for g in groups(pieces)]),
                            server_version)

    def bucket_sql(self, key_hash: str, buckets: int) -> str:
        """SQL giving a row's bucket from its key's hex hash (``syncd.digest.fine_bucket`` modulo ``buckets``)."""
        return f"MOD({self.hex_number_sql(key_hash, BUCKET_DIGITS)}, {int(buckets)})"

    def row_value_sql(self, row_hash: str) -> str:
        """SQL giving what a row adds to its bucket's sum (``syncd.digest.row_value``)."""
        return self.hex_number_sql(row_hash, VALUE_DIGITS)

    def _digest_parts(self, sa_dialect: SADialect, digest: DigestPlan, buckets: int,
                      server_version: tuple[int, ...] | None) -> tuple[str, str, str, str]:
        """(FROM ... WHERE ..., bucket, key hash, row value) SQL of ``digest``."""
        def piece(col: HashColumn) -> str:
            return self.digest_piece_sql(self.quote(sa_dialect, col.name), col, server_version)
        key_hash = self.row_hash_sql([piece(c) for c in digest.key], server_version)
        row_hash = self.row_hash_sql([piece(c) for c in digest.columns], server_version)
        where = [f"({digest.scope})"] if digest.scope else []
        if digest.marked:
            # rows marked deleted (every piece equal to its text) are left out; '#' keeps Oracle's
            # empty text (NULL) comparable
            mark = "'#'"
            tests = " AND ".join(f"{self.concat_sql([mark, piece(c)])} = '#{text}'" for c, text in digest.marked)
            where.append(f"(CASE WHEN {tests} THEN 1 ELSE 0 END) = 0")
        source = f"FROM {self.table_ref(sa_dialect, digest.table, digest.schema)}"
        if where:
            source += " WHERE " + " AND ".join(where)
        return source, self.bucket_sql(key_hash, buckets), key_hash, self.row_value_sql(row_hash)

    def bucket_digests_sql(self, sa_dialect: SADialect, digest: DigestPlan, buckets: int,
                           server_version: tuple[int, ...] | None = None) -> str:
        """SELECT bucket, rows, sum of row values ... GROUP BY bucket: an unchanged table's digests."""
        source, bucket, _key_hash, value = self._digest_parts(sa_dialect, digest, buckets, server_version)
        return f"SELECT b, COUNT(*), SUM(v) FROM (SELECT {bucket} AS b, {value} AS v {source}) d GROUP BY b"

    def bucket_rows_sql(self, sa_dialect: SADialect, digest: DigestPlan, buckets: int, chosen: Sequence[int],
                        with_key: bool = True, server_version: tuple[int, ...] | None = None) -> str:
        """SELECT key hash, row value (and, ``with_key``, the key columns) of the rows in the ``chosen`` buckets."""
        source, bucket, key_hash, value = self._digest_parts(sa_dialect, digest, buckets, server_version)
        q = lambda n: self.quote(sa_dialect, n)  # noqa: E731
        columns = ", ".join([f"{key_hash} AS kh", f"{value} AS v", *(q(c.name) for c in digest.key if with_key)])
        wanted = sorted(set(int(b) for b in chosen))
        if len(wanted) >= buckets:
            return f"SELECT {columns} {source}"
        # at most 1000 values in one IN list (Oracle's limit)
        lists = [", ".join(str(b) for b in wanted[i:i + 1000]) for i in range(0, len(wanted), 1000)]
        test = " OR ".join(f"{bucket} IN ({listed})" for listed in lists)
        glue = " AND " if " WHERE " in source else " WHERE "
        return f"SELECT {columns} {source}{glue}({test})"
    #: error codes (driver-specific) that mean: try again
    transient_codes: frozenset[Any] = frozenset()
    transient_words: tuple[str, ...] = ()

    def use_client(self, lib_dir: Path) -> None:
        """Load a client library from ``lib_dir`` for this database's driver (Oracle's thick mode)."""

    def database_file(self, url: sa.URL) -> Path | None:
        """The file holding the database, for databases that are one (SQLite); else None."""
        return None

    def missing_file(self, url: sa.URL) -> str | None:
        """Why the database file a source or target URL names cannot be opened without creating it
        (it or its folder does not exist); None for a file that exists, or a database that is no file."""
        path = self.database_file(url)
        if path is None or path.is_file():
            return None
        if path.exists():
            return _("{path} is not a database file (it is a folder or a device)").format(path=path)
        if not path.parent.is_dir():
            return _("the database file {path} does not exist, nor does its folder {folder}").format(
                path=path, folder=path.parent)
        return _("the database file {path} does not exist").format(path=path)

    def snapshot_cursor(self, cursor: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """The cursor column as the conditions of a snapshot read (a full copy, in key order) name
        it: as it is, for databases that choose the key's order for such a read themselves."""
        return cursor

    def prepare_state_connection(self, dbapi_connection: Any, *, journal_mode: str = "WAL") -> None:
        """Settings for each new driver connection of a state store on this database (SQLite's
        journal mode, ``journal_mode``: WAL, or DELETE on a network file system); a setting
        refused is left to the store's own statements to report."""

    def sqlalchemy_dialect(self) -> SADialect:
        """SQLAlchemy's dialect, to compile statements without a server (DDL, tests)."""
        from sqlalchemy.dialects import sqlite

        return sqlite.dialect()

    def placeholders(self, sa_dialect: SADialect, count: int) -> list[str]:
        style = sa_dialect.paramstyle
        if style == "qmark":
            return ["?"] * count
        if style in ("numeric", "named"):
            return [f":{i + 1}" for i in range(count)]
        return ["%s"] * count

    def quote(self, sa_dialect: SADialect, name: str) -> str:
        return sa_dialect.identifier_preparer.quote(name)

    def table_ref(self, sa_dialect: SADialect, table: str, schema: str | None) -> str:
        ref = self.quote(sa_dialect, table)
        return f"{self.quote(sa_dialect, schema)}.{ref}" if schema else ref

    def changed_sql(self, old: str, new: str, kind: str | None = None, *, fixed: bool = False) -> str:
        """SQL true when ``old`` and ``new`` differ, NULL counting as a value (NULL-safe)."""
        return f"{old} IS DISTINCT FROM {new}"

    @staticmethod
    def differ_or_one_null(old: str, new: str, differ: str) -> str:
        """``differ`` (a comparison false or NULL when either side is NULL), or exactly one side NULL:
        a NULL-safe difference where the database has no ``IS DISTINCT FROM``."""
        return f"({differ} OR ({old} IS NULL AND {new} IS NOT NULL) OR ({old} IS NOT NULL AND {new} IS NULL))"

    def merge_sql(self, sa_dialect: SADialect, table: str, schema: str | None, columns: Sequence[str],
                  key: Sequence[str], update: Sequence[str], compare: Sequence[str] | None = None,
                  kinds: Sequence[str] = (), fixed: Sequence[str] = ()) -> str:
        """``MERGE INTO ... USING (SELECT ... FROM dual)``, the upsert of the databases that write
        Oracle's SQL (Oracle, DM8): a matched row is updated only when a compared column differs
        (``changed_sql``, NULL-safe), since MERGE counts, and writes, no other."""
        q = lambda n: self.quote(sa_dialect, n)  # noqa: E731
        marks = self.placeholders(sa_dialect, len(columns))
        using = ", ".join(f"{m} AS {q(c)}" for m, c in zip(marks, columns, strict=True))
        on = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in key)
        insert_cols = ", ".join(q(c) for c in columns)
        insert_vals = ", ".join(f"s.{q(c)}" for c in columns)
        sql = f"MERGE INTO {self.table_ref(sa_dialect, table, schema)} t USING (SELECT {using} FROM dual) s ON ({on})"
        compare = list(update if compare is None else compare)
        if update and compare:
            kind_of = dict(zip(columns, kinds, strict=False))
            changed = " OR ".join(self.changed_sql(f"t.{q(c)}", f"s.{q(c)}", kind_of.get(c), fixed=c in fixed)
                                  for c in compare)
            sql += (" WHEN MATCHED THEN UPDATE SET " + ", ".join(f"t.{q(c)} = s.{q(c)}" for c in update) +
                    f" WHERE {changed}")
        return sql + f" WHEN NOT MATCHED THEN INSERT ({insert_cols}) VALUES ({insert_vals})"

    def upsert_sql(self, sa_dialect: SADialect, table: str, schema: str | None, columns: Sequence[str],
                   key: Sequence[str], update: Sequence[str], compare: Sequence[str] | None = None,
                   kinds: Sequence[str] = (), fixed: Sequence[str] = ()) -> str:
        """``INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE`` a compared column differs (SQLite,
        PostgreSQL): an existing row that already holds the values sent is not written."""
        q = lambda n: self.quote(sa_dialect, n)  # noqa: E731
        cols = ", ".join(q(c) for c in columns)
        marks = ", ".join(self.placeholders(sa_dialect, len(columns)))
        conflict = ", ".join(q(k) for k in key)
        compare = list(update if compare is None else compare)
        if update and compare:
            kind_of = dict(zip(columns, kinds, strict=False))
            changed = " OR ".join(self.changed_sql(f"t.{q(c)}", f"excluded.{q(c)}", kind_of.get(c)) for c in compare)
            action = ("DO UPDATE SET " + ", ".join(f"{q(c)} = excluded.{q(c)}" for c in update) +
                      f" WHERE {changed}")
        else:
            action = "DO NOTHING"
        return (f"INSERT INTO {self.table_ref(sa_dialect, table, schema)} AS t ({cols}) VALUES ({marks}) "
                f"ON CONFLICT ({conflict}) {action}")

    def upsert(self, sa_dialect: SADialect, table: str, schema: str | None, columns: Sequence[str],
               key: Sequence[str], update: Sequence[str], compare: Sequence[str] | None = None,
               kinds: Sequence[str] = (), fixed: Sequence[str] = ()) -> Upsert:
        """``compare``: the update columns whose difference makes a row changed (None: all of them).
        With none to compare, an existing row is never changed: the upsert only inserts. ``fixed``:
        the CHAR(n) / NCHAR(n) columns (blank-padded)."""
        compared = tuple(update) if compare is None else tuple(c for c in update if c in set(compare))
        if not compared:
            update = ()
        return Upsert(table, schema, tuple(columns), tuple(key), tuple(update),
                      self.upsert_sql(sa_dialect, table, schema, columns, key, update, compared, kinds, fixed),
                      compare=compared, existing_sql=self._existing_sql(sa_dialect, table, schema, key))

    #: bound values per ``SELECT COUNT(*)`` of existing keys (keys x key columns): within the 999
    #: host parameters of SQLite before 3.32
    existing_binds = 500

    #: A database that stores DATETIME values as ISO text (SQLite) keeps here, from the mapping of a
    #: batch to its write, the text each value was read from when that text is already the form it
    #: stores (``RowMapper(datetime_texts=...)``, emptied by ``RowMapper.written``): its writer sends
    #: that text instead of formatting the value again. One dict for every SQLite target of the
    #: process: keyed by value, and a value has one such form, so an entry is never wrong (one left by
    #: another run at most saves a formatting). None: the database keeps nothing.
    datetime_texts: dict[Any, str] | None = None

    #: a source query's rows are fetched from the driver's own cursor, as the tuples it makes, not
    #: through SQLAlchemy's Rows (its fetch and its Row objects: 0.1 s of a 200 000-row SQLite read).
    #: For a driver whose plain cursor steps through the rows as they are fetched (SQLite): the
    #: query then runs without ``stream_results``, under which SQLAlchemy reads a row ahead itself.
    source_driver_rows = False

    #: batches read ahead in a thread while the previous one is written, when ``defaults.prefetch``
    #: is not set: reading over a network leaves the process waiting, and the thread fills that wait
    prefetch = 1
    #: how many values (or rows of values) one ``IN (...)`` list may hold; None: any number.
    #: With a limit, a chunk's keys go in several lists, OR-ed.
    in_list_limit: int | None = None

    def existing_chunk(self, key_columns: int) -> int:
        """Keys per ``SELECT COUNT(*)`` of the keys a batch's target holds."""
        return max(1, self.existing_binds // max(1, key_columns))

    def _existing_sql(self, sa_dialect: SADialect, table: str, schema: str | None,
                      key: Sequence[str]) -> Callable[[int], str]:
        q = lambda n: self.quote(sa_dialect, n)  # noqa: E731
        head = f"SELECT COUNT(*) FROM {self.table_ref(sa_dialect, table, schema)} WHERE "
        limit = self.in_list_limit

        @functools.lru_cache(maxsize=8)
        def sql(keys: int) -> str:
            marks = self.placeholders(sa_dialect, keys * len(key))
            if len(key) == 1:
                values = marks
                column = q(key[0])
            elif limit is not None:      # a row value IN a list of rows (Oracle)
                values = ["(" + ", ".join(marks[i:i + len(key)]) + ")" for i in range(0, len(marks), len(key))]
                column = "(" + ", ".join(q(k) for k in key) + ")"
            else:
                row = iter(marks)
                return head + " OR ".join("(" + " AND ".join(f"{q(k)} = {next(row)}" for k in key) + ")"
                                          for _ in range(keys))
            step = limit or len(values)
            lists = [f"{column} IN ({', '.join(values[i:i + step])})" for i in range(0, len(values), step)]
            return head + (lists[0] if len(lists) == 1 else "(" + " OR ".join(lists) + ")")
        return sql

    def prepare(self, conn: sa.Connection, upsert: Upsert) -> Upsert:
        """Adjust the write path to what this connection may do (once per run)."""
        return upsert

    def write(self, cursor: Any, upsert: Upsert, rows: list[tuple[Any, ...]], kinds: Sequence[str]) -> Written:
        """Send one batch inside the caller's transaction; what it did to the target's rows.

        By default the database counts the rows an upsert inserted or updated, not which: the
        batch's keys the target holds are counted first, in the same transaction."""
        existing = self.count_existing(cursor, upsert, rows, kinds)
        self.executemany(cursor, upsert.sql, rows, kinds)
        return Written.of(len(rows), existing, cursor.rowcount)

    def count_existing(self, cursor: Any, upsert: Upsert, rows: list[tuple[Any, ...]], kinds: Sequence[str]) -> int:
        """How many of the rows' keys the target holds (the keys of a batch are distinct)."""
        if upsert.existing_sql is None:
            raise ValueError(_("this upsert cannot count existing keys"))
        at = [upsert.columns.index(k) for k in upsert.key]
        key_kinds = [kinds[i] for i in at] if kinds else []
        found = 0
        chunk = self.existing_chunk(len(at))
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            values = [v for row in self.bind_keys([tuple(row[i] for i in at) for row in part], key_kinds) for v in row]
            cursor.execute(upsert.existing_sql(len(part)), values)
            found += int(cursor.fetchone()[0])
        return found

    def bind_keys(self, keys: list[tuple[Any, ...]], kinds: Sequence[str]) -> list[tuple[Any, ...]]:
        """Key values as this database's driver binds them (SQLite: as the batch's rows are stored)."""
        return keys

    def executemany(self, cursor: Any, sql: str, rows: list[tuple[Any, ...]], kinds: Sequence[str]) -> None:
        """Send one batch through the DB-API cursor (no per-row dicts: that is where time goes)."""
        cursor.executemany(sql, rows)

    def clock_select(self) -> sa.TextClause:
        return sa.text(self.clock_sql)

    def error_code(self, orig: BaseException) -> Any:
        args = getattr(orig, "args", ())
        return args[0] if args else None

    def is_transient(self, exc: BaseException) -> bool:
        """True for errors a retry can cure: a lost connection, a timeout, a deadlock, a lock wait."""
        orig: BaseException | None
        if isinstance(exc, sa.exc.DBAPIError):
            if exc.connection_invalidated:
                return True
            orig = exc.orig
        elif isinstance(exc, sa.exc.TimeoutError):
            return True
        else:
            orig = exc
        if isinstance(orig, (ConnectionError, TimeoutError)):
            return True
        if orig is None:
            return False
        if self.is_row_error(exc):
            # the row's own values (a remark saying "connection refused") are in its message
            return False
        if self.error_code(orig) in self.transient_codes:
            return True
        text = self.primary_message(orig).lower()
        return any(word in text for word in self.transient_words)

    def primary_message(self, orig: BaseException) -> str:
        """What the driver says went wrong, without what it quotes of the rows (PostgreSQL's DETAIL)."""
        return str(orig)

    #: How the database measures a string against a column's declared length: characters. The
    #: builtin itself, so the mapping can tell and take its fast path.
    text_length = staticmethod(len)

    def unsupported_text(self, value: str, charset: str | None) -> str | None:
        """A reason the column's character set cannot hold ``value``, or None."""
        return None

    def column_charsets(self, conn: sa.Connection, table: str, schema: str | None) -> dict[str, str]:
        return {}

    def key_forms(self, conn: sa.Connection, table: str, schema: str | None,
                  types: dict[str, Any]) -> dict[str, KeyForm]:
        """The columns of ``table`` (reflected: ``types`` by name) whose values the target compares
        otherwise than Python's ``==``. By default CHAR(n) and NCHAR(n): blank-padded, 'b' = 'b '."""
        return {name: KeyForm(_rstrip, f"{name} is CHAR: trailing spaces do not count")
                for name, sa_type in types.items() if is_fixed_length(sa_type)}

    # -- privileges (check --connect): each use tried on no rows, rolled back ---------------------
    #: SQL giving (the session's user, its current schema or database); None: the database has no users
    whoami_sql: str | None = None
    #: what a SELECT of constants needs after its column list, if anything (Oracle: FROM dual)
    from_nothing = ""
    #: error codes (driver-specific) that mean: this user may not do that
    privilege_error_codes: frozenset[Any] = frozenset()

    def is_privilege_error(self, exc: BaseException) -> bool:
        orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
        return orig is not None and self.error_code(orig) in self.privilege_error_codes

    def grantee(self, user: str) -> str:
        """The user as a GRANT statement names it."""
        return user

    def privilege_probes(self, sa_dialect: SADialect, table: str, schema: str | None, *,
                         select: Sequence[str] = (), insert: Sequence[str] = (), update: Sequence[str] = (),
                         delete: bool = False) -> list[tuple[str, Sequence[str], str]]:
        """(privilege, the columns it is needed on, a statement that needs it and touches no row)
        for each use of ``table``."""
        q = lambda n: self.quote(sa_dialect, n)  # noqa: E731
        ref = self.table_ref(sa_dialect, table, schema)
        probes: list[tuple[str, Sequence[str], str]] = []
        if select:
            probes.append(("SELECT", select, f"SELECT {', '.join(q(c) for c in select)} FROM {ref} WHERE 1 = 0"))
        if insert:
            nulls = ", ".join("NULL" for _ in insert)
            probes.append(("INSERT", insert, f"INSERT INTO {ref} ({', '.join(q(c) for c in insert)}) "
                                             f"SELECT {nulls}{self.from_nothing} WHERE 1 = 0"))
        if update:
            probes.append(("UPDATE", update,
                           f"UPDATE {ref} SET {', '.join(f'{q(c)} = NULL' for c in update)} WHERE 1 = 0"))
        if delete:
            probes.append(("DELETE", (), f"DELETE FROM {ref} WHERE 1 = 0"))
        return probes

    def privilege_query(self, sa_dialect: SADialect, table: str, schema: str | None, current_schema: str | None,
                        privilege: str, columns: Sequence[str]) -> sa.TextClause | None:
        """A query of the database's catalogue whose one value is true when the session's user holds
        ``privilege`` on ``table`` (on each of ``columns``, where given), through a role too. None: this
        database has none that can be trusted, and the use is tried on no rows instead (a statement
        trigger would fire: only for databases whose triggers are all row triggers)."""
        return None

    #: how long a privilege probe waits for a lock another session holds before it gives up
    probe_lock_timeout = timedelta(seconds=2)

    def missing_privileges(self, conn: sa.Connection, table: str, schema: str | None, *,
                           select: Sequence[str] = (), insert: Sequence[str] = (), update: Sequence[str] = (),
                           delete: bool = False) -> list[tuple[str, str | None]]:
        """(privilege, the GRANT that gives it) for each use of ``table`` the session's user may not
        make; (privilege, None) for a use that could not be checked because the table is locked.
        The catalogue is asked (``privilege_query``) where the database has one; else the use is
        tried on no rows, waiting ``probe_lock_timeout`` at most for a lock, and rolled back; an error
        other than a refused privilege or a lock is left to the checks that look for it."""
        if self.whoami_sql is None:
            return []
        user, current = conn.exec_driver_sql(self.whoami_sql).one()
        conn.rollback()
        current_schema = str(current) if current else None
        missing: list[tuple[str, str | None]] = []
        probed = False
        try:
            for privilege, columns, statement in self.privilege_probes(conn.dialect, table, schema, select=select,
                                                                       insert=insert, update=update, delete=delete):
                query = self.privilege_query(conn.dialect, table, schema, current_schema, privilege, columns)
                held = True
                try:
                    if query is not None:
                        held = bool(conn.execute(query).scalar())
                    else:
                        if not probed:
                            self.bound_lock_waits(conn.connection.dbapi_connection, self.probe_lock_timeout)
                            probed = True
                        conn.exec_driver_sql(statement)
                except sa.exc.DBAPIError as exc:
                    if self.is_lock_wait(exc):
                        missing.append((privilege, None))
                    elif self.is_privilege_error(exc):
                        held = False
                finally:
                    conn.rollback()
                if not held:
                    ref = self.table_ref(conn.dialect, table, schema or current_schema)
                    missing.append((privilege, f"GRANT {privilege} ON {ref} TO {self.grantee(str(user))}"))
        finally:
            if probed:
                conn.invalidate()        # its session's lock timeout was shortened for the probes
        return missing

    #: whether every whole-number column holds 64-bit integers whatever its declared type (SQLite)
    wide_integers = False
    #: a column is named in SQL exactly as the database holds its name (PostgreSQL: an unquoted
    #: name is folded to lower case, a quoted one kept): a mapping's column that matches a target
    #: column only when case is ignored would fail every batch
    exact_column_names = False

    def reflected_type(self, sa_type: Any) -> Any:
        """What a column of the reflected SQLAlchemy type really holds, where reflection says less
        than the database stores (Oracle's INTEGER). The casts check values against this type."""
        return sa_type

    def column_length_units(self, conn: sa.Connection, table: str, schema: str | None) -> dict[str, str]:
        """How each text column's declared length counts, where the column says: ``char`` or
        ``byte`` (Oracle's VARCHAR2(n CHAR) and VARCHAR2(n BYTE)). Columns not named count as
        ``text_length`` does."""
        return {}

    def connect_args(self, driver: str, timeout: timedelta) -> dict[str, Any]:
        """Driver options that bound how long a connect (and a read) may hang on a dead network."""
        return {}

    def bound_lock_waits(self, dbapi_connection: Any, lock_timeout: timedelta) -> None:
        """Set a new connection's session so that waiting for another session's lock ends with an
        error (classified transient: ``is_lock_wait``) after ``lock_timeout``."""

    def use_time_zone(self, dbapi_connection: Any, timezone: str) -> None:
        """Set a new target connection's session to read a date and time sent without a zone as
        one in ``timezone`` (an IANA name), where the database turns such a value into a moment
        (PostgreSQL's timestamptz). Mapped times are sent without a zone, in that zone."""

    #: error codes (driver-specific) that mean: a lock another session holds outlasted the lock timeout
    lock_wait_codes: frozenset[Any] = frozenset()
    lock_wait_words: tuple[str, ...] = ()

    def is_lock_wait(self, exc: BaseException) -> bool:
        orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
        if orig is None:
            return False
        return self.error_code(orig) in self.lock_wait_codes or any(w in str(orig).lower()
                                                                     for w in self.lock_wait_words)

    def stream_options(self, batch_size: int) -> dict[str, Any]:
        return {"stream_results": True, "yield_per": batch_size}


def _rstrip(value: Any) -> Any:
    return value.rstrip(" ") if isinstance(value, str) else value


def _same(value: Any) -> Any:
    return value
