"""Writing mappings against live databases: check --connect with lines, truncation and integer
ranges on MariaDB columns, preview, plan, and scaffold -> check -> run."""

from __future__ import annotations

import textwrap
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from syncd import cli, commands, dialects, plan
from syncd.errors import MappingError
from syncd.target import Target
from syncd.transform import RowMapper, target_column
from tests.scenario import CODES, Scenario

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=timezone.utc)


def write_project(tmp_path: Path, source_url: str, target_url: str, mappings: dict[str, str]) -> Path:
    (tmp_path / "mappings" / "codes").mkdir(parents=True, exist_ok=True)
    (tmp_path / "mappings" / "codes" / "check_status.yaml").write_text(CODES, encoding="utf-8")
    for name, text in mappings.items():
        (tmp_path / "mappings" / name).write_text(textwrap.dedent(text), encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(f"""\
        source: {{url: "{source_url}"}}
        target: {{url: "{target_url}"}}
        state: {{url: "sqlite:///{tmp_path / 'state.db'}"}}
        mappings: mappings
        defaults: {{lag: 0s, retries: 0}}
        """), encoding="utf-8")
    return config


def execute(engine: sa.Engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))


def syncd(config: Path, *args: str):
    return CliRunner().invoke(cli.cli, ["-c", str(config), *args])


# -- truncation and ranges on MariaDB columns -------------------------------------------------------

TRUNCATING = """\
source: {table: src, key: [id], cursor: update_time}
target: {table: dst, key: [id]}
columns:
  id:    {from: id}
  name:  {from: name, on_overflow: truncate}
  latin: {from: latin, on_overflow: truncate}
  plain: {from: plain}
"""


def test_truncation_on_utf8mb3_and_latin1_mariadb_columns(tmp_path, make_database):
    source, target = make_database.engine("mariadb"), make_database.engine("mariadb")
    execute(source, "CREATE TABLE src (id INT PRIMARY KEY, name VARCHAR(50), latin VARCHAR(50), plain VARCHAR(50), "
                    "update_time DATETIME) CHARACTER SET utf8mb4",
            "INSERT INTO src VALUES (1, '隐患排查治理台账', 'Müllerstraße 12', 'ok', NOW() - INTERVAL 1 HOUR), "
            "(2, '短', 'Café', 'ok', NOW() - INTERVAL 1 HOUR), "
            "(3, '排查😀治理台账', 'x', 'ok', NOW() - INTERVAL 1 HOUR), "
            "(4, '隐患排查治理台账', 'x', 'far too long', NOW() - INTERVAL 1 HOUR)")
    execute(target, "CREATE TABLE dst (id VARCHAR(36) PRIMARY KEY, name VARCHAR(6) CHARACTER SET utf8mb3, "
                    "latin VARCHAR(6) CHARACTER SET latin1, plain VARCHAR(6)) CHARACTER SET utf8mb4")
    config = write_project(tmp_path, source.url.render_as_string(hide_password=False),
                           target.url.render_as_string(hide_password=False), {"t.yaml": TRUNCATING})
    project = commands.open_project(config)
    [result] = commands.run_once(project).results
    assert result.status == "ok", result.error
    assert (result.counts.rows_written, result.counts.rows_rejected) == (2, 2)
    with target.connect() as conn:
        rows = {r[0]: tuple(r[1:]) for r in conn.execute(sa.text("SELECT id, name, latin, plain FROM dst"))}
    assert rows == {"1": ("隐患排查治理", "Müller", "ok"), "2": ("短", "Café", "ok")}
    reasons = {r["key"]: r["reason"] for r in commands.rejects(project)}
    assert "utf8mb4" in reasons["3"]                     # cut to fit, but an emoji a utf8mb3 column cannot hold
    assert reasons["4"].startswith("plain: text of 12 characters is longer than the column's 6")

    # The run can read how many values were cut from the row mapper.
    m = project.mapping("t")
    target_side = Target(target, dialects.get("mysql"))
    mapper = RowMapper(m, plan.layout(m), target_side.describe(m), project.codes, now=NOW, run_id="r",
                       tz=ZoneInfo("Asia/Shanghai"), unsupported_text=target_side.dialect.unsupported_text)
    with source.connect() as conn:
        mapper.map_batch([tuple(r) for r in conn.execute(plan.read_keys(m, [(1,), (2,), (3,), (4,)]))])
    assert mapper.truncations == {"name": 1, "latin": 1}


