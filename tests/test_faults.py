"""Network cuts between syncd and real servers, several times during one sync."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from syncd.state import runs
from tests.faultproxy import CuttingProxy
from tests.scenario import Scenario


def through(proxy_url: str, proxy: CuttingProxy) -> str:
    return make_url(proxy_url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


@pytest.mark.parametrize("kind", ["mariadb", "postgresql"])
def test_sync_survives_connections_cut_mid_transfer(tmp_path, make_database, kind):
    source_url, target_url = make_database(kind), make_database(kind)
    src, dst = make_url(source_url), make_url(target_url)
    source_proxy = CuttingProxy(src.host, src.port)
    target_proxy = CuttingProxy(dst.host, dst.port)
    try:
        s = Scenario(tmp_path, through(source_url, source_proxy), through(target_url, target_proxy),
                     batch_size=500, lookback="0s")
        s.insert({"id": i, "update_time": s.at(i // 10), "title": f"检查记录{i}" * 5} for i in range(1, 20_001))
        # cut both links several times while the sync runs
        source_proxy.bytes = target_proxy.bytes = 0
        source_proxy.cut_every(400_000, times=3)
        target_proxy.cut_every(400_000, times=3)
        report = s.run()
        source_proxy.on_bytes = target_proxy.on_bytes = None
        s.dispose()
        s.source, s.target = sa.create_engine(source_url), sa.create_engine(target_url)  # check directly
        assert not report.failed, report.failed[0].error if report.failed else ""
        assert source_proxy.cuts + target_proxy.cuts >= 4
        assert report.results[0].counts.retries >= 1
        assert s.target_count() == 20_000
        assert s.actual() == s.expected()
        with sa.create_engine(f"sqlite:///{tmp_path / 'state.db'}").connect() as conn:
            assert conn.execute(sa.select(runs.c.retries)).scalar() >= 1
        s.dispose()
    finally:
        source_proxy.close()
        target_proxy.close()
