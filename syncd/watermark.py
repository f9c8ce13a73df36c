"""Watermarks and windows: the one place the incremental semantics live. Pure; no I/O, no clock.

A mapping's **watermark** is the pair (cursor value, key) of the last row whose batch was
committed to the target. Rows are read ordered by (cursor, key) and the next row after a
watermark ``(c, k)`` is the first with ``cursor > c OR (cursor = c AND key > k)``: keyset
pagination, so equal cursor values that straddle a batch boundary are neither lost nor read
forever, and 100 000 rows sharing one timestamp still page through.

A **window** is what one run reads. It is fixed when the run starts:

- its upper bound ``until`` comes from the *source database's* clock (``now + clock_offset -
  lag``), never the daemon's, so a row committed after the run started waits for the next run
  instead of racing it. Integer cursors are bounded by the newest value seen at start.
- its lower bound re-reads ``lookback`` behind the watermark (``cursor >= since``) so that a
  transaction which committed late, with a cursor value older than rows already read, is still
  caught. The upsert is idempotent, so the overlap only costs reading it again.
- a full copy (the first run, or ``--full``) is a *snapshot*: every row with a cursor up to
  ``until``, read in key order (the table's own order: far cheaper than sorting it by cursor) and
  checkpointed by key, so a crash resumes it where it stopped. When it completes, the watermark
  becomes the largest cursor it copied, and the same run goes on with an incremental window for
  what changed while it copied.

Values keep the source's own type: a ``datetime`` stays naive or aware as the driver returned
it, a SQLite text timestamp stays text in the same layout, an integer stays an integer. Rows
whose cursor is ahead of the source clock are not read (they would drag the watermark past
rows still to come) and the run says so loudly instead of waiting in silence.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from syncd.errors import FatalSyncError
from syncd.i18n import N_, _


@dataclass(frozen=True)
class Watermark:
    """(cursor, key) of the last committed row.

    ``bound`` is the upper bound of the window that produced it (the source clock at that run's
    start): the next run's lookback is measured back from it, because a transaction can commit
    late only by so much *wall-clock* time; measuring from the cursor instead would re-read the
    same old rows on every run of a table that has not changed for a while.

    During a full copy (``snapshot``) rows with a cursor up to ``bound`` are copied in key order:
    ``key`` is the last key done and ``cursor`` the largest cursor value copied so far. A
    finished full copy leaves ``(largest cursor, ())``.

    A mapping with several cursors (``cursor: [update_time, ent_update_time]``) keeps one position
    per further cursor in ``also`` (cursor name -> its own watermark), each read in its own keyset
    window. During a full copy ``also`` holds the positions the further cursors take when the copy
    completes: the clock bounds at its start, since the copy read every row as it was then.
    """

    cursor: Any
    key: tuple[Any, ...]
    snapshot: bool = False
    bound: Any = None
    also: tuple[tuple[str, Watermark], ...] = ()

    def to_json(self) -> str:
        return json.dumps(self._data(), ensure_ascii=False, sort_keys=True)

    def _data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"cursor": encode_position(self.cursor), "key": [encode_position(k) for k in self.key]}
        if self.snapshot:
            data["snapshot"] = True
        if self.bound is not None:
            data["bound"] = encode_position(self.bound)
        if self.also:
            data["also"] = {name: mark._data() for name, mark in self.also}
        return data

    @classmethod
    def from_json(cls, text: str | None) -> Watermark | None:
        if not text:
            return None
        return cls._from_data(json.loads(text))

    @classmethod
    def _from_data(cls, data: dict[str, Any]) -> Watermark:
        return cls(decode_value(data["cursor"]), tuple(decode_value(k) for k in data["key"]),
                   bool(data.get("snapshot", False)), decode_value(data.get("bound", {"t": "null"})),
                   tuple((name, cls._from_data(mark)) for name, mark in sorted((data.get("also") or {}).items())))

    def position(self, cursor: str) -> Watermark | None:
        """The position of a further cursor; None when it has none yet."""
        return dict(self.also).get(cursor)

    def with_position(self, cursor: str, mark: Watermark | None) -> Watermark:
        """This watermark with a further cursor's position set (None: removed)."""
        others = [(name, m) for name, m in self.also if name != cursor]
        return replace(self, also=tuple(sorted(others + ([(cursor, mark)] if mark is not None else []),
                                               key=lambda item: item[0])))

    def describe(self) -> str:
        if self.snapshot:
            text = (f"full copy up to {describe_value(self.bound)} in progress, done through key "
                    + ", ".join(str(k) for k in self.key))
        elif not self.key:
            text = describe_value(self.cursor)
        else:
            text = f"{describe_value(self.cursor)} / " + ", ".join(str(k) for k in self.key)
        if self.also and not self.snapshot:
            text += "; " + "; ".join(f"{name} {mark.describe()}" for name, mark in self.also)
        return text


