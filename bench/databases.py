"""Fresh source and target databases for one benchmark run, and plain DB-API connections to them.

Server databases get random names on the test servers (``scripts/dbservers.sh``) and are dropped
when the run ends, whatever happens; SQLite databases are files in the run's temporary directory.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from bench import dataset, drivers

ENV_VARS = {"mariadb": "SYNCD_TEST_MARIADB_URL", "postgresql": "SYNCD_TEST_POSTGRESQL_URL"}

source_meta = sa.MetaData()
source_table = sa.Table(
    dataset.SOURCE_TABLE, source_meta,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("company_code", sa.String(9), nullable=False),
    sa.Column("task_id", sa.String(36), nullable=False),
    sa.Column("check_time", sa.DateTime),
    sa.Column("check_result", sa.String(10)),
    sa.Column("remark", sa.String(500)),
    sa.Column("checker", sa.String(20)),
    sa.Column("danger_count", sa.Integer),
    sa.Column("check_type", sa.SmallInteger),
    sa.Column("score", sa.Numeric(5, 2)),
    sa.Column("cost", sa.Numeric(12, 2)),
    sa.Column("del_flag", sa.String(1), nullable=False),
    sa.Column("create_time", sa.DateTime),
    sa.Column("update_time", sa.DateTime, index=True),
    sa.Column("version", sa.Integer),
)

target_meta = sa.MetaData()
target_table = sa.Table(
    dataset.TARGET_TABLE, target_meta,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("company_code", sa.String(9), nullable=False),
    sa.Column("task_id", sa.String(36), nullable=False),
    sa.Column("check_time", sa.DateTime),
    sa.Column("check_status", sa.String(2)),
    sa.Column("remark", sa.String(500)),
    sa.Column("checker", sa.String(20)),
    sa.Column("danger_count", sa.Integer),
    sa.Column("check_type", sa.SmallInteger),
    sa.Column("score", sa.Numeric(5, 2)),
    sa.Column("cost", sa.Numeric(12, 2)),
    sa.Column("deleted", sa.String(1), nullable=False),
    sa.Column("create_date", sa.DateTime),
    sa.Column("update_date", sa.DateTime),
    sa.Column("version", sa.Integer),
    sa.Column("sync_time", sa.DateTime),
)
assert tuple(c.name for c in source_table.columns) == dataset.SOURCE_COLUMNS
assert tuple(c.name for c in target_table.columns) == dataset.TARGET_COLUMNS


@dataclass(frozen=True)
class Pair:
    kind: str
    source: str
    target: str


def admin_url(kind: str) -> URL:
    value = os.environ.get(ENV_VARS[kind], "").strip()
    if not value:
        raise SystemExit(f"{ENV_VARS[kind]} is not set: run `bash scripts/dbservers.sh start` and "
                         f"`eval \"$(bash scripts/dbservers.sh env)\"` first")
    return make_url(value)


def _admin(kind: str, statement: str) -> None:
    engine = sa.create_engine(admin_url(kind), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


@contextmanager
def fresh_pair(kind: str, workdir: Path) -> Iterator[Pair]:
    if kind == "sqlite":
        yield Pair(kind, f"sqlite:///{workdir / 'source.db'}", f"sqlite:///{workdir / 'target.db'}")
        return
    tag = secrets.token_hex(4)
    names = [f"syncd_bench_src_{tag}", f"syncd_bench_tgt_{tag}"]
    base = admin_url(kind)
    created = []
    try:
        for name in names:
            if kind == "mariadb":
                _admin(kind, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
            else:
                _admin(kind, f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0')
            created.append(name)
        yield Pair(kind, *(base.set(database=n).render_as_string(hide_password=False) for n in names))
    finally:
        for name in created:
            if kind == "mariadb":
                _admin(kind, f"DROP DATABASE IF EXISTS `{name}`")
            else:
                _admin(kind, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def dbapi_params(kind: str, url: str) -> dict[str, Any]:
    """The keyword arguments of ``bench.drivers.connect`` for a database URL."""
    u = make_url(url)
    if kind == "sqlite":
        return {"database": u.database}
    if kind == "mariadb":
        return {"host": u.host, "port": u.port or 3306, "user": u.username, "password": u.password,
                "database": u.database}
    return {"host": u.host, "port": u.port or 5432, "user": u.username, "password": u.password,
            "dbname": u.database}


def dbapi_connect(kind: str, url: str) -> Any:
    """A plain driver connection: what a hand-written copy would open."""
    return drivers.connect(kind, dbapi_params(kind, url))


def server_version(kind: str, url: str) -> str:
    if kind == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if kind == "mariadb":
                return "MariaDB/MySQL " + str(conn.exec_driver_sql("SELECT VERSION()").scalar())
            return str(conn.exec_driver_sql("SELECT version()").scalar()).split(" on ")[0]
    finally:
        engine.dispose()


def create_source(pair: Pair) -> None:
    engine = sa.create_engine(pair.source, poolclass=NullPool)
    try:
        source_meta.create_all(engine)
    finally:
        engine.dispose()


def recreate_target(pair: Pair) -> None:
    """An empty target table: each full copy starts from the same state."""
    engine = sa.create_engine(pair.target, poolclass=NullPool)
    try:
        target_meta.drop_all(engine)
        target_meta.create_all(engine)
    finally:
        engine.dispose()


def add_other_row(pair: Pair) -> None:
    """One target row whose key no source row has."""
    engine = sa.create_engine(pair.target, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(target_table.insert().values(id="not-from-the-source", company_code="000000000",
                                                      task_id="-", deleted="0"))
    finally:
        engine.dispose()


def load_source(pair: Pair, rows: int, generator: dataset.Generator, chunk: int = 5_000) -> float:
    """Fill the source table; returns the seconds it took. Statistics are refreshed afterwards so
    the first phase does not pay for hint bits or a stale plan that later phases get for free."""
    started = time.monotonic()
    conn = dbapi_connect(pair.kind, pair.source)
    cols = ", ".join(dataset.SOURCE_COLUMNS)
    try:
        if pair.kind == "postgresql":
            with conn.cursor() as cur, cur.copy(f"COPY {dataset.SOURCE_TABLE} ({cols}) FROM STDIN") as copy:
                for part in generator.rows(rows, chunk):
                    for row in part:
                        copy.write_row(row)
            conn.commit()
            conn.autocommit = True
            conn.execute(f"VACUUM ANALYZE {dataset.SOURCE_TABLE}")
        else:
            mark = "?" if pair.kind == "sqlite" else "%s"
            sql = (f"INSERT INTO {dataset.SOURCE_TABLE} ({cols}) "
                   f"VALUES ({', '.join([mark] * len(dataset.SOURCE_COLUMNS))})")
            cur = conn.cursor()
            for part in generator.rows(rows, chunk):
                cur.executemany(sql, dataset.sqlite_text(part) if pair.kind == "sqlite" else part)
                conn.commit()
            cur.execute(f"ANALYZE {dataset.SOURCE_TABLE}" if pair.kind == "sqlite" else
                        f"ANALYZE TABLE {dataset.SOURCE_TABLE}")
            if pair.kind == "mariadb":
                cur.fetchall()
            conn.commit()
            cur.close()
    finally:
        conn.close()
    return time.monotonic() - started


def touch_one_percent(pair: Pair) -> tuple[int, Any]:
    """Move the update time of every hundredth row to a minute before the source's clock, as an
    application editing 1 % of the records would; returns (rows changed, the new update time)."""
    conn = dbapi_connect(pair.kind, pair.source)
    try:
        cur = conn.cursor()
        if pair.kind == "sqlite":
            cur.execute("SELECT strftime('%Y-%m-%d %H:%M:%f000', 'now', 'localtime', '-1 minute')")
        elif pair.kind == "mariadb":
            cur.execute("SELECT NOW() - INTERVAL 1 MINUTE")
        else:
            cur.execute("SELECT date_trunc('second', LOCALTIMESTAMP) - interval '1 minute'")
        stamp = cur.fetchone()[0]
        mark, percent = ("?", "%") if pair.kind == "sqlite" else ("%s", "%%")
        cur.execute(f"UPDATE {dataset.SOURCE_TABLE} SET update_time = {mark}, version = version + 1 "
                    f"WHERE id {percent} 100 = 0", (stamp,))
        changed = cur.rowcount
        conn.commit()
        cur.close()
    finally:
        conn.close()
    return changed, stamp


def count(url: str, table: str, where: str = "", params: tuple[Any, ...] = ()) -> int:
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table} {where}", params).scalar())
    finally:
        engine.dispose()
