"""Running mappings: each chosen mapping once, in dependency order, one failure never stopping the rest."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlalchemy as sa
from loguru import logger

from syncd.engines import connect
from syncd.errors import SyncdError
from syncd.i18n import _
from syncd.mapping import TableMapping
from syncd.pacing import Pacing, choose
from syncd.parents import WouldWrite
from syncd.project import Project
from syncd.state import journal_settings
from syncd.sync import MappingResult, MappingRun, Mode, Observer, RetryPolicy, Stopped


def pacing_for(project: Project, mapping: TableMapping) -> Pacing:
    """A mapping's heavy-work pacing: its own heavy_hours and max_rows_per_second, else the defaults."""
    defaults = project.config.defaults
    return choose(mapping.spec.heavy_hours, mapping.spec.max_rows_per_second, defaults.heavy_hours,
                  defaults.max_rows_per_second)


def new_run_id(now: datetime) -> str:
    return f"{now.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


@dataclass
class RunReport:
    run_id: str
    results: list[MappingResult] = field(default_factory=list)

    @property
    def failed(self) -> list[MappingResult]:
        return [r for r in self.results if r.status == "failed"]


def run_once(project: Project, *, names: Sequence[str] = (), full: bool = False, dry_run: bool = False,
             observer: Observer | None = None, now: datetime | None = None,
             clock: Callable[[], datetime] | None = None) -> RunReport:
    """Run the chosen mappings (all by default) once, in dependency order.

    A failing mapping is recorded and reported; the others still run (a child whose parent
    failed holds its rows back as rejects until the parent arrives).
    """
    now = now or datetime.now(timezone.utc)
    report = RunReport(new_run_id(now))
    chosen = [m for m in project.mappings if (not names or m.name in names) and (names or m.spec.enabled)]
    for name in names:
        project.mapping(name)
    defaults = project.config.defaults
    policy = RetryPolicy(attempts=defaults.retries + 1, wait=defaults.retry_wait.total_seconds(),
                         wait_max=defaults.retry_wait_max.total_seconds())
    mode: Mode = "full" if full else "incremental"
    with connect(project.config) as c:
        if not dry_run:
            # The audit journal: every change below is journaled; first the files that changed
            # since the last run, then whole days past audit.retention.
            c.state.attach_journal(journal_settings(project.config, project.mappings))
            c.state.note_files(trigger="run")
            c.state.prune_journal()
        # A dry run writes nothing: the keys it would write count as present for the children's parent checks.
        would_write = WouldWrite(chosen, c.target) if dry_run else None
        for mapping in chosen:
            run = MappingRun(mapping, source=c.source, target=c.target, state=c.state, codes=project.codes,
                             run_id=report.run_id, now=now, tz=project.tz, mode=mode, dry_run=dry_run,
                             clock_offset=project.config.source.clock_offset, retry=policy, observer=observer,
                             is_transient=c.is_transient, prefetch=defaults.prefetch,
                             pacing=pacing_for(project, mapping), clock=clock, would_write=would_write)
            c.state.follow(mapping.name, run.result.counts)
            try:
                result = run.run()
                counts = result.counts
                # A run that found nothing to do says so at DEBUG: an idle daemon's log stays quiet.
                idle = not (counts.rows_read or counts.rows_written or counts.rows_rejected or counts.rejects_resolved
                            or counts.rejects_gone or result.warnings)
                logger.log("DEBUG" if idle else "INFO",
                           "mapping {} {}: read {}, inserted {}, updated {}, unchanged {}, rejected {}, rejects "
                           "resolved {}, in {:.2f}s; watermark {}", mapping.name, result.status, counts.rows_read,
                           _known(counts.inserted), _known(counts.updated), _known(counts.unchanged),
                           counts.rows_rejected, counts.rejects_resolved, result.seconds,
                           result.watermark_after.describe() if result.watermark_after else "none")
            except (SyncdError, sa.exc.SQLAlchemyError, OSError) as exc:
                result = run.result
                kind = "transient (retries exhausted)" if c.is_transient(exc) else "fatal"
                logger.error(_("mapping {name} failed ({kind}): {error}; the next run resumes from the last "
                                "checkpoint").format(name=mapping.name, kind=kind, error=result.error))
            except Stopped:
                raise   # the process is stopping: the run ended at a checkpoint, the caller says so
            except Exception:  # noqa: BLE001 - one mapping's failure never stops the others of its job
                result = run.result
                logger.exception(_("mapping {name} failed (unexpected error: {error}); the next run resumes from "
                                   "the last checkpoint; the details are in this log, please report them").format(
                    name=mapping.name, error=result.error))
            report.results.append(result)
    return report


def _known(count: int | None) -> int | str:
    return "-" if count is None else count