def test_integer_ranges_of_reflected_mariadb_columns(make_database):
    engine = make_database.engine("mariadb")
    execute(engine, "CREATE TABLE t (i INT, s SMALLINT, b BIGINT, u TINYINT UNSIGNED, d DECIMAL(5,0), n DECIMAL(9,2))")
    reflected = {c["name"]: target_column(c["name"], c["type"]) for c in sa.inspect(engine).get_columns("t")}
    assert {n: c.integer_range() for n, c in reflected.items()} == {
        "i": (-2**31, 2**31 - 1), "s": (-2**15, 2**15 - 1), "b": (-2**63, 2**63 - 1), "u": (0, 255),
        "d": (-99999, 99999), "n": None}
    spec = {"name": "m", "source": {"table": "s", "key": ["k"], "cursor": "ts"}, "target": {"table": "t", "key": ["i"]},
            "columns": {n: {"from": n} for n in reflected}}
    from syncd.mapping import Mapping_, TableMapping

    mapping = TableMapping(spec=Mapping_.model_validate(spec), file=Path("m.yaml"), batch_size=10, lookback=0,
                           lag=NOW - NOW, null_cursor="include", schedule=None)
    mapper = RowMapper(mapping, plan.layout(mapping), reflected, {}, now=NOW, run_id="r", tz=timezone.utc)
    names = mapper.layout.names
    row = {"k": 1, "ts": NOW, "i": 1, "s": 40000, "b": 1, "u": 1, "d": 1, "n": 1}
    [reject] = mapper.map_batch([tuple(row[n] for n in names)]).rejects
    assert (reject.column, reject.reason) == ("s", "s: 40000 is out of range: the column holds whole numbers from "
                                                   "-32768 to 32767")
    row.update(s=1, u=-1)
    assert mapper.map_batch([tuple(row[n] for n in names)]).rejects[0].reason.startswith("u: -1 is out of range")


# -- check --connect: problems with their lines, warnings ----------------------------------------------

BROKEN = """\
source:
  table: src_record
  key: [id]
  cursor: update_time
  where: "no_such_flag = '0'"
target: {table: dp_record, key: [id]}
columns:
  id:           {from: id}
  check_status: {from: jg, map: check_status}
  title:        {expr: "NO_SUCH_FUNCTION(title)"}
  amount:       {from: amout}
  update_time:  {from: update_time, on_overflow: truncate}
  sync_time:    {value: now}
parents:
  - columns: [id]
    table: dp_nowhere
  - columns: [id]
    table: dp_record
    key: [no_key]
"""


@pytest.fixture
def mariadb(tmp_path, make_database):
    s = Scenario(tmp_path, make_database("mariadb"), make_database("mariadb"))
    yield s
    s.dispose()


def test_check_connect_names_each_problem_with_its_line_and_key(tmp_path, mariadb):
    (tmp_path / "mappings" / "broken.yaml").write_text(BROKEN.replace("dp_record, key", "dp_record, key"),
                                                      encoding="utf-8")
    project = commands.open_project(tmp_path / "config.yaml")
    with pytest.raises(MappingError) as caught:
        commands.check(project, connect_databases=True)
    found = {(Path(p.file).name, p.line, p.where): p.message for p in caught.value.problems}
    assert set(found) == {("broken.yaml", 12, "columns.update_time.on_overflow"),
                          ("broken.yaml", 16, "parents.0.table"), ("broken.yaml", 19, "parents.1.key.0"),
                          ("broken.yaml", 11, "columns.amount.from"), ("broken.yaml", 10, "columns.title.expr"),
                          ("broken.yaml", 5, "source.where")}, found
    assert "target column update_time holds dates and times; remove on_overflow" in found[
        ("broken.yaml", 12, "columns.update_time.on_overflow")]
    assert "parent table dp_nowhere does not exist in the target" in found[("broken.yaml", 16, "parents.0.table")]
    assert "parent key column 'no_key' is not in dp_record" in found[("broken.yaml", 19, "parents.1.key.0")]
    assert "the source query fails at source column amout" in found[("broken.yaml", 11, "columns.amount.from")]
    assert "the expression of column title" in found[("broken.yaml", 10, "columns.title.expr")]
    result = syncd(tmp_path / "config.yaml", "check", "--connect")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "broken.yaml, line 10 [columns.title.expr]" in result.output


