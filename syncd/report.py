"""The supervisor's report: ``syncd report --from DATE --to DATE --out FILE.html|FILE.xlsx``.

Per day (in ``defaults.timezone``) and mapping, from the state store's run history and rejects:
the rows sent (inserted and updated where the run records tell them apart, else rows written),
the new rejects grouped into kinds of reason, the failed runs with their error, the largest lag,
and the reconcile runs recorded in the history (mode ``reconcile``), with three charts: rows sent
per day per mapping, rejects by kind of reason, and lag.

The **lag** of a run is the moment it ended minus the cursor value its watermark reached (when
the cursor is a time; a cursor value without a time zone is read in ``defaults.timezone``): how
old the newest row sent was when the run finished. A day's lag is the largest of its runs'.

Two formats, chosen by the suffix of the output file:

- ``.html``: one self-contained page (inline CSS, inline SVG charts drawn from the same
  template, no external URL of any kind), for a browser without internet, printed on A4 with a
  page break before each section;
- ``.xlsx``: one sheet per table, with openpyxl charts of the same three series.

Labels are in Chinese or English (``LABELS``, one table; ``language`` picks one from the
``--lang`` option or the locale). Reads only; never prints.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

import jinja2

from syncd import i18n
from syncd.errors import FatalSyncError
from syncd.i18n import N_, _
from syncd.state import StateStore
from syncd.watermark import Watermark, describe_value

#: The output formats, by the suffix of the file.
FORMATS = {".html": "html", ".xlsx": "xlsx"}
LANGUAGES = ("zh", "en")

# -- labels ------------------------------------------------------------------------------------
# Every text the report shows, in English; the Chinese is in the message catalog (syncd.i18n).
# ``{name}`` fields are filled by ``Labels``.
LABELS: dict[str, str] = {
    "title": N_("syncd report: dual-prevention data sent to the province"),
    "period": N_("Period"),
    "period_value": N_("{start} to {end} (days in {tz})"),
    "generated": N_("Generated"),
    "store": N_("State store"),
    "summary": N_("Summary"),
    "no_runs": N_("There were no runs between {start} and {end}."),
    "runs": N_("Runs"),
    "failed": N_("Failed"),
    "read": N_("Rows read"),
    "inserted": N_("Inserted"),
    "updated": N_("Updated"),
    "sent": N_("Rows sent"),
    "held_back": N_("Held back in runs"),
    "new_rejects": N_("New rejects"),
    "still_pending": N_("Still pending"),
    "largest_lag": N_("Largest lag"),
    "lag_minutes": N_("Largest lag (minutes)"),
    "lag_run": N_("Run with the largest lag"),
    "day": N_("Day"),
    "mapping": N_("Mapping"),
    "total": N_("Total"),
    "kind": N_("Kind of reason"),
    "example": N_("Example reason"),
    "started": N_("Started"),
    "ended": N_("Ended"),
    "cursor": N_("Watermark cursor"),
    "run_id": N_("Run"),
    "mode": N_("Mode"),
    "result": N_("Result"),
    "error": N_("Error"),
    "note": N_("Note"),
    "written": N_("Rows written"),
    "rejected": N_("Rows held back"),
    "section_sent": N_("Rows sent per day"),
    "section_rejects": N_("Rejects by reason"),
    "section_failed": N_("Failed runs"),
    "section_lag": N_("Lag"),
    "section_reconcile": N_("Reconciliation"),
    "chart_sent": N_("Rows sent per day, by mapping"),
    "chart_rejects": N_("New rejects by kind of reason, by mapping"),
    "chart_lag": N_("Largest lag per day, by mapping ({unit})"),
    "axis_rows": N_("rows"),
    "unit_minutes": N_("minutes"),
    "unit_hours": N_("hours"),
    "unit_days": N_("days"),
    "sent_meaning": N_("Rows sent: the rows inserted plus the rows updated in the intermediate database. A row "
                       "read again inside the lookback that the intermediate database already holds as it is, is "
                       "neither written nor counted. Inserted and updated are blank for runs recorded before syncd "
                       "told them apart; rows sent then counts those runs' rows written, rows read again included. "
                       "Held back in runs: rows a run could not send, retries of earlier rejects included."),
    "rejects_meaning": N_("New rejects: rows held back whose reject opened on that day, grouped by the kind of "
                          "their reason. Still pending: those neither sent, found deleted at the source nor "
                          "dropped by an operator yet (syncd rejects list shows them with their full reason)."),
    "lag_meaning": N_("Lag of a run: the moment the run ended minus the cursor value (the update time of the "
                      "newest row sent) its watermark had reached, i.e. how old the newest data in the "
                      "intermediate database was when the run finished. A day's lag is the largest of its runs'. "
                      "It is computed only for mappings whose cursor is a time; cursor values without a time zone "
                      "are read in {tz}. When the county changes nothing for a while the lag grows although "
                      "nothing is wrong: read it beside the rows sent."),
    "no_sent": N_("No row was sent in this period."),
    "no_rejects": N_("No row was held back in this period."),
    "no_failures": N_("No run failed in this period."),
    "no_lag": N_("No lag can be given: no run of this period has a watermark whose cursor is a time."),
    "no_reconcile": N_("No reconciliation was recorded in the run history in this period. syncd reconcile compares "
                       "the intermediate tables with the source row by row on demand; its --csv file can be kept "
                       "with this report."),
    "kind_rule": N_("A rule of the mapping is not met"),
    "kind_parent": N_("Parent row not in the target yet"),
    "kind_too_long": N_("Text longer than the column"),
    "kind_code_list": N_("Value not in the code list"),
    "kind_cursor": N_("Cursor value cannot be read"),
    "kind_required": N_("Required value missing"),
    "kind_value": N_("Value of the wrong type or too large"),
    "kind_other": N_("Other"),
    "status_ok": N_("ok"),
    "status_failed": N_("failed"),
    "status_stopped": N_("stopped (resumed by the next run)"),
    "status_running": N_("running"),
    "mode_full": N_("full copy"),
    "mode_incremental": N_("incremental"),
    "mode_reconcile": N_("reconcile"),
    "sheet_summary": N_("Summary"),
    "sheet_days": N_("Per day"),
    "sheet_sent": N_("Rows sent per day"),
    "sheet_rejects": N_("Rejects"),
    "sheet_kinds": N_("Rejects by kind"),
    "sheet_lag": N_("Lag per day"),
    "sheet_failed": N_("Failed runs"),
    "sheet_reconcile": N_("Reconciliation"),
    "of_day": N_("{mapping}, {day}"),
}


class Labels:
    """The texts of one language: ``labels("key", name=value)``."""

    def __init__(self, lang: str):
        self.lang = lang
        self._column = 1 if lang == "zh" else 0
        self._catalog = i18n.catalog(lang)

    def __call__(self, key: str, **values: Any) -> str:
        text = self._catalog.gettext(LABELS[key])
        return text.format(**values) if values else text

    def status(self, value: str) -> str:
        return self(f"status_{value}") if f"status_{value}" in LABELS else value

    def mode(self, value: str) -> str:
        return self(f"mode_{value}") if f"mode_{value}" in LABELS else value

    def duration(self, span: timedelta | None) -> str:
        """``2 h 05 min`` / ``2小时05分``; empty for None."""
        if span is None:
            return ""
        seconds = int(round(span.total_seconds()))
        days, rest = divmod(seconds, 86400)
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        zh = self._column == 1
        if days:
            return f"{days}天{hours}小时" if zh else f"{days} d {hours} h"
        if hours:
            return f"{hours}小时{minutes:02d}分" if zh else f"{hours} h {minutes:02d} min"
        if minutes:
            return f"{minutes}分{secs:02d}秒" if zh else f"{minutes} min {secs:02d} s"
        return f"{secs}秒" if zh else f"{secs} s"


def language(option: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """``zh`` or ``en``: ``option`` (``--lang``) if given, else the locale (the first of LC_ALL,
    LC_MESSAGES, LANG that is set): Chinese when it starts with ``zh``, English otherwise."""
    if option:
        chosen = option.strip().lower()
        if chosen not in LANGUAGES:
            raise ValueError(_("unknown language {option!r}: "
                               "write one of {languages}").format(option=option, languages=', '.join(LANGUAGES)))
        return chosen
    # the language every other message is written in (syncd.i18n: --lang, lang:, the locale)
    return i18n.current() if environ is None else i18n.from_environment(environ)


def format_of(path: Path) -> str:
    """``html`` or ``xlsx``, by the suffix of ``path``; ValueError naming the supported ones."""
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        shown = f"the suffix {path.suffix!r} is not a report format" if path.suffix else "the file has no suffix"
        raise ValueError(_("{shown}: name the report file with one of {formats} (e.g. report-2026-10.html or "
                           "report-2026-10.xlsx)").format(shown=shown, formats=', '.join(FORMATS)))
    return found


# -- kinds of reject reason --------------------------------------------------------------------
_DROPPED = re.compile(r"^dropped: .*? \(was: (.*)\)$", re.S)
#: Kinds of reason, by their leading text, in the order they are tried; the rest is ``other``.
REASON_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("rule", re.compile(r"^rule: ")),
    ("parent", re.compile(r"^parent .* is not in the target yet", re.S)),
    ("cursor", re.compile(r"cursor value ")),
    ("too_long", re.compile(r"text of \d+ characters is longer")),
    ("code_list", re.compile(r"is not in code list")),
    ("required", re.compile(r"is NULL but the column is required")),
    ("value", re.compile(r"is not an? |is not true or false|has more than \d+ digits|cannot go into")),
)


def reason_kind(reason: str | None) -> str:
    """The kind of a reject's reason (``rule``, ``parent``, …, ``other``); a dropped reject is
    classified by the reason it had before it was dropped."""
    text = reason or ""
    dropped = _DROPPED.match(text)
    if dropped:
        text = dropped.group(1)
    for kind, pattern in REASON_KINDS:
        if pattern.search(text):
            return kind
    return "other"


# -- the report's tables -------------------------------------------------------------------------

@dataclass
class DayRow:
    """One mapping on one day."""

    day: date
    mapping: str
    runs: int = 0
    failed: int = 0
    read: int = 0
    inserted: int | None = None
    updated: int | None = None
    sent: int = 0
    held_back: int = 0
    new_rejects: int = 0
    lag: timedelta | None = None
    lag_run: str | None = None
    lag_ended: datetime | None = None
    lag_cursor: str | None = None


@dataclass(frozen=True)
class RejectRow:
    """The new rejects of one kind of reason, for one mapping on one day."""

    day: date
    mapping: str
    kind: str
    count: int
    pending: int
    example: str


@dataclass(frozen=True)
class RunRow:
    """A run as the report lists it (a failed run, or a reconcile run); times local."""

    started: datetime
    ended: datetime | None
    mapping: str
    mode: str
    status: str
    run_id: str
    read: int
    written: int
    rejected: int
    note: str


@dataclass
class Report:
    start: date
    end: date
    tz: tzinfo
    lang: str
    generated: datetime
    store: str
    runs: int = 0
    mappings: list[str] = field(default_factory=list)
    days: list[DayRow] = field(default_factory=list)
    rejects: list[RejectRow] = field(default_factory=list)
    failures: list[RunRow] = field(default_factory=list)
    reconciles: list[RunRow] = field(default_factory=list)

    @property
    def labels(self) -> Labels:
        return Labels(self.lang)

    @property
    def empty(self) -> bool:
        return self.runs == 0 and not self.rejects

    @property
    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    @property
    def sent(self) -> int:
        return sum(r.sent for r in self.days)

    @property
    def new_rejects(self) -> int:
        return sum(r.count for r in self.rejects)

    @property
    def pending(self) -> int:
        return sum(r.pending for r in self.rejects)

    @property
    def largest_lag(self) -> DayRow | None:
        lagging = [r for r in self.days if r.lag is not None]
        return max(lagging, key=lambda r: r.lag or timedelta(0)) if lagging else None

    def kinds(self) -> list[tuple[str, dict[str, int]]]:
        """Each kind of reason with its new rejects by mapping, the most frequent kind first."""
        totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for r in self.rejects:
            totals[r.kind][r.mapping] += r.count
        return sorted(((k, dict(v)) for k, v in totals.items()), key=lambda item: (-sum(item[1].values()), item[0]))


def _tz_name(tz: tzinfo) -> str:
    return str(getattr(tz, "key", None) or tz)


def _moment(value: Any, tz: tzinfo) -> datetime | None:
    """A cursor value as an aware moment, when it is a time (naive ones read in ``tz``)."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) < 10 or text[4] != "-":
            return None
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=tz)
    return None


