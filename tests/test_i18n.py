"""Messages in Simplified Chinese or English: the catalog is complete and current, no message
escapes it, placeholders match, the language is chosen as documented, and machine-readable
output is the same in both languages."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from syncd import i18n

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "syncd"


def _catalog_tool():
    spec = importlib.util.spec_from_file_location("catalog_tool", REPO / "scripts" / "catalog.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tool():
    pytest.importorskip("babel")
    return _catalog_tool()


@pytest.fixture(scope="module")
def catalog(tool):
    return tool.read()


# --- the catalog -------------------------------------------------------------------------------

def test_every_message_in_the_code_is_in_the_po_file(tool, catalog):
    """Extracted now with Babel (the code, the CLI's help, click's words) = what the .po holds."""
    extracted = {m.id for m in tool.extract() if m.id}
    held = {m.id for m in catalog if m.id}
    missing = sorted(map(str, extracted - held))
    assert not missing, f"not in the catalog (run python scripts/catalog.py, then translate): {missing[:20]}"
    gone = sorted(map(str, held - extracted))
    assert not gone, f"in the catalog but no longer in the code (run python scripts/catalog.py): {gone[:20]}"


def test_every_message_has_a_chinese_translation_and_none_is_fuzzy(catalog):
    untranslated = [m.id for m in catalog if m.id and not all(m.string if isinstance(m.string, tuple)
                                                               else [m.string])]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not untranslated, f"{len(untranslated)} message(s) without a translation: {untranslated[:20]}"
    assert not fuzzy, f"fuzzy translations: {fuzzy[:20]}"
    assert len(catalog) > 300


def test_the_compiled_mo_is_the_po_compiled(tool, catalog):
    """The .mo shipped in the wheel is compiled from the committed .po, not an older one."""
    shipped = tool.messages_of_mo(tool.MO.read_bytes())
    assert shipped == tool.messages_of_mo(tool.mo_bytes(catalog)), "syncd.mo is stale: run python scripts/catalog.py"
    assert len(shipped) > 300


_FIELDS = re.compile(r"\{(\w*)(?:![rsa])?(?::[^{}]*)?\}")


def _fields(text: str) -> list[str]:
    return sorted(_FIELDS.findall(text.replace("{{", "").replace("}}", "")))


def test_every_translation_has_the_placeholders_of_its_english(catalog):
    wrong = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            if text and _fields(text) != _fields(ids[-1]) and _fields(text) != _fields(ids[0]):
                wrong.append((ids[0], text))
        if "%" in ids[0] and re.search(r"%\(?\w*\)?[sd]", ids[0]):
            for text in strings:
                if sorted(re.findall(r"%\(?\w*\)?[sd]", text)) != sorted(re.findall(r"%\(?\w*\)?[sd]", ids[0])):
                    wrong.append((ids[0], text))
    assert not wrong, f"placeholders differ: {wrong[:10]}"


def test_the_wheel_carries_the_catalog():
    import configparser

    setup = configparser.ConfigParser()
    setup.read(REPO / "setup.cfg")
    assert "locale/*/LC_MESSAGES/*.mo" in setup["options.package_data"]["syncd"]
    assert (PACKAGE / "locale" / "zh_CN" / "LC_MESSAGES" / "syncd.mo").is_file()


# --- no message outside the catalog -------------------------------------------------------------

#: Error classes whose message reaches a person.
ERRORS = {"SyncdError", "ConfigError", "MappingError", "TransientSyncError", "FatalSyncError", "DataError",
          "LockedError", "ValueError", "ClickException", "BadParameter", "UsageError"}
LOG_LEVELS = {"info", "warning", "error", "exception", "critical", "success"}
#: rich markup ([red], [/red]) and placeholders: what is left must hold no words
_MARKUP = re.compile(r"\[/?[a-z ]*\]")


def _has_words(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(re.search(r"[A-Za-z]{2,}", _MARKUP.sub("", node.value)))
    if isinstance(node, ast.JoinedStr):
        return any(_has_words(v) for v in node.values if isinstance(v, ast.Constant))
    if isinstance(node, ast.IfExp):
        return _has_words(node.body) or _has_words(node.orelse)
    if isinstance(node, ast.BinOp):
        return _has_words(node.left) or _has_words(node.right)
    return False


def _name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def unwrapped_messages(source: str, *, cli: bool) -> list[tuple[int, str]]:
    """(line, what) of each message literal that is not wrapped in ``_()`` or ``N_()``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        # Babel does not look inside f-strings: a literal translated there never reaches the catalog
        if isinstance(node, ast.FormattedValue):
            found += [(inner.lineno, ast.unparse(inner)[:80]) for inner in ast.walk(node.value)
                      if isinstance(inner, ast.Call) and _name(inner) in ("_", "N_") and inner.args
                      and isinstance(inner.args[0], ast.Constant)]
        if not isinstance(node, ast.Call):
            continue
        name = _name(node)
        func = node.func
        checked: list[ast.AST] = []
        if name in ERRORS:
            checked += node.args[:2]
            checked += [k.value for k in node.keywords if k.arg in ("reason", "message")]
        elif name == "Problem" and len(node.args) >= 4:
            checked.append(node.args[3])
        elif (isinstance(func, ast.Attribute) and name in LOG_LEVELS and isinstance(func.value, (ast.Name, ast.Call))
              and (not isinstance(func.value, ast.Name) or func.value.id == "logger")):
            checked += node.args[:1]
        elif cli and name in ("print", "echo"):
            checked += node.args[:1]
        if cli:
            checked += [k.value for k in node.keywords if k.arg in ("help", "title")]
        found += [(node.lineno, ast.unparse(arg)[:80]) for arg in checked if _has_words(arg)]
    return found


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_message_escapes_the_catalog(path):
    """Messages for a person (errors, log lines, the CLI's output and help) go through _() or N_()."""
    found = unwrapped_messages(path.read_text(encoding="utf-8"), cli=path.name == "cli.py")
    assert not found, f"{path.name}: wrap these in _() (or N_() for a text kept in English): {found}"