@dataclass(frozen=True)
class Window:
    """What one run reads: ``(after | since) < rows <= until``, ordered by (cursor, key).

    A ``snapshot`` window is a full copy: every row with a cursor up to ``until``, read in key
    order (the table's own order, far cheaper than sorting it by cursor) and resumed by key.
    """

    after: Watermark | None = None
    since: Any = None
    until: Any = None
    empty: bool = False
    snapshot: bool = False

    def resume(self, watermark: Watermark | None) -> Window:
        """The rest of this window after a checkpoint (used when a run retries after a fault)."""
        if watermark is None:
            return self
        return replace(self, after=watermark, since=None)


@dataclass(frozen=True)
class WindowPlan:
    window: Window
    ahead: bool
    warnings: tuple[str, ...]
    #: the window's bound was held before an open transaction that started then
    held_by: Any = None
    #: why the mapping's lookback cannot apply to this cursor's values (no lookback is applied)
    lookback_problem: str | None = None


def plan_window(previous: Watermark | None, *, newest: Any, db_now: Any, db_now_utc: Any,
                lookback: timedelta | int, lag: timedelta, clock_offset: timedelta = timedelta(0),
                full: bool = False, open_since: Any = None, open_since_utc: Any = None) -> WindowPlan:
    """Fix the window of a run from the state at its start.

    ``newest`` is the largest non-NULL cursor value in the source (None: no rows).
    ``db_now`` is the source database's clock as a naive local timestamp (or text, on SQLite),
    ``db_now_utc`` the same instant as an aware datetime; whichever matches the cursor is used.
    ``open_since`` (and ``open_since_utc``): when the oldest transaction still open in the source
    that may yet write a row began (the dialect says which count), in the same two forms, where the
    source lets syncd see it. A time cursor's bound then stays before it: the rows that
    transaction writes (their cursor no earlier than its start) are read once it has committed,
    however long it stays open.
    """
    warnings: list[str] = []
    if newest is None:
        return WindowPlan(Window(empty=True), False, ())
    # said of the value the lookback steps back from (the first run's: the newest)
    stepped = newest if previous is None else previous.bound if previous.bound is not None else previous.cursor
    problem = lookback_problem(stepped, lookback)
    held_by = None
    if isinstance(newest, (datetime, date, str)) and not _is_number_text(newest):
        bound = _clock_bound(newest, db_now, db_now_utc, clock_offset, lag)
        if open_since is not None:
            before_open = _clock_bound(newest, open_since, open_since_utc, clock_offset, timedelta(microseconds=1))
            if _gt(bound, before_open):
                bound, held_by = before_open, open_since
    else:
        bound = None
    until = newest if bound is None else bound
    ahead = bound is not None and _gt(newest, _clock_bound(newest, db_now, db_now_utc, clock_offset, timedelta(0)))
    if ahead:
        warnings.append(
            _("the newest cursor value {newest} is ahead of the source database's clock "
              "({clock}{offset_text}); rows beyond the clock are not read until the clock passes them. If "
              "the application writes local time into a database whose clock is UTC, set source.clock_offset (e.g. "
              "8h) in the config")
            .format(
                newest=describe_value(newest), clock=describe_value(db_now),
                offset_text=_offset_text(clock_offset)))
    if previous is not None and previous.snapshot and not full:
        # A full copy was interrupted: finish it, with the bound it started with.
        return WindowPlan(Window(after=previous, until=previous.bound, snapshot=True), ahead, tuple(warnings),
                          lookback_problem=problem)
    if full or previous is None:
        return WindowPlan(Window(until=until, snapshot=True), ahead, tuple(warnings), held_by, problem)
    floor = _step_back(stepped, lookback)
    if floor is not None and _gt(previous.cursor, floor):
        # rows written since shortly before the last run's read: catches late commits
        return WindowPlan(Window(since=floor, until=until), ahead, tuple(warnings), held_by, problem)
    # the table has been quiet: rows after the watermark are all there is to read
    return WindowPlan(Window(after=previous, until=until), ahead, tuple(warnings), held_by, problem)


