"""PostgreSQL (psycopg 3)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from syncd.dialects.base import Dialect


class PostgreSQLDialect(Dialect):
    name = "postgresql"
    clock_sql = "SELECT LOCALTIMESTAMP, CURRENT_TIMESTAMP"
    transient_sqlstates = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300"})
    transient_words = ("server closed the connection", "connection timeout", "terminating connection",
                       "could not connect", "connection refused", "consuming input failed",
                       "the connection is lost", "connection is closed")

    def error_code(self, orig: BaseException) -> Any:
        return getattr(orig, "sqlstate", None)

    def is_transient(self, exc: BaseException) -> bool:
        orig = getattr(exc, "orig", exc)
        code = self.error_code(orig) or ""
        if code in self.transient_sqlstates or code.startswith("08"):
            return True
        return super().is_transient(exc)

    def connect_args(self, driver: str, timeout: timedelta) -> dict[str, Any]:
        return {"connect_timeout": max(1, int(timeout.total_seconds())), "keepalives": 1,
                "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}
