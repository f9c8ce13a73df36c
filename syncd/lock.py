"""One syncd per state store: an exclusive ``flock`` on a file beside it.

Two processes syncing the same mappings would checkpoint over each other's watermarks. The
lock is ``flock`` on an open file because the kernel drops it when the holder dies, however
it dies: a ``kill -9`` or a power cut never leaves a stale lock to clean up by hand. The pid and
start time written into the file only serve the refusal message and ``syncd status``.

For a SQLite state store the lock is ``<state.db>.lock``; for a state store on a database
server it is ``syncd.lock`` in the state directory, which guards one machine only (see
docs/operations.md).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from syncd import dialects, files
from syncd.config import Config
from syncd.errors import FatalSyncError, LockedError
from syncd.i18n import N_, _

_POLL = 0.2
FILE_MODE = 0o600


def lock_path(config: Config) -> Path:
    url = config.state_url()
    db = dialects.get(url.get_backend_name()).database_file(url)
    if db is not None:
        return db.with_name(db.name + ".lock")
    return config.state_dir() / "syncd.lock"


def schedule_path(lock: Path) -> Path:
    """Where a running daemon publishes its next run times for ``syncd status``."""
    return lock.with_name(lock.name.removesuffix(".lock") + ".schedule.json")


class Lock:
    """A held lock; released by ``release()``, by leaving the ``with`` block, or by the process ending."""

    def __init__(self, path: Path, fd: int, started: datetime):
        self.path = path
        self._fd: int | None = fd
        self.started = started

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor drops the flock

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def holder(path: Path) -> dict[str, Any] | None:
    """What the lock file says about its holder (it may be stale: check ``is_locked``)."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if text.strip() else None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _describe(info: dict[str, Any] | None) -> str:
    if not info:
        return _("another syncd")
    started = info.get("started", "?")
    with contextlib.suppress(TypeError, ValueError):
        started = datetime.fromisoformat(started).astimezone().strftime("%Y-%m-%d %H:%M:%S %z")
    return _("another syncd (pid {pid}, started {started})").format(pid=info.get("pid", "?"), started=started)


def acquire(path: Path | str, wait: bool | float = False, *, purpose: str = "") -> Lock:
    """Take the lock; ``wait``: False tries once, True waits as long as it takes, a number waits
    that many seconds. Raises LockedError naming the holder when it cannot be had."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_CREAT without O_TRUNC: the holder's pid must survive a refused attempt to take the lock.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    except OSError as exc:
        raise FatalSyncError(N_("lock file {path}: cannot create or open it: {value}; check that its folder exists, "
                                "is a folder, and that the user syncd runs as may write there")
                             .format(path=path, value=exc.strerror or exc)) from None
    try:
        files.restrict(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    deadline = None if wait is True else time.monotonic() + (0 if wait is False else float(wait))
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if deadline is None else fcntl.LOCK_NB))
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                if deadline is None or time.monotonic() >= deadline:
                    waited = "" if wait is False else _(" (waited {seconds:g}s)").format(seconds=float(wait))
                    raise LockedError(_("{describe} holds {path}{waited}; stop it or pass --wait")
                                      .format(describe=_describe(holder(path)), path=path, waited=waited)) from None
                time.sleep(min(_POLL, max(0.0, deadline - time.monotonic())))
    except BaseException:
        os.close(fd)
        raise
    started = datetime.now(timezone.utc)
    info = json.dumps({"pid": os.getpid(), "started": started.isoformat(timespec="seconds"),
                       "purpose": purpose}) + "\n"
    os.ftruncate(fd, 0)
    os.pwrite(fd, info.encode("utf-8"), 0)
    return Lock(path, fd, started)


def is_locked(path: Path | str) -> bool:
    """Whether some process holds the lock now, without taking it (it could be taken between
    this answer and the caller acting on it; use only to inform)."""
    info = holder(Path(path))
    if not info or not isinstance(info.get("pid"), int):
        return False
    pid = info["pid"]
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _published(path: Path) -> dict[str, Any]:
    """What the daemon holding lock ``path`` published; empty when no daemon runs."""
    if not is_locked(path):
        return {}
    try:
        data = json.loads(schedule_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def published_next_runs(path: Path) -> dict[str, datetime | None]:
    """The next run of each mapping as the daemon holding lock ``path`` published it; empty when
    no daemon runs, since then nothing will run."""
    try:
        return {name: datetime.fromisoformat(when) if when else None
                for name, when in (_published(path).get("next_run") or {}).items()}
    except (ValueError, AttributeError, TypeError):
        return {}


@dataclass(frozen=True)
class Running:
    """A mapping whose run is under way in the daemon: what it does now, and since when."""

    doing: str
    doing_since: datetime
    run_since: datetime


def published_running(path: Path) -> dict[str, Running]:
    """The mappings the daemon holding lock ``path`` is running now, as it last published them."""
    found: dict[str, Running] = {}
    running = _published(path).get("running") or {}
    if not isinstance(running, dict):
        return found
    for name, info in running.items():
        try:
            found[name] = Running(str(info["doing"]), datetime.fromisoformat(info["doing_since"]),
                                  datetime.fromisoformat(info["run_since"]))
        except (KeyError, TypeError, ValueError):
            continue
    return found
