"""Mixed dirty data through the daemon: several mappings in one job, 10 000 rows with every kind of
dirt a county database holds, in random order. It ends with source = target + rejects, every reject
named with its reason, and no mapping stopped."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from syncd import commands

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROWS = int(os.environ.get("SYNCD_DIRTY_ROWS", "10000"))

MAPPING = """\
name: {name}
source: {{table: county_rows, key: id, cursor: update_time}}
target: {{table: {table}, key: id}}
batch_size: 500
lookback: 1m
lag: 0s
columns:
  id: {{from: id}}
  n: {{from: n}}
  amount: {{from: amount}}
  name: {{from: name}}
  status: {{from: status, map: {{"正常": "0", "异常": "1"}}}}
  made: {{from: made}}
"""


def _dirty_rows(rng: random.Random, base: datetime) -> tuple[list[dict], dict[int, str]]:
    """The rows, and for each dirty one the kind of dirt it carries."""
    rows, dirt = [], {}
    for i in range(1, ROWS + 1):
        row = {"id": i, "n": rng.randint(0, 10**6), "amount": Decimal(rng.randint(0, 99999)) / 100,
               "name": f"企业{i}", "status": rng.choice(["正常", "异常"]),
               "made": base.replace(hour=0, minute=0, second=0) - timedelta(days=rng.randint(0, 900)),
               "update_time": base + timedelta(seconds=i // 3)}
        kind = rng.choices(["clean", "overflow", "gbk", "long", "code", "null", "zero_date", "duplicate"],
                           weights=[80, 3, 3, 3, 3, 3, 3, 2])[0]
        if kind == "overflow":
            row["n"] = 5_000_000_000
        elif kind == "gbk":
            row["name"] = "表情😀"
        elif kind == "long":
            row["name"] = "长" * 60
        elif kind == "code":
            row["status"] = "未知状态"
        elif kind == "null":
            row["status"] = None
        elif kind == "zero_date":
            row["update_time"] = None   # written as a zero date below
        if kind != "clean":
            dirt[i] = kind
        rows.append(row)
        if kind == "duplicate":
            rows.append({**row, "name": f"企业{i}重复"})
    rng.shuffle(rows)
    return rows, dirt


@pytest.mark.slow
def test_mixed_dirty_data_through_the_daemon(tmp_path, make_database):
    source_url, target_url = make_database("mariadb"), make_database("mariadb")
    source, target = sa.create_engine(source_url), sa.create_engine(target_url)
    try:
        with source.begin() as conn:
            conn.execute(sa.text("CREATE TABLE county_rows (id INT, n BIGINT, amount DECIMAL(12,2), "
                                 "name VARCHAR(200), status VARCHAR(20), made DATETIME, update_time DATETIME, "
                                 "KEY (update_time)) CHARACTER SET utf8mb4"))
        with target.begin() as conn:
            for table in ("dp_gbk", "dp_utf8"):
                charset = "gbk" if table == "dp_gbk" else "utf8mb4"
                conn.execute(sa.text(f"CREATE TABLE {table} (id VARCHAR(20) PRIMARY KEY, n INT, "
                                     f"amount DECIMAL(10,2), name VARCHAR(40), status CHAR(1) NOT NULL, "
                                     f"made DATE) CHARACTER SET {charset}"))
        base = datetime.now().replace(microsecond=0) - timedelta(hours=6)
        rows, dirt = _dirty_rows(random.Random(20261129), base)
        with source.begin() as conn:
            conn.execute(sa.text("SET SESSION sql_mode = ''"))
            for part in range(0, len(rows), 1000):
                conn.execute(sa.text(
                    "INSERT INTO county_rows VALUES (:id, :n, :amount, :name, :status, :made, "
                    "COALESCE(:update_time, '0000-00-00 00:00:00'))"), rows[part:part + 1000])
        (tmp_path / "mappings").mkdir()
        for name, table in (("gbk_copy", "dp_gbk"), ("utf8_copy", "dp_utf8")):
            (tmp_path / "mappings" / f"{name}.yaml").write_text(MAPPING.format(name=name, table=table),
                                                               encoding="utf-8")
        (tmp_path / "config.yaml").write_text(textwrap.dedent(f"""\
            source: {{url: "{source_url}"}}
            target: {{url: "{target_url}"}}
            state: {{url: "sqlite:///{tmp_path / 'state.db'}"}}
            mappings: mappings
            log: {{level: INFO}}
            defaults: {{retries: 2, retry_wait: 0.05s, retry_wait_max: 0.2s}}
            schedules:
              everything: {{schedule: 2s, mappings: [gbk_copy, utf8_copy]}}
            """), encoding="utf-8")
        log = open(tmp_path / "daemon.log", "w", encoding="utf-8")
        daemon = subprocess.Popen([sys.executable, "-m", "syncd", "-c", str(tmp_path / "config.yaml"), "run"],
                                  stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        try:
            project = commands.open_project(tmp_path / "config.yaml")
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                runs = commands.history(project, limit=20)
                done = {r["mapping"] for r in runs if r["status"] in ("ok", "failed")}
                if len([r for r in runs if r["status"] == "ok"]) >= 4 and done == {"gbk_copy", "utf8_copy"}:
                    break
                time.sleep(1)
            else:
                raise AssertionError("the daemon did not finish two runs of each mapping in time")
        finally:
            daemon.terminate()
            daemon.wait(60)
            log.close()
        runs = commands.history(project, limit=50)
        assert all(r["status"] == "ok" for r in runs if r["status"] != "stopped"), \
            [(r["mapping"], r["status"], r["error"]) for r in runs]
        source_ids = {r["id"] for r in rows}
        for name, table in (("gbk_copy", "dp_gbk"), ("utf8_copy", "dp_utf8")):
            rejects = {int(r["key"]): r["reason"] for r in commands.rejects(project, mapping=name, limit=100000)}
            assert all(reason.strip() for reason in rejects.values())
            with target.connect() as conn:
                written = {int(i) for i in conn.execute(sa.text(f"SELECT id FROM {table}")).scalars()}
            assert written | set(rejects) == source_ids, name      # nothing lost ...
            # ... and a row is written or held back, never both; except a key that repeats in the source
            # across batches: its first row was written before the second came (the reject says so)
            assert {dirt[i] for i in written & set(rejects)} <= {"duplicate"}, name
            # every dirty row of a kind the target cannot hold is a reject, with a reason of its kind
            must_reject = {i for i, k in dirt.items() if k in ("overflow", "long", "code", "null", "zero_date",
                                                               "duplicate") or (k == "gbk" and table == "dp_gbk")}
            assert must_reject <= set(rejects), (name, sorted(must_reject - set(rejects))[:10])
            assert set(rejects) <= set(dirt), (name, sorted(set(rejects) - set(dirt))[:10])
            kinds = {dirt[i]: rejects[i] for i in sorted(rejects)}
            assert "key not unique" in kinds["duplicate"] and "0000-00-00" in kinds["zero_date"]
    finally:
        source.dispose()
        target.dispose()
