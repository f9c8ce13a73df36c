"""The shipped mappings against the demo county data and the reference tables (SQLite both sides)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from syncd import commands, demodata
from syncd.transform import derive_id
from syncd.watermark import decode_key

ROOT = Path(__file__).resolve().parent.parent
AREA_CODE = "410922"


class Demo:
    def __init__(self, root: Path, *, rows: int = 120) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.county = sa.create_engine(f"sqlite:///{root / 'county.db'}")
        demodata.populate(self.county, rows=rows, seed=1)
        target = sqlite3.connect(root / "target.db")
        target.executescript((ROOT / "sql/reference/sqlite.sql").read_text(encoding="utf-8"))
        target.close()
        self.target = sa.create_engine(f"sqlite:///{root / 'target.db'}")
        (root / "config.yaml").write_text(yaml.safe_dump({
            "source": {"url": "sqlite:///county.db"},
            "target": {"url": "sqlite:///target.db"},
            "state": {"dir": "state"},
            "mappings": str(ROOT / "mappings"),
            "vars": {"AREA_CODE": AREA_CODE},
            "defaults": {"lag": "0s", "retries": 0},
        }), encoding="utf-8")
        self.project = commands.open_project(root / "config.yaml")

    def run(self, *names: str, full: bool = False) -> dict[str, Any]:
        report = commands.run_once(self.project, names=names, full=full)
        assert not report.failed, [(r.mapping, r.error) for r in report.failed]
        return {r.mapping: r for r in report.results}

    def target_rows(self, sql: str) -> list[tuple]:
        with self.target.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]

    def county_exec(self, sql: str, **params: Any) -> None:
        with self.county.begin() as conn:
            conn.execute(sa.text(sql), params)

    def pending(self, mapping: str) -> dict[tuple, dict[str, Any]]:
        """Pending rejects of a mapping by source key."""
        return {decode_key(r["source_key"]): r for r in commands.rejects(self.project, mapping=mapping)}

    def dispose(self) -> None:
        self.county.dispose()
        self.target.dispose()


@pytest.fixture
def demo(tmp_path: Path):
    d = Demo(tmp_path)
    yield d
    d.dispose()


def test_every_mapping_syncs_the_demo_data_without_rejects(demo: Demo) -> None:
    results = demo.run()
    assert {r for r in results} == {m.name for m in demo.project.mappings}
    for name, result in results.items():
        assert result.status == "ok", (name, result.error)
        assert result.counts.rows_rejected == 0, (name, list(demo.pending(name).values())[:5])
        assert result.counts.rows_written > 0, name
    for table in {m.target.table for m in demo.project.mappings}:
        (count,) = demo.target_rows(f"SELECT COUNT(*) FROM {table}")[0]
        assert count > 0, table
        assert demo.target_rows(f"SELECT DISTINCT area_code FROM {table}") == [(AREA_CODE,)]


def test_incremental_pass_after_changes_has_no_rejects(demo: Demo) -> None:
    demo.run()
    demodata.mutate(demo.county, seed=2, fraction=0.1)
    results = demo.run()
    for name, result in results.items():
        assert result.counts.rows_rejected == 0, (name, list(demo.pending(name).values())[:5])
    assert results["risk_measure"].counts.rows_read > 0
    assert results["check_record"].counts.rows_read > 0
    (count,) = demo.target_rows("SELECT COUNT(*) FROM dp_risk_measure")[0]
    with demo.county.connect() as conn:
        assert count == conn.execute(sa.text("SELECT COUNT(*) FROM fxgk_qd")).scalar()


def test_every_code_of_every_list_reaches_the_target(demo: Demo) -> None:
    demo.run()
    from syncd import ddl
    metadata = ddl.load_tables(ROOT / ddl.REFERENCE_YAML)
    seen: dict[str, set[str]] = {}
    for table in metadata.tables.values():
        for column in table.columns:
            if column.info["codes"]:
                values = {r[0] for r in demo.target_rows(f"SELECT DISTINCT {column.name} FROM {table.name}")}
                seen.setdefault(column.info["codes"], set()).update(v for v in values if v is not None)
    for name, code_list in demo.project.codes.items():
        expected = {c.code for c in code_list.codes}
        assert seen.get(name) == expected, name


PARENT_CHECKS = [
    ("dp_risk_unit", "company_code, hazard_code", "dp_hazard", "company_code, hazard_code"),
    ("dp_risk_event", "risk_unit_id", "dp_risk_unit", "id"),
    ("dp_risk_measure", "risk_event_id", "dp_risk_event", "id"),
    ("dp_check_task", "risk_measure_id", "dp_risk_measure", "id"),
    ("dp_check_record", "check_task_id", "dp_check_task", "id"),
    ("dp_hidden_danger", "check_record_id", "dp_check_record", "id"),
    ("dp_hidden_danger", "risk_measure_id", "dp_risk_measure", "id"),
    ("dp_hidden_danger", "company_code, hazard_code", "dp_hazard", "company_code, hazard_code"),
    ("dp_unit_stop", "risk_unit_id", "dp_risk_unit", "id"),
]


def test_every_child_finds_its_parent(demo: Demo) -> None:
    demo.run()
    for child, columns, parent, key in PARENT_CHECKS:
        on = " AND ".join(f"p.{k.strip()} = c.{c.strip()}" for c, k in zip(columns.split(","), key.split(",")))
        first = columns.split(",")[0].strip()
        orphans = demo.target_rows(f"SELECT COUNT(*) FROM {child} c WHERE c.{first} IS NOT NULL "
                                   f"AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE {on})")[0][0]
        assert orphans == 0, (child, columns)


def test_mappings_run_parents_before_children(demo: Demo) -> None:
    order = [m.name for m in demo.project.mappings]
    by_table: dict[str, list[str]] = {}
    for m in demo.project.mappings:
        by_table.setdefault(m.target.table, []).append(m.name)
    for m in demo.project.mappings:
        assert m.spec.parents is not None and m.spec.depends_on is not None
        for parent in m.spec.parents:
            for parent_mapping in by_table[parent.table]:
                assert parent_mapping in m.spec.depends_on, (m.name, parent_mapping)
                assert order.index(parent_mapping) < order.index(m.name)


def test_children_wait_for_their_parents(demo: Demo) -> None:
    early = demo.run("risk_event")["risk_event"]
    assert early.counts.rows_written == 0
    assert early.counts.rows_rejected == early.counts.rows_read > 0
    results = demo.run()
    assert results["risk_event"].counts.rows_rejected == 0
    assert results["risk_event"].counts.rejects_resolved == early.counts.rows_rejected
    assert demo.target_rows("SELECT COUNT(*) FROM dp_risk_event")[0][0] == early.counts.rows_read


def test_derived_ids_are_stable_and_match_the_documented_spec(demo: Demo, tmp_path: Path) -> None:
    demo.run()
    units = set(demo.target_rows("SELECT id FROM dp_risk_unit"))
    events = set(demo.target_rows("SELECT id, risk_unit_id FROM dp_risk_event"))
    with demo.county.connect() as conn:
        rows = conn.execute(sa.text("SELECT DISTINCT qy_bm, fxdx, fxdy, fxsj FROM fxgk_qd")).all()
        record_ids = conn.execute(sa.text("SELECT id FROM yhpc_jl")).scalars().all()
    assert units == {(derive_id([r.qy_bm, r.fxdx, r.fxdy], "risk_unit"),) for r in rows}
    assert events == {(derive_id([r.qy_bm, r.fxdx, r.fxdy, r.fxsj], "risk_event"),
                       derive_id([r.qy_bm, r.fxdx, r.fxdy], "risk_unit")) for r in rows}
    assert set(demo.target_rows("SELECT id FROM dp_check_record")) == \
        {(derive_id([i], "check_record"),) for i in record_ids}

    demo.run(full=True)
    assert set(demo.target_rows("SELECT id FROM dp_risk_unit")) == units
    assert set(demo.target_rows("SELECT id, risk_unit_id FROM dp_risk_event")) == events

    again = Demo(tmp_path / "again")
    try:
        again.run()
        assert set(again.target_rows("SELECT id FROM dp_risk_unit")) == units
        assert set(again.target_rows("SELECT id, risk_unit_id FROM dp_risk_event")) == events
    finally:
        again.dispose()


def test_flattened_list_becomes_units_events_measures_and_tasks(demo: Demo) -> None:
    demo.run()
    with demo.county.connect() as conn:
        units = conn.execute(sa.text("SELECT COUNT(*) FROM (SELECT DISTINCT qy_bm, fxdx, fxdy FROM fxgk_qd)")).scalar()
        list_rows = conn.execute(sa.text("SELECT COUNT(*) FROM fxgk_qd")).scalar()
        hourly = conn.execute(sa.text("SELECT id FROM fxgk_qd WHERE pcpc = '8小时' LIMIT 1")).scalar()
    assert demo.target_rows("SELECT COUNT(*) FROM dp_risk_unit")[0][0] == units
    assert demo.target_rows("SELECT COUNT(*) FROM dp_check_task")[0][0] == list_rows
    task = demo.target_rows(f"SELECT check_cycle, check_cycle_unit, work_start_time FROM dp_check_task "
                            f"WHERE id = '{derive_id([hourly], 'check_task')}'")
    assert [(float(task[0][0]), task[0][1], task[0][2])] == [(8.0, "小时", "08:00:00")]
    levels = {r[0] for r in demo.target_rows("SELECT risk_level FROM dp_risk_unit")}
    assert levels <= {"1", "2", "3", "4"} and "1" in levels


def _next_time(demo: Demo) -> str:
    with demo.county.connect() as conn:
        latest = max(datetime.fromisoformat(str(conn.execute(sa.text(f"SELECT MAX(update_time) FROM {t}")).scalar()))
                     for t in ("fxgk_qd", "yh_tz", "wxy_xx", "yhpc_jl"))
    return str(min(latest + timedelta(minutes=5), datetime.now() - timedelta(minutes=1)))


def _copy_row(demo: Demo, table: str, where: str, changes: dict[str, Any]) -> int:
    """Insert a copy of one county row with a new id, the given changes and a later update_time."""
    with demo.county.begin() as conn:
        row = dict(conn.execute(sa.text(f"SELECT * FROM {table} WHERE {where} LIMIT 1")).mappings().one())
        new_id = conn.execute(sa.text(f"SELECT MAX(id) + 1 FROM {table}")).scalar()
        row.update(changes, id=new_id, update_time=_next_time(demo))
        columns = ", ".join(row)
        conn.execute(sa.text(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(':' + c for c in row)})"), row)
    return new_id


RULE_CASES = [
    ("hidden_danger", "yh_tz", "jl_id IS NOT NULL", {"yh_zt": "已验收", "ys_r": None}, "已验收的隐患必须有验收人和验收时间"),
    ("hidden_danger_other", "yh_tz", "jl_id IS NULL", {"yh_zt": "已验收", "ys_sj": None}, "已验收的隐患必须有验收人和验收时间"),
    ("hidden_danger", "yh_tz", "jl_id IS NOT NULL", {"zl_lx": "限期整改", "kz_cs": None}, "限期整改的隐患必须有整改期间的控制措施"),
    ("check_task", "fxgk_qd", "1 = 1", {"pcpc": "0天"}, "排查周期必须大于0"),
    ("check_task", "fxgk_qd", "1 = 1", {"pcpc": "4小时", "gz_kssj": None, "gz_jssj": None}, "按小时排查的任务必须有工作开始时间"),
    ("check_task", "fxgk_qd", "1 = 1", {"rwlx": "操作负责人任务", "bbrw_xh": None}, "包保责任人任务必须有包保任务对应项"),
    ("hazard", "wxy_xx", "sfzd = '是'", {"jsfzr": None, "wxy_bm": "X-NEW"}, "三名包保责任人"),
]
RULE_IDS = ["accepted-danger", "accepted-other-danger", "deadline-danger", "cycle-positive", "hourly-times",
            "defend-task-num", "major-hazard-persons"]


@pytest.mark.parametrize("mapping, table, where, changes, message", RULE_CASES, ids=RULE_IDS)
def test_each_rule_rejects_its_bad_row(demo: Demo, mapping: str, table: str, where: str,
                                       changes: dict[str, Any], message: str) -> None:
    demo.run()
    bad_id = _copy_row(demo, table, where, changes)
    results = demo.run()
    assert results[mapping].counts.rows_rejected == 1
    pending = demo.pending(mapping)
    assert list(pending) == [(bad_id,)]
    assert message in pending[(bad_id,)]["reason"]
    for name, result in results.items():
        if name != mapping:
            assert result.counts.rows_rejected == 0, (name, demo.pending(name))


def test_unknown_code_is_rejected_with_the_list_name(demo: Demo) -> None:
    demo.run()
    bad_id = _copy_row(demo, "yhpc_jl", "1 = 1", {"pcjg": "良好"})
    demo.run()
    pending = demo.pending("check_record")
    assert list(pending) == [(bad_id,)]
    assert pending[(bad_id,)]["column_name"] == "check_status"
    assert "check_status" in pending[(bad_id,)]["reason"]


def test_unregistered_analysis_object_holds_its_unit_and_children_back(demo: Demo) -> None:
    demo.run()
    bad_id = _copy_row(demo, "fxgk_qd", "1 = 1", {"fxdx": "未登记的分析对象", "fxdy": "新单元"})
    demo.run()
    unit_key = _key_of(demo, bad_id)
    assert list(demo.pending("risk_unit")) == [unit_key]
    assert demo.pending("risk_unit")[unit_key]["column_name"] == "hazard_code"
    # The event, measure and task below the missing unit wait for it instead of reaching the province.
    assert len(demo.pending("risk_event")) == 1
    assert list(demo.pending("risk_measure")) == [(bad_id,)]
    assert list(demo.pending("check_task")) == [(bad_id,)]


def _key_of(demo: Demo, list_id: int) -> tuple:
    with demo.county.connect() as conn:
        row = conn.execute(sa.text("SELECT qy_bm, fxdx, fxdy FROM fxgk_qd WHERE id = :i"), {"i": list_id}).one()
    return tuple(row)


@pytest.mark.servers
@pytest.mark.parametrize("kind", ["mariadb", "postgresql"])
def test_demo_data_syncs_into_a_server_target(make_database, tmp_path: Path, kind: str) -> None:
    url = make_database(kind)
    from syncd import ddl
    target = make_database.engine(url)
    ddl.load_tables(ROOT / ddl.REFERENCE_YAML).create_all(target)
    county = sa.create_engine(f"sqlite:///{tmp_path / 'county.db'}")
    demodata.populate(county, rows=80, seed=3)
    county.dispose()
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({
        "source": {"url": "sqlite:///county.db"}, "target": {"url": url}, "state": {"dir": "state"},
        "mappings": str(ROOT / "mappings"), "vars": {"AREA_CODE": AREA_CODE},
        "defaults": {"lag": "0s", "retries": 0},
    }), encoding="utf-8")
    project = commands.open_project(tmp_path / "config.yaml")
    report = commands.run_once(project)
    assert not report.failed, [(r.mapping, r.error) for r in report.failed]
    assert {r.mapping: r.counts.rows_rejected for r in report.results} == {m.name: 0 for m in project.mappings}
    with target.connect() as conn:
        image = conn.execute(sa.text("SELECT image FROM dp_risk_map")).scalars().first()
        cycle = conn.execute(sa.text("SELECT MAX(check_cycle) FROM dp_check_task")).scalar()
    assert bytes(image)[:8] == b"\x89PNG\r\n\x1a\n"
    assert cycle > 0
