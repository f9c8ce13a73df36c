"""Plain DB-API connections from ready-made keyword arguments, without SQLAlchemy.

The parent process turns URLs into keyword arguments (``bench.databases.dbapi_params``); a raw
phase only imports its driver, as a hand-written copy would, so its whole-process time is fair.
"""

from __future__ import annotations

from typing import Any


def connect(kind: str, params: dict[str, Any]) -> Any:
    if kind == "sqlite":
        import sqlite3

        return sqlite3.connect(params["database"])
    if kind == "mariadb":
        import pymysql

        return pymysql.connect(**params, charset="utf8mb4", autocommit=False)
    import psycopg

    return psycopg.connect(**params, autocommit=False)