def run_lag(run: Mapping[str, Any], tz: tzinfo) -> tuple[timedelta, Any] | None:
    """(lag, cursor) of a run record: ``ended_at`` minus its ``watermark_after`` cursor when that
    cursor is a time (never below zero); None when the run has no such watermark or has not ended."""
    ended = run.get("ended_at")
    if not isinstance(ended, datetime):
        return None
    try:
        mark = Watermark.from_json(run.get("watermark_after"))
    except (ValueError, KeyError, TypeError):
        return None
    if mark is None:
        return None
    moment = _moment(mark.cursor, tz)
    if moment is None:
        return None
    ended = ended if ended.tzinfo is not None else ended.replace(tzinfo=timezone.utc)
    return max(ended - moment, timedelta(0)), mark.cursor


def sent_of(run: Mapping[str, Any]) -> int:
    """Rows a run sent: inserted + updated where the record has them, else rows_written."""
    inserted, updated = run.get("inserted"), run.get("updated")
    if inserted is not None and updated is not None:
        return int(inserted) + int(updated)
    return int(run.get("rows_written") or 0)


def _local(moment: datetime | None, tz: tzinfo) -> datetime | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)).astimezone(tz)


def _cut(text: str | None, size: int = 300) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= size else text[:size - 1] + "…"


