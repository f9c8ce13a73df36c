"""Mutation checks: do the tests catch the bugs that matter? (docs/testing.md)

Two parts, each run in a temporary ``git worktree`` of HEAD, never in the checkout itself:

``--tool``     mutmut over the pure core (``[tool.mutmut]`` in pyproject.toml) with the fast tests,
               which need no database server. Fails below ``--min-score`` (80 %) of its mutants
               killed. Survivors, with their diffs, go to ``mutation-tool-survivors.txt`` in the
               report folder.
``--curated``  the hand-written one-line bugs of scripts/mutations.yaml, each run against the
               real-server tests it names. Every one must be killed; one whose original text is
               no longer in its file is "stale" and fails the check, so the list follows the code.

``--check`` only looks for stale entries of the list in the checkout (no worktree, no tests).
``--include PATH`` copies a file of the checkout over the worktree's (uncommitted tests, say).
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
MUTATIONS = REPO / "scripts" / "mutations.yaml"
SERVER_VARS = ("SYNCD_TEST_MARIADB_URL", "SYNCD_TEST_POSTGRESQL_URL")
#: mutmut's exit codes of a mutant's test run, as mutmut itself classifies them
KILLED_CODES = {1, 3, 37, 36, -24, 24, 152, 255}     # failed, pytest error, type check, timeouts
NO_TESTS_CODES = {5, 33}
SKIPPED_CODES = {34}


def log(message: str) -> None:
    print(f"mutation: {message}", file=sys.stderr, flush=True)


# -- the worktree ------------------------------------------------------------------------------
@contextlib.contextmanager
def worktree(includes: list[str], keep: bool) -> Iterator[Path]:
    """A detached worktree of HEAD under the temp directory, removed again afterwards."""
    base = Path(tempfile.mkdtemp(prefix="syncd-mutation."))
    tree = base / "tree"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--quiet", "--detach", str(tree), "HEAD"], check=True)
    head = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    log(f"worktree of HEAD ({head}) in {tree}")
    try:
        for name in includes:
            source = REPO / name
            if not source.is_file():
                raise SystemExit(f"mutation: --include {name}: no such file in {REPO}")
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tree / name)
            log(f"included {name} from the checkout")
        yield tree
    finally:
        if keep:
            log(f"kept {tree} (remove it with: git worktree remove --force {tree})")
        else:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=False)
            shutil.rmtree(base, ignore_errors=True)


def run_group(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float, output: Any) -> int | None:
    """Run ``cmd`` in its own process group; None when it ran past ``timeout`` (the group is killed)."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return None
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise


# -- the tool: mutmut over the pure core -------------------------------------------------------
def ensure_mutmut(python: str) -> None:
    if subprocess.run([python, "-c", "import mutmut"], capture_output=True).returncode == 0:
        return
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    wanted = [r.strip() for r in parser.get("options.extras_require", "mutation").splitlines() if r.strip()]
    if os.environ.get("SYNCD_TEST_NO_INSTALL") == "1":
        raise SystemExit(f"mutation: mutmut is not installed: pip install {' '.join(wanted)} (the 'mutation' extra)")
    log(f"installing {' '.join(wanted)} (setup.cfg, extra 'mutation')")
    subprocess.run([python, "-m", "pip", "install", "-q", *wanted], check=True)


@dataclass
class ToolResult:
    counts: dict[str, int] = field(default_factory=dict)
    by_file: dict[str, dict[str, int]] = field(default_factory=dict)
    survivors: list[str] = field(default_factory=list)
    no_tests: list[str] = field(default_factory=list)

    @property
    def scored(self) -> int:
        return sum(n for status, n in self.counts.items() if status != "skipped")

    @property
    def score(self) -> float:
        return self.counts.get("killed", 0) / self.scored if self.scored else 0.0


def classify(code: int | None) -> str:
    if code is None:
        return "not checked"
    if code in KILLED_CODES:
        return "killed"
    if code == 0:
        return "survived"
    if code in NO_TESTS_CODES:
        return "no tests"
    if code in SKIPPED_CODES:
        return "skipped"
    return "suspicious"


