"""``python -m bench``: load one table, copy it every way, print and save the figures.

All phases use the same source rows in the same run, and each full copy starts from an empty
target table, so their ratios are comparable even on a noisy machine where the seconds are not.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import signal
import statistics
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
PHASES = ("raw", "raw_copy", "raw_copy_text", "raw_copy_direct", "raw_ordered", "pandas", "syncd_full",
          "syncd_staged", "syncd_incremental", "syncd_idle")
#: phases that only PostgreSQL has
POSTGRESQL_ONLY = ("raw_copy", "raw_copy_text", "raw_copy_direct")
DESCRIPTIONS = {
    "raw": "raw driver: streaming read + executemany upsert",
    "raw_copy": "raw driver (PostgreSQL): binary COPY into a typed temp table + INSERT ... SELECT ... ON CONFLICT "
                "per batch (syncd's target when the table holds rows)",
    "raw_copy_text": "raw driver (PostgreSQL): text COPY into a temp table + INSERT ... SELECT ... ON CONFLICT "
                     "per batch (syncd's target before binary COPY)",
    "raw_copy_direct": "raw driver (PostgreSQL): binary COPY straight into the empty target per batch (syncd's "
                       "first full copy)",
    "syncd_staged": "syncd run --once --full into a target holding one other row: every batch staged and merged",
    "raw_ordered": "raw driver, reading ORDER BY id (the key order of syncd's full copy)",
    "pandas": "pandas read_sql chunks + to_sql append (insert only)",
    "syncd_full": "syncd run --once --full",
    "syncd_incremental": "syncd run --once, 1 % of rows changed",
    "syncd_idle": "syncd run --once again, nothing changed (re-reads the 10 min look-back)",
}
#: what the project requires of syncd (docs/performance.md): full copy / reference method, whole process
TARGET_RATIO = {"sqlite": 0.6, "mariadb": 0.9, "postgresql": 0.9}
TARGET_INCREMENTAL_SHARE = 0.03
TARGET_RSS_MB = 120
#: the method syncd's full copy is compared with: the raw driver doing what syncd's target does
REFERENCE = {"sqlite": "raw", "mariadb": "raw", "postgresql": "raw_copy"}
#: the mapping the bench's project defines (write_syncd_project)
MAPPING = "hazard_check"


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
    p.add_argument("--repeat", type=int, default=1, help="run the full copies this many times, interleaved, "
                   "and report the medians (default %(default)s)")
    p.add_argument("--compare", action="append", default=[], metavar="LABEL=DIR",
                   help="also run syncd_full from another copy of this repository (a DIR holding syncd/ and "
                        "bench/, e.g. an older commit's tree) as phase syncd_full@LABEL, in the same rounds as the "
                        "others (repeatable)")
    p.add_argument("--out", type=Path, help="also write the figures as JSON to this file")
    p.add_argument("--cprofile", type=Path, help="profile syncd's full copy with cProfile into this directory "
                   "(slows that phase down: its seconds are then not comparable)")
    p.add_argument("--py-spy", type=Path, help="sample syncd's full copy with py-spy into this directory "
                   "(collapsed stacks; needs `pip install py-spy`)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (configs, logs, SQLite files)")
    args = p.parse_args(argv)
    if any("=" not in item for item in args.compare):
        p.error("--compare takes LABEL=DIR")
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
        kind = self.pair.kind
        spec = {**spec, "kind": kind, "source": self.pair.source, "target": self.pair.target,
                "source_params": databases.dbapi_params(kind, self.pair.source),
                "target_params": databases.dbapi_params(kind, self.pair.target),
                "result": f"{stem}.result.json"}
        command = [sys.executable, "-m", "bench.phase", f"{stem}.spec.json"]
        if profile and self.args.cprofile:
            self.args.cprofile.mkdir(parents=True, exist_ok=True)
            spec["cprofile"] = str(self.args.cprofile / f"{name}-{kind}-{self.args.rows}.prof")
        if profile and self.args.py_spy:
            self.args.py_spy.mkdir(parents=True, exist_ok=True)
            out = self.args.py_spy / f"{name}-{kind}-{self.args.rows}.txt"
            command = ["py-spy", "record", "--rate", "250", "--format", "raw", "--nonblocking",
                       "-o", str(out), "--", *command]
        Path(f"{stem}.spec.json").write_text(json.dumps(spec), encoding="utf-8")
        with open(f"{stem}.log", "wb") as output:
            # The whole process, spawn to exit: interpreter start-up and imports included. Its CPU
            # time (user + system, all threads) is the client's own work: unlike the seconds, it
            # hardly moves when other processes load the machine.
            cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = subprocess.run(command, cwd=spec.get("tree", REPO), stdout=output, stderr=subprocess.STDOUT)
            process_seconds = time.perf_counter() - started
            cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_seconds = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
        if done.returncode != 0:
            tail = Path(f"{stem}.log").read_text(encoding="utf-8", errors="replace")[-3000:]
            raise SystemExit(f"phase {name} failed (exit {done.returncode}):\n{tail}")
        result = json.loads(Path(f"{stem}.result.json").read_text(encoding="utf-8"))
        if spec["phase"] == "syncd":
            result.update(syncd_record(spec["config"], result.pop("seconds")))
        result["phase"] = name
        base, _, label = name.partition("@")
        result["description"] = DESCRIPTIONS.get(base, "raw driver, batch size sweep") + \
            (f" (the syncd in {spec['tree']})" if label else "")
        result["process_seconds"] = process_seconds
        result["cpu_seconds"] = cpu_seconds
        result["rows_per_s"] = result["rows"] / result["seconds"] if result["seconds"] > 0 else None
        result["process_rows_per_s"] = result["rows"] / process_seconds if process_seconds > 0 else None
        if profile and (self.args.cprofile or self.args.py_spy):
            result["profiled"] = True
        log(f"{name}: {result['rows']} rows in {result['seconds']:.2f} s (whole process {process_seconds:.2f} s, "
            f"CPU {cpu_seconds:.2f} s), peak RSS {result['maxrss_mb']:.0f} MB")
        return result


def syncd_record(config: Path | str, command_seconds: float) -> dict[str, Any]:
    """Rows and the run's own span from syncd's newest run record (written by the phase's process)."""
    from syncd import commands

    record = commands.history(commands.open_project(config), mapping=MAPPING, limit=1)[0]
    if record["status"] != "ok":
        raise SystemExit(f"syncd run {record['run_id']} ended {record['status']}: {record['error']}")
    span = (record["ended_at"] - record["started_at"]).total_seconds()
    return {"rows": record["rows_read"], "written": record["rows_written"], "rejected": record["rows_rejected"],
            "window": record["window"], "seconds": span, "command_seconds": round(command_seconds, 3)}


def compile_tree(tree: Path) -> None:
    """Byte-compile a tree's syncd/ and bench/ (quietly; a file that does not compile is the run's to report)."""
    import compileall

    for folder in ("syncd", "bench"):
        if (tree / folder).is_dir():
            compileall.compile_dir(str(tree / folder), quiet=2)


def write_syncd_project(workdir: Path, pair: databases.Pair, batch: int) -> Path:
    project = workdir / "syncd"
    (project / "mappings").mkdir(parents=True, exist_ok=True)
    (project / "config.yaml").write_text(textwrap.dedent(f"""\
        source: {{url: "{pair.source}"}}
        target: {{url: "{pair.target}"}}
        state: {{url: "sqlite:///{project / 'state.db'}"}}
        mappings: mappings
        defaults: {{retries: 0}}
        log: {{dir: logs}}
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


def sweep(runner: Runner) -> list[dict[str, Any]]:
    """The raw copy of a sample at each candidate batch size."""
    found = []
    args = runner.args
    sample = min(args.rows, args.sweep_rows)
    for size in (int(s) for s in args.sweep.split(",")):
        databases.recreate_target(runner.pair)
        result = runner.phase(f"sweep-{size}", {"phase": "raw", "batch": size, "limit": sample})
        found.append({"batch": size, "rows": result["rows"], "seconds": round(result["seconds"], 3),
                      "rows_per_s": round(result["rows_per_s"])})
    return found


def incremental(runner: Runner, config: Path) -> tuple[int, dict[str, Any]]:
    """Change 1 % of the source rows, run syncd once and check that every changed row arrived."""
    pair = runner.pair
    # A few seconds between the full copy and the change, so no changed row can share
    # the full copy's watermark second (MariaDB DATETIME has whole seconds).
    time.sleep(1.5)
    changed, stamp = databases.touch_one_percent(pair)
    result = runner.phase("syncd_incremental", {"phase": "syncd", "config": str(config), "full": False})
    mark = "?" if pair.kind == "sqlite" else "%s"
    arrived = databases.count(pair.target, dataset.TARGET_TABLE, f"WHERE update_date = {mark}", (stamp,))
    if arrived != changed:
        raise SystemExit(f"the incremental run brought {arrived} of {changed} changed rows")
    return changed, result


def reset_syncd_state(config: Path) -> None:
    """Forget earlier rounds' watermarks and run records: every syncd_full starts as a first run."""
    for name in ("state.db", "state.db.lock"):
        (config.parent / name).unlink(missing_ok=True)


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One phase's figures over its rounds: the median of each clock (the rows are the same in each)."""
    if len(runs) == 1:
        return runs[0]
    out = dict(runs[-1])
    for clock in ("seconds", "process_seconds", "cpu_seconds"):
        out[clock] = statistics.median(r[clock] for r in runs)
    out["rows_per_s"] = out["rows"] / out["seconds"]
    out["process_rows_per_s"] = out["rows"] / out["process_seconds"]
    out["maxrss_mb"] = max(r["maxrss_mb"] for r in runs)
    out["rounds"] = [{k: r[k] for k in ("seconds", "process_seconds", "cpu_seconds", "maxrss_mb")} for r in runs]
    return out


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
                report["sweep"] = sweep(runner)
                raw_batch = max(report["sweep"], key=lambda s: s["rows_per_s"])["batch"]
            batch = args.batch_size or raw_batch
            report["raw_batch_size"], report["batch_size"] = raw_batch, batch

            # The full copies, each from an empty target table, in rounds: with --repeat N every
            # method runs N times interleaved, so a burst of load from elsewhere on the machine
            # hits all of them alike, and the medians are reported.
            config = write_syncd_project(workdir, pair, batch)
            specs: dict[str, dict[str, Any]] = {
                "raw": {"phase": "raw", "batch": raw_batch},
                "raw_copy": {"phase": "raw_copy", "batch": raw_batch, "binary": True},
                "raw_copy_text": {"phase": "raw_copy", "batch": raw_batch},
                "raw_ordered": {"phase": "raw", "batch": raw_batch, "ordered": True},
                "pandas": {"phase": "pandas", "batch": batch},
                "raw_copy_direct": {"phase": "raw_copy", "batch": raw_batch, "direct": True},
                "syncd_full": {"phase": "syncd", "config": str(config), "full": True},
                "syncd_staged": {"phase": "syncd", "config": str(config), "full": True},
            }
            copies = [(name, spec) for name, spec in specs.items()
                      if name in chosen and (name not in POSTGRESQL_ONLY or pair.kind == "postgresql")]
            for label, tree in (item.split("=", 1) for item in args.compare):
                copies.append((f"syncd_full@{label}", {**specs["syncd_full"], "tree": str(Path(tree).resolve())}))
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in copies}
            # Each tree's byte code compiled first, as an installed wheel's is: a module changed
            # since its last compile (and never written back under PYTHONDONTWRITEBYTECODE) would
            # otherwise be compiled again in every process and counted in its start-up.
            for tree in {REPO, *(Path(spec["tree"]) for _, spec in copies if "tree" in spec)}:
                compile_tree(tree)
            for round_ in range(args.repeat):
                if args.repeat > 1:
                    log(f"round {round_ + 1} of {args.repeat}")
                for name, spec in copies:
                    databases.recreate_target(pair)
                    if spec["phase"] == "syncd":
                        reset_syncd_state(config)
                    if name == "syncd_staged":
                        # one row that is not the source's: the table is not empty, as on any run
                        # after the first, so syncd stages every batch
                        databases.add_other_row(pair)
                    runs[name].append(runner.phase(name, spec, profile=name == "syncd_full"))
                    expect_rows(pair.target, args.rows + (name == "syncd_staged"), name)
            results: list[dict[str, Any]] = [median_of(runs[name]) for name, _ in copies]
            if "syncd_incremental" in chosen:
                if "syncd_full" not in chosen:
                    raise SystemExit("syncd_incremental needs syncd_full before it")
                report["changed_rows"], result = incremental(runner, config)
                results.append(result)
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
    full, pandas = by.get("syncd_full"), by.get("pandas")
    reference = by.get(REFERENCE[kind])
    if full and full.get("profiled"):
        return [{"target": "(syncd full copy was profiled: no verdicts)", "met": None}]
    if full and reference:
        target = TARGET_RATIO[kind]
        for clock, label in (("process_rows_per_s", "whole process"), ("rows_per_s", "in process")):
            ratio = full[clock] / reference[clock]
            out.append({"target": f"syncd full copy >= {target}x {REFERENCE[kind]} ({label})",
                        "value": f"{ratio:.2f}x", "met": ratio >= target, "binding": clock == "process_rows_per_s"})
    staged = by.get("syncd_staged")
    if staged and reference:
        ratio = staged["process_rows_per_s"] / reference["process_rows_per_s"]
        out.append({"target": f"syncd full copy, staged, >= {TARGET_RATIO[kind]}x {REFERENCE[kind]} (whole process)",
                    "value": f"{ratio:.2f}x", "met": ratio >= TARGET_RATIO[kind], "binding": False})
    direct = by.get("raw_copy_direct")
    if full and direct:
        ratio = full["process_rows_per_s"] / direct["process_rows_per_s"]
        out.append({"target": "syncd full copy against raw_copy_direct, the same method (whole process, for "
                              "information)", "value": f"{ratio:.2f}x", "met": None, "binding": False})
    older = by.get("raw_copy_text")
    if full and older:
        # syncd's method before binary COPY: what the target was first stated against
        ratio = full["process_rows_per_s"] / older["process_rows_per_s"]
        out.append({"target": f"syncd full copy >= {TARGET_RATIO[kind]}x raw_copy_text (whole process)",
                    "value": f"{ratio:.2f}x", "met": ratio >= TARGET_RATIO[kind], "binding": False})
    if full and pandas:
        out.append({"target": "syncd full copy faster than pandas to_sql (whole process)",
                    "value": f"{full['process_rows_per_s'] / pandas['process_rows_per_s']:.2f}x pandas",
                    "met": full["process_rows_per_s"] > pandas["process_rows_per_s"]})
    incremental = by.get("syncd_incremental")
    if full and incremental:
        share = incremental["seconds"] / full["seconds"]
        out.append({"target": f"1 % incremental <= {TARGET_INCREMENTAL_SHARE:.0%} of the full copy's time "
                              "(in process)", "value": f"{share:.2%}", "met": share <= TARGET_INCREMENTAL_SHARE})
    syncd_rss = [r["maxrss_mb"] for r in results if r["phase"].startswith("syncd")]
    if syncd_rss:
        out.append({"target": f"syncd peak RSS <= {TARGET_RSS_MB} MB", "value": f"{max(syncd_rss):.0f} MB",
                    "met": max(syncd_rss) <= TARGET_RSS_MB})
    return out


def render(report: dict[str, Any]) -> str:
    lines = [f"{report['db']}, {report['rows']} rows; raw batch {report['raw_batch_size']}, "
             f"syncd/pandas batch {report['batch_size']}; source loaded in {report['load_seconds']} s",
             f"  command: {report['command']}"]
    for name, value in report["versions"].items():
        lines.append(f"  {name}: {value}")
    if report.get("sweep"):
        lines.append("  raw batch sweep: " + ", ".join(
            f"{s['batch']}: {s['rows_per_s']} rows/s" for s in report["sweep"]))
    by = {r["phase"]: r for r in report["phases"]}
    references = [name for name in ("raw", "raw_copy", "raw_copy_text") if name in by]

    def ratio(r: dict[str, Any], ref: str, clock: str) -> str:
        return f"{r[clock] / by[ref][clock]:.2f}" if r[clock] and by[ref][clock] else "-"

    header = ("phase", "rows", "s", "rows/s", *(f"x {ref}" for ref in references),
              "process s", "rows/s", *(f"x {ref}" for ref in references), "CPU s", "RSS MB")
    table = [header]
    for r in report["phases"]:
        table.append((r["phase"] + (" (profiled)" if r.get("profiled") else ""), str(r["rows"]),
                      f"{r['seconds']:.2f}", f"{r['rows_per_s']:.0f}" if r["rows_per_s"] else "-",
                      *(ratio(r, ref, "rows_per_s") for ref in references),
                      f"{r['process_seconds']:.2f}",
                      f"{r['process_rows_per_s']:.0f}" if r["process_rows_per_s"] else "-",
                      *(ratio(r, ref, "process_rows_per_s") for ref in references),
                      f"{r['cpu_seconds']:.2f}", f"{r['maxrss_mb']:.0f}"))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines.append("  s: in process, first connection to last commit (syncd: its run record); process s: spawn to "
                 "exit, start-up and imports included; CPU s: the process's user + system CPU")
    for i, row in enumerate(table):
        lines.append("  ".join(cell.ljust(w) if j == 0 else cell.rjust(w) for j, (cell, w) in
                               enumerate(zip(row, widths, strict=True))))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    for v in report.get("verdicts", []):
        state = "n/a" if v["met"] is None else "met" if v["met"] else "NOT met"
        extra = "" if v.get("binding", True) else " (for information)"
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
