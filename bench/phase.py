"""One measured phase, in a process of its own: ``python -m bench.phase SPEC.json``.

The parent writes the spec (what to run, against which databases) to a file and reads the result
back from the file the spec names; stdout and stderr stay free for the code under test and for
profilers wrapped around this process. The clock runs from just before the first connection to
just after the last commit, so interpreter start-up and imports are not counted; peak RSS is the
whole process's (imports included), since that is what a deployment pays.
Seconds are wall-clock: they include the database servers' work, which shares the machine.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import datetime
from typing import Any, Callable

from bench import dataset
from bench.databases import dbapi_connect


def peak_rss_mb() -> float:
    """This process's own peak resident memory.

    Linux's ``ru_maxrss`` survives fork and exec: a child of a parent that once held a large
    batch would report the parent's peak. ``VmHWM`` belongs to the address space the exec made.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _read_sql(spec: dict[str, Any]) -> str:
    sql = f"SELECT {', '.join(dataset.SOURCE_COLUMNS)} FROM {dataset.SOURCE_TABLE}"
    if spec.get("ordered"):
        sql += " ORDER BY update_time, id"
    if spec.get("limit"):
        sql += f" LIMIT {int(spec['limit'])}"
    return sql


def upsert_sql(kind: str) -> str:
    cols = dataset.TARGET_COLUMNS
    names = ", ".join(cols)
    if kind == "mariadb":
        marks = ", ".join(["%s"] * len(cols))
        sets = ", ".join(f"{c} = VALUES({c})" for c in cols[1:])
        return f"INSERT INTO {dataset.TARGET_TABLE} ({names}) VALUES ({marks}) ON DUPLICATE KEY UPDATE {sets}"
    marks = ", ".join(["?" if kind == "sqlite" else "%s"] * len(cols))
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
    return f"INSERT INTO {dataset.TARGET_TABLE} ({names}) VALUES ({marks}) ON CONFLICT (id) DO UPDATE SET {sets}"


def raw(spec: dict[str, Any]) -> dict[str, Any]:
    """The hand-written limit: the driver's streaming cursor, tuples, executemany, commit per batch."""
    kind, batch = spec["kind"], int(spec["batch"])
    source = dbapi_connect(kind, spec["source"])
    target = dbapi_connect(kind, spec["target"])
    if kind == "mariadb":
        import pymysql.cursors

        reader = source.cursor(pymysql.cursors.SSCursor)
    elif kind == "postgresql":
        reader = source.cursor(name="bench_read")
        reader.itersize = batch
    else:
        reader = source.cursor()
    reader.execute(_read_sql(spec))
    writer = target.cursor()
    statement = upsert_sql(kind)
    now: Any = datetime.now().replace(microsecond=0)
    if kind == "sqlite":
        now = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    codes = dataset.STATUS_CODES
    total = 0
    while True:
        rows = reader.fetchmany(batch)
        if not rows:
            break
        writer.executemany(statement, [
            (str(r[0]), r[1], r[2], r[3], codes.get(r[4]), r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
             r[13], r[14], now) for r in rows])
        target.commit()
        total += len(rows)
    reader.close()
    writer.close()
    source.close()
    target.close()
    return {"rows": total}


def pandas_copy(spec: dict[str, Any]) -> dict[str, Any]:
    """What a data engineer would write with pandas: chunked read_sql, a few column edits, to_sql."""
    import pandas as pd
    import sqlalchemy as sa

    batch = int(spec["batch"])
    source = sa.create_engine(spec["source"])
    target = sa.create_engine(spec["target"])
    now = datetime.now().replace(microsecond=0)
    total = 0
    # Without stream_results pandas' chunks are cut from a result the driver has already
    # buffered whole (PyMySQL, psycopg): memory would follow the table, not the chunk.
    with source.connect().execution_options(stream_results=True) as conn:
        for chunk in pd.read_sql(sa.text(_read_sql(spec)), conn, chunksize=batch):
            chunk["id"] = chunk["id"].astype(str)
            chunk["check_result"] = chunk["check_result"].map(dataset.STATUS_CODES)
            chunk = chunk.rename(columns=dataset.RENAMED)
            chunk["sync_time"] = now
            chunk.to_sql(dataset.TARGET_TABLE, target, if_exists="append", index=False)
            total += len(chunk)
    source.dispose()
    target.dispose()
    return {"rows": total}


def syncd_run(spec: dict[str, Any]) -> dict[str, Any]:
    from syncd import commands

    project = commands.open_project(spec["config"])
    report = commands.run_once(project, full=bool(spec["full"]))
    result = report.results[0]
    if result.status != "ok":
        raise SystemExit(f"syncd run failed: {result.error}")
    counts = result.counts
    return {"rows": counts.rows_read, "written": counts.rows_written, "rejected": counts.rows_rejected,
            "window": result.window, "syncd_seconds": round(result.seconds, 3)}


PHASES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "raw": raw, "pandas": pandas_copy, "syncd": syncd_run}


def main(argv: list[str]) -> None:
    with open(argv[0], encoding="utf-8") as f:
        spec = json.load(f)
    work = PHASES[spec["phase"]]
    # Imports happen before the clock starts: a long-running service pays them once.
    if spec["phase"] == "syncd":
        import syncd.commands  # noqa: F401
    elif spec["phase"] == "pandas":
        import pandas  # noqa: F401
        import sqlalchemy  # noqa: F401
    profiler = None
    if spec.get("cprofile"):
        import cProfile

        profiler = cProfile.Profile()
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    outcome = work(spec)
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    if profiler:
        import io
        import pstats

        profiler.dump_stats(spec["cprofile"])
        for order in ("tottime", "cumulative"):
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(40)
            with open(f"{spec['cprofile']}.{order}.txt", "w", encoding="utf-8") as f:
                f.write(text.getvalue())
    outcome.update(seconds=seconds, maxrss_mb=peak_rss_mb())
    with open(spec["result"], "w", encoding="utf-8") as f:
        json.dump(outcome, f)


if __name__ == "__main__":
    main(sys.argv[1:])
