"""``syncd demo``: a county database and an intermediate database on SQLite, synced twice.

Creates under a folder: ``county.db`` (generated data in the demo county schema, see
sql/county/tables.yaml), ``fep.db`` (the reference intermediate tables, sql/tables.yaml),
``config.yaml`` pointing at them and at the shipped mappings, and ``state.db``. Runs every
mapping (a full first load), changes some county rows, and runs again incrementally.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from syncd import commands, ddl, demodata, dialects, resources

AREA_CODE = "410102"


@dataclass(frozen=True)
class DemoResult:
    directory: Path
    first: commands.RunReport
    second: commands.RunReport
    changes: dict[str, int]


def write_config(directory: Path, mappings: Path) -> Path:
    path = directory / "config.yaml"
    path.write_text(textwrap.dedent(f"""\
        # Written by `syncd demo`: a county database and an intermediate database, both SQLite.
        source: {{url: "{dialects.file_url('county.db')}"}}
        target: {{url: "{dialects.file_url('fep.db')}"}}
        state: {{url: "{dialects.file_url('state.db')}"}}
        mappings: {mappings}
        defaults: {{batch_size: 2000, lookback: 10m, lag: 0s}}
        vars: {{AREA_CODE: "{AREA_CODE}"}}
        log: {{dir: logs, level: INFO}}
        """), encoding="utf-8")
    return path


def run_demo(directory: Path, *, rows: int = 200, seed: int = 1) -> DemoResult:
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("county.db", "fep.db", "state.db"):
        (directory / name).unlink(missing_ok=True)
    county = sa.create_engine(dialects.file_url(directory / "county.db"))
    fep = sa.create_engine(dialects.file_url(directory / "fep.db"))
    try:
        demodata.populate(county, rows=rows, seed=seed)
        ddl.load_tables(resources.reference_tables()).create_all(fep)
        config = write_config(directory, resources.mappings_dir())
        project = commands.open_project(config)
        first = commands.run_once(project)
        changes = demodata.mutate(county, seed=seed + 1)
        second = commands.run_once(project)
    finally:
        county.dispose()
        fep.dispose()
    return DemoResult(directory, first, second, changes)