def _run_row(run: Mapping[str, Any], tz: tzinfo) -> RunRow:
    started = _local(run["started_at"], tz)
    assert started is not None
    return RunRow(started=started, ended=_local(run.get("ended_at"), tz), mapping=str(run["mapping"]),
                  mode=str(run.get("mode") or ""), status=str(run.get("status") or ""), run_id=str(run["run_id"]),
                  read=int(run.get("rows_read") or 0), written=int(run.get("rows_written") or 0),
                  rejected=int(run.get("rows_rejected") or 0),
                  note=_cut(run.get("error") or run.get("warning"), 2000))


def _cursor_text(value: Any) -> str:
    """A cursor value as the report shows it: a time without a fraction of zeros."""
    if isinstance(value, datetime) and not value.microsecond:
        return value.isoformat(sep=" ", timespec="seconds")
    text = describe_value(value)
    return text[:-7] if isinstance(value, str) and re.fullmatch(r".*\d\.0{6}", text) else text


def _add_run(row: DayRow, run: Mapping[str, Any], tz: tzinfo) -> None:
    row.runs += 1
    row.failed += run.get("status") == "failed"
    row.read += int(run.get("rows_read") or 0)
    row.sent += sent_of(run)
    row.held_back += int(run.get("rows_rejected") or 0)
    for name in ("inserted", "updated"):
        value = run.get(name)
        if value is not None:
            setattr(row, name, (getattr(row, name) or 0) + int(value))
    lag = run_lag(run, tz)
    if lag is not None and (row.lag is None or lag[0] > row.lag):
        row.lag, row.lag_run = lag[0], str(run["run_id"])
        row.lag_ended, row.lag_cursor = _local(run["ended_at"], tz), _cursor_text(lag[1])


