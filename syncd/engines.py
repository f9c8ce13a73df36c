"""Engines and connections: the one place that turns configured databases into SQLAlchemy engines.

Part of the database layer, with ``source``, ``target`` and ``state``: a command asks for a
``Connections`` (source, target, state store) and closes it again, so a library caller can run
commands in a loop without leaking connections.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from syncd import dialects, files
from syncd.config import Config, DatabaseConfig
from syncd.errors import FatalSyncError, SyncdError, TransientSyncError, first_line
from syncd.source import Source
from syncd.state import StateStore
from syncd.target import Target


def make_engine(url: sa.URL, *, connect_timeout: timedelta = timedelta(seconds=15)) -> sa.Engine:
    dialect = dialects.get(url.get_backend_name())
    return sa.create_engine(url, pool_pre_ping=True, hide_parameters=True,
                            connect_args=dialect.connect_args(url.get_driver_name(), connect_timeout))


def prepare_drivers(config: Config) -> None:
    """Process-wide driver set-up the config asks for (Oracle's thick mode); once, before any engine."""
    if config.oracle_client is None:
        return
    urls = [config.source.url, config.target.url, config.state.url]
    for name in {sa.make_url(url).get_backend_name() for url in urls if url}:
        dialects.get(name).use_client(config.oracle_client)


def engine_for(db: DatabaseConfig) -> sa.Engine:
    """An engine for a configured database, its password read from its password_file."""
    return make_engine(db.sqlalchemy_url(), connect_timeout=db.connect_timeout)


def open_state(config: Config) -> StateStore:
    """The state store; a file store is created private (its folder 0700, the file 0600)."""
    url = config.state_url()
    db = dialects.get(url.get_backend_name()).database_file(url)
    if db is not None:
        files.make_dir(db.parent, files.STATE_DIR)
        try:
            files.private_file(db)
        except OSError as exc:
            raise FatalSyncError(f"state store {db}: cannot create or open it: {exc.strerror or exc}; check that "
                                 "its folder exists and that the user syncd runs as may write there") from None
    return StateStore(make_engine(url))


@dataclass
class Connections:
    source: Source
    target: Target
    state: StateStore

    def is_transient(self, exc: BaseException) -> bool:
        if isinstance(exc, TransientSyncError):
            return True
        if isinstance(exc, SyncdError):
            return False
        return any(d.is_transient(exc) for d in {self.source.dialect, self.target.dialect})

    def dispose(self) -> None:
        for engine in {self.source.engine, self.target.engine, self.state.engine}:
            engine.dispose()


@contextmanager
def connect(config: Config) -> Iterator[Connections]:
    source_engine = engine_for(config.source)
    target_engine = engine_for(config.target)
    conns = Connections(
        Source(source_engine, dialects.get(source_engine.dialect.name)),
        Target(target_engine, dialects.get(target_engine.dialect.name), config.target.schema_),
        open_state(config))
    try:
        yield conns
    finally:
        conns.dispose()


def answers(role: str, db: DatabaseConfig) -> str | None:
    """None when the database answers ``SELECT 1``; else one line: what failed and what to check."""
    try:
        engine = engine_for(db)
    except (OSError, sa.exc.ArgumentError) as exc:
        return f"the {role} database cannot be configured: {exc}"
    try:
        with engine.connect() as conn:
            conn.execute(sa.select(sa.literal_column("1"))).scalar()
    except sa.exc.SQLAlchemyError as exc:
        return f"the {role} database ({db.display_url()}) does not answer: {first_line(exc)}; {_what_to_check(exc)}"
    except Exception as exc:  # noqa: BLE001 - a driver refusing a URL option or charset raises whatever it likes
        return (f"the {role} database ({db.display_url()}) cannot be reached with this URL: "
                f"{type(exc).__name__}: {first_line(exc)}; check the options after '?' in the URL "
                "(an unknown option or character set)")
    finally:
        engine.dispose()
    return None


def _what_to_check(exc: BaseException) -> str:
    text = first_line(exc).lower()
    if any(w in text for w in ("access denied", "password authentication", "authentication failed",
                               "invalid username/password", "ora-01017")):
        return "check the user and its password (password_file)"
    if any(w in text for w in ("connection refused", "can't connect", "could not connect", "timed out", "timeout",
                               "name or service not known", "no route to host", "could not translate host")):
        return "check the host and port, that the server runs, and that this machine reaches it (firewall, extranet)"
    if "database" in text and any(w in text for w in ("unknown", "does not exist")):
        return "check the database name in the URL"
    if "option" in text or "charset" in text or "character set" in text:
        return "check the options after '?' in the URL"
    return "check the URL, the password and that the server is reachable from this machine"
