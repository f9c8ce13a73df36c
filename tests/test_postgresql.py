"""PostgreSQL's bulk write path (COPY into a temporary table) and its fallback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from syncd import dialects
from syncd.dialects.base import Written
from syncd.target import Target
from tests.scenario import Scenario, target_meta


def test_copy_path_is_used_and_upserts(tmp_path, make_database):
    s = Scenario(tmp_path, make_database("sqlite"), make_database("postgresql"))
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 101))
    s.run()
    s.update(range(1, 51), title="再次", update_time=s.now())
    s.run()
    assert s.actual() == s.expected()
    with s.target.connect() as conn:
        upsert = dialects.get("postgresql").prepare(conn, dialects.get("postgresql").upsert(
            conn.dialect, "dp_record", None, ["id", "title"], ["id"], ["title"]))
    assert upsert.staging and upsert.staging[1].startswith("COPY syncd_stage_")
    s.dispose()


@contextmanager
def _limited_role(admin_url: str, role: str, grants: str, *first: str) -> Iterator[str]:
    """The URL of a new role holding ``grants`` on ``dp_record`` (created here) in the database of
    ``admin_url``, after the admin's statements ``first``; the role is dropped afterwards."""
    database = make_url(admin_url).database
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    target_meta.create_all(admin)
    with admin.connect() as conn:
        for statement in first:
            conn.execute(sa.text(statement.format(database=database)))
        conn.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN PASSWORD '{role}-pw'"))
        conn.execute(sa.text(f"GRANT {grants} ON dp_record TO {role}"))
    try:
        yield make_url(admin_url).set(username=role, password=f"{role}-pw").render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"REVOKE ALL ON dp_record FROM {role}"))
            conn.execute(sa.text(f'REVOKE ALL ON DATABASE "{database}" FROM {role}'))
            conn.execute(sa.text(f"DROP ROLE {role}"))
        admin.dispose()


def test_without_the_temp_privilege_it_falls_back_to_executemany(tmp_path, make_database):
    with _limited_role(make_database("postgresql"), "syncd_notemp", "SELECT, INSERT, UPDATE",
                       'REVOKE TEMPORARY ON DATABASE "{database}" FROM PUBLIC') as limited:
        s = Scenario(tmp_path, make_database("sqlite"), limited, create_target=False)
        s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 21))
        with s.target.connect() as conn:
            upsert = dialects.get("postgresql").prepare(conn, dialects.get("postgresql").upsert(
                conn.dialect, "dp_record", None, ["id"], ["id"], []))
        assert upsert.staging == ()
        first = s.run()
        assert not first.failed and first.results[0].counts.inserted == 20
        assert s.actual() == s.expected()
        # the executemany path counts too: the batch's keys first, then the rows the upsert wrote
        s.write_mapping(lookback="1h")
        s.update(range(1, 21), update_time=s.now() - timedelta(minutes=1))
        s.run()
        s.update([1], title="改过的")
        counts = s.run().results[0].counts
        assert (counts.rows_read, counts.inserted, counts.updated, counts.unchanged) == (20, 0, 1, 19)
        assert s.actual() == s.expected()
        s.dispose()


# --- a first full copy: COPY straight into an empty target -------------------------------------

#: one column of every type a batch goes straight into the target as, with their modifiers
_EVERY_TYPE = """CREATE TABLE {name} (
    id varchar(10) PRIMARY KEY, small smallint, whole integer, big bigint, dbl double precision,
    money numeric(6, 2), free numeric, body text, short varchar(3), fixed char(3), at timestamp(0),
    day date, flag boolean, blob bytea)"""
_COLUMNS = ("id", "small", "whole", "big", "dbl", "money", "free", "body", "short", "fixed", "at", "day", "flag",
            "blob")
