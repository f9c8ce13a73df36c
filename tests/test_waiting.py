"""Waiting is visible: a run held up by a locked target table shows in status and fails health."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from tests.scenario import Scenario, dp_record
from tests.test_daemon import build, daemons, syncd, wait_for  # noqa: F401 - daemons is a fixture


def test_a_run_stuck_on_a_locked_target_table_fails_health_naming_the_table(tmp_path, daemons):  # noqa: F811
    s = build(tmp_path, rows=20, schedule="1h", health="max_run: 2s, max_lag: 1d")
    # Another session holds a write lock on the target database for the whole test.
    holder = sqlite3.connect(tmp_path / "fep.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        d = daemons(s)
        d.wait_log("syncd daemon started")

        def unhealthy():
            result = syncd(s, "health")
            return result if result.returncode == 1 and "health.max_run" in result.stdout else None
        result = wait_for(unhealthy, 30, "health to fail on the long run")
        assert "mapping record: its run has lasted" in result.stdout
        assert "writing target table dp_record" in result.stdout
        status = syncd(s, "status")
        assert "running" in status.stdout and "writing target table dp_record" in status.stdout
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # Once the lock is gone the run finishes and nothing is reported as running any more.
    wait_for(lambda: "running record" not in syncd(s, "status").stdout.replace("\n", " ") and
             "writing target" not in syncd(s, "status").stdout, 60, "the run to finish")
    d.wait_log("mapping record", timeout=60)


def _hold(kind: str, target_url: str, lock: str):
    """Another session holding a lock on dp_record: (its connection, the statements that took it)."""
    import sqlalchemy as sa

    engine = sa.create_engine(target_url)
    conn = engine.connect()
    if lock == "row":
        conn.exec_driver_sql("UPDATE dp_record SET title = 'held' WHERE id = '1'")   # a row lock, kept open
    elif kind == "mariadb":
        conn.exec_driver_sql("LOCK TABLES dp_record WRITE")
    else:
        conn.exec_driver_sql("LOCK TABLE dp_record IN ACCESS EXCLUSIVE MODE")

    def release():
        if lock == "table" and kind == "mariadb":
            conn.exec_driver_sql("UNLOCK TABLES")
        conn.rollback()
        conn.close()
        engine.dispose()
    return release


@pytest.mark.parametrize("lock", ["row", "table"])
@pytest.mark.parametrize("kind", ["mariadb", "postgresql"])
def test_a_lock_wait_on_the_target_times_out_names_the_table_and_is_retried(tmp_path, daemons, make_database,  # noqa: F811
                                                                             kind, lock):
    target_url = make_database(kind)
    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", target_url)
    (tmp_path / "config.yaml").write_text(
        f'source: {{url: "sqlite:///{tmp_path / "county.db"}"}}\n'
        f'target: {{url: "{target_url}", lock_timeout: 1s}}\n'
        f'state: {{url: "sqlite:///{tmp_path / "state.db"}"}}\n'
        "mappings: mappings\nlog: {level: INFO}\n"
        "defaults: {schedule: 1h, retries: 100, retry_wait: 0.2s, retry_wait_max: 0.5s}\n"
        "health: {max_run: 2s, max_lag: 1d}\n", encoding="utf-8")
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 21))
    with s.target.begin() as conn:     # row 1 is in the target already: the run updates it
        conn.execute(sa.insert(dp_record).values(id="1", check_status="0", title="old"))
    release = _hold(kind, target_url, lock)
    try:
        d = daemons(s)
        d.wait_log("target table dp_record is locked by another session: waited target.lock_timeout", timeout=20)
        assert "unexpected error" not in d.log and "failed" not in d.log

        def unhealthy():
            # between two waits the retry reads its batch from the source again: health says so then
            result = syncd(s, "health")
            said = " ".join(result.stdout.split())
            return result if result.returncode == 1 and "health.max_run" in said and "target table" in said else None
        result = wait_for(unhealthy, 30, "health to fail naming the target table the run waits on")
        said = " ".join(result.stdout.split())
        assert "mapping record: its run has lasted" in said and "target table dp_record" in said
    finally:
        release()
    d.wait_log("mapping record ok", timeout=60)
    assert len(s.target_ids()) == 20
    with s.target.connect() as conn:
        assert conn.execute(sa.select(dp_record.c.title).where(dp_record.c.id == "1")).scalar() == "记录1"
    s.dispose()
