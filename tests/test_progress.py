"""A run's progress as a value: the phases, the narrowing window, and the end of a full copy."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from syncd.source import Source
from syncd.sync import Progress
from syncd.watermark import Watermark, Window
from tests.scenario import Scenario

T0 = datetime(2026, 1, 1, 8, 0, 0)


def test_a_planned_empty_window_goes_straight_to_the_null_cursor_rows():
    assert Progress(phase="plan").planned(Window(empty=True)).phase == "nulls"
    assert Progress(phase="plan").planned(Window(until=T0)).phase == "read"


def test_each_checkpoint_narrows_the_window_to_what_is_left():
    window = Window(since=T0 - timedelta(minutes=10), until=T0)
    progress = Progress(phase="plan").planned(window)
    mark = Watermark(T0 - timedelta(minutes=5), (7,))
    after = progress.batch_done(mark)
    assert after.checkpoint == mark
    assert after.window == Window(after=mark, since=None, until=T0)
    assert after.phase == "read"


def test_a_full_copy_that_copied_rows_becomes_a_watermark_and_an_incremental_window_follows():
    copied = Watermark(T0 - timedelta(minutes=1), (42,), snapshot=True, bound=T0)
    progress = Progress(phase="read", window=Window(after=copied, until=T0, snapshot=True), checkpoint=copied)
    done = progress.window_done()
    assert done.phase == "plan"
    assert done.snapshot_done
    assert done.checkpoint == Watermark(copied.cursor, (), bound=T0)


def test_a_full_copy_that_found_nothing_ends_the_run_instead_of_planning_again():
    done = Progress(phase="read", window=Window(until=T0, snapshot=True)).window_done()
    assert done.phase == "nulls"
    assert done.checkpoint is None


def test_an_incremental_window_ends_with_the_null_cursor_rows():
    mark = Watermark(T0, (3,))
    done = Progress(phase="read", window=Window(after=mark, until=T0), checkpoint=mark).window_done()
    assert (done.phase, done.checkpoint) == ("nulls", mark)


def test_a_dry_run_full_copy_plans_no_second_window():
    copied = Watermark(T0, (1,), snapshot=True, bound=T0)
    assert Progress(phase="read", window=Window(after=copied, until=T0, snapshot=True)).window_done(
        dry_run=True).phase == "nulls"


@pytest.fixture
def sqlite_scenario(tmp_path):
    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", f"sqlite:///{tmp_path / 'fep.db'}")
    yield s
    s.dispose()


def test_a_first_full_copy_of_rows_all_inside_lag_probes_the_source_once(sqlite_scenario, monkeypatch):
    """Every row is newer than the clock minus ``lag``: the run copies nothing, says so, and ends;
    it does not re-probe the source until the clock passes the rows."""
    s = sqlite_scenario
    mapping = s.dir / "mappings" / "record.yaml"
    mapping.write_text(mapping.read_text().replace("lag: 0s", "lag: 10m"), encoding="utf-8")
    s.insert([{"id": i, "update_time": s.now()} for i in range(1, 4)])
    probes = []
    original = Source.probe

    def counting_probe(self, m, cursor_name=None):
        probes.append(m.name)
        return original(self, m, cursor_name)

    monkeypatch.setattr(Source, "probe", counting_probe)
    result = s.run().results[0]
    assert result.status == "ok"
    assert probes == ["record"]
    assert result.counts.rows_read == 0
    assert s.target_count() == 0
    # Once the rows are older than the lag they arrive, exactly once each.
    mapping.write_text(mapping.read_text().replace("lag: 10m", "lag: 0s"), encoding="utf-8")
    assert s.run().results[0].status == "ok"
    assert s.target_count() == 3
    assert s.actual() == s.expected()
