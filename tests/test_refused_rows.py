"""Values the target cannot hold: each becomes one reject with the database's reason (or a reason
checked before the write), the rest of the batch commits, and the job's other mappings still run."""

from __future__ import annotations

import re
import textwrap
from decimal import Decimal

import pytest
import sqlalchemy as sa

from syncd import commands

source_meta = sa.MetaData()
src = sa.Table("src_dirty", source_meta, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
               sa.Column("n", sa.BigInteger), sa.Column("amount", sa.Numeric(12, 3)), sa.Column("name", sa.Text),
               sa.Column("update_time", sa.DateTime))

MAPPING = """\
name: {name}
source: {{table: src_dirty, key: id, cursor: update_time}}
target: {{table: {table}, key: id}}
batch_size: 50
lookback: 0s
lag: 0s
columns:
  id: {{from: id}}
  n: {{from: n}}
  amount: {{from: amount}}
  name: {{from: name}}
"""

GOOD = {"n": 7, "amount": Decimal("12.5"), "name": "合格"}


def _setup(tmp_path, target_url: str, target_ddl: list[str]) -> sa.Engine:
    from datetime import datetime, timedelta

    source = sa.create_engine(f"sqlite:///{tmp_path / 'county.db'}")
    source_meta.create_all(source)
    base = datetime(2026, 1, 1, 8)
    rows = [{"id": i, **GOOD, "update_time": base + timedelta(seconds=i)} for i in range(1, 41)]
    rows[4].update(n=3_000_000_000)                 # INT overflow
    rows[11].update(amount=Decimal("-999.999"))     # rounds to -1000.00: out of DECIMAL(5,2)
    rows[19].update(name="㐀𠀀")                     # not in GBK
    rows[29].update(name="a\x00b")                  # NUL
    with source.begin() as conn:
        conn.execute(src.insert(), rows)
    source.dispose()
    target = sa.create_engine(target_url)
    with target.begin() as conn:
        for statement in target_ddl:
            conn.execute(sa.text(statement))
    (tmp_path / "mappings").mkdir()
    for name, table in (("a_dirty", "dp_dirty"), ("b_clean", "dp_clean")):
        (tmp_path / "mappings" / f"{name}.yaml").write_text(MAPPING.format(name=name, table=table), encoding="utf-8")
    (tmp_path / "config.yaml").write_text(textwrap.dedent(f"""\
        source: {{url: "sqlite:///{tmp_path / 'county.db'}"}}
        target: {{url: "{target_url}"}}
        state: {{url: "sqlite:///{tmp_path / 'state.db'}"}}
        mappings: mappings
        """), encoding="utf-8")
    return target


def _ids(target: sa.Engine, table: str) -> set[int]:
    with target.connect() as conn:
        return {int(i) for i in conn.execute(sa.text(f"SELECT id FROM {table}")).scalars()}


def test_mariadb_refused_values_become_rejects_and_the_rest_commits(tmp_path, make_database):
    target = _setup(tmp_path, make_database("mariadb"), [
        "CREATE TABLE dp_dirty (id INT PRIMARY KEY, n INT, amount DECIMAL(5,2), name VARCHAR(20)) "
        "CHARACTER SET gbk",
        "CREATE TABLE dp_clean (id INT PRIMARY KEY, n BIGINT, amount DECIMAL(12,3), name VARCHAR(20)) "
        "CHARACTER SET utf8mb4",
        # the province's own check, as a trigger: only the database can say no to this row
        "CREATE TRIGGER refuse_33 BEFORE INSERT ON dp_dirty FOR EACH ROW "
        "IF NEW.id = 33 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by the province'; END IF"])
    try:
        report = commands.run_once(commands.open_project(tmp_path / "config.yaml"))
        results = {r.mapping: r for r in report.results}
        assert results["a_dirty"].status == "ok", results["a_dirty"].error
        assert results["b_clean"].status == "ok", results["b_clean"].error
        assert _ids(target, "dp_dirty") == set(range(1, 41)) - {5, 12, 20, 33}
        assert _ids(target, "dp_clean") == set(range(1, 41))
        rejects = {r["key"]: r["reason"] for r in commands.rejects(commands.open_project(tmp_path / "config.yaml"),
                                                                   mapping="a_dirty")}
        assert set(rejects) == {"5", "12", "20", "33"}
        assert rejects["33"].startswith("the target refused the row") and "refused by the province" in rejects["33"]
        # a value out of range: found before the write, naming the column
        assert rejects["5"].startswith("n: 3000000000 is out of range: the column holds whole numbers from "
                                       "-2147483648 to 2147483647")
        assert "amount" in rejects["12"] or "1264" in rejects["12"]
        assert "gbk column cannot store" in rejects["20"]       # checked before the write
    finally:
        target.dispose()


