"""File modes for what syncd writes, whatever the umask.

The state store holds the values of rejected rows (names, phone numbers of enterprises' staff),
so the state directory is the service user's alone; the logs are readable by the service's group,
which is where auditors are put (docs/operations.md).
"""

from __future__ import annotations

import contextlib
import os
import re
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


#: File systems a SQLite store must not keep its write-ahead log on: the log's index (the -shm
#: file) is shared memory that only processes of one machine share, and these file systems' locks
#: and memory maps are not those of a local disk (sqlite.org/wal.html). ``fuse.*`` counts too
#: (sshfs, glusterfs, s3fs), except ``fuseblk``, a local disk through FUSE (NTFS).
NETWORK_FILE_SYSTEMS = frozenset({"nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "ncpfs", "afs", "9p",
                                  "ceph", "glusterfs", "lustre", "gpfs", "fuse", "sshfs", "davfs"})


def _mount_field(text: str) -> str:
    """A field of /proc/mounts: spaces, tabs, newlines and backslashes come as octal escapes (\\040)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def mount_of(path: str, mounts: str) -> tuple[str, str] | None:
    """(mount point, file system type) of the mount holding the absolute, resolved ``path``, as the
    text of /proc/mounts lists them: the longest mount point that holds it, the later of two equal
    ones (mounted over the first). None when no line holds it."""
    found: tuple[str, str] | None = None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point, kind = _mount_field(fields[1]), fields[2]
        holds = path == point or path.startswith(point.rstrip("/") + "/")
        if holds and (found is None or len(point) >= len(found[0])):
            found = (point, kind)
    return found


def network_file_system(kind: str) -> bool:
    """Whether a file system of this type (as /proc/mounts names it) is a network or FUSE one."""
    return kind != "fuseblk" and (kind.split(".", 1)[0] in NETWORK_FILE_SYSTEMS or kind.startswith("fuse."))


def state_journal_mode(kind: str | None) -> str:
    """SQLite's journal mode for a state store on a file system of this type (None: unknown):
    the write-ahead log on a local disk, the rollback journal (DELETE) on a network file system."""
    return "DELETE" if kind is not None and network_file_system(kind) else "WAL"