def build(runs: Iterable[Mapping[str, Any]], rejects: Iterable[Mapping[str, Any]], *, start: date, end: date,
          tz: tzinfo, lang: str, store: str, now: datetime | None = None) -> Report:
    """The report of the days ``start``..``end`` (both included, in ``tz``) from run records and
    reject episodes as ``StateStore.runs_between`` and ``rejects_between`` return them."""
    generated = (now or datetime.now(timezone.utc)).astimezone(tz).replace(microsecond=0)
    report = Report(start=start, end=end, tz=tz, lang=lang, generated=generated, store=store)
    days: dict[tuple[date, str], DayRow] = {}
    mappings: dict[str, None] = {}

    def day_row(day: date, mapping: str) -> DayRow:
        mappings.setdefault(mapping)
        return days.setdefault((day, mapping), DayRow(day, mapping))

    for run in runs:
        started = _local(run["started_at"], tz)
        assert started is not None
        if not start <= started.date() <= end:
            continue
        report.runs += 1
        if run.get("mode") == "reconcile":
            report.reconciles.append(_run_row(run, tz))
            continue
        _add_run(day_row(started.date(), str(run["mapping"])), run, tz)
        if run.get("status") == "failed":
            report.failures.append(_run_row(run, tz))
    groups: dict[tuple[date, str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for episode in rejects:
        seen = _local(episode["first_seen"], tz)
        assert seen is not None
        if not start <= seen.date() <= end:
            continue
        groups[(seen.date(), str(episode["mapping"]), reason_kind(episode.get("reason")))].append(episode)
    for (day, mapping, kind), episodes in sorted(groups.items()):
        pending = sum(1 for e in episodes if e.get("status") == "pending")
        example = next((e.get("reason") for e in episodes if e.get("reason")), "")
        report.rejects.append(RejectRow(day, mapping, kind, len(episodes), pending, _cut(example)))
        day_row(day, mapping).new_rejects += len(episodes)
    report.mappings = sorted(mappings)
    report.days = sorted(days.values(), key=lambda r: (r.day, r.mapping))
    return report


def make_report(state: StateStore, start: date, end: date, *, tz: tzinfo, lang: str,
                now: datetime | None = None) -> Report:
    """The report of the days ``start``..``end`` (both included, in ``tz``), read from ``state``."""
    since = datetime(start.year, start.month, start.day, tzinfo=tz).astimezone(timezone.utc)
    after = end + timedelta(days=1)
    until = datetime(after.year, after.month, after.day, tzinfo=tz).astimezone(timezone.utc)
    return build(state.runs_between(since, until), state.rejects_between(since, until), start=start, end=end,
                 tz=tz, lang=lang, store=state.where, now=now)


# -- charts: the geometry that the template draws as SVG -----------------------------------------
#: Colours of the mappings, in order: ten strong ones, then ten lighter ones (Tableau 20), so that
#: the reference mappings each get their own.
PALETTE = ("#4E79A7", "#F28E2B", "#59A14F", "#E15759", "#B07AA1", "#76B7B2", "#EDC948", "#9C755F",
           "#FF9DA7", "#79706E", "#A0CBE8", "#FFBE7D", "#8CD17D", "#FF9D9A", "#D4A6C8", "#86BCB6",
           "#F1CE63", "#D7B5A6", "#FABFD2", "#BAB0AC")
WIDTH = 680          # SVG user units: the width of A4 less its margins, at 96 dpi
FONT = 11


@dataclass(frozen=True)
class Shape:
    """A rectangle (``w``, ``h``), line (to ``x2``, ``y2``), dot (``r``) or polyline (``points``)."""

    kind: str
    x: float = 0
    y: float = 0
    w: float = 0
    h: float = 0
    x2: float = 0
    y2: float = 0
    r: float = 0
    points: str = ""
    color: str = "#000"
    stroke: float = 1
    tip: str = ""


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    anchor: str = "start"
    size: int = FONT
    color: str = "#333"
    bold: bool = False


@dataclass
class Chart:
    ident: str
    title: str
    height: float
    width: float = WIDTH
    shapes: list[Shape] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)


def text_width(text: str, size: float = FONT) -> float:
    """An estimate of a text's width: a CJK character is one em, anything else about 0.6 em."""
    return sum(size if ord(c) >= 0x2E80 else size * 0.6 for c in text)


def _fit(text: str, width: float, size: float = FONT) -> str:
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def nice_scale(largest: float, *, whole: bool = True, ticks: int = 4) -> tuple[float, float]:
    """(top, step) of an axis from 0 that holds ``largest`` in about ``ticks`` round steps."""
    if largest <= 0:
        return 1.0, 1.0 if whole else 0.25
    raw = largest / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if whole:
        step = max(1.0, float(math.ceil(step)))
    return step * math.ceil(largest / step - 1e-9), step


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}".rstrip("0").rstrip(".")