def test_postgresql_refused_values_become_rejects_and_the_rest_commits(tmp_path, make_database):
    target = _setup(tmp_path, make_database("postgresql"), [
        "CREATE TABLE dp_dirty (id INT PRIMARY KEY, n INT, amount NUMERIC(5,2), name VARCHAR(20))",
        "CREATE TABLE dp_clean (id INT PRIMARY KEY, n BIGINT, amount NUMERIC(12,3), name VARCHAR(20))",
        "CREATE FUNCTION refuse_33() RETURNS trigger AS $$ BEGIN IF NEW.id = 33 THEN "
        "RAISE EXCEPTION 'refused by the province'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_33 BEFORE INSERT ON dp_dirty FOR EACH ROW EXECUTE FUNCTION refuse_33()"])
    try:
        report = commands.run_once(commands.open_project(tmp_path / "config.yaml"))
        results = {r.mapping: r for r in report.results}
        assert results["a_dirty"].status == "ok", results["a_dirty"].error
        assert _ids(target, "dp_dirty") == set(range(1, 41)) - {5, 12, 30, 33}
        rejects = {r["key"]: r["reason"] for r in commands.rejects(commands.open_project(tmp_path / "config.yaml"),
                                                                   mapping="a_dirty")}
        assert set(rejects) == {"5", "12", "30", "33"}
        assert rejects["33"].startswith("the target refused the row") and "refused by the province" in rejects["33"]
        assert "NUL character" in rejects["30"]
        assert rejects["5"].startswith("n: 3000000000 is out of range: the column holds whole numbers from "
                                       "-2147483648 to 2147483647")
        assert _ids(target, "dp_clean") == set(range(1, 41)) - {30}
    finally:
        target.dispose()


@pytest.mark.parametrize("kind", ["mariadb", "postgresql"])
def test_a_fixed_row_is_written_by_the_next_run(tmp_path, make_database, kind):
    ddl = ("CREATE TABLE dp_dirty (id INT PRIMARY KEY, n INT, amount DECIMAL(5,2), name VARCHAR(20))",
           "CREATE TABLE dp_clean (id INT PRIMARY KEY, n BIGINT, amount DECIMAL(12,3), name VARCHAR(20))")
    target = _setup(tmp_path, make_database(kind), list(ddl))
    try:
        commands.run_once(commands.open_project(tmp_path / "config.yaml"))
        source = sa.create_engine(f"sqlite:///{tmp_path / 'county.db'}")
        with source.begin() as conn:
            conn.execute(src.update().values(n=5, amount=Decimal("1.5"), name="改好"))
        source.dispose()
        report = commands.run_once(commands.open_project(tmp_path / "config.yaml"))
        assert {r.mapping: r.status for r in report.results} == {"a_dirty": "ok", "b_clean": "ok"}
        assert _ids(target, "dp_dirty") == set(range(1, 41))
        assert commands.rejects(commands.open_project(tmp_path / "config.yaml"), mapping="a_dirty") == []
    finally:
        target.dispose()


MB = 1_000_000
huge_src = sa.Table("src_huge", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                    sa.Column("n", sa.Text), sa.Column("name", sa.Text), sa.Column("update_time", sa.DateTime))