def test_the_static_check_sees_what_it_looks_for():
    source = '''
from syncd.i18n import _
def f(x):
    logger.warning(f"lost {x}")
    logger.info(_("kept {x}").format(x=x))
    raise FatalSyncError("the table is gone")
    raise ConfigError([Problem("f", 1, "", "bad key")])
    out.print(f"[red]failed[/red] {x}")
    out.print("[green]ok[/green]")
    out.print(f"[red]{x}[/red]")
    click.echo(_("fine"))
    out.print(f"[red]{_('not extracted')}[/red]")
'''
    lines = [line for line, _what in unwrapped_messages(source, cli=True)]
    assert set(lines) == {4, 6, 7, 8, 9, 12}


def test_every_message_with_fields_is_found_again_in_its_english_text():
    """translate_stored picks the right entry for every message of the catalog, filled in: none is
    taken for a shorter one that happens to match (``{v!r} is {what}`` for ``{v!r} is not a number``)."""
    import string

    try:
        i18n.use("zh")
        wrong = []
        for msgid, msgstr in i18n.catalog("zh")._catalog.items():
            if not isinstance(msgid, str) or "{" not in msgid or "%(" in msgid:
                continue
            try:
                names = [n for _t, n, _s, _c in string.Formatter().parse(msgid) if n]
                english = i18n._plain(msgid).format(**{n: f"V{i}" for i, n in enumerate(names)})
                wanted = i18n._plain(msgstr).format(**{n: f"V{i}" for i, n in enumerate(names)})
            except (ValueError, KeyError, IndexError):
                continue   # braces of YAML, not fields: the whole text is the entry
            if names and i18n.translate_stored(english) != wanted:
                wrong.append(msgid)
        assert not wrong, wrong
    finally:
        i18n.use("en")


# --- choosing the language ----------------------------------------------------------------------

def test_the_language_is_chosen_from_option_then_config_then_locale():
    assert i18n.choose(None, None, environ={"LANG": "zh_CN.UTF-8"}) == "zh"
    assert i18n.choose(None, None, environ={"LC_MESSAGES": "zh_CN", "LANG": "en_US.UTF-8"}) == "zh"
    assert i18n.choose(None, None, environ={"LC_ALL": "C.UTF-8", "LANG": "zh_CN.UTF-8"}) == "en"
    assert i18n.choose(None, None, environ={"LC_ALL": "", "LANG": "zh"}) == "zh"
    assert i18n.choose(None, None, environ={}) == "en"
    assert i18n.choose(None, "zh", environ={"LANG": "en_US.UTF-8"}) == "zh"
    assert i18n.choose("en", "zh", environ={"LANG": "zh_CN.UTF-8"}) == "en"


