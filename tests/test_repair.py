"""``syncd reconcile --repair``: what incremental runs miss (rows lost, changed in the target,
back-dated, deleted at the source) is found by bucket digests and repaired; rows of other mappings
(``target.scope``) and rows whose newer version is a reject (``stale``) are left alone; a repair
killed with kill -9 and run again leaves the target equal to the source; heavy work keeps to its
hours and rate."""

from __future__ import annotations

import signal
import textwrap
import time
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from syncd import audit, commands
from syncd.errors import MappingError
from syncd.faults import CRASH_EXIT
from tests.scenario import Scenario, dp_record, src_record
from tests.servers import BACKENDS


def add_to_mapping(s: Scenario, text: str) -> None:
    path = s.dir / "mappings" / "record.yaml"
    path.write_text(path.read_text(encoding="utf-8") + textwrap.dedent(text), encoding="utf-8")


def add_to_config(s: Scenario, text: str) -> None:
    path = s.dir / "config.yaml"
    path.write_text(path.read_text(encoding="utf-8") + textwrap.dedent(text), encoding="utf-8")


def kinds(result) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for f in result.findings:
        found.setdefault(f.kind, set()).add(f.key)
    return found


@pytest.fixture(params=BACKENDS)
def scenario(request, tmp_path, make_database):
    made = []

    def build(**options):
        s = Scenario(tmp_path, make_database(request.param), make_database(request.param), lookback="0s",
                     **{"batch_size": 7, **options})
        made.append(s)
        return s
    yield build
    for s in made:
        s.dispose()


def test_repair_finds_and_fixes_what_incremental_runs_miss(scenario):
    s = scenario()
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 31))
    assert not s.run().failed
    [same] = commands.repair(s.project())
    assert (same.status, same.differing, same.resent, same.equal) == ("ok", 0, 0, True)
    assert same.source_rows == same.target_rows == 30

    s.update([7], jg="坏值", update_time=s.at(40))          # a newer version the target cannot take
    assert not s.run().failed and s.reject_keys() == {"7"}
    with s.target.begin() as conn:
        conn.execute(sa.delete(dp_record).where(dp_record.c.id == "3"))                       # lost
        conn.execute(sa.update(dp_record).where(dp_record.c.id == "4").values(title="被改"))   # changed there
        conn.execute(sa.insert(dp_record).values(id="999", check_status="0"))                  # not from the source
    s.update([5], title="后改", update_time=s.at(6))         # back-dated: behind what the runs have read
    s.insert([{"id": 31, "update_time": s.at(50)}])          # newer than the watermark: the next run's
    [fixed] = commands.repair(s.project())
    assert fixed.status == "ok" and fixed.equal
    assert kinds(fixed) == {"missing": {"3"}, "different": {"4"}, "back-dated": {"5"}, "waiting": {"31"},
                            "extra": {"999"}, "stale": {"7"}, "rejected": {"7"}}
    backdated = next(f for f in fixed.findings if f.kind == "back-dated")
    assert backdated.column == "title" and "back-dated" in backdated.reason
    assert next(f for f in fixed.findings if f.kind == "stale").reason.startswith("update rejected")
    assert fixed.resent == 3 and fixed.marked == fixed.deleted == 0
    actual = s.actual()
    expected = s.expected()
    for key in ("3", "4", "5"):
        assert actual[key] == expected[key]
    assert "999" in actual and "31" not in actual and actual["7"]["check_status"] == "0"   # left as they were

    # the run history and the audit journal say what was repaired and why
    [record] = commands.history(s.project(), limit=1)
    assert record["mode"] == "reconcile" and record["status"] == "ok"
    assert (record["rows_read"], record["rows_written"], record["rows_rejected"]) == (31, 3, 1)
    # what the write did, told apart as a run tells it: 3 missing inserted, 4 and 5 updated
    [audited] = commands.history_records(s.project(), limit=1)
    assert (audited["inserted"], audited["updated"], audited["unchanged"], audited["written"]) == (1, 2, 0, 3)
    assert (fixed.counts.inserted, fixed.counts.updated, fixed.counts.unchanged) == (1, 2, 0)
    assert "1 missing, 1 different, 1 back-dated, 1 waiting, 1 extra, 1 stale" in record["window"]
    journal = [r for r in commands.audit_list(s.project(), mapping="record") if r.get("run_id") == record["run_id"]]
    assert [r["kind"] for r in journal][0] == audit.RUN_START and journal[-1]["kind"] == audit.RUN_END
    [repaired] = [r for r in journal if r["kind"] == audit.CHECKPOINT and r["counts"]["written"] == 3]
    assert repaired["detail"] == {"reconcile": "re-sent",
                                  "keys": {"missing": ["3"], "different": ["4"], "back-dated": ["5"]}}
    assert journal[-1]["detail"]["mode"] == "reconcile" and journal[-1]["window"] == record["window"]

    [again] = commands.repair(s.project())     # nothing left to repair: only what is reported
    assert again.resent == 0 and set(kinds(again)) == {"waiting", "extra", "stale", "rejected"}
    assert s.run().results[0].status == "ok" and "31" in s.actual()