@pytest.mark.parametrize("kind", ["mariadb", "postgresql"])
def test_a_megabyte_value_in_a_reject_reason_is_cut_with_its_length(tmp_path, make_database, kind):
    import time
    from datetime import datetime

    source = sa.create_engine(f"sqlite:///{tmp_path / 'county.db'}")
    huge_src.metadata.create_all(source)
    with source.begin() as conn:
        conn.execute(huge_src.insert(), [
            {"id": 1, "n": "7" * MB + "x", "name": "ok", "update_time": datetime(2026, 1, 1, 8)},  # no whole number
            {"id": 2, "n": "7", "name": "y" * MB, "update_time": datetime(2026, 1, 1, 8, 0, 1)},  # the database refuses
            {"id": 3, "n": "8", "name": "fine", "update_time": datetime(2026, 1, 1, 8, 0, 2)}])
    source.dispose()
    target_url = make_database(kind)
    target = sa.create_engine(target_url)
    refuse = ({"mariadb": [
        "CREATE TABLE dp_huge (id INT PRIMARY KEY, n INT, name LONGTEXT)",
        "CREATE TRIGGER refuse_long BEFORE INSERT ON dp_huge FOR EACH ROW "
        "IF LENGTH(NEW.name) > 100 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'name too long'; END IF"],
        "postgresql": [
        "CREATE TABLE dp_huge (id INT PRIMARY KEY, n INT, name TEXT)",
        # the database's message quotes the whole megabyte value
        "CREATE FUNCTION refuse_long() RETURNS trigger AS $$ BEGIN IF length(NEW.name) > 100 THEN "
        "RAISE EXCEPTION 'name % is too long', NEW.name; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_long BEFORE INSERT ON dp_huge FOR EACH ROW EXECUTE FUNCTION refuse_long()"]})[kind]
    with target.begin() as conn:
        for statement in refuse:
            conn.execute(sa.text(statement))
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "huge.yaml").write_text(textwrap.dedent("""\
        name: huge
        source: {table: src_huge, key: id, cursor: update_time}
        target: {table: dp_huge, key: id}
        lookback: 0s
        lag: 0s
        columns:
          id: {from: id}
          n: {from: n}
          name: {from: name}
        """), encoding="utf-8")
    (tmp_path / "config.yaml").write_text(textwrap.dedent(f"""\
        source: {{url: "sqlite:///{tmp_path / 'county.db'}"}}
        target: {{url: "{target_url}"}}
        state: {{url: "sqlite:///{tmp_path / 'state.db'}"}}
        mappings: mappings
        """), encoding="utf-8")
    try:
        started = time.perf_counter()
        report = commands.run_once(commands.open_project(tmp_path / "config.yaml"))
        rejects = {r["key"]: r for r in commands.rejects(commands.open_project(tmp_path / "config.yaml"))}
        seconds = time.perf_counter() - started
        assert seconds < 30, f"took {seconds:.1f}s"
        assert report.results[0].status == "ok", report.results[0].error
        assert _ids(target, "dp_huge") == {3}
        assert set(rejects) == {"1", "2"}
        for reject in rejects.values():
            assert len(reject["reason"]) < 1200
        assert "is not a whole number" in rejects["1"]["reason"]           # how it ends is kept
        assert re.search(r"… \(cut: 10000\d\d characters in all\) …", rejects["1"]["reason"])
        assert rejects["1"]["row"]["n"] == "7" * MB + "x"                   # the row itself is kept whole
        assert "too long" in rejects["2"]["reason"]
        if kind == "postgresql":
            assert "characters in all" in rejects["2"]["reason"]
    finally:
        target.dispose()


