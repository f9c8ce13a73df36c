"""oracle_client: python-oracledb's thick mode for Oracle 11g, chosen once a process. No Oracle
server runs here: the test checks that the setting reaches the driver's init_oracle_client."""

from __future__ import annotations

import oracledb
import pytest

from syncd import engines
from syncd.config import load_config
from syncd.dialects.oracle import OracleDialect
from syncd.errors import ConfigError, FatalSyncError


@pytest.fixture
def calls(monkeypatch):
    seen: list[str] = []
    monkeypatch.setattr(oracledb, "init_oracle_client", lambda lib_dir=None, **kw: seen.append(lib_dir))
    monkeypatch.setattr(OracleDialect, "thick_client", None)
    return seen


def _config(tmp_path, client: str, target: str = "oracle+oracledb://XQ@20.1.1.10:1521/?service_name=FEP"):
    (tmp_path / "mappings").mkdir(exist_ok=True)
    path = tmp_path / "config.yaml"
    path.write_text(f'source: {{url: "sqlite:///s.db"}}\ntarget: {{url: "{target}"}}\noracle_client: {client}\n',
                    encoding="utf-8")
    return path


def test_the_instant_client_folder_reaches_the_driver_once(tmp_path, calls):
    client = tmp_path / "instantclient_11_2"
    client.mkdir()
    config = load_config(_config(tmp_path, "instantclient_11_2"))
    assert config.oracle_client == client
    engines.prepare_drivers(config)
    engines.prepare_drivers(config)          # a reload in the same process: nothing more
    assert calls == [str(client)]


def test_another_folder_in_the_same_process_asks_for_a_restart(tmp_path, calls):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    engines.prepare_drivers(load_config(_config(tmp_path, "a")))
    with pytest.raises(FatalSyncError, match="restart syncd"):
        engines.prepare_drivers(load_config(_config(tmp_path, "b")))


def test_without_an_oracle_database_the_setting_loads_nothing(tmp_path, calls):
    (tmp_path / "ic").mkdir()
    engines.prepare_drivers(load_config(_config(tmp_path, "ic", target="sqlite:///t.db")))
    assert calls == []


def test_a_missing_folder_is_named_with_its_line(tmp_path, calls):
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, "/opt/oracle/nowhere"))
    [problem] = caught.value.problems
    assert (problem.line, problem.where) == (3, "oracle_client")
    assert "/opt/oracle/nowhere" in problem.message
