"""Config and mapping files: every problem reported at once, each with file, line and key."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from syncd import cli, commands
from syncd.config import load_config
from syncd.errors import ConfigError, MappingError

REPO = Path(__file__).resolve().parent.parent

GOOD = """\
name: record
source: {table: src, key: [id], cursor: update_time}
target: {table: dst, key: [id]}
columns:
  id: {from: id}
  status: {from: jg, map: check_status}
"""


def project_dir(tmp_path: Path, mappings: dict[str, str], config_extra: str = "") -> Path:
    (tmp_path / "mappings" / "codes").mkdir(parents=True)
    (tmp_path / "mappings" / "codes" / "check_status.yaml").write_text(
        "codes:\n  - {code: '0', label: 正常}\n", encoding="utf-8")
    for name, text in mappings.items():
        (tmp_path / "mappings" / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text('source: {url: "sqlite:///s.db"}\ntarget: {url: "sqlite:///t.db"}\n' + config_extra,
                      encoding="utf-8")
    return config


def problems(exc: ConfigError) -> list[tuple[str, int | None, str]]:
    return [(Path(p.file).name, p.line, p.where) for p in exc.problems]


def test_a_good_project_loads(tmp_path):
    project = commands.open_project(project_dir(tmp_path, {"record": GOOD}))
    assert [m.name for m in project.mappings] == ["record"]
    assert project.mappings[0].batch_size == 2000


def test_every_problem_in_every_file_at_once_with_line_and_key(tmp_path):
    config = project_dir(tmp_path, {
        "a": GOOD.replace("name: record", "name: a").replace("  id: {from: id}", "  id: {form: id}"),
        "b": GOOD.replace("name: record", "name: b").replace("cursor: update_time", "cursr: update_time"),
        "c": GOOD.replace("name: record", "name: c").replace("map: check_status", "map: no_such_list"),
    })
    with pytest.raises(MappingError) as caught:
        commands.open_project(config)
    found = problems(caught.value)
    assert ("a.yaml", 5, "columns.id") in found          # no origin: 'form' is a typo
    assert ("b.yaml", 2, "source.cursor") in found        # required key missing
    assert ("b.yaml", 2, "source.cursr") in found         # unknown key named
    assert ("c.yaml", 6, "columns.status.map") in found
    text = str(caught.value)
    assert "unknown key 'form'" in text and "unknown key 'cursr'" in text
    assert "code list 'no_such_list' not found" in text


def test_dependency_cycle_and_unknown_dependency(tmp_path):
    config = project_dir(tmp_path, {
        "a": GOOD.replace("name: record", "name: a\ndepends_on: [b]"),
        "b": GOOD.replace("name: record", "name: b\ndepends_on: [a, ghost]"),
    })
    with pytest.raises(MappingError) as caught:
        commands.open_project(config)
    text = str(caught.value)
    assert "depends on unknown mapping 'ghost'" in text
    assert "cycle: a -> b -> a" in text


def test_dependency_order(tmp_path):
    config = project_dir(tmp_path, {
        "child": GOOD.replace("name: record", "name: child\ndepends_on: [parent]"),
        "parent": GOOD.replace("name: record", "name: parent"),
        "aaa": GOOD.replace("name: record", "name: aaa\ndepends_on: [child]"),
    })
    assert [m.name for m in commands.open_project(config).mappings] == ["parent", "child", "aaa"]


def test_undefined_variable_and_bad_yaml(tmp_path):
    config = project_dir(tmp_path, {
        "a": GOOD + "  area: {const: \"${AREA}\"}\n",
        "b": "name: b\nsource: [unclosed\n",
    })
    with pytest.raises(MappingError) as caught:
        commands.open_project(config)
    found = problems(caught.value)
    assert ("a.yaml", 7, "columns.area.const") in found
    assert any(f == "b.yaml" and "not valid YAML" in str(p)
               for (f, _, _), p in zip(found, caught.value.problems, strict=True))


def test_a_tab_in_a_yaml_file_is_named_with_what_to_do(tmp_path):
    config = project_dir(tmp_path, {"a": GOOD.replace("  id: {from: id}", "\tid: {from: id}", 1)})
    with pytest.raises(MappingError) as caught:
        commands.open_project(config)
    assert any(p.file.endswith("a.yaml") and p.line == 5 and "a tab character" in p.message
               and "replace the tab by spaces" in p.message for p in caught.value.problems), caught.value.problems


def test_undefined_variable_in_the_config_file_itself(tmp_path, monkeypatch):
    monkeypatch.delenv("TARGET_DIR", raising=False)
    config = project_dir(tmp_path, {"a": GOOD})
    config.write_text('source: {url: "sqlite:///s.db"}\ntarget: {url: "sqlite:///${TARGET_DIR}/t.db"}\n',
                      encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert ("config.yaml", 2, "target.url") in problems(caught.value)
    assert "${TARGET_DIR} is not defined" in str(caught.value)
    result = CliRunner().invoke(cli.cli, ["-c", str(config), "check"])
    assert result.exit_code == 2 and "TARGET_DIR" in result.output


def test_config_variables_come_from_vars_then_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TARGET_DIR", "from-env")
    monkeypatch.setenv("SOURCE_DIR", "from-env")
    config = project_dir(tmp_path, {"a": GOOD})
    config.write_text('source: {url: "sqlite:///${SOURCE_DIR}/s.db"}\ntarget: {url: "sqlite:///${TARGET_DIR}/t.db"}\n'
                      'vars: {TARGET_DIR: from-vars}\n', encoding="utf-8")
    loaded = load_config(config)
    assert loaded.target.url.endswith("/from-vars/t.db") and loaded.source.url.endswith("/from-env/s.db")


def test_variables_come_from_config_vars(tmp_path):
    config = project_dir(tmp_path, {"a": GOOD + "  area: {const: \"${AREA}\"}\n"}, "vars: {AREA: '410102'}\n")
    assert commands.open_project(config).mappings[0].columns["area"].const == "410102"


def test_rules_and_parents_must_name_mapped_columns(tmp_path):
    config = project_dir(tmp_path, {"a": GOOD + textwrap.dedent("""\
        rules:
          - when: {state: "9"}
            require: [acceptor]
        parents:
          - {columns: [task_id], table: dp_task}
        """)})
    with pytest.raises(MappingError) as caught:
        commands.open_project(config)
    found = problems(caught.value)
    assert ("a.yaml", 8, "rules.0.when") in found
    assert ("a.yaml", 9, "rules.0.require") in found
    assert ("a.yaml", 11, "parents.0.columns") in found


def test_config_problems_name_the_key(tmp_path):
    config = project_dir(tmp_path, {"a": GOOD}, textwrap.dedent("""\
        defaults: {lookback: soon, batch_size: 0}
        state: {password_file: missing.pw}
        """))
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    found = problems(caught.value)
    assert ("config.yaml", 3, "defaults.lookback") in found
    assert ("config.yaml", 3, "defaults.batch_size") in found
    assert ("config.yaml", 4, "state.password_file") in found


def test_password_file_supplies_the_password(tmp_path):
    config = project_dir(tmp_path, {"a": GOOD})
    (tmp_path / "pw").write_text("s3cret-Pw\n", encoding="utf-8")
    config.write_text('source: {url: "mysql+pymysql://reader@db/county", password_file: pw}\n'
                      'target: {url: "sqlite:///t.db"}\n', encoding="utf-8")
    loaded = load_config(config)
    assert loaded.source.sqlalchemy_url().password == "s3cret-Pw"
    assert "s3cret" not in loaded.source.display_url()


def test_a_password_file_not_in_utf8_is_a_config_problem_and_a_bom_is_dropped(tmp_path):
    """A password saved in GBK by a Chinese editor: exit 2 naming the file, line and key, never a
    traceback (nor the bytes); one saved by Windows Notepad with a byte-order mark reads without it."""
    config = project_dir(tmp_path, {"a": GOOD})
    (tmp_path / "gbk.pw").write_bytes("密码S3cret\n".encode("gbk"))
    (tmp_path / "bom.pw").write_bytes("\ufeffs3cret-Pw\r\n".encode("utf-8"))
    config.write_text('source: {url: "mysql+pymysql://reader:Inline9Pw@db/county"}\n'
                      'target: {url: "mysql+pymysql://fep@fep/fep", password_file: gbk.pw}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert ("config.yaml", 2, "target.password_file") in problems(caught.value)
    assert "not UTF-8 text" in str(caught.value)
    result = CliRunner().invoke(cli.cli, ["-c", str(config), "status"])
    assert result.exit_code == 2, result.output
    assert "not UTF-8 text" in result.output and "Traceback" not in result.output
    assert "Inline9Pw" not in result.output and "S3cret" not in result.output

    config.write_text('source: {url: "mysql+pymysql://reader@db/county", password_file: bom.pw}\n'
                      'target: {url: "sqlite:///t.db"}\n', encoding="utf-8")
    assert load_config(config).source.sqlalchemy_url().password == "s3cret-Pw"


def test_an_at_sign_left_in_a_urls_password_is_a_problem_that_shows_no_part_of_it(tmp_path):
    """SQLAlchemy ends a password at its first @: the rest would be taken for the host name, and
    shown as the host in every message. The config names the key and says how to write it."""
    config = project_dir(tmp_path, {"a": GOOD})
    config.write_text('source: {url: "sqlite:///c.db"}\n'
                      'target: {url: "mysql+pymysql://syncd:Admin@S3cret99@127.0.0.1:3306/fep"}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert ("config.yaml", 2, "target.url") in problems(caught.value)
    assert "%40" in str(caught.value) and "S3cret99" not in str(caught.value)
    config.write_text('source: {url: "sqlite:///c.db"}\n'
                      'target: {url: "mysql+pymysql://syncd:Admin%40S3cret99@127.0.0.1:3306/fep"}\n', encoding="utf-8")
    assert load_config(config).target.sqlalchemy_url().password == "Admin@S3cret99"


def test_an_unexpected_error_while_the_project_loads_shows_no_variables(tmp_path):
    """Before logging is set up, loguru's own handler would print the values of the variables in
    a traceback (a URL with its password among them): the command line replaces it first."""
    import subprocess
    import sys

    code = textwrap.dedent("""\
        import sys
        from syncd import cli, commands

        def open_project(*args, **kwargs):
            url = "mysql+pymysql://reader:Inline9Pw@db/county"
            raise RuntimeError("a bug while loading", len(url))

        commands.open_project = open_project
        cli.main(["-c", sys.argv[1], "status"])
        """)
    config = project_dir(tmp_path, {"a": GOOD})
    script = tmp_path / "load.py"             # a file: loguru shows variables only where it reads the source
    script.write_text(code, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(config)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "a bug while loading" in done.stderr
    assert "Inline9Pw" not in done.stderr + done.stdout


def test_config_search_order(tmp_path, monkeypatch):
    from syncd.config import find_config

    assert find_config("x.yaml") == Path("x.yaml")
    assert find_config(None, {"SYNCD_CONFIG": "/etc/other.yaml"}) == Path("/etc/other.yaml")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text("", encoding="utf-8")
    assert find_config(None, {}) == Path("config.yaml")


def test_example_config_documents_valid_keys(tmp_path):
    shutil.copy(REPO / "config.example.yaml", tmp_path / "config.yaml")
    text = (tmp_path / "config.yaml").read_text(encoding="utf-8")
    text = text.replace("/etc/syncd/", str(tmp_path) + "/")
    (tmp_path / "config.yaml").write_text(text, encoding="utf-8")
    for name in ("source.password", "target.password"):
        (tmp_path / name).write_text("pw", encoding="utf-8")
    (tmp_path / "mappings").mkdir()
    config = load_config(tmp_path / "config.yaml")
    assert config.vars["AREA_CODE"] == "410102"
    # its schedules name the shipped mappings and parse
    from syncd import schedule
    from syncd.mapping import load_mappings

    shipped = config.model_copy(update={"mappings": REPO / "mappings"})
    jobs = schedule.plan_jobs(shipped, load_mappings(shipped))
    assert {j.schedule for j in jobs} >= {"*/10 * * * *", "30 1 * * *", "10m"}


def test_cli_exit_code_2_and_every_problem(tmp_path):
    config = project_dir(tmp_path, {"a": GOOD.replace("cursor: update_time", "cursr: update_time")})
    result = CliRunner().invoke(cli.cli, ["-c", str(config), "check"])
    assert result.exit_code == 2
    assert "a.yaml, line 2 [source.cursr]: unknown key 'cursr'" in result.output
    assert "Traceback" not in result.output


def test_cli_missing_config_is_exit_code_2(tmp_path):
    result = CliRunner().invoke(cli.cli, ["-c", str(tmp_path / "nope.yaml"), "status"])
    assert result.exit_code == 2 and "cannot read the file" in result.output


def test_every_cli_command_has_help():
    for name, command in cli.cli.commands.items():
        assert command.help, f"syncd {name} has no help text"
        assert CliRunner().invoke(cli.cli, [name, "--help"]).exit_code == 0


def test_check_connect_names_missing_tables_and_columns(tmp_path):
    import sqlalchemy as sa

    config = project_dir(tmp_path, {
        "record": GOOD,
        "other": GOOD.replace("name: record", "name: other").replace("table: dst", "table: no_such_table"),
    })
    source = sa.create_engine(f"sqlite:///{tmp_path / 's.db'}")
    target = sa.create_engine(f"sqlite:///{tmp_path / 't.db'}")
    with source.begin() as conn:
        conn.execute(sa.text("CREATE TABLE src (id INTEGER PRIMARY KEY, update_time TEXT)"))  # no jg column
    with target.begin() as conn:
        conn.execute(sa.text("CREATE TABLE dst (id TEXT PRIMARY KEY, status TEXT, extra TEXT NOT NULL)"))
    source.dispose()
    target.dispose()
    project = commands.open_project(config)
    assert commands.check(project)  # statically fine
    with pytest.raises(MappingError) as caught:
        commands.check(project, connect_databases=True)
    text = str(caught.value)
    assert "other.yaml" in text and "target table no_such_table does not exist" in text
    assert "record.yaml" in text and "NOT NULL but the mapping does not fill them" in text
    assert "the source query fails" in text and "jg" in text
    # a run records the same problem against the mapping instead of stopping the others
    report = commands.run_once(project)
    assert {r.mapping for r in report.failed} == {"other", "record"}
    assert "no_such_table" in [r for r in report.failed if r.mapping == "other"][0].error


@pytest.mark.parametrize(("url", "words"), [
    ("nosuchdb://u@h/db", "does not support the database kind 'nosuchdb'"),
    ("mysql+nosuchdriver://u@h/db", "cannot be loaded"),
])
def test_check_refuses_a_url_whose_database_kind_or_driver_is_unknown(tmp_path, url, words):
    (tmp_path / "mappings").mkdir()
    (tmp_path / "config.yaml").write_text(f'source: {{url: "{url}"}}\ntarget: {{url: "sqlite:///t.db"}}\n',
                                          encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "config.yaml")
    [problem] = caught.value.problems
    assert (problem.line, problem.where) == (1, "source.url")
    assert words in problem.message