def _legend(chart: Chart, names: Sequence[str], colors: Mapping[str, str], top: float) -> float:
    """Legend items in rows from ``top``; returns the y below them."""
    x, y = 10.0, top
    for name in names:
        item = 14 + text_width(name) + 18
        if x + item > WIDTH - 10 and x > 10:
            x, y = 10.0, y + 18
        chart.shapes.append(Shape("rect", x=x, y=y + 2, w=10, h=10, color=colors[name]))
        chart.texts.append(Text(x + 14, y + 11, name))
        x += item
    return y + 22


def _y_axis(chart: Chart, left: float, top: float, bottom: float, scale: tuple[float, float],
            title: str) -> Callable[[float], float]:
    """Grid lines and labels of a value axis; returns value -> y."""
    high, step = scale

    def y_of(value: float) -> float:
        return round(bottom - (bottom - top) * value / high, 1)

    value = 0.0
    while value <= high + step / 1000:
        y = y_of(value)
        chart.shapes.append(Shape("line", x=left, y=y, x2=WIDTH - 12, y2=y, color="#ccc" if value else "#666"))
        chart.texts.append(Text(left - 5, y + 4, _number(value), anchor="end", size=10))
        value += step
    chart.texts.append(Text(left, top - 8, title, anchor="middle", size=10, color="#555"))
    return y_of


def _day_axis(chart: Chart, days: Sequence[date], left: float, bottom: float) -> float:
    """Day labels under the plot (as many as fit); returns the width of one day's slot."""
    slot = (WIDTH - 12 - left) / max(len(days), 1)
    label = "%m-%d" if len({d.year for d in days}) == 1 else "%y-%m-%d"
    every = max(1, math.ceil((text_width(days[0].strftime(label), 10) + 8) / slot)) if days else 1
    for i, day in enumerate(days):
        if i % every == 0:
            chart.texts.append(Text(round(left + slot * (i + 0.5), 1), bottom + 14, day.strftime(label),
                                    anchor="middle", size=10))
    return slot


def sent_chart(report: Report, colors: Mapping[str, str]) -> Chart | None:
    """Stacked bars: rows sent per day, a segment per mapping."""
    t = report.labels
    if report.sent == 0:
        return None
    days = report.dates
    by_day: dict[date, dict[str, int]] = defaultdict(dict)
    for r in report.days:
        by_day[r.day][r.mapping] = r.sent
    chart = Chart("chart-sent", t("chart_sent"), 0)
    top = _legend(chart, report.mappings, colors, 6) + 18
    bottom = top + 200
    chart.height = bottom + 26
    left = 56.0
    scale = nice_scale(max(sum(v.values()) for v in by_day.values()))
    y_of = _y_axis(chart, left, top, bottom, scale, t("axis_rows"))
    slot = _day_axis(chart, days, left, bottom)
    width = max(slot * 0.7, 1.0)
    for i, day in enumerate(days):
        x = round(left + slot * i + (slot - width) / 2, 1)
        level = 0
        for mapping in report.mappings:
            value = by_day.get(day, {}).get(mapping, 0)
            if not value:
                continue
            y_low, y_high = y_of(level), y_of(level + value)
            chart.shapes.append(Shape("rect", x=x, y=y_high, w=round(width, 1), h=round(max(y_low - y_high, 0.5), 1),
                                      color=colors[mapping], tip=f"{mapping} {day.isoformat()}: {value:,}"))
            level += value
        if level and slot >= 26:
            chart.texts.append(Text(round(x + width / 2, 1), y_of(level) - 3, _number(level), anchor="middle",
                                    size=9 if slot < 40 else 10))
    return chart


