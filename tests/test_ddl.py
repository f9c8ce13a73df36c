"""The table definitions, the generated DDL and docs, and the demo county data."""

from __future__ import annotations

import re
import sqlite3
import struct
import time
import zlib
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from syncd import ddl, demodata

ROOT = Path(__file__).resolve().parent.parent


def test_committed_files_match_the_yaml() -> None:
    stale = [str(path) for path, content in ddl.rendered_files(ROOT).items()
             if not (ROOT / path).is_file() or (ROOT / path).read_text(encoding="utf-8") != content]
    assert not stale, f"regenerate with `syncd ddl`: {stale}"


def test_write_all_reproduces_the_committed_files(tmp_path: Path) -> None:
    for relative in (ddl.REFERENCE_YAML, ddl.COUNTY_YAML):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text((ROOT / relative).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / ddl.CODES_DIR).mkdir(parents=True)
    for path in (ROOT / ddl.CODES_DIR).glob("*.yaml"):
        (tmp_path / ddl.CODES_DIR / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    written = ddl.write_all(tmp_path)
    assert len(written) == 8
    for path in written:
        relative = path.relative_to(tmp_path)
        assert path.read_text(encoding="utf-8") == (ROOT / relative).read_text(encoding="utf-8")


def _apply(script: Path, db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        conn.executescript(script.read_text(encoding="utf-8"))
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


def test_reference_sqlite_ddl_creates_every_table(tmp_path: Path) -> None:
    tables = _apply(ROOT / "sql/reference/sqlite.sql", tmp_path / "target.db")
    expected = set(ddl.load_tables(ROOT / ddl.REFERENCE_YAML).tables)
    assert tables == expected
    assert expected == {"dp_hazard", "dp_risk_unit", "dp_risk_event", "dp_risk_measure", "dp_check_task",
                        "dp_check_record", "dp_hidden_danger", "dp_unit_stop", "dp_risk_zone", "dp_risk_map"}


def test_county_sqlite_ddl_creates_every_table(tmp_path: Path) -> None:
    tables = _apply(ROOT / "sql/county/sqlite.sql", tmp_path / "county.db")
    assert tables == set(ddl.load_tables(ROOT / ddl.COUNTY_YAML).tables)


def test_every_reference_table_has_audit_and_government_columns() -> None:
    metadata = ddl.load_tables(ROOT / ddl.REFERENCE_YAML)
    for table in metadata.tables.values():
        names = set(table.c.keys())
        assert {"deleted", "create_date", "create_by", "update_date", "update_by",
                "area_code", "sync_time", "run_id"} <= names, table.name
        assert table.c.id.primary_key and table.name.startswith("dp_")


def test_county_tables_have_update_time_index_and_del_flag() -> None:
    metadata = ddl.load_tables(ROOT / ddl.COUNTY_YAML)
    for table in metadata.tables.values():
        assert "del_flag" in table.c and "qy_bm" in table.c, table.name
        assert isinstance(table.c.id.type, sa.Integer)
        assert any(list(i.columns) == [table.c.update_time] for i in table.indexes), table.name


def test_oracle_strings_use_char_semantics() -> None:
    text = (ROOT / "sql/reference/oracle.sql").read_text(encoding="utf-8")
    assert "VARCHAR2(36 CHAR)" in text
    assert not re.search(r"VARCHAR2\(\d+\)", text)
    assert "NVARCHAR" not in text


def test_mysql_tables_use_innodb_and_utf8mb4() -> None:
    text = (ROOT / "sql/reference/mysql.sql").read_text(encoding="utf-8")
    creates = text.count("CREATE TABLE")
    assert creates == 10
    assert text.count("ENGINE=InnoDB DEFAULT CHARSET=utf8mb4") == creates
    assert "LONGBLOB" in text


@pytest.mark.parametrize("dialect", ["sqlite", "mysql", "postgresql", "oracle"])
def test_generated_files_say_where_they_come_from(dialect: str) -> None:
    head = (ROOT / f"sql/reference/{dialect}.sql").read_text(encoding="utf-8").splitlines()[:3]
    assert any("sql/tables.yaml" in line and "syncd ddl" in line for line in head)


def test_docs_cover_every_table_column_and_code_list() -> None:
    docs = (ROOT / ddl.DOCS_FILE).read_text(encoding="utf-8")
    metadata = ddl.load_tables(ROOT / ddl.REFERENCE_YAML)
    for table in metadata.tables.values():
        assert f"### `{table.name}`" in docs
        for column in table.columns:
            assert f"| `{column.name}`" in docs, f"{table.name}.{column.name}"
    for name in ddl.load_code_lists(ROOT / ddl.CODES_DIR):
        assert f"### `{name}`" in docs
    assert "VARCHAR2(n CHAR)" in docs


def test_sync_order_puts_parents_first() -> None:
    metadata = ddl.load_tables(ROOT / ddl.REFERENCE_YAML)
    order = ddl.sync_order(metadata)
    for name in order:
        for parent in ddl.parents_of(metadata.tables[name]):
            assert order.index(parent) < order.index(name)


BAD_COLUMNS = [
    ("{type: string}", "positive integer length"),
    ("{type: varchar, length: 5}", "type must be one of"),
    ("{type: string, length: 5, colour: red}", "unknown keys"),
    ("{type: decimal, precision: 2, scale: 4}", "decimal needs"),
    ("{type: string, length: 5000}", "use type: text"),
    ("{type: string, length: 1, nullable: false, default: ''}", "fails on Oracle"),
    ("{type: string, length: 1, references: nowhere}", "parent_table.column"),
    ("{type: string, length: 1, references: dp_x.nothing}", "references unknown"),
]


@pytest.mark.parametrize("spec, message", BAD_COLUMNS)
def test_bad_column_names_file_table_and_column(tmp_path: Path, spec: str, message: str) -> None:
    path = tmp_path / "tables.yaml"
    path.write_text("tables:\n  dp_x:\n    columns:\n"
                    "      id: {type: string, length: 36, primary_key: true}\n"
                    f"      broken: {spec}\n", encoding="utf-8")
    with pytest.raises(ValueError) as info:
        ddl.load_tables(path)
    text = str(info.value)
    assert str(path) in text and "'dp_x'" in text and "'broken'" in text and message in text


@pytest.mark.parametrize("yaml_text, message", [
    ("tables:\n  dp_x:\n    columns:\n      id: {type: string, length: 36}\n", "no column has primary_key"),
    ("tables:\n  dp_x:\n    columns:\n      level: {type: string, length: 1, primary_key: true}\n", "reserved"),
    ("tables:\n  dp_x:\n    columns:\n      id: {type: string, length: 36, primary_key: true}\n"
     "      a_rather_long_column_name_over_30: {type: integer}\n", "longer than 30"),
    ("tables: [1, 2]\n", "non-empty 'tables'"),
    ("tables:\n  dp_x:\n    colums: {}\n", "unknown keys"),
])
def test_bad_tables_raise_value_error(tmp_path: Path, yaml_text: str, message: str) -> None:
    path = tmp_path / "tables.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        ddl.load_tables(path)


# ---------------------------------------------------------------------------- demo data

def _dump(engine: sa.Engine) -> dict[str, list[tuple]]:
    metadata = demodata.county_metadata()
    with engine.connect() as conn:
        return {name: [tuple(r) for r in conn.execute(sa.select(t).order_by(t.c.id))]
                for name, t in metadata.tables.items()}


def test_populate_fills_every_table() -> None:
    engine = sa.create_engine("sqlite://")
    started = time.perf_counter()
    counts = demodata.populate(engine, rows=200, seed=1)
    elapsed = time.perf_counter() - started
    assert set(counts) == set(demodata.county_metadata().tables)
    assert all(n > 0 for n in counts.values()), counts
    assert counts["fxgk_qd"] == 200
    assert elapsed < 2.0
    dump = _dump(engine)
    assert {name: len(rows) for name, rows in dump.items()} == counts


def test_populate_is_deterministic_for_a_seed() -> None:
    first, second, other = (sa.create_engine("sqlite://") for _ in range(3))
    demodata.populate(first, rows=60, seed=7)
    demodata.populate(second, rows=60, seed=7)
    demodata.populate(other, rows=60, seed=8)
    assert _dump(first) == _dump(second)
    assert _dump(first) != _dump(other)


def test_populate_refuses_a_filled_database() -> None:
    engine = sa.create_engine("sqlite://")
    demodata.populate(engine, rows=20)
    with pytest.raises(ValueError, match="empty"):
        demodata.populate(engine, rows=20)


def test_demo_data_looks_like_a_county_system() -> None:
    engine = sa.create_engine("sqlite://")
    demodata.populate(engine, rows=200)
    with engine.connect() as conn:
        codes = conn.execute(sa.text("SELECT qy_bm FROM qy_jbxx")).scalars().all()
        assert all(re.fullmatch(r"\d{9}", c) for c in codes)
        cycles = set(conn.execute(sa.text("SELECT pcpc FROM fxgk_qd")).scalars())
        assert {"1天", "8小时", "1月"} <= cycles
        states = dict(conn.execute(sa.text("SELECT yh_zt, COUNT(*) FROM yh_tz GROUP BY yh_zt")).all())
        assert set(states) == {"整改中", "待验收", "已验收"}
        unaccepted = conn.execute(sa.text(
            "SELECT COUNT(*) FROM yh_tz WHERE yh_zt = '已验收' AND (ys_r IS NULL OR ys_sj IS NULL)")).scalar()
        assert unaccepted == 0
        latest = max(conn.execute(sa.text(f"SELECT MAX(update_time) FROM {t}")).scalar()
                     for t in demodata.county_metadata().tables)
        assert datetime.fromisoformat(str(latest)) < datetime.now()


def test_risk_maps_are_valid_png_files() -> None:
    engine = sa.create_engine("sqlite://")
    demodata.populate(engine, rows=20)
    with engine.connect() as conn:
        images = conn.execute(sa.text("SELECT tp FROM fx_fbt")).scalars().all()
    assert images
    for data in images:
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        offset, chunks = 8, {}
        while offset < len(data):
            (length,) = struct.unpack(">I", data[offset:offset + 4])
            kind, body = data[offset + 4:offset + 8], data[offset + 8:offset + 8 + length]
            (crc,) = struct.unpack(">I", data[offset + 8 + length:offset + 12 + length])
            assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
            chunks[kind] = body
            offset += 12 + length
        width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
        assert len(zlib.decompress(chunks[b"IDAT"])) == height * (1 + 3 * width)


def test_mutate_moves_update_time_forward_but_not_past_now() -> None:
    engine = sa.create_engine("sqlite://")
    demodata.populate(engine, rows=100)
    before = _dump(engine)
    with engine.connect() as conn:
        old_max = conn.execute(sa.text("SELECT MAX(update_time) FROM yh_tz")).scalar()
    changed = demodata.mutate(engine, seed=2, fraction=0.05)
    assert all(n > 0 for n in changed.values()), changed
    with engine.connect() as conn:
        new_max = conn.execute(sa.text("SELECT MAX(update_time) FROM yh_tz")).scalar()
    assert str(new_max) > str(old_max)
    assert datetime.fromisoformat(str(new_max)) < datetime.now()
    after = _dump(engine)
    assert len(after["fxgk_qd"]) == len(before["fxgk_qd"]) + 1
    assert len(after["yhpc_jl"]) > len(before["yhpc_jl"])


def _statements(script: str) -> list[str]:
    body = "\n".join(line for line in script.splitlines() if not line.startswith("--"))
    return [s.strip() for s in re.split(r";\s*\n", body) if s.strip()]


SERVER_SCRIPTS = [
    ("mariadb", "sql/reference/mysql.sql", ddl.REFERENCE_YAML),
    ("mariadb", "sql/county/mysql.sql", ddl.COUNTY_YAML),
    ("postgresql", "sql/reference/postgresql.sql", ddl.REFERENCE_YAML),
    ("postgresql", "sql/county/postgresql.sql", ddl.COUNTY_YAML),
]


@pytest.mark.servers
@pytest.mark.parametrize("kind, script, definition", SERVER_SCRIPTS, ids=[s[1] for s in SERVER_SCRIPTS])
def test_ddl_applies_on_the_server(make_database, kind: str, script: str, definition: Path) -> None:
    engine = make_database.engine(kind)
    with engine.begin() as conn:
        for statement in _statements((ROOT / script).read_text(encoding="utf-8")):
            conn.exec_driver_sql(statement.replace("%", "%%"))
    inspector = sa.inspect(engine)
    metadata = ddl.load_tables(ROOT / definition)
    assert set(inspector.get_table_names()) == set(metadata.tables)
    for table in metadata.tables.values():
        columns = {c["name"]: c for c in inspector.get_columns(table.name)}
        assert list(columns) == list(table.c.keys())
        for column in table.columns:
            if column.info["type"] == "string":
                assert columns[column.name]["type"].length == column.type.length
    if kind == "mariadb" and definition == ddl.REFERENCE_YAML:
        with engine.connect() as conn:
            conn.execute(sa.text("INSERT INTO dp_risk_unit (id, company_code, hazard_code, hazard_dep, "
                                 "hazard_liable_person, risk_unit_name, create_date, create_by, update_date, "
                                 "update_by, area_code, sync_time, run_id) VALUES ('u', '123456789', 'h', "
                                 ":dep, :person, 'n', NOW(), 'a', NOW(), 'a', '410922', NOW(), 'r')"),
                         {"dep": "安" * 200, "person": "欧阳" * 10})
            assert conn.execute(sa.text("SELECT CHAR_LENGTH(hazard_liable_person) FROM dp_risk_unit")).scalar() == 20