_ROWS = [
    ("a", -32768, -2 ** 31, -2 ** 63, 0.1, Decimal("1.005"), Decimal("1e-20"), "隐患排查", "ab    ", "a",
     datetime(2026, 1, 2, 3, 4, 5, 600000), date(2026, 1, 2), True, b"\x00\xff"),
    ("b", 32767, 2 ** 31 - 1, 2 ** 63 - 1, 1e308, Decimal("-9999.994"), Decimal("123456789.123456789"), "",
     "xyz", "abc", datetime(1900, 12, 31, 23, 59, 59, 499999), date(1, 1, 1), False, b""),
    ("c", None, None, None, None, None, None, None, None, None, None, None, None, None),
    ("d", 0, 0, 0, -0.0, Decimal("0.001"), Decimal("-0"), "a\tb\nc\\d", "x  ", "  ", datetime(2026, 1, 1), None,
     None, None),
]


def _prepared(engine: sa.Engine, table: str, columns=_COLUMNS, update=_COLUMNS[1:]):
    d = dialects.get("postgresql")
    with engine.connect() as conn:
        return d.prepare(conn, d.upsert(conn.dialect, table, None, columns, ["id"], update))


def _texts(engine: sa.Engine, table: str) -> list[tuple[Any, ...]]:
    """Each stored value as the server's own text of it."""
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            f"SELECT {', '.join(f'CAST({c} AS text)' for c in _COLUMNS)} FROM {table} ORDER BY id"))]


def test_a_batch_sent_straight_into_the_table_stores_what_the_staged_insert_stores(make_database):
    engine = sa.create_engine(make_database("postgresql"))
    with engine.begin() as conn:
        for name in ("straight", "staged"):
            conn.execute(sa.text(_EVERY_TYPE.format(name=name)))
    straight = _prepared(engine, "straight")
    assert straight.direct is not None and straight.staging_types
    staged = replace(_prepared(engine, "staged"), direct=None)
    target = Target(engine, dialects.get("postgresql"))
    assert target.write(straight, list(_ROWS), ()) == Written(inserted=4)
    assert target.write(staged, list(_ROWS), ()) == Written(inserted=4)
    texts = _texts(engine, "straight")
    assert texts == _texts(engine, "staged")
    # the column modifiers were applied: rounded, trailing blanks cut
    assert texts[0][5] == "1.01" and texts[0][8] == "ab " and texts[0][10].endswith(":06")
    engine.dispose()


@pytest.mark.parametrize("path", ["straight", "staged", "executemany"])
def test_a_timestamptz_column_takes_mapped_times_as_times_in_defaults_timezone(make_database, path):
    """A mapped time has no zone: it is a time in defaults.timezone. A timestamptz column must
    store that moment whatever the server's own TimeZone (UTC on the test server): 10:00 in
    Asia/Shanghai is 02:00 UTC, by each way a batch is written."""
    from syncd.engines import make_engine

    url = make_url(make_database("postgresql"))
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text("CREATE TABLE moments (id varchar(10) PRIMARY KEY, at timestamptz)"))
        assert conn.execute(sa.text("SHOW TimeZone")).scalar() in ("UTC", "Etc/UTC")
    engine = make_engine(url, lock_timeout=timedelta(seconds=5), timezone="Asia/Shanghai")
    upsert = _prepared(engine, "moments", ("id", "at"), ("at",))
    if path != "straight":
        upsert = replace(upsert, direct=None)
    if path == "executemany":
        upsert = replace(upsert, staging=())
    rows = [("a", datetime(2026, 11, 1, 10, 0)), ("b", datetime(2026, 1, 1, 0, 0, 0, 500000))]
    assert Target(engine, dialects.get("postgresql")).write(upsert, rows, ("str", "datetime")) == Written(inserted=2)
    with admin.connect() as conn:
        stored = conn.execute(sa.text("SELECT id, CAST(at AT TIME ZONE 'UTC' AS text) FROM moments ORDER BY id")).all()
    assert [tuple(r) for r in stored] == [("a", "2026-11-01 02:00:00"), ("b", "2025-12-31 16:00:00.5")]
    engine.dispose()
    admin.dispose()


