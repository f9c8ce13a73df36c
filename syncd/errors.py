"""Errors, grouped by what the operator should do about them.

- ``ConfigError`` (and ``MappingError``): the files are wrong; nothing runs until they are fixed.
  Carries every problem found, each with file, line and where in the file.
- ``TransientSyncError``: the network or a lock got in the way; retried with backoff.
- ``DataError``: one row cannot be written as mapped; the row becomes a reject, the run goes on.
- ``FatalSyncError``: the run cannot go on (a missing table, a permission); it stops and says why.
- ``LockedError``: another syncd process holds the state store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from syncd.i18n import _


class SyncdError(Exception):
    """Base of every error syncd raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a config or mapping file."""

    file: str
    line: int | None
    where: str
    message: str

    def __str__(self) -> str:
        place = self.file if self.line is None else _("{file}, line {line}").format(file=self.file, line=self.line)
        where = f" [{self.where}]" if self.where else ""
        return f"{place}{where}: {self.message}"


class ConfigError(SyncdError):
    """Config or mapping files are invalid. ``problems`` lists all of them."""

    def __init__(self, problems: Iterable[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem("", None, "", problems)]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class MappingError(ConfigError):
    """A mapping file is invalid or does not fit the databases it names."""


class TransientSyncError(SyncdError):
    """A database error worth retrying (connection lost, timeout, deadlock, lock wait)."""


class FatalSyncError(SyncdError):
    """The run cannot continue; the message says why and what to do."""


class DataError(SyncdError):
    """A row that cannot be written as mapped. Becomes a reject; never stops a run."""

    def __init__(self, column: str | None, reason: str):
        self.column = column
        self.reason = reason
        super().__init__(f"{column}: {reason}" if column else reason)


class LockedError(SyncdError):
    """Another syncd process holds the lock on this state store."""


#: A reject reason longer than this is cut in its middle (where a long value sits), keeping how
#: it starts and how it ends (what to do), with a note of its full length.
MAX_REASON = 1000


def cut_reason(text: str, limit: int = MAX_REASON) -> str:
    """``text``, or its start and its end with a note of how long it was in between."""
    if len(text) <= limit:
        return text
    tail = limit // 4
    head = limit - tail
    return f"{text[:head]}… (cut: {len(text)} characters in all) …{text[-tail:]}"


def shown_value(value: Any) -> Any:
    """A value as a report of differences shows it: bytes by their length, long text cut."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(bytes(value))} bytes>"
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + "…"
    return value


def first_line(exc: BaseException) -> str:
    """The first line of an error as the driver worded it (not SQLAlchemy's wrapper around it)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__
