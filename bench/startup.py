"""Start-up time of commands: ``python -m bench.startup [--runs N] [--cwd DIR] -- COMMAND ...``.

Runs the commands one after the other, round after round (so a burst of load from elsewhere hits
all of them alike), and prints each one's median wall-clock seconds and median CPU seconds (user
+ system of the process). On a shared machine the wall clock of a start-up swings by 2x; its CPU
time, which is what the start-up costs when nothing else runs, hardly moves. A command is a shell
line; ``LABEL=DIR:`` in front of it runs it in DIR (e.g. ``before=/tmp/before:python -m syncd
--version``).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import time


def parse(item: str, cwd: str | None) -> tuple[str, str | None, str]:
    head, sep, command = item.partition(":")
    if sep and "=" in head and " " not in head:
        label, _, directory = head.partition("=")
        return label, directory, command
    return item, cwd, item


def measure(command: str, cwd: str | None) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, shell=True, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=15, help="rounds (default %(default)s)")
    p.add_argument("--warmup", type=int, default=2, help="unmeasured rounds first (default %(default)s)")
    p.add_argument("--cwd", help="directory to run the commands in (default: here)")
    p.add_argument("commands", nargs="+", help="shell command lines, optionally LABEL=DIR:COMMAND")
    args = p.parse_args(argv)
    commands = [parse(c, args.cwd) for c in args.commands]
    # Byte code compiled first, as an installed wheel's is (bench.cli.compile_tree): this tree's
    # and that of each directory a command runs in.
    from pathlib import Path

    from bench.cli import REPO, compile_tree

    for tree in {REPO, *(Path(cwd) for _, cwd, _ in commands if cwd)}:
        compile_tree(tree)
    walls: dict[str, list[float]] = {label: [] for label, _, _ in commands}
    cpus: dict[str, list[float]] = {label: [] for label, _, _ in commands}
    for round_ in range(args.warmup + args.runs):
        for label, cwd, command in commands:
            wall, cpu = measure(command, cwd)
            if round_ >= args.warmup:
                walls[label].append(wall)
                cpus[label].append(cpu)
    width = max(len(label) for label in walls)
    for label in walls:
        w, c = walls[label], cpus[label]
        print(f"{label:{width}}  wall median {statistics.median(w):.3f} s (min {min(w):.3f}, max {max(w):.3f})"
              f"  CPU median {statistics.median(c):.3f} s  ({len(w)} runs)")


if __name__ == "__main__":
    main()
