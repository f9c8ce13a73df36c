"""Waiting is visible: a run held up by a locked target table shows in status and fails health."""

from __future__ import annotations

import sqlite3

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
