"""Reading the county database: the clock, the newest cursor, and rows streamed in batches.

Reads stream with server-side cursors (``stream_results``/``yield_per``: PyMySQL's SSCursor,
psycopg's named cursors, oracledb's arraysize), so memory follows the batch size, not the table.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, cast

import sqlalchemy as sa
from loguru import logger

from syncd import plan
from syncd.dialects import Dialect
from syncd.errors import first_line
from syncd.i18n import _
from syncd.mapping import TableMapping


@dataclass(frozen=True)
class Probe:
    newest: Any
    db_now: Any
    db_now_utc: Any
    #: when the oldest open transaction that may still write (of those the source lets us see)
    #: began (local, UTC), or None
    open_since: Any = None
    open_since_utc: Any = None


class Source:
    def __init__(self, engine: sa.Engine, dialect: Dialect):
        self.engine = engine
        self.dialect = dialect

    def probe(self, mapping: TableMapping, cursor_name: str | None = None) -> Probe:
        """The newest value of a cursor (default: the first) and the database's clock, read together."""
        with self.engine.connect() as conn:
            newest = conn.execute(plan.probe_newest(mapping, cursor_name)).scalar()
            db_now, db_now_utc = conn.execute(self.dialect.clock_select()).one()
        with self.engine.connect() as conn:
            _visible, started = self.dialect.open_since(conn)
        return Probe(newest, db_now, db_now_utc, started, _as_utc(started, db_now, db_now_utc))

    def transactions_visible(self) -> bool:
        """Whether this source user sees every other session's open transactions."""
        with self.engine.connect() as conn:
            return self.dialect.open_since(conn)[0]

    def newest(self, mappings: Sequence[TableMapping]) -> tuple[dict[str, Any], list[str]]:
        """The newest cursor of each mapping (None for an empty source), and what could not be read:
        a mapping whose query fails is missing from the first and named in the second."""
        found: dict[str, Any] = {}
        problems: list[str] = []
        try:
            with self.engine.connect() as conn:
                for m in mappings:
                    try:
                        found[m.name] = conn.execute(plan.probe_newest(m)).scalar()
                    except sa.exc.DBAPIError as exc:
                        problems.append(_("mapping {name}: cannot read the "
                                          "newest source row: {exc}").format(name=m.name, exc=first_line(exc)))
                        conn.rollback()
        except sa.exc.SQLAlchemyError as exc:
            problems.append(_("the source database does not answer: {exc}").format(exc=first_line(exc)))
        return found, problems

    def query_problem(self, statement: sa.Select[Any]) -> str | None:
        """None when the database accepts ``statement`` (run without fetching rows); else its error."""
        try:
            with self.engine.connect() as conn:
                conn.execute(statement.limit(0)).fetchall()
        except sa.exc.DBAPIError as exc:
            return first_line(exc)
        return None

    def scalar(self, statement: sa.Select[Any]) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(statement).scalar()

    def fetch(self, statement: sa.Select[Any]) -> list[Sequence[Any]]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(statement)]

    @contextmanager
    def stream(self, statement: sa.Select[Any], batch_size: int, *,
               prefetch: int | None = 0) -> Iterator[Iterator[list[Sequence[Any]]]]:
        """Batches of rows (SQLAlchemy ``Row``s: tuples that also know their names) from one streaming query.

        With ``prefetch`` > 0 a reader thread keeps up to that many batches ready while the
        caller writes the previous one, so a slow link to the target does not leave the source
        idle (and the reverse). Batches still arrive in order; checkpoints stay in order.
        None: the source database's own depth (``Dialect.prefetch``).
        """
        if prefetch is None:
            prefetch = self.dialect.prefetch
        if prefetch <= 0:
            batches = self.batches(statement, batch_size)
            try:
                yield batches
            finally:
                _close(batches)
            return
        reader = _Reader(self.batches(statement, batch_size), prefetch)
        reader.start()
        try:
            yield iter(reader)
        finally:
            reader.stop()

    def batches(self, statement: sa.Select[Any], batch_size: int) -> Generator[list[Sequence[Any]], None, None]:
        """The query's rows in batches; closing the generator closes the result and the connection."""
        with self.engine.connect() as conn:
            if self.dialect.source_driver_rows and not _typed(statement):
                result = conn.execute(statement)
                try:
                    yield from _driver_batches(result, batch_size, conn.dialect.loaded_dbapi.Error)
                finally:
                    result.close()
                return
            result = conn.execution_options(**self.dialect.stream_options(batch_size)).execute(statement)
            try:
                # Lists of Rows, typed as sequences, hence the cast (no copy). Not ``partitions``: its
                # generator holds the batch it handed out while it fetches the next one.
                while part := cast("list[Sequence[Any]]", result.fetchmany(batch_size)):
                    yield part
                    del part
            finally:
                result.close()

    def describe_table(self, table: str, schema: str | None = None) -> dict[str, Any] | None:
        """A table as the database describes it, for ``check --connect`` and ``scaffold``; None if
        there is no such table. ``columns``: SQLAlchemy's reflected columns (name, type, nullable);
        ``primary_key``: its columns; ``indexes`` and ``unique``: the column lists of each index
        and of each unique index or constraint. Works on any engine (the target's too)."""
        inspector = sa.inspect(self.engine)
        try:
            columns = inspector.get_columns(table, schema=schema)
        except sa.exc.NoSuchTableError:
            return None
        primary = inspector.get_pk_constraint(table, schema=schema).get("constrained_columns") or []
        indexes, unique = [], []
        for index in inspector.get_indexes(table, schema=schema):
            names = tuple(c for c in index.get("column_names") or () if c)
            indexes.append(names)
            if index.get("unique") and names:
                unique.append(names)
        with contextlib.suppress(NotImplementedError):
            unique += [tuple(u.get("column_names") or ())
                       for u in inspector.get_unique_constraints(table, schema=schema)]
        return {"columns": [dict(c) for c in columns], "primary_key": tuple(primary), "indexes": indexes,
                "unique": [u for u in unique if u]}

    def distinct_values(self, table: str, schema: str | None, column: str, limit: int) -> list[Any] | None:
        """The different non-NULL values of a column, when there are at most ``limit``; else None."""
        rows = self.fetch(plan.distinct_values(table, schema, column, limit + 1))
        return None if len(rows) > limit else [row[0] for row in rows]


