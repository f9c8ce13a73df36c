"""One measured phase, in a process of its own: ``python -m bench.phase SPEC.json``.

The parent writes the spec (what to run, against which databases) to a file and reads the result
back from the file the spec names; stdout and stderr stay free for the code under test and for
profilers wrapped around this process.

Two clocks measure a phase. The parent times the whole process, from spawn to exit: interpreter
start-up, imports, connecting, the copy, exit — what a ``syncd run --once`` from cron or a
systemd timer pays. Inside, ``seconds`` runs from just before the first connection to just after
the last commit (raw, pandas), or is the mapping run's own span from syncd's run record: what a
long-running service pays per run once it has started. Peak RSS is the whole process's.
Seconds are wall-clock: they include the database servers' work, which shares the machine.

Imports stay light here (no SQLAlchemy, no syncd, no pandas at the top): a raw phase imports only
its driver, as a hand-written copy would, so its whole-process time is not inflated by the bench.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bench import dataset
from bench.drivers import connect


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
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _read_sql(spec: dict[str, Any]) -> str:
    sql = f"SELECT {', '.join(dataset.SOURCE_COLUMNS)} FROM {dataset.SOURCE_TABLE}"
    if spec.get("ordered"):
        sql += " ORDER BY id"
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


def _reader(kind: str, source: Any, batch: int) -> Any:
    if kind == "mariadb":
        import pymysql.cursors

        return source.cursor(pymysql.cursors.SSCursor)
    if kind == "postgresql":
        reader = source.cursor(name="bench_read")
        reader.itersize = batch
        return reader
    return source.cursor()


def _now(kind: str) -> Any:
    now: Any = datetime.now().replace(microsecond=0)
    return now.strftime("%Y-%m-%d %H:%M:%S.%f") if kind == "sqlite" else now


def raw(spec: dict[str, Any]) -> dict[str, Any]:
    """The hand-written limit: the driver's streaming cursor, tuples, executemany, commit per batch."""
    kind, batch = spec["kind"], int(spec["batch"])
    source = connect(kind, spec["source_params"])
    target = connect(kind, spec["target_params"])
    reader = _reader(kind, source, batch)
    reader.execute(_read_sql(spec))
    writer = target.cursor()
    statement = upsert_sql(kind)
    now = _now(kind)
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


#: the staging table's column types of ``raw_copy``: what syncd's PostgreSQL target stages the
#: benchmark's target table as (smallint and integer widened to bigint, strings as text)
STAGE_TYPES = ("text", "text", "text", "timestamp", "text", "text", "text", "int8", "int8", "numeric", "numeric",
               "text", "timestamp", "timestamp", "int8", "timestamp")
#: the target table's own column types, for a binary COPY straight into it (``raw_copy_direct``)
TARGET_TYPES = ("text", "text", "text", "timestamp", "text", "text", "text", "int4", "int2", "numeric", "numeric",
                "text", "timestamp", "timestamp", "int4", "timestamp")


def raw_copy(spec: dict[str, Any]) -> dict[str, Any]:
    """PostgreSQL, written the way syncd's target writes: each batch ``COPY``'d into a temporary
    table (``ON COMMIT DELETE ROWS``, created once per session), then one
    ``INSERT ... SELECT ... ON CONFLICT (id) DO UPDATE`` from it, one commit per batch.

    ``binary`` (``raw_copy``): the staging table has the types syncd gives it and the rows go in
    binary, as syncd sends them. Without it (``raw_copy_text``): the staging table copies the
    target's types and the rows go as text, as syncd sent them before. ``direct``
    (``raw_copy_direct``): each batch goes by one binary COPY straight into the (empty) target, as
    syncd's first full copy sends it.
    """
    kind, batch, binary = spec["kind"], int(spec["batch"]), bool(spec.get("binary"))
    direct = bool(spec.get("direct"))
    if kind != "postgresql":
        raise SystemExit("raw_copy is a PostgreSQL phase")
    source = connect(kind, spec["source_params"])
    target = connect(kind, spec["target_params"])
    reader = _reader(kind, source, batch)
    reader.execute(_read_sql(spec))
    writer = target.cursor()
    cols = ", ".join(dataset.TARGET_COLUMNS)
    sets = ", ".join(f"{c} = excluded.{c}" for c in dataset.TARGET_COLUMNS[1:])
    if direct:
        copy_sql = f"COPY {dataset.TARGET_TABLE} ({cols}) FROM STDIN (FORMAT BINARY)"
    elif binary:
        typed = ", ".join(f"{c} {t}" for c, t in zip(dataset.TARGET_COLUMNS, STAGE_TYPES, strict=True))
        writer.execute(f"CREATE TEMP TABLE bench_stage ({typed}) ON COMMIT DELETE ROWS")
        copy_sql = f"COPY bench_stage ({cols}) FROM STDIN (FORMAT BINARY)"
    else:
        writer.execute(f"CREATE TEMP TABLE bench_stage ON COMMIT DELETE ROWS AS "
                       f"SELECT {cols} FROM {dataset.TARGET_TABLE} WITH NO DATA")
        copy_sql = f"COPY bench_stage ({cols}) FROM STDIN"
    target.commit()
    merge = (f"INSERT INTO {dataset.TARGET_TABLE} ({cols}) SELECT {cols} FROM bench_stage "
             f"ON CONFLICT (id) DO UPDATE SET {sets}")
    now = _now(kind)
    codes = dataset.STATUS_CODES
    total = 0
    while True:
        rows = reader.fetchmany(batch)
        if not rows:
            break
        with writer.copy(copy_sql) as copy:
            if direct or binary:
                copy.set_types(TARGET_TYPES if direct else STAGE_TYPES)
            for r in rows:
                copy.write_row((str(r[0]), r[1], r[2], r[3], codes.get(r[4]), r[5], r[6], r[7], r[8], r[9], r[10],
                                r[11], r[12], r[13], r[14], now))
        if not direct:
            writer.execute(merge)
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
    """syncd as it is deployed: the ``syncd run --once`` command line, in this process.

    The parent reads rows and the run's own span from syncd's run record afterwards, so nothing
    here adds to the whole-process time but this module's few imports.
    """
    from syncd.cli import main

    argv = ["-c", spec["config"], "run", "--once", *(["--full"] if spec["full"] else [])]
    try:
        main(argv)
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    if code not in (0, None):
        raise SystemExit(f"syncd run failed (exit {code})")
    return {}


PHASES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "raw": raw, "raw_copy": raw_copy, "pandas": pandas_copy, "syncd": syncd_run}


def main(argv: list[str]) -> None:
    with open(argv[0], encoding="utf-8") as f:
        spec = json.load(f)
    work = PHASES[spec["phase"]]
    # pandas' imports (a second and more) happen before its clock starts, as syncd's do before
    # its run record's; the whole-process time counts them for both.
    if spec["phase"] == "pandas":
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
    outcome.setdefault("seconds", seconds)
    outcome["maxrss_mb"] = peak_rss_mb()
    with open(spec["result"], "w", encoding="utf-8") as f:
        json.dump(outcome, f)


if __name__ == "__main__":
    main(sys.argv[1:])
