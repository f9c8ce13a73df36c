"""The state store: watermarks, run history, rejects and the audit journal, and the layout they
are kept in. I/O; SQLAlchemy Core on any database.

The default is a SQLite file in the state directory. Writes that must hold together (a
batch's rejects and the watermark after it) happen in one transaction, and a watermark update
must touch exactly one row or the store is not what syncd thinks it is.

The store carries its schema version (``syncd_meta``) and brings itself up to date when it is
opened: a new store gets the latest layout, an older one runs the ``MIGRATIONS`` it has not had,
and one written by a newer syncd is refused. Any failure of the database under the store is a
``FatalSyncError`` naming the store and saying what to do (a lock wait or a lost connection is a
``TransientSyncError``, which a run retries); the store is never replaced behind the operator's
back.

Rejects are episodes: a key's reject stays one row (its episode) from the first failure until it
is resolved, gone or dropped; a later failure opens a new episode and the earlier ones stay. A
dropped reject stays dropped while its source row is unchanged (``row_hash``), however often the
row is read again.

The audit journal (``syncd_audit``, and the same records as JSON lines in a folder of day files;
see ``syncd.audit``) is written by the methods that change the store, inside their own
transaction, once ``attach_journal`` has given the store its settings: each run's start and end,
each checkpoint, each reject decision, each watermark changed by hand, each changed config or
mapping file. The JSON lines are appended after the transaction commits (in sequence order,
under a lock of their folder), so a process stopped between the two leaves the table one record
ahead; the next write of the journal writes the missing lines first. No method updates or
deletes a journal record, except ``prune_journal`` (``audit.retention``), which removes whole
days from the start and leaves an anchor record in their place.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import re
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from loguru import logger

from syncd import __version__, audit, dialects, files
from syncd.config import Config
from syncd.dialects.base import Written
from syncd.errors import FatalSyncError, SyncdError, TransientSyncError
from syncd.i18n import N_, _
from syncd.mapping import TableMapping
from syncd.plan import chunks
from syncd.watermark import Watermark, decode_key, encode_key, encode_value

if TYPE_CHECKING:   # the row functions are not imported by the commands that only read the store (status)
    from syncd.transform import Reject

metadata = sa.MetaData()

watermarks = sa.Table(
    "syncd_watermark", metadata,
    sa.Column("mapping", sa.String(200), primary_key=True),
    sa.Column("watermark", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # the hash of the mapping's definition the watermark was made with (on_change: resync)
    sa.Column("definition_hash", sa.String(64)),
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
    # NULL: the write path did not tell them apart; rows_written = inserted + updated.
    sa.Column("inserted", sa.Integer),
    sa.Column("updated", sa.Integer),
    sa.Column("unchanged", sa.Integer),
    sa.Column("rows_truncated", sa.Integer),
)

rejects = sa.Table(
    "syncd_reject", metadata,
    sa.Column("mapping", sa.String(200), primary_key=True),
    sa.Column("source_key", sa.String(500), primary_key=True),
    sa.Column("episode", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),  # pending | resolved | gone | dropped
    sa.Column("column_name", sa.String(200)),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("row_data", sa.Text, nullable=False),
    sa.Column("row_hash", sa.String(64), nullable=False),   # SHA-256 of row_data: has the source row changed?
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("run_id", sa.String(40), nullable=False),        # the run that last read the row failing
    sa.Column("opened_run", sa.String(40)),                    # the run that opened the episode
    sa.Column("resolved_at", sa.DateTime(timezone=True)),      # when it was resolved, found gone or dropped
    sa.Column("resolved_run", sa.String(40)),                  # the run that wrote the row, or found it gone
    sa.Column("dropped_by", sa.String(200)),
    sa.Column("drop_reason", sa.Text),
)

meta = sa.Table(
    "syncd_meta", metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)

journal = sa.Table(
    "syncd_audit", metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("at", sa.String(40), nullable=False, index=True),
    sa.Column("kind", sa.String(40), nullable=False, index=True),
    sa.Column("mapping", sa.String(200), index=True),
    sa.Column("run_id", sa.String(40), index=True),
    sa.Column("record", sa.Text, nullable=False),      # the canonical JSON of the record, without its hash
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# One row (id 1): the newest record of the journal. Each write of the journal locks it first, so
# that writers from several processes take their sequence numbers one after the other.
journal_head = sa.Table(
    "syncd_audit_head", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("at", sa.String(40)),
)

# The config and mapping files as the journal last recorded them.
watched = sa.Table(
    "syncd_file", metadata,
    sa.Column("path", sa.String(500), primary_key=True),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("seq", sa.BigInteger),
)

# Alert incidents (config ``alerts:``): one row per channel, mapping and kind while the incident
# is open or its clearing message is still to be sent; ``notified_at`` NULL: not announced yet.
alerts = sa.Table(
    "syncd_alert", metadata,
    sa.Column("channel", sa.String(20), primary_key=True),
    sa.Column("mapping", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("notified_at", sa.DateTime(timezone=True)),
)

#: The tables whose rows syncd updates, and those it deletes rows from (besides SELECT and INSERT on
#: every table): ``check --connect`` asks the store's user for each of these privileges. The journal
#: is only appended to and pruned.
UPDATED = frozenset({watermarks.name, runs.name, rejects.name, meta.name, journal_head.name, watched.name, alerts.name})
DELETED_FROM = frozenset({watermarks.name, journal.name, watched.name, alerts.name})

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


_DROPPED = re.compile(r"^dropped: (.*?) \(was: .*\)$", re.S)


def _as_episode(old: Mapping[str, Any]) -> dict[str, Any]:
    """A reject of the layout before episodes as the first episode of its key."""
    row = {name: old.get(name) for name in ("mapping", "source_key", "status", "column_name", "attempts",
                                            "first_seen", "last_seen", "run_id", "resolved_at")}
    data = old.get("row_data")
    data = data if isinstance(data, str) else "{}"
    reason = old.get("reason")
    reason = reason if isinstance(reason, str) else ""
    drop_reason = None
    if row["status"] == "dropped":
        match = _DROPPED.match(reason)
        drop_reason = match.group(1) if match else reason
    return {**row, "row_data": data, "reason": reason, "episode": 1, "row_hash": audit.digest(data.encode("utf-8")),
            "opened_run": None,
            "resolved_run": None, "dropped_by": None, "drop_reason": drop_reason}


def _v2_to_v3(conn: sa.Connection) -> None:
    """Rejects become episodes: (mapping, source_key, episode), with the source row's hash, the
    runs that opened and resolved each one, and who dropped it and why. The table is rebuilt
    under a new name, filled, and renamed into place (each step can be repeated)."""
    v3 = sa.Table(
        "syncd_reject_v3", sa.MetaData(),
        sa.Column("mapping", sa.String(200), primary_key=True),
        sa.Column("source_key", sa.String(500), primary_key=True),
        sa.Column("episode", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("column_name", sa.String(200)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("row_data", sa.Text, nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("opened_run", sa.String(40)),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_run", sa.String(40)),
        sa.Column("dropped_by", sa.String(200)),
        sa.Column("drop_reason", sa.Text),
    )
    inspector = sa.inspect(conn)
    tables = set(inspector.get_table_names())
    if "syncd_reject" in tables and "episode" not in {c["name"] for c in inspector.get_columns("syncd_reject")}:
        v3.create(conn, checkfirst=True)
        conn.execute(sa.delete(v3))
        old = sa.Table("syncd_reject", sa.MetaData(), autoload_with=conn)
        rows = [_as_episode(dict(r._mapping)) for r in conn.execute(sa.select(old))]
        for part in chunks(rows, 500):
            conn.execute(sa.insert(v3), list(part))
        old.drop(conn)
        tables.discard("syncd_reject")
        tables.add("syncd_reject_v3")
    if "syncd_reject" not in tables:
        if "syncd_reject_v3" not in tables:
            v3.create(conn)
        conn.exec_driver_sql("ALTER TABLE syncd_reject_v3 RENAME TO syncd_reject")
    status = sa.Table("syncd_reject", sa.MetaData(), sa.Column("status", sa.String(20)))
    sa.Index("ix_syncd_reject_status", status.c.status).create(conn, checkfirst=True)


def _v3_to_v4(conn: sa.Connection) -> None:
    """The audit journal (syncd_audit, its head) and the hashes of the config and mapping files."""
    md = sa.MetaData()
    sa.Table(
        "syncd_audit", md,
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(40), nullable=False, index=True),
        sa.Column("kind", sa.String(40), nullable=False, index=True),
        sa.Column("mapping", sa.String(200), index=True),
        sa.Column("run_id", sa.String(40), index=True),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    sa.Table(
        "syncd_audit_head", md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("at", sa.String(40)),
    )
    sa.Table(
        "syncd_file", md,
        sa.Column("path", sa.String(500), primary_key=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger),
    )
    md.create_all(conn, checkfirst=True)
    _ensure_head(conn)


def _v4_to_v5(conn: sa.Connection) -> None:
    """Runs count inserted, updated and unchanged rows (NULL where the write path did not tell)."""
    have = {c["name"] for c in sa.inspect(conn).get_columns("syncd_run")}
    integer = sa.Integer().compile(dialect=conn.dialect)
    for name in ("inserted", "updated", "unchanged"):
        if name not in have:
            conn.exec_driver_sql(f"ALTER TABLE syncd_run ADD {name} {integer}")


def _v5_to_v6(conn: sa.Connection) -> None:
    """Watermarks keep the hash of the mapping definition they were made with; runs count the
    values cut to fit their column (on_overflow: truncate)."""
    inspector = sa.inspect(conn)
    if "definition_hash" not in {c["name"] for c in inspector.get_columns("syncd_watermark")}:
        text = sa.String(64).compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE syncd_watermark ADD definition_hash {text}")
    if "rows_truncated" not in {c["name"] for c in inspector.get_columns("syncd_run")}:
        conn.exec_driver_sql(f"ALTER TABLE syncd_run ADD rows_truncated {sa.Integer().compile(dialect=conn.dialect)}")


def _v6_to_v7(conn: sa.Connection) -> None:
    """The alert incidents (syncd_alert): each is sent once, and once more when it clears."""
    # notified_at: when its message was sent
    sa.Table(
        "syncd_alert", sa.MetaData(),
        sa.Column("channel", sa.String(20), primary_key=True),
        sa.Column("mapping", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True)),
    ).create(conn, checkfirst=True)


MIGRATIONS: tuple[Migration, ...] = (
    _v1_to_v2,
    _v2_to_v3,
    _v3_to_v4,
    _v4_to_v5,
    _v5_to_v6,
    _v6_to_v7,
)

#: The layout this syncd writes. Version 1 is the layout before the store carried a version.
SCHEMA_VERSION = 1 + len(MIGRATIONS)

_V1_TABLES = frozenset({"syncd_watermark", "syncd_run", "syncd_reject"})

# SQLITE_CORRUPT and SQLITE_NOTADB (the low byte of the extended result code)
_SQLITE_DAMAGED = frozenset({11, 26})


def _ensure_head(conn: sa.Connection) -> None:
    """The journal's head row, made from the newest record if it is missing."""
    if conn.execute(sa.select(journal_head.c.id).where(journal_head.c.id == 1)).first() is not None:
        return
    last = conn.execute(sa.select(journal.c.seq, journal.c.hash, journal.c.at)
                        .order_by(journal.c.seq.desc()).limit(1)).first()
    conn.execute(sa.insert(journal_head).values(id=1, seq=last.seq if last else 0,
                                                hash=last.hash if last else audit.GENESIS,
                                                at=last.at if last else None))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime | None) -> datetime | None:
    """Stored moments are UTC; SQLite hands them back naive."""
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def row_json(row: dict[str, Any]) -> str:
    return json.dumps({k: encode_value(v) for k, v in row.items()}, ensure_ascii=False, sort_keys=True)


