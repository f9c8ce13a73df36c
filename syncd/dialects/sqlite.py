"""SQLite: the embedded default for the demo and for the state store."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from syncd.dialects.base import Dialect, KeyForm, Upsert, Written

#: a rowid table's row ids are 64-bit signed integers
_LARGEST_ROWID = 2 ** 63 - 1
#: a constraint that settles a conflict by deleting the row it meets (in a table's CREATE TABLE)
_REPLACE = re.compile(r"\bON\s+CONFLICT\s+REPLACE\b", re.IGNORECASE)


class SQLiteDialect(Dialect):
    name = "sqlite"
    # INTEGER, SMALLINT, ... all store 64-bit integers
    wide_integers = True

    def sqlalchemy_dialect(self) -> Any:
        from sqlalchemy.dialects import sqlite

        return sqlite.dialect()
    # SQLite has no clock of its own: the process's clock, as local wall time, like most
    # applications write it. Cursor text keeps its own layout (see watermark.format_like).
    clock_sql = "SELECT datetime('now', 'localtime'), datetime('now')"
    facts_sql = ("SELECT 'SQLite ' || sqlite_version(), strftime('%Y-%m-%d %H:%M:%f', 'now'), "
                 "'this machine''s', (SELECT encoding FROM pragma_encoding)")
    # holds_nonfinite_floats stays False: SQLite stores a float NaN as NULL
    transient_words = ("database is locked", "database table is locked", "busy")
    # The sqlite3 module lets go of the interpreter lock for every row it steps over, reading and
    # writing: a reader thread then trades it with the writing thread row by row (360 000 futex
    # calls and 1.3 s of system time in a 200 000-row copy), where reading a local file in turn
    # costs 0.7 s. Read, then write.
    prefetch = 0
    # The sqlite3 module's cursor steps through the rows as they are fetched.
    source_driver_rows = True

    def __init__(self) -> None:
        super().__init__()
        # 'YYYY-MM-DD HH:MM:SS.ffffff', what SQLAlchemy's SQLite DATETIME stores: a source on
        # SQLite hands its values over as such text, and formatting a datetime again costs 0.47 µs
        self.datetime_texts: dict[Any, str] = {}

    def connect_args(self, driver: str, timeout: timedelta) -> dict[str, Any]:
        return {"timeout": timeout.total_seconds()}

    def key_forms(self, conn: sa.Connection, table: str, schema: str | None,
                  types: dict[str, Any]) -> dict[str, KeyForm]:
        # CHAR(n) is text like any other here, not padded. (A column's COLLATE NOCASE or RTRIM is
        # not reflected: not looked at.)
        return {}

    def database_file(self, url: Any) -> Path | None:
        return Path(url.database) if url.database and url.database != ":memory:" else None

    def snapshot_cursor(self, cursor: Any) -> Any:
        # ``+cursor``: a unary plus leaves the value as it is (with no column affinity: a bound
        # value is compared as it is sent) and keeps SQLite from answering the read's
        # ``cursor <= ?`` through the cursor's index, after which it would sort every row by key
        # in a temporary B-tree: it reads the table in key order instead, the read's own order
        # (200 000 rows: 3.2 s -> 1.3 s).
        from sqlalchemy.sql import operators
        from sqlalchemy.sql.expression import UnaryExpression

        return UnaryExpression(cursor, operator=operators.custom_op("+"))

    def prepare_state_connection(self, dbapi_connection: Any, *, journal_mode: str = "WAL") -> None:
        # Write-ahead log: a checkpoint's commit is one append and one fsync of the -wal file
        # instead of the rollback journal's several (17.6 -> 2.9 ms here), and readers (syncd
        # status) no longer wait for a writer. synchronous=FULL keeps each commit on the disk when
        # it returns: with NORMAL a power cut may undo the last commits, which for a checkpoint
        # only replays a batch through the upsert, but would also undo an operator's reject
        # decision and the audit journal's newest records that its JSON lines already hold.
        # The mode is kept in the file; a store that cannot take it (read only, busy) keeps its
        # own, and the store's next statement reports what is wrong with it. On a network file
        # system the write-ahead log does not work (its index is shared memory): ``journal_mode``
        # is DELETE there (files.state_journal_mode).
        import sqlite3

        for pragma in (f"PRAGMA journal_mode={journal_mode}", "PRAGMA synchronous=FULL"):
            try:
                dbapi_connection.execute(pragma).fetchall()
            except sqlite3.Error:
                return

    def prepare(self, conn: sa.Connection, upsert: Upsert) -> Upsert:
        # A batch's inserted rows are counted by their row ids where that is sure: SQLite gives a
        # new row of a rowid table the largest row id + 1 (1 in an empty table), and the upsert
        # neither deletes a row nor changes a row id, so the batch's new rows hold the ids just
        # above the largest one before it, in turn: the largest id after the upsert less the one
        # before is the count. Two lookups of the b-tree's last entry instead of the batch's keys
        # in lists of 500 (0.15 s of a 200 000-row copy), or of counting the new entries (45 ms).
        # AUTOINCREMENT, which may skip ids, is only for an INTEGER PRIMARY KEY, left out below.
        # Only for a table (not a view) with row ids of its own:
        # not WITHOUT ROWID, no INTEGER PRIMARY KEY (its row id is a column the mapping may fill),
        # no column (generated ones included) taking every name of the row id; and none whose
        # rows another way adds or takes: a trigger, or an ON CONFLICT REPLACE constraint (which
        # deletes the row it meets and inserts anew).
        table = self.table_ref(conn.dialect, upsert.table, upsert.schema)
        database = upsert.schema or "main"
        master = f"{self.quote(conn.dialect, database)}.sqlite_master"
        try:
            kind_sql = conn.execute(sa.text(f"SELECT type, sql FROM {master} WHERE lower(name) = lower(:t)"),
                                    {"t": upsert.table}).first()
            columns = conn.execute(sa.text("SELECT name, type, pk FROM pragma_table_xinfo(:t, :s)"),
                                   {"t": upsert.table, "s": database}).all()
            triggers = conn.execute(sa.text(f"SELECT COUNT(*) FROM {master} "
                                            "WHERE type = 'trigger' AND lower(tbl_name) = lower(:t)"),
                                    {"t": upsert.table}).scalar()
            keys = [str(type_).upper() for _name, type_, pk in columns if pk]
            names = {str(name).lower() for name, _type, _pk in columns}
            rowid = next((n for n in ("rowid", "_rowid_", "oid") if n not in names), None)
            if (kind_sql is None or kind_sql[0] != "table" or _REPLACE.search(kind_sql[1] or "") or not columns
                    or triggers or keys == ["INTEGER"] or rowid is None):
                return upsert
            top = f"SELECT max({rowid}) FROM {table}"
            conn.execute(sa.text(top)).all()   # none: WITHOUT ROWID
        except sa.exc.DBAPIError:
            return upsert      # and an SQLite before 3.26, without pragma_table_xinfo
        finally:
            conn.rollback()
        return replace(upsert, rowids=top)

    def write(self, cursor: Any, upsert: Upsert, rows: list[tuple[Any, ...]], kinds: Sequence[str]) -> Written:
        # pysqlite begins a transaction only before the INSERT: the count of existing keys before
        # it would read outside, and another writer could add a key in between. BEGIN IMMEDIATE
        # (as the state store does) takes the write lock first: count and upsert are one transaction.
        if not cursor.connection.in_transaction:
            cursor.execute("BEGIN IMMEDIATE")
        if upsert.rowids is not None:
            top = cursor.execute(upsert.rowids).fetchone()[0]
            # Once the largest row id there can be is taken, SQLite gives new rows free ids at
            # random: only while all of the batch's rows would still get ids above ``top`` in
            # turn are the new ones counted by row id; else by their keys.
            if top is None or top <= _LARGEST_ROWID - len(rows):
                self.executemany(cursor, upsert.sql, rows, kinds)
                changed = cursor.rowcount
                after = cursor.execute(upsert.rowids).fetchone()[0]
                inserted = 0 if after is None else after - (0 if top is None else top)
                return Written.of(len(rows), len(rows) - inserted, changed)
        return super().write(cursor, upsert, rows, kinds)

    def executemany(self, cursor: Any, sql: str, rows: list[tuple[Any, ...]], kinds: Sequence[str]) -> None:
        # The sqlite3 module has no adapters for Decimal (and deprecates those for datetime):
        # store them as SQLAlchemy's SQLite types do, so the rows read back the same way.
        adapt = _adapter(tuple(kinds))
        cursor.executemany(sql, rows if adapt is None else adapt(rows, self.datetime_texts))

    def changed_sql(self, old: str, new: str, kind: str | None = None, *, fixed: bool = False) -> str:
        # IS DISTINCT FROM only from SQLite 3.39; IS NOT is the same test in every version
        return f"{old} IS NOT {new}"

    def bind_keys(self, keys: list[tuple[Any, ...]], kinds: Sequence[str]) -> list[tuple[Any, ...]]:
        adapt = _adapter(tuple(kinds))
        return keys if adapt is None else list(adapt(keys, self.datetime_texts))


#: Python expression that turns a non-NULL value ``{v}`` of a kind into what SQLite stores
_ADAPT: dict[str, str] = {
    "decimal": "str({v})",
    "datetime": 'texts.get({v}) or {v}.isoformat(" ", "microseconds")',
    "date": "{v}.isoformat()",
    "time": '{v}.strftime("%H:%M:%S.%f")',
}


@functools.lru_cache(maxsize=64)
def _adapter(kinds: tuple[str, ...]) -> Callable[[list[tuple[Any, ...]], dict[Any, str]],
                                                 Iterator[tuple[Any, ...]]] | None:
    """A function adapting a batch for these column kinds, written out and compiled once per layout.

    Looping over the converters of each row (a list per row, an index and a call per value) added
    about 0.4 µs a row to the conversions themselves; a generator that unpacks the row and spells
    out each column's conversion does not, and does not hold a second copy of the batch.

    Each converted column remembers its last value and what it became: a value that is the same
    object as the row before's (a ``value: now`` or ``const`` column: one object for the whole
    run) is not converted again. ``datetime.isoformat`` alone costs some 0.47 µs here: a datetime
    whose text the mapper kept (``texts``, ``datetime_texts``) is sent as that text.
    """
    if not any(k in _ADAPT for k in kinds):
        return None
    names = [f"c{i}" for i in range(len(kinds))]
    lines = ["def adapt(rows, texts):"]
    converted = [i for i, k in enumerate(kinds) if k in _ADAPT]
    lines.append("    " + " = ".join([f"l{i}" for i in converted] + [f"o{i}" for i in converted]) + " = None")
    lines.append(f"    for {', '.join(names)}{',' if len(names) == 1 else ''} in rows:")
    for i in converted:
        conversion = _ADAPT[kinds[i]].replace("{v}", f"c{i}")
        # ``l{i} = o{i} = None`` at the start: a first NULL is the same object, and stays None
        lines.append(f"        if c{i} is not l{i}:")
        lines.append(f"            l{i} = c{i}")
        lines.append(f"            o{i} = None if c{i} is None else {conversion}")
    values = [f"o{i}" if k in _ADAPT else f"c{i}" for i, k in enumerate(kinds)]
    # A generator: sqlite3 takes any iterable, and the batch is not held twice.
    lines.append(f"        yield ({', '.join(values)},)")
    scope: dict[str, Any] = {}
    exec(compile("\n".join(lines) + "\n", "<syncd sqlite adapter>", "exec"), scope)  # noqa: S102 - our own generated code
    adapt: Callable[[list[tuple[Any, ...]], dict[Any, str]], Iterator[tuple[Any, ...]]] = scope["adapt"]
    return adapt
