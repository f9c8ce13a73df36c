"""Schedule strings -> triggers, and mappings -> jobs. Fire times are computed for a given
``now``: nothing here waits."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from syncd import commands
from syncd.errors import ConfigError
from syncd.schedule import DEFAULT_SCHEDULE, crontab_day_of_week, next_runs, parse_schedule, plan_jobs

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2024, 5, 6, 10, 3, 20, tzinfo=TZ)


def fire(text: str, now: datetime = MONDAY, previous: datetime | None = None, start: datetime | None = None):
    return parse_schedule(text, TZ, start=start).get_next_fire_time(previous, now)


@pytest.mark.parametrize(("text", "expected"), [
    ("*/10 * * * *", datetime(2024, 5, 6, 10, 10, tzinfo=TZ)),
    ("0 2 * * *", datetime(2024, 5, 7, 2, 0, tzinfo=TZ)),
    ("15 */6 * * *", datetime(2024, 5, 6, 12, 15, tzinfo=TZ)),
    ("0 8 1 * *", datetime(2024, 6, 1, 8, 0, tzinfo=TZ)),
    ("0 2 * * 1-5", datetime(2024, 5, 7, 2, 0, tzinfo=TZ)),       # cron weekdays: Monday to Friday
    ("0 9 * * 0", datetime(2024, 5, 12, 9, 0, tzinfo=TZ)),        # 0 is Sunday, as in cron
    ("0 9 * * 7", datetime(2024, 5, 12, 9, 0, tzinfo=TZ)),        # and so is 7
    ("0 9 * * 6", datetime(2024, 5, 11, 9, 0, tzinfo=TZ)),        # 6 is Saturday
    ("0 9 * * sat,sun", datetime(2024, 5, 11, 9, 0, tzinfo=TZ)),
    ("0 9 * * */2", datetime(2024, 5, 7, 9, 0, tzinfo=TZ)),       # sun, tue, thu, sat
])
def test_cron_next_fire(text, expected):
    assert fire(text) == expected


def test_cron_uses_the_configured_time_zone():
    utc_now = MONDAY.astimezone(ZoneInfo("UTC"))
    assert fire("0 2 * * *", now=utc_now) == datetime(2024, 5, 6, 18, 0, tzinfo=ZoneInfo("UTC"))


def test_weekday_numbers_follow_cron_not_apscheduler():
    assert crontab_day_of_week("1-5") == "mon,tue,wed,thu,fri"
    assert crontab_day_of_week("0") == crontab_day_of_week("7") == "sun"
    assert crontab_day_of_week("5-7") == "sun,fri,sat"
    assert crontab_day_of_week("*") == "*"
    assert crontab_day_of_week("MON-wed,6") == "mon,tue,wed,sat"


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("10m", 600), ("1h", 3600), ("2d", 172800),
                                                (" 5 m ", 300)])
def test_interval_next_fire(text, seconds):
    assert fire(text, start=MONDAY) == MONDAY
    assert fire(text, previous=MONDAY, now=MONDAY + timedelta(seconds=1), start=MONDAY) == \
        MONDAY + timedelta(seconds=seconds)
    # slots stay anchored at the start, whenever the question is asked
    late = MONDAY + timedelta(seconds=seconds * 3 + 1)
    assert fire(text, now=late, start=MONDAY) == MONDAY + timedelta(seconds=seconds * 4)


@pytest.mark.parametrize("text", ["10x", "10", "* * *", "* * * * * *", "61 * * * *", "0 0 * * 8", "0 25 * * *",
                                  "", "0s", "every 5 minutes", 5])
def test_invalid_schedules_name_file_and_key(text):
    with pytest.raises(ConfigError) as caught:
        parse_schedule(text, TZ, file="/etc/syncd/config.yaml", key="defaults.schedule")
    problem = caught.value.problems[0]
    assert (problem.file, problem.where) == ("/etc/syncd/config.yaml", "defaults.schedule")
    assert "/etc/syncd/config.yaml [defaults.schedule]" in str(caught.value)


# -- grouping mappings into jobs ---------------------------------------------------------

MAPPING = """\
name: {name}
source: {{table: src_{name}, key: [id], cursor: update_time}}
target: {{table: dp_{name}, key: [id]}}
{extra}
columns:
  id: {{from: id}}