def _project(tmp_path, source_url: str, target_url: str, source_ddl: list[str], target_ddl: list[str],
             columns: list[str]) -> tuple[sa.Engine, commands.Project]:
    """A mapping ``m`` from table ``src`` (key id, cursor update_time) to ``dst``, copying ``columns``;
    no retries: a batch taken for a network error fails the run at once."""
    for url, ddl in ((source_url, source_ddl), (target_url, target_ddl)):
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            for statement in ddl:
                conn.execute(sa.text(statement))
        engine.dispose()
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "m.yaml").write_text(
        "source: {table: src, key: id, cursor: update_time}\ntarget: {table: dst, key: id}\ncolumns:\n"
        + "".join(f"  {c}: {{from: {c}}}\n" for c in ["id", *columns]), encoding="utf-8")
    (tmp_path / "config.yaml").write_text(textwrap.dedent(f"""\
        source: {{url: "{source_url}"}}
        target: {{url: "{target_url}"}}
        state: {{url: "sqlite:///{tmp_path / 'state.db'}"}}
        mappings: mappings
        defaults: {{lookback: 0s, lag: 0s, retries: 0}}
        """), encoding="utf-8")
    return sa.create_engine(target_url), commands.open_project(tmp_path / "config.yaml")


def _run(project: commands.Project) -> dict[str, str]:
    """One run of mapping ``m``, which must end ok; its rejects, reason by key."""
    report = commands.run_once(project)
    assert [(r.status, r.error) for r in report.results] == [("ok", None)]
    return {r["key"]: r["reason"] for r in commands.rejects(project, mapping="m")}


@pytest.mark.parametrize("kind", ["mariadb", "postgresql"])
def test_a_refused_row_whose_text_holds_network_words_is_one_reject(tmp_path, make_database, kind):
    """The database's message about a refused row quotes the row (PostgreSQL's DETAIL: Failing row
    contains ...) or a trigger's text: words such as "connection refused" or "timed out" in it do not
    make it a network error to retry; the row is a reject and the others are written."""
    remark = "PLC alarm: connection refused at pump 3, read timed out"
    refuse = {"mariadb": ["CREATE TABLE dst (id INT PRIMARY KEY, remark VARCHAR(200), level INT)",
                          "CREATE TRIGGER refuse BEFORE INSERT ON dst FOR EACH ROW IF NEW.level > 4 THEN "
                          "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'level 9: pump timed out, network down'; "
                          "END IF"],
              "postgresql": ["CREATE TABLE dst (id INT PRIMARY KEY, remark VARCHAR(200), "
                             "level INT CHECK (level BETWEEN 1 AND 4))"]}[kind]
    target, project = _project(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", make_database(kind), [
        "CREATE TABLE src (id INTEGER PRIMARY KEY, remark TEXT, level INTEGER, update_time TEXT)",
        f"INSERT INTO src VALUES (1, 'ok', 2, '2026-11-01 10:00:00'), (2, '{remark}', 9, '2026-11-01 10:00:01'), "
        "(3, 'ok too', 3, '2026-11-01 10:00:02')"], refuse, ["remark", "level"])
    try:
        rejects = _run(project)
        assert list(rejects) == ["2"] and rejects["2"].startswith("the target refused the row")
        assert _ids(target, "dst") == {1, 3}
    finally:
        target.dispose()


@pytest.mark.parametrize("kind", ["mariadb", "postgresql"])
def test_nan_and_infinity_are_rejects_where_the_target_cannot_hold_them(tmp_path, make_database, kind):
    """County systems keep numbers as text: 'NaN', '-inf', '1e999' (infinity) are floats. MariaDB's
    DOUBLE holds none of them (its driver refuses to send them): each is a reject saying so, the
    other rows are written. PostgreSQL's double precision holds them: written."""
    target, project = _project(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", make_database(kind), [
        "CREATE TABLE src (id INTEGER PRIMARY KEY, amount TEXT, update_time TEXT)",
        "INSERT INTO src VALUES (1, '12.5', '2026-11-01 10:00:00'), (2, 'NaN', '2026-11-01 10:00:01'), "
        "(3, '7', '2026-11-01 10:00:02'), (4, '-inf', '2026-11-01 10:00:03'), (5, '1e999', '2026-11-01 10:00:04')"],
        [f"CREATE TABLE dst (id INT PRIMARY KEY, amount {'DOUBLE' if kind == 'mariadb' else 'double precision'})"],
        ["amount"])
    try:
        rejects = _run(project)
        with target.connect() as conn:
            stored = dict(conn.execute(sa.text("SELECT id, amount FROM dst")).all())
        if kind == "mariadb":
            assert stored == {1: 12.5, 3: 7.0}
            assert rejects == {k: f"amount: {v!r} is not a finite number, and the target's floating-point columns "
                                  "hold no NaN or infinity" for k, v in (("2", "NaN"), ("4", "-inf"), ("5", "1e999"))}
        else:
            assert rejects == {}
            assert stored[1] == 12.5 and stored[2] != stored[2] and stored[4] == float("-inf") \
                and stored[5] == float("inf")
    finally:
        target.dispose()


