"""The audit journal: what it records, and that ``syncd audit verify`` notices every kind of
tampering in either copy (the state store's table, the JSON lines) without ever crashing.

Also the operator's verbs that the journal records (watermark rewind and set, state check and
rebuild), their refusal while another syncd holds the store, and the journal on the MariaDB and
PostgreSQL test servers.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from loguru import logger

from syncd import audit, cli, commands, lock
from syncd import state as state_module
from syncd.config import load_config
from syncd.engines import open_state
from syncd.errors import ConfigError
from syncd.state import journal_directory, journal_settings
from syncd.watermark import Watermark
from tests.scenario import Scenario
from tests.servers import BACKENDS, SERVER_BACKENDS

KEY = "a-secret-key-for-the-audit-chain-0123456789"


def build(tmp_path: Path, *, config: str = "", **options: Any) -> Scenario:
    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", f"sqlite:///{tmp_path / 'fep.db'}", **options)
    if config:
        with open(tmp_path / "config.yaml", "a", encoding="utf-8") as stream:
            stream.write(config)
    return s


def syncd(s: Scenario, *args: str) -> Any:
    """``syncd -c CONFIG ARGS`` in this process; loguru goes back to stderr afterwards (the CLI
    pointed it at the runner's stream, which is closed once the command returns)."""
    result = CliRunner().invoke(cli.cli, ["-c", str(s.dir / "config.yaml"), *args])
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    assert "Traceback" not in result.output, result.output
    return result


def state_db(s: Scenario) -> Path:
    return s.dir / "state.db"


def folder(s: Scenario) -> Path:
    return journal_directory(s.project().config)


def table_records(s: Scenario) -> list[dict[str, Any]]:
    with sqlite3.connect(state_db(s)) as db:
        rows = db.execute("SELECT record, hash FROM syncd_audit ORDER BY seq").fetchall()
    return [{**json.loads(record), "hash": value} for record, value in rows]


def day_file(s: Scenario) -> Path:
    [path] = [p for p in folder(s).iterdir() if p.suffix == ".jsonl"]
    return path


def file_lines(s: Scenario) -> list[str]:
    return day_file(s).read_text(encoding="utf-8").splitlines(keepends=True)


def write_lines(s: Scenario, lines: list[str]) -> None:
    day_file(s).write_text("".join(lines), encoding="utf-8")


def verify(s: Scenario, *args: str) -> Any:
    return syncd(s, "audit", "verify", *args)


def first_bad(result: Any) -> str:
    line = next(line for line in result.output.splitlines() if line.startswith("first bad record:"))
    return line.removeprefix("first bad record: ")


@pytest.fixture
def journaled(tmp_path):
    """A journal of two runs, a drop and a third run (a few dozen records)."""
    s = build(tmp_path, batch_size=2)
    s.insert([{"id": i, "update_time": s.at(i)} for i in range(1, 6)] + [{"id": 6, "jg": "坏值", "update_time": s.at(6)}])
    s.run()
    assert commands.drop_rejects(s.project(), mapping="record", keys=["6"], reason="企业已注销", by="张三") == []
    s.insert([{"id": 7, "update_time": s.at(7)}])
    s.run()
    s.run()
    yield s
    s.dispose()


# -- what the journal records ----------------------------------------------------------------

def test_runs_checkpoints_rejects_and_files_are_journaled_in_both_copies(journaled):
    s = journaled
    records = table_records(s)
    kinds = [r["kind"] for r in records]
    assert kinds[:3] == ["file.changed"] * 3          # the config, the code list and the mapping, first seen
    assert kinds.count("run.start") == kinds.count("run.end") == 3
    assert {"checkpoint", "reject.new", "reject.dropped"} <= set(kinds)
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    # The JSON lines hold the same records, in order, with their hashes.
    assert [json.loads(line) for line in file_lines(s)] == records
    previous = audit.GENESIS
    for record in records:
        assert set(record) == {*audit.FIELDS, "hash"}
        assert record["prev_hash"] == previous and record["hash"] == audit.seal(record, None)
        assert record["version"] and record["host"] and record["user"] and record["config_hash"]
        assert record["time"].endswith("+08:00")        # defaults.timezone
        previous = record["hash"]
    end = next(r for r in records if r["kind"] == "run.end")
    assert end["outcome"] == "ok" and end["counts"]["rows_read"] == 6 and end["window"].startswith("full copy")
    assert end["mapping_hash"] == hashlib.sha256((s.dir / "mappings" / "record.yaml").read_bytes()).hexdigest()
    checkpoints = [r for r in records if r["kind"] == "checkpoint" and r["run_id"] == end["run_id"]]
    assert sum(c["counts"].get("read", 0) for c in checkpoints) == 6
    assert checkpoints[0]["watermark_after"]["snapshot"] is True
    [new] = [r for r in records if r["kind"] == "reject.new"]
    assert new["detail"]["key"] == "6" and "坏值" in new["detail"]["reason"]
    [dropped] = [r for r in records if r["kind"] == "reject.dropped"]
    assert dropped["detail"]["by"] == "张三" and dropped["detail"]["reason"] == "企业已注销"
    result = verify(s)
    assert result.exit_code == 0, result.output
    assert f"records 1..{len(records)}" in result.output and f"head: {len(records)}:{records[-1]['hash']}" in result.output


def test_a_changed_mapping_file_is_journaled_at_the_next_run(journaled):
    s = journaled
    path = s.dir / "mappings" / "record.yaml"
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    path.write_text(path.read_text(encoding="utf-8") + "# lookback reviewed 2026-11\n", encoding="utf-8")
    s.run()
    changed = [r for r in table_records(s) if r["kind"] == "file.changed"][-1]
    after = hashlib.sha256(path.read_bytes()).hexdigest()
    assert changed["detail"] == {"path": str(path.resolve()), "change": "changed", "before": before, "after": after,
                                 "trigger": "run"}
    start = [r for r in table_records(s) if r["kind"] == "run.start"][-1]
    assert start["mapping_hash"] == after
    # The daemon's SIGHUP: nothing changed since, nothing recorded ...
    assert commands.note_files(s.project()) == 0
    # ... and a code list added and the config edited are recorded without waiting for a run.
    (s.dir / "mappings" / "codes" / "extra.yaml").write_text("name: extra\ncodes: []\n", encoding="utf-8")
    config = s.dir / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "# reviewed\n", encoding="utf-8")
    assert commands.note_files(s.project(), trigger="SIGHUP") == 2
    noted = {r["detail"]["path"]: r["detail"] for r in table_records(s)[-2:]}
    assert noted[str(config.resolve())]["change"] == "changed"
    assert noted[str((s.dir / "mappings" / "codes" / "extra.yaml").resolve())]["change"] == "added"
    assert {d["trigger"] for d in noted.values()} == {"SIGHUP"}
    (s.dir / "mappings" / "codes" / "extra.yaml").unlink()
    assert commands.note_files(s.project()) == 1
    assert table_records(s)[-1]["detail"]["change"] == "removed"
    assert verify(s).exit_code == 0


