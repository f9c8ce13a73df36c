"""``syncd report``: the supervisor's report, in HTML (rendered by headless Chromium) and xlsx, from
a real SQLite state store filled by real runs of two mappings (with rejects and a failed run) and
by run records and rejects written by hand for older days (one failed run, one reconcile run, one
run recorded before inserted and updated were told apart)."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from syncd import commands
from syncd import report as report_module
from syncd.state import rejects as rejects_table
from syncd.state import runs as runs_table
from syncd.watermark import Watermark
from tests.scenario import REFUSAL, dp_record, mapping_yaml, scenarios
from tests.servers import in_ci

openpyxl = pytest.importorskip("openpyxl")



def _local_zone() -> str:
    """A zone name for this machine's clock, which SQLite's ``localtime`` (the scenario's source
    clock) follows, so that today's lags are what an operator would see: Etc/GMT±N, or
    Asia/Shanghai where the offset is not whole hours (nothing asserts today's lags)."""
    offset = datetime.now().astimezone().utcoffset() or timedelta(0)
    hours, rest = divmod(int(offset.total_seconds()), 3600)
    if rest:
        return "Asia/Shanghai"
    return "Etc/GMT" if hours == 0 else f"Etc/GMT{-hours:+d}"


ZONE = _local_zone()
TZ = ZoneInfo(ZONE)          # the scenario's defaults.timezone
MAPPINGS = ("record", "record_copy")


# -- the state store, filled ---------------------------------------------------------------------

def _old_run(day: date, hour: int, mapping: str, *, read: int, inserted: int | None, updated: int | None,
             written: int | None = None, rejected: int = 0, lag: timedelta | None = None, status: str = "ok",
             mode: str = "incremental", error: str | None = None, warning: str | None = None) -> dict[str, Any]:
    started = datetime.combine(day, time(hour), TZ)
    ended = started + timedelta(minutes=5)
    mark = Watermark((ended - lag).replace(tzinfo=None), (7,)).to_json() if lag is not None else None
    return dict(run_id=f"{day:%Y%m%d}T{hour:02d}0000Z-{mapping[:6]}", mapping=mapping, mode=mode, status=status,
                started_at=started.astimezone(timezone.utc), ended_at=ended.astimezone(timezone.utc),
                rows_read=read, rows_written=written if written is not None else (inserted or 0) + (updated or 0),
                rows_rejected=rejected, rejects_resolved=0, rejects_gone=0, null_cursor_rows=0, retries=0,
                inserted=inserted, updated=updated, unchanged=None, watermark_before=None, watermark_after=mark,
                window=None, warning=warning, error=error)


def _old_reject(day: date, mapping: str, key: int, reason: str, status: str = "pending") -> dict[str, Any]:
    seen = datetime.combine(day, time(10, 1), TZ).astimezone(timezone.utc)
    return dict(mapping=mapping, source_key=f'[{{"t": "int", "v": "{key}"}}]', episode=1, status=status,
                column_name=None, reason=reason, row_data="{}", row_hash="0" * 64, attempts=1, first_seen=seen,
                last_seen=seen, run_id="old", opened_run="old", resolved_at=None, resolved_run=None, dropped_by=None,
                drop_reason=None)


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """(scenario, first day, last day) of a store with runs on three days of the last week."""
    tmp_path = tmp_path_factory.mktemp("report")
    made = []

    def make_database(kind: str) -> str:
        assert kind == "sqlite"
        path = tmp_path / f"db{len(made)}.sqlite3"
        made.append(path)
        return f"sqlite:///{path}"

    with scenarios(tmp_path, make_database) as build:
        s = build("sqlite", defaults=f"timezone: {ZONE}")
        dp_record.to_metadata(sa.MetaData(), name="dp_record_copy").create(s.target)
        copy = mapping_yaml().replace("name: record", "name: record_copy").replace("dp_record", "dp_record_copy")
        (s.dir / "mappings" / "record_copy.yaml").write_text(copy, encoding="utf-8")
        s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 13) if i not in (5, 6))
        s.insert([{"id": 5, "jg": "坏值", "update_time": s.at(5)},
                  {"id": 6, "title": "长" * 300, "update_time": s.at(6)}])
        assert not s.run().failed
        s.update([1, 2], title="改过的", update_time=s.at(100))
        s.insert({"id": i, "update_time": s.at(100 + i)} for i in (13, 14, 15))
        s.fail_insert_of(14)
        second = s.run()
        assert [(r.mapping, r.status) for r in second.results] == [("record", "failed"), ("record_copy", "ok")]
        s.allow_again()
        assert not s.run().failed

        today = datetime.now(TZ).date()
        day_a, day_b = today - timedelta(days=3), today - timedelta(days=2)
        runs = [
            _old_run(day_a, 10, "record", read=40, inserted=30, updated=8, rejected=2, lag=timedelta(minutes=60)),
            _old_run(day_a, 10, "record_copy", read=40, inserted=40, updated=0, lag=timedelta(minutes=30)),
            _old_run(day_a, 14, "record", read=10, inserted=0, updated=0, status="failed",
                     error=f"target table dp_record: {REFUSAL} (row 17); the row stays unsent until the run succeeds"),
            _old_run(day_b, 9, "record", read=12, inserted=None, updated=None, written=12,
                     lag=timedelta(minutes=90)),
            _old_run(day_b, 11, "record", read=120, inserted=0, updated=0, mode="reconcile",
                     warning="source 120 rows, target 118 rows: 2 missing"),
        ]
        rejects = [
            _old_reject(day_a, "record", 31, "rule: 整改期限不得早于排查日期"),
            _old_reject(day_a, "record", 32, "rule: 整改期限不得早于排查日期"),
            _old_reject(day_a, "record", 33, "parent dp_risk 5 is not in the target yet; held back and retried by "
                                            "later runs", status="resolved"),
            _old_reject(day_b, "record_copy", 34, "check_status: '坏值' is not in code list 排查结果; add it"),
            _old_reject(day_b, "record_copy", 35, "dropped: 企业已注销 (was: title: text of 300 characters is "
                                                  "longer than the column's 200)", status="dropped"),
        ]
        engine = sa.create_engine(f"sqlite:///{s.dir / 'state.db'}")
        with engine.begin() as conn:
            conn.execute(sa.insert(runs_table), runs)
            conn.execute(sa.insert(rejects_table), rejects)
        engine.dispose()
        yield s, today - timedelta(days=6), today