@pytest.mark.parametrize("kind", ["mariadb", "postgresql"])
def test_json_read_from_postgresql_is_written_as_its_json_text(tmp_path, make_database, kind):
    """psycopg reads json and jsonb as a dict or a list, which no driver sends as it is: it goes into a
    JSON column or a text column as its JSON text (characters as they are); an array stays an array."""
    jsonb, json, array = {"mariadb": ("JSON", "JSON", "TEXT"), "postgresql": ("jsonb", "json", "int[]")}[kind]
    target, project = _project(tmp_path, make_database("postgresql"), make_database(kind), [
        "CREATE TABLE src (id int PRIMARY KEY, doc jsonb, plain json, note jsonb, nums int[], "
        "update_time timestamp)",
        """INSERT INTO src VALUES (1, '{"隐患": "管道", "n": [1, 2]}', '[{"b": 1, "a": null}]', '{"k": "v"}',
                                   '{4,5}', '2026-11-01 10:00:00'),
                                  (2, NULL, NULL, NULL, NULL, '2026-11-01 10:00:01')"""],
        [f"CREATE TABLE dst (id INT PRIMARY KEY, doc {jsonb}, plain {json}, note TEXT, nums {array})"],
        ["doc", "plain", "note", "nums"])
    try:
        assert _run(project) == {}
        with target.connect() as conn:
            rows = {r[0]: r[1:] for r in conn.execute(sa.text("SELECT id, doc, plain, note, nums FROM dst"))}
        doc, plain, note, nums = rows[1]
        decoded = (lambda v: __import__("json").loads(v)) if kind == "mariadb" else (lambda v: v)
        assert decoded(doc) == {"隐患": "管道", "n": [1, 2]} and decoded(plain) == [{"b": 1, "a": None}]
        assert note == '{"k": "v"}'
        assert nums == ("[4, 5]" if kind == "mariadb" else [4, 5])
        assert rows[2] == (None, None, None, None)
    finally:
        target.dispose()


def test_a_value_the_driver_cannot_send_is_a_reject_of_its_row(tmp_path, make_database):
    """A value that passes the casts but that the driver refuses to send before the database sees the
    batch (PyMySQL and an infinity, here into a YEAR column, a type syncd passes on as read): the
    batch is split like one the database refused, the row is a reject, the others are written."""
    target, project = _project(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", make_database("mariadb"), [
        "CREATE TABLE src (id INTEGER PRIMARY KEY, built REAL, update_time TEXT)",
        "INSERT INTO src VALUES (1, 1998, '2026-11-01 10:00:00'), (2, 9e999, '2026-11-01 10:00:01'), "
        "(3, 2004, '2026-11-01 10:00:02')"],
        ["CREATE TABLE dst (id INT PRIMARY KEY, built YEAR)"], ["built"])
    try:
        rejects = _run(project)
        assert rejects == {"2": "the target refused the row: ProgrammingError: inf can not be used with MySQL"}
        with target.connect() as conn:
            assert dict(conn.execute(sa.text("SELECT id, built FROM dst")).all()) == {1: 1998, 3: 2004}
    finally:
        target.dispose()