def key_text(source_key: str) -> str:
    """A stored source key as an operator types it (``1`` or ``a, b``)."""
    try:
        return ", ".join(str(k) for k in decode_key(source_key))
    except (ValueError, KeyError, TypeError):
        return source_key


@dataclass
class RunCounts:
    rows_read: int = 0
    rows_written: int = 0
    rows_rejected: int = 0
    rejects_resolved: int = 0
    rejects_gone: int = 0
    null_cursor_rows: int = 0
    retries: int = 0
    # None: the write path did not tell them apart (rows_written = inserted + updated).
    inserted: int | None = None
    updated: int | None = None
    unchanged: int | None = None
    rows_truncated: int = 0

    def tally(self, written: Written) -> None:
        """Add what a write did: rows written are the inserted and the updated (an unchanged row is
        sent but not written), in a run and in a repair alike."""
        self.inserted = (self.inserted or 0) + written.inserted
        self.updated = (self.updated or 0) + written.updated
        self.unchanged = (self.unchanged or 0) + written.unchanged
        self.rows_written += written.inserted + written.updated


#: (name in a checkpoint's journal record, RunCounts field): the counts a batch record carries
_BATCH_COUNTS = (("read", "rows_read"), ("written", "rows_written"), ("inserted", "inserted"),
                 ("updated", "updated"), ("unchanged", "unchanged"))


def _batch_counts(counts: RunCounts) -> tuple[int | None, ...]:
    return tuple(getattr(counts, field) for _, field in _BATCH_COUNTS)


def os_user() -> str:
    """The operating-system user this process runs as."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return f"uid {os.geteuid()}"


@dataclass(frozen=True)
class JournalSettings:
    """What the journal needs besides the store: where the JSON lines go, the HMAC key (None:
    plain SHA-256), the time zone of the records' times and day files, the retention, the files
    it watches and the hashes stamped on each record."""

    directory: Path
    key: bytes | None = None
    tz: tzinfo = timezone.utc
    retention_days: int = 365
    config_file: Path | None = None
    folders: tuple[Path, ...] = ()
    config_hash: str | None = None
    mapping_hashes: Mapping[str, str] = field(default_factory=dict)
    host: str = field(default_factory=socket.gethostname)
    user: str = field(default_factory=os_user)


def journal_directory(config: Config) -> Path:
    """``<log.dir>/audit``, or ``audit`` in the state directory when log.dir is not set."""
    return (config.log.dir if config.log.dir is not None else config.state_dir()) / "audit"


def read_key(path: Path) -> bytes:
    """The HMAC key in ``path`` (surrounding whitespace dropped); its content never reaches a message."""
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise FatalSyncError(N_("audit.key_file {path}: cannot read it ({value}); check that it exists and that the "
                                "user syncd runs as may read "
                                "it").format(path=path, value=exc.strerror or exc)) from None
    if not key:
        raise FatalSyncError(N_("audit.key_file {path} is empty; put a secret of at least 32 random bytes in it "
                                "(e.g. head -c 32 /dev/urandom | base64 > the file)").format(path=path))
    return key


def journal_settings(config: Config, mappings: Iterable[TableMapping] = ()) -> JournalSettings:
    """The journal's settings from the config, with the hashes of the config and mapping files as
    they are now."""
    def digest(path: Path) -> str | None:
        try:
            return audit.digest(path.read_bytes())
        except OSError:
            return None

    hashes = {m.name: h for m in mappings if (h := digest(m.file)) is not None}
    return JournalSettings(
        directory=journal_directory(config),
        key=read_key(config.audit.key_file) if config.audit.key_file is not None else None,
        tz=ZoneInfo(config.defaults.timezone), retention_days=config.audit.retention.days,
        config_file=config.path, folders=(config.mappings, config.codes_dir),
        config_hash=digest(config.path), mapping_hashes=hashes)


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


def _watermark_value(text: str | None) -> Any:
    """A stored watermark as it goes into a journal record (its JSON, typed values kept)."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _wm(watermark: Watermark | None) -> Any:
    return _watermark_value(watermark.to_json()) if watermark is not None else None


#: where Linux lists the mounted file systems
MOUNTS = Path("/proc/mounts")


def file_system_type(path: Path) -> tuple[str, str] | None:
    """(mount point, file system type) of the file system ``path`` is (or would be created) on,
    from /proc/mounts; None where there is no such list (not Linux) or it names none."""
    try:
        text = MOUNTS.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return files.mount_of(os.path.realpath(path), text)


