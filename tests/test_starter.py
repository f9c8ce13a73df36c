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
    whatever the loading turned off for itself."""
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
        return real_status(*args, **kwargs)

    monkeypatch.setattr(demo, "run_demo", watched_demo)
    monkeypatch.setattr(commands, "status", watched_status)
    try:
        with pytest.raises(SystemExit) as done:
            cli.main(["demo", "--dir", str(tmp_path / "demo"), "--rows", "5"])
        assert done.value.code == 0
        with pytest.raises(SystemExit) as done:
            cli.main(["-c", str(tmp_path / "demo" / "config.yaml"), "status"])
        assert done.value.code == 0
    finally:
        gc.enable()
    assert seen == {"demo": True, "status": True}
