"""One syncd per state store, held with flock: refusals, waiting, and no stale lock after kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from syncd import commands, lock
from syncd.errors import LockedError
from tests.test_daemon import REPO, build, syncd

HOLDER = textwrap.dedent("""\
    import sys, time
    from syncd import lock
    held = lock.acquire(sys.argv[1], purpose="test")
    print("held", flush=True)
    time.sleep(120)
    """)


def hold_in_subprocess(path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_lock_path_sits_beside_a_sqlite_state_store(tmp_path):
    s = build(tmp_path)
    config = s.project().config
    assert lock.lock_path(config) == tmp_path / "state.db.lock"
    assert lock.schedule_path(lock.lock_path(config)) == tmp_path / "state.db.schedule.json"
    s.dispose()


def test_second_acquire_refuses_naming_the_holder(tmp_path):
    path = tmp_path / "state.db.lock"
    with lock.acquire(path) as held:
        assert held.held
        with pytest.raises(LockedError) as caught:
            lock.acquire(path)
        message = str(caught.value)
        assert f"another syncd (pid {os.getpid()}, started " in message
        assert str(path) in message and "stop it or pass --wait" in message
        assert lock.is_locked(path)
    lock.acquire(path).release()


def test_a_lock_that_cannot_be_created_is_a_message_not_a_traceback(tmp_path):
    """A state folder that is a file (or that the service user may not write): the lock's folder
    or file cannot be made. The error names the file and what to check."""
    from syncd import engines
    from syncd.config import load_config
    from syncd.errors import FatalSyncError

    (tmp_path / "afile").write_text("", encoding="utf-8")
    with pytest.raises(FatalSyncError) as caught:
        lock.acquire(tmp_path / "afile" / "state.db.lock")
    assert str(tmp_path / "afile" / "state.db.lock") in str(caught.value)
    assert "may write there" in str(caught.value)

    s = build(tmp_path, rows=1)
    config = s.project().config
    moved = load_config(config.path).model_copy(update={"state": config.state.model_copy(
        update={"url": f"sqlite:///{tmp_path / 'afile' / 'state' / 'state.db'}"})})
    with pytest.raises(FatalSyncError) as caught:
        engines.open_state(moved)
    assert "cannot create or open it" in str(caught.value)
    s.dispose()


def test_run_once_exits_3_while_another_process_holds_the_lock(tmp_path):
    s = build(tmp_path, rows=10)
    holder = hold_in_subprocess(tmp_path / "state.db.lock")
    try:
        refused = syncd(s, "run", "--once")
        assert refused.returncode == 3, refused.stdout + refused.stderr
        assert f"pid {holder.pid}" in refused.stderr
        assert s.target_count() == 0
        started = time.monotonic()
        assert syncd(s, "run", "--once", "--wait", "1").returncode == 3
        assert time.monotonic() - started >= 1
    finally:
        holder.kill()
        holder.wait()
    s.dispose()


def test_kill_9_leaves_no_stale_lock(tmp_path):
    s = build(tmp_path, rows=10)
    holder = hold_in_subprocess(tmp_path / "state.db.lock")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    # the lock file is still there, with the dead holder's pid in it; the kernel dropped the flock
    assert (tmp_path / "state.db.lock").exists()
    assert not lock.is_locked(tmp_path / "state.db.lock")
    done = syncd(s, "run", "--once")
    assert done.returncode == 0, done.stdout + done.stderr
    assert s.actual() == s.expected()
    s.dispose()


def test_wait_takes_the_lock_once_it_is_released(tmp_path):
    s = build(tmp_path, rows=10)
    holder = hold_in_subprocess(tmp_path / "state.db.lock")
    threading.Timer(1.0, holder.kill).start()
    try:
        done = syncd(s, "run", "--once", "--wait")
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        holder.kill()
        holder.wait()
    assert s.actual() == s.expected()
    s.dispose()


def test_acquire_waits_at_most_the_given_time(tmp_path):
    path = tmp_path / "x.lock"
    with lock.acquire(path):
        started = time.monotonic()
        with pytest.raises(LockedError, match=r"waited 0.3s"):
            lock.acquire(path, 0.3)
        assert 0.25 < time.monotonic() - started < 2


def test_status_without_a_daemon_shows_no_next_run(tmp_path):
    s = build(tmp_path, rows=5)
    assert syncd(s, "run", "--once").returncode == 0
    row = commands.status(s.project())[0]
    assert row["next_run"] is None
    s.dispose()