class StateStore:
    """The state store on ``engine``, brought to ``SCHEMA_VERSION`` when it is opened."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.dialect = dialects.get(engine.dialect.name)
        self.file = self.dialect.database_file(engine.url)
        #: SQLite's journal mode for a store that is a file: WAL, or DELETE on a network file system
        mount = file_system_type(self.file) if self.file is not None else None
        self.journal_mode = files.state_journal_mode(mount[1] if mount else None)
        sa.event.listen(engine, "connect", lambda dbapi_connection, _: self.dialect.prepare_state_connection(
            dbapi_connection, journal_mode=self.journal_mode))
        #: How messages name the store: its file, or its URL without the password.
        self.where = str(self.file) if self.file is not None else engine.url.render_as_string(hide_password=True)
        #: The journal's settings; None: this store writes no journal (a library caller's, a test's).
        self.journal: JournalSettings | None = None
        #: whether this process created the store (it did not exist, or held no tables)
        self.created = False
        self._runs: dict[int, tuple[str, str]] = {}       # syncd_run id -> (mapping, run id)
        self._run_of: dict[str, str] = {}                 # mapping -> the run id of its run in progress
        self._counts: dict[str, RunCounts] = {}           # mapping -> its run's counts, as the run keeps them
        self._counted: dict[str, tuple[int | None, ...]] = {}    # mapping -> _BATCH_COUNTS at its last checkpoint
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
                N_("state store {where}: syncd_meta holds schema version {value!r}, which no syncd writes; the store "
                   "has been edited or damaged. Keep a copy of it, then restore it from a backup or set the version "
                   "right").format(where=self.where, value=exc.args[0])) from None
        if version is not None and version > SCHEMA_VERSION:
            raise FatalSyncError(
                N_("state store {where} has schema version {version}, and this syncd ({version2}) knows versions up "
                   "to {schema_version}: a newer syncd has written it. Upgrade syncd to that version or later; an "
                   "older syncd must not write to it")
                .format(where=self.where, version=version, version2=__version__, schema_version=SCHEMA_VERSION))
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
                    _ensure_head(conn)
                    self.created = True
                    logger.info(_("state store {where}: created (schema version {schema_version})").format(
                        where=self.where, schema_version=SCHEMA_VERSION))
                    version = SCHEMA_VERSION
                else:
                    MIGRATIONS[version - 1](conn)
                    logger.info(_("state store {where}: schema version {version} -> {value}").format(
                        where=self.where, version=version, value=version + 1))
                    version += 1
                    if version == SCHEMA_VERSION:
                        # A version-1 store cut off while it was first created lacks some of its
                        # tables; before versions, every open made the missing ones.
                        metadata.create_all(conn)
                        _ensure_head(conn)
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
            return FatalSyncError(N_(
                "state store {where} is damaged ({detail}; while trying to {action}); syncd leaves it as it "
                "is. Keep a copy of it: it must be repaired (e.g. sqlite3 {where} .recover | sqlite3 "
                "{where}.recovered, then put the recovered file in its place) or rebuilt (syncd state "
                "rebuild moves it aside and carries over what can still be read; mappings whose watermark is "
                "lost are copied in full by the next run)").format(where=self.where, detail=detail, action=action))
        if self.dialect.is_transient(exc):
            return TransientSyncError(N_("state store {where}: {detail} (while trying to {action})").format(
                where=self.where, detail=detail, action=action))
        if self.file is not None:
            advice = N_("check that the file and its directory exist, that the user syncd runs as may read and "
                        "write both, and that the disk is not full")
        else:
            advice = N_("check the state store's URL, that the database server is up, that its user may read and "
                        "write the syncd_* tables, and that the server has room")
        return FatalSyncError(N_("state store {where}: cannot {action}: {detail}; {advice}").format(
            where=self.where, action=action, detail=detail, advice=advice))

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

    # -- the journal ---------------------------------------------------------------------
    def attach_journal(self, settings: JournalSettings) -> None:
        """From now on, every change this store makes is journaled with ``settings``. A store this
        process created beside JSON lines of an earlier one is said, once: that store was lost,
        emptied or moved, and what it held (watermarks, rejects, decisions) starts afresh."""
        if self.created and self.journal is None:
            with contextlib.suppress(OSError):
                tail = _files_tail(settings.directory)
                if tail.seq > 0:
                    logger.warning(_(
                        "state store {where} was created new, but the audit journal in {directory} holds records "
                        "up to {seq} of an earlier store: that store was lost, emptied or moved, and its "
                        "watermarks, rejects and decisions start afresh (every mapping is copied in full). If it "
                        "was lost, stop syncd, put the earlier state.db back or run syncd state rebuild to carry "
                        "them over from the journal").format(where=self.where, directory=settings.directory,
                                                             seq=tail.seq))
        self.journal = settings

    def follow(self, mapping: str, counts: RunCounts) -> None:
        """The counts a run of ``mapping`` keeps as it goes, so that each checkpoint's record says
        how many rows the batch read and wrote."""
        self._counts[mapping] = counts
        self._counted[mapping] = _batch_counts(counts)

    @contextmanager
    def _journaled(self, action: str) -> Iterator[tuple[sa.Connection, list[dict[str, Any]]]]:
        """A write transaction whose records (appended to the list it yields) join the journal in
        the same transaction; their JSON lines are written once it has committed."""
        records: list[dict[str, Any]] = []
        sealed: list[dict[str, Any]] = []
        settings = self.journal
        with self._writing(action) as conn:
            head = self._lock_head(conn) if settings is not None else None
            yield conn, records
            if settings is not None and head is not None and records:
                sealed = self._append(conn, settings, head, records)
        if sealed and settings is not None:
            self._mirror(settings, sealed)

    def _lock_head(self, conn: sa.Connection) -> tuple[int, str, str | None]:
        """Lock the journal's head row (first, so that every writer takes its locks in one order)."""
        conn.execute(sa.update(journal_head).where(journal_head.c.id == 1).values(seq=journal_head.c.seq))
        row = conn.execute(sa.select(journal_head.c.seq, journal_head.c.hash, journal_head.c.at)
                           .where(journal_head.c.id == 1).with_for_update()).first()
        if row is None:
            _ensure_head(conn)
            row = conn.execute(sa.select(journal_head.c.seq, journal_head.c.hash, journal_head.c.at)
                               .where(journal_head.c.id == 1)).one()
        return int(row.seq), str(row.hash), row.at

    def _append(self, conn: sa.Connection, settings: JournalSettings, head: tuple[int, str, str | None],
                records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seq, prev, last_at = head
        now = datetime.now(settings.tz)
        if last_at:
            with contextlib.suppress(ValueError):
                # Times never go back, so that the day files follow the sequence (a clock set back
                # stamps its records with the newest time already in the journal).
                now = max(now, datetime.fromisoformat(last_at).astimezone(settings.tz))
        at = now.isoformat(timespec="microseconds")
        stamp = {"host": settings.host, "user": settings.user, "version": __version__,
                 "config_hash": settings.config_hash, "alg": audit.KEYED if settings.key else audit.PLAIN,
                 "key_id": audit.key_id(settings.key) if settings.key else None}
        sealed, rows = [], []
        for entry in records:
            seq += 1
            record = dict(entry)
            for name, value in stamp.items():
                if record.get(name) is None:
                    record[name] = value
            if record.get("mapping_hash") is None and record.get("mapping"):
                record["mapping_hash"] = settings.mapping_hashes.get(record["mapping"])
            record.update(seq=seq, time=at, prev_hash=prev)
            record["hash"] = audit.seal(record, settings.key)
            sealed.append(record)
            rows.append({"seq": seq, "at": at, "kind": record["kind"], "mapping": record.get("mapping"),
                         "run_id": record.get("run_id"), "record": audit.canonical(record).decode("utf-8"),
                         "prev_hash": prev, "hash": record["hash"]})
            prev = record["hash"]
        for part in chunks(rows, 500):
            conn.execute(sa.insert(journal), list(part))
        conn.execute(sa.update(journal_head).where(journal_head.c.id == 1).values(seq=seq, hash=prev, at=at))
        return sealed

    def _mirror(self, settings: JournalSettings, sealed: list[dict[str, Any]]) -> None:
        """Append the committed records to the JSON lines, after any the files still lack."""
        directory = settings.directory
        try:
            files.make_dir(directory, files.LOG_DIR)
            with _folder_lock(directory, exclusive=True):
                tail = _files_tail(directory)
                first, last = sealed[0]["seq"], sealed[-1]["seq"]
                todo: list[dict[str, Any]] = []
                if tail.seq < first - 1:
                    todo.extend(self._journal_records(tail.seq, first - 1))
                    todo.extend(sealed)
                elif tail.seq >= first:
                    mine = next((r for r in sealed if r["seq"] == tail.seq), None)
                    if tail.seq > last or (mine is not None and mine["hash"] == tail.hash):
                        todo = [r for r in sealed if r["seq"] > tail.seq]
                    else:
                        logger.error(_("audit journal {directory}: the JSON lines end with record {seq}, which "
                                        "the state store {where} holds differently; appending records "
                                        "{first}..{last} anyway. Run syncd audit verify").format(
                                            directory=directory, seq=tail.seq, where=self.where, first=first,
                                            last=last))
                        todo = list(sealed)
                else:
                    todo = list(sealed)
                _write_lines(directory, todo, tail)
        except OSError as exc:
            raise FatalSyncError(
                N_("audit journal {directory}: cannot write the JSON lines ({value}); records up to {seq} are in the "
                   "state store {where} and are written to the files by the next change that syncd journals. Check "
                   "that the folder exists, that the user syncd runs as may write there, and that the disk is not "
                   "full")
                .format(
                    directory=directory, value=exc.strerror or exc, seq=sealed[-1]['seq'], where=self.where)) from None

    def _journal_records(self, after: int, through: int) -> Iterator[dict[str, Any]]:
        """Records ``after`` < seq <= ``through`` of the table, with their hashes, page by page."""
        for row in self.journal_rows(after=after, through=through):
            entry = audit.table_entry(row)
            if entry.record is not None:
                yield entry.record

    # -- reading the journal ----------------------------------------------------------------
    def journal_rows(self, *, after: int = 0, through: int | None = None, page: int = 2000
                     ) -> Iterator[dict[str, Any]]:
        """The rows of ``syncd_audit`` in sequence order, as stored (nothing checked)."""
        last = after
        while True:
            query = sa.select(journal).where(journal.c.seq > last).order_by(journal.c.seq).limit(page)
            if through is not None:
                query = query.where(journal.c.seq <= through)
            with self._reading("read the audit journal") as conn:
                rows = [dict(r._mapping) for r in conn.execute(query)]
            yield from rows
            if len(rows) < page:
                return
            seq = rows[-1]["seq"]
            if not isinstance(seq, int):
                return
            last = seq

    def journal_last(self) -> dict[str, Any] | None:
        """The newest row of ``syncd_audit`` (as stored)."""
        with self._reading("read the audit journal") as conn:
            row = conn.execute(sa.select(journal).order_by(journal.c.seq.desc()).limit(1)).first()
        return dict(row._mapping) if row is not None else None

    def journal_ends(self) -> tuple[Any, tuple[Any, Any] | None, tuple[Any, Any] | None]:
        """The seq of the oldest row of ``syncd_audit``, the (seq, hash) of its newest row and of the
        head row (``syncd_audit_head``), as stored; None where there is none. One statement, so that
        all are read as of one moment (a writer changes them in one transaction)."""
        newest = sa.select(sa.func.max(journal.c.seq)).scalar_subquery()
        query = sa.select(
            sa.select(sa.func.min(journal.c.seq)).scalar_subquery().label("first"),
            newest.label("seq"),
            sa.select(journal.c.hash).where(journal.c.seq == newest).scalar_subquery().label("hash"),
            sa.select(journal_head.c.seq).where(journal_head.c.id == 1).scalar_subquery().label("head_seq"),
            sa.select(journal_head.c.hash).where(journal_head.c.id == 1).scalar_subquery().label("head_hash"))
        with self._reading("read the audit journal") as conn:
            row = conn.execute(query).one()
        last = (row.seq, row.hash) if row.seq is not None else None
        head = (row.head_seq, row.head_hash) if row.head_seq is not None else None
        return row.first, last, head

    def journal_row(self, seq: int) -> dict[str, Any] | None:
        with self._reading("read the audit journal") as conn:
            row = conn.execute(sa.select(journal).where(journal.c.seq == seq)).first()
        return dict(row._mapping) if row is not None else None

    def journal_first_since(self, at: str) -> int | None:
        """The sequence number of the first record at or after ``at`` (a time or day as text)."""
        with self._reading("read the audit journal") as conn:
            return conn.execute(sa.select(sa.func.min(journal.c.seq)).where(journal.c.at >= at)).scalar()

    def journal_anchors(self) -> list[audit.Anchor]:
        """The pruning records of the table (their hashes unchecked: the chain check does that)."""
        with self._reading("read the audit journal") as conn:
            rows = conn.execute(sa.select(journal).where(journal.c.kind == audit.PRUNED).order_by(journal.c.seq))
            entries = [audit.table_entry(dict(r._mapping)) for r in rows]
        return [a for e in entries if e.record is not None and (a := audit.anchor_of(e.record)) is not None]

    def journal_select(self, *, since: str | None = None, until: str | None = None, mapping: str | None = None,
                       kinds: Sequence[str] = (), limit: int | None = None) -> list[dict[str, Any]]:
        """Records (parsed, with their hashes) by time (text, ``since`` <= at < ``until``), mapping, kind."""
        query = sa.select(journal).order_by(journal.c.seq)
        if since is not None:
            query = query.where(journal.c.at >= since)
        if until is not None:
            query = query.where(journal.c.at < until)
        if mapping:
            query = query.where(journal.c.mapping == mapping)
        if kinds:
            query = query.where(journal.c.kind.in_(list(kinds)))
        if limit is not None:
            query = query.limit(limit)
        with self._reading("read the audit journal") as conn:
            entries = [audit.table_entry(dict(r._mapping)) for r in conn.execute(query)]
        return [e.record if e.record is not None else {"seq": e.seq, "problem": e.problem} for e in entries]

    # -- watching files, retention -----------------------------------------------------------
    def note_files(self, *, trigger: str) -> int:
        """Journal each config or mapping file that changed (or appeared, or went) since the journal
        last saw it; returns how many. Writes nothing when nothing changed."""
        settings = self.journal
        if settings is None or settings.config_file is None:
            return 0
        current = audit.watched_files(settings.config_file, settings.folders)
        with self._reading("read the hashes of the config and mapping files") as conn:
            known = {p: h for p, h in conn.execute(sa.select(watched.c.path, watched.c.hash))}
        if known == current:
            return 0
        with self._journaled("record changed config and mapping files") as (conn, records):
            known = {p: h for p, h in conn.execute(sa.select(watched.c.path, watched.c.hash))}
            for path in sorted(set(current) | set(known)):
                before, after = known.get(path), current.get(path)
                if before == after:
                    continue
                change = "added" if before is None else "removed" if after is None else "changed"
                records.append(audit.new_record(audit.FILE_CHANGED, detail={
                    "path": path, "change": change, "before": before, "after": after, "trigger": trigger}))
                if after is None:
                    conn.execute(sa.delete(watched).where(watched.c.path == path))
                elif before is None:
                    conn.execute(sa.insert(watched).values(path=path, hash=after))
                else:
                    conn.execute(sa.update(watched).where(watched.c.path == path).values(hash=after))
                if change != "added" or known:
                    logger.info(_("{path} {change} ({trigger}): recorded in the audit journal").format(
                        path=path, change=change, trigger=trigger))
        return len(records)

    def prune_journal(self, *, today: datetime | None = None) -> int:
        """Remove the whole days older than ``audit.retention`` from both copies and leave an anchor
        record with the hash of the last record removed; returns how many records went."""
        settings = self.journal
        if settings is None:
            return 0
        now = (today or datetime.now(settings.tz)).astimezone(settings.tz)
        before = (now.date() - timedelta(days=settings.retention_days)).isoformat()
        with self._reading("read the audit journal") as conn:
            through = conn.execute(sa.select(sa.func.max(journal.c.seq)).where(journal.c.at < before)).scalar()
        if through is None:
            self._remove_day_files(settings, self._pruned_before(settings))
            return 0
        count = 0
        with self._journaled("prune the audit journal") as (conn, records):
            last = conn.execute(sa.select(journal.c.seq, journal.c.hash).where(journal.c.at < before)
                                .order_by(journal.c.seq.desc()).limit(1)).first()
            if last is not None:
                count = conn.execute(sa.delete(journal).where(journal.c.seq <= last.seq)).rowcount
                records.append(audit.new_record(audit.PRUNED, detail={
                    "through_seq": last.seq, "through_hash": last.hash, "before": before, "records": count,
                    "retention_days": settings.retention_days}))
        self._remove_day_files(settings, before)
        if count:
            logger.info(_("audit journal: {count} record(s) before {before} pruned (audit.retention "
                           "{retention_days} days)").format(
                               count=count, before=before, retention_days=settings.retention_days))
        return count

    def _pruned_before(self, settings: JournalSettings) -> str | None:
        """The day before which the newest pruning record removed every record (of those that
        ``audit.trusted_anchors`` vouches for: a forged one removes no file)."""
        anchors, _untrusted = audit.trusted_anchors(self.journal_anchors(), settings.key)
        return anchors[-1].before if anchors else None

    def _remove_day_files(self, settings: JournalSettings, before: str | None) -> None:
        if before is None or not settings.directory.is_dir():
            return
        try:
            with _folder_lock(settings.directory, exclusive=True):
                for path in sorted(settings.directory.iterdir()):
                    day = audit.file_day(path.name)
                    if day is not None and day < before:
                        path.unlink()
        except OSError as exc:
            logger.error(_("audit journal {directory}: cannot remove the day files before {before} "
                            "(audit.retention): {value}").format(
                                directory=settings.directory, before=before, value=exc.strerror or exc))

    # -- watermarks ---------------------------------------------------------------------
    def watermark(self, mapping: str) -> Watermark | None:
        with self._reading("read a watermark") as conn:
            text = conn.execute(sa.select(watermarks.c.watermark).where(watermarks.c.mapping == mapping)).scalar()
        return Watermark.from_json(text)

    def watermark_row(self, mapping: str) -> dict[str, Any] | None:
        """The watermark of ``mapping`` with when and by which run it was written."""
        with self._reading("read a watermark") as conn:
            row = conn.execute(sa.select(watermarks).where(watermarks.c.mapping == mapping)).first()
        if row is None:
            return None
        found = dict(row._mapping)
        found["updated_at"] = as_utc(found["updated_at"])
        return found

    def all_watermarks(self) -> dict[str, tuple[Watermark | None, datetime | None]]:
        with self._reading("read the watermarks") as conn:
            rows = conn.execute(sa.select(watermarks.c.mapping, watermarks.c.watermark, watermarks.c.updated_at))
            return {m: (Watermark.from_json(w), as_utc(u)) for m, w, u in rows}

    def reset_watermark(self, mapping: str, *, reason: str | None = None, by: str | None = None) -> bool:
        with self._journaled("reset a watermark") as (conn, records):
            before = conn.execute(sa.select(watermarks.c.watermark).where(watermarks.c.mapping == mapping)).scalar()
            done = conn.execute(sa.delete(watermarks).where(watermarks.c.mapping == mapping)).rowcount > 0
            if done:
                records.append(audit.new_record(audit.WATERMARK_RESET, mapping=mapping,
                                                watermark_before=_watermark_value(before),
                                                detail={"by": by or os_user(), "reason": reason}))
        return done

    def set_watermark(self, mapping: str, watermark: Watermark, *, action: str, reason: str, by: str | None = None,
                      detail: Mapping[str, Any] | None = None) -> Watermark | None:
        """Change a watermark by hand (``action``: rewind, set); journaled with who and why.
        Returns the watermark before."""
        text = watermark.to_json()
        with self._journaled(f"{action} a watermark") as (conn, records):
            before = conn.execute(sa.select(watermarks.c.watermark).where(watermarks.c.mapping == mapping)).scalar()
            self._put_watermark(conn, mapping, text, "manual", utcnow(), exists=before is not None)
            records.append(audit.new_record(
                audit.WATERMARK_SET, mapping=mapping, watermark_before=_watermark_value(before),
                watermark_after=_watermark_value(text), outcome="ok",
                detail={"action": action, "by": by or os_user(), "reason": reason, **(detail or {})}))
        return Watermark.from_json(before)

    def _put_watermark(self, conn: sa.Connection, mapping: str, text: str, run_id: str, now: datetime, *,
                       exists: bool | None = None, definition_hash: str | None = None) -> None:
        done = 0
        values: dict[str, Any] = dict(watermark=text, run_id=run_id, updated_at=now)
        if definition_hash is not None:
            values["definition_hash"] = definition_hash
        if exists is not False:
            done = conn.execute(sa.update(watermarks).where(watermarks.c.mapping == mapping)
                                .values(**values)).rowcount
        if done == 0:
            conn.execute(sa.insert(watermarks).values(mapping=mapping, **values))
        elif done != 1:
            raise FatalSyncError(N_("state store {where}: watermark update of mapping {mapping!r} touched {done} "
                                    "rows; the syncd_watermark "
                                    "table has lost its primary key")
                                 .format(where=self.where, mapping=mapping, done=done))

    def definition_hash(self, mapping: str) -> str | None:
        """The hash of the mapping definition its watermark was made with (None: not recorded)."""
        with self._reading("read a mapping's definition hash") as conn:
            return conn.execute(sa.select(watermarks.c.definition_hash)
                                .where(watermarks.c.mapping == mapping)).scalar()

    def checkpoint(self, mapping: str, watermark: Watermark | None, new_rejects: Sequence[Reject],
                   resolved: Iterable[tuple[Any, ...]], run_id: str, *, definition_hash: str | None = None,
                   detail: Mapping[str, Any] | None = None) -> None:
        """After a batch is committed to the target: its rejects, the rejects it healed and the
        new watermark, in one transaction (and its record in the journal; ``detail``: what a
        reconcile repaired, by key and why)."""
        now = utcnow()
        live = self._counts.get(mapping)
        counted = _batch_counts(live) if live is not None else None
        with self._journaled("write a checkpoint") as (conn, records):
            opened = self._save_rejects(conn, mapping, new_rejects, run_id, now, records)
            healed = self._resolve(conn, mapping, resolved, "resolved", now, run_id, records)
            before = None
            if watermark is not None:
                before = conn.execute(sa.select(watermarks.c.watermark)
                                      .where(watermarks.c.mapping == mapping)).scalar()
                self._put_watermark(conn, mapping, watermark.to_json(), run_id, now, definition_hash=definition_hash)
            counts: dict[str, Any] = {"rejected": len(new_rejects), "new_rejects": opened, "resolved": healed}
            if live is not None and counted is not None:
                last = self._counted.get(mapping, (0,) * len(counted))
                # inserted, updated and unchanged: None for a write path that does not tell them
                counts.update({name: None if now is None else now - (then or 0)
                               for (name, _), now, then in zip(_BATCH_COUNTS, counted, last, strict=True)})
            records.append(audit.new_record(
                audit.CHECKPOINT, mapping=mapping, run_id=run_id, counts=counts,
                watermark_before=_watermark_value(before) if watermark is not None else None,
                watermark_after=_wm(watermark), **({"detail": dict(detail)} if detail else {})))
        if counted is not None:
            self._counted[mapping] = counted

    # -- rejects -----------------------------------------------------------------------
    def _latest_episodes(self, conn: sa.Connection, mapping: str, keys: Sequence[str]
                         ) -> dict[str, tuple[int, str, str]]:
        """Per source key: (episode, status, row_hash) of its newest episode."""
        latest: dict[str, tuple[int, str, str]] = {}
        for part in chunks(list(dict.fromkeys(keys))):
            rows = conn.execute(sa.select(rejects.c.source_key, rejects.c.episode, rejects.c.status,
                                          rejects.c.row_hash)
                                .where(rejects.c.mapping == mapping, rejects.c.source_key.in_(list(part))))
            for key, episode, status, row_hash in rows:
                if key not in latest or episode > latest[key][0]:
                    latest[key] = (episode, status, row_hash)
        return latest

    def _save_rejects(self, conn: sa.Connection, mapping: str, found: Sequence[Reject], run_id: str,
                      now: datetime, records: list[dict[str, Any]]) -> int:
        """Record rejects; returns how many opened a new episode. A pending episode is retried (its
        attempts count up); a dropped one whose source row is unchanged stays dropped; otherwise
        (first failure, or a failure after the key was resolved, gone, or dropped and then changed)
        a new episode opens."""
        if not found:
            return 0
        keyed = [(encode_key(r.key), r) for r in found]
        latest = self._latest_episodes(conn, mapping, [k for k, _ in keyed])
        opened: list[dict[str, Any]] = []
        for key, reject in keyed:
            data = row_json(reject.row)
            row_hash = audit.digest(data.encode("utf-8"))
            last = latest.get(key)
            if last is not None and last[1] == "pending":
                conn.execute(sa.update(rejects).where(
                    rejects.c.mapping == mapping, rejects.c.source_key == key, rejects.c.episode == last[0]).values(
                    attempts=rejects.c.attempts + 1, column_name=reject.column, reason=reject.reason, row_data=data,
                    row_hash=row_hash, last_seen=now, run_id=run_id))
                latest[key] = (last[0], "pending", row_hash)
                continue
            if last is not None and last[1] == "dropped" and last[2] == row_hash:
                conn.execute(sa.update(rejects).where(
                    rejects.c.mapping == mapping, rejects.c.source_key == key, rejects.c.episode == last[0]).values(
                    last_seen=now))
                continue
            episode = last[0] + 1 if last is not None else 1
            opened.append(dict(mapping=mapping, source_key=key, episode=episode, status="pending",
                               column_name=reject.column, reason=reject.reason, row_data=data, row_hash=row_hash,
                               attempts=1, first_seen=now, last_seen=now, run_id=run_id, opened_run=run_id))
            latest[key] = (episode, "pending", row_hash)
            records.append(audit.new_record(audit.REJECT_NEW, mapping=mapping, run_id=run_id, detail={
                "key": key_text(key), "source_key": key, "episode": episode, "column": reject.column,
                "reason": audit.cut(reject.reason), "row_hash": row_hash,
                "after": last[1] if last is not None else None}))
        for part in chunks(opened, 500):
            conn.execute(sa.insert(rejects), list(part))
        return len(opened)

    def _resolve(self, conn: sa.Connection, mapping: str, keys: Iterable[tuple[Any, ...]], status: str,
                 now: datetime, run_id: str | None, records: list[dict[str, Any]]) -> int:
        count = 0
        kind = audit.REJECT_RESOLVED if status == "resolved" else audit.REJECT_GONE
        for part in chunks([encode_key(k) for k in keys]):
            where = (rejects.c.mapping == mapping, rejects.c.status == "pending", rejects.c.source_key.in_(list(part)))
            found = conn.execute(sa.select(rejects.c.source_key, rejects.c.episode).where(*where)).all()
            if not found:
                continue
            count += conn.execute(sa.update(rejects).where(*where).values(
                status=status, resolved_at=now, resolved_run=run_id)).rowcount
            for key, episode in found:
                detail = {"key": key_text(key), "source_key": key, "episode": episode}
                records.append(audit.new_record(kind, mapping=mapping, run_id=run_id, outcome=status, detail=detail))
        return count

    def mark_rejects(self, mapping: str, keys: Iterable[tuple[Any, ...]], status: str) -> int:
        run_id = self._run_of.get(mapping)
        with self._journaled(f"mark rejects {status}") as (conn, records):
            return self._resolve(conn, mapping, keys, status, utcnow(), run_id, records)

    def drop_rejects(self, mapping: str, source_keys: Iterable[str], reason: str, by: str | None = None) -> int:
        """Give up on pending rejects (the county will never fix the row): kept, marked dropped,
        with who dropped them and why, so the audit trail still names the difference. They stay
        dropped while their source row is unchanged."""
        now = utcnow()
        who = by or os_user()
        count = 0
        with self._journaled("drop rejects") as (conn, records):
            for key in source_keys:
                old = conn.execute(sa.select(rejects.c.reason, rejects.c.episode).where(
                    rejects.c.mapping == mapping, rejects.c.source_key == key, rejects.c.status == "pending")).first()
                if old is None:
                    continue
                count += conn.execute(sa.update(rejects).where(
                    rejects.c.mapping == mapping, rejects.c.source_key == key,
                    rejects.c.episode == old.episode).values(
                    status="dropped", resolved_at=now, reason=f"dropped: {reason} (was: {old.reason})",
                    drop_reason=reason, dropped_by=who)).rowcount
                records.append(audit.new_record(audit.REJECT_DROPPED, mapping=mapping, outcome="dropped", detail={
                    "key": key_text(key), "source_key": key, "episode": old.episode, "by": who,
                    "reason": audit.cut(reason), "was": audit.cut(old.reason)}))
        return count

    def keys_with_status(self, mapping: str, status: str) -> list[str]:
        """The keys whose newest episode has ``status``."""
        newest = (sa.select(rejects.c.source_key, sa.func.max(rejects.c.episode).label("episode"))
                  .where(rejects.c.mapping == mapping).group_by(rejects.c.source_key).subquery())
        query = (sa.select(rejects.c.source_key)
                 .join(newest, sa.and_(rejects.c.source_key == newest.c.source_key,
                                       rejects.c.episode == newest.c.episode))
                 .where(rejects.c.mapping == mapping, rejects.c.status == status))
        with self._reading("read rejects") as conn:
            return list(conn.execute(query).scalars())

    def pending_keys(self, mapping: str) -> list[str]:
        with self._reading("read rejects") as conn:
            return list(conn.execute(sa.select(rejects.c.source_key).where(
                rejects.c.mapping == mapping, rejects.c.status == "pending").order_by(rejects.c.source_key)).scalars())

    def pending_counts(self) -> dict[str, int]:
        with self._reading("count rejects") as conn:
            rows = conn.execute(sa.select(rejects.c.mapping, sa.func.count()).where(rejects.c.status == "pending")
                                .group_by(rejects.c.mapping))
            return {m: n for m, n in rows}

    def list_rejects(self, mapping: str | None = None, *, status: str | None = "pending", limit: int | None = 1000,
                     source_key: str | None = None) -> list[dict[str, Any]]:
        """Reject episodes, oldest first (all episodes of a key when ``status`` is None)."""
        query = sa.select(rejects).order_by(rejects.c.mapping, rejects.c.first_seen, rejects.c.source_key,
                                            rejects.c.episode)
        if limit is not None:
            query = query.limit(limit)
        if mapping:
            query = query.where(rejects.c.mapping == mapping)
        if status:
            query = query.where(rejects.c.status == status)
        if source_key is not None:
            query = query.where(rejects.c.source_key == source_key)
        with self._reading("read rejects") as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def reject_keys(self, mapping: str) -> list[str]:
        """Every source key with a reject episode of ``mapping``."""
        with self._reading("read rejects") as conn:
            return list(conn.execute(sa.select(rejects.c.source_key).where(rejects.c.mapping == mapping)
                                     .distinct()).scalars())

    # -- alert incidents ---------------------------------------------------------------
    def incidents(self) -> list[dict[str, Any]]:
        """Every alert incident still open or whose clearing is still to be sent."""
        with self._reading("read alert incidents") as conn:
            rows = conn.execute(sa.select(alerts).order_by(alerts.c.channel, alerts.c.mapping, alerts.c.kind))
            return [{**r._mapping, "opened_at": as_utc(r.opened_at), "notified_at": as_utc(r.notified_at)}
                    for r in rows]

    def open_incident(self, channel: str, mapping: str, kind: str, message: str, at: datetime) -> None:
        with self._writing("record an alert incident") as conn:
            conn.execute(sa.insert(alerts).values(channel=channel, mapping=mapping, kind=kind, opened_at=at,
                                                  message=message, notified_at=None))

    def incident_sent(self, channel: str, mapping: str, kind: str, at: datetime) -> None:
        with self._writing("record an alert sent") as conn:
            conn.execute(sa.update(alerts).where(alerts.c.channel == channel, alerts.c.mapping == mapping,
                                                 alerts.c.kind == kind).values(notified_at=at))

    def close_incident(self, channel: str, mapping: str, kind: str) -> None:
        with self._writing("record an alert incident cleared") as conn:
            conn.execute(sa.delete(alerts).where(alerts.c.channel == channel, alerts.c.mapping == mapping,
                                                 alerts.c.kind == kind))

    # -- run history -------------------------------------------------------------------
    def start_run(self, run_id: str, mapping: str, mode: str, watermark_before: Watermark | None) -> int:
        with self._journaled("record the start of a run") as (conn, records):
            result = conn.execute(sa.insert(runs).values(
                run_id=run_id, mapping=mapping, mode=mode, status="running", started_at=utcnow(),
                watermark_before=watermark_before.to_json() if watermark_before else None))
            key = result.inserted_primary_key
            if key is None:  # only from a driver that cannot report new ids; syncd's databases all can
                raise FatalSyncError(N_("state store {where}: the database did not report the id of the new "
                                        "syncd_run row").format(where=self.where))
            records.append(audit.new_record(audit.RUN_START, mapping=mapping, run_id=run_id,
                                            watermark_before=_wm(watermark_before), detail={"mode": mode}))
        record_id = int(key[0])
        self._runs[record_id] = (mapping, run_id)
        self._run_of[mapping] = run_id
        return record_id

    def finish_run(self, record_id: int, *, status: str, counts: RunCounts, watermark_after: Watermark | None,
                   window: str | None, warning: str | None, error: str | None) -> None:
        with self._journaled("record the end of a run") as (conn, records):
            conn.execute(sa.update(runs).where(runs.c.id == record_id).values(
                status=status, ended_at=utcnow(), window=window, warning=warning, error=error,
                watermark_after=watermark_after.to_json() if watermark_after else None,
                **counts.__dict__))
            if self.journal is not None:
                row = conn.execute(sa.select(runs.c.mapping, runs.c.run_id, runs.c.mode, runs.c.watermark_before)
                                   .where(runs.c.id == record_id)).first()
                if row is not None:
                    records.append(audit.new_record(
                        audit.RUN_END, mapping=row.mapping, run_id=row.run_id, window=window, outcome=status,
                        watermark_before=_watermark_value(row.watermark_before), watermark_after=_wm(watermark_after),
                        counts=dict(counts.__dict__), error=audit.cut(error),
                        detail={"mode": row.mode, "warning": audit.cut(warning)}))
        mapping, _started = self._runs.pop(record_id, ("", ""))
        self._run_of.pop(mapping, None)
        self._counts.pop(mapping, None)

    def last_runs(self) -> dict[str, dict[str, Any]]:
        """The newest run record of each mapping (of its syncs: a reconcile's record is in the
        history, but does not stand for the mapping's last run in status and health)."""
        newest = (sa.select(sa.func.max(runs.c.id)).where(runs.c.mode != "reconcile").group_by(runs.c.mapping)
                  .scalar_subquery())
        with self._reading("read the run history") as conn:
            return {r.mapping: dict(r._mapping) for r in conn.execute(sa.select(runs).where(runs.c.id.in_(newest)))}

    def history(self, mapping: str | None = None, limit: int | None = 50, *, since: datetime | None = None,
                until: datetime | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """Run records, newest first; ``since`` <= started_at < ``until`` (UTC)."""
        query = sa.select(runs).order_by(runs.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        if mapping:
            query = query.where(runs.c.mapping == mapping)
        if since is not None:
            query = query.where(runs.c.started_at >= since)
        if until is not None:
            query = query.where(runs.c.started_at < until)
        if status:
            query = query.where(runs.c.status == status)
        with self._reading("read the run history") as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    # -- rebuilding ----------------------------------------------------------------------
    def restore(self, salvaged: Salvage, journal_lines: Iterable[audit.Entry] = ()) -> dict[str, int]:
        """Put what ``salvage`` read from a damaged store into this (new, empty) one; the journal is
        the union of the old table and ``journal_lines`` (the JSON lines), each record once, in
        sequence order, its head set to the newest (less the lines a pruning had yet to remove from
        the files: the table never holds them). Returns what was carried over, by kind."""
        records: dict[int, dict[str, Any]] = {}
        for entry in journal_lines:
            if entry.record is not None:
                records.setdefault(entry.record["seq"], entry.record)
        in_table: set[int] = set()
        for row in salvaged.journal:
            table_entry = audit.table_entry(row)
            if table_entry.record is not None:
                records[table_entry.record["seq"]] = table_entry.record
                in_table.add(table_entry.record["seq"])
        anchors, _untrusted = audit.trusted_anchors(
            (a for r in records.values() if (a := audit.anchor_of(r)) is not None),
            self.journal.key if self.journal is not None else None)
        pruned = max((a.through_seq for a in anchors), default=0)
        records = {seq: r for seq, r in records.items() if seq > pruned or seq in in_table}
        have = {(r["mapping"], r["source_key"], r["episode"]) for r in salvaged.rejects}
        recovered = [r for r in _episodes_from_journal(records.values())
                     if (r["mapping"], r["source_key"], r["episode"]) not in have]
        with self._writing("carry over what could be read") as conn:
            marks = [w for w in salvaged.watermarks if _watermark_parses(w.get("watermark"))]
            for part in chunks(recovered, 500):
                conn.execute(sa.insert(rejects), list(part))
            for part in chunks(marks, 500):
                conn.execute(sa.insert(watermarks), list(part))
            for part in chunks(salvaged.runs, 500):
                conn.execute(sa.insert(runs), list(part))
            for part in chunks(salvaged.rejects, 500):
                conn.execute(sa.insert(rejects), list(part))
            for part in chunks(salvaged.files, 500):
                conn.execute(sa.insert(watched), list(part))
            for part in chunks(salvaged.alerts, 500):
                conn.execute(sa.insert(alerts), list(part))
            rows = [{"seq": r["seq"], "at": r["time"], "kind": r["kind"], "mapping": r.get("mapping"),
                     "run_id": r.get("run_id"), "record": audit.canonical(r).decode("utf-8"),
                     "prev_hash": r["prev_hash"], "hash": r["hash"]} for _, r in sorted(records.items())]
            for part in chunks(rows, 500):
                conn.execute(sa.insert(journal), list(part))
            if rows:
                conn.execute(sa.update(journal_head).where(journal_head.c.id == 1).values(
                    seq=rows[-1]["seq"], hash=rows[-1]["hash"], at=rows[-1]["at"]))
        return {"watermarks": len(marks), "runs": len(salvaged.runs), "rejects": len(salvaged.rejects),
                "rejects_from_journal": len(recovered), "journal": len(records), "alerts": len(salvaged.alerts)}

    def journal_rebuilt(self, detail: Mapping[str, Any]) -> None:
        with self._journaled("record the rebuild") as (_conn, records):
            records.append(audit.new_record(audit.REBUILT, outcome="ok", detail=dict(detail)))

    # -- reading for reports (read only) ---------------------------------------------------
    def runs_between(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Every run record that started in ``start`` <= started_at < ``end`` (UTC), oldest first,
        with its moments in UTC."""
        query = (sa.select(runs).where(runs.c.started_at >= start, runs.c.started_at < end)
                 .order_by(runs.c.started_at, runs.c.id))
        with self._reading("read the run history") as conn:
            found = [dict(r._mapping) for r in conn.execute(query)]
        for row in found:
            row["started_at"], row["ended_at"] = as_utc(row["started_at"]), as_utc(row["ended_at"])
        return found

    def rejects_between(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Every reject episode opened in ``start`` <= first_seen < ``end`` (UTC), oldest first,
        without its source row, with its moments in UTC."""
        columns = [rejects.c.mapping, rejects.c.source_key, rejects.c.episode, rejects.c.status,
                   rejects.c.column_name, rejects.c.reason, rejects.c.attempts, rejects.c.first_seen,
                   rejects.c.last_seen, rejects.c.opened_run, rejects.c.resolved_at, rejects.c.drop_reason]
        query = (sa.select(*columns).where(rejects.c.first_seen >= start, rejects.c.first_seen < end)
                 .order_by(rejects.c.first_seen, rejects.c.mapping, rejects.c.source_key, rejects.c.episode))
        with self._reading("read rejects") as conn:
            found = [dict(r._mapping) for r in conn.execute(query)]
        for row in found:
            for name in ("first_seen", "last_seen", "resolved_at"):
                row[name] = as_utc(row[name])
        return found


def _episodes_from_journal(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Reject episodes as the journal's decisions describe them (their source rows are not in
    the journal: the retry of a pending one reads its row again by key)."""
    episodes: dict[tuple[str, str, int], dict[str, Any]] = {}
    for record in sorted(records, key=lambda r: r["seq"]):
        detail = record.get("detail") or {}
        key, episode, mapping = detail.get("source_key"), detail.get("episode"), record.get("mapping")
        if not (isinstance(key, str) and isinstance(episode, int) and isinstance(mapping, str)):
            continue
        try:
            moment = datetime.fromisoformat(record["time"]).astimezone(timezone.utc)
        except (TypeError, ValueError):
            continue
        ident = (mapping, key, episode)
        kind, run_id = record.get("kind"), record.get("run_id")
        if kind == audit.REJECT_NEW:
            episodes[ident] = dict(
                mapping=mapping, source_key=key, episode=episode, status="pending", column_name=detail.get("column"),
                reason=str(detail.get("reason") or ""), row_data="{}", row_hash=str(detail.get("row_hash") or ""),
                attempts=1, first_seen=moment, last_seen=moment, run_id=run_id or "journal", opened_run=run_id,
                resolved_at=None, resolved_run=None, dropped_by=None, drop_reason=None)
        elif ident in episodes and kind in (audit.REJECT_RESOLVED, audit.REJECT_GONE):
            episodes[ident].update(status="resolved" if kind == audit.REJECT_RESOLVED else "gone", resolved_at=moment,
                                   resolved_run=run_id)
        elif ident in episodes and kind == audit.REJECT_DROPPED:
            episodes[ident].update(status="dropped", resolved_at=moment, dropped_by=detail.get("by"),
                                   drop_reason=detail.get("reason"),
                                   reason=f"dropped: {detail.get('reason')} (was: {detail.get('was')})")
    return list(episodes.values())


def _watermark_parses(text: Any) -> bool:
    try:
        return Watermark.from_json(text) is not None
    except (ValueError, KeyError, TypeError):
        return False


# -- checking and salvaging a store that is one file ----------------------------------------

@dataclass
class Salvage:
    """What could be read from a damaged store, in the latest layout, and what could not."""

    watermarks: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    journal: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    #: open alert incidents: carried over, so that a rebuild neither sends them again nor forgets to
    #: say that they cleared
    alerts: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def check_store(engine: sa.Engine) -> tuple[list[str], list[str]]:
    """(problems, notes) of the store on ``engine``, read only: the database's own integrity
    check where the store is a file, the schema version, every table readable, every watermark
    a watermark. Never migrates, never writes; each check goes on past the failure of another."""
    problems: list[str] = []
    notes: list[str] = []
    if dialects.get(engine.dialect.name).database_file(engine.url) is not None:
        try:
            with engine.connect() as conn:
                found = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA integrity_check").fetchall()]
            if found != ["ok"]:
                problems.extend(f"integrity check: {line}" for line in found[:20])
                if len(found) > 20:
                    problems.append(_("integrity check: … and {value} more").format(value=len(found) - 20))
        except sa.exc.DBAPIError as exc:
            problems.append(_("integrity check: {first_line}").format(first_line=_first_line(exc)))
    try:
        with engine.connect() as conn:
            version = _stored_version(conn)
            tables = set(sa.inspect(conn).get_table_names())
    except _BadVersion as exc:
        problems.append(_("syncd_meta holds schema version {value!r}, which no syncd writes").format(value=exc.args[0]))
        return problems, notes
    except sa.exc.DBAPIError as exc:
        problems.append(_("its tables cannot be listed: {first_line}").format(first_line=_first_line(exc)))
        return problems, notes
    if version is None:
        notes.append(_("no syncd tables: a new, empty store"))
    elif version > SCHEMA_VERSION:
        problems.append(_("schema version {version}: written "
                          "by a newer syncd (this one knows up to {schema_version})")
                        .format(version=version, schema_version=SCHEMA_VERSION))
    elif version < SCHEMA_VERSION:
        notes.append(_("schema version {version}: the next "
                       "command that opens it brings it to {schema_version}")
                     .format(version=version, schema_version=SCHEMA_VERSION))
    else:
        missing = sorted(set(metadata.tables) - tables)
        if missing:
            problems.append(_("table(s) missing: {missing}").format(missing=', '.join(missing)))
    for name in sorted(t for t in tables if t.startswith("syncd_")):
        problems.extend(_table_problems(engine, name, notes))
    return problems, notes


def _table_problems(engine: sa.Engine, name: str, notes: list[str]) -> list[str]:
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT * FROM {name}")).all()
    except sa.exc.DBAPIError as exc:
        return [f"table {name} cannot be read: {_first_line(exc)}"]
    notes.append(_("{name}: {count} row(s)").format(name=name, count=len(rows)))
    if name != watermarks.name:
        return []
    return [f"syncd_watermark: the watermark of mapping {r._mapping['mapping']!r} cannot be read" for r in rows
            if not _watermark_parses(r._mapping["watermark"])]


def _first_line(exc: sa.exc.DBAPIError) -> str:
    text = str(exc.orig).strip() if exc.orig is not None else str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def salvage(engine: sa.Engine) -> Salvage:
    """Read what can still be read from the (damaged) store on ``engine``, table by table and row
    by row: rows before a damaged page in key order, then after it in reverse order."""
    found = Salvage()
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
    except sa.exc.DBAPIError as exc:
        found.problems.append(_("the list of tables cannot be read "
                                "({first_line}): nothing carried over").format(first_line=_first_line(exc)))
        return found
    for name, target in (("syncd_watermark", found.watermarks), ("syncd_run", found.runs),
                         ("syncd_reject", found.rejects), ("syncd_audit", found.journal),
                         ("syncd_file", found.files), ("syncd_alert", found.alerts)):
        if name not in tables:
            continue
        rows, problem = _read_rows(engine, name)
        if problem:
            found.problems.append(f"{name}: {problem}")
        target.extend(rows)
    found.watermarks = [{k: r.get(k) for k in ("mapping", "watermark", "run_id", "updated_at")}
                        for r in found.watermarks if isinstance(r.get("mapping"), str)]
    found.runs = [{c.name: r.get(c.name) for c in runs.columns} for r in found.runs
                  if isinstance(r.get("id"), int) and isinstance(r.get("mapping"), str)]
    found.rejects = [r if "episode" in r else _as_episode(r) for r in found.rejects
                     if isinstance(r.get("mapping"), str) and isinstance(r.get("source_key"), str)]
    found.rejects = [{c.name: r.get(c.name) for c in rejects.columns} for r in found.rejects]
    found.files = [{c.name: r.get(c.name) for c in watched.columns} for r in found.files
                   if isinstance(r.get("path"), str) and isinstance(r.get("hash"), str)]
    found.alerts = [{c.name: r.get(c.name) for c in alerts.columns} for r in found.alerts
                    if all(isinstance(r.get(k), str) for k in ("channel", "mapping", "kind", "message"))
                    and r.get("opened_at") is not None]
    return found


def _read_rows(engine: sa.Engine, name: str) -> tuple[list[dict[str, Any]], str | None]:
    """Every row of ``name`` that can be read, keyed by rowid (each once), and the first failure."""
    rows: dict[Any, dict[str, Any]] = {}
    problem = None
    for order in ("ASC", "DESC"):
        try:
            with engine.connect() as conn:
                table = sa.Table(name, sa.MetaData(), autoload_with=conn)
                query = sa.select(sa.literal_column("rowid").label("_rowid"), table).order_by(
                    sa.text(f"_rowid {order}"))
                for row in conn.execute(query):
                    data = dict(row._mapping)
                    rows.setdefault(data.pop("_rowid"), data)
            break
        except (sa.exc.DBAPIError, sa.exc.NoSuchTableError, ValueError, TypeError) as exc:
            detail = _first_line(exc) if isinstance(exc, sa.exc.DBAPIError) else str(exc)
            problem = problem or f"read {len(rows)} row(s), then: {detail}"
    if problem and rows:
        problem = f"{problem}; {len(rows)} row(s) carried over in all"
    return list(rows.values()), problem


# -- the JSON lines ----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Tail:
    """The last complete record of the JSON lines, and whether the newest file ends mid-line."""

    seq: int = 0
    hash: str = audit.GENESIS
    path: Path | None = None
    open_line: bool = False


@contextmanager
def _folder_lock(directory: Path, *, exclusive: bool) -> Iterator[None]:
    """``flock`` on ``.lock`` in the journal's folder: writers exclusive, readers shared. A reader
    creates nothing: without the lock file (nothing written yet) it reads unlocked."""
    path = directory / ".lock"
    if exclusive:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, files.LOG_FILE)
    else:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            yield
            return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def day_files(directory: Path) -> list[Path]:
    """The journal's day files, oldest first."""
    try:
        return sorted(p for p in directory.iterdir() if audit.file_day(p.name) is not None)
    except OSError:
        return []


def _files_tail(directory: Path) -> _Tail:
    for path in reversed(day_files(directory)):
        found = _last_record(path)
        if found is not None:
            return found
    return _Tail()


def _last_record(path: Path, block: int = 65536) -> _Tail | None:
    """The last complete, readable record of ``path``, read from its end."""
    with open(path, "rb") as stream:
        size = stream.seek(0, os.SEEK_END)
        if size == 0:
            return None
        stream.seek(size - 1)
        open_line = stream.read(1) != b"\n"
        data, pos = b"", size
        while pos > 0:
            step = min(block, pos)
            pos -= step
            stream.seek(pos)
            data = stream.read(step) + data
            lines = data.split(b"\n")
            complete = lines[1:-1] if pos > 0 else lines[:-1]    # the first may be cut by the block
            for raw in reversed(complete):
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue
                if audit.shape_problem(record) is None:
                    return _Tail(record["seq"], record["hash"], path, open_line)
            data = lines[0] if pos > 0 else b""
    return None


def _write_lines(directory: Path, records: Sequence[Mapping[str, Any]], tail: _Tail) -> None:
    """Append ``records`` to their day files (one write and one fsync per file)."""
    by_day: dict[str, list[str]] = {}
    for record in records:
        by_day.setdefault(audit.day_of(record["time"]), []).append(audit.line(record) + "\n")
    for day, lines in by_day.items():
        path = directory / audit.file_name(day)
        new = not path.exists()
        data = ("\n" if tail.open_line and tail.path == path else "") + "".join(lines)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, files.LOG_FILE)
        try:
            if new:
                files.restrict(fd, files.LOG_FILE)
            view = memoryview(data.encode("utf-8"))
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if new:
            with contextlib.suppress(OSError):
                dir_fd = os.open(directory, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)


def read_journal_files(directory: Path, *, from_day: str | None = None) -> Iterator[audit.Entry]:
    """The records of the JSON lines in file order (day files named ``from_day`` or later), under
    a shared lock of the folder so that no writer is half-way through a line."""
    with _folder_lock(directory, exclusive=False):
        for path in day_files(directory):
            day = audit.file_day(path.name)
            if from_day is not None and day is not None and day < from_day:
                continue
            try:
                with open(path, "rb") as stream:
                    yield from audit.line_entries(path.name, stream)
            except OSError as exc:
                yield audit.Entry(path.name, problem=_("cannot be read: {error}").format(error=exc.strerror or exc))
