"""Throwaway test databases on the MariaDB/PostgreSQL test servers.

Load as a pytest plugin (``pytest_plugins = ["tests.servers"]`` in
tests/conftest.py). The servers come from ``scripts/dbservers.sh``; their
URLs are read from ``SYNCD_TEST_MARIADB_URL`` and ``SYNCD_TEST_POSTGRESQL_URL``
(``eval "$(scripts/dbservers.sh env)"``, or run ``scripts/test.sh``).

Without a server URL, tests that need that server are skipped, except when
``CI=true``: there the servers are mandatory and such tests fail.

Usage::

    @pytest.mark.parametrize("kind", BACKENDS)
    def test_something(make_database, kind):
        url = make_database(kind)          # fresh, empty, dropped afterwards
        engine = sqlalchemy.create_engine(url)
        ...

    @pytest.mark.parametrize(("source", "target"), PAIRS)
    def test_sync(make_database, source, target):
        src_url, dst_url = make_database(source), make_database(target)
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

__all__ = [
    "BACKENDS",
    "PAIRS",
    "SERVER_BACKENDS",
    "ENV_VARS",
    "DatabaseFactory",
    "server_urls",
    "server_url",
    "in_ci",
    "make_database",
]

#: every backend a test can ask ``make_database`` for
BACKENDS = ["sqlite", "mariadb", "postgresql"]
#: the backends that need a running server
SERVER_BACKENDS = ["mariadb", "postgresql"]
#: (source, target) combinations worth syncing between
PAIRS = [
    ("mariadb", "mariadb"),
    ("mariadb", "postgresql"),
    ("postgresql", "mariadb"),
    ("sqlite", "mariadb"),
    ("postgresql", "postgresql"),
    ("sqlite", "sqlite"),
]

ENV_VARS = {
    "mariadb": "SYNCD_TEST_MARIADB_URL",
    "postgresql": "SYNCD_TEST_POSTGRESQL_URL",
}

#: prefix of every database this module creates
DB_PREFIX = "syncd_t_"


def in_ci() -> bool:
    """True when running under CI (``CI=true``), where servers are mandatory."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def server_urls() -> dict[str, str]:
    """The configured server URLs, by backend kind; missing ones are left out."""
    urls = {}
    for kind, var in ENV_VARS.items():
        value = os.environ.get(var, "").strip()
        if value:
            urls[kind] = value
    return urls


def _missing(kind: str) -> None:
    """Skip (or, under CI, fail) the current test: no server for ``kind``."""
    reason = (
        f"no {kind} test server: {ENV_VARS[kind]} is not set "
        f"(run scripts/test.sh, or scripts/dbservers.sh start and "
        f'eval "$(scripts/dbservers.sh env)")'
    )
    if in_ci():
        pytest.fail(f"{reason}; the test servers are mandatory when CI=true", pytrace=False)
    pytest.skip(reason)


def server_url(kind: str) -> str:
    """The admin URL of the ``kind`` server, or skip/fail the current test."""
    if kind not in ENV_VARS:
        raise ValueError(f"unknown server kind {kind!r}; expected one of {SERVER_BACKENDS}")
    url = server_urls().get(kind)
    if url is None:
        _missing(kind)
    return url  # type: ignore[return-value]


def _url_str(url: URL) -> str:
    return url.render_as_string(hide_password=False)


