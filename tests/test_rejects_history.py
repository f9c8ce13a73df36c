"""Rejects keep every decision (episodes), ``syncd history`` for auditors, and a quiet log for
runs that found nothing to do."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from loguru import logger

from syncd import cli, commands
from syncd.sync import Observer, Stopped
from tests.scenario import Scenario, dp_record


def build(tmp_path: Path, **options: Any) -> Scenario:
    return Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", f"sqlite:///{tmp_path / 'fep.db'}", **options)


def syncd(s: Scenario, *args: str) -> Any:
    result = CliRunner().invoke(cli.cli, ["-c", str(s.dir / "config.yaml"), *args])
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    assert "Traceback" not in result.output, result.output
    return result


def episodes(s: Scenario, key: str) -> list[tuple[int, str]]:
    return [(r["episode"], r["status"]) for r in commands.rejects(s.project(), mapping="record", status_=None, key=key)]


def journal(s: Scenario, kind: str) -> list[dict[str, Any]]:
    return commands.audit_list(s.project(), kinds=[kind])


@pytest.fixture
def recent(tmp_path):
    """Rows stamped just now, and a lookback of an hour: every run reads them again."""
    s = build(tmp_path, lookback="1h")
    now = s.now() - timedelta(seconds=5)
    s.insert([{"id": 1, "update_time": now}, {"id": 2, "jg": "坏值", "update_time": now}])
    s.run()
    assert s.reject_keys() == {"2"}
    yield s
    s.dispose()


# -- episodes -----------------------------------------------------------------------------------

def test_a_dropped_reject_stays_dropped_while_its_row_is_read_again_unchanged(recent):
    s = recent
    [first] = commands.rejects(s.project())
    assert commands.drop_rejects(s.project(), mapping="record", keys=["2"], reason="企业已注销", by="张三") == []
    for _ in range(3):
        result = s.run().results[0]
        assert result.counts.rows_read >= 2 and result.counts.rows_rejected >= 1   # re-read inside the lookback
        assert episodes(s, "2") == [(1, "dropped")]
    [dropped] = commands.rejects(s.project(), mapping="record", status_=None, key="2")
    assert dropped["dropped_by"] == "张三" and dropped["drop_reason"] == "企业已注销"
    assert dropped["reason"].startswith("dropped: 企业已注销 (was: check_status:")
    assert dropped["attempts"] == first["attempts"] and dropped["last_seen"] > first["last_seen"]
    assert commands.rejects(s.project()) == []
    assert commands.health(s.project())[0] is True
    # One decision, one journal record: being read again is no decision.
    assert len(journal(s, "reject.new")) == 1 and len(journal(s, "reject.dropped")) == 1


def test_a_new_episode_opens_when_the_row_changes_and_fails_again(recent):
    s = recent
    commands.drop_rejects(s.project(), mapping="record", keys=["2"], reason="企业已注销")
    s.update([2], title="县里改过的", update_time=s.now())
    s.run()
    assert episodes(s, "2") == [(1, "dropped"), (2, "pending")]
    old, new = commands.rejects(s.project(), mapping="record", status_=None, key="2")
    assert old["row"]["title"] == "记录2" and new["row"]["title"] == "县里改过的"
    assert new["row_hash"] != old["row_hash"] and new["attempts"] == 1
    opened = journal(s, "reject.new")[-1]
    assert opened["detail"]["episode"] == 2 and opened["detail"]["after"] == "dropped"
    # The earlier episode stays, with its decision, in `rejects list --all` and `rejects show`.
    listed = syncd(s, "rejects", "list", "--all")
    assert listed.exit_code == 0 and "dropped" in listed.output and "pending" in listed.output
    shown = syncd(s, "rejects", "show", "-m", "record", "2")
    assert shown.exit_code == 0 and "2 episode(s)" in shown.output and "县里改过的" in shown.output
    assert "记录2" in shown.output


def test_a_reject_is_resolved_only_by_the_run_that_wrote_its_row_and_a_later_failure_is_a_new_episode(recent):
    s = recent
    codes = s.dir / "mappings" / "codes" / "check_status.yaml"
    codes.write_text(codes.read_text(encoding="utf-8").replace("[无隐患]", "[无隐患, 坏值]"), encoding="utf-8")
    report = s.run()
    assert report.results[0].counts.rejects_resolved == 1
    [resolved] = commands.rejects(s.project(), mapping="record", status_=None, key="2")
    assert resolved["status"] == "resolved" and resolved["resolved_run"] == report.run_id
    with s.target.connect() as conn:
        assert conn.execute(sa.select(dp_record.c.run_id).where(dp_record.c.id == "2")).scalar() == report.run_id
    [record] = journal(s, "reject.resolved")
    assert record["run_id"] == report.run_id and record["detail"]["key"] == "2"
    # Broken again in the county system: a second episode, the first stays resolved.
    s.update([2], jg="又坏了", update_time=s.now())
    s.run()
    assert episodes(s, "2") == [(1, "resolved"), (2, "pending")]


def test_a_reject_whose_row_is_gone_records_the_run_that_found_it(recent):
    s = recent
    s.update([2], del_flag="9")
    report = s.run()
    assert report.results[0].counts.rejects_gone == 1
    [gone] = commands.rejects(s.project(), mapping="record", status_=None, key="2")
    assert gone["status"] == "gone" and gone["resolved_run"] == report.run_id
    [record] = journal(s, "reject.gone")
    assert record["run_id"] == report.run_id


def test_a_pending_reject_read_again_is_one_episode_with_more_attempts(recent):
    s = recent
    [before] = commands.rejects(s.project())
    s.run()
    s.run()
    [pending] = commands.rejects(s.project())
    assert pending["episode"] == 1 and pending["attempts"] > before["attempts"]
    assert len(journal(s, "reject.new")) == 1


# -- history ------------------------------------------------------------------------------------

class _StopAtOnce(Observer):
    def stop_requested(self) -> bool:
        return True


@pytest.fixture
def runs(tmp_path):
    """Three runs: ok, failed (the target table is away), stopped (at its first checkpoint)."""
    s = build(tmp_path)
    s.insert([{"id": 1, "update_time": s.at(1)}, {"id": 2, "jg": "坏值", "update_time": s.at(2)}])
    s.run()
    with s.target.begin() as conn:
        conn.execute(sa.text("ALTER TABLE dp_record RENAME TO dp_record_away"))
    assert s.run().failed
    with s.target.begin() as conn:
        conn.execute(sa.text("ALTER TABLE dp_record_away RENAME TO dp_record"))
    s.insert([{"id": 3, "update_time": s.at(3)}])
    with pytest.raises(Stopped):
        commands.run_once(s.project(), observer=_StopAtOnce())
    yield s
    s.dispose()


def test_history_json_has_every_field_in_full_with_local_times(runs):
    s = runs
    result = syncd(s, "history", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["status"] for r in rows] == ["stopped", "failed", "ok"]
    assert all(list(r) == list(commands.HISTORY_FIELDS) for r in rows)
    ok = rows[-1]
    assert (ok["mode"], ok["read"], ok["written"], ok["rejected"]) == ("incremental", 2, 1, 1)
    # Told apart by the write path: written = inserted + updated.
    assert (ok["inserted"], ok["updated"], ok["unchanged"]) == (1, 0, 0)
    history = commands.history(s.project())
    assert [r["run_id"] for r in rows] == [r["run_id"] for r in history]     # run ids in full
    assert len(ok["run_id"]) == len("20261129T094754Z-f2d184")
    started = datetime.fromisoformat(ok["started_at"])
    assert started.utcoffset() == timedelta(hours=8)                          # defaults.timezone
    assert ok["watermark_before"] is None and ok["watermark_after"].startswith(s.at(2).strftime("%Y-%m-%d %H:%M:%S"))
    assert ok["window"].startswith("full copy")
    failed = rows[1]
    assert "dp_record" in failed["error"] and failed["ended_at"] is not None


def test_history_csv_is_not_cut(runs, tmp_path):
    s = runs
    result = syncd(s, "history", "--format", "csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert list(rows[0]) == list(commands.HISTORY_FIELDS) and len(rows) == 3
    assert rows[1]["error"] == commands.history(s.project())[1]["error"]      # the whole error, on one field
    out = tmp_path / "history.csv"
    assert syncd(s, "history", "--format", "csv", "-o", str(out)).exit_code == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")                      # a BOM, for Excel


@pytest.mark.parametrize(("args", "statuses"), [
    (["--status", "ok"], ["ok"]),
    (["--status", "failed"], ["failed"]),
    (["--status", "stopped"], ["stopped"]),
    (["-m", "record", "--status", "ok"], ["ok"]),
    (["--from", "TODAY"], ["stopped", "failed", "ok"]),
    (["--to", "TODAY"], ["stopped", "failed", "ok"]),
    (["--from", "TOMORROW"], []),
    (["--to", "YESTERDAY"], []),
    (["--from", "YESTERDAY", "--to", "TODAY", "--status", "failed"], ["failed"]),
    (["--limit", "1"], ["stopped"]),
])
def test_history_filters(runs, args, statuses):
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    days = {"TODAY": today, "TOMORROW": today + timedelta(days=1), "YESTERDAY": today - timedelta(days=1)}
    args = [days[a].isoformat() if a in days else a for a in args]
    result = syncd(runs, "history", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    assert [r["status"] for r in json.loads(result.output)] == statuses


@pytest.mark.parametrize("bad", ["2026-13-01", "01/11/2026", "yesterday", "2026-02-30"])
def test_history_refuses_a_bad_date_naming_the_format(runs, bad):
    result = syncd(runs, "history", "--from", bad)
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


def test_history_table_still_works(runs):
    result = syncd(runs, "history")
    assert result.exit_code == 0 and "failed" in result.output


def test_history_days_are_days_of_the_configured_time_zone(runs):
    s = runs
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    assert len(commands.history(s.project(), since=today, until=today)) == 3
    assert commands.history(s.project(), since=date(2000, 1, 1), until=date(2000, 1, 2)) == []


# -- logs -----------------------------------------------------------------------------------------

def test_a_run_that_read_nothing_logs_its_summary_at_debug(tmp_path):
    s = build(tmp_path)
    s.insert([{"id": 1, "update_time": s.at(1)}])
    seen: list[tuple[str, str]] = []
    sink = logger.add(lambda m: seen.append((m.record["level"].name, m.record["message"])), level="DEBUG")
    try:
        s.run()
        s.run()
    finally:
        logger.remove(sink)
    summaries = [(level, text) for level, text in seen if text.startswith("mapping record ok")]
    assert [level for level, _ in summaries] == ["INFO", "DEBUG"]
    assert "read 0" in summaries[1][1]
    assert not [text for level, text in seen if level == "INFO" and "read 0" in text]