def cursor_problem(value: Any, like: Any) -> str | None:
    """Why ``value`` cannot be ordered as a cursor beside ``like`` (the newest cursor value of the
    same column), or None. A driver hands back what it cannot convert as text (MySQL's zero date
    ``0000-00-00 00:00:00``, an impossible date), and text is never compared with a time."""
    if value is None or like is None:
        return None
    if isinstance(like, datetime):
        ok = isinstance(value, datetime) and (value.tzinfo is None) == (like.tzinfo is None)
        kind = "date and time"
    elif isinstance(like, date):
        ok = isinstance(value, date) and not isinstance(value, datetime)
        kind = "date"
    elif isinstance(like, (int, float, Decimal)) and not isinstance(like, bool):
        ok = isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
        kind = "number"
    elif isinstance(like, str) and _is_number_text(like):
        ok = isinstance(value, str) and _is_number_text(value)
        kind = "number"
    elif isinstance(like, str) and _parse_datetime(like) is not None:
        ok = isinstance(value, str) and _parse_datetime(value) is not None
        kind = "date and time"
    else:
        ok = type(value) is type(like)
        kind = type(like).__name__
    return None if ok else f"cursor value {describe_value(value)!r} is not a {kind}"


def text_cursor_problem(newest: Any, *, declared_text: bool) -> str | None:
    """What to know of a cursor whose values are text (its ``newest``), or None. Text is ordered as
    text, by the database and by syncd alike: as a time or a number only in one fixed layout; a
    value in another sorts out of place, and the greatest becomes the watermark, behind which
    later rows are not read. A newest value that is no time or number is always said; the layout
    rule only of a column declared as text (``declared_text``: a SQLite DATETIME holds text too,
    written in one layout by the application's driver)."""
    if not isinstance(newest, str):
        return None
    if not _is_number_text(newest) and _parse_datetime(newest) is None:
        return _("its newest value {value!r} is neither a time nor a number: as text it sorts after the dates and "
                  "numbers, becomes the watermark, and the rows written later are not read; fix it in the source, or "
                  "leave such rows out with source.where").format(value=newest)
    if not declared_text:
        return None
    return _("it holds text, which is ordered as text: as a time or a number only in one fixed layout (zero-padded "
              "yyyy-mm-dd hh:mm:ss, or digits all of one length); a value written in another (2026/1/5, 未填) sorts "
              "out of place and can keep later rows from being read. Where the county's system writes more than one "
              "layout, read the cursor as a time through source.query (CAST(... AS DATETIME))")


def _offset_text(offset: timedelta) -> str:
    return "" if not offset else f" with clock_offset {offset}"


def _is_number_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lstrip("-").replace(".", "", 1).isdigit()


def _clock_bound(newest: Any, db_now: Any, db_now_utc: Any, offset: timedelta, lag: timedelta) -> Any:
    """The source clock minus the lag, in the cursor's own type; None for a cursor that is not a time."""
    if isinstance(newest, datetime) and newest.tzinfo is not None:
        return _clock(db_now_utc) + offset - lag
    if isinstance(newest, datetime):
        return _clock(db_now).replace(tzinfo=None) + offset - lag
    if isinstance(newest, date):
        return (_clock(db_now) + offset - lag).date()
    if _parse_datetime(newest) is None:
        return None
    return format_like(_clock(db_now).replace(tzinfo=None) + offset - lag, newest)


