"""Every dialect difference, looked up by the SQLAlchemy dialect name.

Nothing outside ``syncd/dialects`` names a database kind: it asks this registry. A name that is
not in it is refused (``get`` raises) rather than served some generic behaviour, since an upsert
or a clock query that merely looks standard would fail later, in the middle of a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from syncd.dialects.base import Dialect
from syncd.dialects.dm import DMDialect
from syncd.dialects.kingbase import KingbaseDialect
from syncd.dialects.mysql import MySQLDialect
from syncd.dialects.oracle import OracleDialect
from syncd.dialects.postgresql import PostgreSQLDialect
from syncd.dialects.sqlite import SQLiteDialect
from syncd.errors import FatalSyncError
from syncd.i18n import N_, _

REGISTRY: dict[str, Dialect] = {
    "sqlite": SQLiteDialect(),
    "mysql": MySQLDialect(),
    "mariadb": MySQLDialect(),
    "postgresql": PostgreSQLDialect(),
    "oracle": OracleDialect(),
    "dm": DMDialect(),
    "kingbase": KingbaseDialect(),
}

#: The embedded database: the demo's databases and the default state store are files of it.
EMBEDDED = "sqlite"
#: The dialects syncd writes reference DDL for (sql/reference/), and the demo county schema's (sql/county/).
REFERENCE_DDL = ("sqlite", "mysql", "postgresql", "oracle")
COUNTY_DDL = ("sqlite", "mysql", "postgresql")
#: Reference DDL written only when asked for by name (``syncd ddl --out DIR --dialect dm``): it needs an
#: optional dialect package (dmSQLAlchemy), so it is neither in the default set nor kept in sql/reference/.
ON_REQUEST_DDL = ("dm",)


def get(name: str) -> Dialect:
    """The dialect for a SQLAlchemy dialect name; an unknown name raises FatalSyncError."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise FatalSyncError(N_("syncd does not support "
                                "the database kind {name!r} (supported: {registry})")
                             .format(name=name, registry=', '.join(REGISTRY))) from None


def file_url(path: Path | str) -> sa.URL:
    """The URL of a database file of the embedded kind."""
    return sa.make_url(f"{EMBEDDED}:///{path}")


def url_problem(url: sa.URL) -> str | None:
    """Why syncd cannot use a database URL without connecting (unknown kind, driver not loadable), or None."""
    name = url.get_backend_name()
    if name not in REGISTRY:
        return _("syncd does not support the database kind {name!r} (supported: {supported}); write e.g. "
                 "mysql+pymysql://, postgresql+psycopg://, oracle+oracledb://, dm+dmPython://, kingbase+psycopg:// "
                 "or sqlite:///").format(name=name, supported=", ".join(REGISTRY))
    try:
        url.get_dialect().import_dbapi()
    except Exception as exc:  # noqa: BLE001 - a dialect package may raise anything while it loads
        return _("the driver of {driver!r} cannot be loaded ({exc}); install it, or name one that is installed "
                 "(mysql+pymysql, postgresql+psycopg, oracle+oracledb, dm+dmPython with pip install 'syncd[dm]', "
                 "kingbase+psycopg)").format(driver=url.drivername, exc=exc)
    return None


def large_binary() -> sa.types.TypeEngine[Any]:
    """A binary column type that holds a risk-map image on every database (MySQL's plain BLOB stops at 64 KiB)."""
    from sqlalchemy.dialects import mysql

    return sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql")


__all__ = ["COUNTY_DDL", "Dialect", "EMBEDDED", "ON_REQUEST_DDL", "REFERENCE_DDL", "REGISTRY", "file_url", "get",
           "large_binary", "url_problem"]
