"""Two source rows with one key: both held back as one reject naming the key, never a silent winner."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from syncd import commands
from syncd.keys import KeyTracker

meta = sa.MetaData()
# no primary key: the county's table lets a key repeat
loose = sa.Table("loose", meta, sa.Column("id", sa.Integer), sa.Column("title", sa.String(50)),
                 sa.Column("update_time", sa.DateTime))
target_meta = sa.MetaData()
dp = sa.Table("dp_loose", target_meta, sa.Column("id", sa.String(20), primary_key=True),
              sa.Column("title", sa.String(50)))

MAPPING = """\
name: loose
source: {table: loose, key: id, cursor: update_time}
target: {table: dp_loose, key: id}
batch_size: 3
lookback: 0s
lag: 0s
columns:
  id: {from: id}
  title: {from: title}
"""


@pytest.fixture(params=["sqlite", "mariadb"])
def loose_source(request, tmp_path, make_database):
    url = f"sqlite:///{tmp_path / 'county.db'}" if request.param == "sqlite" else make_database(request.param)
    source = sa.create_engine(url)
    meta.create_all(source)
    target = sa.create_engine(f"sqlite:///{tmp_path / 'fep.db'}")
    target_meta.create_all(target)
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "loose.yaml").write_text(MAPPING, encoding="utf-8")
    (tmp_path / "config.yaml").write_text(textwrap.dedent(f"""\
        source: {{url: "{url}"}}
        target: {{url: "sqlite:///{tmp_path / 'fep.db'}"}}
        state: {{url: "sqlite:///{tmp_path / 'state.db'}"}}
        mappings: mappings
        """), encoding="utf-8")
    yield tmp_path, source, target
    source.dispose()
    target.dispose()


def _run(tmp_path):
    [result] = commands.run_once(commands.open_project(tmp_path / "config.yaml")).results
    assert result.status == "ok", result.error
    return result


def _titles(target) -> dict[str, str]:
    with target.connect() as conn:
        return dict(conn.execute(sa.select(dp.c.id, dp.c.title)).all())


def _pending(tmp_path) -> dict[str, str]:
    return {r["key"]: r["reason"] for r in commands.rejects(commands.open_project(tmp_path / "config.yaml"))}


@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_rows_sharing_a_key_are_held_back_and_named(loose_source, mode):
    tmp_path, source, target = loose_source
    base = datetime(2026, 1, 1, 8, 0, 0)
    rows = [(1, "a"), (1, "a-too"),            # same batch
            (2, "b"), (3, "c"), (4, "d"), (5, "e"), (6, "f"),
            (7, "g"), (8, "h"), (7, "g-again")]  # across batches
    if mode == "incremental":
        with source.begin() as conn:
            conn.execute(loose.insert(), [{"id": 100, "title": "seed", "update_time": base}])
        _run(tmp_path)
    with source.begin() as conn:
        conn.execute(loose.insert(), [{"id": i, "title": t, "update_time": base + timedelta(minutes=1 + n)}
                                      for n, (i, t) in enumerate(rows)])
    result = _run(tmp_path)
    titles = _titles(target)
    assert "1" not in titles                       # neither of the two rows in one batch
    pending = _pending(tmp_path)
    assert set(pending) == {"1", "7"}
    assert "key not unique in the source: 2 rows have id=1" in pending["1"] and "a-too" in pending["1"]
    if mode == "full":
        # read in key order, the two rows of key 7 meet in one batch: neither is written
        assert "7" not in titles and "2 rows have id=7" in pending["7"]
    else:
        # read in cursor order, they are batches apart: the first was written, the second is held back
        assert titles["7"] == "g" and "read earlier in this run and written" in pending["7"]
    assert result.counts.rows_rejected == 2
    assert {k: titles[k] for k in ("2", "3", "4", "5", "6", "8")} == dict(zip("234568", "bcdefh", strict=True))
    # The county removes the extra rows: the next run writes the one left and resolves the rejects.
    with source.begin() as conn:
        conn.execute(loose.delete().where(loose.c.title.in_(["a-too", "g-again"])))
    again = _run(tmp_path)
    assert again.counts.rejects_resolved == 2
    assert _pending(tmp_path) == {}
    assert _titles(target)["1"] == "a" and _titles(target)["7"] == "g"


def test_the_tracker_finds_a_key_across_a_batch_boundary_in_key_order():
    tracker = KeyTracker([0], ["id", "title"], in_key_order=True)
    kept, found = tracker.split([(1, "a"), (2, "b")])
    assert kept == [(1, "a"), (2, "b")] and found == []
    kept, found = tracker.split([(2, "b-again"), (3, "c")])
    assert kept == [(3, "c")]
    assert [d.key for d in found] == [(2,)] and "read earlier in this run" in found[0].reason


def test_the_tracker_with_a_two_column_key():
    tracker = KeyTracker([0, 1], ["a", "b", "v"], in_key_order=False)
    kept, found = tracker.split([(1, "x", 1), (1, "y", 2), (1, "x", 3)])
    assert kept == [(1, "y", 2)]
    assert [d.key for d in found] == [(1, "x")] and "2 rows have a=1, b='x'" in found[0].reason
