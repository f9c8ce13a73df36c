"""The state store: watermarks, run history and rejects. I/O; SQLAlchemy Core on any database.

The default is a SQLite file in the state directory. Writes that must hold together (a
batch's rejects and the watermark after it) happen in one transaction, and a watermark update
must touch exactly one row or the store is not what syncd thinks it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from syncd.errors import FatalSyncError
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


class StateStore:
    def __init__(self, engine: sa.Engine):
        self.engine = engine
        metadata.create_all(engine)

    # -- watermarks ---------------------------------------------------------------------
    def watermark(self, mapping: str) -> Watermark | None:
        with self.engine.connect() as conn:
            text = conn.execute(sa.select(watermarks.c.watermark).where(watermarks.c.mapping == mapping)).scalar()
        return Watermark.from_json(text)

    def all_watermarks(self) -> dict[str, tuple[Watermark | None, datetime | None]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(watermarks.c.mapping, watermarks.c.watermark, watermarks.c.updated_at))
            return {m: (Watermark.from_json(w), as_utc(u)) for m, w, u in rows}

    def reset_watermark(self, mapping: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(sa.delete(watermarks).where(watermarks.c.mapping == mapping)).rowcount > 0

    def checkpoint(self, mapping: str, watermark: Watermark | None, new_rejects: Sequence[Reject],
                   resolved: Iterable[tuple[Any, ...]], run_id: str) -> None:
        """After a batch is committed to the target: its rejects, the rejects it healed and the
        new watermark, in one transaction."""
        now = utcnow()
        with self.engine.begin() as conn:
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
                raise FatalSyncError(f"state store: watermark update of mapping {mapping!r} touched {done} rows; "
                                     "the syncd_watermark table has lost its primary key")

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
        with self.engine.begin() as conn:
            return self._resolve(conn, mapping, keys, status, utcnow())

    def drop_rejects(self, mapping: str, source_keys: Iterable[str], reason: str) -> int:
        """Give up on pending rejects (the county will never fix the row): kept, marked dropped,
        with who-knows-why in the reason, so the audit trail still names the difference."""
        now = utcnow()
        count = 0
        with self.engine.begin() as conn:
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
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(rejects.c.source_key).where(
                rejects.c.mapping == mapping, rejects.c.status == status)).scalars())

    def pending_keys(self, mapping: str) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(rejects.c.source_key).where(
                rejects.c.mapping == mapping, rejects.c.status == "pending").order_by(rejects.c.source_key)).scalars())

    def pending_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
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
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    # -- run history -------------------------------------------------------------------
    def start_run(self, run_id: str, mapping: str, mode: str, watermark_before: Watermark | None) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(sa.insert(runs).values(
                run_id=run_id, mapping=mapping, mode=mode, status="running", started_at=utcnow(),
                watermark_before=watermark_before.to_json() if watermark_before else None))
            return int(result.inserted_primary_key[0])

    def finish_run(self, record_id: int, *, status: str, counts: RunCounts, watermark_after: Watermark | None,
                   window: str | None, warning: str | None, error: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.update(runs).where(runs.c.id == record_id).values(
                status=status, ended_at=utcnow(), window=window, warning=warning, error=error,
                watermark_after=watermark_after.to_json() if watermark_after else None,
                **counts.__dict__))

    def last_runs(self) -> dict[str, dict[str, Any]]:
        """The newest run record of each mapping."""
        newest = sa.select(sa.func.max(runs.c.id)).group_by(runs.c.mapping).scalar_subquery()
        with self.engine.connect() as conn:
            return {r.mapping: dict(r._mapping) for r in conn.execute(sa.select(runs).where(runs.c.id.in_(newest)))}

    def history(self, mapping: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        query = sa.select(runs).order_by(runs.c.id.desc()).limit(limit)
        if mapping:
            query = query.where(runs.c.mapping == mapping)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
