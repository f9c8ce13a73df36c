"""``syncd run`` without ``--once``: the mappings on their schedules until told to stop.

Threads: the main thread owns the signals and the life cycle (start, reload, stop); APScheduler's
thread decides when a job is due; one worker thread runs the syncs. One worker, because jobs
share the state store and the extranet link, and a child mapping in one job may need the parent
that another job writes: runs queue rather than overlap.

Signals: SIGTERM/SIGINT stop scheduling and let the batch in flight finish and checkpoint (the
run is cut at its next checkpoint through ``Observer.stop_requested``), then exit 0, or 1 if
that takes longer than ``defaults.stop_timeout``. A second SIGTERM/SIGINT exits at once: every
batch is an idempotent upsert, so the next start replays at most one batch. SIGHUP re-reads the
config and the mappings; if they are invalid the old ones stay in force and the log says why.

systemd (``Type=notify``): READY=1 once the config is valid and both databases answer, STATUS=
the last run's summary, WATCHDOG=1 from the scheduler while it runs jobs, STOPPING=1.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sdnotify
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from loguru import logger

from syncd import commands, engines, files, i18n, lock, schedule
from syncd.errors import ConfigError, SyncdError
from syncd.i18n import _
from syncd.sync import Observer, Stopped

# A run that could not start on time (the worker was busy with another job, the machine slept)
# still starts if it is at most this late; with coalesce, missed runs collapse into one.
MISFIRE_GRACE = timedelta(minutes=5)
# The extranet is often down when the machine boots: keep trying this long before giving up
# (systemd then restarts the service). Below TimeoutStartSec in systemd/syncd.service.
STARTUP_WAIT = timedelta(seconds=90)
STARTUP_RETRY = 5.0
#: How often the main thread publishes what the running mappings are doing, when that changed.
PUBLISH_EVERY = 2.0

EXIT_OK, EXIT_FAILED = 0, 1
ALERTS_JOB = "alerts"


class _Notifier:
    """sd_notify, or nothing outside systemd."""

    def __init__(self) -> None:
        self._notifier = sdnotify.SystemdNotifier() if os.environ.get("NOTIFY_SOCKET") else None

    def __call__(self, message: str) -> None:
        if self._notifier is not None:
            self._notifier.notify(message)


def watchdog_interval(env: dict[str, str] | os._Environ[str] = os.environ) -> float | None:
    """Seconds between WATCHDOG=1 pings: half of what systemd allows, or None when it asks for none."""
    usec = env.get("WATCHDOG_USEC")
    pid = env.get("WATCHDOG_PID")
    if not usec or (pid and pid.isdigit() and int(pid) != os.getpid()):
        return None
    try:
        return max(int(usec) / 2_000_000, 0.5)
    except ValueError:
        return None


def databases_answer(project: commands.Project) -> str | None:
    """None when source and target both answer ``SELECT 1``; else what went wrong."""
    for role, db in (("source", project.config.source), ("target", project.config.target)):
        problem = engines.answers(role, db)
        if problem is not None:
            return problem
    return None


def summarize(report: commands.RunReport, when: datetime) -> str:
    results = report.results
    ok = sum(1 for r in results if r.status == "ok")
    written = sum(r.counts.rows_written for r in results)
    rejected = sum(r.counts.rows_rejected for r in results)
    text = _("last run {when}: {ok}/{count} mapping(s) ok, {written} row(s) written, {rejected} rejected").format(
        when=f"{when.astimezone():%Y-%m-%d %H:%M:%S}", ok=ok, count=len(results), written=written, rejected=rejected)
    if report.failed:
        text += _("; failed: {names}").format(names=", ".join(r.mapping for r in report.failed))
    return text


class _StopObserver(Observer):
    """Ends runs at their next checkpoint once the daemon is stopping, and keeps what each running
    mapping is doing (since when, and since when its run started) for ``syncd health``."""

    def __init__(self, stopping: threading.Event, activity: Activity):
        self._stopping = stopping
        self._activity = activity

    def stop_requested(self) -> bool:
        return self._stopping.is_set()

    def activity(self, mapping: str, doing: str | None) -> None:
        self._activity.update(mapping, doing)


class Activity:
    """What each mapping's run is doing now; written by the run's thread, published by the main one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._now: dict[str, dict[str, str]] = {}
        self.changed = False

    def update(self, mapping: str, doing: str | None) -> None:
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._lock:
            if doing is None:
                self._now.pop(mapping, None)
            else:
                run = self._now.get(mapping)
                self._now[mapping] = {"doing": doing, "doing_since": now,
                                      "run_since": run["run_since"] if run else now}
            self.changed = True

    def end(self, mappings: Sequence[str]) -> None:
        with self._lock:
            for name in mappings:
                self._now.pop(name, None)
            self.changed = True

    def snapshot(self) -> dict[str, dict[str, str]]:
        with self._lock:
            self.changed = False
            return {name: dict(info) for name, info in self._now.items()}