def rejects_chart(report: Report, colors: Mapping[str, str]) -> Chart | None:
    """Horizontal stacked bars: new rejects per kind of reason, a segment per mapping."""
    t = report.labels
    kinds = report.kinds()
    if not kinds:
        return None
    chart = Chart("chart-rejects", t("chart_rejects"), 0)
    names = [m for m in report.mappings if any(m in counts for _, counts in kinds)]
    top = _legend(chart, names, colors, 6) + 6
    labels = [t(f"kind_{kind}") for kind, _ in kinds]
    left = min(max(text_width(label) for label in labels) + 16, 260)
    largest = max(sum(counts.values()) for _, counts in kinds)
    high, _step = nice_scale(largest)
    span = WIDTH - 60 - left
    row = 26
    for i, ((_kind, counts), label) in enumerate(zip(kinds, labels, strict=True)):
        y = top + i * row
        chart.texts.append(Text(left - 8, y + row / 2 + 4, _fit(label, left - 16), anchor="end"))
        x = left
        for mapping in names:
            value = counts.get(mapping, 0)
            if not value:
                continue
            w = round(max(span * value / high, 1.0), 1)
            chart.shapes.append(Shape("rect", x=round(x, 1), y=y + 4, w=w, h=row - 8, color=colors[mapping],
                                      tip=f"{mapping} {label}: {value:,}"))
            x += w
        chart.texts.append(Text(round(x + 5, 1), y + row / 2 + 4, _number(sum(counts.values())), bold=True))
    bottom = top + len(kinds) * row
    chart.shapes.append(Shape("line", x=left, y=top, x2=left, y2=bottom, color="#666"))
    chart.height = bottom + 8
    return chart


def lag_unit(largest: timedelta) -> tuple[str, float]:
    """The unit the lag chart counts in (minutes, hours or days), and its length in seconds."""
    if largest <= timedelta(hours=2):
        return "unit_minutes", 60.0
    if largest <= timedelta(days=2):
        return "unit_hours", 3600.0
    return "unit_days", 86400.0


def lag_chart(report: Report, colors: Mapping[str, str]) -> Chart | None:
    """Lines: the largest lag per day, a line per mapping (a gap where a day has none)."""
    t = report.labels
    worst = report.largest_lag
    if worst is None or worst.lag is None:
        return None
    unit, seconds = lag_unit(worst.lag)
    days = report.dates
    index = {d: i for i, d in enumerate(days)}
    names = [m for m in report.mappings if any(r.mapping == m and r.lag is not None for r in report.days)]
    chart = Chart("chart-lag", t("chart_lag", unit=t(unit)), 0)
    top = _legend(chart, names, colors, 6) + 18
    bottom = top + 180
    chart.height = bottom + 26
    left = 56.0
    scale = nice_scale(worst.lag.total_seconds() / seconds, whole=False)
    y_of = _y_axis(chart, left, top, bottom, scale, t(unit))
    slot = _day_axis(chart, days, left, bottom)
    # Each mapping's points sit a little apart within their day, so that equal lags stay visible.
    spread = min(slot * 0.5 / max(len(names), 1), 6.0)
    for j, mapping in enumerate(names):
        values = {r.day: r.lag for r in report.days if r.mapping == mapping and r.lag is not None}
        shift = (j - (len(names) - 1) / 2) * spread
        run: list[str] = []
        for day in [*days, None]:
            lag = values.get(day) if day is not None else None
            if lag is None or day is None:
                if len(run) > 1:
                    chart.shapes.append(Shape("polyline", points=" ".join(run), color=colors[mapping], stroke=2))
                run = []
                continue
            x, y = round(left + slot * (index[day] + 0.5) + shift, 1), y_of(lag.total_seconds() / seconds)
            run.append(f"{x},{y}")
            chart.shapes.append(Shape("dot", x=x, y=y, r=3, color=colors[mapping],
                                      tip=f"{mapping} {day.isoformat()}: {t.duration(lag)}"))
    return chart


def charts(report: Report) -> dict[str, Chart | None]:
    colors = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(report.mappings)}
    return {"sent": sent_chart(report, colors), "rejects": rejects_chart(report, colors),
            "lag": lag_chart(report, colors)}


# -- writing -----------------------------------------------------------------------------------

def render_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    environment = jinja2.Environment(loader=jinja2.PackageLoader("syncd", "templates"), autoescape=True,
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                                     keep_trailing_newline=True)
    template = environment.get_template("report.html.j2")
    t = report.labels
    return template.render(report=report, t=t, tz_name=_tz_name(report.tz), charts=charts(report),
                           worst=report.largest_lag, kinds=report.kinds())


