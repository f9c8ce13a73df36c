"""A dry run on an empty target counts the parents it would write as present (issue 13, item 7)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from syncd import commands, ddl, demodata, resources

ROOT = Path(__file__).resolve().parent.parent


def _project(tmp_path: Path, target_url: str) -> tuple[commands.Project, sa.Engine]:
    county = sa.create_engine(f"sqlite:///{tmp_path / 'county.db'}")
    demodata.populate(county, rows=60, seed=3)
    county.dispose()
    target = sa.create_engine(target_url)
    ddl.load_tables(resources.reference_tables()).create_all(target)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({
        "source": {"url": "sqlite:///county.db"},
        "target": {"url": target_url},
        "state": {"dir": "state"},
        "mappings": str(ROOT / "mappings"),
        "vars": {"AREA_CODE": "410922"},
        "defaults": {"lag": "0s", "retries": 0, "batch_size": 7},
    }), encoding="utf-8")
    return commands.open_project(tmp_path / "config.yaml"), target


def _target_rows(target: sa.Engine, project: commands.Project) -> int:
    with target.connect() as conn:
        return sum(conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                   for t in {m.target.table for m in project.mappings})


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_dry_run_on_an_empty_target_rejects_no_child_of_a_parent_it_would_write(tmp_path, make_database, kind):
    project, target = _project(tmp_path, make_database(kind))
    try:
        with_parents = {m.name for m in project.mappings if m.spec.parents}
        assert len(with_parents) >= 5
        report = commands.run_once(project, dry_run=True)
        assert not report.failed, [(r.mapping, r.error) for r in report.failed]
        for r in report.results:
            assert r.counts.rows_read > 0, r.mapping
            assert r.counts.rows_rejected == 0, (r.mapping, [j.reason for j in r.rejects[:3]])
            assert r.counts.rows_written == r.counts.rows_read, r.mapping
        assert _target_rows(target, project) == 0          # still nothing written
        # the real run that follows agrees with the dry run
        real = commands.run_once(project)
        assert {r.mapping: (r.counts.rows_written, r.counts.rows_rejected) for r in real.results} == {
            r.mapping: (r.counts.rows_written, r.counts.rows_rejected) for r in report.results}
    finally:
        target.dispose()


def test_a_dry_run_of_the_child_alone_still_rejects_the_orphans(tmp_path, make_database):
    project, target = _project(tmp_path, make_database("sqlite"))
    try:
        report = commands.run_once(project, names=["risk_event"], dry_run=True)
        (result,) = report.results
        assert result.counts.rows_read > 0
        assert result.counts.rows_rejected == result.counts.rows_read
        assert all("parent dp_risk_unit" in r.reason for r in result.rejects)
    finally:
        target.dispose()
