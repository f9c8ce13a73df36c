"""A changed mapping re-sends its rows (on_change: resync) or says so (warn); truncations are counted."""

from __future__ import annotations

import pytest

from tests.scenario import Scenario


@pytest.fixture
def s(tmp_path):
    scenario = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", f"sqlite:///{tmp_path / 'fep.db'}")
    yield scenario
    scenario.dispose()


def _edit_mapping(s: Scenario, old: str, new: str) -> None:
    path = s.dir / "mappings" / "record.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def _titles(s: Scenario) -> set[str]:
    return {row["title"] for row in s.actual().values()}


def test_a_changed_column_resends_every_row(s):
    s.insert([{"id": i, "update_time": s.at(i)} for i in range(1, 6)])
    assert s.run().results[0].counts.rows_written == 5
    assert s.run().results[0].counts.rows_read == 0          # nothing changed: nothing read
    _edit_mapping(s, "title:        {from: title}", "title:        {const: 已改}")
    result = s.run().results[0]
    assert result.status == "ok", result.error
    assert result.mode == "full"
    assert any("changed since its last run" in w for w in result.warnings)
    assert _titles(s) == {"已改"}
    again = s.run().results[0]
    assert again.mode == "incremental" and again.counts.rows_read == 0


def test_on_change_warn_only_says_so(s):
    s.insert([{"id": i, "update_time": s.at(i)} for i in range(1, 4)])
    s.run()
    _edit_mapping(s, "lag: 0s\n", "lag: 0s\non_change: warn\n")
    _edit_mapping(s, "title:        {from: title}", "title:        {const: 已改}")
    result = s.run().results[0]
    assert result.mode == "incremental"
    assert any("on_change: warn" in w for w in result.warnings)
    assert "已改" not in _titles(s)


def test_only_reformatting_the_file_changes_nothing(s):
    s.insert([{"id": 1, "update_time": s.at(1)}])
    s.run()
    _edit_mapping(s, "title:        {from: title}", "# the title, as the county typed it\n  title: {from: title}")
    result = s.run().results[0]
    assert result.mode == "incremental" and not result.warnings


def test_truncations_are_counted_in_the_run(s):
    _edit_mapping(s, "title:        {from: title}", "title:        {from: title, on_overflow: truncate}")
    s.insert([{"id": 1, "update_time": s.at(1), "title": "长" * 250}, {"id": 2, "update_time": s.at(2)}])
    result = s.run().results[0]
    assert result.status == "ok", result.error
    assert result.counts.rows_truncated == 1
    assert any("cut to fit their column" in w and "title 1" in w for w in result.warnings)
    assert len(s.actual()["1"]["title"]) == 200