def write(report: Report, path: Path, kind: str | None = None) -> None:
    """Write ``report`` to ``path`` as ``kind`` (default: by its suffix); the file appears whole or
    not at all. FatalSyncError naming the file when it cannot be written."""
    kind = kind or format_of(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise _unwritable(path, exc) from None
    try:
        with os.fdopen(handle, "wb") as stream:
            if kind == "html":
                stream.write(render_html(report).encode("utf-8"))
            else:
                workbook(report).save(stream)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except OSError as exc:
        raise _unwritable(path, exc) from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _unwritable(path: Path, exc: OSError) -> FatalSyncError:
    return FatalSyncError(_("report {path}: cannot write it ({error}); check that its folder exists, "
                            "that you may write there, and that the disk is not full").format(
        path=path, error=exc.strerror or exc))


# -- the workbook --------------------------------------------------------------------------------

def _sheet_name(text: str) -> str:
    return re.sub(r"[\[\]:*?/\\]", " ", text)[:31]


def workbook(report: Report) -> Any:
    """The report as an openpyxl Workbook: one sheet per table, charts beside their tables."""
    from openpyxl import Workbook

    t = report.labels
    book = Workbook()
    summary = book.active
    summary.title = _sheet_name(t("sheet_summary"))
    _summary_sheet(summary, report)
    _days_sheet(book.create_sheet(_sheet_name(t("sheet_days"))), report)
    _sent_sheet(book.create_sheet(_sheet_name(t("sheet_sent"))), report)
    _rejects_sheet(book.create_sheet(_sheet_name(t("sheet_rejects"))), report)
    _kinds_sheet(book.create_sheet(_sheet_name(t("sheet_kinds"))), report)
    _lag_sheet(book.create_sheet(_sheet_name(t("sheet_lag"))), report)
    _runs_sheet(book.create_sheet(_sheet_name(t("sheet_failed"))), report, report.failures, t("no_failures"))
    _runs_sheet(book.create_sheet(_sheet_name(t("sheet_reconcile"))), report, report.reconciles, t("no_reconcile"))
    return book


def _naive(moment: datetime | None) -> datetime | None:
    """A local moment as Excel keeps it (without a time zone)."""
    return moment.replace(tzinfo=None) if moment is not None else None


def _table(sheet: Any, headers: Sequence[str], rows: Iterable[Sequence[Any]], *, start_row: int = 1) -> int:
    """Headers in bold, frozen; dates and times formatted; returns the last row written."""
    from openpyxl.styles import Alignment, Font, PatternFill

    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDE5F0")
    for column, header in enumerate(headers, 1):
        cell = sheet.cell(row=start_row, column=column, value=header)
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    last = start_row
    widths = [min(max(text_width(h, 1) + 2, 8), 40) for h in headers]
    for last, values in enumerate(rows, start_row + 1):
        for column, value in enumerate(values, 1):
            cell = sheet.cell(row=last, column=column, value=value)
            if isinstance(value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
                shown = 19
            elif isinstance(value, date):
                cell.number_format = "yyyy-mm-dd"
                shown = 10
            elif isinstance(value, float):
                cell.number_format = "0.0"
                shown = 8
            else:
                shown = int(text_width(str(value if value is not None else ""), 1)) + 2
            widths[column - 1] = min(max(widths[column - 1], shown), 60)
    from openpyxl.utils import get_column_letter

    for column, width in enumerate(widths, 1):
        letter = get_column_letter(column)
        if (sheet.column_dimensions[letter].width or 0) < width:
            sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = sheet.cell(row=start_row + 1, column=1)
    return last


def _summary_sheet(sheet: Any, report: Report) -> None:
    t = report.labels
    worst = report.largest_lag
    rows: list[tuple[str, Any]] = [
        (t("title"), ""),
        (t("period"), t("period_value", start=report.start.isoformat(), end=report.end.isoformat(),
                          tz=_tz_name(report.tz))),
        (t("generated"), _naive(report.generated)),
        (t("store"), report.store),
    ]
    if report.empty:
        rows.append((t("note"), t("no_runs", start=report.start.isoformat(), end=report.end.isoformat())))
    rows += [
        (t("runs"), report.runs),
        (t("failed"), len(report.failures)),
        (t("sent"), report.sent),
        (t("new_rejects"), report.new_rejects),
        (t("still_pending"), report.pending),
        (t("largest_lag"), t.duration(worst.lag) if worst is not None else ""),
        (t("note"), t("lag_meaning", tz=_tz_name(report.tz))),
        (t("note"), t("sent_meaning")),
    ]
    from openpyxl.styles import Alignment, Font

    for i, (label, value) in enumerate(rows, 1):
        sheet.cell(row=i, column=1, value=label).font = Font(bold=True)
        cell = sheet.cell(row=i, column=2, value=value)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if isinstance(value, datetime):
            cell.number_format = "yyyy-mm-dd hh:mm:ss"
    sheet.cell(row=1, column=1).font = Font(bold=True, size=14)
    sheet.column_dimensions["A"].width = 22
    sheet.column_dimensions["B"].width = 100


def _minutes(span: timedelta | None) -> float | None:
    return round(span.total_seconds() / 60, 1) if span is not None else None


def _days_sheet(sheet: Any, report: Report) -> None:
    t = report.labels
    headers = [t("day"), t("mapping"), t("runs"), t("failed"), t("read"), t("inserted"), t("updated"), t("sent"),
               t("held_back"), t("new_rejects"), t("lag_minutes"), t("lag_run")]
    rows = [(r.day, r.mapping, r.runs, r.failed, r.read, r.inserted, r.updated, r.sent, r.held_back, r.new_rejects,
             _minutes(r.lag), r.lag_run) for r in report.days]
    last = _table(sheet, headers, rows)
    if not rows:
        sheet.cell(row=last + 1, column=1, value=t("no_runs", start=report.start.isoformat(),
                                                   end=report.end.isoformat()))


def _pivot(sheet: Any, report: Report, value: Callable[[DayRow], Any]) -> int:
    """Days down, mappings across: ``value`` of each; returns the last row."""
    t = report.labels
    cells: dict[tuple[date, str], Any] = {(r.day, r.mapping): value(r) for r in report.days}
    rows = [(day, *(cells.get((day, m)) for m in report.mappings)) for day in report.dates]
    return _table(sheet, [t("day"), *report.mappings], rows)


def _sent_sheet(sheet: Any, report: Report) -> None:
    from openpyxl.chart import BarChart, Reference

    t = report.labels
    last = _pivot(sheet, report, lambda r: r.sent)
    for row in sheet.iter_rows(min_row=2, max_row=last, min_col=2, max_col=len(report.mappings) + 1):
        for cell in row:
            cell.value = cell.value or 0
    if report.sent == 0:
        sheet.cell(row=last + 2, column=1, value=t("no_sent"))
        return
    chart = BarChart()
    chart.type, chart.grouping, chart.overlap = "col", "stacked", 100
    chart.title, chart.y_axis.title = t("chart_sent"), t("axis_rows")
    chart.add_data(Reference(sheet, min_col=2, max_col=len(report.mappings) + 1, min_row=1, max_row=last),
                   titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=last))
    chart.width, chart.height = 24, 11
    sheet.add_chart(chart, f"{_after_columns(report)}2")


def _after_columns(report: Report) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(len(report.mappings) + 3)


def _rejects_sheet(sheet: Any, report: Report) -> None:
    t = report.labels
    rows = [(r.day, r.mapping, t(f"kind_{r.kind}"), r.count, r.pending, r.example) for r in report.rejects]
    last = _table(sheet, [t("day"), t("mapping"), t("kind"), t("new_rejects"), t("still_pending"), t("example")],
                  rows)
    if not rows:
        sheet.cell(row=last + 1, column=1, value=t("no_rejects"))


def _kinds_sheet(sheet: Any, report: Report) -> None:
    from openpyxl.chart import BarChart, Reference

    t = report.labels
    kinds = report.kinds()
    rows = [(t(f"kind_{kind}"), *(counts.get(m, 0) for m in report.mappings), sum(counts.values()))
            for kind, counts in kinds]
    last = _table(sheet, [t("kind"), *report.mappings, t("total")], rows)
    if not rows:
        sheet.cell(row=last + 1, column=1, value=t("no_rejects"))
        return
    chart = BarChart()
    chart.type, chart.grouping, chart.overlap = "bar", "stacked", 100
    chart.title = t("chart_rejects")
    chart.add_data(Reference(sheet, min_col=2, max_col=len(report.mappings) + 1, min_row=1, max_row=last),
                   titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=last))
    chart.y_axis.majorGridlines = None
    chart.width, chart.height = 20, 9
    from openpyxl.utils import get_column_letter

    sheet.add_chart(chart, f"{get_column_letter(len(report.mappings) + 4)}2")


