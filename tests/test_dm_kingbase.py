"""DM8 (达梦) and KingbaseES (人大金仓): no server of either runs here.

DM8's statements are compiled against dmSQLAlchemy's own dialect (``pip install 'syncd[dm]'``); its
error codes are classified from the driver's own exception types. KingbaseES runs through
SQLAlchemy's PostgreSQL dialect: its ``kingbase+psycopg://`` dialect is driven end to end against
the PostgreSQL test server, which verifies syncd's plumbing, not KingbaseES itself
(docs/databases.md says which is which).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from syncd import commands, dialects, plan
from syncd.engines import utc_moment
from syncd.watermark import Window
from tests.scenario import CODES, Scenario, mapping_yaml

dmPython = pytest.importorskip("dmPython", reason="the dm extra: pip install 'syncd[dm]'")


def _dm() -> sa.engine.Dialect:
    # create_engine loads the driver and its paramstyle but does not connect
    return sa.create_engine("dm+dmPython://SYSDBA:pw@dm8.example:5236").dialect


def test_a_dm_url_loads_dmsqlalchemy_and_names_the_dm_dialect():
    assert dialects.url_problem(sa.make_url("dm+dmPython://SYSDBA:pw@h:5236")) is None
    engine_dialect = _dm()
    assert engine_dialect.name == "dm" and engine_dialect.driver == "dmPython"
    assert dialects.get(engine_dialect.name).name == "dm"


def test_dm_upsert_is_a_merge_with_the_drivers_placeholders():
    d = _dm()
    sql = dialects.get("dm").upsert_sql(d, "dp_check_record", "FEP", ["id", "name", "level", "remark"], ["id"],
                                        ["name", "level", "remark"])
    assert d.paramstyle == "qmark"
    assert sql == (
        'MERGE INTO "FEP".dp_check_record t USING (SELECT ? AS id, ? AS name, ? AS "level", ? AS remark FROM dual) s '
        'ON (t.id = s.id) WHEN MATCHED THEN UPDATE SET t.name = s.name, t."level" = s."level", t.remark = s.remark '
        'WHERE (t.name <> s.name OR (t.name IS NULL AND s.name IS NOT NULL) OR (t.name IS NOT NULL AND s.name IS NULL)) '
        'OR (t."level" <> s."level" OR (t."level" IS NULL AND s."level" IS NOT NULL) OR (t."level" IS NOT NULL AND '
        's."level" IS NULL)) OR (t.remark <> s.remark OR (t.remark IS NULL AND s.remark IS NOT NULL) OR (t.remark IS '
        'NOT NULL AND s.remark IS NULL)) '
        'WHEN NOT MATCHED THEN INSERT (id, name, "level", remark) VALUES (s.id, s.name, s."level", s.remark)')


def test_dm_merge_counts_a_lob_as_changed_unless_both_are_null():
    # whether DM8 compares LOBs is not verified: a CLOB column never hides a change
    upsert = dialects.get("dm").upsert(_dm(), "t", None, ["id", "body", "sync_time"], ["id"], ["body", "sync_time"],
                                       ["body"], ["int", "text", "datetime"])
    assert upsert.sql.split(" WHERE ")[1].split(" WHEN NOT MATCHED")[0] == "(t.body IS NOT NULL OR s.body IS NOT NULL)"


def test_dm_merge_without_update_columns_only_inserts():
    sql = dialects.get("dm").upsert_sql(_dm(), "t", None, ["id"], ["id"], [])
    assert "WHEN MATCHED" not in sql and sql.endswith("WHEN NOT MATCHED THEN INSERT (id) VALUES (s.id)")


def test_dm_reads_windows_with_dmsqlalchemys_sql(tmp_path):
    """A mapping's window query and newest-cursor probe, compiled by dmSQLAlchemy; a config naming DM8
    databases is accepted."""
    (tmp_path / "mappings" / "codes").mkdir(parents=True)
    (tmp_path / "mappings" / "codes" / "check_status.yaml").write_text(CODES, encoding="utf-8")
    (tmp_path / "mappings" / "record.yaml").write_text(mapping_yaml(), encoding="utf-8")
    (tmp_path / "config.yaml").write_text(
        'source: {url: "dm+dmPython://u:p@h:5236"}\ntarget: {url: "dm+dmPython://u:p@h:5236"}\n'
        f'state: {{url: "sqlite:///{tmp_path / "state.db"}"}}\nmappings: mappings\n', encoding="utf-8")
    m = commands.open_project(tmp_path / "config.yaml").mappings[0]
    d = _dm()
    window = plan.render(plan.read_window(m, Window()), d)
    assert "FROM src_record" in window and "update_time" in window and "del_flag = '0'" in window
    assert "max(src_record.update_time)" in plan.render(plan.probe_newest(m), d).lower()
    assert str(dialects.get("dm").clock_select().compile(dialect=d)) == \
        "SELECT LOCALTIMESTAMP, SYSTIMESTAMP FROM dual"


@pytest.mark.parametrize(("error", "row", "transient"), [
    (dmPython.DatabaseError("[CODE:-6169]列长度超出定义"), True, False),
    (dmPython.DatabaseError("[CODE:-6111]字符串转换出错"), True, False),
    (dmPython.IntegrityError("[CODE:-6602]违反表[DP_RECORD]唯一性约束"), True, False),
    (dmPython.OperationalError("[CODE:-70025]网络通信异常"), False, True),
    (dmPython.OperationalError("[CODE:-6407]锁超时"), False, True),
    (dmPython.ProgrammingError("[CODE:-2106]无效的表或视图名[DP_RECORD]"), False, False),
])
def test_dm_errors_are_sorted_by_their_codes(error, row, transient):
    wrapped = sa.exc.DBAPIError.instance("MERGE ...", None, error, dmPython.Error)
    dm = dialects.get("dm")
    assert dm.is_row_error(wrapped) is row
    assert dm.is_transient(wrapped) is transient


def test_dm_error_code_read_from_an_error_object_with_a_code():
    class Detail:
        code = -6121

    assert dialects.get("dm").error_code(dmPython.DatabaseError(Detail())) == -6121


class _DmErrorDetail:
    """What dmPython puts in a DatabaseError's args[0]: a ``dmPython.DmError`` (code, message,
    offset, context), which Python code cannot instantiate; this has the same attributes."""

    def __init__(self, code: int, message: str):
        self.code, self.message, self.offset, self.context = code, message, 0, ""

    def __str__(self) -> str:
        return f"[CODE:{self.code}]{self.message}"


@pytest.mark.parametrize(("code", "message"), [
    (-6601, "试图插入无效的主键值"), (-6602, "违反表[DP_RECORD]唯一性约束条件[INDEX33555]"),
    (-6604, "违反CHECK约束[CK_LEVEL]"), (-6605, "违反非空约束"), (-6606, "违反表[DP_RECORD]引用约束"),
    (-6607, "违反引用约束[FK_HAZARD]"), (-6608, "违反主键约束"), (-6609, "违反列[NAME]非空约束"),
    (-6610, "违反唯一性约束"), (-6628, "违反表[DP_RECORD]引用约束[FK_HAZARD]"),
])
def test_dm_constraint_violations_as_plain_database_errors_are_the_rows(code, message):
    """dmPython maps no SQLSTATE: a constraint violation may come as a plain DatabaseError with DM's
    code, which SQLAlchemy wraps as DatabaseError, not IntegrityError. The code makes it a reject."""
    for orig in (dmPython.DatabaseError(_DmErrorDetail(code, message)), dmPython.DatabaseError(f"[CODE:{code}]{message}")):
        wrapped = sa.exc.DBAPIError.instance("MERGE ...", None, orig, dmPython.Error)
        assert type(wrapped) is sa.exc.DatabaseError
        dm = dialects.get("dm")
        assert dm.error_code(orig) == code
        assert dm.is_row_error(wrapped) and not dm.is_transient(wrapped)


def test_dm_server_facts_compile():
    text = sa.text(dialects.get("dm").facts_sql)
    compiled = str(text.compile(dialect=_dm()))
    assert "SESSIONTIMEZONE" in compiled and "SF_GET_UNICODE_FLAG()" in compiled


# -- KingbaseES --------------------------------------------------------------------------------

def test_kingbase_urls_name_the_kingbase_dialect():
    for url in ("kingbase+psycopg://system:pw@h:54321/fep", "kingbase://system:pw@h:54321/fep"):
        assert dialects.url_problem(sa.make_url(url)) is None
        assert sa.make_url(url).get_dialect().name == "kingbase"


@pytest.mark.servers
def test_a_sync_into_kingbase_through_ksycopg2_over_the_postgresql_server(tmp_path, make_database):
    """kingbase+ksycopg2 connects (on_connect registers UUIDs and sets isolation levels through
    ksycopg2's extras and extensions) and a small sync writes through it, against PostgreSQL."""
    pytest.importorskip("ksycopg2")
    target = make_database("postgresql").replace("postgresql+psycopg://", "kingbase+ksycopg2://", 1)
    assert dialects.url_problem(sa.make_url(target)) is None
    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", target)
    try:
        assert s.target.dialect.name == "kingbase" and s.target.dialect.driver == "ksycopg2"
        assert s.target.dialect.dbapi.__name__ == "ksycopg2"
        s.insert([{"id": i, "update_time": s.at(i)} for i in range(1, 4)])
        report = s.run(now=s.now())
        assert [r.status for r in report.results] == ["ok"], report.results
        assert s.actual() == s.expected() and len(s.actual()) == 3
        with s.target.connect().execution_options(isolation_level="SERIALIZABLE") as conn:
            assert conn.exec_driver_sql("SHOW transaction_isolation").scalar() == "serializable"
    finally:
        s.dispose()


def test_kingbase_upsert_is_on_conflict():
    sql = dialects.get("kingbase").upsert_sql(dialects.get("kingbase").sqlalchemy_dialect(), "t", None,
                                              ["id", "name"], ["id"], ["name"])
    assert sql == ("INSERT INTO t AS t (id, name) VALUES (%s, %s) ON CONFLICT (id) DO UPDATE SET name = excluded.name "
                   "WHERE t.name IS DISTINCT FROM excluded.name")


def test_kingbase_reads_sqlstate_from_either_driver():
    kb = dialects.get("kingbase")

    class Psycopg2Error(Exception):
        pgcode = "22001"

    assert kb.error_code(Psycopg2Error()) == "22001"
    assert kb.is_row_error(sa.exc.DBAPIError("INSERT ...", None, Psycopg2Error()))


@pytest.mark.servers
def test_a_sync_into_kingbase_dialect_over_the_postgresql_server(tmp_path, make_database):
    """The kingbase+psycopg dialect end to end: connects without reading version(), reflects,
    writes by ON CONFLICT (no COPY staging) and reads back, against PostgreSQL."""
    target = make_database("postgresql").replace("postgresql+psycopg://", "kingbase+psycopg://", 1)
    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", target)
    try:
        assert s.target.dialect.name == "kingbase"
        s.insert([{"id": i, "update_time": s.at(i)} for i in range(1, 6)])
        report = s.run(now=s.now())
        assert [r.status for r in report.results] == ["ok"], report.results
        assert s.actual() == s.expected() and len(s.actual()) == 5
        with s.target.connect() as conn:
            assert s.target.dialect.server_version_info[0] >= 12
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        s.dispose()


def test_kingbase_version_is_read_from_server_version_not_version():
    from syncd.dialects.kingbase import server_version_info

    class Result:
        def __init__(self, value):
            self.value = value

        def scalar(self):
            return self.value

    class Conn:
        def __init__(self, value):
            self.value = value
            self.asked = []

        def exec_driver_sql(self, sql):
            self.asked.append(sql)
            return Result(self.value)

    conn = Conn("12.1")
    assert server_version_info(conn) == (12, 1) and conn.asked == ["SHOW server_version"]
    assert server_version_info(Conn("KingbaseES V008R006")) == (12, 0)


def test_clock_readings_become_utc():
    from datetime import timezone

    assert utc_moment("2026-11-29 12:00:00.250") == datetime(2026, 11, 29, 12, 0, 0, 250000, tzinfo=timezone.utc)
    assert utc_moment(datetime(2026, 11, 29, 12)) == datetime(2026, 11, 29, 12, tzinfo=timezone.utc)
    aware = datetime.fromisoformat("2026-11-29 20:00:00+08:00")
    assert utc_moment(aware) == aware and utc_moment(aware).utcoffset() == timedelta(0)
    assert utc_moment(None) is None and utc_moment("not a time") is None


def test_dm_reference_ddl_on_request(tmp_path):
    from click.testing import CliRunner

    from syncd import cli

    result = CliRunner().invoke(cli.cli, ["ddl", "--out", str(tmp_path / "all")])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "all" / "dm.sql").exists()       # not in the default set: it needs the dm extra
    result = CliRunner().invoke(cli.cli, ["ddl", "--out", str(tmp_path / "dm"), "--dialect", "dm"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "dm" / "dm.sql").read_text(encoding="utf-8")
    assert "CREATE TABLE dp_hazard (" in text and "id VARCHAR2(36 CHAR) NOT NULL" in text
    # a datetime keeps its time of day (a DM8 DATE would drop it); a date stays a DATE
    assert "create_date DATETIME NOT NULL" in text and "establish_date DATE," in text
    assert "COMMENT ON COLUMN dp_hazard.id IS" in text and "LENGTH_IN_CHAR" in text
