"""A row that meets the row of another key on a unique index besides the mapping's key is a reject
naming that index and that row's key; it never overwrites that row (MySQL's ON DUPLICATE KEY UPDATE
updates the row met on ANY unique index), and the counts stay true. PostgreSQL refuses the same row
itself (ON CONFLICT names the key)."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from syncd import commands
from syncd.dialects import get as get_dialect

src = sa.Table("src_hazard", sa.MetaData(), sa.Column("id", sa.String(36), primary_key=True),
               sa.Column("ent", sa.String(9)), sa.Column("code", sa.String(36)), sa.Column("name", sa.String(200)),
               sa.Column("serial", sa.String(20)), sa.Column("update_time", sa.DateTime))

MAPPING = """\
name: hazard
source: {{table: src_hazard, key: id, cursor: update_time}}
target: {{table: {table}, key: id}}
batch_size: {batch_size}
lookback: 0s
lag: 0s
columns:
  id: {{from: id}}
  company_code: {{from: ent}}
  hazard_code: {{from: code}}
  hazard_name: {{from: name}}
"""

DDL = {
    "mariadb": [
        "CREATE TABLE dp_hazard (id VARCHAR(36) PRIMARY KEY, company_code VARCHAR(9) NOT NULL, "
        "hazard_code VARCHAR(36) NOT NULL, hazard_name VARCHAR(200), serial VARCHAR(20), "
        "UNIQUE KEY ux_dp_hazard_code (company_code, hazard_code), "
        "UNIQUE KEY ux_dp_hazard_id_name (id, hazard_name)) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"],
    "postgresql": [
        "CREATE TABLE dp_hazard (id VARCHAR(36) PRIMARY KEY, company_code VARCHAR(9) NOT NULL, "
        "hazard_code VARCHAR(36) NOT NULL, hazard_name VARCHAR(200), serial VARCHAR(20))",
        "CREATE UNIQUE INDEX ux_dp_hazard_code ON dp_hazard (company_code, hazard_code)",
        "CREATE UNIQUE INDEX ux_dp_hazard_id_name ON dp_hazard (id, hazard_name)"],
}

BASE = datetime(2026, 11, 1, 10)


def _project(tmp_path, target_url: str, ddl: list[str], *, table: str = "dp_hazard", batch_size: int = 50,
             mapping: str = MAPPING) -> sa.Engine:
    source = sa.create_engine(f"sqlite:///{tmp_path / 'county.db'}")
    src.metadata.create_all(source)
    source.dispose()
    target = sa.create_engine(target_url)
    with target.begin() as conn:
        for statement in ddl:
            conn.execute(sa.text(statement))
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "hazard.yaml").write_text(mapping.format(table=table, batch_size=batch_size),
                                                       encoding="utf-8")
    (tmp_path / "config.yaml").write_text(textwrap.dedent(f"""\
        source: {{url: "sqlite:///{tmp_path / 'county.db'}"}}
        target: {{url: "{target_url}"}}
        state: {{url: "sqlite:///{tmp_path / 'state.db'}"}}
        mappings: mappings
        """), encoding="utf-8")
    return target


def _source(tmp_path, *rows: tuple, update: dict[str, str] | None = None) -> None:
    """Insert source rows (id, ent, code, name, minute); ``update``: id -> a new name, a minute later."""
    source = sa.create_engine(f"sqlite:///{tmp_path / 'county.db'}")
    with source.begin() as conn:
        if rows:
            conn.execute(src.insert(), [{"id": i, "ent": e, "code": c, "name": n, "serial": None,
                                         "update_time": BASE + timedelta(minutes=m)} for i, e, c, n, m in rows])
        for key, name in (update or {}).items():
            later = conn.execute(sa.select(sa.func.max(src.c.update_time))).scalar()
            conn.execute(src.update().where(src.c.id == key).values(
                name=name, update_time=datetime.fromisoformat(str(later)) + timedelta(minutes=1)))
    source.dispose()


def _run(tmp_path):
    project = commands.open_project(tmp_path / "config.yaml")
    result = commands.run_once(project).results[0]
    assert result.status == "ok", result.error
    rejects = {r["key"]: r["reason"] for r in commands.rejects(project, mapping="hazard")}
    c = result.counts
    return {"inserted": c.inserted, "updated": c.updated, "unchanged": c.unchanged, "rejected": c.rows_rejected,
            "written": c.rows_written}, rejects


def _rows(target: sa.Engine, table: str = "dp_hazard") -> dict[str, tuple]:
    with target.connect() as conn:
        return {r[0]: tuple(r[1:]) for r in conn.execute(sa.text(
            f"SELECT id, company_code, hazard_code, hazard_name FROM {table}"))}


@pytest.mark.parametrize("batch_size", [50, 1], ids=["one-batch", "row-by-row"])
@pytest.mark.parametrize("kind", ["mariadb", "postgresql"])
def test_a_row_meeting_another_keys_row_on_a_unique_index_is_a_reject_and_never_overwrites_it(
        tmp_path, make_database, kind, batch_size):
    target = _project(tmp_path, make_database(kind), DDL[kind], batch_size=batch_size)
    try:
        _source(tmp_path, ("h1", "914101001", "WX001", "tank farm A", 0), ("h5", "914101001", "WX005", "silo", 1))
        assert _run(tmp_path)[0]["inserted"] == 2
        _source(tmp_path,
                ("h2", "914101001", "wx001 ", "boiler B", 10),     # equal to h1's under _ci and PAD SPACE
                ("h3", "914101001", "WX001", "boiler C", 11),      # equal to h1's
                ("h4", "914101002", "WX001", "other company", 12),  # another company: no conflict
                ("h7", "914101001", "NEW1", "pump", 13),
                ("h8", "914101001", "NEW1", "pump again", 14),     # meets h7, new in the same batch
                update={"h1": "tank farm A, renamed"})
        counts, rejects = _run(tmp_path)
        rows = _rows(target)
        assert rows["h1"] == ("914101001", "WX001", "tank farm A, renamed")
        assert rows["h5"] == ("914101001", "WX005", "silo")
        assert rows["h7"] == ("914101001", "NEW1", "pump")
        assert rows["h4"] == ("914101002", "WX001", "other company")
        assert "h3" not in rows and "h8" not in rows
        if kind == "mariadb":
            # h2 is h1's code as the collation compares it: a reject too, naming the index and h1
            assert set(rejects) == {"h2", "h3", "h8"}
            assert counts == {"inserted": 2, "updated": 1, "unchanged": 0, "rejected": 3, "written": 3}
            for key, other in (("h2", "id=h1"), ("h3", "id=h1"), ("h8", "id=h7")):
                assert "ux_dp_hazard_code" in rejects[key] and other in rejects[key], rejects[key]
            assert "h2" not in rows
        else:
            # PostgreSQL's collation tells 'wx001 ' from 'WX001': h2 is a row of its own
            assert set(rejects) == {"h3", "h8"}
            assert counts == {"inserted": 3, "updated": 1, "unchanged": 0, "rejected": 2, "written": 4}
            assert all("ux_dp_hazard_code" in rejects[k] for k in ("h3", "h8"))
        # the next run reads nothing new; the rejects are retried, and still refused, nothing overwritten
        counts, again = _run(tmp_path)
        assert set(again) == set(rejects) and counts["written"] == 0
        assert _rows(target) == rows
    finally:
        target.dispose()


def test_mariadb_a_row_whose_key_is_a_unique_index_meeting_another_row_is_a_reject(tmp_path, make_database):
    # The key is a unique index, the primary key another: InnoDB meets a row on the primary key
    # first, so a row meeting its own key's row and another's on the primary key updates the other.
    target = _project(tmp_path, make_database("mariadb"), [
        "CREATE TABLE dp_hazard2 (company_code VARCHAR(9) NOT NULL, hazard_code VARCHAR(36) NOT NULL, "
        "id VARCHAR(36) NOT NULL, hazard_name VARCHAR(200), PRIMARY KEY (company_code, hazard_code), "
        "UNIQUE KEY ux_id (id))"], table="dp_hazard2")
    try:
        _source(tmp_path, ("a", "914101001", "C1", "first", 0), ("b", "914101001", "C2", "second", 1))
        assert _run(tmp_path)[0]["inserted"] == 2
        source = sa.create_engine(f"sqlite:///{tmp_path / 'county.db'}")
        with source.begin() as conn:     # a takes b's code
            conn.execute(src.update().where(src.c.id == "a").values(code="C2", name="first, recoded",
                                                                      update_time=BASE + timedelta(minutes=5)))
        source.dispose()
        counts, rejects = _run(tmp_path)
        assert set(rejects) == {"a"} and "PRIMARY" in rejects["a"] and "id=b" in rejects["a"], rejects
        assert counts == {"inserted": 0, "updated": 0, "unchanged": 0, "rejected": 1, "written": 0}
        assert _rows(target, "dp_hazard2") == {"a": ("914101001", "C1", "first"), "b": ("914101001", "C2", "second")}
    finally:
        target.dispose()


def test_mariadb_other_unique_indexes_are_found_once_at_prepare(make_database):
    engine = sa.create_engine(make_database("mariadb"))
    dialect = get_dialect("mysql")
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(
                "CREATE TABLE t (id VARCHAR(36) PRIMARY KEY, a VARCHAR(20), b VARCHAR(20), c VARCHAR(20), "
                "unsent VARCHAR(20), UNIQUE KEY ux_ab (a, b), UNIQUE KEY ux_with_key (b, id), "
                "UNIQUE KEY ux_c_prefix (c(4)), UNIQUE KEY ux_unsent (a, unsent))"))
            conn.execute(sa.text("CREATE TABLE plain (id VARCHAR(36) PRIMARY KEY, a VARCHAR(20))"))
        with engine.connect() as conn:
            upsert = dialect.upsert(engine.dialect, "t", None, ["id", "a", "b", "c"], ["id"], ["a", "b", "c"])
            prepared = dialect.prepare(conn, upsert)
            # the key's own index, one holding the key, one on a column the mapping does not fill: not checked
            assert {(u.name, u.columns) for u in prepared.other_unique} == {("ux_ab", ("a", "b")),
                                                                             ("ux_c_prefix", ("c",))}
            plain = dialect.upsert(engine.dialect, "plain", None, ["id", "a"], ["id"], ["a"])
            assert dialect.prepare(conn, plain) is plain     # nothing to check: nothing changes
        with engine.begin() as conn:
            cursor = conn.connection.cursor()
            dialect.write(cursor, prepared, [("x1", "p", "q", "abcd-1")], ["str"] * 4)
            # a prefix index compares the first 4 characters: 'abcd-2' meets x1's 'abcd-1'
            with pytest.raises(sa.exc.IntegrityError, match=r"ux_c_prefix.*id=x1"):
                dialect.write(cursor, prepared, [("x2", None, None, "ABCD-2")], ["str"] * 4)
            # NULLs never meet: two rows with (NULL, NULL) on ux_ab
            dialect.write(cursor, prepared, [("x3", None, None, None), ("x4", None, None, None)], ["str"] * 4)
    finally:
        engine.dispose()


@pytest.mark.parametrize(("ddl", "kind", "first", "second"), [
    # DATETIME(0) drops the fraction: 10:00:00.4 is stored 10:00:00, which x1 holds
    ("DATETIME UNIQUE", "datetime", datetime(2026, 11, 1, 10), datetime(2026, 11, 1, 10, 0, 0, 400000)),
    # DECIMAL(6, 1) rounds 2.04 to 2.0
    ("DECIMAL(6, 1) UNIQUE", "decimal", Decimal("2.0"), Decimal("2.04"))], ids=["datetime", "decimal"])
def test_mariadb_a_value_is_looked_for_as_the_column_stores_it(make_database, ddl, kind, first, second):
    engine = sa.create_engine(make_database("mariadb"))
    dialect = get_dialect("mysql")
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE TABLE t (id VARCHAR(36) PRIMARY KEY, v {ddl}, n INT)"))
        upsert = dialect.upsert(engine.dialect, "t", None, ["id", "v", "n"], ["id"], ["v", "n"])
        with engine.connect() as conn:
            upsert = dialect.prepare(conn, upsert)
        kinds = ["str", kind, "int"]
        with engine.begin() as conn:
            cursor = conn.connection.cursor()
            dialect.write(cursor, upsert, [("x1", first, 1)], kinds)
        with pytest.raises(sa.exc.IntegrityError, match=r"id=x1"), engine.begin() as conn:
            cursor = conn.connection.cursor()
            dialect.write(cursor, upsert, [("x2", second, 2)], kinds)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT id, n FROM t")).all() == [("x1", 1)]
    finally:
        engine.dispose()