"""


def project(tmp_path: Path, mappings: dict[str, str], config_extra: str = ""):
    (tmp_path / "mappings").mkdir(exist_ok=True)
    for name, extra in mappings.items():
        (tmp_path / "mappings" / f"{name}.yaml").write_text(MAPPING.format(name=name, extra=extra), encoding="utf-8")
    (tmp_path / "config.yaml").write_text(textwrap.dedent("""\
        source: {url: "sqlite:///src.db"}
        target: {url: "sqlite:///dst.db"}
        """) + textwrap.dedent(config_extra), encoding="utf-8")
    return commands.open_project(tmp_path / "config.yaml")


def jobs_of(p, **kwargs):
    return {job.schedule: job.mappings for job in plan_jobs(p.config, p.mappings, **kwargs)}


def test_mappings_sharing_a_schedule_form_one_job_in_dependency_order(tmp_path):
    p = project(tmp_path, {
        "a_child": "depends_on: [z_parent]\nschedule: '*/5 * * * *'",
        "z_parent": "schedule: '*/5  * * * *'",
        "b_alone": "schedule: 1h",
        "c_default": "",
    })
    assert jobs_of(p) == {"*/5  * * * *": ("z_parent", "a_child"), "1h": ("b_alone",),
                          DEFAULT_SCHEDULE: ("c_default",)}


def test_defaults_schedule_applies_to_mappings_without_one(tmp_path):
    p = project(tmp_path, {"a": "", "b": "schedule: 30s"}, "defaults: {schedule: 2m}\n")
    assert jobs_of(p) == {"2m": ("a",), "30s": ("b",)}


def test_named_groups_win_over_a_mappings_own_schedule(tmp_path):
    p = project(tmp_path, {"a": "schedule: 30s", "b": "depends_on: [a]", "c": "schedule: 30s"}, """\
        schedules:
          nightly:
            schedule: "0 2 * * *"
            mappings: [b, a]
        """)
    jobs = plan_jobs(p.config, p.mappings)
    assert {(j.id, j.schedule, j.mappings) for j in jobs} == {
        ("group:nightly", "0 2 * * *", ("a", "b")), ("schedule:30s", "30s", ("c",))}
    assert next_runs(jobs, MONDAY)["b"] == datetime(2024, 5, 7, 2, 0, tzinfo=TZ)


def test_disabled_mappings_are_not_scheduled_unless_named(tmp_path):
    p = project(tmp_path, {"a": "", "paused": "enabled: false"})
    assert jobs_of(p) == {DEFAULT_SCHEDULE: ("a",)}
    assert jobs_of(p, names=["paused"]) == {DEFAULT_SCHEDULE: ("paused",)}


def test_bad_schedules_are_all_reported_with_their_files(tmp_path):
    p = project(tmp_path, {"a": "schedule: every minute", "b": ""}, """\
        defaults: {schedule: "* * * * * *"}
        schedules:
          g1: {schedule: 5q, mappings: [nope]}
          g2: {schedule: 1h, mappings: [nope]}
        """)
    with pytest.raises(ConfigError) as caught:
        plan_jobs(p.config, p.mappings)
    text = str(caught.value)
    lines = (tmp_path / "mappings" / "a.yaml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, text_line in enumerate(lines, 1) if text_line.startswith("schedule:"))
    assert f"{tmp_path / 'mappings' / 'a.yaml'}, line {line} [schedule]" in text
    assert "[defaults.schedule]" in text
    assert "[schedules.g1.schedule]" in text and "'5q'" in text
    assert "schedules.g2.mappings.0" in text and "no mapping named 'nope'" in text
