"""Summarise py-spy's collapsed stacks (``--format raw``): ``python -m bench.stacks FILE [TOP]``.

Prints the share of samples spent in a few stages of a syncd run (inclusive), then the functions
with the most samples of their own. A flame graph answers the same question, but not in a
terminal or a review comment.
"""

from __future__ import annotations

import re
import sys
from collections import Counter

#: (stage, pattern matched against one frame "function (file:line)"); first match from the top wins
STAGES = (
    ("start-up: imports", re.compile(r"_call_with_frames_removed \(")),
    ("start-up: config, mappings, code lists", re.compile(r"open_project \(")),
    ("map rows (transform.RowMapper.map_batch)", re.compile(r"map_batch \(")),
    ("write: Target.write (driver binding, COPY, upsert)", re.compile(r"Target\.write \(|executemany \(")),
    ("checkpoint to the state store", re.compile(r"checkpoint \(")),
    ("read: Source.stream's prefetch thread", re.compile(r"_Reader\.run \(")),
    ("read: Source.stream (driver fetch, Row objects)", re.compile(r"\(syncd/source.py")),
    ("connect, reflect, probe (Target.describe, Source.probe, engines)",
     re.compile(r"describe \(|probe \(|create_engine \(|Target\.upsert \(")),
)
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]*):\d+\)$")


def load(path: str) -> list[tuple[list[str], int]]:
    stacks = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            frames, _, count = line.rpartition(" ")
            stacks.append((frames.split(";"), int(count)))
    return stacks


def short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    file = match["file"]
    for marker in ("site-packages/", "lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{match['func']} ({file})"


def summarise(path: str, top: int = 25) -> str:
    stacks = load(path)
    total = sum(c for _, c in stacks)
    stage_counts: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, count in stacks:
        stage = "other (connect, reflection, probe, idle)"
        for frame in frames:  # root first: the outermost matching stage owns the sample
            hit = next((name for name, pattern in STAGES if pattern.search(frame)), None)
            if hit:
                stage = hit
                break
        stage_counts[stage] += count
        own[short(frames[-1])] += count
    lines = [f"{path}: {total} samples"]
    for name, count in stage_counts.most_common():
        lines.append(f"  {count / total:6.1%}  {name}")
    lines.append(f"  top {top} functions by own samples:")
    for name, count in own.most_common(top):
        lines.append(f"  {count / total:6.1%}  {name}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarise(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 25))
