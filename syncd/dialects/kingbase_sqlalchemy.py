"""SQLAlchemy's dialects for KingbaseES: its PostgreSQL dialects, named ``kingbase``, reading the
server's version as ``kingbase`` explains. SQLAlchemy imports this module when a ``kingbase``
URL is first used (``syncd.dialects.kingbase`` registers the names), so nothing else pays for
importing SQLAlchemy's PostgreSQL dialects."""

from __future__ import annotations

from typing import Any

from sqlalchemy import util
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2

from syncd.dialects.kingbase import server_version_info


class KingbasePsycopg(PGDialect_psycopg):
    """SQLAlchemy's psycopg 3 dialect, named ``kingbase``."""

    name = "kingbase"
    supports_statement_cache = True

    def _get_server_version_info(self, connection: Any) -> tuple[int, ...]:
        return server_version_info(connection)


class KingbaseKsycopg2(PGDialect_psycopg2):
    """SQLAlchemy's psycopg2 dialect over ksycopg2, named ``kingbase``."""

    name = "kingbase"
    supports_statement_cache = True
    driver = "ksycopg2"

    @classmethod
    def import_dbapi(cls) -> Any:
        import ksycopg2

        return ksycopg2

    # SQLAlchemy reads these as attributes (memoized properties), never calls them.
    @util.memoized_property
    def _psycopg2_extensions(self) -> Any:
        from ksycopg2 import extensions

        return extensions

    @util.memoized_property
    def _psycopg2_extras(self) -> Any:
        from ksycopg2 import extras

        return extras

    def _get_server_version_info(self, connection: Any) -> tuple[int, ...]:
        return server_version_info(connection)