def _records(project: commands.Project, start: date, end: date) -> list[dict[str, Any]]:
    return commands.history_records(project, since=start, until=end, limit=None)


# -- the xlsx --------------------------------------------------------------------------------------

def _sheet_rows(sheet: Any) -> list[tuple[Any, ...]]:
    return [tuple(c.value for c in row) for row in sheet.iter_rows(min_row=2) if row[0].value is not None]


def _day(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def test_the_xlsx_numbers_equal_the_run_records(filled, tmp_path):
    s, start, end = filled
    out = tmp_path / "report.xlsx"
    built = commands.report(s.project(), start, end, out, "en")
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Summary", "Per day", "Rows sent per day", "Rejects", "Rejects by kind",
                               "Lag per day", "Failed runs", "Reconciliation"]

    expected: dict[tuple[date, str], Counter[str]] = defaultdict(Counter)
    records = _records(s.project(), start, end)
    assert len(records) == built.runs == 6 + 5
    for r in records:
        if r["mode"] == "reconcile":
            continue
        key = (date.fromisoformat(r["started_at"][:10]), r["mapping"])
        sent = r["inserted"] + r["updated"] if r["inserted"] is not None and r["updated"] is not None else r["written"]
        expected[key].update(runs=1, failed=r["status"] == "failed", read=r["read"], sent=sent,
                             held_back=r["rejected"])
    found, new_rejects = {}, Counter()
    for day, mapping, runs, failed, read, _inserted, _updated, sent, held_back, new, _lag, _run in \
            _sheet_rows(book["Per day"]):
        new_rejects[(_day(day), mapping)] = new
        if runs:      # a day and mapping with rejects that opened in a run of the day before has no runs
            found[(_day(day), mapping)] = Counter(runs=runs, failed=failed, read=read, sent=sent, held_back=held_back)
    assert found == expected
    # the pivot the chart draws holds the same numbers
    pivot = book["Rows sent per day"]
    header = [c.value for c in pivot[1]]
    assert header[1:] == list(MAPPINGS)
    for row in _sheet_rows(pivot):
        for mapping, value in zip(MAPPINGS, row[1:], strict=True):
            assert value == expected.get((_day(row[0]), mapping), Counter())["sent"]
    assert [len(book[name]._charts) for name in ("Rows sent per day", "Rejects by kind", "Lag per day")] == [1, 1, 1]

    # the lag of the runs written by hand: ended_at minus the watermark's cursor, in minutes
    day_a, day_b = end - timedelta(days=3), end - timedelta(days=2)
    lags = {(_day(r[0]), r[1]): r[10] for r in _sheet_rows(book["Per day"])}
    assert (lags[(day_a, "record")], lags[(day_a, "record_copy")], lags[(day_b, "record")]) == (60.0, 30.0, 90.0)

    # rejects: every episode opened in the range, by kind of reason
    rejects = Counter()
    for day, mapping, kind, count, _pending, _example in _sheet_rows(book["Rejects"]):
        rejects[(_day(day), mapping, kind)] += count
    assert rejects[(day_a, "record", "A rule of the mapping is not met")] == 2
    assert rejects[(day_a, "record", "Parent row not in the target yet")] == 1
    assert rejects[(day_b, "record_copy", "Value not in the code list")] == 1
    assert rejects[(day_b, "record_copy", "Text longer than the column")] == 1      # dropped: by its first reason
    episodes = commands.rejects(s.project(), status_=None, limit=None)
    assert sum(rejects.values()) == sum(new_rejects.values()) == len(episodes) == 5 + 4
    today = {(m, k): n for (d, m, k), n in rejects.items() if d == end}
    assert today == {(m, k): 1 for m in MAPPINGS for k in ("Value not in the code list", "Text longer than the column")}

    failed = _sheet_rows(book["Failed runs"])
    assert len(failed) == 2 and all(REFUSAL in row[9] for row in failed)
    [reconciled] = _sheet_rows(book["Reconciliation"])
    assert reconciled[2] == "record" and "2 missing" in reconciled[9]


