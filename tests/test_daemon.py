"""The daemon as systemd runs it: a real ``syncd run`` process on SQLite source and target files,
driven with signals; its sd_notify messages read from a socket of our own."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import pytest
import sqlalchemy as sa

from syncd import commands
from syncd.state import StateStore
from tests.scenario import Scenario, dp_record, src_record

REPO = Path(__file__).resolve().parent.parent


def build(tmp_path: Path, *, rows: int = 0, batch_size: int = 500, schedule: str = "1s",
          defaults: str = "", health: str = "") -> Scenario:
    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", f"sqlite:///{tmp_path / 'fep.db'}",
                 batch_size=batch_size)
    (tmp_path / "config.yaml").write_text(
        f'source: {{url: "sqlite:///{tmp_path / "county.db"}"}}\n'
        f'target: {{url: "sqlite:///{tmp_path / "fep.db"}"}}\n'
        f'state: {{url: "sqlite:///{tmp_path / "state.db"}"}}\n'
        "mappings: mappings\n"
        f"log: {{level: INFO}}\n"
        f"defaults: {{schedule: {schedule}, retries: 2, retry_wait: 0.05s, retry_wait_max: 0.2s{defaults}}}\n"
        + (f"health: {{{health}}}\n" if health else ""), encoding="utf-8")
    if rows:
        # four rows per second of cursor time: equal cursor values across batch boundaries
        s.insert({"id": i, "update_time": s.at(i // 4)} for i in range(1, rows + 1))
    return s


def syncd(s: Scenario, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syncd", "-c", str(s.dir / "config.yaml"), *args],
                          capture_output=True, text=True, cwd=REPO, timeout=120, **kwargs)


class Daemon:
    """``syncd run`` in the background, its log in a file."""

    def __init__(self, s: Scenario, *args: str, env: dict[str, str] | None = None):
        self.log_path = s.dir / f"daemon-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen([sys.executable, "-m", "syncd", "-c", str(s.dir / "config.yaml"), "run", *args],
                                     stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO,
                                     env={**os.environ, **(env or {})})

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def wait_log(self, text: str, timeout: float = 30.0, count: int = 1) -> None:
        wait_for(lambda: self.log.count(text) >= count or self.proc.poll() is not None, timeout,
                 f"{text!r} in the daemon's log")
        assert self.log.count(text) >= count, f"daemon exited {self.proc.returncode}:\n{self.log}"

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 30.0) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait()


@pytest.fixture
def daemons():
    started: list[Daemon] = []

    def start(s: Scenario, *args: str, **kwargs: Any) -> Daemon:
        d = Daemon(s, *args, **kwargs)
        started.append(d)
        return d
    yield start
    for d in started:
        d.kill()


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def watermark(s: Scenario):
    store = StateStore(sa.create_engine(f"sqlite:///{s.dir / 'state.db'}"))
    try:
        return store.watermark("record")
    finally:
        store.engine.dispose()


def target_ids(s: Scenario) -> list[str]:
    with s.target.connect() as conn:
        return list(conn.execute(sa.select(dp_record.c.id)).scalars())


def source_ids_up_to(s: Scenario, mark) -> set[str]:
    """The source rows a watermark says are in the target: a full copy in progress has done the
    keys up to its key (cursor up to its bound); a finished one every row up to its cursor."""
    t = src_record.c
    if mark.snapshot:
        covered = sa.and_(t.update_time <= mark.bound, t.id <= mark.key[0])
    elif not mark.key:
        covered = t.update_time <= mark.cursor
    else:
        covered = sa.or_(t.update_time < mark.cursor, sa.and_(t.update_time == mark.cursor, t.id <= mark.key[0]))
    with s.source.connect() as conn:
        return {str(r) for r in conn.execute(sa.select(t.id).where(covered)).scalars()}


class NotifySocket:
    """Stands in for systemd's notification socket."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="sdn", dir="/tmp")   # AF_UNIX paths are short
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.messages: list[str] = []

    def drain(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except (socket.timeout, BlockingIOError):
                return self.messages

    def wait(self, prefix: str, timeout: float = 30.0) -> str:
        return wait_for(lambda: next((m for m in self.drain() if m.startswith(prefix)), None), timeout,
                        f"sd_notify {prefix!r}")

    def close(self) -> None:
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.dir)


@pytest.fixture
def notify():
    sock = NotifySocket()
    yield sock
    sock.close()


# -- tests ---------------------------------------------------------------------------------