def test_read_only_commands_write_nothing(journaled):
    s = journaled
    digest = hashlib.sha256(state_db(s).read_bytes()).hexdigest()
    lines = file_lines(s)
    for args in (["status"], ["history"], ["history", "--format", "json"], ["rejects", "list", "--all"],
                 ["rejects", "show", "-m", "record", "6"], ["audit", "verify"], ["audit", "head"], ["audit", "list"],
                 ["watermark", "show", "-m", "record"], ["state", "check"]):
        result = syncd(s, *args)
        assert result.exit_code == 0, (args, result.output)
    assert hashlib.sha256(state_db(s).read_bytes()).hexdigest() == digest
    assert file_lines(s) == lines


def test_a_dry_run_journals_nothing(journaled):
    s = journaled
    count = len(table_records(s))
    s.run(dry_run=True)
    assert len(table_records(s)) == count


# -- tampering --------------------------------------------------------------------------------

def _edit_table(s: Scenario, seq: int, rehash: bool = False) -> None:
    with sqlite3.connect(state_db(s)) as db:
        text = db.execute("SELECT record FROM syncd_audit WHERE seq = ?", (seq,)).fetchone()[0]
        record = json.loads(text)
        record["user"] = "someone-else"
        db.execute("UPDATE syncd_audit SET record = ? WHERE seq = ?", (audit.canonical(record).decode(), seq))
        if rehash:
            db.execute("UPDATE syncd_audit SET hash = ? WHERE seq = ?", (audit.seal(record, None), seq))


def _delete_table(s: Scenario, seq: int) -> None:
    with sqlite3.connect(state_db(s)) as db:
        db.execute("DELETE FROM syncd_audit WHERE seq = ?", (seq,))


def _insert_table(s: Scenario, seq: int) -> None:
    """A forged record after ``seq - 1``, the later ones numbered on."""
    with sqlite3.connect(state_db(s)) as db:
        prev_hash = db.execute("SELECT hash FROM syncd_audit WHERE seq = ?", (seq - 1,)).fetchone()[0]
        db.execute("UPDATE syncd_audit SET seq = seq + 100000 WHERE seq >= ?", (seq,))
        db.execute("UPDATE syncd_audit SET seq = seq - 99999 WHERE seq >= 100000")
        template = json.loads(db.execute("SELECT record FROM syncd_audit WHERE seq = ?", (seq - 1,)).fetchone()[0])
        forged = {**template, "seq": seq, "prev_hash": prev_hash, "kind": "watermark.set", "detail": {"by": "nobody"}}
        db.execute("INSERT INTO syncd_audit (seq, at, kind, mapping, run_id, record, prev_hash, hash) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (seq, forged["time"], forged["kind"], forged["mapping"], forged["run_id"],
                    audit.canonical(forged).decode(), prev_hash, audit.seal(forged, None)))


def _reorder_table(s: Scenario, seq: int) -> None:
    """Records ``seq`` and ``seq + 1`` change places (their sequence numbers swapped)."""
    with sqlite3.connect(state_db(s)) as db:
        db.execute("UPDATE syncd_audit SET seq = -1 WHERE seq = ?", (seq,))
        db.execute("UPDATE syncd_audit SET seq = ? WHERE seq = ?", (seq, seq + 1))
        db.execute("UPDATE syncd_audit SET seq = ? WHERE seq = -1", (seq + 1,))


def _edit_line(s: Scenario, seq: int, rehash: bool = False) -> None:
    lines = file_lines(s)
    record = json.loads(lines[seq - 1])
    record["user"] = "someone-else"
    if rehash:
        record["hash"] = audit.seal(record, None)
    lines[seq - 1] = audit.line(record) + "\n"
    write_lines(s, lines)


def _delete_line(s: Scenario, seq: int) -> None:
    lines = file_lines(s)
    del lines[seq - 1]
    write_lines(s, lines)


def _insert_line(s: Scenario, seq: int) -> None:
    lines = file_lines(s)
    lines.insert(seq - 1, lines[seq - 1])
    write_lines(s, lines)


