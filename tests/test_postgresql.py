"""PostgreSQL's bulk write path (COPY into a temporary table) and its fallback."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from syncd import dialects
from tests.scenario import Scenario, target_meta


def test_copy_path_is_used_and_upserts(tmp_path, make_database):
    s = Scenario(tmp_path, make_database("sqlite"), make_database("postgresql"))
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 101))
    s.run()
    s.update(range(1, 51), title="再次", update_time=s.now())
    s.run()
    assert s.actual() == s.expected()
    with s.target.connect() as conn:
        upsert = dialects.get("postgresql").prepare(conn, dialects.get("postgresql").upsert(
            conn.dialect, "dp_record", None, ["id", "title"], ["id"], ["title"]))
    assert upsert.staging and upsert.staging[1].startswith("COPY syncd_stage_")
    s.dispose()


def test_without_the_temp_privilege_it_falls_back_to_executemany(tmp_path, make_database):
    admin_url = make_database("postgresql")
    database = make_url(admin_url).database
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    target_meta.create_all(admin)
    with admin.connect() as conn:
        conn.execute(sa.text(f'REVOKE TEMPORARY ON DATABASE "{database}" FROM PUBLIC'))
        conn.execute(sa.text("DROP ROLE IF EXISTS syncd_notemp"))
        conn.execute(sa.text("CREATE ROLE syncd_notemp LOGIN PASSWORD 'notemp-pw'"))
        conn.execute(sa.text("GRANT SELECT, INSERT, UPDATE ON dp_record TO syncd_notemp"))
    limited = make_url(admin_url).set(username="syncd_notemp", password="notemp-pw")
    s = Scenario(tmp_path, make_database("sqlite"), limited.render_as_string(hide_password=False),
                 create_target=False)
    s.insert({"id": i, "update_time": s.at(i)} for i in range(1, 21))
    with s.target.connect() as conn:
        upsert = dialects.get("postgresql").prepare(conn, dialects.get("postgresql").upsert(
            conn.dialect, "dp_record", None, ["id"], ["id"], []))
    assert upsert.staging == ()
    first = s.run()
    assert not first.failed and first.results[0].counts.inserted == 20
    assert s.actual() == s.expected()
    # the executemany path counts too: the batch's keys first, then the rows the upsert wrote
    s.write_mapping(lookback="1h")
    s.update(range(1, 21), update_time=s.now() - timedelta(minutes=1))
    s.run()
    s.update([1], title="改过的")
    counts = s.run().results[0].counts
    assert (counts.rows_read, counts.inserted, counts.updated, counts.unchanged) == (20, 0, 1, 19)
    assert s.actual() == s.expected()
    s.dispose()
    with admin.connect() as conn:
        conn.execute(sa.text('REVOKE ALL ON dp_record FROM syncd_notemp'))
        conn.execute(sa.text(f'REVOKE ALL ON DATABASE "{database}" FROM syncd_notemp'))
        conn.execute(sa.text("DROP ROLE syncd_notemp"))
    admin.dispose()