def test_sigterm_mid_sync_checkpoints_and_exits_0(tmp_path, daemons, notify):
    s = build(tmp_path, rows=20_000, batch_size=100, schedule="1h", defaults=", stop_timeout: 20s")
    d = daemons(s, env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000"})
    notify.wait("READY=1")
    wait_for(lambda: watermark(s) is not None and watermark(s).key[0] >= 2000, 30, "a few batches")
    d.signal(signal.SIGTERM)
    assert d.wait(30) == 0, d.log
    notify.wait("STOPPING=1")
    assert "WATCHDOG=1" in notify.drain()
    assert "ended early" in d.log
    mark = watermark(s)
    ids = target_ids(s)
    # stopped in the middle, at a checkpoint: the target holds exactly the rows up to the watermark
    assert 2000 <= len(ids) < 20_000, "the sync was not interrupted; make it longer"
    assert len(ids) == len(set(ids))
    assert set(ids) == source_ids_up_to(s, mark)
    last = commands.status(s.project())[0]
    assert last["last_status"] == "stopped"
    # the next run resumes from the checkpoint and finishes
    done = syncd(s, "run", "--once")
    assert done.returncode == 0, done.stdout + done.stderr
    assert s.actual() == s.expected()


def hold_target(s: Scenario):
    """A write lock on the target file: the daemon's next batch blocks inside its write."""
    import sqlite3

    conn = sqlite3.connect(s.dir / "fep.db", isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_stop_timeout_and_a_second_signal(tmp_path, daemons, notify):
    s = build(tmp_path, rows=1000, schedule="1h", defaults=", stop_timeout: 2s")
    blocker = hold_target(s)
    try:
        d = daemons(s, env={"NOTIFY_SOCKET": notify.path})
        notify.wait("READY=1")
        time.sleep(1.0)
        started = time.monotonic()
        d.signal(signal.SIGTERM)
        assert d.wait(20) == 1
        assert 1.5 < time.monotonic() - started < 10
        assert "did not reach a checkpoint within 2s" in d.log

        d = daemons(s, env={"NOTIFY_SOCKET": notify.path})
        d.wait_log("syncd daemon started")
        time.sleep(1.0)
        d.signal(signal.SIGTERM)
        time.sleep(0.5)
        assert d.proc.poll() is None, "a stop with a batch in flight waits for it"
        d.signal(signal.SIGTERM)
        assert d.wait(5) == 1
        assert "second stop signal" in d.log
    finally:
        blocker.rollback()
        blocker.close()
    assert syncd(s, "run", "--once").returncode == 0
    assert s.actual() == s.expected()


def test_status_reports_each_run(tmp_path, daemons, notify):
    s = build(tmp_path, rows=100, schedule="1s")
    d = daemons(s, env={"NOTIFY_SOCKET": notify.path})
    status = notify.wait("STATUS=last run")
    assert "1/1 mapping(s) ok, 100 row(s) written" in status
    # while the daemon runs, `syncd status` shows the next run and the lag
    row = wait_for(lambda: (r := commands.status(s.project())[0])["next_run"] and r, 10, "a published next run")
    assert row["lag"] == timedelta(0)
    shown = syncd(s, "status")
    assert "next run" in shown.stdout and "lag" in shown.stdout
    d.signal(signal.SIGINT)
    assert d.wait(30) == 0
    assert commands.status(s.project())[0]["next_run"] is None


def test_sighup_with_a_broken_mapping_keeps_running(tmp_path, daemons):
    s = build(tmp_path, rows=10, schedule="1s")
    d = daemons(s)
    d.wait_log("mapping record ok")
    good = (s.dir / "mappings" / "record.yaml").read_text(encoding="utf-8")
    (s.dir / "mappings" / "record.yaml").write_text(good.replace("cursor: update_time", "cursor: [oops"),
                                                     encoding="utf-8")
    d.signal(signal.SIGHUP)
    d.wait_log("reload refused")
    assert "record.yaml" in d.log
    # still syncing with the old mapping
    s.insert([{"id": 11, "update_time": s.at(100)}])
    wait_for(lambda: "11" in target_ids(s), 15, "row 11 synced after the refused reload")
    assert d.proc.poll() is None
    # a fixed mapping, with a new schedule, is taken on the next SIGHUP
    (s.dir / "mappings" / "record.yaml").write_text(good + "schedule: 2s\n", encoding="utf-8")
    d.signal(signal.SIGHUP)
    d.wait_log("reloaded: [2s] record")
    d.signal(signal.SIGTERM)
    assert d.wait(30) == 0


def test_a_failing_run_does_not_stop_the_daemon(tmp_path, daemons):
    s = build(tmp_path, rows=10, schedule="1s")
    with s.target.begin() as conn:
        conn.execute(sa.text("ALTER TABLE dp_record RENAME TO dp_record_away"))
    d = daemons(s)
    d.wait_log("mapping record failed", count=2)
    with s.target.begin() as conn:
        conn.execute(sa.text("ALTER TABLE dp_record_away RENAME TO dp_record"))
    d.wait_log("mapping record ok")
    assert s.actual() == s.expected()
    d.signal(signal.SIGTERM)
    assert d.wait(30) == 0


def test_daemon_refuses_to_start_beside_another(tmp_path, daemons):
    s = build(tmp_path, rows=10, schedule="1h")
    first = daemons(s)
    first.wait_log("syncd daemon started")
    second = syncd(s, "run")
    assert second.returncode == 3
    assert f"pid {first.proc.pid}" in second.stderr
    first.signal(signal.SIGTERM)
    assert first.wait(30) == 0


def test_health(tmp_path):
    s = build(tmp_path, rows=0, health="max_lag: 1h, max_rejects: 0")
    s.insert([{"id": 1, "update_time": s.at(0)}])
    ok, reason = commands.health(s.project())
    assert not ok and "never run" in reason
    assert syncd(s, "health").returncode == 1
    assert syncd(s, "run", "--once").returncode == 0
    result = syncd(s, "health")
    assert (result.returncode, result.stdout.count("\n")) == (0, 1), result.stdout + result.stderr
    assert result.stdout.startswith("ok:")
    # a row far ahead of the watermark, but still behind the source clock: lag over max_lag
    s.insert([{"id": 2, "update_time": s.at(2 * 3600 - 60)}])
    ok, reason = commands.health(s.project())
    assert not ok and "behind the newest source row" in reason
    assert syncd(s, "run", "--once").returncode == 0
    # a reject
    s.insert([{"id": 3, "update_time": s.at(2 * 3600 - 30), "jg": "什么"}])
    syncd(s, "run", "--once")
    ok, reason = commands.health(s.project())
    assert not ok and "1 pending reject(s)" in reason
    # a failed run
    with s.target.begin() as conn:
        conn.execute(sa.text("DROP TABLE dp_record"))
    syncd(s, "run", "--once")
    result = syncd(s, "health")
    assert result.returncode == 1 and "last run failed" in result.stdout


def test_soak_memory_stays_flat(tmp_path, daemons):
    """Ticks every second, busy (new rows) and idle in turn; CI runs it for longer (SYNCD_SOAK_SECONDS)."""
    seconds = int(os.environ.get("SYNCD_SOAK_SECONDS", "22"))
    s = build(tmp_path, rows=200, schedule="1s")
    d = daemons(s)

    def rss_kb() -> int:
        for line in Path(f"/proc/{d.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")
    next_id = 1000
    samples = []
    for second in range(seconds):
        if second % 2 == 0:
            s.insert({"id": next_id + i, "update_time": s.at(500 + second)} for i in range(20))
            next_id += 20
        time.sleep(1)
        samples.append(rss_kb())
    assert d.proc.poll() is None
    # Warm-up: the first quarter of the run (at least 5 ticks) fills the caches that a run builds
    # once (compiled statements, the journal's file handles, the allocator's arenas); after it the
    # resident size must stay flat, and in the last half it must not grow at all beyond noise.
    start = max(5, len(samples) // 4)
    warm = samples[start]
    growth = max(samples[start:]) - warm
    assert growth < 4 * 1024, f"RSS grew by {growth} kB after warm-up: {samples}"
    half = samples[len(samples) // 2:]
    assert max(half) - half[0] < 2 * 1024, f"RSS still growing in the second half: {samples}"
    wait_for(lambda: s.target_count() == 200 + (next_id - 1000), 10, "everything synced")
    runs = len(StateStore(sa.create_engine(f"sqlite:///{s.dir / 'state.db'}")).history(limit=100_000))
    assert runs >= seconds * 0.6, f"only {runs} runs in {seconds} s with a 1s schedule"
    d.signal(signal.SIGTERM)
    assert d.wait(30) == 0


def raw_watermark(s: Scenario) -> str | None:
    """The stored watermark, read without syncd's code (cheap enough to poll)."""
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{s.dir / 'state.db'}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return None
    try:
        row = conn.execute("SELECT watermark FROM syncd_watermark WHERE mapping = 'record'").fetchone()
        return row[0] if row else None
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()


def test_kill_9_at_random_moments_then_a_clean_run(tmp_path, daemons):
    rounds = int(os.environ.get("SYNCD_KILL_ROUNDS", "5"))
    total = 20_000
    s = build(tmp_path, rows=total, batch_size=500, schedule="1s")
    rng = random.Random(int(os.environ.get("SYNCD_KILL_SEED", "7")))
    interrupted = 0
    for round_ in range(rounds):
        before = raw_watermark(s)
        d = daemons(s)
        # kill at a random moment after the first checkpoint of this round: mid-batch, between
        # the target commit and the checkpoint, or after the round's work is done
        wait_for(lambda: raw_watermark(s) != before or d.proc.poll() is not None, 30, "a checkpoint")
        time.sleep(rng.uniform(0.0, 0.5))
        d.proc.send_signal(signal.SIGKILL)
        d.wait()
        mark = watermark(s)
        interrupted += mark is None or len(source_ids_up_to(s, mark)) < total
        # changes while syncd is down: a share of the rows moves past the watermark, so the next
        # round has a large sync to be killed in as well
        ids = rng.sample(range(1, total + 1), total // 3)
        s.update(ids, title=f"第{round_}轮", update_time=s.now())
    done = syncd(s, "run", "--once")
    assert done.returncode == 0, done.stdout + done.stderr
    ids = target_ids(s)
    assert len(ids) == len(set(ids)) == total
    assert s.actual() == s.expected()
    print(f"{interrupted} of {rounds} kills landed mid-sync")
    assert interrupted >= 1, "no kill landed in the middle of a sync"
