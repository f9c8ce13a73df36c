"""File modes for what syncd writes, whatever the umask.

The state store holds the values of rejected rows (names, phone numbers of enterprises' staff),
so the state directory is the service user's alone; the logs are readable by the service's group,
which is where auditors are put (docs/operations.md).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

STATE_DIR = 0o700
STATE_FILE = 0o600
LOG_DIR = 0o750
LOG_FILE = 0o640


def restrict(target: int | Path, mode: int) -> None:
    """Set ``mode`` on an open descriptor or a path we own; a file of another user is left as it is
    (an operator may have set it up so on purpose)."""
    with contextlib.suppress(PermissionError):
        if isinstance(target, int):
            os.fchmod(target, mode)
        elif target.stat().st_uid == os.geteuid():
            os.chmod(target, mode)


def make_dir(path: Path, mode: int) -> None:
    """``path`` and its parents; the folder itself gets ``mode`` (its parents keep the umask's)."""
    path.mkdir(parents=True, exist_ok=True)
    restrict(path, mode)


def private_file(path: Path, mode: int = STATE_FILE) -> None:
    """Create ``path`` empty with ``mode`` if it is missing (so that a database that then opens it
    never had a wider mode), else narrow its mode to ``mode``."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, mode)
    try:
        restrict(fd, mode)
    finally:
        os.close(fd)


def opener(mode: int) -> Callable[[str, int], int]:
    """An ``open(..., opener=)`` that creates files with ``mode`` whatever the umask."""
    def open_with_mode(path: str, flags: int) -> int:
        fd = os.open(path, flags, mode)
        restrict(fd, mode)
        return fd
    return open_with_mode


def readable_by_others(path: Path) -> bool:
    """Whether users other than the owner and its group may read ``path``."""
    try:
        return bool(path.stat().st_mode & stat.S_IROTH)
    except OSError:
        return False
