"""``python -m bench``: load one table, copy it every way, print and save the figures.

All phases use the same source rows in the same run, and each full copy starts from an empty
target table, so their ratios are comparable even on a noisy machine where the seconds are not.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import databases, dataset

REPO = Path(__file__).resolve().parent.parent

#: the raw driver's best batch size on the reference machine (docs/performance.md)
REFERENCE_BATCH = {"sqlite": 20_000, "mariadb": 5_000, "postgresql": 5_000}
PHASES = ("raw", "raw_ordered", "pandas", "syncd_full", "syncd_incremental", "syncd_idle")
DESCRIPTIONS = {
    "raw": "raw driver: streaming read + executemany upsert",
    "raw_ordered": "raw driver, reading ORDER BY update_time, id (as syncd does)",
    "pandas": "pandas read_sql chunks + to_sql append (insert only)",
    "syncd_full": "syncd run --full",
    "syncd_incremental": "syncd incremental, 1 % of rows changed",
    "syncd_idle": "syncd incremental again, nothing changed (re-reads the 10 min look-back)",
}
#: what the project requires of syncd (docs/performance.md)
TARGET_RATIO = 0.8
TARGET_INCREMENTAL_SHARE = 0.03
TARGET_RSS_MB = 200


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--db", required=True, choices=("sqlite", "mariadb", "postgresql"))
    p.add_argument("--rows", type=int, required=True, help="rows in the source table")
    p.add_argument("--batch-size", type=int, help="syncd's batch_size and pandas' chunksize "
                   "(default: the raw driver's best batch size, so all copies move the same batches)")
    p.add_argument("--raw-batch", type=int, help="the raw driver's batch size; without it the candidates "
                   "of --sweep are timed on a sample and the fastest is taken")
    p.add_argument("--sweep", default="1000,5000,20000", help="raw batch sizes to try (default %(default)s)")
    p.add_argument("--sweep-rows", type=int, default=50_000, help="sample size of the sweep (default %(default)s)")
    p.add_argument("--phases", default=",".join(PHASES), help=f"which phases to run (default: all: {','.join(PHASES)})")
    p.add_argument("--out", type=Path, help="also write the figures as JSON to this file")
    p.add_argument("--cprofile", type=Path, help="profile syncd's full copy with cProfile into this directory "
                   "(slows that phase down: its seconds are then not comparable)")
    p.add_argument("--py-spy", type=Path, help="sample syncd's full copy with py-spy into this directory "
                   "(collapsed stacks; needs `pip install py-spy`)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (configs, logs, SQLite files)")
    args = p.parse_args(argv)
    unknown = set(args.phases.split(",")) - set(PHASES)
    if unknown:
        p.error(f"unknown phase(s) {', '.join(sorted(unknown))}; choose from {', '.join(PHASES)}")
    if args.rows < 1:
        p.error("--rows must be at least 1")
    return args


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


class Runner:
    def __init__(self, args: argparse.Namespace, pair: databases.Pair, workdir: Path):
        self.args, self.pair, self.workdir = args, pair, workdir
        self.count = 0

    def phase(self, name: str, spec: dict[str, Any], profile: bool = False) -> dict[str, Any]:
        self.count += 1
        stem = self.workdir / f"{self.count:02d}-{name}"
        spec = {**spec, "kind": self.pair.kind, "source": self.pair.source, "target": self.pair.target,
                "result": f"{stem}.result.json"}
        command = [sys.executable, "-m", "bench.phase", f"{stem}.spec.json"]
        if profile and self.args.cprofile:
            self.args.cprofile.mkdir(parents=True, exist_ok=True)
            spec["cprofile"] = str(self.args.cprofile / f"{name}-{self.pair.kind}-{self.args.rows}.prof")
        if profile and self.args.py_spy:
            self.args.py_spy.mkdir(parents=True, exist_ok=True)
            out = self.args.py_spy / f"{name}-{self.pair.kind}-{self.args.rows}.txt"
            command = ["py-spy", "record", "--rate", "250", "--format", "raw", "--nonblocking",
                       "-o", str(out), "--", *command]
        Path(f"{stem}.spec.json").write_text(json.dumps(spec), encoding="utf-8")
        with open(f"{stem}.log", "wb") as output:
            done = subprocess.run(command, cwd=REPO, stdout=output, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            tail = Path(f"{stem}.log").read_text(encoding="utf-8", errors="replace")[-3000:]
            raise SystemExit(f"phase {name} failed (exit {done.returncode}):\n{tail}")
        result = json.loads(Path(f"{stem}.result.json").read_text(encoding="utf-8"))
        result["phase"] = name
        result["description"] = DESCRIPTIONS.get(name, "raw driver, batch size sweep")
        result["rows_per_s"] = result["rows"] / result["seconds"] if result["seconds"] > 0 else None
        if profile and (self.args.cprofile or self.args.py_spy):
            result["profiled"] = True
        log(f"{name}: {result['rows']} rows in {result['seconds']:.2f} s, peak RSS {result['maxrss_mb']:.0f} MB")
        return result


def write_syncd_project(workdir: Path, pair: databases.Pair, batch: int) -> Path:
    project = workdir / "syncd"
    (project / "mappings").mkdir(parents=True, exist_ok=True)
    (project / "config.yaml").write_text(textwrap.dedent(f"""\
        source: {{url: "{pair.source}"}}
        target: {{url: "{pair.target}"}}
        state: {{url: "sqlite:///{project / 'state.db'}"}}
        mappings: mappings
        defaults: {{retries: 0}}
        """), encoding="utf-8")
    status_map = ", ".join(f"{k}: \"{v}\"" for k, v in dataset.STATUS_CODES.items())
    (project / "mappings" / "hazard_check.yaml").write_text(textwrap.dedent(f"""\
        name: hazard_check
        source:
          table: {dataset.SOURCE_TABLE}
          key: [id]
          cursor: update_time
        target:
          table: {dataset.TARGET_TABLE}
          key: [id]
        batch_size: {batch}
        lag: 0s
        columns:
          id:           {{from: id}}
          company_code: {{from: company_code}}
          task_id:      {{from: task_id}}
          check_time:   {{from: check_time}}
          check_status: {{from: check_result, map: {{{status_map}}}}}
          remark:       {{from: remark}}
          checker:      {{from: checker}}
          danger_count: {{from: danger_count}}
          check_type:   {{from: check_type}}
          score:        {{from: score}}
          cost:         {{from: cost}}
          deleted:      {{from: del_flag}}
          create_date:  {{from: create_time}}
          update_date:  {{from: update_time}}
          version:      {{from: version}}
          sync_time:    {{value: now}}
        """), encoding="utf-8")
    return project / "config.yaml"


def versions(pair: databases.Pair) -> dict[str, str]:
    found = {"database": databases.server_version(pair.kind, pair.source),
             "python": f"{platform.python_implementation()} {platform.python_version()}",
             "platform": platform.platform(terse=True)}
    for package in ("SQLAlchemy", {"sqlite": None, "mariadb": "PyMySQL", "postgresql": "psycopg"}[pair.kind],
                    "pandas", "numpy"):
        if package:
            try:
                found[package] = metadata.version(package)
            except metadata.PackageNotFoundError:
                found[package] = "not installed"
    if pair.kind == "sqlite":
        import sqlite3

        found["sqlite3 library"] = sqlite3.sqlite_version
    if pair.kind == "postgresql":
        import psycopg

        found["libpq"] = str(psycopg.pq.version())
        found["psycopg implementation"] = psycopg.pq.__impl__
    return found


def syncd_revision() -> str:
    """The commit syncd was measured at, marked if syncd/ has uncommitted edits."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "syncd"], cwd=REPO, capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" + uncommitted changes in syncd/" if dirty else "")


