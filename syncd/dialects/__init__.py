"""Every dialect difference, looked up by the SQLAlchemy dialect name."""

from __future__ import annotations

from syncd.dialects.base import Dialect
from syncd.dialects.mysql import MySQLDialect
from syncd.dialects.oracle import OracleDialect
from syncd.dialects.postgresql import PostgreSQLDialect
from syncd.dialects.sqlite import SQLiteDialect

REGISTRY: dict[str, Dialect] = {
    "sqlite": SQLiteDialect(),
    "mysql": MySQLDialect(),
    "mariadb": MySQLDialect(),
    "postgresql": PostgreSQLDialect(),
    "oracle": OracleDialect(),
}


def get(name: str) -> Dialect:
    """The dialect for a SQLAlchemy dialect name; unknown databases get the standard behaviour."""
    return REGISTRY.get(name, Dialect())


__all__ = ["Dialect", "REGISTRY", "get"]