def tool_results(tree: Path) -> ToolResult:
    result = ToolResult()
    for meta in sorted((tree / "mutants").rglob("*.py.meta")):
        source = str(meta.relative_to(tree / "mutants")).removesuffix(".meta")
        per_file = result.by_file.setdefault(source, {})
        for name, code in json.loads(meta.read_text(encoding="utf-8")).get("exit_code_by_key", {}).items():
            status = classify(code)
            result.counts[status] = result.counts.get(status, 0) + 1
            per_file[status] = per_file.get(status, 0) + 1
            if status in ("survived", "suspicious", "not checked"):
                result.survivors.append(name)
            elif status == "no tests":
                result.no_tests.append(name)
    return result


#: mutmut's own `show`, for many mutants in one process (one `mutmut show` each takes a second)
_SHOW = """
import sys
from mutmut.mutation.diff_apply import find_mutant, get_diff_for_mutant
for name in sys.stdin.read().split():
    print(f"# {name}")
    print(get_diff_for_mutant(name, path=find_mutant(name).path))
"""


def write_diffs(python: str, tree: Path, env: dict[str, str], names: list[str], out: Path) -> None:
    """The diff of each mutant in ``names`` into ``out``."""
    with open(out, "w", encoding="utf-8") as stream:
        done = subprocess.run([python, "-c", _SHOW], cwd=tree, env=env, input="\n".join(names), text=True,
                              stdout=stream, stderr=subprocess.PIPE)
    if done.returncode != 0:    # another mutmut version: one `mutmut show` per mutant
        with open(out, "w", encoding="utf-8") as stream:
            for name in names:
                shown = subprocess.run([python, "-m", "mutmut", "show", name], cwd=tree, env=env,
                                       capture_output=True, text=True)
                stream.write(shown.stdout + "\n")


