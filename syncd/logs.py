"""Log sinks (loguru), set up only by the CLI.

stderr in a form that suits journald (no timestamp of our own when ``JOURNAL_STREAM`` says
journald is reading: it stamps lines itself), a rotating file in the log directory, and the
standard-library loggers of APScheduler and SQLAlchemy routed into the same sinks. Every line
passes through ``redact``, so a password that found its way into a message (a URL in a driver
error, say) is masked before it is written.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from loguru import logger

from syncd import files

# ``://user:password@`` in a URL. User and password are bounded in length, so that the pattern
# stays linear in the length of the line however it is built (a 1 MB value in a reject reason).
_URL_PASSWORD = re.compile(r"(://[^:/@\s]{0,256}):[^:/@\s]{1,256}@")
#: A log line longer than this is cut, with a note of its full length.
MAX_LINE = 8000


class _Redactor:
    def __init__(self, secrets: Iterable[str]):
        self.secrets = sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        if "://" in text:
            text = _URL_PASSWORD.sub(r"\1:***@", text)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every ``secrets`` and every password in a URL masked, as in a log line."""
    return _Redactor(secrets)(text)


def cut(text: str, limit: int = MAX_LINE) -> str:
    """``text``, or its first ``limit`` characters and a note of how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… (cut: {len(text)} characters in all)"


class _InterceptHandler(logging.Handler):
    """Standard-library records -> loguru, keeping level and logger name."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(exception=record.exc_info, depth=6).log(level, "{}: {}", record.name, record.getMessage())


class _Stderr:
    """Whatever ``sys.stderr`` is when a line is written: a progress display on the terminal
    replaces it for a while so that log lines appear above its bars."""

    def write(self, text: str) -> None:
        sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


#: whether ``setup`` has run in this process
_set_up = False


def hide_values() -> None:
    """Before ``setup`` (a failure while the project loads), loguru's own handler would print the
    values of the variables in a traceback, a URL with its password among them: replace it by one
    that does not. After ``setup``, nothing to do."""
    if _set_up:
        return
    logger.remove()
    logger.add(_Stderr(), level="DEBUG", backtrace=False, diagnose=False)


def setup(*, level: str = "INFO", log_dir: Path | None = None, secrets: Iterable[str] = (),
          rotation: str = "50 MB", retention: str = "180 days") -> None:
    global _set_up
    _set_up = True
    redact = _Redactor(secrets)

    def patch(record: dict[str, Any]) -> None:
        # Redact first: a secret that straddled the cut would otherwise survive in part.
        record["message"] = cut(redact(record["message"]))
        if record["exception"] is not None:
            record["extra"]["redacted"] = True

    logger.remove()
    logger.configure(patcher=patch)  # type: ignore[arg-type]
    journald = bool(os.environ.get("JOURNAL_STREAM"))
    stderr_format = ("<level>{level: <7}</level> {message}" if journald else
                     "<green>{time:YYYY-MM-DD HH:mm:ss}</green> <level>{level: <7}</level> {message}")
    logger.add(_Stderr(), level=level, format=stderr_format, colorize=None if not journald else False,
               backtrace=False, diagnose=False)
    if log_dir is not None:
        # Readable by the service's group (auditors), by nobody else, whatever the umask.
        files.make_dir(log_dir, files.LOG_DIR)
        logger.add(log_dir / "syncd.log", level=level, rotation=rotation, retention=retention,
                   format="{time:YYYY-MM-DD HH:mm:ss.SSS ZZ} {level: <7} {process} {message}",
                   encoding="utf-8", enqueue=False, backtrace=False, diagnose=False,
                   opener=files.opener(files.LOG_FILE))
    logging.basicConfig(handlers=[_InterceptHandler()], level=0, force=True)
    # APScheduler's executors log every job start and finish at INFO; syncd logs each run itself.
    for name, lib_level in (("apscheduler", logging.INFO), ("apscheduler.executors", logging.WARNING),
                            ("sqlalchemy", logging.WARNING),
                            # INFO: the SQL (parameters hidden by the engines); DEBUG would add every row read.
                            ("sqlalchemy.engine", logging.INFO if level in ("DEBUG", "TRACE") else logging.WARNING)):
        logging.getLogger(name).setLevel(lib_level)
