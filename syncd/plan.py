"""Query plans: (mapping, window) -> SQLAlchemy ``Select``. Pure: builds statements, executes nothing.

Source tables are named, not reflected: ``sa.table``/``sa.column`` with the names the mapping
gives, so lower-case names stay case-insensitive on Oracle and nothing is read before the run
needs it. A ``query:`` source is wrapped as a subquery named ``src``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from syncd.dialects.base import Dialect
from syncd.mapping import TableMapping
from syncd.watermark import Watermark, Window, cursor_problem

EXPR_PREFIX = "_expr_"

#: keys looked up per statement: well under every database's limit on bind parameters
KEYS_PER_QUERY = 500


@dataclass(frozen=True)
class Layout:
    """Where each value sits in a row read by a plan."""

    names: tuple[str, ...]
    cursor: int
    key: tuple[int, ...]
    cursors: tuple[int, ...] = ()     # every cursor's position, the first one's (``cursor``) first

    def index(self, name: str) -> int:
        return self.names.index(name)


def needed_columns(mapping: TableMapping) -> tuple[str, ...]:
    """Source columns a run reads: key, cursor, then every column a target column is made from."""
    seen: dict[str, None] = {}
    for name in (*mapping.source.key, *mapping.source.cursors):
        seen.setdefault(name, None)
    for spec in mapping.columns.values():
        for name in spec.source_columns():
            seen.setdefault(name, None)
    return tuple(seen)


def layout(mapping: TableMapping) -> Layout:
    names = needed_columns(mapping)
    exprs = tuple(EXPR_PREFIX + target for target, spec in mapping.columns.items() if spec.expr is not None)
    return Layout(names=names + exprs, cursor=names.index(mapping.source.cursor),
                  key=tuple(names.index(k) for k in mapping.source.key),
                  cursors=tuple(names.index(c) for c in mapping.source.cursors))


def source_from(mapping: TableMapping) -> sa.FromClause:
    cols: list[sa.ColumnClause[Any]] = [sa.column(name) for name in needed_columns(mapping)]
    if mapping.source.query is not None:
        return sa.text(mapping.source.query).columns(*cols).subquery("src")
    return sa.table(mapping.source.table or "", *cols, schema=mapping.source.schema_)


def _filters(mapping: TableMapping) -> list[sa.ColumnElement[bool] | sa.TextClause]:
    return [sa.text(f"({mapping.source.where})")] if mapping.source.where else []


def _select(mapping: TableMapping, src: sa.FromClause) -> sa.Select[Any]:
    cols: list[Any] = [src.c[name] for name in needed_columns(mapping)]
    cols += [sa.literal_column(spec.expr).label(EXPR_PREFIX + target)
             for target, spec in mapping.columns.items() if spec.expr is not None]
    return sa.select(*cols).select_from(src)


class AsColumn(sa.types.TypeDecorator[str]):
    """Text bound without a type of its own: the database reads it as the column's type (written
    out as text where a statement is shown with its values)."""

    impl = sa.types.NullType
    cache_ok = True

    def process_literal_param(self, value: str | None, dialect: sa.Dialect) -> str:
        processor = sa.String().literal_processor(dialect)
        assert processor is not None
        return str(processor(value))


def bound_key(value: Any) -> Any:
    """A key value as a bind parameter. Text is bound as ``AsColumn``: a PostgreSQL ``uuid`` key
    stored as text by an earlier syncd still compares (as text it would be sent as varchar, which
    PostgreSQL does not compare with uuid)."""
    return sa.bindparam(None, value, type_=AsColumn()) if isinstance(value, str) else value


def keyset_after(columns: Sequence[sa.ColumnElement[Any]], values: Sequence[Any]) -> sa.ColumnElement[bool]:
    """``(c1, c2, ...) > (v1, v2, ...)`` spelled out with AND/OR, which every database understands.
    A position never holds a NULL (``watermark_of``); one stored by an earlier syncd may: from its
    first NULL on the position is cut short and the comparison made inclusive, so that no row is
    skipped (rows read again are written again, unchanged)."""
    if None in values:
        cut = list(values).index(None)
        if cut == 0:
            return sa.true()
        columns, values = columns[:cut], values[:cut]
        last = columns[-1] >= bound_key(values[-1])
    else:
        last = columns[-1] > bound_key(values[-1])
    condition: sa.ColumnElement[bool] = last
    for column, value in zip(reversed(columns[:-1]), reversed(values[:-1]), strict=True):
        condition = sa.or_(column > bound_key(value), sa.and_(column == bound_key(value), condition))
    return condition


def read_window(mapping: TableMapping, window: Window, cursor_name: str | None = None,
                dialect: Dialect | None = None) -> sa.Select[Any]:
    """Rows of the window with a non-NULL cursor, ordered by (cursor, key); a snapshot by key.
    ``cursor_name``: which of the mapping's cursors (default: the first); ``dialect``: the source's,
    which may write a snapshot's conditions on the cursor so that the key's order is read."""
    src = source_from(mapping)
    cursor: sa.ColumnElement[Any] = src.c[cursor_name or mapping.source.cursor]
    keys = [src.c[k] for k in mapping.source.key]
    if window.snapshot:
        if dialect is not None:
            cursor = dialect.snapshot_cursor(cursor)
        conds = [cursor.is_not(None), *_filters(mapping)]
        if window.until is not None:
            conds.append(cursor <= window.until)
        if window.after is not None:
            conds.append(keyset_after(keys, window.after.key))
        return _select(mapping, src).where(*conds).order_by(*keys)
    conds = [cursor.is_not(None), *_filters(mapping)]
    if window.after is not None:
        # a finished full copy's watermark has no key: then strictly after its cursor
        after = [window.after.cursor, *window.after.key]
        conds.append(keyset_after([cursor, *keys][:len(after)], after))
    elif window.since is not None:
        conds.append(cursor >= window.since)
    if window.until is not None:
        conds.append(cursor <= window.until)
    return _select(mapping, src).where(*conds).order_by(cursor, *keys)


def read_null_cursor(mapping: TableMapping, after_key: tuple[Any, ...] | None = None) -> sa.Select[Any]:
    """Rows whose cursor is NULL, ordered by key (they cannot be tracked by a watermark)."""
    src = source_from(mapping)
    keys = [src.c[k] for k in mapping.source.key]
    conds = [src.c[mapping.source.cursor].is_(None), *_filters(mapping)]
    if after_key is not None:
        conds.append(keyset_after(keys, after_key))
    return _select(mapping, src).where(*conds).order_by(*keys)


def chunks(items: Sequence[Any], size: int = KEYS_PER_QUERY) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _is(column: sa.ColumnElement[Any], value: Any) -> sa.ColumnElement[bool]:
    return column.is_(None) if value is None else column == bound_key(value)


def key_in(columns: Sequence[sa.ColumnElement[Any]], keys: Sequence[tuple[Any, ...]]) -> sa.ColumnElement[bool]:
    """``(c1, c2) IN (...)`` spelled out so every database understands it. A NULL part of a key
    (a rejected row's) is looked for with IS NULL: ``= NULL`` and ``IN (NULL)`` match nothing."""
    if len(columns) == 1:
        values = [k[0] for k in keys if k[0] is not None]
        # One list parameter, expanded when the statement runs (as ``in_`` makes of plain values):
        # a statement compiled once for every batch, not one parameter of its own per key.
        found = columns[0].in_(sa.bindparam(None, values, expanding=True, type_=AsColumn())
                               if values and all(isinstance(v, str) for v in values) else values)
        return sa.or_(found, columns[0].is_(None)) if len(values) < len(keys) else found
    return sa.or_(*(sa.and_(*(_is(c, v) for c, v in zip(columns, key, strict=False))) for key in keys))


def read_keys(mapping: TableMapping, keys: Sequence[tuple[Any, ...]]) -> sa.Select[Any]:
    """Rows with the given source keys (to retry rejects), still subject to ``where``."""
    src = source_from(mapping)
    key_columns = [src.c[k] for k in mapping.source.key]
    # In window order, so that of two rows deriving one target row the later wins, as in a window.
    return (_select(mapping, src).where(key_in(key_columns, keys), *_filters(mapping))
            .order_by(src.c[mapping.source.cursor], *key_columns))


def target_keys(table: str, schema: str | None, key: Sequence[str], keys: Sequence[tuple[Any, ...]]) -> sa.Select[Any]:
    """Which of ``keys`` a target table holds (the parent check)."""
    tbl = sa.table(table, *[sa.column(k) for k in key], schema=schema)
    cols = [tbl.c[k] for k in key]
    return sa.select(*cols).where(key_in(cols, keys))


def probe_newest(mapping: TableMapping, cursor_name: str | None = None) -> sa.Select[Any]:
    src = source_from(mapping)
    column = src.c[cursor_name or mapping.source.cursor]
    return sa.select(sa.func.max(column)).select_from(src).where(*_filters(mapping))


def count_of(statement: sa.Select[Any]) -> sa.Select[Any]:
    """``SELECT COUNT(*)`` of the rows ``statement`` reads (for a progress bar's ETA)."""
    return sa.select(sa.func.count()).select_from(statement.order_by(None).subquery("counted"))


def count_null_cursor(mapping: TableMapping) -> sa.Select[Any]:
    src = source_from(mapping)
    return (sa.select(sa.func.count()).select_from(src)
            .where(src.c[mapping.source.cursor].is_(None), *_filters(mapping)))


def count_ahead(mapping: TableMapping, until: Any, cursor_name: str | None = None) -> sa.Select[Any]:
    src = source_from(mapping)
    return (sa.select(sa.func.count()).select_from(src)
            .where(src.c[cursor_name or mapping.source.cursor] > until, *_filters(mapping)))


def watermark_of(rows: Sequence[Sequence[Any]], lay: Layout, window: Window,
                 previous: Watermark | None, *, like: Any = None, cursor: int | None = None) -> Watermark | None:
    """The watermark after a batch: its last row's (cursor, key); in a snapshot, the last key and
    the largest cursor copied so far. With ``like`` (the newest cursor of the source), a cursor
    that is no value of its kind (``watermark.cursor_problem``) never becomes a watermark, nor does
    a key with a NULL part (a rejected row's: NULL compares with nothing, and databases sort it
    first or last): the position is the last row whose key is complete. None: the batch moves
    nothing. ``cursor``: the position in the row of the window's cursor (default: the first
    cursor's)."""
    at = lay.cursor if cursor is None else cursor
    usable = [row for row in rows if cursor_problem(row[at], like) is None] if like is not None else rows
    if not window.snapshot:
        last = _last_complete(usable, lay.key)
        if last is None:
            return None
        return Watermark(last[at], tuple(last[i] for i in lay.key), bound=window.until)
    last = _last_complete(rows, lay.key)
    if last is None:
        return None
    key = tuple(last[i] for i in lay.key)
    cursors = [row[at] for row in usable if row[at] is not None]
    largest = max(cursors) if cursors else None
    if previous is not None and previous.snapshot and previous.cursor is not None and \
            (largest is None or previous.cursor > largest):
        largest = previous.cursor
    return Watermark(largest, key, snapshot=True, bound=window.until)


def _last_complete(rows: Sequence[Sequence[Any]], key: tuple[int, ...]) -> Sequence[Any] | None:
    """The last of ``rows`` whose key has no NULL part (usually the last row: looked at from the end)."""
    for row in reversed(rows):
        if all(row[i] is not None for i in key):
            return row
    return None


# -- statements for authoring: check --connect, preview, plan, scaffold ----------------------------

#: where in a mapping file a probe points, what it tests, and the statement
Probe = tuple[tuple[Any, ...], str, sa.Select[Any]]


def probes(mapping: TableMapping) -> list[Probe]:
    """Statements that each test one part of the mapping's source alone, in the order to try them:
    the table (or query), each source column, each ``expr``, the ``where``. When the whole window
    query fails, the first that fails names the part to fix."""
    source = mapping.source
    found: list[Probe] = []
    if source.query is not None:
        query = sa.text(source.query).columns().subquery("src")
        found.append((("source", "query"), "the source query", sa.select(sa.literal_column("1")).select_from(query)))
    else:
        table = sa.table(source.table or "", schema=source.schema_)
        found.append((("source", "table"), f"source table {source.table}",
                      sa.select(sa.literal_column("1")).select_from(table)))
    src = source_from(mapping)
    for name, loc in _column_places(mapping).items():
        found.append((loc, f"source column {name}", sa.select(src.c[name]).select_from(src)))
    for target, spec in mapping.columns.items():
        if spec.expr is not None:
            found.append((("columns", target, "expr"), f"the expression of column {target}",
                          sa.select(sa.literal_column(spec.expr).label(EXPR_PREFIX + target)).select_from(src)))
    if source.where:
        found.append((("source", "where"), "source.where",
                      sa.select(sa.literal_column("1")).select_from(src).where(*_filters(mapping))))
    return found


def _column_places(mapping: TableMapping) -> dict[str, tuple[Any, ...]]:
    """Each source column a run reads -> the first place in the mapping that names it."""
    places: dict[str, tuple[Any, ...]] = {}
    for i, key in enumerate(mapping.source.key):
        places.setdefault(key, ("source", "key", i))
    for i, cursor in enumerate(mapping.source.cursors):
        places.setdefault(cursor, ("source", "cursor") if i == 0 or not mapping.source.also_cursors
                          else ("source", "cursor", i))
    for target, spec in mapping.columns.items():
        if spec.from_ is not None:
            places.setdefault(spec.from_, ("columns", target, "from"))
        for i, name in enumerate(spec.uuid5 or ()):
            places.setdefault(name, ("columns", target, "uuid5", i))
    return places


def preview_rows(mapping: TableMapping, *, limit: int, where: str | None = None) -> sa.Select[Any]:
    """The newest ``limit`` rows of the source (by cursor, then key, descending), as a run reads
    them; ``where``: an extra filter in the source's SQL."""
    src = source_from(mapping)
    conds: list[Any] = list(_filters(mapping))
    if where:
        conds.append(sa.text(f"({where})"))
    cursor = src.c[mapping.source.cursor]
    keys = [src.c[k].desc() for k in mapping.source.key]
    return _select(mapping, src).where(*conds).order_by(cursor.desc(), *keys).limit(limit)


def target_rows(table: str, schema: str | None, columns: Sequence[str], key: Sequence[str],
                keys: Sequence[tuple[Any, ...]]) -> sa.Select[Any]:
    """The ``columns`` of the target rows with these keys (key columns first)."""
    names = [*key, *[c for c in columns if c not in key]]
    tbl = sa.table(table, *[sa.column(c) for c in names], schema=schema)
    return sa.select(*[tbl.c[c] for c in names]).where(key_in([tbl.c[k] for k in key], keys))


def distinct_values(table: str, schema: str | None, column: str, limit: int) -> sa.Select[Any]:
    """Up to ``limit`` different non-NULL values of one column."""
    tbl = sa.table(table, sa.column(column), schema=schema)
    col = tbl.c[column]
    return sa.select(col).where(col.is_not(None)).distinct().limit(limit)


def render(statement: sa.Select[Any] | sa.TextClause, sa_dialect: Any) -> str:
    """The statement as the database gets it, with its values written in; where a driver cannot
    write a value as SQL, the statement with placeholders and the values after it."""
    try:
        return str(statement.compile(dialect=sa_dialect, compile_kwargs={"literal_binds": True}))
    except (sa.exc.CompileError, NotImplementedError, TypeError, ValueError):
        compiled = statement.compile(dialect=sa_dialect)
        params = compiled.params
        values = ", ".join(f"{name} = {value!r}" for name, value in params.items())
        return f"{compiled}\n-- values: {values}" if values else str(compiled)


def count_rows(mapping: TableMapping) -> sa.Select[Any]:
    """How many source rows the mapping reads (its ``where``), whatever their cursor."""
    src = source_from(mapping)
    return sa.select(sa.func.count()).select_from(src).where(*_filters(mapping))
