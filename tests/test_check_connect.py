"""check --connect never shows a traceback: one line per database that cannot be used, and why."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from syncd import cli
from tests.scenario import Scenario


def _check(tmp_path, *args: str):
    return CliRunner().invoke(cli.cli, ["-c", str(tmp_path / "config.yaml"), "check", *args])


def _point_source_at(tmp_path, url: str) -> None:
    config = tmp_path / "config.yaml"
    lines = config.read_text(encoding="utf-8").splitlines()
    lines = [f'source: {{url: "{url}", connect_timeout: 3s}}' if line.startswith("source:") else line
             for line in lines]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def mariadb_scenario(tmp_path, make_database):
    s = Scenario(tmp_path, make_database("mariadb"), f"sqlite:///{tmp_path / 'fep.db'}")
    yield s
    s.dispose()


@pytest.mark.parametrize(("change", "words"), [
    ({"password": "wrong-password"}, "check the user and its password"),
    ({"port": 1}, "check the host and port"),
])
def test_connection_problems_are_one_line_each(tmp_path, mariadb_scenario, change, words):
    url = mariadb_scenario.source.url.set(**change).render_as_string(hide_password=False)
    _point_source_at(tmp_path, url)
    result = _check(tmp_path, "--connect")
    assert "Traceback" not in result.output
    assert result.exit_code == 2, result.output
    assert "source.url" in result.output and words in " ".join(result.output.split())
    assert "wrong-password" not in result.output


@pytest.mark.parametrize("option", ["foo=bar", "charset=nosuch"])
def test_a_bad_url_option_is_named_not_a_traceback(tmp_path, mariadb_scenario, option):
    url = str(mariadb_scenario.source.url.render_as_string(hide_password=False))
    _point_source_at(tmp_path, url + ("&" if "?" in url else "?") + option)
    result = _check(tmp_path, "--connect")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "check the options after '?' in the URL" in " ".join(result.output.split())


def test_a_postgresql_source_with_a_wrong_password(tmp_path, make_database):
    url = make_database("postgresql")
    s = Scenario(tmp_path, url, f"sqlite:///{tmp_path / 'fep.db'}")
    try:
        _point_source_at(tmp_path, url.replace("syncd-test-pw", "wrong-password"))
        result = _check(tmp_path, "--connect")
        assert result.exit_code == 2, result.output
        assert "password authentication failed" in result.output
        assert "wrong-password" not in result.output and "Traceback" not in result.output
    finally:
        s.dispose()


def test_an_empty_mapping_file_is_refused_by_plain_check(tmp_path):
    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", f"sqlite:///{tmp_path / 'fep.db'}")
    try:
        (tmp_path / "mappings" / "empty.yaml").write_text("", encoding="utf-8")
        result = _check(tmp_path)
        assert result.exit_code == 2, result.output
        assert "empty.yaml" in result.output and "the mapping file is empty" in result.output
    finally:
        s.dispose()


def test_a_source_that_answers_passes(tmp_path, mariadb_scenario):
    result = _check(tmp_path, "--connect")
    assert result.exit_code == 0, result.output


# -- what check --connect shows of each database --------------------------------------------------

def _flat(text: str) -> str:
    return " ".join(text.split())


def test_check_connect_shows_each_databases_version_clock_time_zone_and_charset(tmp_path, mariadb_scenario):
    result = _check(tmp_path, "--connect")
    assert result.exit_code == 0, result.output
    text = _flat(result.output)
    assert "source: mysql+pymysql://" in text and "target: sqlite:///" in text and "state: sqlite:///" in text
    source = text.split("source: ", 1)[1].split("target: ", 1)[0]
    assert "server " in source and "MariaDB" in source
    assert "UTC, " in source and "this machine's (asked in" in source
    assert "time zone SYSTEM (" in source and "charset utf8mb4 (connection utf8mb4)" in source
    assert "server SQLite 3." in text.split("target: ", 1)[1]
    assert "checked against the databases" in text and "ok: config, mappings and databases" in text
    # piped, as here: the heading rules are a terminal's width, not the unbounded width of tables
    assert max(len(line) for line in result.output.splitlines()) < 1000


def test_plain_check_says_it_did_not_connect(tmp_path, mariadb_scenario):
    result = _check(tmp_path)
    assert result.exit_code == 0, result.output
    text = _flat(result.output)
    assert "source: " not in text and "server " not in text and "time zone" not in text
    assert "checked without connecting" in text and "ok: config and mappings (not connected)" in text


def test_check_connect_shows_a_postgresql_source(tmp_path, make_database):
    s = Scenario(tmp_path, make_database("postgresql"), f"sqlite:///{tmp_path / 'fep.db'}")
    try:
        result = _check(tmp_path, "--connect")
        assert result.exit_code == 0, result.output
        source = _flat(result.output).split("source: ", 1)[1].split("target: ", 1)[0]
        assert "server PostgreSQL 1" in source and "charset UTF8 (client UTF8)" in source
        assert "time zone " in source and "(not told)" not in source
    finally:
        s.dispose()


def test_the_clock_offset_is_measured_against_this_machine(tmp_path, mariadb_scenario):
    from syncd import commands

    facts = {f.role: f for f in commands.server_facts(mariadb_scenario.project())}
    assert set(facts) == {"source", "target", "state"}
    # no run yet: the state store's file is not there, and asking about it does not create it
    assert facts.pop("state").problem == "the file does not exist yet: the first run creates it"
    assert not (tmp_path / "state.db").exists()
    for f in facts.values():
        assert f.problem is None and f.clock is not None and f.clock.utcoffset().total_seconds() == 0
        assert abs(f.offset.total_seconds()) < 2      # the same machine's clock, read over loopback
    assert "MariaDB" in facts["source"].version and facts["target"].charset == "UTF-8"


def test_a_source_cursor_without_an_index_is_a_warning(tmp_path, mariadb_scenario):
    assert "has no index" not in _flat(_check(tmp_path, "--connect").output)
    with mariadb_scenario.source.begin() as conn:
        index = next(ix["name"] for ix in sa.inspect(conn).get_indexes("src_record")
                     if ix["column_names"] == ["update_time"])
        conn.execute(sa.text(f"DROP INDEX {index} ON src_record"))
    result = _check(tmp_path, "--connect")
    assert result.exit_code == 0, result.output
    text = _flat(result.output)
    assert "record.yaml, line 5 [source.cursor]" in text
    assert "cursor column update_time has no index in the source" in text and "CREATE INDEX" in text


def test_an_index_that_begins_with_the_cursor_counts(tmp_path, make_database):
    s = Scenario(tmp_path, make_database("postgresql"), f"sqlite:///{tmp_path / 'fep.db'}")
    try:
        with s.source.begin() as conn:
            for ix in sa.inspect(conn).get_indexes("src_record"):
                conn.execute(sa.text(f'DROP INDEX "{ix["name"]}"'))
            conn.execute(sa.text("CREATE INDEX by_time_and_id ON src_record (update_time, id)"))
        assert "has no index" not in _flat(_check(tmp_path, "--connect").output)
        with s.source.begin() as conn:
            conn.execute(sa.text("DROP INDEX by_time_and_id"))
            conn.execute(sa.text("CREATE INDEX by_id_and_time ON src_record (id, update_time)"))
        assert "cursor column update_time has no index" in _flat(_check(tmp_path, "--connect").output)
    finally:
        s.dispose()


# -- schedules and database files, without connecting -------------------------------------------

def _sqlite_scenario(tmp_path) -> Scenario:
    return Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", f"sqlite:///{tmp_path / 'fep.db'}")


def test_plain_check_refuses_a_schedule_the_daemon_would_refuse(tmp_path):
    s = _sqlite_scenario(tmp_path)
    try:
        mapping = tmp_path / "mappings" / "record.yaml"
        mapping.write_text(mapping.read_text(encoding="utf-8") + 'schedule: "every 10m"\n', encoding="utf-8")
        line = len(mapping.read_text(encoding="utf-8").splitlines())
        result = _check(tmp_path)
        assert result.exit_code == 2, result.output
        text = _flat(result.output)
        assert f"record.yaml, line {line} [schedule]" in text and "'every 10m' is not a schedule" in text
    finally:
        s.dispose()


def test_plain_check_refuses_a_bad_default_or_reconcile_schedule(tmp_path):
    s = _sqlite_scenario(tmp_path)
    try:
        config = tmp_path / "config.yaml"
        config.write_text(config.read_text(encoding="utf-8").replace("retries: 2", "retries: 2, schedule: 10 min")
                          + "reconcile: {schedule: nightly}\n", encoding="utf-8")
        result = _check(tmp_path)
        assert result.exit_code == 2, result.output
        text = _flat(result.output)
        assert "[defaults.schedule]" in text and "'10 min'" in text
        assert "[reconcile.schedule]" in text and "'nightly'" in text
    finally:
        s.dispose()


@pytest.mark.parametrize("connect", [False, True])
@pytest.mark.parametrize(("role", "wrong", "words"), [
    ("source", "county-typo.db", "does not exist"),
    ("source", "no-such-folder/county.db", "nor does its folder"),
    ("target", "no-such-folder/fep.db", "nor does its folder"),
])
def test_a_wrong_sqlite_path_is_reported_and_no_file_is_created(tmp_path, connect, role, wrong, words):
    s = _sqlite_scenario(tmp_path)
    try:
        config = tmp_path / "config.yaml"
        right = "county.db" if role == "source" else "fep.db"
        config.write_text(config.read_text(encoding="utf-8").replace(str(tmp_path / right), str(tmp_path / wrong)),
                          encoding="utf-8")
        result = _check(tmp_path, *(["--connect"] if connect else []))
        assert result.exit_code == 2, result.output
        text = _flat(result.output)
        assert f"{role}.url" in text and str(tmp_path / wrong) in text and words in text
        assert "Traceback" not in result.output
        assert not (tmp_path / wrong).exists()
        assert (tmp_path / wrong).parent.exists() == ("/" not in wrong)
    finally:
        s.dispose()


def test_a_run_does_not_create_a_missing_source_file(tmp_path):
    s = _sqlite_scenario(tmp_path)
    try:
        config = tmp_path / "config.yaml"
        config.write_text(config.read_text(encoding="utf-8").replace("county.db", "moved.db"), encoding="utf-8")
        result = CliRunner().invoke(cli.cli, ["-c", str(config), "run", "--once"])
        assert result.exit_code != 0
        assert "moved.db does not exist" in _flat(result.output)
        assert not (tmp_path / "moved.db").exists()
    finally:
        s.dispose()


def test_a_clock_far_from_this_machines_is_a_warning(capsys):
    from datetime import datetime, timedelta, timezone

    from syncd.engines import ServerFacts

    def shown(offset: timedelta) -> tuple[str, list[str]]:
        facts = ServerFacts("target", "oracle+oracledb://fep@10.20.30.40:1521/?service_name=FEP", version="Oracle 11g",
                            clock=datetime(2026, 11, 29, 4, 0, tzinfo=timezone.utc), offset=offset,
                            round_trip=timedelta(milliseconds=40), time_zone="+08:00", charset="ZHS16GBK")
        warnings = cli._print_facts(facts)
        return _flat(capsys.readouterr().out), warnings

    text, warnings = shown(timedelta(minutes=-3, seconds=-20))
    assert "clock 2026-11-29 04:00:00 UTC, 3 min 20 s behind this machine's (asked in 40 ms)" in text
    assert "time zone +08:00" in text and "charset ZHS16GBK" in text
    [warning] = warnings
    assert "target database's clock is 3 min 20 s behind this machine's" in warning and "NTP" in warning
    text, warnings = shown(timedelta(seconds=2))
    assert "2.0 s ahead of this machine's" in text and warnings == []


#: 丂 is 0x81 0x40 in GBK: 0x81 is one of the bytes MySQL's latin1 hands out as U+0081
GBK_TITLES = ["风险点辨识", "隐患排查治理", "重大危险源", "丂安全检查记录"]


def test_gbk_text_in_a_latin1_column_is_warned_about_and_recode_repairs_it(tmp_path, mariadb_scenario):
    import sqlalchemy as sa

    s = mariadb_scenario
    with s.source.begin() as conn:
        conn.execute(sa.text("ALTER TABLE src_record MODIFY title VARCHAR(200) CHARACTER SET latin1"))
    s.insert({"id": i, "title": "x", "update_time": s.at(i)} for i in range(1, len(GBK_TITLES) + 2))
    with s.source.begin() as conn:
        # what a legacy application did: GBK bytes written through a latin1 connection, stored as they came
        for i, title in enumerate(GBK_TITLES, start=1):
            conn.execute(sa.text(f"UPDATE src_record SET title = X'{title.encode('gbk').hex()}' WHERE id = {i}"))
        conn.execute(sa.text(f"UPDATE src_record SET title = 'plain ascii' WHERE id = {len(GBK_TITLES) + 1}"))
    result = _check(tmp_path, "--connect")
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "source column title: 4 of 5 sampled values are GBK text held as latin1" in said
    assert "set recode: gbk on the column" in said and "record.yaml" in said

    s.write_mapping(columns={"title": "{from: title, recode: gbk}"})
    assert "recode" not in " ".join(_check(tmp_path, "--connect").output.split())
    assert not s.run().failed
    with s.target.connect() as conn:
        titles = dict(conn.execute(sa.text("SELECT id, title FROM dp_record")).all())
    assert [titles[str(i)] for i in range(1, len(GBK_TITLES) + 2)] == [*GBK_TITLES, "plain ascii"]


def test_real_latin1_text_in_a_latin1_column_is_not_taken_for_gbk(tmp_path, mariadb_scenario):
    """'Müller' read as GBK says 'M黮ler': its bytes decode, but into rare ideographs, not Chinese text."""
    import sqlalchemy as sa

    s = mariadb_scenario
    with s.source.begin() as conn:
        conn.execute(sa.text("ALTER TABLE src_record MODIFY title VARCHAR(200) CHARACTER SET latin1"))
    words = ["Müller", "São Paulo", "naïve", "Ångström", "Zürich"]
    s.insert({"id": i, "title": word, "update_time": s.at(i)} for i, word in enumerate(words, start=1))
    result = _check(tmp_path, "--connect")
    assert result.exit_code == 0, result.output
    assert "recode" not in " ".join(result.output.split())

    s.write_mapping(columns={"title": "{from: title, recode: gbk}"})
    [result] = s.run().results
    assert result.counts.rows_rejected == len(words), result
    assert all("is no gbk text: read as gbk it says" in r.reason for r in result.rejects), result.rejects
    with s.target.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM dp_record")).scalar() == 0


# -- privileges: every one a run will use, each missing one named with its GRANT --------------------

def _use_users(tmp_path, source_url: str, target_url: str) -> None:
    config = tmp_path / "config.yaml"
    lines = config.read_text(encoding="utf-8").splitlines()
    lines = [f'source: {{url: "{source_url}"}}' if line.startswith("source:") else
             f'target: {{url: "{target_url}"}}' if line.startswith("target:") else line for line in lines]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _grants(output: str) -> list[str]:
    said = " ".join(output.split())
    return [part.split(" [")[0].split(" /")[0].strip() for part in said.split(": GRANT ")[1:]]


@pytest.mark.parametrize("kind", ["mariadb", "postgresql"])
def test_check_connect_names_each_missing_privilege_with_its_grant(tmp_path, make_database, kind):
    import secrets

    import sqlalchemy as sa

    s = Scenario(tmp_path, make_database(kind), make_database(kind))
    user, password = f"syncd_r{secrets.token_hex(4)}", "restricted-pw"
    source_admin, target_admin = s.source, s.target
    if kind == "mariadb":
        grantee = f"'{user}'@'127.0.0.1'"
        setup = [(source_admin, f"CREATE USER {grantee} IDENTIFIED BY '{password}'"),
                 (source_admin, f"GRANT SELECT ON `{source_admin.url.database}`.`src_record` TO {grantee}"),
                 # UPDATE only: no INSERT, and no SELECT (the upsert's VALUES() would fail with error 1143)
                 (target_admin, f"GRANT UPDATE ON `{target_admin.url.database}`.`dp_record` TO {grantee}")]
        teardown = [(source_admin, f"DROP USER IF EXISTS {grantee}")]
    else:
        grantee = f'"{user}"'
        setup = [(source_admin, f"CREATE ROLE {grantee} LOGIN PASSWORD '{password}'"),
                 (source_admin, f"GRANT SELECT ON src_record TO {grantee}"),
                 (target_admin, f"GRANT UPDATE ON dp_record TO {grantee}")]
        teardown = [(source_admin, f"DROP OWNED BY {grantee}"), (target_admin, f"DROP OWNED BY {grantee}"),
                    (source_admin, f"DROP ROLE IF EXISTS {grantee}")]

    def as_admin(statements):
        for engine, statement in statements:
            with engine.begin() as conn:
                conn.exec_driver_sql(statement)
    try:
        as_admin(setup)
        restricted = {role: engine.url.set(username=user, password=password).render_as_string(hide_password=False)
                      for role, engine in (("source", source_admin), ("target", target_admin))}
        _use_users(tmp_path, restricted["source"], restricted["target"])
        (tmp_path / "mappings" / "record.yaml").write_text(
            (tmp_path / "mappings" / "record.yaml").read_text(encoding="utf-8") + "on_source_delete: delete\n",
            encoding="utf-8")
        s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 4))

        result = _check(tmp_path, "--connect")
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        said = " ".join(result.output.split())
        assert "the target user may not SELECT dp_record" in said
        assert "the target user may not INSERT dp_record (new rows are inserted)" in said
        assert "the target user may not DELETE dp_record (on_source_delete: delete deletes rows)" in said
        assert "may not UPDATE" not in said and "source user" not in said
        grants = _grants(result.output)
        assert len(grants) == 3, result.output
        assert all(g.endswith(f"TO {grantee}") for g in grants), grants
        assert "record.yaml" in said            # the mapping's file, at its target table

        # the GRANT lines as printed, run by the administrator, are all it takes
        with target_admin.begin() as conn:
            for grant in grants:
                conn.exec_driver_sql("GRANT " + grant)
        result = _check(tmp_path, "--connect")
        assert result.exit_code == 0, result.output
        assert not s.run().failed
        assert len(s.target_ids()) == 3

        # and a source table the source user may read only one column of
        table = f"`{source_admin.url.database}`.`src_record`" if kind == "mariadb" else "src_record"
        as_admin([(source_admin, f"REVOKE SELECT ON {table} FROM {grantee}"),
                  (source_admin, f"GRANT SELECT (id) ON {table} TO {grantee}")])
        said = " ".join(_check(tmp_path, "--connect").output.split())
        assert "the source user may not SELECT src_record" in said and f"TO {grantee}" in said
    finally:
        for engine, statement in teardown:
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(statement)
            except sa.exc.DBAPIError:
                pass
        s.dispose()


@contextmanager
def _state_user(tmp_path, admin, *grants: str):
    """A PostgreSQL role that reads every table of the state store and has ``grants`` (``GRANT ... ON
    tables``, "TO role" added), made the state store's user in tmp_path/config.yaml; dropped after."""
    import secrets

    user = f"syncd_r{secrets.token_hex(4)}"
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE ROLE \"{user}\" LOGIN PASSWORD 'pw'")
            conn.exec_driver_sql(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{user}"')
            for grant in grants:
                conn.exec_driver_sql(f'{grant} TO "{user}"')
        restricted = admin.url.set(username=user, password="pw").render_as_string(hide_password=False)
        config = tmp_path / "config.yaml"
        config.write_text("\n".join(f'state: {{url: "{restricted}"}}' if line.startswith("state:") else line
                                    for line in config.read_text(encoding="utf-8").splitlines()) + "\n",
                          encoding="utf-8")
        yield user
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP OWNED BY "{user}"')
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{user}"')


def test_check_connect_names_a_state_store_its_user_may_not_write(tmp_path, make_database):
    import sqlalchemy as sa

    from syncd.engines import make_engine
    from syncd.state import StateStore

    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", f"sqlite:///{tmp_path / 'fep.db'}")
    state_url = make_database("postgresql")
    admin = make_engine(sa.make_url(state_url))
    StateStore(admin)                                   # the store exists, made by its owner
    try:
        with _state_user(tmp_path, admin) as user:      # reads only
            result = _check(tmp_path, "--connect")
            assert result.exit_code == 2, result.output
            said = " ".join(result.output.split())
            assert "[state]" in said and "Traceback" not in said
            assert "the state store's user may not INSERT syncd_watermark: GRANT INSERT ON " \
                   f'public.syncd_watermark TO "{user}"' in said
            assert "may not UPDATE syncd_reject" in said and "may not SELECT" not in said
    finally:
        admin.dispose()
        s.dispose()


def test_check_connect_asks_for_every_state_table_and_delete_where_syncd_deletes(tmp_path, make_database):
    """The audit journal, its head, the watched files and the alerts too, and DELETE where the store
    deletes rows (pruning the journal, resetting a watermark, forgetting a file or an incident)."""
    import sqlalchemy as sa

    from syncd import state
    from syncd.engines import make_engine
    from syncd.state import StateStore

    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", f"sqlite:///{tmp_path / 'fep.db'}")
    admin = make_engine(sa.make_url(make_database("postgresql")))
    StateStore(admin)
    old_four = "syncd_watermark, syncd_run, syncd_reject, syncd_meta"
    try:
        with _state_user(tmp_path, admin, f"GRANT INSERT, UPDATE ON {old_four}") as user:  # what check used to ask
            result = _check(tmp_path, "--connect")
            assert result.exit_code == 2, result.output
            said = " ".join(result.output.split())
            asked = set()
            for table in state.metadata.sorted_tables:
                privileges = ["INSERT"] * (table.name not in old_four) + ["UPDATE"] * (
                    table.name in state.UPDATED and table.name not in old_four) + ["DELETE"] * (
                    table.name in state.DELETED_FROM)
                for privilege in privileges:
                    assert f"the state store's user may not {privilege} {table.name}: GRANT {privilege} ON " \
                           f'public.{table.name} TO "{user}"' in said, (privilege, table.name, said)
                    asked.add((privilege, table.name))
            assert {("INSERT", "syncd_audit"), ("DELETE", "syncd_audit"), ("UPDATE", "syncd_audit_head"),
                    ("DELETE", "syncd_watermark"), ("DELETE", "syncd_file"), ("UPDATE", "syncd_alert")} <= asked
            assert "may not UPDATE syncd_audit:" not in said           # the journal is appended to, never changed
            assert said.count("the state store's user may not") == len(asked)

            with admin.begin() as conn:
                for privilege, table in asked:
                    conn.exec_driver_sql(f'GRANT {privilege} ON public.{table} TO "{user}"')
            result = _check(tmp_path, "--connect")
            assert "the state store's user may not" not in " ".join(result.output.split()), result.output
    finally:
        admin.dispose()
        s.dispose()


def test_the_state_privileges_asked_for_are_the_statements_the_store_runs():
    """UPDATED and DELETED_FROM follow the store's code: each sa.update / sa.delete of a table of
    the latest layout (migrations work on tables of their own)."""
    import inspect
    import re

    from syncd import state

    source = inspect.getsource(state)
    tables = {name: getattr(state, name).name for name in dir(state)
              if getattr(getattr(state, name), "name", None) in state.metadata.tables
              and getattr(state, name) is state.metadata.tables.get(getattr(state, name).name)}
    updated = {tables[n] for n in re.findall(r"sa\.update\((\w+)\)", source) if n in tables}
    deleted = {tables[n] for n in re.findall(r"sa\.delete\((\w+)\)", source) if n in tables}
    assert updated == state.UPDATED
    assert deleted == state.DELETED_FROM


# -- privilege checks have no side effects and do not hang on a locked table ------------------------

def test_check_connect_fires_no_statement_trigger_on_postgresql(tmp_path, make_database):
    """A statement trigger fires for an INSERT, UPDATE or DELETE that touches no row; check asks the
    catalogue (has_table_privilege, has_column_privilege) instead of running one. The trigger's log
    row would be rolled back with the probe, but what it does outside the transaction stays (Oracle's
    autonomous-transaction audit logging; here a sequence, which no rollback takes back)."""
    import sqlalchemy as sa

    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", make_database("postgresql"))
    try:
        (tmp_path / "mappings" / "record.yaml").write_text(
            (tmp_path / "mappings" / "record.yaml").read_text(encoding="utf-8") + "on_source_delete: delete\n",
            encoding="utf-8")
        with s.target.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE audit_log (op TEXT, at TIMESTAMPTZ DEFAULT now())")
            conn.exec_driver_sql("CREATE SEQUENCE audit_fired")
            conn.exec_driver_sql("CREATE FUNCTION log_op() RETURNS trigger LANGUAGE plpgsql AS "
                                 "$$ BEGIN PERFORM nextval('audit_fired'); INSERT INTO audit_log (op) VALUES (TG_OP); "
                                 "RETURN NULL; END $$")
            conn.exec_driver_sql("CREATE TRIGGER dp_record_audit AFTER INSERT OR UPDATE OR DELETE ON dp_record "
                                 "FOR EACH STATEMENT EXECUTE FUNCTION log_op()")
        with s.target.connect() as conn:                                  # the trigger fires on no rows
            conn.exec_driver_sql("DELETE FROM dp_record WHERE 1 = 0")
            assert conn.execute(sa.text("SELECT op FROM audit_log")).scalars().all() == ["DELETE"]
            conn.rollback()

        def fired() -> int:
            with s.target.connect() as conn:
                return conn.execute(sa.text("SELECT last_value FROM audit_fired")).scalar_one()
        before = fired()
        result = _check(tmp_path, "--connect")
        assert result.exit_code == 0, result.output
        assert fired() == before
        with s.target.connect() as conn:
            assert conn.execute(sa.text("SELECT op FROM audit_log")).scalars().all() == []
    finally:
        s.dispose()


def test_a_locked_table_is_reported_as_not_checked_without_waiting_the_lock_timeout(make_database):
    """MariaDB's triggers are all row triggers, so its privileges are still tried on no rows: with a
    2 s lock timeout, and a lock that outlasts it said to be one."""
    import time

    import sqlalchemy as sa

    from syncd.engines import make_engine, missing_privileges

    engine = make_engine(sa.make_url(make_database("mariadb")))
    holder = engine.connect()
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (id INT PRIMARY KEY, v INT)")
        holder.exec_driver_sql("LOCK TABLES t WRITE")
        started = time.monotonic()
        found = missing_privileges(engine, "t", None, select=["id", "v"], insert=["id", "v"], update=["v"],
                                   delete=True)
        assert time.monotonic() - started < 15
        assert found == [("SELECT", None), ("INSERT", None), ("UPDATE", None), ("DELETE", None)]
        holder.exec_driver_sql("UNLOCK TABLES")
        assert missing_privileges(engine, "t", None, select=["id", "v"], insert=["id", "v"], update=["v"],
                                  delete=True) == []
    finally:
        holder.close()
        engine.dispose()


def test_oracle_privileges_are_asked_of_the_dictionary():
    """Compiled against SQLAlchemy's Oracle dialect: no Oracle server runs here."""
    from sqlalchemy.dialects import oracle

    from syncd import dialects

    sa_dialect = oracle.dialect()
    ora = dialects.get("oracle")
    query = ora.privilege_query(sa_dialect, "dp_record", None, "FEP", "UPDATE", ["title", "Mixed"])
    compiled = query.compile(dialect=sa_dialect)
    sql = str(compiled)
    for piece in ("FROM session_privs", "FROM all_tab_privs p", "FROM all_col_privs p", "session_roles",
                  "p.column_name IN (:c0, :c1)", "FROM dual"):
        assert piece in sql, sql
    assert compiled.params == {"owner": "FEP", "name": "DP_RECORD", "privilege": "UPDATE",
                               "any_privilege": "UPDATE ANY TABLE", "c0": "TITLE", "c1": "Mixed", "columns": 2}
    select = ora.privilege_query(sa_dialect, "dp_record", "prov", "FEP", "SELECT", ["title"]).compile(
        dialect=sa_dialect)
    assert "all_col_privs" not in str(select) and select.params["owner"] == "PROV"


def test_a_lookback_the_cursor_cannot_use_is_a_warning(tmp_path):
    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", f"sqlite:///{tmp_path / 'fep.db'}", lookback="600")
    try:
        assert "lookback 600" not in _flat(_check(tmp_path, "--connect").output)   # an empty source tells nothing
        s.insert([{"id": 1, "update_time": s.now()}])
        result = _check(tmp_path, "--connect")
        assert result.exit_code == 0, result.output
        text = _flat(result.output)
        assert "record.yaml, line 12 [lookback]: mapping 'record': cursor update_time: lookback 600 is a plain number" \
            in text
        assert "not taken as seconds" in text and "lookback: 10m" in text
        s.write_mapping(lookback="10m")
        assert "[lookback]" not in _flat(_check(tmp_path, "--connect").output)
    finally:
        s.dispose()


def test_a_text_cursor_whose_newest_value_is_no_time_is_a_warning(tmp_path):
    """'未填' in a time column sorts after every date as text: it would become the watermark, and
    rows written later would not be read. check --connect says so; a SQLite DATETIME column (which
    holds text in one layout) says nothing while its values are times."""
    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", f"sqlite:///{tmp_path / 'fep.db'}")
    try:
        s.insert([{"id": 1, "update_time": s.now()}])
        result = _check(tmp_path, "--connect")
        assert result.exit_code == 0, result.output
        assert "cursor update_time" not in _flat(result.output)
        with s.source.begin() as conn:
            conn.execute(sa.text("INSERT INTO src_record (id, update_time) VALUES (2, '未填')"))
        text = _flat(_check(tmp_path, "--connect").output)
        assert "[source.cursor]: mapping 'record': cursor update_time: its newest value '未填' is neither a time " \
               "nor a number" in text, text
        assert "source.where" in text
    finally:
        s.dispose()
