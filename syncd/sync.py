"""One run of one mapping: pending rejects -> window -> read -> map -> check parents -> upsert ->
checkpoint, with transient faults retried from the last checkpoint.

Order inside a batch, and why: the target transaction commits first, then the watermark (and the
batch's rejects) are checkpointed in the state store. A crash between the two replays the
batch on the next run; the upsert makes the replay harmless. The reverse order could lose it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal

import sqlalchemy as sa
from loguru import logger
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential_jitter

from syncd import faults, i18n, plan
from syncd.dialects.base import Written
from syncd.errors import FatalSyncError, SyncdError
from syncd.i18n import N_, _
from syncd.keys import KeyTracker
from syncd.mapping import CodeList, TableMapping, change_message, definition_change
from syncd.pacing import Pacing
from syncd.parents import ParentCheck, WouldWrite
from syncd.source import Source
from syncd.state import RunCounts, StateStore
from syncd.target import Target
from syncd.transform import MappedBatch, Reject, RowMapper
from syncd.watermark import Watermark, Window, cursor_problem, decode_key, describe_value, named_key, plan_window

Mode = Literal["incremental", "full"]
Phase = Literal["prepare", "rejects", "plan", "read", "nulls", "done"]

#: keys per query when a batch's target keys are looked up as the target holds them (case-
#: insensitive keys): 4 round trips for a batch of 20 000, within PostgreSQL's 65 535 bound values
STORED_KEYS_PER_QUERY = 5000


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    wait: float = 2.0
    wait_max: float = 60.0


@dataclass
class MappingResult:
    mapping: str
    mode: str
    status: str = "running"  # ok | failed | dry-run
    counts: RunCounts = field(default_factory=RunCounts)
    watermark_before: Watermark | None = None
    watermark_after: Watermark | None = None
    window: str | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    sample: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    seconds: float = 0.0


class Observer:
    """Hooks for progress display and for tests that need to interrupt a run at a known point."""

    def batch_written(self, mapping: str, batch: int, rows: int) -> None:
        """Called after a batch's target commit and before its checkpoint."""

    def retrying(self, mapping: str, attempt: int, error: BaseException) -> None:
        """Called before waiting to retry after a transient error."""

    def stop_requested(self) -> bool:
        """Polled after each checkpoint: True ends the run there by raising ``Stopped``."""
        return False

    def activity(self, mapping: str, doing: str | None) -> None:
        """What the run is doing now ("writing target table dp_x"), each time that changes; None
        when the run ends. The daemon publishes it, so that ``syncd health`` can say what a run
        that takes too long waits on."""

    def reading(self, mapping: str, count: Callable[[], int | None]) -> None:
        """A read of source rows begins (a window, or the rows with a NULL cursor). ``count()``
        counts them with a ``SELECT COUNT(*)`` (None if that fails, or when the read is not worth
        a count: only the first full copy of a mapping's run is counted): call it only when the
        number is worth it, e.g. for a progress bar's ETA."""

    def rows_read(self, mapping: str, rows: int) -> None:
        """A batch of ``rows`` source rows was read and handled (written, rejected, or in a dry run
        looked at)."""


class Stopped(Exception):
    """A run ended at a checkpoint because the process is stopping; the next run resumes there."""


class Deferred(Exception):
    """A full copy may not run now (``heavy_hours``): the run ends, recorded as deferred, and the
    next run inside the hours starts it, or resumes it from its last checkpoint."""


def describe_window(window: Window) -> str:
    if window.empty:
        return "empty source"
    if window.snapshot:
        done = f", resumed after key {', '.join(map(str, window.after.key))}" if window.after else ""
        return f"full copy of rows up to {describe_value(window.until)} in key order{done}"
    low = (f"after {window.after.describe()}" if window.after else
           f"from {describe_value(window.since)}" if window.since is not None else "from the start")
    high = f" to {describe_value(window.until)}" if window.until is not None else ""
    return low + high