def test_the_xlsx_in_chinese(filled, tmp_path):
    s, start, end = filled
    out = tmp_path / "报告.xlsx"
    commands.report(s.project(), start, end, out, "zh")
    book = openpyxl.load_workbook(out)
    assert book.sheetnames[:2] == ["概要", "每日明细"]
    assert [c.value for c in book["每日明细"][1]][:3] == ["日期", "映射", "运行次数"]


# -- the HTML --------------------------------------------------------------------------------------

def test_the_html_is_one_self_contained_page_for_a4(filled, tmp_path):
    s, start, end = filled
    out = tmp_path / "report.html"
    commands.report(s.project(), start, end, out, "zh")
    html = out.read_text(encoding="utf-8")
    for outside in ("http:", "https:", "<script", "<link", "<img", "url(", "@import", "src="):
        assert outside not in html, f"the report refers to something outside itself: {outside}"
    assert "size: A4" in html and "break-before: page" in html
    assert html.count("<svg") == 3
    for label in ("双重预防机制数据报送报告", "每日报送量", "拦截数据及原因", "失败的运行", "同步延迟", "核对结果",
                  "不符合映射规则", "上级数据尚未报送", "代码表中没有该值", "文本超过字段长度", "1小时30分"):
        assert label in html, label
    assert REFUSAL in html and "2 missing" in html


def test_a_range_without_reconcile_runs_says_so(filled, tmp_path):
    s, _start, end = filled
    out = tmp_path / "today.html"
    commands.report(s.project(), end, end, out, "en")
    html = out.read_text(encoding="utf-8")
    assert 'id="no-reconcile"' in html and "No reconciliation was recorded" in html
    assert "Rows sent per day" in html and "Value not in the code list" in html


def test_the_language_follows_the_option_then_the_locale():
    language = report_module.language
    assert language(None, {"LANG": "zh_CN.UTF-8"}) == "zh"
    assert language(None, {"LC_MESSAGES": "zh_TW.UTF-8", "LANG": "en_US.UTF-8"}) == "zh"
    assert language(None, {"LC_ALL": "C.UTF-8", "LANG": "zh_CN.UTF-8"}) == "en"
    assert language(None, {}) == "en"
    assert language("en", {"LANG": "zh_CN.UTF-8"}) == "en"
    assert language("zh", {}) == "zh"
    with pytest.raises(ValueError, match="zh, en"):
        language("fr", {})


