"""KingbaseES (人大金仓) V8R6 and later, in its PostgreSQL-compatible mode.

KingbaseES speaks PostgreSQL's protocol and SQL, so SQLAlchemy's PostgreSQL dialect does the
work (subclassed in ``kingbase_sqlalchemy``), through psycopg 3 (``kingbase+psycopg://``, what
syncd installs) or Kingbase's own driver ksycopg2, a psycopg2 build (``kingbase+ksycopg2://``,
``pip install 'syncd[kingbase]'``). Two things keep a plain ``postgresql+psycopg://`` URL from
working, and are why the kind has a name of its own:

- SQLAlchemy reads the server's version from ``version()``, which on KingbaseES says
  "KingbaseES V008R006..." and not "PostgreSQL 12.1": SQLAlchemy refuses to go on. The dialects
  of ``kingbase_sqlalchemy`` read ``server_version`` (the PostgreSQL release KingbaseES follows) instead.
- What KingbaseES has of PostgreSQL's catalog and COPY differs between releases and modes, so
  syncd uses only plain SQL there: ``INSERT ... ON CONFLICT`` row by row (no COPY staging), and
  reconcile hashes the target's rows in Python.

No KingbaseES server runs in this project's tests: statements are compiled against these
dialects, and docs/databases.md says what was and was not verified.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import registry

from syncd.dialects.base import Upsert
from syncd.dialects.postgresql import PostgreSQLDialect

#: The PostgreSQL release assumed when the server names none (KingbaseES V8R6 follows 12).
FOLLOWS = (12, 0)


def server_version_info(connection: Any) -> tuple[int, ...]:
    """The PostgreSQL release a KingbaseES server follows, for SQLAlchemy's feature checks."""
    text = connection.exec_driver_sql("SHOW server_version").scalar() or ""
    found = re.match(r"\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?", str(text))
    if not found:
        return FOLLOWS
    return tuple(int(x) for x in found.groups() if x is not None)


# ``kingbase://`` and ``kingbase+psycopg://`` take psycopg 3, ``kingbase+ksycopg2://`` ksycopg2. The
# SQLAlchemy dialects (subclasses of its PostgreSQL ones) live in a module of their own that
# SQLAlchemy imports when such a URL is first used: every other command is spared importing
# SQLAlchemy's PostgreSQL dialects at start-up.
_DIALECTS = "syncd.dialects.kingbase_sqlalchemy"
registry.register("kingbase", _DIALECTS, "KingbasePsycopg")
registry.register("kingbase.psycopg", _DIALECTS, "KingbasePsycopg")
registry.register("kingbase.ksycopg2", _DIALECTS, "KingbaseKsycopg2")


class KingbaseDialect(PostgreSQLDialect):
    name = "kingbase"
    # Which roles see other sessions' transactions differs from PostgreSQL and is not verified:
    # the bound stays the plain lag + lookback (open_since below answers "not visible").
    transactions_grant: str | None = None
    digest_in_database = False

    def sqlalchemy_dialect(self) -> Any:
        from syncd.dialects.kingbase_sqlalchemy import KingbasePsycopg

        return KingbasePsycopg()

    def error_code(self, orig: BaseException) -> Any:
        # psycopg 3 names the SQLSTATE ``sqlstate``, psycopg2 (and so ksycopg2) ``pgcode``.
        return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)

    def open_since(self, conn: sa.Connection) -> tuple[bool, Any]:
        return False, None

    def prepare(self, conn: sa.Connection, upsert: Upsert) -> Upsert:
        # No COPY staging: the upsert statement, row by row in one executemany per batch.
        return upsert
