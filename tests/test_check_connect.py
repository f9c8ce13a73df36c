"""check --connect never shows a traceback: one line per database that cannot be used, and why."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from syncd import cli
from tests.scenario import Scenario


def _check(tmp_path, *args: str):
    return CliRunner().invoke(cli.cli, ["-c", str(tmp_path / "config.yaml"), "check", *args])


def _point_source_at(tmp_path, url: str) -> None:
    config = tmp_path / "config.yaml"
    lines = config.read_text(encoding="utf-8").splitlines()
    lines = [f'source: {{url: "{url}", connect_timeout: 3s}}' if line.startswith("source:") else line
             for line in lines]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def mariadb_scenario(tmp_path, make_database):
    s = Scenario(tmp_path, make_database("mariadb"), f"sqlite:///{tmp_path / 'fep.db'}")
    yield s
    s.dispose()


@pytest.mark.parametrize(("change", "words"), [
    ({"password": "wrong-password"}, "check the user and its password"),
    ({"port": 1}, "check the host and port"),
])
def test_connection_problems_are_one_line_each(tmp_path, mariadb_scenario, change, words):
    url = mariadb_scenario.source.url.set(**change).render_as_string(hide_password=False)
    _point_source_at(tmp_path, url)
    result = _check(tmp_path, "--connect")
    assert "Traceback" not in result.output
    assert result.exit_code == 2, result.output
    assert "source.url" in result.output and words in " ".join(result.output.split())
    assert "wrong-password" not in result.output


@pytest.mark.parametrize("option", ["foo=bar", "charset=nosuch"])
def test_a_bad_url_option_is_named_not_a_traceback(tmp_path, mariadb_scenario, option):
    url = str(mariadb_scenario.source.url.render_as_string(hide_password=False))
    _point_source_at(tmp_path, url + ("&" if "?" in url else "?") + option)
    result = _check(tmp_path, "--connect")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "check the options after '?' in the URL" in " ".join(result.output.split())


def test_a_postgresql_source_with_a_wrong_password(tmp_path, make_database):
    url = make_database("postgresql")
    s = Scenario(tmp_path, url, f"sqlite:///{tmp_path / 'fep.db'}")
    try:
        _point_source_at(tmp_path, url.replace("syncd-test-pw", "wrong-password"))
        result = _check(tmp_path, "--connect")
        assert result.exit_code == 2, result.output
        assert "password authentication failed" in result.output
        assert "wrong-password" not in result.output and "Traceback" not in result.output
    finally:
        s.dispose()


def test_an_empty_mapping_file_is_refused_by_plain_check(tmp_path):
    s = Scenario(tmp_path, f"sqlite:///{tmp_path / 'county.db'}", f"sqlite:///{tmp_path / 'fep.db'}")
    try:
        (tmp_path / "mappings" / "empty.yaml").write_text("", encoding="utf-8")
        result = _check(tmp_path)
        assert result.exit_code == 2, result.output
        assert "empty.yaml" in result.output and "the mapping file is empty" in result.output
    finally:
        s.dispose()


def test_a_source_that_answers_passes(tmp_path, mariadb_scenario):
    result = _check(tmp_path, "--connect")
    assert result.exit_code == 0, result.output