def test_reasons_are_grouped_by_their_leading_text():
    kind = report_module.reason_kind
    assert kind("rule: 整改期限不得早于排查日期 (missing: zgqx)") == "rule"
    assert kind("parent dp_risk 5 is not in the target yet; held back and retried by later runs") == "parent"
    assert kind("title: text of 300 characters is longer than the column's 200") == "too_long"
    assert kind("check_status: '坏值' is not in code list 排查结果; add it") == "code_list"
    assert kind("update_time: cursor value '0000-00-00' is not a date/time; it cannot be ordered") == "cursor"
    assert kind("name: is NULL but the column is required") == "required"
    assert kind("amount: 'abc' is not a number") == "value"
    assert kind("dropped: 已注销 (was: rule: 必须有整改人)") == "rule"
    assert kind("something nobody foresaw") == "other"
    assert set(f"kind_{k}" for k, _ in report_module.REASON_KINDS) | {"kind_other"} <= set(report_module.LABELS)


# -- rendered by a browser -------------------------------------------------------------------------

def _browser() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found is None:
        reason = "headless Chromium is not installed (apt-get install chromium fonts-noto-cjk)"
        if in_ci():
            pytest.fail(f"{reason}; it is mandatory when CI=true", pytrace=False)
        pytest.skip(reason)
    return found


def _screenshot(page: Path, png: Path, width: int, height: int) -> None:
    browser = _browser()
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--force-device-scale-factor=1", f"--user-data-dir={png.parent / 'chromium-profile'}",
                           f"--window-size={width},{height}", f"--screenshot={png}", page.as_uri()],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0 and png.is_file(), done.stderr[-2000:]