@dataclass(frozen=True)
class Progress:
    """Where one run of one mapping stands: what a retry after a transient fault resumes from.

    The phases come in this order:

    - ``prepare``: describe the target, build the row mapper, the upsert and the parent checks;
      apply the NULL-cursor policy;
    - ``rejects``: re-read the pending rejects by key and write those that now pass;
    - ``plan``: probe the source and fix the next window of cursor number ``cursor``;
    - ``read``: read, map, write and checkpoint ``window`` batch by batch;
    - ``nulls``: the rows whose first cursor is NULL (``null_cursor: include``);
    - ``done``.

    ``plan`` and ``read`` come round more than once: a full copy is followed by an incremental
    window for what changed while it copied, and a mapping with several cursors reads one window
    per cursor, each in its own (cursor, key) order (``cursor`` counts them, 0 the first).

    ``window`` is what is left of the window being read: after each checkpoint it is narrowed to
    the rows after it. ``checkpoint`` is the newest watermark this run checkpointed (None: the
    previous run's watermark still holds). ``snapshot_done``: a full copy finished in this run, so
    the next window of the first cursor is incremental.
    """

    phase: Phase = "prepare"
    window: Window | None = None
    checkpoint: Watermark | None = None
    snapshot_done: bool = False
    cursor: int = 0
    cursors: int = 1
    #: during a full copy: where the further cursors stand once it completes (see Watermark.also)
    pending_also: tuple[tuple[str, Watermark], ...] = ()

    def planned(self, window: Window) -> Progress:
        if window.empty:
            return self.next_cursor()
        return replace(self, phase="read", window=window)

    def batch_done(self, watermark: Watermark, position: Watermark | None = None) -> Progress:
        """After a checkpoint of ``watermark``; ``position`` is where the window's own cursor stands
        (the first cursor's: ``watermark`` itself)."""
        assert self.window is not None
        return replace(self, window=self.window.resume(position or watermark), checkpoint=watermark)

    def window_done(self, *, dry_run: bool = False) -> Progress:
        """After the last batch of ``window``. A full copy that copied rows becomes a watermark at
        the largest cursor it copied (its further cursors at their positions for after the copy),
        and an incremental window follows; otherwise the run goes on with the next cursor, then
        the NULL-cursor rows. (A full copy that found nothing up to its bound ends the run:
        planning again at once would only find the same rows still too new.)"""
        window = self.window
        assert window is not None
        copied = window.after
        if window.snapshot and not dry_run and copied is not None and copied.cursor is not None:
            return replace(self, phase="plan", window=None, snapshot_done=True,
                           checkpoint=Watermark(copied.cursor, (), bound=window.until, also=copied.also))
        if window.snapshot:
            # nothing copied, or a dry run: no position to read further cursors from
            return replace(self, phase="nulls", window=None, snapshot_done=True)
        return self.next_cursor()

    def next_cursor(self) -> Progress:
        """On to the window of the next cursor, or to the NULL-cursor rows after the last."""
        if self.cursor + 1 < self.cursors:
            return replace(self, phase="plan", window=None, cursor=self.cursor + 1)
        return replace(self, phase="nulls", window=None)


@dataclass
class RetryBudget:
    """Give up after ``attempts`` failures in a row without a checkpoint in between: a link that
    drops now and then but lets batches through never exhausts the retries."""

    attempts: int
    batches_at_failure: int = 0
    failures_in_a_row: int = 0

    def exhausted(self, batches: int) -> bool:
        if batches > self.batches_at_failure:
            self.batches_at_failure = batches
            self.failures_in_a_row = 0
        self.failures_in_a_row += 1
        return self.failures_in_a_row >= self.attempts


def against_stored(mapping: TableMapping, mapper: RowMapper, target: Target, mapped: MappedBatch) -> MappedBatch:
    """``mapped`` without the rows whose target key the target holds as written from another source
    key (when its key compares ignoring case, which it keeps: syncd/dialects, ``key_forms``): those
    are rejects, held back until the source has one row per target key. Runs and repairs alike."""
    if not mapped.rows or not mapper.checks_stored_keys:
        return mapped
    stored = target.existing(mapping.target.table, target.schema_of(mapping.target.schema_), mapping.target.key,
                             [mapper.target_key(r) for r in mapped.rows], per_query=STORED_KEYS_PER_QUERY)
    return mapper.against_stored(mapped, stored)


