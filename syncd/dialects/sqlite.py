"""SQLite: the embedded default for the demo and for the state store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from syncd.dialects.base import Dialect


class SQLiteDialect(Dialect):
    name = "sqlite"

    def sqlalchemy_dialect(self) -> Any:
        from sqlalchemy.dialects import sqlite

        return sqlite.dialect()
    # SQLite has no clock of its own: the process's clock, as local wall time, like most
    # applications write it. Cursor text keeps its own layout (see watermark.format_like).
    clock_sql = "SELECT datetime('now', 'localtime'), datetime('now')"
    transient_words = ("database is locked", "database table is locked", "busy")

    def connect_args(self, driver: str, timeout: timedelta) -> dict[str, Any]:
        return {"timeout": timeout.total_seconds()}

    def database_file(self, url: Any) -> Path | None:
        return Path(url.database) if url.database and url.database != ":memory:" else None

    def executemany(self, cursor: Any, sql: str, rows: list[tuple[Any, ...]], kinds: Sequence[str]) -> None:
        # The sqlite3 module has no adapters for Decimal (and deprecates those for datetime):
        # store them as SQLAlchemy's SQLite types do, so the rows read back the same way.
        converters = [(i, _ADAPT[k]) for i, k in enumerate(kinds) if k in _ADAPT]
        if converters:
            adapted = []
            for row in rows:
                values = list(row)
                for i, convert in converters:
                    if values[i] is not None:
                        values[i] = convert(values[i])
                adapted.append(values)
            rows = adapted
        cursor.executemany(sql, rows)


_ADAPT: dict[str, Callable[[Any], Any]] = {
    "decimal": str,
    "datetime": lambda v: v.isoformat(" ", "microseconds"),
    "date": lambda v: v.isoformat(),
    "time": lambda v: v.strftime("%H:%M:%S.%f"),
}