def _pixels(png: Path) -> tuple[int, int, list[bytes], int]:
    """(width, height, rows, bytes per pixel) of an 8-bit RGB or RGBA PNG, decoded with zlib."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6), (depth, color)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    stride, rows, prev, at = width * channels, [], bytearray(width * channels), 0
    for _ in range(height):
        kind_, line = raw[at], bytearray(raw[at + 1:at + 1 + stride])
        at += 1 + stride
        if kind_ == 2:
            line = bytearray((x + y) & 255 for x, y in zip(line, prev, strict=True))
        elif kind_:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = prev[i]
                c = prev[i - channels] if i >= channels else 0
                if kind_ == 1:
                    line[i] = (line[i] + a) & 255
                elif kind_ == 3:
                    line[i] = (line[i] + (a + b) // 2) & 255
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, rows, channels


def _coloured(rows: list[bytes], channels: int, top: int, bottom: int) -> int:
    """Pixels in rows ``top``..``bottom`` that are a colour: neither white, grey nor black (text and
    axes are grey or black; bars, lines and dots are coloured)."""
    count = 0
    for row in rows[top:bottom]:
        for i in range(0, len(row), channels):
            r, g, b = row[i], row[i + 1], row[i + 2]
            if max(r, g, b) - min(r, g, b) > 60:
                count += 1
    return count


def test_chromium_draws_the_charts(filled, tmp_path):
    _browser()
    s, start, end = filled
    out = tmp_path / "report.html"
    commands.report(s.project(), start, end, out, "zh")
    html = out.read_text(encoding="utf-8")

    # the whole report, as a person sees it (kept in tmp_path to look at)
    page = tmp_path / "report.png"
    _screenshot(out, page, 794, 3400)
    width, height, rows, channels = _pixels(page)
    assert (width, height) == (794, 3400)
    assert _coloured(rows, channels, 0, height) > 3000

    # each chart alone in a box of known place: its plot (below caption and legend) is not blank
    style = re.search(r"<style>.*?</style>", html, re.S)
    figures = re.findall(r'<figure id="chart-(\w+)">.*?</figure>', html, re.S)
    assert style is not None and figures == ["sent", "rejects", "lag"]
    bodies = re.findall(r'(<figure id="chart-\w+">.*?</figure>)', html, re.S)
    box = 460
    charts = tmp_path / "charts.html"
    boxes = "".join(f"<div class='box'>{b}</div>" for b in bodies)
    charts.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'>{style.group(0)}<style>body{{margin:0;"
                      f"padding:0;max-width:none}}.box{{width:700px;height:{box}px;overflow:hidden}}</style></head>"
                      f"<body>{boxes}</body></html>", encoding="utf-8")
    shot = tmp_path / "charts.png"
    _screenshot(charts, shot, 700, box * len(bodies))
    _width, _height, rows, channels = _pixels(shot)
    for i, name in enumerate(figures):
        plotted = _coloured(rows, channels, i * box + 70, (i + 1) * box)
        assert plotted > 150, f"chart {name}: only {plotted} coloured pixels in its plot"


# -- the command line ------------------------------------------------------------------------------

def test_the_command_writes_both_formats_and_names_what_it_did(filled, tmp_path):
    s, start, end = filled
    html, xlsx = tmp_path / "r.html", tmp_path / "r.xlsx"
    zh = s.syncd("report", "--from", str(start), "--to", str(end), "--out", str(html),
                 env={"LC_ALL": "", "LC_MESSAGES": "", "LANG": "zh_CN.UTF-8"})
    assert zh.returncode == 0, zh.stderr
    # the locale chooses the language of the report and of every other message
    assert "报告已写入" in zh.stdout and str(html) in zh.stdout
    assert "双重预防机制数据报送报告" in html.read_text(encoding="utf-8")
    en = s.syncd("report", "--from", str(start), "--to", str(end), "--out", str(xlsx), "--lang", "en",
                 env={"LANG": "zh_CN.UTF-8"})
    assert en.returncode == 0, en.stderr
    assert "report written to" in en.stdout
    assert openpyxl.load_workbook(xlsx).sheetnames[0] == "Summary"


def test_an_empty_range_says_there_were_no_runs(filled, tmp_path):
    s, _start, _end = filled
    html, xlsx = tmp_path / "empty.html", tmp_path / "empty.xlsx"
    for out in (html, xlsx):
        done = s.syncd("report", "--from", "2020-01-01", "--to", "2020-01-31", "--out", str(out), "--lang", "en")
        assert done.returncode == 0, done.stderr
        assert "no runs" in done.stdout
    text = html.read_text(encoding="utf-8")
    assert "There were no runs between 2020-01-01 and 2020-01-31." in text and "<svg" not in text
    summary = [tuple(c.value for c in row) for row in openpyxl.load_workbook(xlsx)["Summary"].iter_rows()]
    assert ("Note", "There were no runs between 2020-01-01 and 2020-01-31.") in summary
    assert ("Runs", 0) in summary
    commands.report(s.project(), date(2020, 1, 1), date(2020, 1, 31), tmp_path / "leer.html", "zh")
    assert "2020-01-01 至 2020-01-31 期间没有运行记录。" in (tmp_path / "leer.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(("args", "says"), [
    (("--from", "2026-13-01", "--to", "2026-12-31", "--out", "r.html"), "YYYY-MM-DD"),
    (("--from", "2026-11-01", "--to", "30.11.2026", "--out", "r.html"), "YYYY-MM-DD"),
    (("--from", "2026-11-30", "--to", "2026-11-01", "--out", "r.html"), "before --from"),
    (("--from", "2026-11-01", "--to", "2026-11-30", "--out", "r.pdf"), ".html, .xlsx"),
    (("--from", "2026-11-01", "--to", "2026-11-30", "--out", "report"), ".html, .xlsx"),
])
def test_bad_usage_exits_2_naming_what_to_write(filled, args, says):
    s, _start, _end = filled
    done = s.syncd("report", *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert says in done.stderr and "Traceback" not in done.stderr


def test_an_unwritable_file_is_named_without_a_traceback(filled, tmp_path):
    s, start, end = filled
    out = tmp_path / "no such folder" / "r.html"
    done = s.syncd("report", "--from", str(start), "--to", str(end), "--out", str(out))
    assert done.returncode == 1
    assert str(out) in done.stderr and "folder exists" in done.stderr and "Traceback" not in done.stderr
    assert not os.path.exists(out)