def test_on_source_delete_set_marks_the_row_deleted_through_the_upsert(scenario):
    s = scenario()
    add_to_mapping(s, """\
        on_source_delete: {set: {title: 已删除, update_time: {value: now}}}
        """)
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 21))
    s.run()
    with s.source.begin() as conn:
        conn.execute(sa.delete(src_record).where(src_record.c.id.in_([2, 9])))        # deleted at the source
    s.update([12], del_flag="1")                                                     # or filtered out by 'where'
    [done] = commands.repair(s.project(), now=s.now().astimezone())
    assert kinds(done) == {"deleted": {"2", "9", "12"}} and done.marked == 3
    assert (done.counts.inserted, done.counts.updated, done.counts.unchanged, done.counts.rows_written) == (0, 3, 0, 3)
    [marked] = [r for r in commands.audit_list(s.project(), mapping="record", kinds=[audit.CHECKPOINT])
                if (r.get("detail") or {}).get("reconcile") == "marked deleted"]
    assert sorted(marked["detail"]["keys"]["deleted"]) == ["12", "2", "9"]
    actual = s.actual()
    assert {k for k, v in actual.items() if v["title"] == "已删除"} == {"2", "9", "12"}
    assert actual["2"]["check_status"] == "0" and actual["2"]["update_time"] > s.at(100)   # stamped now
    # marked rows are recognised: nothing to do the next time
    [again] = commands.repair(s.project())
    assert (again.differing, again.marked, again.found) == (0, 0, {})
    # a row that comes back to the source is no longer marked deleted
    s.update([12], del_flag="0")
    [back] = commands.repair(s.project())
    assert kinds(back) == {"missing": {"12"}} and s.actual()["12"]["title"] == "记录12"


def test_on_source_delete_delete_deletes_by_key(scenario):
    s = scenario()
    add_to_mapping(s, "on_source_delete: delete\n")
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 16))
    s.run()
    with s.source.begin() as conn:
        conn.execute(sa.delete(src_record).where(src_record.c.id.in_([4, 5])))
    [done] = commands.repair(s.project())
    assert kinds(done) == {"deleted": {"4", "5"}} and done.deleted == 2
    assert done.counts.rows_written == 0 and "2 deleted" in done.describe()     # deleted, not written
    assert s.target_ids() == sorted(str(i) for i in range(1, 16) if i not in (4, 5))
    # report (the default) would have left them: compare only
    [again] = commands.repair(s.project(), repair=False)
    assert again.differing == 0


def test_a_comparison_without_repair_writes_nothing(scenario):
    s = scenario()
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 11))
    s.run()
    with s.target.begin() as conn:
        conn.execute(sa.delete(dp_record).where(dp_record.c.id == "3"))
    [found] = commands.repair(s.project(), repair=False)
    assert kinds(found) == {"missing": {"3"}} and not found.equal and found.resent == 0
    assert "3" not in s.target_ids()


