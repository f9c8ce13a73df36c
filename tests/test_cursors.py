"""Several cursors: a query joins the enterprise onto each record, and a change of the enterprise
(its own update time, the second cursor) re-sends its records, and only those."""

from __future__ import annotations

import textwrap
import time
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from syncd import commands
from syncd.state import StateStore

meta = sa.MetaData()
ent = sa.Table("ent", meta, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
               sa.Column("code", sa.String(20)), sa.Column("update_time", sa.DateTime, index=True))
rec = sa.Table("rec", meta, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
               sa.Column("ent_id", sa.Integer), sa.Column("title", sa.String(50)),
               sa.Column("update_time", sa.DateTime, index=True))
target_meta = sa.MetaData()
child = sa.Table("dp_child", target_meta, sa.Column("id", sa.String(20), primary_key=True),
                 sa.Column("title", sa.String(50)), sa.Column("ent_code", sa.String(20)),
                 sa.Column("update_time", sa.DateTime))

MAPPING = """\
name: child
source:
  query: >-
    SELECT r.id, r.title, r.update_time, e.code AS ent_code, e.update_time AS ent_update_time
    FROM rec r JOIN ent e ON e.id = r.ent_id
  key: id
  cursor: [update_time, ent_update_time]
target: {table: dp_child, key: [id]}
lookback: 0s
lag: 0s
batch_size: 2
columns:
  id: {from: id}
  title: {from: title}
  ent_code: {from: ent_code}
  update_time: {from: update_time}
"""


class Joined:
    def __init__(self, tmp_path, source_url: str):
        self.dir = tmp_path
        self.source = sa.create_engine(source_url)
        self.target = sa.create_engine(f"sqlite:///{tmp_path / 'fep.db'}")
        meta.drop_all(self.source)
        meta.create_all(self.source)
        target_meta.create_all(self.target)
        (tmp_path / "mappings").mkdir()
        (tmp_path / "mappings" / "child.yaml").write_text(MAPPING, encoding="utf-8")
        (tmp_path / "config.yaml").write_text(textwrap.dedent(f"""\
            source: {{url: "{source_url}"}}
            target: {{url: "sqlite:///{tmp_path / 'fep.db'}"}}
            state: {{url: "sqlite:///{tmp_path / 'state.db'}"}}
            mappings: mappings
            """), encoding="utf-8")

    def clock(self) -> datetime:
        from syncd import dialects

        with self.source.connect() as conn:
            now = conn.execute(dialects.get(self.source.dialect.name).clock_select()).one()[0]
        return now if isinstance(now, datetime) else datetime.fromisoformat(now)

    def next_second(self) -> datetime:
        """A whole second just ahead of the source clock, then wait until the clock has passed it:
        a cursor value any column type holds exactly, and that the next window reaches."""
        stamp = self.clock().replace(microsecond=0) + timedelta(seconds=1)
        while self.clock() <= stamp:
            time.sleep(0.05)
        return stamp

    def run(self):
        [result] = commands.run_once(commands.open_project(self.dir / "config.yaml")).results
        assert result.status == "ok", result.error
        return result

    def target_rows(self) -> dict[str, str]:
        with self.target.connect() as conn:
            return {r.id: r.ent_code for r in conn.execute(sa.select(child.c.id, child.c.ent_code))}

    def dispose(self) -> None:
        self.source.dispose()
        self.target.dispose()


@pytest.fixture(params=["sqlite", "mariadb", "postgresql"])
def joined(request, tmp_path, make_database):
    url = f"sqlite:///{tmp_path / 'county.db'}" if request.param == "sqlite" else make_database(request.param)
    j = Joined(tmp_path, url)
    yield j
    j.dispose()


def test_a_change_of_the_joined_table_resends_its_children_and_only_those(joined):
    j = joined
    old = j.clock().replace(microsecond=0) - timedelta(hours=1)
    with j.source.begin() as conn:
        conn.execute(ent.insert(), [{"id": e, "code": f"E{e}", "update_time": old} for e in (1, 2, 3)])
        conn.execute(rec.insert(), [{"id": i, "ent_id": 1 + i % 3, "title": f"r{i}",
                                     "update_time": old + timedelta(seconds=i)} for i in range(1, 11)])
    first = j.run()
    assert first.counts.rows_read == 10
    assert j.target_rows() == {str(i): f"E{1 + i % 3}" for i in range(1, 11)}
    assert j.run().counts.rows_read == 0
    # The enterprise of records 1, 4, 7, 10 (ent 2) gets a new code; its records do not change.
    stamp = j.next_second()
    with j.source.begin() as conn:
        conn.execute(ent.update().where(ent.c.id == 2).values(code="NEW", update_time=stamp))
    j.next_second()
    second = j.run()
    assert second.counts.rows_read == 4
    assert j.target_rows() == {str(i): "NEW" if 1 + i % 3 == 2 else f"E{1 + i % 3}" for i in range(1, 11)}
    assert "ent_update_time" in second.window
    assert j.run().counts.rows_read == 0
    store = StateStore(sa.create_engine(f"sqlite:///{j.dir / 'state.db'}"))
    try:
        mark = store.watermark("child")
    finally:
        store.engine.dispose()
    assert mark is not None and mark.position("ent_update_time") is not None
    # A record's own change still goes by the first cursor.
    stamp = j.next_second()
    with j.source.begin() as conn:
        conn.execute(rec.update().where(rec.c.id == 3).values(title="changed", update_time=stamp))
    j.next_second()
    assert j.run().counts.rows_read == 1


def test_a_cursor_added_later_reads_every_row_once_then_only_changes(tmp_path):
    j = Joined(tmp_path, f"sqlite:///{tmp_path / 'county.db'}")
    try:
        mapping = tmp_path / "mappings" / "child.yaml"
        mapping.write_text(MAPPING.replace("cursor: [update_time, ent_update_time]", "cursor: update_time"),
                           encoding="utf-8")
        old = j.clock().replace(microsecond=0) - timedelta(hours=1)
        with j.source.begin() as conn:
            conn.execute(ent.insert(), [{"id": 1, "code": "E1", "update_time": old}])
            conn.execute(rec.insert(), [{"id": i, "ent_id": 1, "title": f"r{i}", "update_time": old}
                                        for i in range(1, 6)])
        assert j.run().counts.rows_read == 5
        mapping.write_text(MAPPING, encoding="utf-8")
        added = j.run()
        assert added.counts.rows_read == 5          # the new cursor has no position: everything, once
        assert j.run().counts.rows_read == 0
    finally:
        j.dispose()


def test_a_cursor_list_must_name_different_columns(tmp_path):
    j = Joined(tmp_path, f"sqlite:///{tmp_path / 'county.db'}")
    try:
        (tmp_path / "mappings" / "child.yaml").write_text(
            MAPPING.replace("cursor: [update_time, ent_update_time]", "cursor: [update_time, update_time]"),
            encoding="utf-8")
        with pytest.raises(Exception, match="different column names"):
            commands.open_project(tmp_path / "config.yaml")
    finally:
        j.dispose()