class Daemon:
    def __init__(self, config_path: str | Path | None, project: commands.Project, names: Sequence[str] = ()):
        self.config_path = config_path
        self.project = project
        self.names = tuple(names)
        self.jobs = schedule.plan_jobs(project.config, project.mappings, names=self.names)
        self.reconcile = schedule.reconcile_job(project.config, project.mappings)
        self.notify = _Notifier()
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._reload = threading.Event()
        self._signals = 0
        self._busy = threading.Condition()
        self._running = 0
        self._status = _("no run yet")
        self.scheduler: BackgroundScheduler | None = None
        self.lock: lock.Lock | None = None
        self.activity = Activity()

    # -- signals (handlers only set flags: the main thread acts on them) -----------------
    def _on_stop(self, signum: int, frame: Any) -> None:
        self._signals += 1
        if self._signals > 1:
            os.write(2, b"syncd: second stop signal, exiting at once; the next start replays the last batch\n")
            os._exit(EXIT_FAILED)
        self.stopping.set()
        self._wake.set()

    def _on_hup(self, signum: int, frame: Any) -> None:
        self._reload.set()
        self._wake.set()

    def _install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)

    # -- life cycle ----------------------------------------------------------------------
    def serve(self, wait: bool | float = False) -> int:
        self._install_signals()
        self.lock = lock.acquire(lock.lock_path(self.project.config), wait, purpose="daemon")
        try:
            if not self._wait_for_databases():
                return EXIT_OK if self.stopping.is_set() else EXIT_FAILED
            self._start_scheduler()
            self.notify("READY=1")
            self.notify("STATUS=" + _("running; {status}").format(status=self._status))
            logger.info(_("syncd daemon started (pid {getpid}): {describe_jobs}").format(
                getpid=os.getpid(), describe_jobs=self._describe_jobs()))
            while not self.stopping.is_set():
                self._wake.wait(timeout=PUBLISH_EVERY)
                self._wake.clear()
                if self._reload.is_set():
                    self._reload.clear()
                    self._reload_project()
                if self.activity.changed:
                    self._publish()
            return self._stop()
        finally:
            self._unpublish()
            self.lock.release()

    def _wait_for_databases(self) -> bool:
        deadline = time.monotonic() + STARTUP_WAIT.total_seconds()
        ping = watchdog_interval()
        while not self.stopping.is_set():
            problem = databases_answer(self.project)
            if problem is None:
                return True
            if time.monotonic() >= deadline:
                logger.error(_("{problem}; gave up after {total_seconds:.0f}s").format(
                    problem=problem, total_seconds=STARTUP_WAIT.total_seconds()))
                return False
            logger.warning(_("{problem}; trying again in {startup_retry:.0f}s").format(
                problem=problem, startup_retry=STARTUP_RETRY))
            self.notify("STATUS=" + _("waiting for the databases: {problem}").format(problem=problem))
            if ping:
                self.notify("WATCHDOG=1")
            self._wake.wait(timeout=STARTUP_RETRY)
            self._wake.clear()
        return False

    def _start_scheduler(self) -> None:
        tz = self.project.tz
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1), "watchdog": ThreadPoolExecutor(max_workers=1),
                       ALERTS_JOB: ThreadPoolExecutor(max_workers=1)},
            job_defaults={"max_instances": 1, "coalesce": True,
                          "misfire_grace_time": int(MISFIRE_GRACE.total_seconds())},
            timezone=tz)
        now = datetime.now(tz)
        for job in self.jobs:
            self._add(scheduler, job, now)
        self._add_reconcile(scheduler)
        self._add_alerts(scheduler, now)
        interval = watchdog_interval()
        if interval:
            # Pinged by the scheduler thread itself (its own worker, so a long sync does not hold
            # it up): a scheduler that stops dispatching stops the pings and systemd restarts us.
            scheduler.add_job(self.notify, IntervalTrigger(seconds=interval, timezone=tz), args=("WATCHDOG=1",),
                              id="watchdog", executor="watchdog", next_run_time=now)
        scheduler.start()
        self.scheduler = scheduler
        self._publish()

    def _add(self, scheduler: BackgroundScheduler, job: schedule.Job, now: datetime) -> None:
        # An interval job runs right away at start (catching up after downtime); a cron job
        # keeps to its times, which an operator may have chosen to spare the link by day.
        first = now if job.is_interval else None
        kwargs: dict[str, Any] = {"next_run_time": first} if first else {}
        scheduler.add_job(self._run_job, job.trigger, args=(job.id, job.mappings), id=job.id,
                          name=f"{job.schedule}: {', '.join(job.mappings)}", replace_existing=True, **kwargs)

    def _add_reconcile(self, scheduler: BackgroundScheduler) -> None:
        """The reconcile job (``reconcile.schedule``): in the one worker, so it never overlaps a run."""
        job = self.reconcile
        if job is None:
            if scheduler.get_job(schedule.RECONCILE_JOB) is not None:
                scheduler.remove_job(schedule.RECONCILE_JOB)
            return
        what = "reconcile and repair" if self.project.config.reconcile.repair else "reconcile"
        scheduler.add_job(self._run_reconcile, job.trigger, id=job.id, name=f"{job.schedule}: {what}",
                          replace_existing=True)

    def _add_alerts(self, scheduler: BackgroundScheduler, now: datetime) -> None:
        """The alerts check (``alerts.every``): in a worker of its own, so that a run that hangs cannot
        hold up the alert about it, nor a slow mail server the runs; the first one at start."""
        config = self.project.config.alerts
        if not config.enabled:
            # once, to forget the incidents stored while alerts were configured
            scheduler.add_job(self._check_alerts, "date", run_date=now, id=ALERTS_JOB, name="alerts: forget incidents",
                              replace_existing=True, executor=ALERTS_JOB)
            return
        scheduler.add_job(self._check_alerts, IntervalTrigger(seconds=config.every.total_seconds(),
                                                              timezone=self.project.tz),
                          id=ALERTS_JOB, name=f"every {config.every}: alerts", replace_existing=True,
                          next_run_time=now, executor=ALERTS_JOB)

    def _check_alerts(self) -> None:
        if not self.stopping.is_set():
            commands.check_alerts(self.project)

    def _run_reconcile(self) -> None:
        job = self.reconcile
        if self.stopping.is_set() or job is None:
            return
        with self._busy:
            self._running += 1
        project = self.project
        repair = project.config.reconcile.repair
        try:
            results = commands.repair(project, names=job.mappings, repair=repair, locked=True,
                                      observer=_StopObserver(self.stopping, self.activity))
            for r in results:
                level = "WARNING" if r.status != "ok" else "INFO"
                logger.log(level, _("reconcile of {mapping} {status}: {what}").format(
                    mapping=r.mapping, status=_(r.status), what=r.describe()) + (
                    f"; {i18n.translate_stored(r.error)}" if r.error else ""))
        except Stopped as exc:
            logger.info(_("reconcile ended early: {exc}").format(exc=exc))
        except Exception:  # noqa: BLE001 - the daemon outlives a bug in one reconcile; the next one tries again
            logger.exception(_("reconcile failed unexpectedly; the next one starts afresh"))
        finally:
            self.activity.end(job.mappings)
            with self._busy:
                self._running -= 1
                self._busy.notify_all()
            if not self.stopping.is_set():
                self._publish()

    def _stop(self) -> int:
        self.notify("STOPPING=1")
        timeout = self.project.config.defaults.stop_timeout.total_seconds()
        logger.info(_("stopping: no new runs; waiting up to {timeout:.0f}s for the batch in flight").format(
            timeout=timeout))
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        deadline = time.monotonic() + timeout
        with self._busy:
            while self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    logger.error(_("the run in flight did not reach a checkpoint within {timeout:.0f}s "
                                   "(defaults.stop_timeout); exiting anyway: the next start replays the last "
                                   "batch").format(timeout=timeout))
                    self._unpublish()
                    os._exit(EXIT_FAILED)
                self._busy.wait(timeout=min(left, 1.0))
        logger.info(_("stopped"))
        return EXIT_OK

    # -- jobs ----------------------------------------------------------------------------
    def _run_job(self, job_id: str, names: tuple[str, ...]) -> None:
        if self.stopping.is_set():
            return
        with self._busy:
            self._running += 1
        try:
            self._sync(job_id, names)
        finally:
            self.activity.end(names)
            with self._busy:
                self._running -= 1
                self._busy.notify_all()
            if not self.stopping.is_set():
                self._publish()

    def _sync(self, job_id: str, names: tuple[str, ...]) -> None:
        project = self.project          # a reload while this runs takes effect from the next run
        started = datetime.now(timezone.utc)
        try:
            report = commands.run_once(project, names=names, observer=_StopObserver(self.stopping, self.activity))
        except Stopped as exc:
            logger.info(_("run of {names} ended early: {exc}").format(names=", ".join(names), exc=exc))
            return
        except Exception:  # noqa: BLE001 - the daemon outlives a bug in one run; the next run tries again
            logger.exception(_("run of {names} failed unexpectedly; the next run resumes from the last "
                               "checkpoint").format(names=", ".join(names)))
            self._status = _("last run {when}: failed unexpectedly (see the log)").format(
                when=f"{started.astimezone():%Y-%m-%d %H:%M:%S}")
        else:
            self._status = summarize(report, started)
        nxt = self._next_run()
        self.notify(f"STATUS={self._status}" + (_("; next {time}").format(time=f"{nxt.astimezone():%H:%M:%S}")
                                                 if nxt else ""))

    def _next_run(self) -> datetime | None:
        if self.scheduler is None:
            return None
        times = [j.next_run_time for j in self.scheduler.get_jobs()
                 if j.id not in ("watchdog", ALERTS_JOB) and j.next_run_time]
        return min(times) if times else None

    # -- reload --------------------------------------------------------------------------
    def _reload_project(self) -> None:
        logger.info(_("SIGHUP: reloading {value}").format(value=self.config_path or "the config"))
        try:
            project = commands.open_project(self.config_path, only=self.names)
            jobs = schedule.plan_jobs(project.config, project.mappings, names=self.names)
            reconcile = schedule.reconcile_job(project.config, project.mappings)
            if self.lock is not None and lock.lock_path(project.config) != self.lock.path:
                raise ConfigError(_("the state store moved to "
                                    "{parent}; restart syncd to use it")
                                  .format(parent=lock.lock_path(project.config).parent))
        except ConfigError as exc:
            for problem in exc.problems:
                logger.error(_("reload refused, still running the previous config: {problem}").format(problem=problem))
            self.notify("STATUS=" + _("reload refused (see the log); {status}").format(status=self._status))
            return
        except (SyncdError, OSError, ValueError) as exc:
            logger.error(_("reload refused, still running the previous config: {exc}").format(exc=exc))
            self.notify("STATUS=" + _("reload refused (see the log); {status}").format(status=self._status))
            return
        self.project = project
        self.reconcile = reconcile
        if self.scheduler is not None:
            self._add_reconcile(self.scheduler)
            self._add_alerts(self.scheduler, datetime.now(project.tz))
        try:
            commands.note_files(project, trigger="SIGHUP")
        except SyncdError as exc:
            logger.error(_("reload: the changed config or mapping files could not be recorded in the audit "
                            "journal: {exc}").format(exc=exc))
        self._reschedule(jobs)
        self._publish()
        logger.info(_("reloaded: {describe_jobs}").format(describe_jobs=self._describe_jobs()))
        self.notify("STATUS=" + _("reloaded; {status}").format(status=self._status))

    def _reschedule(self, jobs: list[schedule.Job]) -> None:
        assert self.scheduler is not None
        old = {j.id: j for j in self.jobs}
        now = datetime.now(self.project.tz)
        for job in jobs:
            before = old.pop(job.id, None)
            if before is None:
                self._add(self.scheduler, job, now)
            elif before.schedule != job.schedule:
                self.scheduler.reschedule_job(job.id, trigger=job.trigger)
                self.scheduler.modify_job(job.id, args=(job.id, job.mappings))
            elif before.mappings != job.mappings:
                # same schedule: keep its next run time, just run the new set of mappings
                self.scheduler.modify_job(job.id, args=(job.id, job.mappings))
        for gone in old:
            self.scheduler.remove_job(gone)
        self.jobs = jobs

    def _describe_jobs(self) -> str:
        text = "; ".join(f"[{j.schedule}] {', '.join(j.mappings)}" for j in self.jobs) or _("no mappings to run")
        if self.reconcile is not None:
            what = _("reconcile and repair") if self.project.config.reconcile.repair else _("reconcile")
            text += f"; [{self.reconcile.schedule}] {what} {', '.join(self.reconcile.mappings)}"
        return text

    # -- next run times for `syncd status` ------------------------------------------------
    def _publish(self) -> None:
        if self.scheduler is None or self.lock is None:
            return
        runs: dict[str, str | None] = {}
        for job in self.scheduler.get_jobs():
            if job.id == "watchdog" or not job.args:
                continue
            for name in job.args[1]:
                runs[name] = job.next_run_time.isoformat() if job.next_run_time else None
        path = lock.schedule_path(self.lock.path)
        temp = path.with_name(path.name + ".tmp")
        try:
            text = json.dumps({"pid": os.getpid(), "next_run": runs, "running": self.activity.snapshot()})
            with open(temp, "w", encoding="utf-8", opener=files.opener(files.LOG_FILE)) as stream:
                stream.write(text)
            os.replace(temp, path)
        except OSError as exc:
            logger.warning(_("cannot write {path}: {exc}").format(path=path, exc=exc))

    def _unpublish(self) -> None:
        if self.lock is not None:
            lock.schedule_path(self.lock.path).unlink(missing_ok=True)


def serve(config_path: str | Path | None, project: commands.Project, names: Sequence[str] = (),
          wait: bool | float = False) -> int:
    """Run the mappings on their schedules until SIGTERM/SIGINT; returns the exit code."""
    return Daemon(config_path, project, names).serve(wait=wait)