@pytest.mark.parametrize("kind", ["mariadb", "postgresql", "sqlite"])
def test_scope_keeps_a_mapping_to_its_own_rows_of_a_shared_table(tmp_path, make_database, kind):
    s = Scenario(tmp_path, make_database(kind), make_database(kind), lookback="0s", batch_size=7)
    # another mapping writes dp_record too (its rows: check_status '2')
    (s.dir / "mappings" / "other.yaml").write_text(textwrap.dedent("""\
        name: other
        source: {table: src_record, key: [id], cursor: update_time, where: "1 = 0"}
        target: {table: dp_record, key: [id]}
        columns:
          id: {from: id}
          check_status: {const: "2"}
        """), encoding="utf-8")
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 11))
    s.run(names=["record"])
    with s.target.begin() as conn:
        conn.execute(sa.insert(dp_record), [{"id": f"x{i}", "check_status": "2"} for i in range(5)])
    add_to_mapping(s, "on_source_delete: delete\n")
    # without a scope, the other mapping's rows look deleted at the source: reported, never deleted
    [unscoped] = commands.repair(s.project(), names=["record"])
    assert kinds(unscoped) == {"extra": {f"x{i}" for i in range(5)}}
    assert any("target.scope" in w for w in unscoped.warnings) and len(s.target_ids()) == 15
    [detailed] = commands.reconcile(s.project(), names=["record"])
    assert detailed.count("extra") == 5
    # with a scope, each mapping reconciles only its own rows
    path = s.dir / "mappings" / "record.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "  key: [id]\nbatch_size", "  key: [id]\n  scope: \"check_status <> '2'\"\nbatch_size"), encoding="utf-8")
    assert "scope:" in path.read_text(encoding="utf-8")
    [scoped] = commands.repair(s.project(), names=["record"])
    assert (scoped.differing, scoped.found, scoped.warnings) == (0, {}, [])
    assert commands.reconcile(s.project(), names=["record"])[0].count("extra") == 0
    with s.source.begin() as conn:
        conn.execute(sa.delete(src_record).where(src_record.c.id == 1))
    [deleted] = commands.repair(s.project(), names=["record"])
    assert kinds(deleted) == {"deleted": {"1"}} and len(s.target_ids()) == 14


def test_a_row_whose_newer_version_is_rejected_is_stale_not_extra(scenario):
    s = scenario()
    add_to_mapping(s, "on_source_delete: delete\n")
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 6))
    s.run()
    s.update([2], jg="坏值", update_time=s.at(20))
    s.run()
    [found] = commands.repair(s.project())
    assert kinds(found) == {"stale": {"2"}, "rejected": {"2"}} and "2" in s.target_ids()   # not deleted
    [detailed] = commands.reconcile(s.project())
    assert {(r.kind, r.key) for r in detailed.differences.itertuples()} == {("stale", "2"), ("rejected", "2")}
    assert detailed.differences[detailed.differences["kind"] == "stale"].iloc[0]["reason"].startswith(
        "update rejected")


def test_a_repair_heals_the_rejects_it_resends(scenario):
    """A row held back because its parent was missing, then repaired: its reject is resolved."""
    s = scenario()
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 6))
    s.insert([{"id": 6, "jg": "坏值", "update_time": s.at(6)}])
    s.run()
    assert s.reject_keys() == {"6"}
    with s.source.begin() as conn:       # fixed at the source without moving its cursor: no run sees it
        conn.execute(sa.update(src_record).where(src_record.c.id == 6).values(jg="正常"))
    [fixed] = commands.repair(s.project())
    assert kinds(fixed) == {"missing": {"6"}} and fixed.counts.rejects_resolved == 1
    assert s.reject_keys() == set() and s.reject_keys("resolved") == {"6"}