class MappingRun:
    """One run of one mapping: a loop over the phases of ``Progress``, retried from the last
    checkpoint after a transient fault."""

    def __init__(self, mapping: TableMapping, *, source: Source, target: Target, state: StateStore,
                 codes: Mapping[str, CodeList], run_id: str, now: datetime, tz: tzinfo,
                 mode: Mode = "incremental", dry_run: bool = False, clock_offset: Any = None,
                 retry: RetryPolicy = RetryPolicy(), observer: Observer | None = None,
                 is_transient: Callable[[BaseException], bool] = lambda e: False, prefetch: int | None = 0,
                 pacing: Pacing | None = None, clock: Callable[[], datetime] | None = None,
                 would_write: WouldWrite | None = None):
        self.mapping = mapping
        self.source, self.target, self.state = source, target, state
        self.codes = codes
        self.run_id, self.now, self.tz = run_id, now, tz
        self.mode, self.dry_run = mode, dry_run
        self.clock_offset = clock_offset
        self.retry = retry
        self.observer = observer or Observer()
        self.is_transient = is_transient
        self.prefetch = prefetch
        #: heavy work (full copies) only in heavy_hours and at max_rows_per_second; ``clock``: local time
        self.pacing = pacing or Pacing()
        self.clock = clock or (lambda: datetime.now(tz))
        #: a dry run's memory of the keys it would have written, shared by the mappings of one run
        self.would_write = would_write
        self._limiter = self.pacing.limiter()
        self._resend_waits = False     # a re-send after a mapping change waits for heavy_hours
        self.result = MappingResult(mapping.name, "dry-run" if dry_run else mode)
        if not dry_run:
            # the write path tells inserted, updated and unchanged rows apart
            self.result.counts.inserted = self.result.counts.updated = self.result.counts.unchanged = 0
        self.progress = Progress(cursors=len(mapping.source.cursors))
        self.batches = 0
        self._budget = RetryBudget(retry.attempts)
        # keys of pending rejects (as named: ``named_key``), loaded in phase "rejects"
        self._pending: set[tuple[Any, ...]] = set()
        self._newest: Any = None    # the source's newest cursor at the last plan: what a cursor looks like
        self._cursor_at = 0         # where in a row the cursor of the window being read sits
        self._lookback_told: set[str] = set()   # cursors whose lookback cannot apply, said once a run
        self._excluded = 0                   # rows left out by bad_cursor: exclude, and the first of them
        self._doing: str | None = None
        self._first_excluded: str | None = None
        self._counted = False       # whether a progress display was given the count of a full copy
        self._phases: dict[Phase, Callable[[Progress], Progress]] = {
            "prepare": self._prepare, "rejects": self._retry_rejects, "plan": self._plan,
            "read": self._read, "nulls": self._read_nulls}

    # -- the run -------------------------------------------------------------------------
    def run(self) -> MappingResult:
        started = time.monotonic()
        name = self.mapping.name
        record = None
        try:
            self.result.watermark_before = self.state.watermark(name)
            self._on_definition_change()
            if not self.dry_run:
                record = self.state.start_run(self.run_id, name, self.mode, self.result.watermark_before)
        except BaseException as exc:  # the state store failed before the run began: a failed run too
            self.result.status = "failed"
            self.result.error = _describe_error(exc)
            self.result.seconds = time.monotonic() - started
            raise
        try:
            for attempt in Retrying(stop=lambda _: self._budget.exhausted(self.batches),
                                    wait=wait_exponential_jitter(multiplier=self.retry.wait, max=self.retry.wait_max),
                                    retry=retry_if_exception(self.is_transient), reraise=True,
                                    before_sleep=self._before_sleep):
                with attempt:
                    self.resume()
            self.result.status = "dry-run" if self.dry_run else "ok"
        except Stopped as exc:
            # Nothing went wrong: the process is stopping; `syncd health` must not page anyone.
            self.result.status = "stopped"
            self.result.error = str(exc)
            raise
        except Deferred as exc:
            # Nothing went wrong either: heavy work waits for its hours; incremental runs go on.
            self.result.status = "deferred"
            self._warn(str(exc))
        except BaseException as exc:  # recorded here, classified and reported by the caller
            self.result.status = "failed"
            self.result.error = _describe_error(exc)
            raise
        finally:
            truncations = getattr(getattr(self, "mapper", None), "truncations", None)
            if truncations:
                cut = ", ".join(f"{c} {n}" for c, n in sorted(truncations.items()))
                self._warn(f"{sum(truncations.values())} value(s) cut to fit their column "
                           f"(on_overflow: truncate): {cut}")
            if self._excluded:
                self._warn(f"{self._excluded} row(s) with a cursor that is no value of its kind are not synced "
                           f"(source.bad_cursor: exclude); the first: {self._first_excluded}")
            self.result.seconds = time.monotonic() - started
            self.result.watermark_after = self.progress.checkpoint or self.result.watermark_before
            if record is not None:
                self.state.finish_run(record, status=self.result.status, counts=self.result.counts,
                                      watermark_after=self.result.watermark_after, window=self.result.window,
                                      warning="\n".join(self.result.warnings) or None, error=self.result.error)
        return self.result

    def _on_definition_change(self) -> None:
        """A mapping whose columns or expressions changed since its watermark was made: send every
        row again as a full copy (``on_change: resync``), or only say so (``warn``)."""
        action = definition_change(self.mapping, self.state.definition_hash(self.mapping.name))
        if action is None:
            return
        self._warn(change_message(self.mapping, action))
        if action == "resync" and self.mode == "incremental" and self.result.watermark_before is not None:
            if not self.dry_run and (refusal := self.pacing.refusal(self.clock(), "the re-send")) is not None:
                # Heavy work waits for its hours; this mapping's changes still flow meanwhile, and
                # the new definition is not recorded until the re-send has run.
                self._resend_waits = True
                self._warn(refusal)
                return
            self.mode = "full"
            if not self.dry_run:
                self.result.mode = "full"

    def resume(self) -> None:
        """Go through the phases from wherever ``progress`` stands to the end."""
        try:
            while self.progress.phase != "done":
                self._do(self._describe_phase(self.progress.phase))
                self.progress = self._phases[self.progress.phase](self.progress)
        finally:
            if self.progress.phase == "done":
                self._do(None)

    def _describe_phase(self, phase: Phase) -> str:
        source = self.mapping.source.table or "query"
        # kept in English (the state store shows it to another process), translated where shown
        return {"prepare": N_("describing target table {table}").format(table=self.mapping.target.table),
                "rejects": N_("re-reading pending rejects"), "plan": N_("probing source {table}").format(table=source),
                "read": N_("reading source {table}").format(table=source),
                "nulls": N_("reading rows of {table} with a NULL cursor").format(table=source),
                "done": N_("done")}[phase]

    def _do(self, doing: str | None) -> None:
        if doing != self._doing:
            self._doing = doing
            self.observer.activity(self.mapping.name, doing)

    def _before_sleep(self, state: RetryCallState) -> None:
        self.result.counts.retries += 1
        error = state.outcome.exception() if state.outcome else None
        if error is not None and self.target.dialect.is_lock_wait(error):
            # The target is the table a run writes and locks: name it, and say whose lock it was.
            logger.warning(_("mapping {name}: target table {table} is locked by another session: waited "
                             "target.lock_timeout while {doing}; retry {failures_in_a_row} of {attempts} from the "
                             "last checkpoint: {error}").format(
                name=self.mapping.name, table=self.mapping.target.table,
                doing=i18n.translate_stored(self._doing or N_("starting")),
                failures_in_a_row=self._budget.failures_in_a_row, attempts=self.retry.attempts - 1,
                error=_describe_error(error)))
        else:
            logger.warning(_("mapping {name}: transient error while {doing}, retry {failures_in_a_row} of "
                             "{attempts} from the last checkpoint: {error}").format(
                name=self.mapping.name, doing=i18n.translate_stored(self._doing or N_("starting")),
                failures_in_a_row=self._budget.failures_in_a_row, attempts=self.retry.attempts - 1,
                error=_describe_error(error)))
        self.observer.retrying(self.mapping.name, state.attempt_number, error)  # type: ignore[arg-type]

    @property
    def _previous(self) -> Watermark | None:
        return self.progress.checkpoint or self.result.watermark_before

    # -- the phases ------------------------------------------------------------------------
    def _prepare(self, progress: Progress) -> Progress:
        targets = self.target.describe(self.mapping)
        self.layout = plan.layout(self.mapping)
        dialect = self.target.dialect
        self.mapper = RowMapper(self.mapping, self.layout, targets, self.codes, now=self.now, run_id=self.run_id,
                                tz=self.tz, text_length=dialect.text_length, unsupported_text=dialect.unsupported_text,
                                key_forms=self.target.key_forms(self.mapping), datetime_texts=dialect.datetime_texts,
                                nonfinite_floats=dialect.holds_nonfinite_floats)
        self.upsert = self.target.upsert(self.mapping, self.mapper.columns, self.mapper.update_columns,
                                         self.mapper.kinds)
        self.parents = ParentCheck(self.mapping, self.mapper, self.target,
                                   self.would_write if self.dry_run else None)
        self._null_cursor_policy()
        return replace(progress, phase="rejects")

    def _plan(self, progress: Progress) -> Progress:
        """Probe the source and fix the next window of the cursor ``progress.cursor``."""
        name = self.mapping.source.cursors[progress.cursor]
        base = self._previous
        if progress.cursor and base is None:
            return progress.next_cursor()     # nothing synced yet: the first cursor's full copy comes first
        probe = self.source.probe(self.mapping, name)
        self._newest, self._cursor_at = probe.newest, self.layout.cursors[progress.cursor]

        def window_of(previous: Watermark | None, *, full: bool) -> Any:
            return plan_window(previous, newest=probe.newest, db_now=probe.db_now, db_now_utc=probe.db_now_utc,
                               lookback=self.mapping.lookback, lag=self.mapping.lag,
                               clock_offset=self.clock_offset or timedelta(0), full=full,
                               open_since=probe.open_since, open_since_utc=probe.open_since_utc)

        if progress.cursor == 0:
            planned = window_of(base, full=self.mode == "full" and not progress.snapshot_done)
            window = planned.window
            if window.snapshot:
                self._heavy_hours("full copy")
                progress = replace(progress, pending_also=self._positions_after_copy(window, base))
        else:
            previous = base.position(name) if base is not None else None
            # A cursor without a position yet (just added to the mapping): every row up to its bound.
            planned = window_of(previous, full=previous is None)
            window = planned.window if previous is not None else replace(planned.window, snapshot=False)
        described = describe_window(window)
        if progress.cursor:
            described = f"{name} {described}"
        if planned.held_by is not None:
            described += f" (held before a transaction open since {describe_value(planned.held_by)})"
        self.result.window = described if self.result.window is None else f"{self.result.window}; then {described}"
        if planned.lookback_problem is not None:
            self._lookback_warning(name, planned.lookback_problem)
        if planned.ahead and not any("ahead of the source" in w for w in self.result.warnings):
            ahead = self.source.scalar(plan.count_ahead(self.mapping, window.until, name))
            self._warn(f"{ahead} row(s) wait: " + planned.warnings[0])
        return progress.planned(window)

    def _positions_after_copy(self, window: Window, base: Watermark | None) -> tuple[tuple[str, Watermark], ...]:
        """Where the further cursors stand once a full copy completes: a resumed copy keeps those
        it started with; a new one takes each cursor's clock bound now, as the copy reads every
        row as it is from now on."""
        if window.after is not None and window.after.also:
            return window.after.also
        positions = []
        for name in self.mapping.source.also_cursors:
            probe = self.source.probe(self.mapping, name)
            planned = plan_window(None, newest=probe.newest, db_now=probe.db_now, db_now_utc=probe.db_now_utc,
                                  lookback=self.mapping.lookback, lag=self.mapping.lag,
                                  clock_offset=self.clock_offset or timedelta(0), full=True,
                                  open_since=probe.open_since, open_since_utc=probe.open_since_utc)
            if not planned.window.empty:
                until = planned.window.until
                positions.append((name, Watermark(until, (), bound=until)))
        return tuple(positions)

    def _read(self, progress: Progress) -> Progress:
        window = progress.window
        assert window is not None
        if window.snapshot and window.after is not None:
            faults.crash_point("full-resume")
        name = self.mapping.source.cursors[progress.cursor]
        self._copy(plan.read_window(self.mapping, window, name, self.source.dialect), windowed=True)
        done = self.progress.window_done(dry_run=self.dry_run)
        if done.phase == "plan" and done.snapshot_done and not progress.snapshot_done:
            # a full copy finished: its watermark, then an incremental window
            self._save_watermark(done.checkpoint)
        return done

    def _read_nulls(self, progress: Progress) -> Progress:
        if self.mapping.null_cursor == "include":
            self._copy(plan.read_null_cursor(self.mapping), windowed=False)
        return replace(progress, phase="done")

    def _lookback_warning(self, cursor: str, problem: str) -> None:
        """Say, once a run, that the lookback cannot apply to this cursor's values (no lookback is applied)."""
        if cursor not in self._lookback_told:
            self._lookback_told.add(cursor)
            self._warn(str(self.mapping.problem(("lookback",), self.mapping.lookback_told(cursor, problem))))

    def _warn(self, message: str) -> None:
        self.result.warnings.append(message)
        logger.warning(_("mapping {name}: {message}").format(name=self.mapping.name, message=message))

    def _save_watermark(self, watermark: Watermark | None) -> None:
        if watermark is not None and not self.dry_run:
            self.state.checkpoint(self.mapping.name, watermark, [], [], self.run_id,
                                  definition_hash=self._definition_hash)

    def _null_cursor_policy(self) -> None:
        policy = self.mapping.null_cursor
        if policy == "include":
            return
        count = self.source.scalar(plan.count_null_cursor(self.mapping)) or 0
        self.result.counts.null_cursor_rows = count
        if not count:
            return
        if policy == "error":
            raise FatalSyncError(
                N_("mapping {name!r}: {count} source row(s) have a NULL cursor ({cursor}); fill the column in the "
                   "source, or set source.null_cursor to include (sync them every run) or exclude (never sync them) "
                   "in {file}")
                .format(name=self.mapping.name, count=count, cursor=self.mapping.source.cursor, file=self.mapping.file))
        self._warn(f"{count} row(s) with a NULL cursor ({self.mapping.source.cursor}) are not synced "
                   "(source.null_cursor: exclude)")

    def _copy(self, statement: sa.Select[Any], *, windowed: bool) -> None:
        """Read, map, write and checkpoint ``statement`` batch by batch. Without a window (the
        NULL-cursor rows) there is no watermark to move."""
        window = self.progress.window
        tracker = KeyTracker(self.layout.key, self.layout.names,
                             in_key_order=not windowed or (window is not None and window.snapshot))
        # Counted once per run of a mapping, for a full copy only: its COUNT(*) is a read of the
        # source on top of the copy's; an incremental window is small and read at once.
        counted = windowed and window is not None and window.snapshot and not self._counted
        self._counted = self._counted or counted
        self.observer.reading(self.mapping.name, (lambda: self._count(statement)) if counted else (lambda: None))
        with self.source.stream(statement, self.mapping.batch_size, prefetch=self.prefetch) as batches:
            for rows in batches:
                if rows:
                    self._copy_batch(rows, tracker, window, windowed=windowed)
                # The batch (its rows and, through _copy_batch's locals, the mapped rows) is not
                # held while the next one is read: at most one batch in hand besides prefetch's.
                del rows

    def _copy_batch(self, rows: Sequence[Sequence[Any]], tracker: KeyTracker, window: Window | None, *,
                    windowed: bool) -> None:
        """One batch of ``_copy``: map, write, checkpoint."""
        faults.crash_point("after-read")
        counts = self.result.counts
        counts.rows_read += len(rows)
        if not windowed:
            counts.null_cursor_rows += len(rows)
        good, bad = self._bad_cursors(rows) if windowed else (rows, [])
        mapped = self._map(good, tracker)
        if bad:
            mapped = replace(mapped, rejects=[*mapped.rejects, *bad])
        before = replace(counts)
        mapped = self._write(mapped)
        self.mapper.written()
        written = [*mapped.keys, *mapped.superseded]
        self.batches += 1
        if not self.dry_run:
            logger.debug("mapping {} batch {}: read {}, inserted {}, updated {}, unchanged {}, rejected {}",
                         self.mapping.name, self.batches, len(rows), _delta(counts, before, "inserted"),
                         _delta(counts, before, "updated"), _delta(counts, before, "unchanged"),
                         counts.rows_rejected - before.rows_rejected)
        watermark = position = None
        if windowed:
            watermark, position = self._watermark_after(rows, checked=len(good) != len(rows))
        if not self.dry_run:
            self.observer.batch_written(self.mapping.name, self.batches, len(mapped.rows))
            faults.crash_point("after-commit")
        self._checkpoint(mapped, written, watermark)
        if not self.dry_run:
            faults.crash_point("after-checkpoint")
        if watermark is not None:
            self.progress = self.progress.batch_done(watermark, position)
        self.observer.rows_read(self.mapping.name, len(rows))
        if window is not None and window.snapshot and not self.dry_run:
            self._pace(len(rows))
        if self.observer.stop_requested():
            raise Stopped(f"stopped after batch {self.batches} on request; the next run resumes there")

    def _count(self, statement: sa.Select[Any]) -> int | None:
        """How many rows ``statement`` reads; None when the count fails (it is only for show)."""
        try:
            return int(self.source.scalar(plan.count_of(statement)) or 0)
        except sa.exc.SQLAlchemyError as exc:
            logger.debug("mapping {}: cannot count the rows to read: {}", self.mapping.name, _describe_error(exc))
            return None

    @property
    def _definition_hash(self) -> str | None:
        """The definition a checkpoint records: None (the one recorded stays) while a re-send after
        a mapping change waits for heavy_hours."""
        return None if self._resend_waits else self.mapping.definition_hash

    def _heavy_hours(self, what: str) -> None:
        """Raise Deferred when heavy work may not run now (``heavy_hours``)."""
        if not self.dry_run and (refusal := self.pacing.refusal(self.clock(), what)) is not None:
            raise Deferred(refusal + ("; the copy resumes from its last checkpoint" if self.progress.checkpoint
                                      else "; the watermark is unchanged"))

    def _pace(self, rows: int) -> None:
        """After a batch of a full copy: keep to max_rows_per_second, and stop at this checkpoint once
        heavy_hours have closed."""
        if self._limiter is not None:
            wait = self._limiter.delay(rows, time.monotonic())
            if wait > 0:
                time.sleep(wait)
        self._heavy_hours("full copy")

    def _map(self, rows: Sequence[Sequence[Any]], tracker: KeyTracker) -> MappedBatch:
        """Map a batch: rows sharing a source key are held back as rejects, orphans too."""
        unique, duplicates = tracker.split(rows)
        before = self.mapper.truncated
        mapped = self.mapper.map_batch(unique)
        if mapped.rows and self.mapper.checks_stored_keys:
            with self._doing_meanwhile(N_("looking up keys in target table {table}").format(
                    table=self.mapping.target.table)):
                mapped = against_stored(self.mapping, self.mapper, self.target, mapped)
        if mapped.rows and self.parents.parents:
            with self._doing_meanwhile(N_("looking up parent rows in the target")):
                mapped = self.parents.apply(mapped)
        self.result.counts.rows_truncated += self.mapper.truncated - before
        if duplicates:
            mapped = replace(mapped, rejects=[*mapped.rejects, *(
                Reject(d.key, None, d.reason, self.mapper.source_row(d.row)) for d in duplicates)])
        return mapped

    def _watermark_after(self, rows: Sequence[Sequence[Any]], *,
                         checked: bool) -> tuple[Watermark | None, Watermark | None]:
        """(the mapping's watermark, the window's own position) after a batch of the current window;
        (None, None) when the batch moves nothing. ``checked``: some rows had a bad cursor."""
        progress = self.progress
        window = progress.window
        assert window is not None
        position = plan.watermark_of(rows, self.layout, window, window.after, like=self._newest if checked else None,
                                     cursor=self._cursor_at)
        if position is None:
            return None, None
        if progress.cursor == 0:
            # the first cursor's position is the watermark; it carries the further cursors along
            base = self._previous
            also = progress.pending_also if window.snapshot else (base.also if base is not None else ())
            position = replace(position, also=also)
            return position, position
        base = self._previous
        assert base is not None
        return base.with_position(self.mapping.source.cursors[progress.cursor], position), position

    def _bad_cursors(self, rows: Sequence[Sequence[Any]], *, first_cursor: bool = False
                     ) -> tuple[Sequence[Sequence[Any]], list[Reject]]:
        """Split off the rows whose cursor is no value of its kind, as ``source.bad_cursor`` says:
        rejects (``reject``), left out with a warning (``exclude``), or a stopped run (``error``).
        ``first_cursor``: judge the first cursor by the watermark's (rejects retried by key)."""
        index, like = self._cursor_at, self._newest
        if first_cursor:
            previous = self._previous
            index, like = self.layout.cursor, previous.cursor if previous is not None else None
        kind = type(like)
        if like is None or all(type(row[index]) is kind for row in rows):   # the usual case, checked quickly
            return rows, []
        bad = [(row, problem) for row in rows if (problem := cursor_problem(row[index], like)) is not None]
        if not bad:
            return rows, []
        good = [row for row in rows if cursor_problem(row[index], like) is None]
        name, policy = self.mapping.name, self.mapping.bad_cursor
        column = self.mapping.source.cursors[self.progress.cursor]
        first_row, first_problem = bad[0]
        key = ", ".join(str(first_row[i]) for i in self.layout.key)
        if policy == "error":
            raise FatalSyncError(
                N_("mapping {name!r}: source row {key}: {problem} (column {column}); fix the row in the "
                   "source, or set source.bad_cursor to reject or exclude in {file}")
                .format(name=name, key=key, problem=first_problem, column=column, file=self.mapping.file))
        if policy == "exclude":
            self._excluded += len(bad)
            self._first_excluded = self._first_excluded or f"row {key}, {first_problem}"
            return good, []
        return good, [Reject(tuple(row[i] for i in self.layout.key), column,
                             f"{column}: {problem}; it cannot be ordered with the other rows, so it is held back "
                             "until it is fixed in the source", self.mapper.source_row(row))
                      for row, problem in bad]

    @contextmanager
    def _doing_meanwhile(self, doing: str) -> Iterator[None]:
        """What the run does for a while (a wait on the target shows in health as that), then
        what it did before."""
        before = self._doing
        self._do(doing)
        try:
            yield
        finally:
            self._do(before)

    def _write(self, mapped: MappedBatch) -> MappedBatch:
        """Write a batch (or keep a sample of it, in a dry run); returns it as written: rows the
        target refused are among its rejects."""
        with self._doing_meanwhile(N_("writing target table {table}").format(table=self.mapping.target.table)):
            return self._write_batch(mapped)

    def _write_batch(self, mapped: MappedBatch) -> MappedBatch:
        if self.dry_run:
            room = 20 - len(self.result.sample)
            if room > 0:
                self.result.sample.extend(dict(zip(self.mapper.columns, r, strict=False)) for r in mapped.rows[:room])
            if self.would_write is not None:
                self.would_write.note(self.mapping.target.table, self.target.schema_of(self.mapping.target.schema_),
                                      self.mapper.columns, mapped.rows)
            self.result.counts.rows_written += len(mapped.rows)    # would write: the target is not asked
        else:
            refused = self._write_rows(mapped)
            if refused:
                mapped = self._without(mapped, refused)
        self.result.counts.rows_rejected += len(mapped.rejects)
        return mapped

    def _tally(self, written: Written) -> None:
        """Add what a write did to the run's counts: rows written are the inserted and the updated."""
        self.result.counts.tally(written)

    def _write_rows(self, mapped: MappedBatch) -> dict[int, str]:
        """Write the batch; when the target refuses it for what a row holds (a value out of range, a
        character it cannot store, a constraint), split it until the refused rows are found. Returns
        their positions with the database's reason; every other row is written (and counted: a part
        the target refused was rolled back, so only the parts that committed count)."""
        # A loop over the parts still to write, not a recursive closure: a nested function that
        # calls itself is a reference cycle holding the batch until the cyclic collector runs (in
        # a full copy, several batches of memory).
        refused: dict[int, str] = {}
        parts = [(0, len(mapped.rows))]
        while parts:
            first, last = parts.pop()
            try:
                self._tally(self.target.write(self.upsert, mapped.rows[first:last], self.mapper.kinds))
            except sa.exc.DBAPIError as exc:
                if not self.target.dialect.is_row_error(exc) or self.target.dialect.is_transient(exc):
                    raise
                if last - first == 1:
                    refused[first] = f"the target refused the row: {_describe_error(exc)}"
                    continue
                middle = (first + last) // 2
                parts += [(middle, last), (first, middle)]   # the first half is written first
        return refused

    def _without(self, mapped: MappedBatch, refused: dict[int, str]) -> MappedBatch:
        """``mapped`` with the refused rows moved to its rejects."""
        keep = [i for i in range(len(mapped.rows)) if i not in refused]
        rejects = [*mapped.rejects, *(Reject(mapped.keys[i], None, reason, self.mapper.source_row(mapped.sources[i]))
                                      for i, reason in refused.items())]
        return replace(mapped, rows=[mapped.rows[i] for i in keep], keys=[mapped.keys[i] for i in keep],
                       sources=[mapped.sources[i] for i in keep], rejects=rejects)

    def _checkpoint(self, mapped: MappedBatch, written: Sequence[tuple[Any, ...]], watermark: Watermark | None) -> None:
        if self.dry_run:
            self.result.rejects.extend(mapped.rejects)
            return
        healed = [k for k in map(named_key, written) if k in self._pending] if self._pending else []
        self._pending.difference_update(healed)
        self.result.counts.rejects_resolved += len(healed)
        self.state.checkpoint(self.mapping.name, watermark, mapped.rejects, healed, self.run_id,
                              definition_hash=self._definition_hash)
        if mapped.rejects:
            for reject in mapped.rejects[:5]:
                logger.warning(_("mapping {name}: row {key} rejected: {reason}").format(
                    name=self.mapping.name, key=", ".join(map(str, reject.key)), reason=reject.reason))
            if len(mapped.rejects) > 5:
                logger.warning(_("mapping {name}: {count} more row(s) rejected in this batch (syncd rejects "
                                 "list)").format(name=self.mapping.name, count=len(mapped.rejects) - 5))

    def _retry_rejects(self, progress: Progress) -> Progress:
        """Re-read pending rejects by key, map them again, write those that now pass."""
        if not self.dry_run:
            pending = [decode_key(k) for k in self.state.pending_keys(self.mapping.name)]
            self._pending = set(pending)
            for keys in plan.chunks(pending):
                self._retry_reject_keys(keys)
        return replace(progress, phase="plan")

    def _retry_reject_keys(self, keys: Sequence[tuple[Any, ...]]) -> None:
        rows = self.source.fetch(plan.read_keys(self.mapping, keys))
        found = {named_key(tuple(row[i] for i in self.layout.key)) for row in rows}
        gone = [k for k in keys if k not in found]
        if gone:
            self.result.counts.rejects_gone += self.state.mark_rejects(self.mapping.name, gone, "gone")
            self._pending.difference_update(gone)
            logger.warning(_("mapping {name}: {count} rejected row(s) no longer exist in the source (or no longer "
                              "match 'where'); marked gone").format(name=self.mapping.name, count=len(gone)))
        if rows:
            # a row held back for its cursor stays held back until the cursor is fixed
            good, bad = self._bad_cursors(rows, first_cursor=True)
            mapped = self._map(good, KeyTracker(self.layout.key, self.layout.names, in_key_order=False))
            if bad:
                mapped = replace(mapped, rejects=[*mapped.rejects, *bad])
            refused = self._write_rows(mapped)
            if refused:
                mapped = self._without(mapped, refused)
            faults.crash_point("reject-retry")
            # Still failing: recorded again with the current reason (attempts + 1), not counted as new.
            self._checkpoint(mapped, [*mapped.keys, *mapped.superseded], None)


def _delta(counts: RunCounts, before: RunCounts, name: str) -> int:
    return int(getattr(counts, name) or 0) - int(getattr(before, name) or 0)


def _describe_error(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    if isinstance(exc, SyncdError):
        return str(exc)
    if isinstance(exc, sa.exc.StatementError):
        orig = exc.orig if exc.orig is not None else exc
        return f"{type(orig).__name__}: {str(orig).strip().splitlines()[0] if str(orig).strip() else ''}"
    return f"{type(exc).__name__}: {exc}"