class DatabaseFactory:
    """Creates fresh, empty databases and drops them again in :meth:`cleanup`.

    ``factory(kind)`` returns a SQLAlchemy URL string (password included) of a
    new database. ``factory.engine(url_or_kind)`` returns an engine that is
    disposed of in :meth:`cleanup`, before the databases are dropped.
    """

    def __init__(self, tmp_path: Path):
        self._tmp_path = Path(tmp_path)
        self._created: list[tuple[str, str, str]] = []  # (kind, name, url)
        self._engines: list[sa.Engine] = []

    # -- public -----------------------------------------------------------

    def __call__(self, kind: str) -> str:
        if kind not in BACKENDS:
            raise ValueError(f"unknown backend {kind!r}; expected one of {BACKENDS}")
        name = DB_PREFIX + secrets.token_hex(6)
        if kind == "sqlite":
            path = self._tmp_path / f"{name}.sqlite3"
            url = _url_str(URL.create("sqlite", database=str(path)))
        else:
            admin = make_url(server_url(kind))
            if kind == "mariadb":
                stmt = f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                query = dict(admin.query)
                query.setdefault("charset", "utf8mb4")
                url = _url_str(admin.set(database=name, query=query))
            else:
                stmt = f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"
                url = _url_str(admin.set(database=name))
            with self._admin_engine(kind).connect() as conn:
                conn.execute(sa.text(stmt))
        self._created.append((kind, name, url))
        return url

    def engine(self, url_or_kind: str, **kwargs) -> sa.Engine:
        """An engine for a URL (or a new database of that kind), disposed in cleanup."""
        url = self(url_or_kind) if url_or_kind in BACKENDS else url_or_kind
        engine = sa.create_engine(url, **kwargs)
        self._engines.append(engine)
        return engine

    def exists(self, kind: str, name: str) -> bool:
        """Whether a database named ``name`` exists on the ``kind`` backend."""
        if kind == "sqlite":
            return (self._tmp_path / f"{name}.sqlite3").exists()
        if kind == "mariadb":
            sql = "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = :n"
        else:
            sql = "SELECT COUNT(*) FROM pg_database WHERE datname = :n"
        with self._admin_engine(kind).connect() as conn:
            return bool(conn.execute(sa.text(sql), {"n": name}).scalar())

    def cleanup(self) -> None:
        """Dispose of the engines, then drop every database made (errors are collected)."""
        errors = []
        while self._engines:
            try:
                self._engines.pop().dispose()
            except Exception as exc:  # pragma: no cover - best effort
                errors.append(f"dispose: {exc!r}")
        while self._created:
            kind, name, _url = self._created.pop()
            try:
                self._drop(kind, name)
            except Exception as exc:
                errors.append(f"drop {kind} database {name}: {exc!r}")
        if errors:
            raise RuntimeError("test database cleanup failed:\n" + "\n".join(errors))

    # -- internals --------------------------------------------------------

    def _admin_engine(self, kind: str) -> sa.Engine:
        # A new engine each time, without pooling: nothing lingers on the server.
        return sa.create_engine(
            server_url(kind), poolclass=NullPool, isolation_level="AUTOCOMMIT"
        )

    def _drop(self, kind: str, name: str) -> None:
        if kind == "sqlite":
            for suffix in ("", "-journal", "-wal", "-shm"):
                (self._tmp_path / f"{name}.sqlite3{suffix}").unlink(missing_ok=True)
            return
        engine = self._admin_engine(kind)
        try:
            with engine.connect() as conn:
                if kind == "mariadb":
                    # Connections left open in the database (e.g. an engine
                    # the test forgot to dispose) would block DROP DATABASE
                    # on metadata locks: end them first, and don't wait forever.
                    conn.execute(sa.text("SET SESSION lock_wait_timeout = 30"))
                    ids = conn.execute(
                        sa.text(
                            "SELECT id FROM information_schema.processlist"
                            " WHERE db = :n AND id <> CONNECTION_ID()"
                        ),
                        {"n": name},
                    ).scalars().all()
                    for conn_id in ids:
                        try:
                            conn.execute(sa.text(f"KILL CONNECTION {int(conn_id)}"))
                        except sa.exc.DBAPIError:
                            pass  # already gone
                    conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
                else:
                    version = conn.execute(sa.text("SHOW server_version_num")).scalar()
                    if int(version) >= 130000:
                        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    else:
                        conn.execute(
                            sa.text(
                                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                " WHERE datname = :n AND pid <> pg_backend_pid()"
                            ),
                            {"n": name},
                        )
                        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        finally:
            engine.dispose()


@pytest.fixture
def make_database(tmp_path: Path) -> Iterator[DatabaseFactory]:
    """``make_database(kind)`` -> URL string of a fresh, empty database.

    ``kind`` is one of :data:`BACKENDS`. Databases are dropped at teardown.
    Skips the test if the server's URL is not configured (fails under CI).
    """
    factory = DatabaseFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.cleanup()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked ``servers`` need both servers: skip (fail in CI) without them."""
    if item.get_closest_marker("servers") is None:
        return
    urls = server_urls()
    for kind in SERVER_BACKENDS:
        if kind not in urls:
            _missing(kind)
