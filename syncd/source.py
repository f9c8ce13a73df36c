"""Reading the county database: the clock, the newest cursor, and rows streamed in batches.

Reads stream with server-side cursors (``stream_results``/``yield_per``: PyMySQL's SSCursor,
psycopg's named cursors, oracledb's arraysize), so memory follows the batch size, not the table.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import sqlalchemy as sa

from syncd import plan
from syncd.dialects import Dialect
from syncd.mapping import TableMapping


@dataclass(frozen=True)
class Probe:
    newest: Any
    db_now: Any
    db_now_utc: Any


class Source:
    def __init__(self, engine: sa.Engine, dialect: Dialect):
        self.engine = engine
        self.dialect = dialect

    def probe(self, mapping: TableMapping) -> Probe:
        """The newest cursor value and the database's clock, read together at a run's start."""
        with self.engine.connect() as conn:
            newest = conn.execute(plan.probe_newest(mapping)).scalar()
            db_now, db_now_utc = conn.execute(self.dialect.clock_select()).one()
        return Probe(newest, db_now, db_now_utc)

    def scalar(self, statement: sa.Select[Any]) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(statement).scalar()

    def fetch(self, statement: sa.Select[Any]) -> list[Sequence[Any]]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(statement)]

    @contextmanager
    def stream(self, statement: sa.Select[Any], batch_size: int) -> Iterator[Iterator[list[Sequence[Any]]]]:
        """Batches of rows (plain tuples) from one streaming query."""
        with self.engine.connect() as conn:
            result = conn.execution_options(**self.dialect.stream_options(batch_size)).execute(statement)
            try:
                yield (list(map(tuple, part)) for part in result.partitions(batch_size))
            finally:
                result.close()
