"""Writing the intermediate database: table description, parent checks and the batch upsert.

The hot path hands tuples straight to the DB-API cursor's ``executemany`` with a statement built
once per run; building a dict per row through SQLAlchemy would cost a third to two thirds of the
throughput (see docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from syncd import plan
from syncd.dialects import Dialect
from syncd.dialects.base import KeyForm, Upsert, Written, is_fixed_length
from syncd.digest import DigestPlan, Digests, RowHasher, fine_bucket, piece_function
from syncd.errors import MappingError, Problem
from syncd.i18n import _
from syncd.mapping import TableMapping
from syncd.transform import TargetColumn, target_columns


class Target:
    def __init__(self, engine: sa.Engine, dialect: Dialect, schema: str | None = None):
        self.engine = engine
        self.dialect = dialect
        self.schema = schema
        self._tables: dict[tuple[str | None, str], dict[str, TargetColumn]] = {}
        self._types: dict[tuple[str | None, str], dict[str, Any]] = {}
        self._reflected: dict[tuple[str | None, str], sa.Table] = {}

    def schema_of(self, explicit: str | None) -> str | None:
        return explicit or self.schema

    def columns(self, table: str, schema: str | None) -> dict[str, TargetColumn] | None:
        """The target table's columns, reflected once per run; None if there is no such table."""
        cache_key = (schema, table)
        if cache_key not in self._tables:
            try:
                reflected = sa.inspect(self.engine).get_columns(table, schema=schema)
            except sa.exc.NoSuchTableError:
                return None
            with self.engine.connect() as conn:
                charsets = self.dialect.column_charsets(conn, table, schema)
                units = self.dialect.column_length_units(conn, table, schema)
            self._tables[cache_key] = target_columns(reflected, charsets, units,
                                                     wide_integers=self.dialect.wide_integers,
                                                     reflected_type=self.dialect.reflected_type)
            self._types[cache_key] = {col["name"]: col["type"] for col in reflected}
        return self._tables[cache_key]

    def describe(self, mapping: TableMapping) -> dict[str, TargetColumn]:
        """The target columns this mapping fills; a MappingError if the table or a column is missing."""
        schema = self.schema_of(mapping.target.schema_)
        found = self.columns(mapping.target.table, schema)
        file = str(mapping.file)
        if found is None:
            where = f"{schema}.{mapping.target.table}" if schema else mapping.target.table
            raise MappingError([Problem(file, None, "target.table",
                                        _("mapping {name!r}: target table {where} does not exist in "
                                          "{render_as_string}; create it (see sql/reference/) or fix the name")
                                        .format(
                                            name=mapping.name, where=where,
                                            render_as_string=self.engine.url.render_as_string(hide_password=True)))])
        by_lower = {name.lower(): col for name, col in found.items()}
        problems = []
        described = {}
        for name in mapping.columns:
            col = found.get(name) or by_lower.get(name.lower())
            if col is not None and col.name != name and self.dialect.exact_column_names:
                problems.append(Problem(file, None, f"columns.{name}",
                                        _("mapping {name!r}: column {name2!r} is {actual!r} in target table {table}: "
                                          "write it so, with that case (this database tells names apart by case)")
                                        .format(name=mapping.name, name2=name, actual=col.name,
                                                table=mapping.target.table)))
            elif col is None:
                problems.append(Problem(file, None, f"columns.{name}",
                                        _("mapping {name!r}: column {name2!r} is not in target table {table} (it "
                                          "has: {found})")
                                        .format(
                                            name=mapping.name, name2=name, table=mapping.target.table,
                                            found=', '.join(found))))
            else:
                described[name] = col
        missing_required = [c.name for c in found.values()
                            if not c.nullable and c.name.lower() not in {n.lower() for n in mapping.columns}]
        if missing_required:
            problems.append(Problem(file, None, "columns",
                                    _("mapping {name!r}: target columns {missing_required} are NOT NULL but the "
                                      "mapping does not fill them")
                                    .format(name=mapping.name, missing_required=', '.join(missing_required))))
        if problems:
            raise MappingError(problems)
        return described

    def upsert(self, mapping: TableMapping, columns: Sequence[str], update: Sequence[str],
               kinds: Sequence[str] = ()) -> Upsert:
        """How this run writes the mapping's batches: the dialect's upsert, adjusted to the connection.
        Columns filled by ``value: now`` or ``value: run_id`` do not make a row changed: an existing
        row whose other update columns hold the values sent is left as it is (``update: false``
        columns are never updated)."""
        compare = [c for c in update if mapping.columns[c].value is None] if update else []
        schema = self.schema_of(mapping.target.schema_)
        types = self.column_types(mapping.target.table, schema)
        upsert = self.dialect.upsert(self.engine.dialect, mapping.target.table, schema, columns, mapping.target.key,
                                     update, compare, kinds, [c for c in columns if is_fixed_length(types.get(c))])
        with self.engine.connect() as conn:
            return self.dialect.prepare(conn, upsert)

    def write(self, upsert: Upsert, rows: list[tuple[Any, ...]], kinds: Sequence[str]) -> Written:
        """One batch, one transaction; how many of its rows were inserted, updated, or left unchanged."""
        if not rows:
            return Written()
        dbapi_error = self.engine.dialect.loaded_dbapi.Error
        with self.engine.begin() as conn:
            cursor = conn.connection.cursor()
            try:
                return self.dialect.write(cursor, upsert, rows, kinds)
            except dbapi_error as exc:
                # The raw cursor bypasses SQLAlchemy: wrap the driver's error as SQLAlchemy would, so
                # that it is classified (transient, or this mapping failed) like every other one.
                raise sa.exc.DBAPIError.instance(upsert.sql, None, exc, dbapi_error) from exc
            finally:
                cursor.close()

    def existing(self, table: str, schema: str | None, key: Sequence[str],
                 values: Sequence[tuple[Any, ...]], *, per_query: int = plan.KEYS_PER_QUERY) -> set[tuple[Any, ...]]:
        """Which of ``values`` exist as keys of ``table`` in the target (as the target holds them)."""
        found: set[tuple[Any, ...]] = set()
        if not values:
            return found
        with self.engine.connect() as conn:
            for part in plan.chunks(values, per_query):
                found.update(tuple(r) for r in conn.execute(plan.target_keys(table, schema, key, part)))
        return found

    def rows(self, table: str, schema: str | None, columns: Sequence[str], *,
             batch_size: int, scope: str | None = None) -> Iterator[Sequence[Any]]:
        """Every row of ``table`` (the named columns, in that order), streamed; ``scope``: only the
        rows meeting this SQL condition (``target.scope`` of a mapping sharing its table)."""
        selected = sa.table(table, *[sa.column(c) for c in columns], schema=schema)
        statement = sa.select(*[selected.c[c] for c in columns])
        if scope:
            statement = statement.where(sa.text(f"({scope})"))
        with self.engine.connect() as conn:
            result = conn.execution_options(**self.dialect.stream_options(batch_size)).execute(statement)
            yield from result

    # -- reconcile: digests inside the database, rows by bucket or key, deletes ----------------
    def column_types(self, table: str, schema: str | None) -> dict[str, Any]:
        """The reflected SQLAlchemy type of each column of ``table`` (after ``columns``/``describe``)."""
        self.columns(table, schema)
        return self._types.get((schema, table), {})

    def key_forms(self, mapping: TableMapping) -> dict[str, KeyForm]:
        """How the target compares the values of the mapping's key columns, where Python's ``==``
        would differ (a CHAR column, a case-insensitive collation ...)."""
        schema = self.schema_of(mapping.target.schema_)
        types = self.column_types(mapping.target.table, schema)
        by_name = {name.lower(): name for name in types}
        keys = {by_name[k.lower()]: k for k in mapping.target.key if k.lower() in by_name}
        with self.engine.connect() as conn:
            forms = self.dialect.key_forms(conn, mapping.target.table, schema, {n: types[n] for n in keys})
        return {keys[name]: form for name, form in forms.items() if name in keys}

    def server_version(self) -> tuple[int, ...] | None:
        """The target server's version, as the driver reports it once connected."""
        with self.engine.connect():
            pass
        version = getattr(self.engine.dialect, "server_version_info", None)
        return tuple(int(v) for v in version if isinstance(v, int)) if version else None

    def _table(self, table: str, schema: str | None) -> sa.Table:
        """``table`` reflected, so that values read come back typed (SQLite stores text)."""
        cache_key = (schema, table)
        if cache_key not in self._reflected:
            self._reflected[cache_key] = sa.Table(table, sa.MetaData(), schema=schema, autoload_with=self.engine)
        return self._reflected[cache_key]

    def bucket_digests(self, digest: DigestPlan, buckets: int, *, batch_size: int) -> dict[int, tuple[int, int]]:
        """(rows, sum of row values) per non-empty bucket of the target's rows, computed by the
        database (a few bytes per bucket over the link), or here when it cannot (SQLite)."""
        if not self.dialect.digest_in_database:
            found = Digests()
            for key_hex, value, _key in self._hashed_rows(digest, batch_size):
                found.add(key_hex, value)
            return found.coarse(buckets)
        statement = sa.text(self.dialect.bucket_digests_sql(self.engine.dialect, digest, buckets,
                                                            self.server_version()))
        with self.engine.connect() as conn:
            return {int(b): (int(n), int(total)) for b, n, total in conn.execute(statement)}

    def bucket_rows(self, digest: DigestPlan, buckets: int, chosen: Sequence[int], *, with_key: bool = True,
                    batch_size: int = 2000) -> Iterator[tuple[str, int, tuple[Any, ...]]]:
        """(key hash, row value, key) of each target row in the ``chosen`` buckets, streamed; without
        ``with_key`` the key is () (fewer bytes over the link)."""
        if not self.dialect.digest_in_database:
            wanted = set(chosen)
            for key_hex, value, key in self._hashed_rows(digest, batch_size):
                if fine_bucket(key_hex) % buckets in wanted:
                    yield key_hex, value, key if with_key else ()
            return
        statement = sa.text(self.dialect.bucket_rows_sql(self.engine.dialect, digest, buckets, chosen, with_key,
                                                         self.server_version()))
        with self.engine.connect() as conn:
            result = conn.execution_options(**self.dialect.stream_options(batch_size)).execute(statement)
            for row in result:
                yield str(row[0]), int(row[1]), tuple(row[2:])

    def _hashed_rows(self, digest: DigestPlan, batch_size: int) -> Iterator[tuple[str, int, tuple[Any, ...]]]:
        """The target's rows hashed here: for a database that does not hash them itself."""
        names = [c.name for c in digest.columns]
        keys = [c.name for c in digest.key]
        wanted = list(dict.fromkeys([*names, *keys]))
        at = {n: i for i, n in enumerate(wanted)}
        hasher = RowHasher(digest.columns, [at[n] for n in names], digest.key, [at[n] for n in keys])
        marked = [(at[c.name], piece_function(c), text) for c, text in digest.marked]
        tbl = self._table(digest.table, digest.schema)
        statement = sa.select(*[tbl.c[n] for n in wanted])
        if digest.scope:
            statement = statement.where(sa.text(f"({digest.scope})"))
        with self.engine.connect() as conn:
            result = conn.execution_options(**self.dialect.stream_options(batch_size)).execute(statement)
            for row in result:
                if marked and all(piece(row[i]) == text for i, piece, text in marked):
                    continue
                key_hex, value = hasher.hash(row)
                yield key_hex, value, tuple(row[at[k]] for k in keys)

    def rows_by_key(self, table: str, schema: str | None, columns: Sequence[str], key: Sequence[str],
                    keys: Sequence[tuple[Any, ...]], *, scope: str | None = None) -> list[tuple[Any, ...]]:
        """The rows of ``table`` with these keys (the named columns, in that order, typed)."""
        found: list[tuple[Any, ...]] = []
        if not keys:
            return found
        tbl = self._table(table, schema)
        with self.engine.connect() as conn:
            for part in plan.chunks(keys):
                statement = sa.select(*[tbl.c[c] for c in columns]).where(plan.key_in([tbl.c[k] for k in key], part))
                if scope:
                    statement = statement.where(sa.text(f"({scope})"))
                found.extend(tuple(r) for r in conn.execute(statement))
        return found

    def delete(self, table: str, schema: str | None, key: Sequence[str], keys: Sequence[tuple[Any, ...]], *,
               scope: str | None = None) -> int:
        """Delete the rows of ``table`` with these keys (and meeting ``scope``), in one transaction."""
        if not keys:
            return 0
        tbl = self._table(table, schema)
        done = 0
        with self.engine.begin() as conn:
            for part in plan.chunks(keys):
                statement = sa.delete(tbl).where(plan.key_in([tbl.c[k] for k in key], part))
                if scope:
                    statement = statement.where(sa.text(f"({scope})"))
                done += conn.execute(statement).rowcount or 0
        return done
