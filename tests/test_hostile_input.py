"""Inputs built to hurt: nothing is quadratic in the size of an input, nothing hangs.

Each case runs under a wall-clock limit far above what a linear pass needs and far below what a
quadratic one takes on a megabyte.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from loguru import logger

from syncd import cli, logs, yamlfile

MB = 1_000_000

BILLION_LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{n}: &{n} [{', '.join(['*' + p] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi", strict=True)]) + "\n"


def _timed(limit: float):
    class Timer:
        def __enter__(self):
            self.start = time.perf_counter()
            return self

        def __exit__(self, *exc):
            self.seconds = time.perf_counter() - self.start
            assert self.seconds < limit, f"took {self.seconds:.2f}s (limit {limit}s)"
    return Timer()


def test_nested_aliases_are_refused_with_file_and_line(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text(BILLION_LAUGHS, encoding="utf-8")
    assert len(BILLION_LAUGHS) < 600
    with _timed(2):
        data, problems = yamlfile.load(path)
    assert data is None
    [problem] = problems
    assert (problem.file, problem.line) == (str(path), 1)
    assert "aliases" in problem.message


def test_a_few_aliases_still_work(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("base: &base {a: 1, b: 2}\nother:\n  <<: *base\n  c: 3\n", encoding="utf-8")
    data, problems = yamlfile.load(path)
    assert problems == []
    assert data["other"] == {"a": 1, "b": 2, "c": 3}


def test_the_c_parser_is_used_where_pyyaml_has_it_and_keeps_lines_and_the_alias_limit(tmp_path):
    import yaml

    if hasattr(yaml, "CSafeLoader"):
        assert issubclass(yamlfile._Loader, yaml.CSafeLoader)
    path = tmp_path / "lines.yaml"
    path.write_text("a: 1\nb:\n  - x\n  - {c: 2,\n     d: 3}\n", encoding="utf-8")
    data, problems = yamlfile.load(path)
    assert problems == [] and data.line_of("b") == 2 and data["b"].line == 3
    assert data["b"][1].line == 4 and data["b"][1].line_of("d") == 5


def test_a_control_character_is_a_problem_with_its_line(tmp_path):
    path = tmp_path / "bell.yaml"
    path.write_text("a: 1\nb: x\x07y\n", encoding="utf-8")
    data, [problem] = yamlfile.load(path)
    assert data is None and problem.line == 2 and "#x0007 is a control character" in problem.message


def test_a_key_written_twice_in_one_block_is_a_problem_with_both_lines(tmp_path):
    """YAML keeps the second of two equal keys; the first column a DBA mapped would vanish silently."""
    path = tmp_path / "twice.yaml"
    path.write_text("name: a\ncolumns:\n  title: {from: bt}\n  code: {from: dm}\n  title: {from: mc}\n",
                    encoding="utf-8")
    data, [problem] = yamlfile.load(path)
    assert data is None and problem.line == 5
    assert "'title' is written twice in one block (lines 3 and 5)" in problem.message
    # the same key in two blocks, and a key merged in with <<: and overridden, are fine
    path.write_text("a: {x: 1}\nb: {x: 2}\nbase: &base {p: 1, q: 2}\nc:\n  <<: *base\n  p: 3\n", encoding="utf-8")
    data, problems = yamlfile.load(path)
    assert problems == [] and data["c"] == {"p": 3, "q": 2} and data["b"] == {"x": 2}


def test_many_distinct_keys_load_in_linear_time(tmp_path):
    path = tmp_path / "wide.yaml"
    path.write_text("".join(f"k{i}: {i}\n" for i in range(100_000)), encoding="utf-8")
    with _timed(10):
        data, problems = yamlfile.load(path)
    assert problems == [] and len(data) == 100_000


def test_check_on_a_mapping_file_of_nested_aliases_exits_2_naming_it(tmp_path):
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "laughs.yaml").write_text(BILLION_LAUGHS, encoding="utf-8")
    (tmp_path / "config.yaml").write_text('source: {url: "sqlite:///s.db"}\ntarget: {url: "sqlite:///t.db"}\n',
                                          encoding="utf-8")
    with _timed(10):
        result = CliRunner().invoke(cli.cli, ["-c", str(tmp_path / "config.yaml"), "check"])
    assert result.exit_code == 2, result.output
    assert "laughs.yaml, line 1" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("text", [
    "a" * MB,                                   # one long word
    "://a:" * (MB // 5),                        # many URL starts that never finish
    "x://" + "b" * MB + ":pw@",                 # a user name a megabyte long
    "://:" + ("b" * 255 + "://:") * 4000,       # passwords at the length bound, back to back
    ("mysql+pymysql://u:" + "p" * 250 + "@h ") * 4000,
])
def test_the_redactor_is_linear(text):
    redact = logs._Redactor(["hunter22"])
    with _timed(1.0):
        redact(text)


def test_the_redactor_still_masks_url_passwords_and_secrets():
    redact = logs._Redactor(["hunter22"])
    assert redact("connect to mysql+pymysql://syncd:hunter22@127.0.0.1/db failed; pw hunter22") == \
        "connect to mysql+pymysql://syncd:***@127.0.0.1/db failed; pw ***"
    assert redact("postgresql://user:p%40ss@host/db") == "postgresql://user:***@host/db"


def test_a_megabyte_log_line_is_cut_with_its_length_and_its_secrets_masked(tmp_path):
    logs.setup(level="INFO", log_dir=tmp_path, secrets=["hunter22"])
    try:
        with _timed(2):
            logger.warning("reject reason: {}", "hunter22 " + "x" * MB)
    finally:
        logger.remove()
    text = (tmp_path / "syncd.log").read_text(encoding="utf-8")
    assert "hunter22" not in text
    # what was cut is the redacted line: "reject reason: *** " and the megabyte
    assert f"(cut: {len('reject reason: *** ') + MB} characters in all)" in text
    assert len(text) < 2 * logs.MAX_LINE


def test_cut_keeps_short_text():
    assert logs.cut("short") == "short"
    assert logs.cut("x" * 20, limit=10) == "x" * 10 + "… (cut: 20 characters in all)"


def test_config_example_loads(tmp_path):
    assert yamlfile.load(Path(__file__).resolve().parent.parent / "config.example.yaml")[1] == []


MAPPING = """\
name: {name}
source: {{table: {table}, key: id, cursor: update_time}}
target: {{table: dp_record, key: id}}
columns:
  id: {{from: id}}
  {column}: {{from: {source_column}}}