def test_check_connect_names_a_missing_target_column_with_its_line(tmp_path, mariadb):
    mapping = (tmp_path / "mappings" / "record.yaml").read_text(encoding="utf-8")
    (tmp_path / "mappings" / "record.yaml").write_text(mapping + "  no_such_column: {from: title}\n", encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        commands.check(commands.open_project(tmp_path / "config.yaml"), connect_databases=True)
    [problem] = caught.value.problems
    assert (problem.line, problem.where) == (len(mapping.splitlines()) + 1, "columns.no_such_column")


def test_check_connect_warns_about_columns_the_target_narrows(tmp_path, make_database):
    source, target = make_database.engine("mariadb"), make_database.engine("mariadb")
    execute(source, "CREATE TABLE src (id INT PRIMARY KEY, jc_sj DATETIME, je DECIMAL(12,4), txt VARCHAR(20), "
                    "bz VARCHAR(200), ok DATE, update_time DATETIME, INDEX (update_time))")
    execute(target, "CREATE TABLE dst (id INT PRIMARY KEY, jc_sj DATE, je DECIMAL(12,2), txt INT, bz VARCHAR(50), "
                    "ok DATE, rounded DECIMAL(12,2), cut VARCHAR(50))")
    config = write_project(tmp_path, source.url.render_as_string(hide_password=False),
                           target.url.render_as_string(hide_password=False), {"m.yaml": """\
        source: {table: src, key: [id], cursor: update_time}
        target: {table: dst, key: [id]}
        columns:
          id:      {from: id}
          jc_sj:   {from: jc_sj}
          je:      {from: je}
          txt:     {from: txt}
          bz:      {from: bz}
          ok:      {from: ok}
          rounded: {from: je, round: 2}
          cut:     {from: bz, on_overflow: truncate}
        """})
    warnings: list[str] = []
    commands.check(commands.open_project(config), connect_databases=True, warnings=warnings)
    by_line = {int(w.split(", line ")[1].split(" ")[0]): w for w in warnings}
    assert sorted(by_line) == [5, 6, 7, 8]
    assert "set cast: date" in by_line[5] and "set round: 2" in by_line[6]
    assert "set cast: number" in by_line[7] and "set on_overflow: truncate" in by_line[8]
    result = syncd(config, "check", "--connect")
    assert result.exit_code == 0 and "m.yaml, line 5 [columns.jc_sj]" in " ".join(result.output.split())


# -- preview -------------------------------------------------------------------------------------

def test_preview_shows_what_a_run_would_do_and_writes_nothing(tmp_path, mariadb):
    s = mariadb
    s.insert([{"id": 1, "update_time": s.at(1)}, {"id": 2, "update_time": s.at(2)}])
    shown = commands.preview(s.project(), mapping="record")
    assert [(r.key, r.verdict) for r in shown.rows] == [((2,), "insert"), ((1,), "insert")]
    assert not (tmp_path / "state.db").exists() and s.target_count() == 0
    assert shown.rows[0].mapped["check_status"] == "0" and shown.rows[0].source["jg"] == "正常"
    assert not s.run().failed
    s.update([2], title="新标题", update_time=s.at(10))
    s.insert([{"id": 3, "update_time": s.at(11), "jg": "坏值"}, {"id": 4, "update_time": s.at(12)}])
    shown = commands.preview(s.project(), mapping="record", limit=10)
    verdicts = {r.key: (r.verdict, r.reason) for r in shown.rows}
    assert verdicts[(1,)] == ("unchanged", None)
    assert verdicts[(2,)] == ("update", "changes title, update_time")
    assert verdicts[(3,)][0] == "reject" and "坏值" in verdicts[(3,)][1]
    assert verdicts[(4,)] == ("insert", None)
    assert [r.key for r in shown.rows][0] == (4,)                                     # newest first
    assert [r.key for r in commands.preview(s.project(), mapping="record", where="id = 2").rows] == [(2,)]
    assert s.target_count() == 2
    result = syncd(tmp_path / "config.yaml", "preview", "-m", "record", "--limit", "3")
    assert result.exit_code == 0 and "would update" in result.output and "坏值" in result.output
    bad = syncd(tmp_path / "config.yaml", "preview", "-m", "record", "--where", "no_such_column = 1")
    assert bad.exit_code == 2 and "--where" in bad.output and "Traceback" not in bad.output


# -- plan ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "upsert"), [("mariadb", "ON DUPLICATE KEY UPDATE"), ("postgresql", "ON CONFLICT")])
def test_plan_shows_the_window_query_the_upsert_and_the_order(tmp_path, make_database, kind, upsert):
    s = Scenario(tmp_path, make_database(kind), make_database(kind))
    try:
        child = (tmp_path / "mappings" / "record.yaml").read_text(encoding="utf-8")
        child = child.replace("name: record", "name: later\ndepends_on: [record]")
        (tmp_path / "mappings" / "later.yaml").write_text(child, encoding="utf-8")
        s.insert([{"id": 1, "update_time": s.at(1)}])
        found = commands.plan_mapping(s.project(), mapping="record")
        assert found.order == [("record", ()), ("later", ("record",))]
        assert found.watermark is None and found.window.startswith("full copy")
        assert upsert in found.upsert and "dp_record" in found.upsert
        assert not s.run(names=["record"]).failed
        found = commands.plan_mapping(s.project(), mapping="record")
        assert found.watermark is not None and found.window.startswith("after ")
        assert "update_time >" in found.read and "update_time <=" in found.read and "del_flag = '0'" in found.read
        assert found.definition_hash == s.project().mapping("record").definition_hash
        result = syncd(tmp_path / "config.yaml", "plan", "-m", "later")
        assert result.exit_code == 0 and "2. later (after record)" in result.output
    finally:
        s.dispose()


# -- scaffold -> check -> run --------------------------------------------------------------------

def test_scaffold_then_check_then_run_on_mariadb(tmp_path, make_database):
    source, target = make_database.engine("mariadb"), make_database.engine("mariadb")
    execute(source, "CREATE TABLE yh_source (ID INT PRIMARY KEY, zt VARCHAR(10), CheckDate DATETIME, "
                    "COST DECIMAL(12,4), Remark VARCHAR(200), Update_Time DATETIME, INDEX ix_ut (Update_Time))",
            "INSERT INTO yh_source VALUES (1, '正常', '2026-01-02 14:30:00', 12.3456, 'a', NOW() - INTERVAL 1 HOUR), "
            "(2, '有隐患', '2026-01-03 00:00:00', 1.5, NULL, NOW() - INTERVAL 1 HOUR), "
            "(3, '存在隐患', NULL, NULL, 'c', NOW() - INTERVAL 1 HOUR)")
    execute(target, "CREATE TABLE dp_target (id VARCHAR(36) PRIMARY KEY, check_status VARCHAR(2) NOT NULL, "
                    "check_date DATE, cost DECIMAL(12,2), remark VARCHAR(50), update_time DATETIME, sync_time DATETIME, "
                    "run_id VARCHAR(40), area_code VARCHAR(12) NOT NULL, memo VARCHAR(100))")
    config = write_project(tmp_path, source.url.render_as_string(hide_password=False),
                           target.url.render_as_string(hide_password=False), {})
    out = tmp_path / "mappings" / "target.yaml"
    result = syncd(config, "scaffold", "--source-table", "yh_source", "--target-table", "dp_target", "--out", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "  key: [ID]" in text and "  cursor: Update_Time" in text
    assert "check_status: {from: zt, map: check_status}" in text                 # guessed from its values
    assert "check_date:   {from: CheckDate, cast: date}" in text
    assert "cost:         {from: COST, round: 2}" in text
    assert "sync_time:    {value: now}" in text and "run_id:       {value: run_id}" in text
    assert "# TODO: area_code is NOT NULL" in text and "not filled" in text and "memo" in text
    assert syncd(config, "check").exit_code == 0                                   # valid as written
    assert syncd(config, "check", "--connect").exit_code == 2                      # area_code is not filled yet
    again = syncd(config, "scaffold", "--source-table", "yh_source", "--target-table", "dp_target", "--out", str(out))
    assert again.exit_code == 2 and "--force" in again.output

    out.write_text(text.replace("  # area_code:    {from: }", "  area_code:    {const: '410922'}"), encoding="utf-8")
    checked = syncd(config, "check", "--connect")
    assert checked.exit_code == 0, checked.output
    report = commands.run_once(commands.open_project(config))
    assert not report.failed and report.results[0].counts.rows_written == 3
    with target.connect() as conn:
        rows = {r[0]: tuple(r[1:]) for r in conn.execute(sa.text(
            "SELECT id, check_status, check_date, cost, remark, area_code FROM dp_target"))}
    assert rows == {"1": ("0", date(2026, 1, 2), Decimal("12.35"), "a", "410922"),
                    "2": ("1", date(2026, 1, 3), Decimal("1.50"), None, "410922"),
                    "3": ("1", None, None, "c", "410922")}