def _reorder_lines(s: Scenario, seq: int) -> None:
    lines = file_lines(s)
    lines[seq - 1], lines[seq] = lines[seq], lines[seq - 1]
    write_lines(s, lines)


def _truncate_line(s: Scenario, seq: int) -> None:
    lines = file_lines(s)
    lines[seq - 1] = lines[seq - 1][:len(lines[seq - 1]) // 2] + "\n"
    write_lines(s, lines)


TAMPERING = {
    "table-edited": (_edit_table, 5),
    "table-edited-and-rehashed": (lambda s, n: _edit_table(s, n, rehash=True), 5),
    "table-deleted": (_delete_table, 5),
    "table-inserted": (_insert_table, 5),
    "table-reordered": (_reorder_table, 5),
    "lines-edited": (_edit_line, 5),
    "lines-edited-and-rehashed": (lambda s, n: _edit_line(s, n, rehash=True), 5),
    "lines-deleted": (_delete_line, 5),
    "lines-inserted": (_insert_line, 5),
    "lines-reordered": (_reorder_lines, 5),
    "lines-truncated": (_truncate_line, 5),
}


@pytest.mark.parametrize("tamper", TAMPERING, ids=list(TAMPERING))
def test_verify_names_the_first_bad_record(journaled, tamper):
    s = journaled
    assert len(table_records(s)) > 10
    change, seq = TAMPERING[tamper]
    change(s, seq)
    result = verify(s)
    assert result.exit_code == 1, result.output
    assert "NOT intact" in result.output
    assert first_bad(result).startswith(f"record {seq} "), result.output


def test_a_line_cut_off_at_the_end_of_the_file(journaled):
    s = journaled
    lines = file_lines(s)
    last = json.loads(lines[-1])["seq"]
    write_lines(s, [*lines[:-1], lines[-1][:40]])
    result = verify(s)
    assert result.exit_code == 1
    assert first_bad(result).startswith(f"record {last} ") and "cut off" in first_bad(result)


@pytest.mark.parametrize("damage", ["garbage line", "wrong types in a line", "no file", "empty line",
                                   "not utf-8", "table record not json", "table seq not a number"])
def test_a_damaged_journal_is_reported_never_a_crash(journaled, damage):
    s = journaled
    lines = file_lines(s)
    if damage == "garbage line":
        write_lines(s, [*lines[:3], "this is not json\n", *lines[3:]])
    elif damage == "wrong types in a line":
        record = json.loads(lines[3])
        write_lines(s, [*lines[:3], json.dumps({**record, "seq": "4", "detail": [1]}) + "\n", *lines[4:]])
    elif damage == "no file":
        day_file(s).unlink()
    elif damage == "empty line":
        write_lines(s, [*lines[:3], "\n", *lines[3:]])
    elif damage == "not utf-8":
        day_file(s).write_bytes(b"".join(line.encode() for line in lines[:3]) + b"\xff\xfe\n"
                                + b"".join(line.encode() for line in lines[3:]))
    else:
        with sqlite3.connect(state_db(s)) as db:
            if damage == "table record not json":
                db.execute("UPDATE syncd_audit SET record = '{\"seq\": 4, ' WHERE seq = 4")
            else:
                db.execute("UPDATE syncd_audit SET seq = 'four' WHERE seq = 4")
    result = verify(s)
    assert result.exit_code == 1, result.output
    assert "first bad record:" in result.output and "unexpected error" not in result.output


def test_the_newest_records_removed_from_both_copies_are_found_by_the_head(journaled):
    s = journaled
    kept = syncd(s, "audit", "head")
    assert kept.exit_code == 0
    head = kept.output.split()[0]
    seq = int(head.split(":")[0])
    assert verify(s, "--head", head).exit_code == 0
    with sqlite3.connect(state_db(s)) as db:
        db.execute("DELETE FROM syncd_audit WHERE seq > ?", (seq - 2,))
    write_lines(s, file_lines(s)[:seq - 2])
    # The state store's head row still names the newest record ...
    result = verify(s)
    assert result.exit_code == 1 and first_bad(result).startswith(f"record {seq - 1} (syncd_audit_head)")
    _set_head_row(s, seq - 2)
    # ... and once it is set back too, the shorter chain is still a valid chain ...
    assert verify(s).exit_code == 0
    # ... but it no longer reaches the head the auditor kept.
    result = verify(s, "--head", head)
    assert result.exit_code == 1
    assert first_bad(result).startswith(f"record {seq} ") and f"ends at record {seq - 2}" in result.output
    wrong = f"{seq - 3}:{'0' * 64}"
    assert verify(s, "--head", wrong).exit_code == 1
    assert syncd(s, "audit", "verify", "--head", "12-abc").exit_code == 2


def _set_head_row(s: Scenario, seq: int) -> None:
    """The state store's head row set to record ``seq`` of the table, as a writer would leave it."""
    with sqlite3.connect(state_db(s)) as db:
        db.execute("UPDATE syncd_audit_head SET seq = ?, hash = (SELECT hash FROM syncd_audit WHERE seq = ?), "
                   "at = (SELECT at FROM syncd_audit WHERE seq = ?) WHERE id = 1", (seq, seq, seq))


@pytest.mark.parametrize("head_row", ["kept", "set back"])
def test_the_newest_records_removed_from_the_table_only_are_found(journaled, head_row):
    s = journaled
    last = table_records(s)[-1]["seq"]
    with sqlite3.connect(state_db(s)) as db:
        db.execute("DELETE FROM syncd_audit WHERE seq > ?", (last - 3,))
    if head_row == "set back":
        _set_head_row(s, last - 3)
    result = verify(s)
    assert result.exit_code == 1, result.output
    assert first_bad(result).startswith(f"record {last - 2} ("), result.output
    for seq in range(last - 2, last + 1):
        assert (f"record {seq} ({day_file(s).name} line {seq}): it is in the JSON lines but not in the state "
                f"store's table, which ends with record {last - 3}") in result.output
    assert ("record {0} (syncd_audit_head): the head row says the journal ends with record {1} ".format(last - 2, last)
            in result.output) == (head_row == "kept")


def test_the_head_row_must_name_the_newest_record(journaled):
    s = journaled
    records = table_records(s)
    with sqlite3.connect(state_db(s)) as db:
        db.execute("UPDATE syncd_audit_head SET hash = ? WHERE id = 1", (records[-2]["hash"],))
    result = verify(s)
    assert result.exit_code == 1
    assert first_bad(result).startswith(f"record {records[-1]['seq']} (syncd_audit_head): the head row says")
    with sqlite3.connect(state_db(s)) as db:
        db.execute("DELETE FROM syncd_audit_head")
    result = verify(s)
    assert result.exit_code == 1 and "syncd_audit_head: the head row is missing" in result.output


def test_records_written_while_verify_reads_are_no_false_alarm(journaled, monkeypatch):
    # A writer commits records (and appends their lines) after verify has read where the table
    # ends and before it reads the JSON lines: the lines then run past the table it read.
    s = journaled
    read_files = commands.read_journal_files
    written: list[int] = []

    def meanwhile(directory: Path, **options: Any) -> Any:
        if not written:
            commands.rewind_watermark(s.project(), mapping="record", by="1h", reason="meanwhile")
            written.append(table_records(s)[-1]["seq"])
        return read_files(directory, **options)

    monkeypatch.setattr(commands, "read_journal_files", meanwhile)
    last = table_records(s)[-1]["seq"]
    check = commands.audit_verify(s.project(), settle=0)
    assert written == [last + 1]
    assert check.verdict.intact, check.verdict.findings
    assert check.verdict.last_seq == last


def test_verify_from_a_day(journaled):
    s = journaled
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    assert verify(s, "--from", today.isoformat()).exit_code == 0
    assert verify(s, "--from", (today + timedelta(days=1)).isoformat()).exit_code == 0
    result = verify(s, "--from", "2026-02-30")
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


def test_a_record_missing_from_the_files_after_a_stop_is_written_by_the_next_change(journaled):
    # A syncd stopped between committing a record and appending its line leaves the files one behind.
    s = journaled
    write_lines(s, file_lines(s)[:-1])
    result = syncd(s, "audit", "verify")
    assert result.exit_code == 1 and "not in the JSON lines" in result.output
    s.run()
    assert verify(s).exit_code == 0


# -- HMAC ---------------------------------------------------------------------------------------

def _rechain(s: Scenario, make: Any) -> None:
    """Rewrite both copies: each record changed by ``make`` and its chain recomputed without the key."""
    records = table_records(s)
    previous = audit.GENESIS
    rewritten = []
    for record in records:
        record = make({**record, "prev_hash": previous})
        record["hash"] = audit.seal(record, None)
        previous = record["hash"]
        rewritten.append(record)
    with sqlite3.connect(state_db(s)) as db:
        for record in rewritten:
            db.execute("UPDATE syncd_audit SET record = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                       (audit.canonical(record).decode(), record["prev_hash"], record["hash"], record["seq"]))
    write_lines(s, [audit.line(r) + "\n" for r in rewritten])


def test_with_a_key_the_chain_cannot_be_recomputed_without_it(tmp_path):
    (tmp_path / "audit.key").write_text(KEY + "\n", encoding="utf-8")
    s = build(tmp_path, config="audit: {key_file: audit.key}\n")
    s.insert([{"id": 1, "update_time": s.at(1)}])
    s.run()
    records = table_records(s)
    assert {r["alg"] for r in records} == {"hmac-sha256"}
    assert records[0]["hash"] != audit.seal(records[0], None)
    assert records[0]["hash"] == audit.seal(records[0], KEY.encode())
    result = verify(s)
    assert result.exit_code == 0 and "HMAC-SHA256" in result.output
    assert KEY not in result.output
    # Someone who can write the store recomputes the chain with plain SHA-256 ...
    _rechain(s, lambda r: {**r, "alg": "sha256", "key_id": None, "user": "someone-else"})
    result = verify(s)
    assert result.exit_code == 1 and "without the key" in result.output
    # ... or keeps the marks and hashes without the key: every record's hash is wrong.
    _rechain(s, lambda r: {**r, "alg": "hmac-sha256", "key_id": audit.key_id(KEY.encode())})
    result = verify(s)
    assert result.exit_code == 1 and first_bad(result).startswith("record 1 ") and "edited" in result.output


def test_a_keyed_journal_needs_the_key_to_be_verified(tmp_path):
    (tmp_path / "audit.key").write_text(KEY, encoding="utf-8")
    s = build(tmp_path, config="audit: {key_file: audit.key}\n")
    s.run()
    config = s.dir / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("audit: {key_file: audit.key}\n", ""),
                      encoding="utf-8")
    result = verify(s)
    assert result.exit_code == 1 and "audit.key_file is not set" in result.output
    (tmp_path / "other.key").write_text("another key entirely", encoding="utf-8")
    config.write_text(config.read_text(encoding="utf-8") + "audit: {key_file: other.key}\n", encoding="utf-8")
    result = verify(s)
    assert result.exit_code == 1 and "another key" in result.output


def _forge_anchor(s: Scenario, seq: int, through: int, key: bytes | None) -> None:
    """Record ``seq`` made a pruning record of the records up to ``through``, in both copies (its
    hash recomputed with ``key``: None where the forger has no key, then the record keeps its hash)."""
    records = {r["seq"]: r for r in table_records(s)}
    forged = {**records[seq], "kind": "audit.pruned", "mapping": None, "run_id": None,
              "detail": {"through_seq": through, "through_hash": records[through]["hash"], "before": "2000-01-01",
                         "records": through}}
    if key is not None or forged["alg"] == "sha256":
        forged["hash"] = audit.seal(forged, key)
    with sqlite3.connect(state_db(s)) as db:
        db.execute("UPDATE syncd_audit SET kind = ?, mapping = NULL, run_id = NULL, record = ?, hash = ? WHERE seq = ?",
                   ("audit.pruned", audit.canonical(forged).decode(), forged["hash"], seq))
        db.execute("UPDATE syncd_audit_head SET hash = (SELECT hash FROM syncd_audit ORDER BY seq DESC LIMIT 1)")
    lines = file_lines(s)
    lines[seq - 1] = audit.line(forged) + "\n"
    write_lines(s, lines)


@pytest.mark.parametrize("forgery", ["keyed: an early record, its hash kept", "plain: an early record, rehashed",
                                     "plain: the newest record, rehashed"])
def test_a_forged_pruning_record_does_not_hide_an_edit(tmp_path, forgery):
    keyed = forgery.startswith("keyed")
    if keyed:
        (tmp_path / "audit.key").write_text(KEY, encoding="utf-8")
    s = build(tmp_path, batch_size=2, config="audit: {key_file: audit.key}\n" if keyed else "")
    s.insert([{"id": i, "update_time": s.at(i)} for i in range(1, 6)])
    s.run()
    s.run()
    last = table_records(s)[-1]["seq"]
    assert verify(s).exit_code == 0
    # A record edited in both copies, without its hash (no key, or done carelessly) ...
    victim = last - 2
    _edit_table(s, victim)
    _edit_line(s, victim)
    # ... and a pruning record, made without the key, that claims to have removed it.
    anchor = last if "newest" in forgery else 2
    _forge_anchor(s, anchor, last - 1 if anchor == last else victim, None)
    result = verify(s)
    assert result.exit_code == 1, result.output
    if anchor == 2:
        expected = ("its content does not match its hash" if keyed else
                    f"it says it removed the records up to {victim}, which come after it")
    else:
        # A true pruning record removed what it names from the table in the same transaction.
        expected = f"it says it removed the records up to {last - 1}, but record 1 is still in the table"
    assert f"record {anchor} (table row seq {anchor}): pruning record not trusted: {expected}" in result.output
    # Checked as if it did not exist, the chain shows the edit.
    assert (f"record {victim} (table row seq {victim}): its content does not match its hash: the record was edited"
            in result.output)


def test_a_forged_pruning_record_removes_no_day_file(tmp_path):
    (tmp_path / "audit.key").write_text(KEY, encoding="utf-8")
    s = build(tmp_path, config="audit: {key_file: audit.key}\n")
    s.insert([{"id": 1, "update_time": s.at(1)}])
    s.run()
    # Made without the key, it claims that every day before 2099 was pruned.
    _forge_anchor(s, 2, 1, None)
    with sqlite3.connect(state_db(s)) as db:
        record = json.loads(db.execute("SELECT record FROM syncd_audit WHERE seq = 2").fetchone()[0])
        record["detail"]["before"] = "2099-01-01"
        db.execute("UPDATE syncd_audit SET record = ? WHERE seq = 2", (audit.canonical(record).decode(),))
    kept = file_lines(s)
    s.run()
    assert file_lines(s)[:len(kept)] == kept


def _line_of_next(s: Scenario) -> int:
    """The number the line after the config's last one will have, plus one (a key under 'audit:')."""
    return len((s.dir / "config.yaml").read_text(encoding="utf-8").splitlines()) + 2


def test_a_key_file_that_is_missing_is_a_config_error_with_its_line(tmp_path):
    s = build(tmp_path)
    line = _line_of_next(s)
    (s.dir / "config.yaml").write_text((s.dir / "config.yaml").read_text() + "audit:\n  key_file: no-such.key\n")
    with pytest.raises(ConfigError) as caught:
        load_config(s.dir / "config.yaml")
    [problem] = caught.value.problems
    assert problem.where == "audit.key_file" and problem.line == line and "no-such.key" in problem.message


# -- retention ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "days"), [("180 days", 180), ("365d", 365), ("52 weeks", 364), ("1 year", 365),
                                             (400, 400)])
