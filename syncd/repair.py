"""Reconcile by buckets, and repair: make the target equal to the source for what was missed.

Incremental runs cannot see a row deleted at the source, a change committed with a cursor behind
the window (back-dated), or a target row changed by someone else. This module finds them
cheaply over a thin link and, with ``repair``, fixes them:

1. The source is read locally and mapped as a run maps it (``RowMapper``); each row's key and
   values are hashed (``syncd.digest``) into per-bucket digests (a bucket is a slice of the key
   space by the key's hash). Memory holds digests, never rows.
2. The target computes the same digests inside the database (``Target.bucket_digests``): an
   unchanged table costs one row per bucket over the link (a few KB).
3. Only the buckets whose digests differ are read again, key by key (the key and the row's hash
   from the target; the source again, locally). Missing and different rows are re-sent through
   the run's upsert; rows only in the target follow the mapping's ``on_source_delete`` (report,
   mark deleted, or delete), except a row whose newer version is a pending reject (``stale``).

A repair writes like a run: parent checks, rejects and the healed rejects go through the state
store's checkpoint (journaled), and each repair leaves a run record (mode ``reconcile``). Every
write is an idempotent upsert or delete, so a repair killed at any point and run again ends
with the same target. Repairs are heavy work: ``heavy_hours`` and ``max_rows_per_second`` hold
them (``syncd.pacing``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from loguru import logger

from syncd import faults, plan
from syncd.digest import (
    HASHED_KINDS,
    DigestPlan,
    Digests,
    HashColumn,
    KeyedValues,
    RowHasher,
    batches_of_buckets,
    bucket_count,
    differing,
    fine_of_bits,
    key_bits,
    piece_function,
)
from syncd.errors import FatalSyncError, SyncdError, shown_value
from syncd.i18n import N_, _
from syncd.mapping import CodeList, SoftDelete, TableMapping
from syncd.pacing import Pacing, RateLimiter
from syncd.parents import ParentCheck
from syncd.source import Source
from syncd.state import RunCounts, StateStore
from syncd.sync import Observer, RetryPolicy, Stopped, against_stored
from syncd.target import Target
from syncd.transform import MappedBatch, Reject, RowMapper, TargetColumn, target_key_of
from syncd.watermark import Watermark, Window, decode_key, decode_value

MISSING, DIFFERENT, BACKDATED, WAITING = "missing", "different", "back-dated", "waiting"
EXTRA, DELETED, STALE, REJECTED, DROPPED = "extra", "deleted", "stale", "rejected", "dropped"
KINDS = (MISSING, DIFFERENT, BACKDATED, WAITING, EXTRA, DELETED, STALE, REJECTED, DROPPED)
#: the kinds that mean the target is not what the source says (until repaired)
FAILURES = (MISSING, DIFFERENT, BACKDATED)
#: differences kept for display per mapping (all are counted)
MAX_FINDINGS = 1000
#: rows (about) of differing buckets whose key bits and values are held at once (16 bytes a row):
#: more than this are settled in turns, each reading the source again
GROUP_ROWS = 2_000_000
NO_PACING = Pacing()
ONCE = RetryPolicy(attempts=1)


@dataclass(frozen=True)
class Finding:
    """One difference, by key: what it is, and for a different row which column."""

    kind: str
    key: str
    column: str | None = None
    expected: Any = None
    actual: Any = None
    reason: str | None = None


@dataclass
class RepairResult:
    """What reconcile found for one mapping and, with ``repair``, what it did about it."""

    mapping: str
    repair: bool
    status: str = "running"            # ok | failed | deferred | stopped
    buckets: int = 0
    differing: int = 0
    source_rows: int = 0
    target_rows: int = 0
    found: dict[str, int] = field(default_factory=dict)
    resent: int = 0                    # rows written again through the upsert
    marked: int = 0                    # rows marked deleted (on_source_delete: {set: ...})
    deleted: int = 0                   # rows deleted (on_source_delete: delete)
    left_out: tuple[str, ...] = ()     # columns not compared, with their kind
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    counts: RunCounts = field(default_factory=RunCounts)

    def count(self, kind: str) -> int:
        return self.found.get(kind, 0)

    @property
    def unrepaired(self) -> int:
        """Rows still missing or different in the target after this reconcile."""
        if self.repair and self.status == "ok":
            return 0
        return sum(self.count(k) for k in FAILURES)

    @property
    def equal(self) -> bool:
        return self.status in ("ok", "deferred") and self.unrepaired == 0

    def describe(self) -> str:
        """One line for the run record and the log."""
        found = ", ".join(f"{self.found[k]} {k}" for k in KINDS if self.found.get(k))
        text = f"reconcile by {self.buckets} bucket(s), {self.differing} differing"
        text += f": {found}" if found else ": equal"
        done = [f"{n} {what}" for n, what in ((self.resent, "re-sent"), (self.marked, "marked deleted"),
                                             (self.deleted, "deleted")) if n]
        if done:
            text += "; " + ", ".join(done)
        return text


class _Deferred(Exception):
    """Heavy work may not go on now (``heavy_hours``); the comparison itself is finished."""


class Reconciler:
    """One reconcile of one mapping: compare by buckets, then (``repair``) fix what differs."""

    def __init__(self, mapping: TableMapping, *, source: Source, target: Target, state: StateStore,
                 codes: Mapping[str, CodeList], run_id: str, now: datetime, tz: tzinfo, repair: bool = False,
                 pacing: Pacing = NO_PACING, clock: Callable[[], datetime] | None = None,
                 observer: Observer | None = None, shared: bool = False, prefetch: int | None = 0,
                 retry: RetryPolicy = ONCE,
                 is_transient: Callable[[BaseException], bool] = lambda e: False,
                 sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic):
        self.mapping, self.source, self.target, self.state = mapping, source, target, state
        self.codes, self.run_id, self.now, self.tz = codes, run_id, now, tz
        self.repair = repair
        self.pacing = pacing
        self.clock = clock or (lambda: datetime.now(tz))
        self.observer = observer or Observer()
        self.shared = shared
        self.prefetch = prefetch
        self.retry = retry
        self.is_transient = is_transient
        self.sleep, self.monotonic = sleep, monotonic
        self.result = RepairResult(mapping.name, repair)
        self.writing = repair
        self._limiter: RateLimiter | None = None
        self._kind_of: dict[tuple[Any, ...], str] = {}    # key -> back-dated or different, in a batch

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> RepairResult:
        """Reconcile (and repair), with a run record in the state store; errors are recorded and raised."""
        started = self.monotonic()
        result, name = self.result, self.mapping.name
        before = self.state.watermark(name)
        record = self.state.start_run(self.run_id, name, "reconcile", before)
        self.state.follow(name, result.counts)
        try:
            self._attempts()
            result.status = "deferred" if self.repair and not self.writing else "ok"
        except Stopped as exc:
            result.status, result.error = "stopped", str(exc)
            raise
        except BaseException as exc:  # recorded here, reported by the caller
            result.status, result.error = "failed", describe_error(exc)
            raise
        finally:
            result.seconds = self.monotonic() - started
            self.observer.activity(name, None)
            self.state.finish_run(record, status=result.status, counts=result.counts, watermark_after=before,
                                  window=result.describe(), warning="\n".join(result.warnings) or None,
                                  error=result.error)
        return result

    def _attempts(self) -> None:
        """The whole comparison again after a transient fault: what was repaired compares equal now."""
        attempt = 1
        while True:
            try:
                self._reconcile()
                return
            except Stopped:
                raise
            except Exception as exc:
                if attempt >= self.retry.attempts or not self.is_transient(exc):
                    raise
                self.result.counts.retries += 1
                wait = min(self.retry.wait * 2 ** (attempt - 1), self.retry.wait_max)
                logger.warning(_("mapping {name}: transient error while reconciling, trying again in {wait:.0f}s: "
                                  "{error}").format(
                                      name=self.mapping.name, wait=wait, error=describe_error(exc)))
                self.sleep(wait)
                attempt += 1
                self._reset()

    def _reset(self) -> None:
        """Before comparing again: forget what the failed attempt found (what it wrote stays counted)."""
        result = self.result
        result.found.clear()
        result.findings.clear()
        result.differing = result.buckets = result.source_rows = result.target_rows = 0
        result.counts.rows_read = 0

    def _doing(self, what: str) -> None:
        self.observer.activity(self.mapping.name, what)

    # -- comparing ---------------------------------------------------------------------------
    def _reconcile(self) -> None:
        self._prepare()
        result, m = self.result, self.mapping
        if self.repair and (refusal := self.pacing.refusal(self.clock(), "repair")) is not None:
            self._defer(refusal)
        expected = int(self.source.scalar(plan.count_rows(m)) or 0)
        buckets = result.buckets = bucket_count(expected)
        self._doing(N_("hashing source {source} and target {target} by bucket").format(
            source=m.source.table or "query", target=m.target.table))
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="syncd-digest") as pool:
            theirs_future = pool.submit(self.target.bucket_digests, self.digest, buckets, batch_size=m.batch_size)
            ours = self._hash_source().coarse(buckets)
            theirs = theirs_future.result()
        result.target_rows = sum(n for n, _ in theirs.values())
        differ = differing(ours, theirs)
        result.differing = len(differ)
        if differ:
            sizes = {b: max(ours.get(b, (0, 0))[0], theirs.get(b, (0, 0))[0]) for b in differ}
            for group in batches_of_buckets(differ, sizes, GROUP_ROWS):
                self._settle(set(group), buckets)
        logger.log("INFO" if differ else "DEBUG", "mapping {}: {}", m.name, result.describe())

    def _prepare(self) -> None:
        m, target = self.mapping, self.target
        self._doing(N_("describing target table {table}").format(table=m.target.table))
        targets = target.describe(m)
        self.layout = plan.layout(m)
        dialect = target.dialect
        self.mapper = RowMapper(m, self.layout, targets, self.codes, now=self.now, run_id=self.run_id, tz=self.tz,
                                text_length=dialect.text_length, unsupported_text=dialect.unsupported_text,
                                key_forms=target.key_forms(m), nonfinite_floats=dialect.holds_nonfinite_floats)
        columns = self.mapper.columns
        self.columns = {name: self._hash_column(targets[name]) for name in columns}
        compared = [i for i, c in enumerate(columns)
                    if m.columns[c].value is None and targets[c].kind in HASHED_KINDS]
        self.result.left_out = tuple(f"{c} ({targets[c].kind})" for c in columns
                                     if m.columns[c].value is None and targets[c].kind not in HASHED_KINDS)
        if self.result.left_out and not any("not compared" in w for w in self.result.warnings):
            self._warn(_("columns not compared (their text differs "
                         "between databases): {left_out}").format(left_out=', '.join(self.result.left_out)))
        self.key_at = [columns.index(k) for k in m.target.key]
        for k in m.target.key:
            if targets[k].kind not in HASHED_KINDS:
                raise FatalSyncError(N_("mapping {name!r}: target key column {k} holds {kind} values, which "
                                        "reconcile cannot hash; reconcile needs a key of text, numbers or dates "
                                        "({file})").format(name=m.name, k=k, kind=targets[k].kind, file=m.file))
        self.compared = compared
        self.hasher = RowHasher([self.columns[columns[i]] for i in compared], compared,
                                [self.columns[k] for k in m.target.key], self.key_at)
        self.pieces = {i: piece_function(self.columns[columns[i]]) for i in compared}
        self.scope = m.target.scope
        self.soft = m.spec.on_source_delete if isinstance(m.spec.on_source_delete, SoftDelete) else None
        self.marks, self.sets = self._soft_delete(targets)
        self.digest = DigestPlan(m.target.table, target.schema_of(m.target.schema_),
                                 tuple(self.columns[columns[i]] for i in compared),
                                 tuple(self.columns[k] for k in m.target.key), self.scope,
                                 tuple((self.columns[columns[p]], text) for p, _, text in self.marks))
        self.schema = target.schema_of(m.target.schema_)
        self.names = [targets[c].name for c in columns]
        self.key_names = [targets[k].name for k in m.target.key]
        self.cursor_at = next((i for i, c in enumerate(columns) if m.columns[c].from_ == m.source.cursor
                               and i in self.pieces), None)
        self.watermark: Watermark | None = self.state.watermark(m.name)
        self.pending = {decode_key(k) for k in self.state.pending_keys(m.name)}
        self.dropped = {decode_key(k) for k in self.state.keys_with_status(m.name, "dropped")}
        self.stale = self._stale_rows()
        if self.repair:
            self.upsert = target.upsert(m, columns, self.mapper.update_columns, self.mapper.kinds)
            self.parents = ParentCheck(m, self.mapper, target)
            self._limiter = self.pacing.limiter()
        if self.shared and not self.scope and m.spec.on_source_delete != "report":
            self._warn(_("target table {table} is written by other mappings too and this mapping has no "
                         "target.scope: rows only in the target are reported, never marked deleted or deleted (set "
                         "target.scope in {file})").format(table=m.target.table, file=m.file))

    def _hash_column(self, col: TargetColumn) -> HashColumn:
        dialect = self.target.dialect
        fraction = 6
        if col.kind == "datetime":
            types = self.target.column_types(self.mapping.target.table, self.target.schema_of(
                self.mapping.target.schema_))
            fraction = dialect.datetime_fraction(types.get(col.name))
        return HashColumn(col.name, col.kind, col.scale, col.precision, fraction,
                          dialect.rounds_fractions(self.target.engine.dialect), dialect.digest_prefix(col.kind))

    def _soft_delete(self, targets: Mapping[str, TargetColumn]
                     ) -> tuple[list[tuple[int, Callable[[Any], str], str]], dict[int, Any]]:
        """(position, piece, text) of each column set to a constant — a row whose pieces all equal
        them is marked deleted — and position -> value (or ``{value: ...}``) of every set column."""
        if self.soft is None:
            return [], {}
        m, columns = self.mapping, self.mapper.columns
        by_lower = {c.lower(): i for i, c in enumerate(columns)}
        marks, sets = [], {}
        for column, value in self.soft.set.items():
            at = by_lower.get(str(column).lower())
            if at is None:   # refused when the mapping is loaded; kept for a mapping built in code
                raise FatalSyncError(N_("mapping {name!r}: on_source_delete.set.{column} is not a mapped column "
                                        "({file})").format(name=m.name, column=column, file=m.file))
            sets[at] = value
            if isinstance(value, dict):
                continue
            col = self.columns[columns[at]]
            if col.kind not in HASHED_KINDS:
                raise FatalSyncError(N_("mapping {name!r}: on_source_delete.set.{column} is a {kind} column, which "
                                        "cannot mark "
                                        "a row deleted; use a text or number column ({file})")
                                     .format(name=m.name, column=column, kind=col.kind, file=m.file))
            piece = piece_function(col)
            marks.append((at, piece, piece(cast_value(value, targets[columns[at]].kind))))
        return marks, sets

    def _stale_rows(self) -> dict[int, str]:
        """Key bits -> why, for the target rows whose source row's newer version is a reject."""
        stale: dict[int, str] = {}
        names = self.layout.names
        width = len(self.mapper.columns)
        for status, why in (("pending", "update rejected"), ("dropped", "update rejected, the reject dropped")):
            for reject in self.state.list_rejects(self.mapping.name, status=status, limit=None):
                data = _row_data(reject.get("row_data"))
                key = target_key_of(self.mapper, tuple(data.get(n) for n in names))
                if key is None:
                    continue
                values: list[Any] = [None] * width
                for at, value in zip(self.key_at, key, strict=True):
                    values[at] = value
                stale[self.hasher.bits(values)[0]] = f"{why}: {reject.get('reason')} (syncd rejects)"
        return stale

    def _is_marked(self, values: Sequence[Any]) -> bool:
        return bool(self.marks) and all(piece(values[at]) == text for at, piece, text in self.marks)

    def _source(self) -> Iterator[tuple[Sequence[Sequence[Any]], MappedBatch]]:
        """The mapping's source rows (every row it would sync), mapped, batch by batch."""
        m = self.mapping
        statements = [plan.read_window(m, Window(snapshot=True))]
        if m.null_cursor == "include":
            statements.append(plan.read_null_cursor(m))
        for statement in statements:
            with self.source.stream(statement, m.batch_size, prefetch=self.prefetch) as batches:
                for rows in batches:
                    if rows:
                        yield rows, self.mapper.map_batch(rows)

    def _hash_source(self) -> Digests:
        digests = Digests()
        result, counts = self.result, self.result.counts
        hash_row, add = self.hasher.bits, digests.add_bits
        marks = bool(self.marks)
        for rows, mapped in self._source():
            result.source_rows += len(rows)
            counts.rows_read += len(rows)
            self._source_rejects(mapped.rejects)
            for values in mapped.rows:
                if not (marks and self._is_marked(values)):
                    add(*hash_row(values))
        return digests

    def _source_rejects(self, rejects: Sequence[Reject]) -> None:
        """Source rows the mapping cannot write: known (pending, dropped) or new; a repair records
        the new ones as rejects, which runs retry."""
        if not rejects:
            return
        new = []
        for reject in rejects:
            if reject.key in self.pending:
                self._found(REJECTED, reject.key, column=reject.column, reason=reject.reason)
            elif reject.key in self.dropped:
                self._found(DROPPED, reject.key, column=reject.column, reason=reject.reason)
            else:
                new.append(reject)
                self._found(REJECTED, reject.key, column=reject.column, reason=f"new: {reject.reason}")
        self.result.counts.rows_rejected += len(rejects)
        if new and self.repair:
            self.state.checkpoint(self.mapping.name, None, new, [], self.run_id)
            self.pending.update(r.key for r in new)

    # -- settling the differing buckets ---------------------------------------------------------
    def _settle(self, group: set[int], buckets: int) -> None:
        """Read the buckets of ``group`` key by key on both sides; re-send what is missing or
        different, and deal with what only the target has."""
        m = self.mapping
        self._doing(N_("reading {count} differing bucket(s) of {table}").format(count=len(group), table=m.target.table))
        theirs = KeyedValues()
        for key_hex, value, _key in self.target.bucket_rows(self.digest, buckets, sorted(group), with_key=False,
                                                            batch_size=m.batch_size):
            theirs.add(key_bits(key_hex), value)
        theirs.freeze()
        queue: list[tuple[str, int, tuple[Any, ...], tuple[Any, ...], Sequence[Any]]] = []
        bits_of = self.hasher.bits
        for _rows, mapped in self._source():
            for values, source_key, source_row in zip(mapped.rows, mapped.keys, mapped.sources, strict=True):
                bits, value = bits_of(values)
                if fine_of_bits(bits) % buckets not in group:
                    continue
                kind = self._difference(values, value, source_row, theirs.take(bits))
                if kind == WAITING:
                    # the next run sends it: sending it now would cross the link twice
                    self._found(WAITING, self.mapper.target_key(values),
                                reason="newer than the watermark: the next run sends it")
                elif kind is not None:
                    queue.append((kind, bits, values, source_key, source_row))
                if len(queue) >= m.batch_size:
                    self._resend(queue)
                    queue = []
        if queue:
            self._resend(queue)
        left = theirs.left()
        del theirs
        if left:
            self._extras(left, group, buckets)

    def _difference(self, values: tuple[Any, ...], value: int, source_row: Sequence[Any],
                    found: int | None) -> str | None:
        """What a source row's target row (``found``: its row value) is: None (equal), missing,
        different or waiting."""
        if self._is_marked(values):
            # marked deleted at the source: the target holds it unmarked only if it differs
            return DIFFERENT if found is not None else None
        if found == value:
            return None
        if self._newer(source_row[self.layout.cursor]):
            return WAITING
        return MISSING if found is None else DIFFERENT

    def _newer(self, cursor: Any) -> bool:
        """Whether a source row is newer than the watermark: the next run sends it anyway."""
        mark = self.watermark
        if cursor is None:
            return False
        if mark is None or mark.snapshot:
            return True
        try:
            return bool(cursor > mark.cursor)
        except TypeError:
            return str(cursor) > str(mark.cursor)

    def _resend(self, queue: list[tuple[str, int, tuple[Any, ...], tuple[Any, ...], Sequence[Any]]]) -> None:
        different = [item for item in queue if item[0] == DIFFERENT]
        actual = self._target_rows([self.mapper.target_key(item[2]) for item in different])
        for kind, bits, values, _source_key, _source_row in queue:
            if kind == DIFFERENT:
                self._explain(values, actual.get(bits))
            else:
                self._found(kind, self.mapper.target_key(values), reason="in the source, not in the target")
        if not self.writing or not self._may_write():
            self._kind_of.clear()
            return
        batch = MappedBatch([item[2] for item in queue], [item[3] for item in queue], [],
                            [item[4] for item in queue])
        # As a run does: a row whose target key the target holds as written from another source
        # key (a case-insensitive key: 'a' stored, 'A' read) is held back, not written over that
        # row, which may be an extra this repair is about to delete.
        batch = against_stored(self.mapping, self.mapper, self.target, batch)
        batch = self.parents.apply(batch)
        written = self.target.write(self.upsert, batch.rows, self.mapper.kinds)
        faults.crash_point("repair")
        healed = [k for k in batch.keys if k in self.pending]
        counts = self.result.counts
        counts.tally(written)
        counts.rows_rejected += len(batch.rejects)
        counts.rejects_resolved += len(healed)
        self.result.resent += len(batch.rows)
        sent = {self.mapper.target_key(row) for row in batch.rows}
        repaired: dict[str, list[str]] = {}
        for kind, _bits, values, _source_key, _source_row in queue:
            key = self.mapper.target_key(values)
            if key in sent:
                repaired.setdefault(self._kind_of.get(key, kind), []).append(_key_text(key))
        self.state.checkpoint(self.mapping.name, None, batch.rejects, healed, self.run_id,
                              detail={"reconcile": "re-sent", "keys": repaired})
        self._kind_of.clear()
        self.pending.difference_update(healed)
        self._paced(len(batch.rows))

    def _target_rows(self, keys: Sequence[tuple[Any, ...]]) -> dict[int, tuple[Any, ...]]:
        """The target's rows with these keys, by their key's bits (every mapped column, typed)."""
        if not keys:
            return {}
        rows = self.target.rows_by_key(self.mapping.target.table, self.schema, self.names, self.key_names, keys,
                                       scope=self.scope)
        return {self.hasher.bits(row)[0]: row for row in rows}

    def _explain(self, values: tuple[Any, ...], actual: tuple[Any, ...] | None) -> None:
        """Record a different row: which columns, and whether its change was back-dated (the target's
        copy of the cursor is older, and the source's cursor is not newer than the watermark)."""
        key = self.mapper.target_key(values)
        if actual is None:
            self._found(DIFFERENT, key, reason="the target row changed while reconcile read it")
            return
        columns = self.mapper.columns
        changed = [i for i in self.compared if self.pieces[i](values[i]) != self.pieces[i](actual[i])]
        kind = DIFFERENT
        first = changed[0] if changed else None
        reason = None
        at = self.cursor_at
        if at is not None and at in changed and _before(actual[at], values[at]):
            kind = BACKDATED
            reason = (f"changed at the source with {columns[at]} {values[at]} (the target has {actual[at]}), "
                      "behind what incremental runs had read: a back-dated or late-committed change")
        elif self._is_marked(values):
            reason = "marked deleted at the source"
        elif len(changed) > 1:
            reason = f"{len(changed)} columns differ: {', '.join(columns[i] for i in changed)}"
        self._kind_of[key] = kind
        self._found(kind, key, column=columns[first] if first is not None else None,
                    expected=shown_value(values[first]) if first is not None else None,
                    actual=shown_value(actual[first]) if first is not None else None, reason=reason)

    def _extras(self, left: set[int], group: set[int], buckets: int) -> None:
        """Rows only the target has (``left``: their keys' bits): stale (a newer version is
        rejected), or gone at the source. Their keys are read again from the target, now that they
        are known to be few."""
        gone: list[tuple[Any, ...]] = []
        for key_hex, _value, key in self.target.bucket_rows(self.digest, buckets, sorted(group),
                                                           batch_size=self.mapping.batch_size):
            bits = key_bits(key_hex)
            if bits not in left:
                continue
            why = self.stale.get(bits)
            if why is not None:
                self._found(STALE, key, reason=why)
            else:
                gone.append(key)
        if not gone:
            return
        policy = self.mapping.spec.on_source_delete
        acting = policy != "report" and not (self.shared and not self.scope)
        if not acting or not self.writing or not self._may_write():
            what = ("" if not acting else " (a repair marks it deleted)" if self.soft else " (a repair deletes it)")
            for key in gone:
                self._found(EXTRA, key, reason="in the target, not in the source: deleted there, or not produced "
                                               "by this mapping" + what)
            return
        for part in plan.chunks(gone, self.mapping.batch_size):
            if not self._may_write():
                for key in part:
                    self._found(EXTRA, key, reason="in the target, not in the source (repair deferred)")
                continue
            if self.soft is not None:
                self._mark_deleted(part)
            else:
                self._delete(part)

    def _mark_deleted(self, keys: Sequence[tuple[Any, ...]]) -> None:
        """Upsert each row as the target holds it, with the ``set`` columns set."""
        rows = self.target.rows_by_key(self.mapping.target.table, self.schema, self.names, self.key_names, keys,
                                       scope=self.scope)
        kinds = self.mapper.kinds
        stamp = self.now.astimezone(self.tz).replace(tzinfo=None)
        marked = []
        for row in rows:
            values = list(row)
            for at, value in self.sets.items():
                values[at] = _set_value(value, kinds[at], stamp, self.run_id)
            marked.append(tuple(values))
            self._found(DELETED, self.mapper.target_key(tuple(values)),
                        reason="not in the source: marked deleted (on_source_delete)")
        written = self.target.write(self.upsert, marked, kinds)
        faults.crash_point("repair")
        self.result.marked += len(marked)
        self.result.counts.tally(written)
        self.state.checkpoint(self.mapping.name, None, [], [], self.run_id, detail={
            "reconcile": "marked deleted", "keys": {DELETED: [_key_text(self.mapper.target_key(r)) for r in marked]}})
        self._paced(len(marked))

    def _delete(self, keys: Sequence[tuple[Any, ...]]) -> None:
        done = self.target.delete(self.mapping.target.table, self.schema, self.key_names, keys, scope=self.scope)
        faults.crash_point("repair")
        for key in keys:
            self._found(DELETED, key, reason="not in the source: deleted (on_source_delete: delete)")
        self.result.deleted += done       # not "written" (inserted or updated): the run record's window says it
        self.state.checkpoint(self.mapping.name, None, [], [], self.run_id, detail={
            "reconcile": "deleted", "keys": {DELETED: [_key_text(k) for k in keys]}})
        self._paced(done)

    # -- pacing, stopping, findings ---------------------------------------------------------------
    def _may_write(self) -> bool:
        """Whether a repair may write now: False once ``heavy_hours`` closed during it."""
        if self.writing and (refusal := self.pacing.refusal(self.clock(), "repair")) is not None:
            self._defer(refusal)
        return self.writing

    def _defer(self, reason: str) -> None:
        self.writing = False
        if reason not in self.result.warnings:
            self._warn(reason + _("; the differences are reported, and repaired by a later reconcile"))

    def _paced(self, rows: int) -> None:
        """After a write: keep to ``max_rows_per_second``, and stop here if the process is stopping."""
        if self._limiter is not None and rows:
            wait = self._limiter.delay(rows, self.monotonic())
            if wait > 0:
                self.sleep(wait)
        if self.observer.stop_requested():
            raise Stopped("reconcile stopped after a repair batch on request; the next reconcile goes on")

    def _warn(self, message: str) -> None:
        self.result.warnings.append(message)
        logger.warning(_("mapping {name}: {message}").format(name=self.mapping.name, message=message))

    def _found(self, kind: str, key: tuple[Any, ...], *, column: str | None = None, expected: Any = None,
               actual: Any = None, reason: str | None = None) -> None:
        result = self.result
        result.found[kind] = result.found.get(kind, 0) + 1
        if len(result.findings) < MAX_FINDINGS:
            result.findings.append(Finding(kind, _key_text(key), column, expected, actual, reason))


