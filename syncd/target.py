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
from syncd.dialects.base import Upsert
from syncd.errors import MappingError, Problem
from syncd.mapping import TableMapping
from syncd.transform import TargetColumn, column_kind


class Target:
    def __init__(self, engine: sa.Engine, dialect: Dialect, schema: str | None = None):
        self.engine = engine
        self.dialect = dialect
        self.schema = schema
        self._tables: dict[tuple[str | None, str], dict[str, TargetColumn]] = {}

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
            described = {}
            for col in reflected:
                kind, length, precision, scale = column_kind(col["type"])
                described[col["name"]] = TargetColumn(col["name"], kind, bool(col.get("nullable", True)), length,
                                                      precision, scale, charsets.get(col["name"]))
            self._tables[cache_key] = described
        return self._tables[cache_key]

    def describe(self, mapping: TableMapping) -> dict[str, TargetColumn]:
        """The target columns this mapping fills; a MappingError if the table or a column is missing."""
        schema = self.schema_of(mapping.target.schema_)
        found = self.columns(mapping.target.table, schema)
        file = str(mapping.file)
        if found is None:
            where = f"{schema}.{mapping.target.table}" if schema else mapping.target.table
            raise MappingError([Problem(file, None, "target.table",
                                        f"mapping {mapping.name!r}: target table {where} does not exist in "
                                        f"{self.engine.url.render_as_string(hide_password=True)}; create it "
                                        "(see sql/reference/) or fix the name")])
        by_lower = {name.lower(): col for name, col in found.items()}
        problems = []
        described = {}
        for name in mapping.columns:
            col = found.get(name) or by_lower.get(name.lower())
            if col is None:
                problems.append(Problem(file, None, f"columns.{name}",
                                        f"mapping {mapping.name!r}: column {name!r} is not in target table "
                                        f"{mapping.target.table} (it has: {', '.join(found)})"))
            else:
                described[name] = col
        missing_required = [c.name for c in found.values()
                            if not c.nullable and c.name.lower() not in {n.lower() for n in mapping.columns}]
        if missing_required:
            problems.append(Problem(file, None, "columns",
                                    f"mapping {mapping.name!r}: target columns {', '.join(missing_required)} are "
                                    "NOT NULL but the mapping does not fill them"))
        if problems:
            raise MappingError(problems)
        return described

    def upsert(self, mapping: TableMapping, columns: Sequence[str], update: Sequence[str]) -> Upsert:
        """How this run writes the mapping's batches: the dialect's upsert, adjusted to the connection."""
        upsert = self.dialect.upsert(self.engine.dialect, mapping.target.table,
                                     self.schema_of(mapping.target.schema_), columns, mapping.target.key, update)
        with self.engine.connect() as conn:
            return self.dialect.prepare(conn, upsert)

    def write(self, upsert: Upsert, rows: list[tuple[Any, ...]], kinds: Sequence[str]) -> None:
        """One batch, one transaction."""
        if not rows:
            return
        dbapi_error = self.engine.dialect.loaded_dbapi.Error
        with self.engine.begin() as conn:
            cursor = conn.connection.cursor()
            try:
                self.dialect.write(cursor, upsert, rows, kinds)
            except dbapi_error as exc:
                # The raw cursor bypasses SQLAlchemy: wrap the driver's error as SQLAlchemy would, so
                # that it is classified (transient, or this mapping failed) like every other one.
                raise sa.exc.DBAPIError.instance(upsert.sql, None, exc, dbapi_error) from exc
            finally:
                cursor.close()

    def existing(self, table: str, schema: str | None, key: Sequence[str],
                 values: Sequence[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
        """Which of ``values`` exist as keys of ``table`` in the target."""
        found: set[tuple[Any, ...]] = set()
        if not values:
            return found
        with self.engine.connect() as conn:
            for part in plan.chunks(values):
                found.update(tuple(r) for r in conn.execute(plan.target_keys(table, schema, key, part)))
        return found

    def rows(self, table: str, schema: str | None, columns: Sequence[str], *,
             batch_size: int) -> Iterator[Sequence[Any]]:
        """Every row of ``table`` (the named columns, in that order), streamed."""
        selected = sa.table(table, *[sa.column(c) for c in columns], schema=schema)
        with self.engine.connect() as conn:
            result = conn.execution_options(**self.dialect.stream_options(batch_size)).execute(
                sa.select(*[selected.c[c] for c in columns]))
            yield from result