# -- kill -9 ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", BACKENDS)
def test_a_repair_killed_mid_way_and_run_again_leaves_target_equal_to_source(tmp_path, make_database, kind):
    s = Scenario(tmp_path, make_database(kind), make_database(kind), lookback="0s", batch_size=7)
    add_to_mapping(s, "on_source_delete: {set: {title: 已删除}}\n")
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 81))
    s.run()
    with s.target.begin() as conn:
        conn.execute(sa.delete(dp_record).where(dp_record.c.id.in_([str(i) for i in range(10, 40)])))
        conn.execute(sa.update(dp_record).where(dp_record.c.id.in_([str(i) for i in range(50, 60)]))
                     .values(title="被改"))
    with s.source.begin() as conn:
        conn.execute(sa.delete(src_record).where(src_record.c.id.in_(list(range(70, 81)))))
    killed = s.syncd("reconcile", "--repair", env={"SYNCD_TEST_CRASH_AT": "repair:3"})
    assert killed.returncode == CRASH_EXIT, f"{killed.stdout}\n{killed.stderr}"
    assert 50 < len(s.target_ids()) < 80      # some of the 30 lost rows re-sent, not all
    rerun = s.syncd("reconcile", "--repair")
    assert rerun.returncode == 0, f"{rerun.stdout}\n{rerun.stderr}"
    actual = s.actual()
    expected = s.expected()
    assert {k: v for k, v in actual.items() if int(k) < 70} == expected
    assert all(actual[str(i)]["title"] == "已删除" for i in range(70, 81))
    [after] = commands.repair(s.project(), repair=False)
    assert after.differing == 0
    runs = commands.history(s.project(), limit=3)
    assert [r["status"] for r in runs] == ["ok", "ok", "running"]      # the killed one never finished


# -- heavy hours and rate ----------------------------------------------------------------------

def clock_at(hour: int):
    return lambda: datetime(2026, 3, 4, hour, 0)


def test_a_repair_outside_heavy_hours_compares_and_defers(scenario):
    s = scenario(defaults='heavy_hours: "22:00-06:00"')
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 11))
    assert s.run(clock=clock_at(23)).results[0].status == "ok"
    with s.target.begin() as conn:
        conn.execute(sa.delete(dp_record).where(dp_record.c.id == "3"))
    [deferred] = commands.repair(s.project(), clock=clock_at(10))
    assert deferred.status == "deferred" and kinds(deferred) == {"missing": {"3"}} and deferred.resent == 0
    assert "heavy_hours 22:00-06:00" in deferred.warnings[0] and "3" not in s.target_ids()
    assert commands.history(s.project(), limit=1)[0]["status"] == "deferred"
    [done] = commands.repair(s.project(), clock=clock_at(23))
    assert done.status == "ok" and done.resent == 1 and "3" in s.target_ids()


def test_a_full_copy_outside_heavy_hours_waits_and_incremental_runs_go_on(scenario):
    s = scenario(defaults='heavy_hours: "22:00-06:00"')
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 31))
    [waiting] = s.run(clock=clock_at(10)).results
    assert waiting.status == "deferred" and "full copy deferred" in waiting.warnings[0]
    assert s.target_count() == 0 and commands.watermark_show(s.project(), mapping="record")["watermark"] is None
    [record] = commands.history(s.project(), limit=1)
    assert record["status"] == "deferred" and "the watermark is unchanged" in record["warning"]
    # inside the hours it runs; when they close it stops at a checkpoint and resumes the next night
    calls = {"n": 0}

    def closing() -> datetime:
        calls["n"] += 1
        return datetime(2026, 3, 4, 5, 59) if calls["n"] <= 2 else datetime(2026, 3, 4, 6, 0)
    [stopped] = s.run(clock=closing).results
    assert stopped.status == "deferred" and 0 < s.target_count() < 30
    assert "resumes from its last checkpoint" in stopped.warnings[0]
    [finished] = s.run(clock=clock_at(23)).results
    assert finished.status == "ok" and s.target_count() == 30
    # incremental runs are never held back
    s.insert([{"id": 31, "update_time": s.at(31)}])
    [incremental] = s.run(clock=clock_at(10)).results
    assert incremental.status == "ok" and s.target_count() == 31
    # an explicit --full outside the hours waits too
    assert s.run(full=True, clock=clock_at(12)).results[0].status == "deferred"


