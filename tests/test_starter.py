"""syncd init and syncd ddl --out, from the files the package carries."""

from __future__ import annotations

from click.testing import CliRunner

from syncd import cli, resources


def test_init_writes_config_and_mappings_that_check_accepts_once_filled(tmp_path):
    result = CliRunner().invoke(cli.cli, ["init", str(tmp_path / "start")])
    assert result.exit_code == 0, result.output
    start = tmp_path / "start"
    assert (start / "config.yaml").read_text(encoding="utf-8") == \
        resources.example_config().read_text(encoding="utf-8")
    shipped = {p.relative_to(resources.mappings_dir()) for p in resources.mappings_dir().rglob("*.yaml")}
    assert {p.relative_to(start / "mappings") for p in (start / "mappings").rglob("*.yaml")} == shipped
    assert "check --connect" in result.output
    # Filled in (SQLite databases, no password files), the folder passes check.
    config = start / "config.yaml"
    text = config.read_text(encoding="utf-8")
    text = text.replace("  password_file: /etc/syncd/source.password\n", "") \
        .replace("  password_file: /etc/syncd/target.password\n", "")
    text = text.replace('"mysql+pymysql://syncd_reader@10.0.0.5:3306/sfyf?charset=utf8mb4"', '"sqlite:///county.db"')
    text = text.replace('"oracle+oracledb://XQ410102@20.1.1.10:1521/?service_name=FEPDB"', '"sqlite:///fep.db"')
    config.write_text(text, encoding="utf-8")
    checked = CliRunner().invoke(cli.cli, ["-c", str(config), "check"])
    assert checked.exit_code == 2 and "county.db does not exist" in checked.output, checked.output
    (start / "county.db").touch()
    (start / "fep.db").touch()
    checked = CliRunner().invoke(cli.cli, ["-c", str(config), "check"])
    assert checked.exit_code == 0, checked.output


def test_init_refuses_to_overwrite_without_force(tmp_path):
    assert CliRunner().invoke(cli.cli, ["init", str(tmp_path)]).exit_code == 0
    (tmp_path / "config.yaml").write_text("# edited by the county\n", encoding="utf-8")
    again = CliRunner().invoke(cli.cli, ["init", str(tmp_path)])
    assert again.exit_code == 2
    assert "--force" in again.output
    assert (tmp_path / "config.yaml").read_text(encoding="utf-8") == "# edited by the county\n"
    assert CliRunner().invoke(cli.cli, ["init", str(tmp_path), "--force"]).exit_code == 0
    assert (tmp_path / "config.yaml").read_text(encoding="utf-8") != "# edited by the county\n"


def test_ddl_out_writes_one_file_per_dialect_and_refuses_an_unknown_one(tmp_path):
    result = CliRunner().invoke(cli.cli, ["ddl", "--out", str(tmp_path), "--dialect", "oracle"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["oracle.sql"]
    assert "VARCHAR2" in (tmp_path / "oracle.sql").read_text(encoding="utf-8")
    bad = CliRunner().invoke(cli.cli, ["ddl", "--out", str(tmp_path), "--dialect", "db2"])
    assert bad.exit_code == 2
    assert "db2" in bad.output


def test_the_cyclic_collector_is_on_while_each_command_works(tmp_path, monkeypatch):
    """`syncd demo` loads no project, `syncd status` does: both do their work with gc enabled,
    whatever the loading turned off for itself, and a loaded project's command with the youngest
    generation collected every 10 000 allocations."""
    import gc

    import pytest

    from syncd import cli, commands, demo

    seen: dict[str, bool] = {}
    real_demo, real_status = demo.run_demo, commands.status

    def watched_demo(*args, **kwargs):
        seen["demo"] = gc.isenabled()
        return real_demo(*args, **kwargs)

    def watched_status(*args, **kwargs):
        seen["status"] = gc.isenabled()
        seen["youngest"] = gc.get_threshold()[0]
        return real_status(*args, **kwargs)

    monkeypatch.setattr(demo, "run_demo", watched_demo)
    monkeypatch.setattr(commands, "status", watched_status)
    threshold = gc.get_threshold()
    try:
        with pytest.raises(SystemExit) as done:
            cli.main(["demo", "--dir", str(tmp_path / "demo"), "--rows", "5"])
        assert done.value.code == 0
        with pytest.raises(SystemExit) as done:
            cli.main(["-c", str(tmp_path / "demo" / "config.yaml"), "status"])
        assert done.value.code == 0
    finally:
        gc.enable()
        gc.set_threshold(*threshold)
    # and, once a project is loaded, the youngest generation is collected less often (cli.GC_YOUNGEST)
    assert seen == {"demo": True, "status": True, "youngest": cli.GC_YOUNGEST}


_WATCH_IMPORTS = """
import gc, json, sys

seen = {}


class Watch:
    def find_spec(self, name, path=None, target=None):
        if name in ("sqlalchemy", "pydantic", "loguru", "syncd.config", "syncd.state") and name not in seen:
            seen[name] = gc.isenabled()
        return None


sys.meta_path.insert(0, Watch())
from syncd import cli

try:
    cli.main(["-c", sys.argv[1], "status"])
except SystemExit as exc:
    code = exc.code
with open(sys.argv[2], "w", encoding="utf-8") as out:
    json.dump({"code": code, "collector_on_at_import": seen,
               "row_functions": "syncd.transform" in sys.modules, "target": "syncd.target" in sys.modules}, out)
"""


def test_status_imports_its_libraries_with_the_collector_off_and_not_the_copying_machinery(tmp_path):
    """The imports are most of a command's set-up (SQLAlchemy, pydantic, the config's models): the
    cyclic collector is off for them as for the rest of the loading, and `status` imports neither
    the target nor the row functions, which it does not use (start-up, docs/performance.md)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    import pytest

    with pytest.raises(SystemExit) as done:
        cli.main(["demo", "--dir", str(tmp_path / "demo"), "--rows", "5"])
    assert done.value.code == 0
    found = tmp_path / "found.json"
    subprocess.run([sys.executable, "-c", _WATCH_IMPORTS, str(tmp_path / "demo" / "config.yaml"), str(found)],
                   check=True, capture_output=True, timeout=120, cwd=Path(__file__).resolve().parent.parent,
                   env=os.environ)
    assert json.loads(found.read_text(encoding="utf-8")) == {
        "code": 0, "row_functions": False, "target": False,
        "collector_on_at_import": {"sqlalchemy": False, "pydantic": False, "loguru": False, "syncd.config": False,
                                   "syncd.state": False}}


def test_a_run_without_alerts_loads_no_mail_or_http_library(tmp_path):
    """smtplib and urllib.request load when an alert is sent, not with every run (start-up,
    docs/performance.md)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import pytest

    with pytest.raises(SystemExit) as done:
        cli.main(["demo", "--dir", str(tmp_path / "demo"), "--rows", "5"])
    assert done.value.code == 0
    script = ("import json, sys\nfrom syncd import cli\ntry:\n    cli.main(['-c', sys.argv[1], 'run', '--once'])\n"
              "except SystemExit as exc:\n    code = exc.code\n"
              "print(json.dumps([code, sorted(m for m in ('smtplib', 'urllib.request', 'http.client') "
              "if m in sys.modules)]))\n")
    found = subprocess.run([sys.executable, "-c", script, str(tmp_path / "demo" / "config.yaml")], check=True,
                           capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parent.parent,
                           env=os.environ)
    assert found.stdout.splitlines()[-1] == "[0, []]"