def test_a_message_kept_in_english_is_translated_where_it_is_shown():
    try:
        i18n.use("zh")
        english = i18n.N_("no mapping named {name!r}").format(name="hazard")
        shown = i18n.translate_stored(english)
        assert "hazard" in shown and shown != english and re.search(r"[\u4e00-\u9fff]", shown)
        # a reason made of two messages: both parts translated, the values kept
        nested = i18n.N_("{v!r} is {out_of_range}").format(v=300, out_of_range=i18n.N_(
            "out of range: the column holds whole numbers from {low} to {high}").format(low=0, high=255))
        assert i18n.translate_stored(nested) == "300 超出范围：该列只能存放 0 到 255 之间的整数"
        # a database's own words are quoted as they are
        assert i18n.translate_stored("ORA-00942: table or view does not exist") == \
            "ORA-00942: table or view does not exist"
        i18n.use("en")
        assert i18n.translate_stored(english) == english
    finally:
        i18n.use("en")


# --- the command line, in both languages ---------------------------------------------------------

_HAN = re.compile(r"[\u4e00-\u9fff]")


def syncd(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")}
    base["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "syncd", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**base, **(env or {})})


def _broken_config(tmp_path: Path) -> Path:
    (tmp_path / "mappings").mkdir()
    config = tmp_path / "config.yaml"
    config.write_text('source: {url: "sqlite:///s.db"}\ntarget: {url: "sqlite:///t.db"}\nsorce_typo: 1\n',
                      encoding="utf-8")
    return config


def test_check_on_a_broken_config_in_chinese_names_file_and_line(tmp_path):
    config = _broken_config(tmp_path)
    done = syncd("--lang", "zh", "-c", str(config), "check", cwd=tmp_path)
    assert done.returncode == 2
    assert "config.yaml" in done.stderr and "第 3 行" in done.stderr, done.stderr
    assert "sorce_typo" in done.stderr and _HAN.search(done.stderr)
    assert "unknown key" not in done.stderr and "line 3" not in done.stderr
    english = syncd("--lang", "en", "-c", str(config), "check", cwd=tmp_path, env={"LANG": "zh_CN.UTF-8"})
    assert "line 3" in english.stderr and not _HAN.search(english.stderr), english.stderr


def test_lang_in_the_config_applies_to_its_own_problems(tmp_path):
    config = _broken_config(tmp_path)
    config.write_text(config.read_text(encoding="utf-8") + "lang: zh\n", encoding="utf-8")
    done = syncd("-c", str(config), "check", cwd=tmp_path)
    assert "第 3 行" in done.stderr, done.stderr


def test_help_in_chinese_and_english():
    zh = syncd("--lang", "zh", "--help", cwd=REPO)
    assert zh.returncode == 0
    assert "用法" in zh.stdout and "选项" in zh.stdout and "显示此帮助信息并退出" in zh.stdout, zh.stdout
    assert _HAN.search(zh.stdout.split("选项")[0])   # the description, not only click's words
    en = syncd("--help", cwd=REPO, env={"LANG": "C.UTF-8"})
    assert "Usage:" in en.stdout and not _HAN.search(en.stdout.replace("库表对接", ""))
    assert syncd("--lang", "zh", "--version", cwd=REPO).stdout.startswith("syncd，版本 ")
    usage = syncd("--lang", "zh", "run", "--no-such-option", cwd=REPO)
    assert usage.returncode == 2 and "--no-such-option" in usage.stderr and _HAN.search(usage.stderr), usage.stderr


_HELP_PAGES = """
import json, sys
import click
from syncd import cli, helptext, i18n
i18n.use(i18n.choose(sys.argv[1]))
cli._route_click_messages()
cli._localize(cli.cli)
if sys.argv[2] == "click":      # click's own layout, for comparison
    helptext.HelpFormatter.write_text = click.HelpFormatter.write_text
    helptext.HelpFormatter.write_dl = click.HelpFormatter.write_dl
    helptext.ColumnsHelp.get_short_help_str = click.Command.get_short_help_str
pages = {}


def walk(command, path, parent):
    ctx = command.context_class(command, info_name=path[-1] if path else "syncd", parent=parent)
    pages[" ".join(path)] = command.get_help(ctx)
    for name, sub in getattr(command, "commands", {}).items():
        walk(sub, [*path, name], ctx)


walk(cli.cli, [], None)
print(json.dumps(pages, ensure_ascii=False))
"""


def _help_pages(lang: str, layout: str = "columns") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")}
    done = subprocess.run([sys.executable, "-c", _HELP_PAGES, lang, layout], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={**env, "PYTHONPATH": str(REPO), "COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_every_help_page_in_chinese_fits_80_columns_and_lists_each_command_by_its_words():
    """A Chinese character takes two columns: click, counting characters, ran the Chinese help to
    twice the terminal's width and listed a command whose first sentence has no space as '...'."""
    from syncd.helptext import width

    pages = _help_pages("zh")
    assert len(pages) > 30 and all(_HAN.search(page) for page in pages.values())
    wider = [(name, line) for name, page in pages.items() for line in page.splitlines() if width(line) > 80]
    assert wider == []
    listed = pages[""].split("命令:")[1].splitlines()[1:]
    assert len(listed) > 15
    assert all(_HAN.search(line) and not line.rstrip().endswith("...") for line in listed), listed


def test_the_english_help_is_clicks_own_layout():
    assert _help_pages("en") == _help_pages("en", "click")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("i18n-demo")
    done = syncd("--lang", "en", "demo", "--dir", "demo", "--rows", "40", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder / "demo" / "config.yaml"


def test_status_follows_lang_and_the_option_wins(demo):
    zh = syncd("-c", str(demo), "status", cwd=demo.parent, env={"LANG": "zh_CN.UTF-8", "COLUMNS": "200"})
    assert zh.returncode == 0, zh.stderr
    assert "映射" in zh.stdout and "水位线" in zh.stdout, zh.stdout
    en = syncd("--lang", "en", "-c", str(demo), "status", cwd=demo.parent, env={"LANG": "zh_CN.UTF-8",
                                                                                 "COLUMNS": "200"})
    assert "mapping" in en.stdout and "watermark" in en.stdout and "映射" not in en.stdout, en.stdout


def test_health_rejects_and_history_in_chinese(demo):
    health = syncd("--lang", "zh", "-c", str(demo), "health", cwd=demo.parent)
    assert _HAN.search(health.stdout), health.stdout
    history = syncd("--lang", "zh", "-c", str(demo), "history", cwd=demo.parent, env={"COLUMNS": "200"})
    assert "映射" in history.stdout and "运行编号" in history.stdout, history.stdout
    rejects = syncd("--lang", "zh", "-c", str(demo), "rejects", "list", "--all", cwd=demo.parent, env={"COLUMNS": "200"})
    assert rejects.returncode == 0 and "原因" in rejects.stdout and "reason" not in rejects.stdout, rejects.stdout
    check = syncd("--lang", "zh", "-c", str(demo), "check", cwd=demo.parent, env={"COLUMNS": "200"})
    assert "按依赖顺序" in check.stdout and "正常" in check.stdout, check.stdout


def test_machine_readable_output_is_the_same_in_both_languages(demo):
    outputs = {}
    for lang in ("zh", "en"):
        done = syncd("--lang", lang, "-c", str(demo), "history", "--format", "json", cwd=demo.parent)
        assert done.returncode == 0, done.stderr
        outputs[lang] = json.loads(done.stdout)
        csv = syncd("--lang", lang, "-c", str(demo), "history", "--format", "csv", cwd=demo.parent)
        outputs[lang + "-csv"] = csv.stdout
    assert outputs["zh"] == outputs["en"] and outputs["zh"]
    assert outputs["zh-csv"] == outputs["en-csv"]
    assert "mapping" in outputs["zh"][0]


@pytest.mark.parametrize("text", [
    "x" * 1_000_000,
    ("the column a: " + "y" * 1000) * 1000,
    "mapping a: " + ": " * 500_000,
    (": " * 1999),
    ("a: " * 1333),
])
def test_a_stored_text_of_any_length_is_translated_in_linear_time(text):
    """A run's error can hold a megabyte of a database's words; every line of status and history
    translates it. Matching it against the catalog's entries never backtracks."""
    import time

    try:
        i18n.use("zh")
        started = time.monotonic()
        i18n.translate_stored(text)
        assert time.monotonic() - started < 1.0
    finally:
        i18n.use("en")