def cast_value(value: Any, kind: str) -> Any:
    """A value written under ``on_source_delete.set`` as a column of ``kind`` holds it."""
    if value is None:
        return None
    if kind in ("str", "text"):
        return ("1" if value else "0") if isinstance(value, bool) else str(value)
    if kind == "int":
        return int(value)
    if kind == "decimal":
        try:
            return Decimal(str(value))
        except InvalidOperation:
            raise FatalSyncError(N_("on_source_delete.set: {value!r} is not a number").format(value=value)) from None
    if kind == "bool":
        return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "t", "y", "yes")
    return value


def _set_value(value: Any, kind: str, stamp: datetime, run_id: str) -> Any:
    if isinstance(value, dict):
        if value.get("value") == "run_id":
            return run_id
        return stamp.date() if kind == "date" else stamp
    return cast_value(value, kind)


def _before(target_value: Any, source_value: Any) -> bool:
    if target_value is None or source_value is None:
        return target_value is None and source_value is not None
    try:
        if isinstance(target_value, datetime) and isinstance(source_value, datetime):
            return target_value.replace(tzinfo=None) < source_value.replace(tzinfo=None)
        if isinstance(target_value, date) and isinstance(source_value, date):
            return target_value < source_value
        return bool(target_value < source_value)
    except TypeError:
        return str(target_value) < str(source_value)


def _row_data(text: Any) -> dict[str, Any]:
    import json

    try:
        data = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        return {}
    return {k: decode_value(v) if isinstance(v, dict) else v for k, v in data.items()} if isinstance(data, dict) else {}


def _key_text(key: Sequence[Any]) -> str:
    return ", ".join(str(k) for k in key)


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, SyncdError):
        return str(exc)
    if isinstance(exc, sa.exc.StatementError):
        orig = exc.orig if exc.orig is not None else exc
        text = str(orig).strip()
        return f"{type(orig).__name__}: {text.splitlines()[0] if text else ''}"
    return f"{type(exc).__name__}: {exc}"


__all__ = ["FAILURES", "KINDS", "Finding", "Reconciler", "RepairResult", "cast_value"]