def test_a_column_named_with_another_case_than_the_tables_is_a_mapping_problem(tmp_path, make_database):
    """PostgreSQL keeps a quoted name's case and folds an unquoted one: a mapping's `title` for the
    table's "Title" would fail every batch. check --connect says how to write it instead of ok."""
    from click.testing import CliRunner

    from syncd import cli

    s = Scenario(tmp_path, make_database("sqlite"), make_database("postgresql"))
    with s.target.begin() as conn:
        conn.execute(sa.text('ALTER TABLE dp_record RENAME COLUMN title TO "Title"'))
    result = CliRunner().invoke(cli.cli, ["-c", str(tmp_path / "config.yaml"), "check", "--connect"])
    out = " ".join(result.output.split())
    assert result.exit_code == 2, out
    assert "[columns.title]" in out and "column 'title' is 'Title' in target table dp_record" in out
    s.dispose()


def test_a_run_that_finds_rows_in_the_table_stages_its_batches(make_database):
    engine = sa.create_engine(make_database("postgresql"))
    with engine.begin() as conn:
        conn.execute(sa.text(_EVERY_TYPE.format(name="t")))
    assert _prepared(engine, "t").direct is not None
    Target(engine, dialects.get("postgresql")).write(_prepared(engine, "t"), list(_ROWS[:1]), ())
    assert _prepared(engine, "t").direct is None
    engine.dispose()


def test_a_key_the_table_holds_since_the_run_began_sends_the_batch_the_staged_way(make_database):
    # another writer, or a batch committed before a crash that its checkpoint did not see
    engine = sa.create_engine(make_database("postgresql"))
    with engine.begin() as conn:
        conn.execute(sa.text(_EVERY_TYPE.format(name="t")))
    upsert = _prepared(engine, "t")
    assert upsert.direct is not None
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO t (id, body) VALUES ('b', 'old'), ('c', NULL)"))
    written = Target(engine, dialects.get("postgresql")).write(upsert, list(_ROWS), ())
    assert written == Written(inserted=2, updated=1, unchanged=1)
    assert [r[7] for r in _texts(engine, "t")] == ["隐患排查", "", None, "a\tb\nc\\d"]
    engine.dispose()


@pytest.mark.parametrize("column, value, refusal", [
    ("small", 2 ** 15, "smallint out of range"),
    ("whole", -2 ** 31 - 1, "integer out of range"),
    ("short", "abcd", "value too long for type character varying(3)"),
    ("money", Decimal("10000"), "numeric field overflow"),
])
def test_a_value_the_column_cannot_hold_is_refused_as_the_staged_insert_refuses_it(make_database, column, value,
                                                                                   refusal):
    # The binary encoding of smallint and integer would wrap 32768 to -32768: not sent straight in.
    engine = sa.create_engine(make_database("postgresql"))
    with engine.begin() as conn:
        conn.execute(sa.text(_EVERY_TYPE.format(name="t")))
    upsert = _prepared(engine, "t")
    assert upsert.direct is not None
    bad = dict(zip(_COLUMNS, _ROWS[2], strict=True)) | {"id": "x", column: value}
    with pytest.raises(sa.exc.DBAPIError) as refused:
        Target(engine, dialects.get("postgresql")).write(upsert, [_ROWS[0], tuple(bad.values())], ())
    assert refusal in str(refused.value) and "COPY t," not in str(refused.value)
    assert dialects.get("postgresql").is_row_error(refused.value)
    assert _texts(engine, "t") == []
    engine.dispose()


def test_a_table_with_a_rule_is_refused_as_before_not_copied_around_the_rule(tmp_path, make_database):
    # COPY would not apply the rule; the staged INSERT ... ON CONFLICT is refused with it
    s = Scenario(tmp_path, make_database("sqlite"), make_database("postgresql"))
    with s.target.begin() as conn:
        conn.execute(sa.text("CREATE TABLE seen (id varchar(64))"))
        conn.execute(sa.text("CREATE RULE log_new AS ON INSERT TO dp_record DO ALSO INSERT INTO seen VALUES (NEW.id)"))
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 11))
    result = s.run().results[0]
    assert result.status == "failed" and "cannot be used with table that has INSERT or UPDATE rules" in result.error
    assert s.actual() == {}
    s.dispose()


