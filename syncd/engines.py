"""Engines and connections: the one place that turns configured databases into SQLAlchemy engines.

Part of the database layer, with ``source``, ``target`` and ``state``: a command asks for a
``Connections`` (source, target, state store) and closes it again, so a library caller can run
commands in a loop without leaking connections.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from syncd import dialects, files, state
from syncd.config import Config, DatabaseConfig
from syncd.errors import FatalSyncError, SyncdError, TransientSyncError, first_line
from syncd.i18n import N_, _
from syncd.source import Source
from syncd.state import StateStore

if TYPE_CHECKING:   # the target and its row functions: imported by connect, not by status
    from syncd.target import Target


def make_engine(url: sa.URL, *, connect_timeout: timedelta = timedelta(seconds=15),
                lock_timeout: timedelta | None = None, timezone: str | None = None) -> sa.Engine:
    """An engine; with ``lock_timeout`` each of its sessions gives up waiting for another session's
    lock after that long (the dialect's session setting), and the wait is retried as transient.
    With ``timezone`` each session reads a date and time without a zone as one in that zone
    (``Dialect.use_time_zone``)."""
    dialect = dialects.get(url.get_backend_name())
    engine = sa.create_engine(url, pool_pre_ping=True, hide_parameters=True,
                              connect_args=dialect.connect_args(url.get_driver_name(), connect_timeout))
    if lock_timeout is not None or timezone is not None:
        def set_up(dbapi_connection: Any, _record: Any) -> None:
            if lock_timeout is not None:
                dialect.bound_lock_waits(dbapi_connection, lock_timeout)
            if timezone is not None:
                dialect.use_time_zone(dbapi_connection, timezone)
        sa.event.listen(engine, "connect", set_up)
    return engine


def prepare_drivers(config: Config) -> None:
    """Process-wide driver set-up the config asks for (Oracle's thick mode); once, before any engine."""
    if config.oracle_client is None:
        return
    urls = [config.source.url, config.target.url, config.state.url]
    for name in {sa.make_url(url).get_backend_name() for url in urls if url}:
        dialects.get(name).use_client(config.oracle_client)


def engine_for(db: DatabaseConfig, *, target: bool = False, timezone: str | None = None) -> sa.Engine:
    """An engine for a configured source or target, its password read from its password_file; the
    ``target``'s waits for locks are bounded by its ``lock_timeout``; with ``timezone`` (the
    target's: ``defaults.timezone``, the zone of every mapped time) its sessions read a time
    without a zone in that zone. A database file (SQLite) must exist: connecting would otherwise
    create an empty one."""
    url = db.sqlalchemy_url()
    engine = make_engine(url, connect_timeout=db.connect_timeout, lock_timeout=db.lock_timeout if target else None,
                         timezone=timezone)
    dialect = dialects.get(url.get_backend_name())
    if dialect.database_file(url) is not None:
        def must_exist(*_args: Any) -> None:
            missing = dialect.missing_file(url)
            if missing is not None:
                raise FatalSyncError(N_("{missing}; check the path in the URL (a relative path is relative to the "
                                        "config file's folder)").format(missing=missing))
        sa.event.listen(engine, "do_connect", must_exist)
    return engine


def open_state(config: Config) -> StateStore:
    """The state store; a file store is created private (its folder 0700, the file 0600)."""
    url = config.state_url()
    db = dialects.get(url.get_backend_name()).database_file(url)
    if db is not None:
        try:
            files.make_dir(db.parent, files.STATE_DIR)
            files.private_file(db)
        except OSError as exc:
            raise FatalSyncError(N_("state store {db}: cannot create or open it: {value}; check that its folder "
                                    "exists and that the user "
                                    "syncd runs as may write there").format(db=db, value=exc.strerror or exc)) from None
        # SQLite creates its -wal and -shm files with the mode of the store; ones left by a
        # store that had a wider mode are narrowed like it.
        for part in (db.with_name(f"{db.name}-wal"), db.with_name(f"{db.name}-shm")):
            with suppress(FileNotFoundError):
                files.restrict(part, files.STATE_FILE)
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
    from syncd.target import Target

    source_engine = engine_for(config.source)
    target_engine = engine_for(config.target, target=True, timezone=config.defaults.timezone)
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
    missing = file_problem(role, db)
    if missing is not None:
        return missing
    try:
        engine = engine_for(db)
    except (OSError, sa.exc.ArgumentError) as exc:
        return _("the {role} database cannot be configured: {exc}").format(role=role, exc=exc)
    try:
        with engine.connect() as conn:
            conn.execute(sa.select(sa.literal_column("1"))).scalar()
    except sa.exc.SQLAlchemyError as exc:
        return _("the {role} database ({url}) does not answer: {error}; {advice}").format(
            role=role, url=db.display_url(), error=first_line(exc), advice=_what_to_check(exc))
    except Exception as exc:  # noqa: BLE001 - a driver refusing a URL option or charset raises whatever it likes
        return _("the {role} database ({url}) cannot be reached with this URL: {kind}: {error}; check the options "
                 "after '?' in the URL (an unknown option or character set)").format(
            role=role, url=db.display_url(), kind=type(exc).__name__, error=first_line(exc))
    finally:
        engine.dispose()
    return None


def _what_to_check(exc: BaseException) -> str:
    text = first_line(exc).lower()
    if any(w in text for w in ("access denied", "password authentication", "authentication failed",
                               "invalid username/password", "ora-01017")):
        return _("check the user and its password (password_file)")
    if any(w in text for w in ("connection refused", "can't connect", "could not connect", "timed out", "timeout",
                               "name or service not known", "no route to host", "could not translate host")):
        return _("check the host and port, that the server runs, and that this machine reaches it (firewall, "
                 "extranet)")
    if "database" in text and any(w in text for w in ("unknown", "does not exist")):
        return _("check the database name in the URL")
    if "option" in text or "charset" in text or "character set" in text:
        return _("check the options after '?' in the URL")
    return _("check the URL, the password and that the server is reachable from this machine")


def file_problem(role: str, db: DatabaseConfig) -> str | None:
    """Why the database file of a source or target (SQLite) cannot be used, without touching it; else None."""
    url = sa.make_url(db.url)
    missing = dialects.get(url.get_backend_name()).missing_file(url)
    if missing is None:
        return None
    return _("the {role} database: {missing}; check the path in {role}.url (a relative path is relative to the "
             "config file's folder)").format(role=role, missing=missing)


# -- what check --connect shows of each database ---------------------------------------------------

@dataclass(frozen=True)
class ServerFacts:
    """A database as check --connect shows it; ``problem`` when it could not be asked."""

    role: str
    where: str
    version: str | None = None
    clock: datetime | None = None          # the database's clock, UTC
    offset: timedelta | None = None        # its clock minus this machine's
    round_trip: timedelta | None = None    # how long the question took: the offset is that exact
    time_zone: str | None = None
    charset: str | None = None
    problem: str | None = None


def utc_moment(value: Any) -> datetime | None:
    """A clock reading as an aware UTC time: naive values (and text) are UTC already."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def ask_facts(role: str, engine: sa.Engine, where: str) -> ServerFacts:
    """Version, clock (and its offset from this machine), time zone and character set of one database."""
    dialect = dialects.get(engine.dialect.name)
    try:
        with engine.connect() as conn:
            before = datetime.now(timezone.utc)
            version, clock, zone, charset = conn.execute(sa.text(dialect.facts_sql)).one()
            after = datetime.now(timezone.utc)
    except (sa.exc.SQLAlchemyError, SyncdError) as exc:
        return ServerFacts(role, where, problem=first_line(exc))
    moment = utc_moment(clock)
    offset = moment - (before + (after - before) / 2) if moment is not None else None
    return ServerFacts(role, where, version=str(version) if version is not None else None, clock=moment,
                       offset=offset, round_trip=after - before,
                       time_zone=str(zone) if zone is not None else None,
                       charset=str(charset) if charset is not None else None)


def server_facts(config: Config) -> list[ServerFacts]:
    """What check --connect shows of the source, the target and the state store. A state store file
    that does not exist yet is not created."""
    found = []
    for role, db in (("source", config.source), ("target", config.target)):
        engine = engine_for(db)
        try:
            found.append(ask_facts(role, engine, db.display_url()))
        finally:
            engine.dispose()
    url = config.state_url()
    where = url.render_as_string(hide_password=True)
    dialect = dialects.get(url.get_backend_name())
    if dialect.database_file(url) is not None and dialect.missing_file(url) is not None:
        found.append(ServerFacts("state", where, problem=_("the file does not exist yet: the first run creates it")))
        return found
    engine = make_engine(url)
    try:
        found.append(ask_facts("state", engine, where))
    finally:
        engine.dispose()
    return found


# -- privileges (check --connect) ---------------------------------------------------------------

def missing_privileges(engine: sa.Engine, table: str, schema: str | None, *, select: Sequence[str] = (),
                       insert: Sequence[str] = (), update: Sequence[str] = (),
                       delete: bool = False) -> list[tuple[str, str | None]]:
    """(privilege, the GRANT that gives it) for each of these uses of ``table`` that the engine's
    user may not make, (privilege, None) for one that could not be checked (the table is locked):
    ``Dialect.missing_privileges``."""
    dialect = dialects.get(engine.dialect.name)
    with engine.connect() as conn:
        return dialect.missing_privileges(conn, table, schema, select=select, insert=insert, update=update,
                                          delete=delete)


def state_write_problems(config: Config) -> list[str]:
    """Why syncd could not write its state store, one line each; nothing is created or changed."""
    url = config.state_url()
    dialect = dialects.get(url.get_backend_name())
    db = dialect.database_file(url)
    if db is not None:
        return _file_write_problems(db)
    engine = make_engine(url)
    found = []
    try:
        existing = set(sa.inspect(engine).get_table_names())
        for table in state.metadata.sorted_tables:
            if table.name not in existing:
                continue      # a new store: the first run creates its tables
            names = [c.name for c in table.columns]
            writable = [c.name for c in table.columns if not c.primary_key] if table.name in state.UPDATED else []
            for privilege, grant in missing_privileges(engine, table.name, None, select=names, insert=names,
                                                       update=writable, delete=table.name in state.DELETED_FROM):
                if grant is None:
                    found.append(_("could not check whether the state store's user may {privilege} {name} (the "
                                   "table is locked by another session); run check --connect "
                                   "again").format(privilege=privilege, name=table.name))
                    continue
                found.append(_("the state store's user may "
                               "not {privilege} {name}: {grant}")
                             .format(privilege=privilege, name=table.name, grant=grant))
    except sa.exc.SQLAlchemyError as exc:
        found.append(_("the state store ({url}) cannot be read: {error}; {advice}").format(
            url=url.render_as_string(hide_password=True), error=first_line(exc), advice=_what_to_check(exc)))
    finally:
        engine.dispose()
    return found


def state_warnings(config: Config) -> list[str]:
    """A state store that is a file on a network file system (NFS, SMB/CIFS, FUSE): SQLite's
    write-ahead log does not work there, so the store keeps the slower rollback journal."""
    url = config.state_url()
    db = dialects.get(url.get_backend_name()).database_file(url)
    mount = state.file_system_type(db) if db is not None else None
    if db is None or mount is None or files.state_journal_mode(mount[1]) == "WAL":
        return []
    point, kind = mount
    return [_("state store {db} is on a {kind} file system (mounted on {point}): SQLite's write-ahead log does not "
              "work there, so the store uses the rollback journal (journal_mode=DELETE: slower commits, and readers "
              "wait for a writer); keep the state folder on a local disk (state.dir)").format(
                db=db, kind=kind, point=point)]


def _file_write_problems(db: Path) -> list[str]:
    """A state store that is a file: it, or the folder it will be created in, must be writable."""
    if db.exists():
        found = [] if os.access(db, os.R_OK | os.W_OK) else [
            f"state store {db}: the user syncd runs as may not write it; give that user the file (chown) and mode 0600"]
        if not os.access(db.parent, os.W_OK | os.X_OK):
            found.append(_("state store {db}: the user syncd runs as may not write its folder {parent}, where the "
                           "database keeps its journal; give that user the folder "
                           "(mode 0700)").format(db=db, parent=db.parent))
        return found
    folder = db.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        return [f"state store {db}: it does not exist yet and the user syncd runs as may not create it in {folder}; "
                "create the folder for that user, or set state.dir"]
    return []
