"""The test servers (scripts/dbservers.sh) and the make_database fixture."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.servers import (
    BACKENDS,
    DB_PREFIX,
    PAIRS,
    SERVER_BACKENDS,
    DatabaseFactory,
    server_url,
    server_urls,
)


def test_constants():
    assert set(SERVER_BACKENDS) < set(BACKENDS)
    for source, target in PAIRS:
        assert source in BACKENDS and target in BACKENDS
    assert len(set(PAIRS)) == len(PAIRS)


@pytest.mark.parametrize("kind", SERVER_BACKENDS)
def test_server_answers(kind):
    engine = sa.create_engine(server_url(kind))
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_server_urls_use_tcp_with_password():
    for kind, url in server_urls().items():
        u = make_url(url)
        assert u.host and u.port and u.password, (kind, url)


def test_mariadb_charset(make_database):
    url = make_database("mariadb")
    engine = make_database.engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT @@character_set_server")).scalar() == "utf8mb4"
        assert conn.execute(sa.text("SELECT @@character_set_database")).scalar() == "utf8mb4"
        assert conn.execute(sa.text("SELECT @@character_set_connection")).scalar() == "utf8mb4"
        # four-byte characters survive a round trip
        conn.execute(sa.text("CREATE TABLE t (s VARCHAR(20))"))
        conn.execute(sa.text("INSERT INTO t VALUES (:s)"), {"s": "县\U0001f600"})
        assert conn.execute(sa.text("SELECT s FROM t")).scalar() == "县\U0001f600"


def test_postgresql_encoding(make_database):
    url = make_database("postgresql")
    engine = make_database.engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SHOW server_encoding")).scalar() == "UTF8"
        assert conn.execute(sa.text("SHOW client_encoding")).scalar() == "UTF8"


@pytest.mark.parametrize("kind", BACKENDS)
def test_made_database_is_fresh_and_empty(make_database, kind):
    url = make_database(kind)
    assert isinstance(url, str)
    other = make_database(kind)
    assert make_url(url).database != make_url(other).database
    engine = make_database.engine(url)
    assert sa.inspect(engine).get_table_names() == []
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, s VARCHAR(10))"))
        conn.execute(sa.text("INSERT INTO t VALUES (1, 'x')"))
    assert sa.inspect(engine).get_table_names() == ["t"]
    # the second database does not see the first one's table
    assert sa.inspect(make_database.engine(other)).get_table_names() == []


@pytest.mark.parametrize("kind", BACKENDS)
def test_made_database_is_dropped_at_cleanup(tmp_path, kind):
    factory = DatabaseFactory(tmp_path)
    try:
        url = factory(kind)
        name = make_url(url).database
        if kind == "sqlite":
            name = name.rsplit("/", 1)[-1].removesuffix(".sqlite3")
        assert name.rsplit("/", 1)[-1].startswith(DB_PREFIX)
        # an engine with a connection still checked in to its pool, and (for
        # the servers) a second one never disposed: cleanup must cope with both
        engine = factory.engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (id INTEGER)"))
        leaked = sa.create_engine(url)
        leaked_conn = leaked.connect()
        leaked_conn.execute(sa.text("SELECT COUNT(*) FROM t"))
        assert factory.exists(kind, name)
    except BaseException:
        factory.cleanup()
        raise
    factory.cleanup()
    try:
        assert not factory.exists(kind, name)
    finally:
        try:
            leaked_conn.close()
        except Exception:
            pass  # the server ended this connection when dropping the database
        leaked.dispose()
