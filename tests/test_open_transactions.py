"""A write transaction that stays open past lag and lookback: its rows arrive once it commits.

The county application holds a transaction open while an operator edits a record; the row it
wrote carries the cursor of that moment. Meanwhile other rows commit with later cursors. A run
in between must not move the watermark past the open transaction's start.
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from tests.scenario import Scenario


@pytest.fixture(params=["mariadb", "postgresql"])
def server_scenario(request, tmp_path, make_database):
    s = Scenario(tmp_path, make_database(request.param), f"sqlite:///{tmp_path / 'fep.db'}", lookback="0s")
    yield s, request.param
    s.dispose()


def test_a_row_of_a_long_open_transaction_arrives_after_it_commits(server_scenario):
    s, kind = server_scenario
    s.insert([{"id": i, "update_time": s.at(i)} for i in range(1, 4)])
    assert s.run().results[0].status == "ok"
    holder = s.source.connect()
    tx = holder.begin()
    now_sql = "NOW()" if kind == "mariadb" else "now()"
    holder.execute(sa.text(f"INSERT INTO src_record (id, jg, title, amount, update_time, del_flag) "
                           f"VALUES (100, '正常', 'open', 1.5, {now_sql}, '0')"))
    try:
        time.sleep(1.2)
        # committed after the open transaction's row, with a later cursor
        s.insert([{"id": 101, "update_time": s.now()}])
        time.sleep(1.2)
        held = s.run(settle=False).results[0]
        assert held.status == "ok", held.error
        assert "held before a transaction open since" in held.window
        assert "101" not in s.actual()       # the window stopped before the open transaction began
    finally:
        tx.commit()
        holder.close()
    time.sleep(1.2)
    after = s.run().results[0]
    assert after.status == "ok", after.error
    assert {"100", "101"} <= set(s.actual())
    assert s.actual() == s.expected()


def _restricted_url(s: Scenario, kind: str) -> str:
    """A source user that may read the table and nothing more (no PROCESS, no pg_read_all_stats)."""
    url = s.source.url
    with s.source.begin() as conn:
        if kind == "mariadb":
            conn.execute(sa.text("DROP USER IF EXISTS 'syncd_nostats'@'%'"))
            conn.execute(sa.text("CREATE USER 'syncd_nostats'@'%' IDENTIFIED BY 'nostats-pw'"))
            conn.execute(sa.text(f"GRANT SELECT ON `{url.database}`.* TO 'syncd_nostats'@'%'"))
        else:
            conn.execute(sa.text("DROP OWNED BY syncd_nostats") if conn.execute(sa.text(
                "SELECT 1 FROM pg_roles WHERE rolname = 'syncd_nostats'")).scalar() else sa.text("SELECT 1"))
            conn.execute(sa.text("DROP ROLE IF EXISTS syncd_nostats"))
            conn.execute(sa.text("CREATE ROLE syncd_nostats LOGIN PASSWORD 'nostats-pw'"))
            conn.execute(sa.text("GRANT SELECT ON src_record TO syncd_nostats"))
    return url.set(username="syncd_nostats", password="nostats-pw").render_as_string(hide_password=False)


def test_without_the_grant_check_says_so_and_names_the_grant(server_scenario):
    s, kind = server_scenario
    from click.testing import CliRunner

    from syncd import cli, dialects
    from syncd.source import Source

    assert Source(s.source, dialects.get(s.source.dialect.name)).transactions_visible()
    restricted = sa.create_engine(_restricted_url(s, kind))
    try:
        assert not Source(restricted, dialects.get(restricted.dialect.name)).transactions_visible()
    finally:
        restricted.dispose()
    config = s.dir / "config.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace(s.source.url.render_as_string(hide_password=False), _restricted_url(s, kind)),
                      encoding="utf-8")
    result = CliRunner().invoke(cli.cli, ["-c", str(config), "check", "--connect"])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "not visible to this user" in flat
    assert ("GRANT PROCESS" if kind == "mariadb" else "GRANT pg_read_all_stats") in flat


@pytest.fixture
def postgresql_scenario(tmp_path, make_database):
    s = Scenario(tmp_path, make_database("postgresql"), f"sqlite:///{tmp_path / 'fep.db'}", lookback="0s")
    yield s
    s.dispose()


def test_a_postgresql_transaction_that_reads_first_and_writes_late_is_held_from_its_start(postgresql_scenario):
    # now() and LOCALTIMESTAMP are the transaction's start: the row it writes at the end carries it,
    # though the transaction had no xid (had written nothing) while the run in between looked.
    s = postgresql_scenario
    s.insert([{"id": i, "update_time": s.at(i)} for i in range(1, 4)])
    assert s.run().results[0].status == "ok"
    holder = s.source.connect()
    tx = holder.begin()
    try:
        started = holder.execute(sa.text("SELECT LOCALTIMESTAMP")).scalar()     # it reads, and goes on reading
        time.sleep(1.2)
        s.insert([{"id": 101, "update_time": s.now()}])
        time.sleep(1.2)
        held = s.run(settle=False).results[0]
        assert held.status == "ok", held.error
        assert "held before a transaction open since" in held.window
        assert "101" not in s.actual()
        holder.execute(sa.text("INSERT INTO src_record (id, jg, title, amount, update_time, del_flag) "
                               "VALUES (100, '正常', 'late', 1.5, LOCALTIMESTAMP, '0')"))
        assert holder.execute(sa.text("SELECT update_time FROM src_record WHERE id = 100")).scalar() == started
    finally:
        tx.commit()
        holder.close()
    after = s.run().results[0]
    assert after.status == "ok", after.error
    assert {"100", "101"} <= set(s.actual())
    assert s.actual() == s.expected()


def test_idle_aborted_and_syncds_own_postgresql_sessions_do_not_hold_the_window(postgresql_scenario):
    from syncd.engines import make_engine

    s = postgresql_scenario
    s.insert([{"id": i, "update_time": s.at(i)} for i in range(1, 4)])
    assert s.run().results[0].status == "ok"
    own = make_engine(s.source.url)          # as syncd connects: a reconcile reading beside the daemon
    idle, reading, aborted = s.source.connect(), own.connect(), s.source.connect()
    try:
        idle.exec_driver_sql("SELECT 1")
        idle.commit()                        # a session without a transaction
        reading.begin()
        reading.execute(sa.text("SELECT COUNT(*) FROM src_record"))
        aborted.begin()
        with pytest.raises(sa.exc.DBAPIError):
            aborted.execute(sa.text("SELECT no_such_column FROM src_record"))
        with s.source.connect() as conn:
            states = {row[0] for row in conn.execute(sa.text(
                "SELECT state FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"))}
        assert {"idle", "idle in transaction", "idle in transaction (aborted)"} <= states
        time.sleep(1.2)
        s.insert([{"id": 101, "update_time": s.now()}])
        time.sleep(1.2)
        result = s.run(settle=False).results[0]
        assert result.status == "ok", result.error
        assert "held" not in result.window
        assert "101" in s.actual()
    finally:
        for conn in (idle, reading, aborted):
            conn.close()
        own.dispose()