def expect_rows(url: str, expected: int, phase: str) -> None:
    found = databases.count(url, dataset.TARGET_TABLE)
    if found != expected:
        raise SystemExit(f"after {phase} the target holds {found} rows, not {expected}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    chosen = args.phases.split(",")
    workdir = Path(tempfile.mkdtemp(prefix="syncd-bench-"))
    report: dict[str, Any] = {"db": args.db, "rows": args.rows,
                              "command": "python -m bench " + " ".join(sys.argv[1:]),
                              "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    try:
        with databases.fresh_pair(args.db, workdir) as pair:
            runner = Runner(args, pair, workdir)
            report["versions"] = versions(pair)
            report["versions"]["syncd"] = syncd_revision()
            databases.create_source(pair)
            log(f"loading {args.rows} rows into the {args.db} source ...")
            generator = dataset.Generator()
            report["load_seconds"] = round(databases.load_source(pair, args.rows, generator), 2)
            log(f"loaded in {report['load_seconds']} s")

            raw_batch = args.raw_batch
            if raw_batch is None:
                sweep = []
                sample = min(args.rows, args.sweep_rows)
                for size in (int(s) for s in args.sweep.split(",")):
                    databases.recreate_target(pair)
                    result = runner.phase(f"sweep-{size}", {"phase": "raw", "batch": size, "limit": sample})
                    sweep.append({"batch": size, "rows": result["rows"], "seconds": round(result["seconds"], 3),
                                  "rows_per_s": round(result["rows_per_s"])})
                report["sweep"] = sweep
                raw_batch = max(sweep, key=lambda s: s["rows_per_s"])["batch"]
            batch = args.batch_size or raw_batch
            report["raw_batch_size"], report["batch_size"] = raw_batch, batch

            results: list[dict[str, Any]] = []
            if "raw" in chosen:
                databases.recreate_target(pair)
                results.append(runner.phase("raw", {"phase": "raw", "batch": raw_batch}))
                expect_rows(pair.target, args.rows, "raw")
            if "raw_ordered" in chosen:
                databases.recreate_target(pair)
                results.append(runner.phase("raw_ordered", {"phase": "raw", "batch": raw_batch, "ordered": True}))
                expect_rows(pair.target, args.rows, "raw_ordered")
            if "pandas" in chosen:
                databases.recreate_target(pair)
                results.append(runner.phase("pandas", {"phase": "pandas", "batch": batch}))
                expect_rows(pair.target, args.rows, "pandas")
            config = write_syncd_project(workdir, pair, batch)
            if "syncd_full" in chosen:
                databases.recreate_target(pair)
                results.append(runner.phase("syncd_full", {"phase": "syncd", "config": str(config), "full": True},
                                            profile=True))
                expect_rows(pair.target, args.rows, "syncd_full")
            if "syncd_incremental" in chosen:
                if "syncd_full" not in chosen:
                    raise SystemExit("syncd_incremental needs syncd_full before it")
                # A few seconds between the full copy and the change, so no changed row can share
                # the full copy's watermark second (MariaDB DATETIME has whole seconds).
                time.sleep(1.5)
                changed, stamp = databases.touch_one_percent(pair)
                report["changed_rows"] = changed
                result = runner.phase("syncd_incremental", {"phase": "syncd", "config": str(config), "full": False})
                results.append(result)
                mark = "?" if pair.kind == "sqlite" else "%s"
                arrived = databases.count(pair.target, dataset.TARGET_TABLE, f"WHERE update_date = {mark}", (stamp,))
                if arrived != changed:
                    raise SystemExit(f"the incremental run brought {arrived} of {changed} changed rows")
            if "syncd_idle" in chosen and "syncd_full" in chosen:
                results.append(runner.phase("syncd_idle", {"phase": "syncd", "config": str(config), "full": False}))
            report["phases"] = results
            if syncd_revision() != report["versions"]["syncd"]:
                # The phases would not all have measured the same code.
                report["versions"]["syncd"] += f" (changed during the run: now {syncd_revision()})"
                log("warning: syncd changed while the benchmark ran; run it again")
            report["verdicts"] = verdicts(args.db, results)
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return report


def verdicts(kind: str, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by = {r["phase"]: r for r in results}
    out: list[dict[str, Any]] = []
    full, raw, pandas = by.get("syncd_full"), by.get("raw"), by.get("pandas")
    if full and full.get("profiled"):
        return [{"target": "(syncd full copy was profiled: no verdicts)", "met": None}]
    if full and raw:
        ratio = full["rows_per_s"] / raw["rows_per_s"]
        out.append({"target": f"syncd full copy >= {TARGET_RATIO}x raw driver", "value": f"{ratio:.2f}x",
                    "met": ratio >= TARGET_RATIO, "binding": kind != "sqlite"})
    if full and pandas:
        out.append({"target": "syncd full copy faster than pandas to_sql",
                    "value": f"{full['rows_per_s'] / pandas['rows_per_s']:.2f}x pandas",
                    "met": full["rows_per_s"] > pandas["rows_per_s"]})
    incremental = by.get("syncd_incremental")
    if full and incremental:
        share = incremental["seconds"] / full["seconds"]
        out.append({"target": f"1 % incremental <= {TARGET_INCREMENTAL_SHARE:.0%} of the full copy's time",
                    "value": f"{share:.2%}", "met": share <= TARGET_INCREMENTAL_SHARE})
    syncd_rss = [r["maxrss_mb"] for r in results if r["phase"].startswith("syncd")]
    if syncd_rss:
        out.append({"target": f"syncd peak RSS <= {TARGET_RSS_MB} MB", "value": f"{max(syncd_rss):.0f} MB",
                    "met": max(syncd_rss) <= TARGET_RSS_MB})
    return out


def render(report: dict[str, Any]) -> str:
    lines = [f"{report['db']}, {report['rows']} rows; raw batch {report['raw_batch_size']}, "
             f"syncd/pandas batch {report['batch_size']}; source loaded in {report['load_seconds']} s"]
    for name, value in report["versions"].items():
        lines.append(f"  {name}: {value}")
    if report.get("sweep"):
        lines.append("  raw batch sweep: " + ", ".join(
            f"{s['batch']}: {s['rows_per_s']} rows/s" for s in report["sweep"]))
    raw = next((r for r in report["phases"] if r["phase"] == "raw"), None)
    header = ("phase", "rows", "seconds", "rows/s", "x raw", "peak RSS MB", "in mapping s")
    table = [header]
    for r in report["phases"]:
        ratio = f"{r['rows_per_s'] / raw['rows_per_s']:.2f}" if raw and r["rows_per_s"] else "-"
        table.append((r["phase"] + (" (profiled)" if r.get("profiled") else ""), str(r["rows"]),
                      f"{r['seconds']:.2f}", f"{r['rows_per_s']:.0f}" if r["rows_per_s"] else "-", ratio,
                      f"{r['maxrss_mb']:.0f}",
                      f"{r['syncd_seconds']:.2f}" if "syncd_seconds" in r else ""))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for i, row in enumerate(table):
        lines.append("  ".join(cell.ljust(w) if j == 0 else cell.rjust(w) for j, (cell, w) in
                               enumerate(zip(row, widths))))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    for v in report.get("verdicts", []):
        state = "n/a" if v["met"] is None else "met" if v["met"] else "NOT met"
        extra = "" if v.get("binding", True) else " (not a target on SQLite)"
        lines.append(f"  {v['target']}: {v.get('value', '')} -> {state}{extra}")
    return "\n".join(lines)


def _stop(signum: int, frame: Any) -> None:
    # Unwind through the ``finally`` blocks, so a stopped run still drops its server databases.
    raise SystemExit(f"stopped by signal {signum}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    report = run(args)
    print(render(report))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