def test_retention_values(tmp_path, value, days):
    s = build(tmp_path, config=f"audit: {{retention: {value}}}\n")
    assert load_config(s.dir / "config.yaml").audit.retention == timedelta(days=days)


@pytest.mark.parametrize("value", ["90 days", "179d", "5 months", "a while"])
def test_retention_below_six_months_is_refused_with_file_and_line(tmp_path, value):
    s = build(tmp_path)
    line = _line_of_next(s)
    (s.dir / "config.yaml").write_text((s.dir / "config.yaml").read_text() + f"audit:\n  retention: {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(s.dir / "config.yaml")
    [problem] = caught.value.problems
    assert problem.file.endswith("config.yaml") and problem.line == line and problem.where == "audit.retention"
    assert "six months" in problem.message or "not a number of days" in problem.message


def test_the_default_retentions():
    from syncd.config import AuditConfig, LogConfig

    assert AuditConfig().retention == timedelta(days=365)
    assert LogConfig().retention == "180 days"


class _Clock(datetime):
    """The state module's clock, set by the test."""

    moment = datetime(2025, 1, 1, 12, 0, tzinfo=timezone.utc)

    @classmethod
    def now(cls, tz: Any = None) -> Any:   # type: ignore[override]
        return cls.moment.astimezone(tz) if tz is not None else cls.moment.replace(tzinfo=None)


def test_retention_prunes_whole_days_and_verify_still_passes(tmp_path, monkeypatch):
    monkeypatch.setattr(state_module, "datetime", _Clock)
    s = build(tmp_path)
    s.insert([{"id": 1, "update_time": s.at(1)}])
    _Clock.moment = datetime(2025, 1, 1, 12, 0, tzinfo=timezone.utc)
    s.run()
    old = table_records(s)
    head = f"{old[-1]['seq']}:{old[-1]['hash']}"
    _Clock.moment = datetime(2025, 1, 2, 12, 0, tzinfo=timezone.utc)
    s.run()
    assert sorted(p.name for p in folder(s).glob("*.jsonl")) == ["2025-01-01.jsonl", "2025-01-02.jsonl"]
    # A year and a bit later: the next run prunes the first day only.
    _Clock.moment = datetime(2026, 1, 1, 18, 0, tzinfo=timezone.utc)
    s.run()
    records = table_records(s)
    assert records[0]["seq"] == old[-1]["seq"] + 1
    assert sorted(p.name for p in folder(s).glob("*.jsonl")) == ["2025-01-02.jsonl", "2026-01-02.jsonl"]
    [anchor] = [r for r in records if r["kind"] == "audit.pruned"]
    assert anchor["detail"]["through_seq"] == old[-1]["seq"] and anchor["detail"]["through_hash"] == old[-1]["hash"]
    assert anchor["detail"]["before"] == "2025-01-02" and anchor["detail"]["records"] == len(old)
    result = verify(s)
    assert result.exit_code == 0, result.output
    # The head kept just before the pruned day ended is vouched for by the anchor.
    assert verify(s, "--head", head).exit_code == 0
    # Deleting the oldest day by hand (no anchor covers it) is found.
    with sqlite3.connect(state_db(s)) as db:
        db.execute("DELETE FROM syncd_audit WHERE at < '2026-01-01'")
    (folder(s) / "2025-01-02.jsonl").unlink()
    result = verify(s)
    assert result.exit_code == 1 and "no pruning record" in result.output


def test_a_pruning_cut_off_before_it_removed_its_files(tmp_path, monkeypatch):
    monkeypatch.setattr(state_module, "datetime", _Clock)
    s = build(tmp_path)
    s.insert([{"id": 1, "update_time": s.at(1)}])
    for day in (1, 2):
        _Clock.moment = datetime(2025, 1, day, 12, 0, tzinfo=timezone.utc)
        s.run()
    second = folder(s) / "2025-01-02.jsonl"
    kept = second.read_bytes()
    _Clock.moment = datetime(2026, 1, 2, 18, 0, tzinfo=timezone.utc)
    s.run()
    assert [r["kind"] for r in table_records(s)].count("audit.pruned") == 1 and not second.exists()
    # Cut off after removing the first day's file: the second day's lines are left over.
    second.write_bytes(kept)
    assert verify(s).exit_code == 0
    # A rebuilt store's journal is both copies together, less what the pruning removed.
    result = syncd(s, "state", "rebuild")
    assert result.exit_code == 0, result.output
    result = verify(s)
    assert result.exit_code == 0, result.output


# -- watermarks by hand ---------------------------------------------------------------------

def test_watermark_rewind_and_set_are_journaled_with_who_and_why(tmp_path):
    s = build(tmp_path)
    s.insert([{"id": i, "update_time": s.at(i)} for i in range(1, 4)])
    s.run()
    before = Watermark.from_json(json.dumps(table_records(s)[-1]["watermark_after"]))
    assert before is not None
    result = syncd(s, "watermark", "rewind", "-m", "record", "--by", "2h", "--reason", "省厅要求重传")
    assert result.exit_code == 0, result.output
    rewound = commands.watermark_show(s.project(), mapping="record")["watermark"]
    # A SQLite source hands its times back as text: the rewound cursor keeps their layout.
    assert rewound.cursor == (datetime.fromisoformat(before.cursor) - timedelta(hours=2)).strftime(
        "%Y-%m-%d %H:%M:%S.%f") and rewound.key == ()
    record = table_records(s)[-1]
    assert record["kind"] == "watermark.set" and record["mapping"] == "record"
    assert record["detail"] == {"action": "rewind", "by": state_module.os_user(), "reason": "省厅要求重传",
                                "rewound_by": "2h"}
    assert Watermark.from_json(json.dumps(record["watermark_before"])) == before
    assert Watermark.from_json(json.dumps(record["watermark_after"])) == rewound
    result = syncd(s, "watermark", "set", "-m", "record", "--cursor", "2000-01-01 00:00:00", "--reason", "重新上报",
                   "--by", "王五")
    assert result.exit_code == 0, result.output
    record = table_records(s)[-1]
    assert record["detail"]["by"] == "王五" and record["detail"]["action"] == "set"
    assert commands.watermark_show(s.project(), mapping="record")["watermark"].cursor == "2000-01-01 00:00:00.000000"
    # The next run reads every row after the cursor set by hand.
    assert s.run().results[0].counts.rows_read == 3
    shown = syncd(s, "watermark", "show", "-m", "record")
    assert "王五" in shown.output and "省厅要求重传" in shown.output
    assert verify(s).exit_code == 0


def test_watermark_changes_need_a_reason_and_a_value_of_the_cursors_kind(tmp_path):
    s = build(tmp_path)
    s.insert([{"id": 1, "update_time": s.at(1)}])
    s.run()
    count = len(table_records(s))
    assert syncd(s, "watermark", "rewind", "-m", "record", "--by", "2h").exit_code == 2
    assert syncd(s, "watermark", "rewind", "-m", "record", "--by", "2h", "--reason", "  ").exit_code == 2
    assert syncd(s, "watermark", "rewind", "-m", "record", "--by", "soon", "--reason", "x").exit_code == 2
    result = syncd(s, "watermark", "set", "-m", "record", "--cursor", "yesterday", "--reason", "x")
    assert result.exit_code == 2 and "record.yaml" in result.output
    assert syncd(s, "watermark", "set", "-m", "nosuch", "--cursor", "1", "--reason", "x").exit_code == 2
    assert len(table_records(s)) == count


def test_a_watermark_can_be_set_before_the_first_run(tmp_path):
    s = build(tmp_path)
    # The run reads from the cursor set, less the lookback (10 minutes) as after any watermark.
    s.insert([{"id": 1, "update_time": s.at(1)}, {"id": 2, "update_time": s.at(3600)}])
    middle = s.at(1800).strftime("%Y-%m-%d %H:%M:%S")
    result = syncd(s, "watermark", "set", "-m", "record", "--cursor", middle, "--reason", "只报送今年的数据")
    assert result.exit_code == 0, result.output
    assert s.run().results[0].counts.rows_read == 1


@pytest.mark.parametrize("args", [
    ["watermark", "rewind", "-m", "record", "--by", "1h", "--reason", "x"],
    ["watermark", "set", "-m", "record", "--cursor", "2020-01-01 00:00:00", "--reason", "x"],
    ["state", "rebuild"],
], ids=["rewind", "set", "rebuild"])
def test_changes_are_refused_while_another_syncd_holds_the_store(tmp_path, args):
    s = build(tmp_path)
    s.insert([{"id": 1, "update_time": s.at(1)}])
    s.run()
    count = len(table_records(s))
    mark = commands.watermark_show(s.project(), mapping="record")["watermark"]
    with lock.acquire(lock.lock_path(s.project().config), purpose="daemon"):
        result = syncd(s, *args)
    assert result.exit_code == 3, result.output
    assert f"pid {os.getpid()}" in result.output
    assert commands.watermark_show(s.project(), mapping="record")["watermark"] == mark
    assert len(table_records(s)) == count and state_db(s).exists()


# -- the state store itself -------------------------------------------------------------------

def _corrupt(path: Path, table: str) -> None:
    """Overwrite the root page of ``table``: reading it fails, the rest of the file reads."""
    with sqlite3.connect(path) as db:
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(path.read_bytes())
    data[(root - 1) * size:(root - 1) * size + size // 2] = b"\xa5" * (size // 2)
    path.write_bytes(bytes(data))


@pytest.fixture
def synced(tmp_path):
    s = build(tmp_path)
    s.insert([{"id": 1, "update_time": s.at(1)}, {"id": 2, "jg": "坏值", "update_time": s.at(2)}])
    s.run()
    s.insert([{"id": 3, "update_time": s.at(3)}])
    s.run()
    yield s
    s.dispose()


def test_state_check_on_a_sound_store(synced):
    result = syncd(synced, "state", "check")
    assert result.exit_code == 0 and "is sound" in result.output


def test_state_check_names_what_is_damaged(synced):
    _corrupt(state_db(synced), "syncd_reject")
    result = syncd(synced, "state", "check")
    assert result.exit_code == 1, result.output
    assert "damaged" in result.output and "integrity check" in result.output
    assert "syncd state rebuild" in result.output


def test_state_check_on_a_missing_or_foreign_file(tmp_path):
    s = build(tmp_path)
    result = syncd(s, "state", "check")
    assert result.exit_code == 1 and "does not exist" in result.output
    state_db(s).write_text("syncd state\n" * 500)
    result = syncd(s, "state", "check")
    assert result.exit_code == 1 and "not a database" in result.output


def test_rebuild_carries_over_what_can_be_read(synced):
    s = synced
    before = commands.watermark_show(s.project(), mapping="record")["watermark"]
    runs = len(commands.history(s.project()))
    records = len(table_records(s))
    import sqlite3

    with sqlite3.connect(state_db(s)) as db:      # an incident an alert channel has sent
        db.execute("INSERT INTO syncd_alert (channel, mapping, kind, opened_at, message, notified_at) "
                   "VALUES ('smtp', 'record', 'failed', '2026-11-29 08:00:00', 'the last run failed', "
                   "'2026-11-29 08:00:05')")
    _corrupt(state_db(s), "syncd_reject")
    result = syncd(s, "state", "rebuild")
    assert result.exit_code == 0, result.output
    with sqlite3.connect(state_db(s)) as db:      # carried over: not sent again, its clearing still due
        assert db.execute("SELECT channel, mapping, kind, message FROM syncd_alert").fetchall() == [
            ("smtp", "record", "failed", "the last run failed")]
    # (with the store's write-ahead log beside it, when a connection still had the store open)
    [kept] = [p for p in s.dir.glob("state.db.damaged-*") if not p.name.endswith(("-wal", "-shm"))]
    assert "kept as" in result.output and str(kept) in result.output
    assert commands.watermark_show(s.project(), mapping="record")["watermark"] == before
    assert len(commands.history(s.project())) == runs
    assert "syncd_reject" in result.output          # what could not be read is named
    rebuilt = table_records(s)
    assert len(rebuilt) == records + 1 and rebuilt[-1]["kind"] == "state.rebuilt"
    assert rebuilt[-1]["detail"]["moved_to"] == str(kept) and rebuilt[-1]["detail"]["full_copy_next"] == []
    assert syncd(s, "state", "check").exit_code == 0
    assert verify(s).exit_code == 0
    # The pending reject came back from the journal: the next run retries it by key.
    assert "1 reject episode(s) rebuilt from the audit journal" in result.output
    [pending] = commands.rejects(s.project())
    assert pending["key"] == "2" and pending["row"] == {} and "坏值" in pending["reason"]
    result = s.run().results[0]
    assert not result.window.startswith("full copy")      # the watermark survived
    [pending] = commands.rejects(s.project())
    assert pending["attempts"] == 2 and pending["row"]["jg"] == "坏值"
    assert s.actual() == {k: v for k, v in s.expected().items() if k != "2"}


def test_rebuild_after_the_watermarks_are_lost_copies_that_mapping_in_full(synced):
    s = synced
    _corrupt(state_db(s), "syncd_watermark")
    result = syncd(s, "state", "rebuild")
    assert result.exit_code == 0, result.output
    assert "copies them in full): record" in result.output
    assert s.run().results[0].window.startswith("full copy")
    assert s.actual() == {k: v for k, v in s.expected().items() if k != "2"}
    assert verify(s).exit_code == 0


def test_rebuild_of_a_file_that_is_no_database_keeps_the_journal_from_the_json_lines(synced):
    s = synced
    records = table_records(s)
    state_db(s).write_text("syncd state\n" * 500)
    result = syncd(s, "state", "rebuild")
    assert result.exit_code == 0, result.output
    assert "copies them in full): record" in result.output
    assert table_records(s)[:len(records)] == records
    assert verify(s).exit_code == 0


# -- the journal on database servers, and several writers at once ----------------------------

def _server_state(s: Scenario, url: str) -> None:
    config = s.dir / "config.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace(f'state: {{url: "sqlite:///{s.dir / "state.db"}"}}', f'state: {{url: "{url}"}}'),
                      encoding="utf-8")
    assert s.project().config.state.url == url


@pytest.mark.parametrize("kind", SERVER_BACKENDS)
def test_the_journal_on_a_database_server(tmp_path, make_database, kind):
    s = build(tmp_path)
    url = make_database(kind)
    _server_state(s, url)
    s.insert([{"id": 1, "update_time": s.at(1)}, {"id": 2, "jg": "坏值", "update_time": s.at(2)}])
    s.run()
    assert commands.drop_rejects(s.project(), mapping="record", keys=["2"], reason="企业已注销") == []
    s.run()
    result = verify(s)
    assert result.exit_code == 0, result.output
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            text = conn.execute(sa.select(state_module.journal.c.record).where(state_module.journal.c.seq == 4)).scalar()
            record = {**json.loads(text), "user": "someone-else"}
            conn.execute(sa.update(state_module.journal).where(state_module.journal.c.seq == 4)
                         .values(record=audit.canonical(record).decode()))
    finally:
        engine.dispose()
    result = verify(s)
    assert result.exit_code == 1 and first_bad(result).startswith("record 4 ")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            last = conn.execute(sa.select(sa.func.max(state_module.journal.c.seq))).scalar()
            conn.execute(sa.delete(state_module.journal).where(state_module.journal.c.seq == last))
    finally:
        engine.dispose()
    result = verify(s)
    assert result.exit_code == 1
    assert f"record {last} (syncd_audit_head): the head row says the journal ends with record {last} " in result.output
    assert f"record {last} ({day_file(s).name} line {last}): it is in the JSON lines but not" in result.output


@pytest.mark.parametrize("kind", BACKENDS)
def test_writers_in_several_threads_keep_one_chain(tmp_path, make_database, kind):
    s = build(tmp_path)
    url = make_database(kind)
    _server_state(s, url)
    s.insert([{"id": 1, "update_time": s.at(1)}])
    s.run()
    config = s.project().config
    failures: list[BaseException] = []

    def write(n: int) -> None:
        store = open_state(config)
        try:
            store.attach_journal(journal_settings(config))
            for i in range(8):
                store.set_watermark("record", Watermark(i, ()), action="set", reason=f"writer {n}", by=f"w{n}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            store.engine.dispose()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    result = verify(s)
    assert result.exit_code == 0, result.output
    changes = commands.audit_list(s.project(), kinds=["watermark.set"])
    assert len(changes) == 32


def test_audit_list_takes_only_the_kinds_there_are(tmp_path):
    """A kind mistyped is a usage error naming the kinds (it listed nothing and exited 0); the
    command line's list is the journal's own."""
    from click.testing import CliRunner

    from syncd import audit, cli

    assert cli._AUDIT_KINDS == audit.KINDS
    (tmp_path / "config.yaml").write_text('source: {url: "sqlite:///c.db"}\ntarget: {url: "sqlite:///t.db"}\n',
                                          encoding="utf-8")
    result = CliRunner().invoke(cli.cli, ["-c", str(tmp_path / "config.yaml"), "audit", "list", "--kind", "reject.nwe"])
    assert result.exit_code == 2, result.output
    assert "reject.nwe" in result.output and "reject.new" in result.output