def _clock(value: Any) -> datetime:
    """The source database's clock as read; a clock that is no time cannot bound a window."""
    moment = _parse_datetime(value)
    if moment is None:
        raise FatalSyncError(N_("the source database's clock answered {value!r}, which is not a date and time; syncd "
                                "bounds every window by that clock. Check the source's time settings (and the "
                                "dialect's clock query in syncd/dialects)").format(value=value))
    return moment


def _step_back(cursor: Any, lookback: timedelta | int) -> Any:
    """``cursor - lookback`` in the cursor's type, or None when there is nothing to step back: a
    lookback of zero, or one that cannot apply to such values (``lookback_problem`` says why)."""
    if isinstance(lookback, timedelta):
        if isinstance(cursor, date) and not isinstance(cursor, datetime):
            # A date cursor cannot order rows within a day: always re-read the last day.
            return cursor - max(timedelta(days=1), lookback)
        if not lookback:
            return None
        if isinstance(cursor, datetime):
            return cursor - lookback
        digits = _digit_moment(cursor)
        if digits is not None:
            # yyyymmddhhmmss kept as a number or as text: stepped back in the same layout
            stepped = (digits - lookback).strftime(_DIGIT_LAYOUT)
            return stepped if isinstance(cursor, str) else type(cursor)(stepped)
        if isinstance(cursor, str) and not _is_number_text(cursor):
            parsed = _parse_datetime(cursor)
            if parsed is None:
                return None
            if len(cursor.strip()) == 10:
                return format_like(parsed - max(timedelta(days=1), lookback), cursor)
            return format_like(parsed - lookback, cursor)
        return None
    if isinstance(cursor, date) and not isinstance(cursor, datetime):
        return cursor - timedelta(days=1)       # the last day, as always (a number is no count of days)
    if not lookback or isinstance(cursor, bool):
        return None
    if isinstance(cursor, (int, Decimal, float)):
        return cursor - lookback
    if isinstance(cursor, str) and cursor.strip().isdigit():
        # digits kept as text compare as text: the same number of digits keeps the order
        width = len(cursor.strip())
        return str(max(int(cursor) - lookback, 0)).zfill(width)
    return None


#: the one digit layout of a time that a duration lookback steps back in: yyyymmddhhmmss
_DIGIT_LAYOUT = "%Y%m%d%H%M%S"


def _digit_moment(value: Any) -> datetime | None:
    """A cursor value of 14 digits (a whole number, or text) that reads as yyyymmddhhmmss, as that time."""
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    text = str(value).strip()
    if len(text) != 14 or not text.isdigit():
        return None
    try:
        return datetime.strptime(text, _DIGIT_LAYOUT)
    except ValueError:
        return None


def lookback_text(lookback: timedelta | int) -> str:
    """A lookback as a mapping writes it: ``10m``, ``90s``, ``100``."""
    if not isinstance(lookback, timedelta):
        return str(lookback)
    seconds = lookback.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def lookback_problem(cursor: Any, lookback: timedelta | int) -> str | None:
    """Why ``lookback`` cannot step back from a cursor value like ``cursor`` (so that runs would
    re-read nothing behind the watermark), with what to write instead; None when it applies (or is
    zero: no lookback, as asked). A plain number on a time cursor is not taken as seconds."""
    if cursor is None or not lookback:
        return None
    value, text = describe_value(cursor), lookback_text(lookback)
    time_cursor = isinstance(cursor, (datetime, date)) or (
        isinstance(cursor, str) and not _is_number_text(cursor) and _parse_datetime(cursor) is not None)
    if not isinstance(lookback, timedelta) and time_cursor:
        return _("lookback {lookback} is a plain number, but the cursor's values are dates and times ({value}); "
                 "a number is not taken as seconds: no lookback is applied, and a transaction that commits late "
                 "with an older cursor value is missed. Write a duration (lookback: 10m, or {lookback}s if seconds "
                 "were meant)").format(lookback=text, value=value)
    if _step_back(cursor, lookback) is not None:
        return None
    number = (isinstance(cursor, (int, Decimal, float)) and not isinstance(cursor, bool)) or _is_number_text(cursor)
    if isinstance(lookback, timedelta) and number:
        return _("lookback {lookback} is a duration, but the cursor's values are numbers ({value}), not times "
                 "written yyyymmddhhmmss: no lookback is applied, and a transaction that commits late with an "
                 "older cursor value is missed. Write the lookback in the cursor's own units (lookback: 1000), or "
                 "lookback: 0 to say there is none").format(lookback=text, value=value)
    return _("lookback {lookback} cannot step back from cursor values like {value!r}: no lookback is applied, and "
             "a transaction that commits late with an older cursor value is missed. Write lookback: 0 to say there "
             "is none, or use a cursor of dates and times or of numbers").format(lookback=text, value=value)