def _typed(statement: sa.Select[Any]) -> bool:
    """Whether a column of the query has a type whose values SQLAlchemy would convert as it reads."""
    return any(not isinstance(c.type, sa.types.NullType) for c in statement.selected_columns)


def _driver_batches(result: sa.CursorResult[Any], batch_size: int,
                    error: type[Exception]) -> Generator[list[Sequence[Any]], None, None]:
    """The rows of an executed query in batches, fetched from the driver's cursor as the tuples it
    makes (``Dialect.source_driver_rows``), for a query whose columns carry no SQLAlchemy types
    (as a mapping's reads, ``plan``): SQLAlchemy would convert none of their values, so its Rows
    would hold the same values. A driver's error is wrapped as SQLAlchemy wraps it, and so
    classified like every other."""
    cursor = result.cursor
    while True:
        try:
            part = cast("list[Sequence[Any]]", cursor.fetchmany(batch_size))
        except error as exc:
            raise sa.exc.DBAPIError.instance(None, None, exc, error) from exc
        if not part:
            return
        yield part
        del part


def _as_utc(local: Any, db_now: Any, db_now_utc: Any) -> Any:
    """A naive local time of the source as an aware UTC time, by the offset between its two clocks."""
    if not isinstance(local, datetime) or not isinstance(db_now, datetime) or not isinstance(db_now_utc, datetime):
        return None
    if local.tzinfo is not None:
        return local.astimezone(timezone.utc)
    utc = db_now_utc.astimezone(timezone.utc).replace(tzinfo=None) if db_now_utc.tzinfo else db_now_utc
    offset = (db_now.replace(tzinfo=None) - utc) if db_now.tzinfo is None else timedelta(0)
    return (local - offset).replace(tzinfo=timezone.utc)


_DONE = object()


def _close(batches: Generator[list[Sequence[Any]], None, None]) -> None:
    """Close a read whose connection may be gone: its rollback then fails too, and that second error
    must neither hide the first (already raised to the run) nor escape a thread as a traceback."""
    try:
        batches.close()
    except Exception as exc:  # noqa: BLE001 - the read is over either way; the pool drops the connection
        logger.debug("closing a source read after an error: {}", first_line(exc))


class _Reader(threading.Thread):
    """Streams a query into a queue; errors travel through the queue to the consumer.

    The reader fetches a batch only when one of ``depth`` slots is free, and the consumer frees a
    slot as it takes a batch: so at most ``depth`` batches are ready or being fetched besides the
    one the consumer works on. (Fetching first and then waiting for room in a queue of ``depth``
    held one batch more: at 20 000 rows a batch, some 30 MB.)
    """

    def __init__(self, batches: Generator[list[Sequence[Any]], None, None], depth: int):
        super().__init__(name="syncd-reader", daemon=True)
        self.batches = batches
        self.queue: queue.Queue[Any] = queue.Queue()
        self.slots = threading.Semaphore(depth)
        self.stopping = threading.Event()

    def _slot(self) -> bool:
        while not self.stopping.is_set():
            if self.slots.acquire(timeout=0.2):
                return True
        return False

    def run(self) -> None:
        try:
            while self._slot():
                part = next(self.batches, _DONE)
                self.queue.put(part)
                if part is _DONE:
                    return
                # The queue holds it now: waiting for the next slot with it in hand would keep a
                # batch the consumer has finished with alive through the next fetch.
                del part
        except BaseException as exc:  # handed to the consumer, which raises it in its own thread
            self.queue.put(exc)
        finally:
            _close(self.batches)

    def __iter__(self) -> Iterator[list[Sequence[Any]]]:
        while True:
            item = self.queue.get()
            self.slots.release()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
            del item  # not held while waiting for the next batch

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)
