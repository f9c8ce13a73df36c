"""The state store: watermarks, run history and rejects, and the layout they are kept in.
I/O; SQLAlchemy Core on any database.

The default is a SQLite file in the state directory. Writes that must hold together (a
batch's rejects and the watermark after it) happen in one transaction, and a watermark update
must touch exactly one row or the store is not what syncd thinks it is.

The store carries its schema version (``syncd_meta``) and brings itself up to date when it is
opened: a new store gets the latest layout, an older one runs the ``MIGRATIONS`` it has not had,
and one written by a newer syncd is refused. Any failure of the database under the store is a
``FatalSyncError`` naming the store and saying what to do (a lock wait or a lost connection is a
``TransientSyncError``, which a run retries); the store is never replaced behind the operator's
back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from loguru import logger

from syncd import __version__, dialects
from syncd.errors import FatalSyncError, SyncdError, TransientSyncError
from syncd.plan import chunks
from syncd.transform import Reject
from syncd.watermark import Watermark, encode_key, encode_value

metadata = sa.MetaData()

watermarks = sa.Table(
    "syncd_watermark", metadata,
    sa.Column("mapping", sa.String(200), primary_key=True),
    sa.Column("watermark", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

runs = sa.Table(
    "syncd_run", metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("run_id", sa.String(40), nullable=False, index=True),
    sa.Column("mapping", sa.String(200), nullable=False, index=True),
    sa.Column("mode", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True)),
    sa.Column("rows_read", sa.Integer, nullable=False, default=0),
    sa.Column("rows_written", sa.Integer, nullable=False, default=0),
    sa.Column("rows_rejected", sa.Integer, nullable=False, default=0),
    sa.Column("rejects_resolved", sa.Integer, nullable=False, default=0),
    sa.Column("rejects_gone", sa.Integer, nullable=False, default=0),
    sa.Column("null_cursor_rows", sa.Integer, nullable=False, default=0),
    sa.Column("retries", sa.Integer, nullable=False, default=0),
    sa.Column("watermark_before", sa.Text),
    sa.Column("watermark_after", sa.Text),
    sa.Column("window", sa.Text),
    sa.Column("warning", sa.Text),
    sa.Column("error", sa.Text),
)

rejects = sa.Table(
    "syncd_reject", metadata,
    sa.Column("mapping", sa.String(200), primary_key=True),
    sa.Column("source_key", sa.String(500), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False, index=True),  # pending | resolved | gone | dropped
    sa.Column("column_name", sa.String(200)),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("row_data", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("resolved_at", sa.DateTime(timezone=True)),
)

meta = sa.Table(
    "syncd_meta", metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)

VERSION_NAME = "schema_version"

# -- schema migrations ---------------------------------------------------------------------
# ``MIGRATIONS[n - 1]`` takes a store from version n to n + 1; the runner writes the new version
# number in the same transaction. A migration describes the tables it creates or changes itself
# (the tables above are the *latest* layout, which a later migration may have moved on from).
# It must also be safe to run again after being cut off half-way: MariaDB commits each CREATE or
# ALTER on its own, so there a crash can leave a step done and its version number not written.

Migration = Callable[[sa.Connection], None]


def _v1_to_v2(conn: sa.Connection) -> None:
    """Version 1 (syncd_watermark, syncd_run, syncd_reject) gains the table of the version."""
    sa.Table(
        "syncd_meta", sa.MetaData(),
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    ).create(conn, checkfirst=True)


MIGRATIONS: tuple[Migration, ...] = (
    _v1_to_v2,
)

#: The layout this syncd writes. Version 1 is the layout before the store carried a version.
SCHEMA_VERSION = 1 + len(MIGRATIONS)

_V1_TABLES = frozenset({"syncd_watermark", "syncd_run", "syncd_reject"})

# SQLITE_CORRUPT and SQLITE_NOTADB (the low byte of the extended result code)
_SQLITE_DAMAGED = frozenset({11, 26})


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime | None) -> datetime | None:
    """Stored moments are UTC; SQLite hands them back naive."""
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def row_json(row: dict[str, Any]) -> str:
    return json.dumps({k: encode_value(v) for k, v in row.items()}, ensure_ascii=False, sort_keys=True)


@dataclass
class RunCounts:
    rows_read: int = 0
    rows_written: int = 0
    rows_rejected: int = 0
    rejects_resolved: int = 0
    rejects_gone: int = 0
    null_cursor_rows: int = 0
    retries: int = 0


def _damaged_file(orig: BaseException | None) -> bool:
    """A SQLite error saying the file is not (or no longer) a sound database."""
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in _SQLITE_DAMAGED:
        return True
    text = str(orig).lower()
    return "not a database" in text or "malformed" in text


def _stored_version(conn: sa.Connection) -> int | None:
    """The store's schema version; None for a database without syncd's tables (a new store)."""
    tables = set(sa.inspect(conn).get_table_names())
    if meta.name in tables:
        text = conn.execute(sa.select(meta.c.value).where(meta.c.name == VERSION_NAME)).scalar()
        if text is not None:
            try:
                return int(text)
            except ValueError:
                raise _BadVersion(text) from None
        # No number yet: a store whose creation or first migration was cut off (MariaDB commits
        # DDL on its own). The migrations are safe to repeat, so it is whatever its tables say.
    if tables & _V1_TABLES:
        return 1
    return None


def _write_version(conn: sa.Connection, version: int) -> None:
    done = conn.execute(sa.update(meta).where(meta.c.name == VERSION_NAME).values(value=str(version))).rowcount
    if done == 0:
        conn.execute(sa.insert(meta).values(name=VERSION_NAME, value=str(version)))


class _BadVersion(Exception):
    """syncd_meta holds a schema version that is not a number."""


class StateStore:
    """The state store on ``engine``, brought to ``SCHEMA_VERSION`` when it is opened."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.dialect = dialects.get(engine.dialect.name)
        self.file = self.dialect.database_file(engine.url)
        #: How messages name the store: its file, or its URL without the password.
        self.where = str(self.file) if self.file is not None else engine.url.render_as_string(hide_password=True)
        self._upgrade()

    # -- opening, versions, failures -----------------------------------------------------
    def schema_version(self) -> int | None:
        """The version the store has now (``SCHEMA_VERSION`` once it is open)."""
        with self._reading("read its schema version") as conn:
            return self._version(conn)

    def _version(self, conn: sa.Connection) -> int | None:
        try:
            version = _stored_version(conn)
        except _BadVersion as exc:
            raise FatalSyncError(
                f"state store {self.where}: syncd_meta holds schema version {exc.args[0]!r}, which no syncd "
                "writes; the store has been edited or damaged. Keep a copy of it, then restore it from a "
                "backup or set the version right") from None
        if version is not None and version > SCHEMA_VERSION:
            raise FatalSyncError(
                f"state store {self.where} has schema version {version}, and this syncd ({__version__}) knows "
                f"versions up to {SCHEMA_VERSION}: a newer syncd has written it. Upgrade syncd to that version "
                "or later; an older syncd must not write to it")
        return version

    def _upgrade(self) -> None:
        """Create the store, or run the migrations it has not had, one transaction each."""
        with self._reading("open it") as conn:
            if self._version(conn) == SCHEMA_VERSION:
                return
        while True:
            with self._schema_change("bring its schema up to date") as conn:
                # Read again inside the transaction: another syncd may have got here first.
                version = self._version(conn)
                if version == SCHEMA_VERSION:
                    return
                if version is None:
                    metadata.create_all(conn)
                    logger.info("state store {}: created (schema version {})", self.where, SCHEMA_VERSION)
                    version = SCHEMA_VERSION
                else:
                    MIGRATIONS[version - 1](conn)
                    logger.info("state store {}: schema version {} -> {}", self.where, version, version + 1)
                    version += 1
                    if version == SCHEMA_VERSION:
                        # A version-1 store cut off while it was first created lacks some of its
                        # tables; before versions, every open made the missing ones.
                        metadata.create_all(conn)
                _write_version(conn, version)

    @contextmanager
    def _failures(self, action: str) -> Iterator[None]:
        """Database errors become syncd's errors, naming the store and what to do about them."""
        try:
            yield
        except sa.exc.DBAPIError as exc:
            raise self._explain(exc, action) from exc

    def _explain(self, exc: sa.exc.DBAPIError, action: str) -> SyncdError:
        orig = exc.orig
        lines = str(orig).strip().splitlines() if orig is not None else []
        detail = lines[0] if lines else type(orig or exc).__name__
        if self.file is not None and _damaged_file(orig):
            return FatalSyncError(
                f"state store {self.where} is damaged ({detail}; while trying to {action}); syncd leaves it as it "
                f"is. Keep a copy of it: it must be repaired (e.g. sqlite3 {self.where} .recover | sqlite3 "
                f"{self.where}.recovered, then put the recovered file in its place) or rebuilt (moved away, the "
                "next run starts a new state store and copies every mapping in full; the old run history and "
                "rejects stay in the copy)")
        if self.dialect.is_transient(exc):
            return TransientSyncError(f"state store {self.where}: {detail} (while trying to {action})")
        if self.file is not None:
            advice = ("check that the file and its directory exist, that the user syncd runs as may read and "
                      "write both, and that the disk is not full")
        else:
            advice = ("check the state store's URL, that the database server is up, that its user may read and "
                      "write the syncd_* tables, and that the server has room")
        return FatalSyncError(f"state store {self.where}: cannot {action}: {detail}; {advice}")

    @contextmanager
    def _reading(self, action: str) -> Iterator[sa.Connection]:
        with self._failures(action), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def _writing(self, action: str) -> Iterator[sa.Connection]:
        with self._failures(action), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _schema_change(self, action: str) -> Iterator[sa.Connection]:
        with self._writing(action) as conn:
            if self.file is not None:
                # A store that is one file is SQLite's, and pysqlite opens a transaction only before
                # INSERT, UPDATE and DELETE, so a CREATE or ALTER would commit on its own. Begin here,
                # so that a migration and its version number commit together, and IMMEDIATE, so that
                # a second syncd opening the store waits for the first instead of migrating too.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn

    # -- watermarks ---------------------------------------------------------------------
    def watermark(self, mapping: str) -> Watermark | None:
        with self._reading("read a watermark") as conn:
            text = conn.execute(sa.select(watermarks.c.watermark).where(watermarks.c.mapping == mapping)).scalar()
        return Watermark.from_json(text)

    def all_watermarks(self) -> dict[str, tuple[Watermark | None, datetime | None]]:
        with self._reading("read the watermarks") as conn:
            rows = conn.execute(sa.select(watermarks.c.mapping, watermarks.c.watermark, watermarks.c.updated_at))
            return {m: (Watermark.from_json(w), as_utc(u)) for m, w, u in rows}

    def reset_watermark(self, mapping: str) -> bool:
        with self._writing("reset a watermark") as conn:
            return conn.execute(sa.delete(watermarks).where(watermarks.c.mapping == mapping)).rowcount > 0

    def checkpoint(self, mapping: str, watermark: Watermark | None, new_rejects: Sequence[Reject],
                   resolved: Iterable[tuple[Any, ...]], run_id: str) -> None:
        """After a batch is committed to the target: its rejects, the rejects it healed and the
        new watermark, in one transaction."""
        now = utcnow()
        with self._writing("write a checkpoint") as conn:
            self._save_rejects(conn, mapping, new_rejects, run_id, now)
            self._resolve(conn, mapping, resolved, "resolved", now)
            if watermark is None:
                return
            text = watermark.to_json()
            done = conn.execute(sa.update(watermarks).where(watermarks.c.mapping == mapping)
                                .values(watermark=text, run_id=run_id, updated_at=now)).rowcount
            if done == 0:
                conn.execute(sa.insert(watermarks).values(mapping=mapping, watermark=text, run_id=run_id,
                                                          updated_at=now))
            elif done != 1:
                raise FatalSyncError(f"state store {self.where}: watermark update of mapping {mapping!r} touched "
                                     f"{done} rows; the syncd_watermark table has lost its primary key")

    # -- rejects -----------------------------------------------------------------------
    def _save_rejects(self, conn: sa.Connection, mapping: str, found: Sequence[Reject], run_id: str,
                      now: datetime) -> None:
        for reject in found:
            key = encode_key(reject.key)
            values = dict(status="pending", column_name=reject.column, reason=reject.reason,
                          row_data=row_json(reject.row), last_seen=now, run_id=run_id, resolved_at=None)
            done = conn.execute(sa.update(rejects)
                                .where(rejects.c.mapping == mapping, rejects.c.source_key == key)
                                .values(attempts=rejects.c.attempts + 1, **values)).rowcount
            if done == 0:
                conn.execute(sa.insert(rejects).values(mapping=mapping, source_key=key, attempts=1,
                                                       first_seen=now, **values))

    def _resolve(self, conn: sa.Connection, mapping: str, keys: Iterable[tuple[Any, ...]], status: str,
                 now: datetime) -> int:
        count = 0
        for part in chunks([encode_key(k) for k in keys]):
            count += conn.execute(sa.update(rejects).where(
                rejects.c.mapping == mapping, rejects.c.status == "pending",
                rejects.c.source_key.in_(part)).values(status=status, resolved_at=now)).rowcount
        return count

    def mark_rejects(self, mapping: str, keys: Iterable[tuple[Any, ...]], status: str) -> int:
        with self._writing(f"mark rejects {status}") as conn:
            return self._resolve(conn, mapping, keys, status, utcnow())

    def drop_rejects(self, mapping: str, source_keys: Iterable[str], reason: str) -> int:
        """Give up on pending rejects (the county will never fix the row): kept, marked dropped,
        with who-knows-why in the reason, so the audit trail still names the difference."""
        now = utcnow()
        count = 0
        with self._writing("drop rejects") as conn:
            for key in source_keys:
                old = conn.execute(sa.select(rejects.c.reason).where(
                    rejects.c.mapping == mapping, rejects.c.source_key == key, rejects.c.status == "pending")).scalar()
                if old is None:
                    continue
                count += conn.execute(sa.update(rejects).where(
                    rejects.c.mapping == mapping, rejects.c.source_key == key, rejects.c.status == "pending").values(
                    status="dropped", resolved_at=now, reason=f"dropped: {reason} (was: {old})")).rowcount
        return count

    def keys_with_status(self, mapping: str, status: str) -> list[str]:
        with self._reading("read rejects") as conn:
            return list(conn.execute(sa.select(rejects.c.source_key).where(
                rejects.c.mapping == mapping, rejects.c.status == status)).scalars())

    def pending_keys(self, mapping: str) -> list[str]:
        with self._reading("read rejects") as conn:
            return list(conn.execute(sa.select(rejects.c.source_key).where(
                rejects.c.mapping == mapping, rejects.c.status == "pending").order_by(rejects.c.source_key)).scalars())

    def pending_counts(self) -> dict[str, int]:
        with self._reading("count rejects") as conn:
            rows = conn.execute(sa.select(rejects.c.mapping, sa.func.count()).where(rejects.c.status == "pending")
                                .group_by(rejects.c.mapping))
            return {m: n for m, n in rows}

    def list_rejects(self, mapping: str | None = None, *, status: str | None = "pending",
                     limit: int = 1000) -> list[dict[str, Any]]:
        query = sa.select(rejects).order_by(rejects.c.mapping, rejects.c.first_seen).limit(limit)
        if mapping:
            query = query.where(rejects.c.mapping == mapping)
        if status:
            query = query.where(rejects.c.status == status)
        with self._reading("read rejects") as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    # -- run history -------------------------------------------------------------------
    def start_run(self, run_id: str, mapping: str, mode: str, watermark_before: Watermark | None) -> int:
        with self._writing("record the start of a run") as conn:
            result = conn.execute(sa.insert(runs).values(
                run_id=run_id, mapping=mapping, mode=mode, status="running", started_at=utcnow(),
                watermark_before=watermark_before.to_json() if watermark_before else None))
            key = result.inserted_primary_key
            if key is None:  # only from a driver that cannot report new ids; syncd's databases all can
                raise FatalSyncError(f"state store {self.where}: the database did not report the id of the new "
                                     "syncd_run row")
            return int(key[0])

    def finish_run(self, record_id: int, *, status: str, counts: RunCounts, watermark_after: Watermark | None,
                   window: str | None, warning: str | None, error: str | None) -> None:
        with self._writing("record the end of a run") as conn:
            conn.execute(sa.update(runs).where(runs.c.id == record_id).values(
                status=status, ended_at=utcnow(), window=window, warning=warning, error=error,
                watermark_after=watermark_after.to_json() if watermark_after else None,
                **counts.__dict__))

    def last_runs(self) -> dict[str, dict[str, Any]]:
        """The newest run record of each mapping."""
        newest = sa.select(sa.func.max(runs.c.id)).group_by(runs.c.mapping).scalar_subquery()
        with self._reading("read the run history") as conn:
            return {r.mapping: dict(r._mapping) for r in conn.execute(sa.select(runs).where(runs.c.id.in_(newest)))}

    def history(self, mapping: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        query = sa.select(runs).order_by(runs.c.id.desc()).limit(limit)
        if mapping:
            query = query.where(runs.c.mapping == mapping)
        with self._reading("read the run history") as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