"""


def _load_problems(tmp_path: Path, **given: str) -> list[str]:
    from syncd.config import load_config
    from syncd.errors import MappingError
    from syncd.mapping import load_mappings

    (tmp_path / "mappings").mkdir()
    values = {"name": "record", "table": "src_record", "column": "title", "source_column": "title", **given}
    (tmp_path / "mappings" / "record.yaml").write_text(MAPPING.format(**values), encoding="utf-8")
    (tmp_path / "config.yaml").write_text('source: {url: "sqlite:///s.db"}\ntarget: {url: "sqlite:///t.db"}\n',
                                          encoding="utf-8")
    with _timed(5):
        try:
            load_mappings(load_config(tmp_path / "config.yaml"))
        except MappingError as exc:
            return [str(p) for p in exc.problems]
    return []


@pytest.mark.parametrize(("given", "line", "words"), [
    ({"name": "n" * MB}, 1, "a mapping's name is 1 to 64 letters"),
    ({"name": "n" * 65}, 1, "a mapping's name is 1 to 64 letters"),
    ({"name": "'风险 清单'"}, 1, "a mapping's name is 1 to 64 letters"),
    ({"table": "t" * MB}, 2, "longer than 128 characters"),
    ({"source_column": "c" * MB}, 6, "longer than 128 characters"),
    ({"column": "c" * 1000}, 6, "longer than 128 characters"),      # YAML keys stop at 1024 characters
    ({"column": '"ti\\ttle"'}, 6, "control character ('\\t' at position 3)"),
])
def test_long_or_strange_names_are_refused_on_load_with_file_and_line(tmp_path, given, line, words):
    problems = _load_problems(tmp_path, **given)
    assert len(problems) == 1, problems
    [problem] = problems
    assert problem.startswith(f"{tmp_path / 'mappings' / 'record.yaml'}, line {line}")
    assert words in problem
    assert len(problem) < 600                       # the megabyte is not quoted back


def test_names_within_the_limits_load(tmp_path):
    assert _load_problems(tmp_path, name="risk_unit-2", table="t" * 128, column="风险等级") == []


def test_a_megabyte_mapping_name_is_refused_by_check(tmp_path):
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "record.yaml").write_text(
        MAPPING.format(name="n" * MB, table="src_record", column="title", source_column="title"), encoding="utf-8")
    (tmp_path / "config.yaml").write_text('source: {url: "sqlite:///s.db"}\ntarget: {url: "sqlite:///t.db"}\n',
                                          encoding="utf-8")
    with _timed(10):
        result = CliRunner().invoke(cli.cli, ["-c", str(tmp_path / "config.yaml"), "check"])
    assert result.exit_code == 2, result.output[:2000]
    assert "record.yaml, line 1" in result.output and "(1000000 characters)" in result.output
    assert len(result.output) < 2000


def _project_with_files(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "mappings").mkdir()
    for name, text in files.items():
        (tmp_path / "mappings" / name).write_text(text, encoding="utf-8")
    (tmp_path / "config.yaml").write_text('source: {url: "sqlite:///s.db"}\ntarget: {url: "sqlite:///t.db"}\n',
                                          encoding="utf-8")
    return tmp_path / "config.yaml"


def test_a_mapping_named_after_its_file_may_hold_dots_and_chinese_characters(tmp_path):
    """Mapping files from before the name limits, without ``name:``: the file name names them."""
    from syncd.config import load_config
    from syncd.mapping import load_mappings

    body = MAPPING.format(name="x", table="src_record", column="title", source_column="title").split("\n", 1)[1]
    config = _project_with_files(tmp_path, {"dp.check.yaml": body, "隐患台账.yaml": body.replace("dp_record", "dp_b")})
    assert sorted(m.name for m in load_mappings(load_config(config))) == ["dp.check", "隐患台账"]


def test_an_invalid_name_from_the_file_name_says_so_and_what_to_do(tmp_path):
    from syncd.config import load_config
    from syncd.errors import MappingError
    from syncd.mapping import load_mappings

    body = MAPPING.format(name="x", table="src_record", column="title", source_column="title").split("\n", 1)[1]
    config = _project_with_files(tmp_path, {"risk list.yaml": body})
    with pytest.raises(MappingError) as caught:
        load_mappings(load_config(config))
    [problem] = caught.value.problems
    assert problem.message.startswith("the file name risk list.yaml gives the mapping name 'risk list', which is not "
                                      "a valid mapping name (a mapping's name is 1 to 64 letters")
    assert problem.message.endswith("add `name: ...` to the file or rename the file")
    assert problem.file.endswith("risk list.yaml")


@pytest.mark.parametrize("kind", ["mariadb", "postgresql", "sqlite"])
def test_the_state_store_keeps_a_chinese_mapping_name(make_database, kind):
    import sqlalchemy as sa

    from syncd.state import StateStore
    from syncd.watermark import Watermark

    engine = sa.create_engine(make_database(kind))
    try:
        store = StateStore(engine)
        mark = Watermark(datetime(2026, 11, 29, 8, 0), (1,))
        store.set_watermark("隐患台账.v2", mark, action="set", reason="test")
        assert store.watermark("隐患台账.v2") == mark
        assert "隐患台账.v2" in store.all_watermarks()
    finally:
        engine.dispose()
