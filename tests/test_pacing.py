"""Heavy hours and the rate limiter (syncd/pacing.py): pure, the clock handed in."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from syncd.pacing import HeavyHours, Pacing, RateLimiter, choose, parse_heavy_hours


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 4, hour, minute)


def test_a_night_range_runs_past_midnight():
    night = HeavyHours.parse("22:00-06:00")
    assert night == HeavyHours(time(22), time(6))
    assert [night.inside(at(h)) for h in (21, 22, 23, 0, 5)] == [False, True, True, True, True]
    assert not night.inside(at(6)) and not night.inside(at(12))
    assert night.inside(at(5, 59)) and not night.inside(at(21, 59))
    assert night.describe() == "22:00-06:00"


def test_a_day_range_and_the_end_of_the_day():
    lunch = HeavyHours.parse(" 12:30 - 13:30 ")
    assert lunch.inside(at(12, 30)) and lunch.inside(at(13, 29)) and not lunch.inside(at(13, 30))
    late = HeavyHours.parse("20:00-24:00")
    assert late.inside(at(23, 59)) and not late.inside(at(0)) and late.describe() == "20:00-24:00"


def test_next_start():
    night = HeavyHours.parse("22:00-06:00")
    assert night.next_start(at(12)) == at(22)
    assert night.next_start(at(23)) == at(23)                       # inside: now
    assert night.next_start(datetime(2026, 3, 4, 6, 30)) == at(22)
    early = HeavyHours.parse("01:00-02:00")
    assert early.next_start(at(3)) == datetime(2026, 3, 5, 1, 0)    # tomorrow


@pytest.mark.parametrize("text", ["22-06", "22:00", "25:00-06:00", "22:00-06:60", "08:00-08:00", "night", 22])
def test_a_bad_range_says_how_to_write_it(text):
    with pytest.raises(ValueError, match=r"HH:MM-HH:MM|time of day|same time"):
        HeavyHours.parse(text)


def test_parse_heavy_hours_keeps_none():
    assert parse_heavy_hours(None) is None
    assert parse_heavy_hours("00:00-01:00") == HeavyHours(time(0), time(1))


def test_pacing_refuses_outside_the_hours_and_names_the_next_start():
    pacing = Pacing(HeavyHours.parse("22:00-06:00"), 500)
    assert pacing.refusal(at(23), "full copy") is None
    refusal = pacing.refusal(at(10), "full copy")
    assert refusal is not None and "full copy deferred" in refusal and "22:00-06:00" in refusal
    assert "2026-03-04 22:00" in refusal and "incremental runs go on" in refusal
    assert Pacing().refusal(at(10), "repair") is None and not Pacing().limited
    assert pacing.limited and pacing.limiter() is not None and Pacing().limiter() is None


def test_a_mapping_setting_wins_over_the_default():
    night, day = HeavyHours.parse("22:00-06:00"), HeavyHours.parse("08:00-18:00")
    assert choose(day, None, night, 100) == Pacing(day, 100)
    assert choose(None, 50, night, 100) == Pacing(night, 50)
    assert choose(None, None, None, None) == Pacing()


def test_the_rate_limiter_keeps_the_average_and_does_not_make_up_for_idle_time():
    limiter = RateLimiter(100)
    assert limiter.delay(50, now=10.0) == pytest.approx(0.5)      # 50 rows at 100/s: half a second
    assert limiter.delay(50, now=10.5) == pytest.approx(0.5)      # 100 rows by 11.0
    assert limiter.delay(100, now=11.2) == pytest.approx(0.8)     # 200 rows by 12.0
    # the link was idle for a minute: no burst to make up for it, counting starts again
    assert limiter.delay(100, now=72.0) == pytest.approx(1.0)
    assert limiter.delay(100, now=73.0) == pytest.approx(1.0)
    assert RateLimiter(0).delay(1000, now=0.0) == 0.0
