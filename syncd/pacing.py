"""Heavy work on a thin link: the hours it may run in and the rate it may send at.

Pure: parses, decides and computes delays; the caller reads the clock and sleeps. Heavy work is
what moves many rows at once: a full copy (the first run, ``--full``, a re-send after a mapping
change) and a reconcile repair. Incremental runs are never held back.

- ``heavy_hours: "22:00-06:00"``: the local hours (``defaults.timezone``) heavy work may run in;
  a range that ends before it starts runs past midnight. ``HeavyHours.inside(now)`` says whether
  ``now`` is in them, ``next_start(now)`` when they next open.
- ``max_rows_per_second: 500``: ``RateLimiter.delay(rows, now)`` is how long to wait after
  sending ``rows`` more rows so that the average since the first batch stays at or below the rate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from syncd.i18n import _

_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class HeavyHours:
    """A daily range of local wall-clock time, ``start`` included, ``end`` excluded."""

    start: time
    end: time

    @classmethod
    def parse(cls, value: Any) -> HeavyHours:
        """``"22:00-06:00"`` (or a ``HeavyHours``); ValueError saying how to write it otherwise."""
        if isinstance(value, HeavyHours):
            return value
        match = _RANGE.match(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError(_("{value!r} is not a range of hours: write it as HH:MM-HH:MM, e.g. \"22:00-06:00\" (from "
                               "22:00 to 06:00 the next morning)").format(value=value))
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        for hour, minute in ((h1, m1), (h2, m2)):
            if hour > 24 or minute > 59 or (hour == 24 and minute):
                raise ValueError(_("{value!r}: {hour:02d}:{minute:02d} "
                                   "is not a time of day (00:00 to 24:00)")
                                 .format(value=value, hour=hour, minute=minute))
        start, end = _clock(h1, m1), _clock(h2, m2)
        if start == end:
            raise ValueError(_("{value!r}: the range starts and ends at the same time; leave heavy_hours out to "
                               "allow heavy work at any hour").format(value=value))
        return cls(start, end)

    def inside(self, now: datetime) -> bool:
        """Whether the local time of ``now`` is in the range (``now`` in the zone the range is meant in)."""
        moment = now.time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def next_start(self, now: datetime) -> datetime:
        """When the range next opens after ``now`` (``now`` itself when it is inside)."""
        if self.inside(now):
            return now
        opening = now.replace(hour=self.start.hour, minute=self.start.minute, second=0, microsecond=0)
        return opening if opening > now else opening + timedelta(days=1)

    def describe(self) -> str:
        return f"{self.start:%H:%M}-{'24:00' if self.end == time.max else f'{self.end:%H:%M}'}"


def _clock(hour: int, minute: int) -> time:
    return time.max if hour == 24 else time(hour, minute)


def parse_heavy_hours(value: Any) -> HeavyHours | None:
    """For config and mapping models: None stays None, anything else is parsed."""
    return None if value is None else HeavyHours.parse(value)


@dataclass(frozen=True)
class Pacing:
    """How one mapping's heavy work is confined: its hours (None: any hour) and its rate (None: as
    fast as the link goes). The mapping's own settings win over ``defaults``."""

    hours: HeavyHours | None = None
    rows_per_second: int | None = None

    @property
    def limited(self) -> bool:
        return self.hours is not None or self.rows_per_second is not None

    def refusal(self, now: datetime, what: str) -> str | None:
        """Why ``what`` (a full copy, a repair) may not run at ``now``, or None when it may."""
        if self.hours is None or self.hours.inside(now):
            return None
        opens = self.hours.next_start(now)
        return (f"{what} deferred: heavy work runs only in heavy_hours {self.hours.describe()} "
                f"(next from {opens:%Y-%m-%d %H:%M}); incremental runs go on meanwhile")

    def limiter(self) -> RateLimiter | None:
        return RateLimiter(self.rows_per_second) if self.rows_per_second else None


def choose(own_hours: HeavyHours | None, own_rate: int | None, default_hours: HeavyHours | None,
           default_rate: int | None) -> Pacing:
    """A mapping's pacing: each of its own settings, else the config's default."""
    return Pacing(own_hours if own_hours is not None else default_hours,
                  own_rate if own_rate is not None else default_rate)


@dataclass
class RateLimiter:
    """At most ``rows_per_second`` on average since the first batch; the caller sleeps the delays.

    ``delay(rows, now)`` after each batch: ``now`` is a monotonic clock in seconds. The first call
    starts the clock (the first batch has gone at once; the wait after it is its share), and a
    pause that left the link idle (a slow source) is not made up for by a burst afterwards.
    """

    rows_per_second: float
    started: float | None = None
    sent: int = 0

    def delay(self, rows: int, now: float) -> float:
        """Seconds to wait after sending ``rows`` more rows at ``now``."""
        if self.rows_per_second <= 0:
            return 0.0
        if self.started is None:
            self.started = now
        self.sent += rows
        due = self.started + self.sent / self.rows_per_second
        if due < now:
            # The link was idle longer than the rate asks: count afresh from this batch, so that
            # the idle time is not made up for by a burst.
            self.started, self.sent = now, rows
            due = now + rows / self.rows_per_second
        return due - now