def test_a_resend_after_a_mapping_change_waits_for_heavy_hours_while_changes_flow(scenario):
    s = scenario(defaults='heavy_hours: "22:00-06:00"')
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 11))
    assert s.run(clock=clock_at(23)).results[0].status == "ok"
    path = s.dir / "mappings" / "record.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("title:        {from: title}",
                                                             "title:        {const: 已改}"), encoding="utf-8")
    s.insert([{"id": 11, "update_time": s.at(11)}])
    [day] = s.run(clock=clock_at(10)).results
    assert day.status == "ok" and day.mode == "incremental" and day.counts.rows_written == 1   # row 11 flows
    assert any("the re-send deferred" in w for w in day.warnings)
    titles = {k: v["title"] for k, v in s.actual().items()}
    assert titles["11"] == "已改" and titles["1"] == "记录1"          # the old rows wait for the re-send
    [still] = s.run(clock=clock_at(11)).results                      # the change is not forgotten
    assert any("the re-send deferred" in w for w in still.warnings)
    [night] = s.run(clock=clock_at(23)).results
    assert night.status == "ok" and night.mode == "full" and {v["title"] for v in s.actual().values()} == {"已改"}
    [after] = s.run(clock=clock_at(10)).results
    assert after.mode == "incremental" and not after.warnings


def test_max_rows_per_second_paces_a_full_copy_and_a_repair(scenario):
    s = scenario(defaults="max_rows_per_second: 100")
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 43))   # 6 batches of 7
    started = time.monotonic()
    assert s.run().results[0].status == "ok"
    assert time.monotonic() - started >= 0.40                              # 42 rows at 100 a second
    with s.target.begin() as conn:
        conn.execute(sa.delete(dp_record))
    started = time.monotonic()
    [repaired] = commands.repair(s.project())
    assert repaired.resent == 42 and time.monotonic() - started >= 0.40
    s.insert([{"id": 43, "update_time": s.at(43)}])
    started = time.monotonic()
    s.run()
    assert s.target_count() == 43


# -- configuration -------------------------------------------------------------------------------

def test_on_source_delete_problems_name_file_line_and_fix(tmp_path):
    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}")
    path = s.dir / "mappings" / "record.yaml"
    base = path.read_text(encoding="utf-8")
    for text, where, words in [
        ("on_source_delete: remove\n", "on_source_delete", "report (the default), delete, or"),
        ("on_source_delete: {set: {deleted: '1'}}\n", "on_source_delete.set.deleted", "not under 'columns:'"),
        ("on_source_delete: {set: {id: x}}\n", "on_source_delete.set.id", "is the target key"),
        ("on_source_delete: {set: {update_time: {value: now}}}\n", "on_source_delete.set", "fixed value"),
        ("on_source_delete: {set: {title: {value: soon}}}\n", "on_source_delete", "{value: now}"),
        ('heavy_hours: "night"\n', "heavy_hours", "HH:MM-HH:MM"),
        ("max_rows_per_second: 0\n", "max_rows_per_second", "greater than or equal to 1"),
    ]:
        path.write_text(base + text, encoding="utf-8")
        with pytest.raises(MappingError) as caught:
            s.project()
        [problem] = caught.value.problems
        line = len(base.splitlines()) + 1
        assert (problem.file, problem.where, problem.line) == (str(path), where, line), (text, problem)
        assert words in problem.message, problem.message
    path.write_text(base.replace("  title:        {from: title}", "  title:        {from: title, update: false}")
                    + "on_source_delete: {set: {title: x}}\n", encoding="utf-8")
    with pytest.raises(MappingError, match="update: false"):
        s.project()
    s.dispose()


def test_config_heavy_hours_and_reconcile_are_checked(tmp_path):
    from syncd import schedule
    from syncd.errors import ConfigError

    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}")
    config = s.dir / "config.yaml"
    base = config.read_text(encoding="utf-8")
    config.write_text(base.replace("retry_wait_max: 0.2s}", 'retry_wait_max: 0.2s, heavy_hours: "6-22"}'),
                      encoding="utf-8")
    with pytest.raises(ConfigError, match="HH:MM-HH:MM") as caught:
        s.project()
    assert caught.value.problems[0].where == "defaults.heavy_hours" and caught.value.problems[0].line == 5
    config.write_text(base + 'reconcile: {schedule: "0 3 * * *", repair: true}\n', encoding="utf-8")
    project = s.project()
    job = schedule.reconcile_job(project.config, project.mappings)
    assert job is not None and job.mappings == ("record",) and not job.is_interval
    config.write_text(base + 'reconcile: {schedule: "at three", mappings: [nope]}\n', encoding="utf-8")
    project = s.project()
    with pytest.raises(ConfigError) as caught:
        schedule.reconcile_job(project.config, project.mappings)
    assert {p.where for p in caught.value.problems} == {"reconcile.mappings.0", "reconcile.schedule"}
    s.dispose()


