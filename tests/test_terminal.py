"""What a person at a terminal sees: a progress bar per mapping on a terminal, none when the
output is piped or read by journald; tables that fit 80 columns without cutting a mapping name,
and piped output that is never cut."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from collections.abc import Callable
from pathlib import Path

import pytest

from syncd import commands
from syncd.sync import Observer
from tests.scenario import Scenario

REPO = Path(__file__).resolve().parent.parent
LONG_NAME = "hidden_danger_ledger_of_the_county_42"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def s(tmp_path: Path) -> Scenario:
    scenario = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", f"sqlite:///{tmp_path / 'fep.db'}",
                        batch_size=100)
    scenario.insert({"id": i, "update_time": scenario.at(i)} for i in range(1, 2001))
    yield scenario
    scenario.dispose()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "COLUMNS", "LINES")}
    return {**env, "TERM": "xterm-256color", "PYTHONPATH": str(REPO), **extra}


def on_terminal(s: Scenario, *args: str, columns: int = 100, **env: str) -> str:
    """``syncd ARGS`` with stdin, stdout and stderr on a pseudo-terminal ``columns`` wide; what it showed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, columns, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "syncd", "-c", str(s.dir / "config.yaml"), *args],
                            stdin=slave, stdout=slave, stderr=slave, env=_env(**env), cwd=s.dir)
    os.close(slave)
    shown = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:       # EIO: the terminal's other side closed
            break
        if not data:
            break
        shown.append(data)
    os.close(master)
    assert proc.wait(timeout=120) == 0, b"".join(shown).decode("utf-8", "replace")
    return b"".join(shown).decode("utf-8", "replace")


def piped(s: Scenario, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "syncd", "-c", str(s.dir / "config.yaml"), *args],
                          capture_output=True, text=True, env=_env(), cwd=s.dir, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_a_run_on_a_terminal_shows_a_bar_per_mapping(s):
    shown = _ANSI.sub("", on_terminal(s, "run", "--once"))
    assert "2000/2000" in shown and "rows/s" in shown
    assert re.search(r"record\s+━+\s+\d+/2000 ", shown)      # the bar with its total, from the count
    assert s.target_count() == 2000


def test_a_piped_run_shows_no_bar(s):
    proc = piped(s, "run", "--once")
    assert "rows/s" not in proc.stdout + proc.stderr and "/2000" not in proc.stdout + proc.stderr
    assert "2000" in proc.stdout          # the run's table


def test_no_bar_under_journald(s):
    shown = on_terminal(s, "run", "--once", JOURNAL_STREAM="8:12345")
    assert "rows/s" not in shown and "/2000" not in shown


def test_the_bar_total_is_a_count_of_the_full_copy_asked_for_only_by_the_display(s):
    """The first (full) run counts its copy once for the bar; an incremental run counts nothing:
    a COUNT(*) before every window would read the source twice."""
    class Counting(Observer):
        def __init__(self, count: bool) -> None:
            self.ask, self.counts, self.read = count, [], 0

        def reading(self, mapping: str, count: Callable[[], int | None]) -> None:
            if self.ask:
                self.counts.append(count())

        def rows_read(self, mapping: str, rows: int) -> None:
            self.read += rows

    first = Counting(True)
    commands.run_once(s.project(), observer=first)
    assert first.counts[0] == 2000 and first.read == 2000
    assert [c for c in first.counts[1:] if c is not None] == []      # the window after the copy: not counted
    s.insert({"id": i, "update_time": s.now()} for i in range(3001, 3011))
    second = Counting(True)
    [result] = commands.run_once(s.project(), observer=second).results
    assert second.counts and all(c is None for c in second.counts)
    assert second.read == result.counts.rows_read >= 10


def _long_named(s: Scenario) -> None:
    path = s.dir / "mappings" / "record.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("name: record", f"name: {LONG_NAME}"), encoding="utf-8")


def test_status_fits_80_columns_with_whole_mapping_names(s):
    _long_named(s)
    piped(s, "run", "--once")
    lines = _ANSI.sub("", on_terminal(s, "status", columns=80)).splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any(LONG_NAME in line for line in lines), "\n".join(lines)
    history = _ANSI.sub("", on_terminal(s, "history", columns=80)).splitlines()
    assert max(len(line) for line in history) <= 80 and any(LONG_NAME in line for line in history)


def test_piped_status_is_never_cut(s):
    _long_named(s)
    piped(s, "run", "--once")
    out = piped(s, "status").stdout
    [row] = [line for line in out.splitlines() if LONG_NAME in line]
    assert "2000" in row and "ok" in row and "…" not in out
    assert len(row) > 80