@pytest.mark.parametrize("ddl", [
    "CREATE FUNCTION keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$; "
    "CREATE TRIGGER kept AFTER UPDATE ON t FOR EACH STATEMENT EXECUTE FUNCTION keep()",
    "CREATE RULE r AS ON INSERT TO t DO ALSO NOTIFY t",
    "ALTER TABLE t ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE t DROP CONSTRAINT t_pkey, ADD PRIMARY KEY (id) DEFERRABLE",
    "ALTER TABLE t ALTER COLUMN whole ADD GENERATED ALWAYS AS IDENTITY",
    "ALTER TABLE t ALTER COLUMN dbl TYPE real",
    "ALTER TABLE t ALTER COLUMN at TYPE timestamptz",
    "ALTER TABLE t ALTER COLUMN body TYPE json USING to_json(body)",
    # ON CONFLICT (id) has no unique index to use: a COPY would take a key twice
    "ALTER TABLE t DROP CONSTRAINT t_pkey",
    "ALTER TABLE t DROP CONSTRAINT t_pkey, ADD PRIMARY KEY (id, whole)",
    "ALTER TABLE t DROP CONSTRAINT t_pkey; CREATE UNIQUE INDEX t_some ON t (id) WHERE body IS NOT NULL",
])
def test_what_a_copy_would_do_otherwise_than_the_insert_keeps_a_first_full_copy_staged(make_database, ddl):
    engine = sa.create_engine(make_database("postgresql"))
    with engine.begin() as conn:
        conn.execute(sa.text(_EVERY_TYPE.format(name="t")))
        conn.execute(sa.text("ALTER TABLE t ALTER COLUMN whole SET NOT NULL"))
        conn.exec_driver_sql(ddl)
    assert _prepared(engine, "t").direct is None
    engine.dispose()


def test_a_view_and_a_partitioned_table_are_staged(make_database):
    engine = sa.create_engine(make_database("postgresql"))
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE base (id varchar(10) PRIMARY KEY, body text)"))
        conn.execute(sa.text("CREATE VIEW v AS SELECT id, body FROM base"))
        conn.execute(sa.text("CREATE TABLE p (id varchar(10) PRIMARY KEY, body text) PARTITION BY LIST (id)"))
    assert _prepared(engine, "base", ("id", "body"), ("body",)).direct is not None
    assert _prepared(engine, "v", ("id", "body"), ("body",)).direct is None
    assert _prepared(engine, "p", ("id", "body"), ("body",)).direct is None
    engine.dispose()


def test_a_table_without_a_unique_key_fails_its_first_full_copy_as_before_and_holds_no_key_twice(tmp_path,
                                                                                                    make_database):
    s = Scenario(tmp_path, make_database("sqlite"), make_database("postgresql"))
    with s.target.begin() as conn:
        conn.execute(sa.text("ALTER TABLE dp_record DROP CONSTRAINT dp_record_pkey"))
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 11))
    result = s.run().results[0]
    assert result.status == "failed" and "no unique or exclusion constraint matching" in result.error
    assert s.target_ids() == []
    s.dispose()


def test_without_the_update_privilege_a_first_full_copy_fails_as_every_later_run_would(tmp_path, make_database):
    with _limited_role(make_database("postgresql"), "syncd_noupdate", "SELECT, INSERT") as limited:
        s = Scenario(tmp_path, make_database("sqlite"), limited, create_target=False)
        s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 6))
        result = s.run().results[0]
        assert result.status == "failed" and "permission denied" in result.error
        assert s.target_ids() == []
        s.dispose()