def run_tool(tree: Path, args: argparse.Namespace, reports: Path) -> bool:
    python = args.python
    ensure_mutmut(python)
    env = {k: v for k, v in os.environ.items() if k not in (*SERVER_VARS, "CI", "PYTHONPATH")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # mutmut copies the package's files but not the links in syncd/data (to sql/, mappings/, ...):
    # put them in place first, so the copied package finds its data in the copied tree.
    (tree / "mutants" / "syncd").mkdir(parents=True, exist_ok=True)
    shutil.copytree(tree / "syncd" / "data", tree / "mutants" / "syncd" / "data", symlinks=True)
    out = reports / "mutation-tool.log"
    log(f"mutmut over the pure core with the fast tests, {args.jobs} at a time; its output: {out}")
    started = time.monotonic()
    with open(out, "w", encoding="utf-8") as stream:
        code = run_group([python, "-m", "mutmut", "run", "--max-children", str(args.jobs)], cwd=tree, env=env,
                         timeout=args.tool_timeout, output=stream)
    seconds = time.monotonic() - started
    if code is None:
        log(f"mutmut ran past {args.tool_timeout:.0f}s and was stopped; the score counts what it checked")
    elif code != 0:
        log(f"mutmut exited with {code}; see {out}")
        return False
    result = tool_results(tree)
    survivors = reports / "mutation-tool-survivors.txt"
    write_diffs(python, tree, env, result.survivors + result.no_tests, survivors)
    print("\nmutmut over the pure core (fast tests only):")
    for source, per_file in sorted(result.by_file.items()):
        total = sum(n for s, n in per_file.items() if s != "skipped")
        killed = per_file.get("killed", 0)
        print(f"  {source:24} {killed:5} killed of {total:5}  ({100 * killed / max(total, 1):5.1f} %)  "
              + ", ".join(f"{s} {n}" for s, n in sorted(per_file.items()) if s != "killed"))
    score = result.score
    print(f"tool score: {result.counts.get('killed', 0)} of {result.scored} mutants killed = {100 * score:.1f} % "
          f"(survived {result.counts.get('survived', 0)}, no tests {result.counts.get('no tests', 0)}, "
          f"other {result.scored - result.counts.get('killed', 0) - result.counts.get('survived', 0) - result.counts.get('no tests', 0)}) "  # noqa: E501
          f"in {seconds / 60:.1f} min on {date.today()}; survivors with their diffs: {survivors}")
    if score < args.min_score:
        log(f"the tool's score {100 * score:.1f} % is below {100 * args.min_score:.0f} %")
        return False
    return True


# -- the curated list --------------------------------------------------------------------------
@dataclass(frozen=True)
class Mutation:
    id: str
    file: str
    original: str
    replacement: str
    tests: tuple[str, ...]
    promise: str


def load_mutations(path: Path = MUTATIONS) -> list[Mutation]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    found = []
    for entry in data["mutations"]:
        missing = {"id", "file", "original", "replacement", "tests", "promise"} - set(entry)
        if missing:
            raise SystemExit(f"mutation: {path}: entry {entry.get('id', '?')!r} lacks {', '.join(sorted(missing))}")
        tests = entry["tests"]
        found.append(Mutation(entry["id"], entry["file"], entry["original"], entry["replacement"],
                              tuple(tests.split() if isinstance(tests, str) else tests), entry["promise"]))
    ids = [m.id for m in found]
    doubled = sorted({i for i in ids if ids.count(i) > 1})
    if doubled:
        raise SystemExit(f"mutation: {path}: ids used twice: {', '.join(doubled)}")
    return found


def stale_reason(text: str | None, mutation: Mutation) -> str | None:
    if text is None:
        return f"{mutation.file} does not exist"
    count = text.count(mutation.original)
    if count == 0:
        return f"its original text is no longer in {mutation.file}"
    if count > 1:
        return f"its original text is in {mutation.file} {count} times; make it unique"
    return None


def read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def check_only(mutations: list[Mutation]) -> bool:
    stale = [(m, reason) for m in mutations if (reason := stale_reason(read(REPO / m.file), m))]
    for m, reason in stale:
        print(f"  STALE     {m.id}: {reason}")
    print(f"curated list: {len(mutations) - len(stale)} current, {len(stale)} stale (checked against {REPO})")
    return not stale


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    if all(env.get(v) for v in SERVER_VARS):
        return env
    status = subprocess.run(["bash", str(REPO / "scripts" / "dbservers.sh"), "status"], capture_output=True)
    if status.returncode != 0:
        raise SystemExit("mutation: the curated mutations need the test servers: bash scripts/dbservers.sh start "
                         "(or set SYNCD_TEST_MARIADB_URL and SYNCD_TEST_POSTGRESQL_URL)")
    lines = subprocess.run(["bash", str(REPO / "scripts" / "dbservers.sh"), "env"], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    for line in lines:
        name, _, value = line.removeprefix("export ").partition("=")
        if name in SERVER_VARS:
            env[name] = value
    return env


def run_curated(tree: Path, mutations: list[Mutation], args: argparse.Namespace, reports: Path) -> bool:
    env = server_env()
    env["PYTHONPATH"] = str(tree)
    env["PYTHONDONTWRITEBYTECODE"] = "1"    # no stale bytecode of a mutant after its file is restored
    out = reports / "mutation-curated.log"
    outcome: dict[str, str] = {}
    started = time.monotonic()
    print(f"\ncurated mutations ({len(mutations)}), each against its real-server tests; pytest output: {out}")
    with open(out, "w", encoding="utf-8") as stream:
        if args.baseline:
            every = sorted({t for m in mutations for t in m.tests if not t.startswith("-")})
            stream.write(f"==== baseline: {' '.join(every)}\n")
            stream.flush()
            code = run_group([args.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *every], cwd=tree,
                             env=env, timeout=args.test_timeout * 4, output=stream)
            if code != 0:
                log(f"the listed tests fail without any mutation (exit {code}); see {out}")
                return False
        for m in mutations:
            path = tree / m.file
            text = read(path)
            reason = stale_reason(text, m)
            if reason or text is None:
                outcome[m.id] = "stale"
                print(f"  STALE     {m.id:34} {reason}", flush=True)
                continue
            path.write_text(text.replace(m.original, m.replacement), encoding="utf-8")
            t0 = time.monotonic()
            try:
                stream.write(f"\n==== {m.id}: {m.file}: {' '.join(m.tests)}\n")
                stream.flush()
                code = run_group([args.python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *m.tests],
                                 cwd=tree, env=env, timeout=args.test_timeout, output=stream)
            finally:
                path.write_text(text, encoding="utf-8")
            seconds = time.monotonic() - t0
            if code == 1:
                status = "killed"
            elif code is None:
                status = "killed"   # hung until the time limit: CI's per-test timeout fails it too
            elif code == 0:
                status = "survived"
            else:
                status = f"error (pytest exit {code})"
            outcome[m.id] = status
            note = " (timed out)" if code is None else ""
            print(f"  {status.upper() if status in ('killed', 'survived') else status:9} {m.id:34} "
                  f"{seconds:6.1f}s{note}  {m.promise}", flush=True)
    killed = sum(1 for s in outcome.values() if s == "killed")
    survived = sum(1 for s in outcome.values() if s == "survived")
    stale = sum(1 for s in outcome.values() if s == "stale")
    errors = len(outcome) - killed - survived - stale
    print(f"curated: {killed} killed, {survived} survived, {stale} stale, {errors} errors, of {len(outcome)} "
          f"({100 * killed / max(len(outcome), 1):.0f} % killed) in {(time.monotonic() - started) / 60:.1f} min "
          f"on {date.today()}")
    return killed == len(outcome)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tool", action="store_true", help="mutmut over the pure core with the fast tests")
    parser.add_argument("--curated", action="store_true", help="the curated mutations of scripts/mutations.yaml")
    parser.add_argument("--check", action="store_true", help="only report stale entries of the curated list")
    parser.add_argument("--only", default="", help="curated: comma-separated ids to run")
    parser.add_argument("--include", action="append", default=[], metavar="PATH",
                        help="copy this file of the checkout into the worktree (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the worktree afterwards")
    parser.add_argument("--baseline", action="store_true", help="curated: first run the listed tests unmutated")
    parser.add_argument("--jobs", type=int, default=2, help="tool: mutants tested at once (default 2)")
    parser.add_argument("--min-score", type=float, default=0.80, help="tool: the score to reach (default 0.80)")
    parser.add_argument("--tool-timeout", type=float, default=3 * 3600, help="tool: seconds for the whole run")
    parser.add_argument("--test-timeout", type=float, default=900, help="curated: seconds per mutation")
    parser.add_argument("--reports", type=Path, default=None, help="folder for logs (default: a temp folder)")
    parser.add_argument("--python", default=os.environ.get("PYTHON") or sys.executable)
    args = parser.parse_args(argv)
    # A stop (CI's timeout, kill) still removes the worktree: SIGTERM unwinds like Ctrl-C.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))

    mutations = load_mutations()
    if args.only:
        wanted = {i.strip() for i in args.only.split(",") if i.strip()}
        unknown = wanted - {m.id for m in mutations}
        if unknown:
            raise SystemExit(f"mutation: no curated mutation named {', '.join(sorted(unknown))}")
        mutations = [m for m in mutations if m.id in wanted]
    if args.check:
        return 0 if check_only(mutations) else 1
    if not (args.tool or args.curated):
        args.tool = args.curated = True
    reports = args.reports or Path(tempfile.mkdtemp(prefix="syncd-mutation-reports."))
    reports.mkdir(parents=True, exist_ok=True)
    ok = True
    with worktree(args.include, args.keep) as tree:
        if args.curated:
            ok = run_curated(tree, mutations, args, reports) and ok
        if args.tool:
            ok = run_tool(tree, args, reports) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