def _gt(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        pa, pb = _parse_datetime(a), _parse_datetime(b)
        if pa is not None and pb is not None:
            return pa.replace(tzinfo=None) > pb.replace(tzinfo=None)
    return a > b


def _parse_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for layout in ("%Y-%m-%d %H:%M:%S.%f", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, layout)
        except ValueError:
            continue
    return None


def format_like(moment: datetime, template: str) -> str:
    """``moment`` written in the layout of ``template`` (separator, fraction digits, date-only)."""
    text = template.strip()
    if len(text) == 10:
        return moment.strftime("%Y-%m-%d" if "-" in text else "%Y/%m/%d")
    date_sep = "/" if text[4:5] == "/" else "-"
    sep = text[10:11] or " "
    out = moment.strftime(f"%Y{date_sep}%m{date_sep}%d") + sep + moment.strftime("%H:%M:%S")
    if len(text) > 19 and text[19] == ".":
        digits = len(text[20:]) - len(text[20:].lstrip("0123456789"))
        if digits:
            out += "." + f"{moment.microsecond:06d}"[:digits].ljust(digits, "0")
    return out


def describe_value(value: Any) -> str:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value)


def encode_value(value: Any) -> dict[str, Any]:
    """A JSON form of a source value that decodes to the same Python type and value."""
    if value is None:
        return {"t": "null"}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        return {"t": "int", "v": str(value)}
    if isinstance(value, Decimal):
        return {"t": "decimal", "v": str(value)}
    if isinstance(value, float):
        return {"t": "float", "v": repr(value)}
    if isinstance(value, datetime):
        return {"t": "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {"t": "date", "v": value.isoformat()}
    if isinstance(value, time):
        return {"t": "time", "v": value.isoformat()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"t": "bytes", "v": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, str):
        return {"t": "str", "v": value}
    return {"t": "str", "v": str(value)}


def encode_position(value: Any) -> dict[str, Any]:
    """``encode_value`` for a watermark's values, which go back into SQL: a UUID (PostgreSQL's
    ``uuid``) keeps its type. (A reject's key and row stay as ``encode_value`` writes them, a UUID as
    text: they name the reject and make its hash. A watermark stored before keeps its UUIDs as
    text, which ``plan.bound_key`` binds so that the database still compares them.)"""
    if isinstance(value, uuid.UUID):
        return {"t": "uuid", "v": str(value)}
    return encode_value(value)


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "null": lambda v: None, "bool": bool, "int": int, "decimal": Decimal, "float": float,
    "datetime": datetime.fromisoformat, "date": date.fromisoformat, "time": time.fromisoformat,
    "bytes": base64.b64decode, "str": str, "uuid": uuid.UUID,
}


def decode_value(data: dict[str, Any]) -> Any:
    return _DECODERS[data["t"]](data.get("v"))


def encode_key(key: tuple[Any, ...]) -> str:
    """A stable text form of a source key, used to name a reject."""
    return json.dumps([encode_value(k) for k in key], ensure_ascii=False, sort_keys=True)


def decode_key(text: str) -> tuple[Any, ...]:
    return tuple(decode_value(k) for k in json.loads(text))


_NAMED_AS_IS = (type(None), bool, int, Decimal, float, datetime, date, time, bytes, bytearray, memoryview, str)


def named_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """A source key as its reject's name gives it back (``decode_key(encode_key(key))``): a value
    ``encode_value`` keeps as text (a UUID) as that text. Pending rejects are compared with the
    keys of rows read in this form."""
    if all(isinstance(v, _NAMED_AS_IS) for v in key):
        return key
    return tuple(v if isinstance(v, _NAMED_AS_IS) else str(v) for v in key)