def _lag_sheet(sheet: Any, report: Report) -> None:
    from openpyxl.chart import LineChart, Reference

    t = report.labels
    last = _pivot(sheet, report, lambda r: _minutes(r.lag))
    sheet.cell(row=1, column=1).value = f"{t('day')} / {t('lag_minutes')}"
    sheet.cell(row=last + 2, column=1, value=t("lag_meaning", tz=_tz_name(report.tz)))
    if report.largest_lag is None:
        sheet.cell(row=last + 3, column=1, value=t("no_lag"))
        return
    chart = LineChart()
    chart.title = t("chart_lag", unit=t("unit_minutes"))
    chart.y_axis.title = t("unit_minutes")
    chart.add_data(Reference(sheet, min_col=2, max_col=len(report.mappings) + 1, min_row=1, max_row=last),
                   titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=last))
    chart.display_blanks = "gap"
    chart.width, chart.height = 24, 11
    sheet.add_chart(chart, f"{_after_columns(report)}2")


def _runs_sheet(sheet: Any, report: Report, runs: Sequence[RunRow], none: str) -> None:
    t = report.labels
    headers = [t("started"), t("ended"), t("mapping"), t("mode"), t("result"), t("run_id"), t("read"), t("written"),
               t("rejected"), t("note")]
    rows = [(_naive(r.started), _naive(r.ended), r.mapping, t.mode(r.mode), t.status(r.status), r.run_id, r.read,
             r.written, r.rejected, r.note) for r in runs]
    last = _table(sheet, headers, rows)
    if not rows:
        sheet.cell(row=last + 1, column=1, value=none)