def test_cli_reconcile_repair_prints_what_it_did_and_refuses_beside_a_daemon(tmp_path):
    from syncd import lock

    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}", lookback="0s")
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 6))
    s.run()
    with s.target.begin() as conn:
        conn.execute(sa.delete(dp_record).where(dp_record.c.id == "2"))
    held = lock.acquire(lock.lock_path(s.project().config), purpose="daemon")
    try:
        refused = s.syncd("reconcile", "--repair")
        assert refused.returncode == 3 and "holds" in refused.stderr
    finally:
        held.release()
    done = s.syncd("reconcile", "--repair", "--csv", str(tmp_path / "diff.csv"))
    assert done.returncode == 0, done.stderr
    assert "missing" in done.stdout and "re-sent" in done.stdout and "Traceback" not in done.stderr
    assert "missing,2," in (tmp_path / "diff.csv").read_text(encoding="utf-8-sig")
    assert "2" in s.target_ids()
    s.dispose()


def test_the_daemon_reconciles_and_repairs_on_its_schedule(tmp_path):
    from tests.test_daemon import Daemon, build

    s = build(tmp_path, rows=20, schedule="1h")
    add_to_config(s, 'reconcile: {schedule: "2s", repair: true}\n')
    assert commands.run_once(s.project()).results[0].status == "ok"
    with s.target.begin() as conn:
        conn.execute(sa.delete(dp_record).where(dp_record.c.id.in_(["3", "4"])))
    daemon = Daemon(s)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(s.target_ids()) < 20:
            time.sleep(0.5)
        assert len(s.target_ids()) == 20, daemon.log
        daemon.wait_log("reconcile of record ok")
    finally:
        daemon.signal(signal.SIGTERM)
        daemon.wait()
    runs = [r for r in commands.history(s.project(), limit=20) if r["mode"] == "reconcile"]
    assert runs and runs[-1]["rows_written"] == 2 and "2 missing" in runs[-1]["window"]
    assert "reconcile and repair" in daemon.log_path.read_text(encoding="utf-8")


# -- what a reconcile costs over the link ---------------------------------------------------------

@pytest.mark.parametrize("kind", ["mariadb", "postgresql"])
def test_reconciling_an_unchanged_table_costs_a_few_kb(tmp_path, make_database, kind):
    """200 000 rows: a full copy through a byte-counting proxy, then a reconcile of the unchanged
    table through it; the reconcile sends at most 2 % of the full copy's bytes."""
    from decimal import Decimal

    from tests.faultproxy import CuttingProxy

    source, target = make_database(kind), make_database(kind)
    url = sa.make_url(target)
    proxy = CuttingProxy(url.host, url.port)
    try:
        s = Scenario(tmp_path, source, target, lookback="0s", batch_size=5000)
        config = s.dir / "config.yaml"
        config.write_text(config.read_text(encoding="utf-8").replace(
            target, url.set(port=proxy.port).render_as_string(hide_password=False)), encoding="utf-8")
        base = s.at(0)
        rows = [{"id": i, "jg": "正常", "title": f"隐患排查记录{i}", "amount": Decimal(i % 1000) / 100, "del_flag": "0",
                 "update_time": base + timedelta(seconds=i // 100)} for i in range(1, 200_001)]
        with s.source.begin() as conn:
            for start in range(0, len(rows), 20_000):
                conn.execute(src_record.insert(), rows[start:start + 20_000])
        del rows
        proxy.reset()
        assert s.run().results[0].counts.rows_written == 200_000
        full = proxy.bytes
        proxy.reset()
        [same] = commands.repair(s.project())
        assert same.status == "ok" and same.differing == 0 and same.target_rows == 200_000
        assert proxy.bytes <= 0.02 * full, (proxy.bytes, full)
        assert proxy.bytes < 200_000          # a few KB per 1 000 buckets, not the table
        s.dispose()
    finally:
        proxy.close()
