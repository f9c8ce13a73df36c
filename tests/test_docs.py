"""The documents county IT works from: every ``syncd`` command they show is one the command line
takes, and the Chinese pages carry every section and command block of the English ones."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parent.parent

#: (English page, Chinese page)
PAIRS = [("README.md", "README.zh-CN.md"), ("docs/operations.md", "docs/operations.zh-CN.md")]

#: each English page's sections (##), and the Chinese one's title for it, in order; the Chinese
#: pages have some of their own (None: no English one)
SECTIONS = {
    "README.md": [("Quick start (a new machine)", "快速开始（新机器）"), ("Using it", "使用"), (None, "语言"),
                  ("Documentation", "文档")],
    "docs/operations.md": [("Install", "安装"), ("Configure", "配置"), ("Enable and start", "启用和启动"),
                           ("Logs", "日志"), ("Health monitoring", "健康监控"), ("Alerts", "告警"),
                           ("Upgrade", "升级"), ("Moving to a new machine", "迁移到新机器"), ("Language", "语言"),
                           (None, "术语表"), ("Exit codes", "退出码")],
}

#: the lines of a command block that differ between the pages on purpose: the Chinese page's line
#: for the English one's (None: a line the English page does not have)
CHINESE_LINES = {
    "pip install -e . && syncd --lang zh demo --dir demo": "pip install -e . && syncd demo --dir demo",
    "journalctl -u syncd -g 'failed|rejected|失败|被拦'": "journalctl -u syncd -g 'failed|rejected'",
    "lang: zh": None,
}

_BLOCK = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
_COMMENT = re.compile(r"(^|\s)#(?!!).*$")


def _text(page: str) -> str:
    return (ROOT / page).read_text(encoding="utf-8")


def _sections(page: str) -> list[str]:
    # headings outside the command blocks (a shell comment is a '#' line too)
    return re.findall(r"^## (.+)$", _BLOCK.sub("", _text(page)), re.M)


def _blocks(page: str, *, chinese: bool = False) -> list[list[str]]:
    """Each command block's lines without comments or blank lines (the comments are translated)."""
    blocks = []
    for block in _BLOCK.findall(_text(page)):
        lines = []
        for line in block.splitlines():
            line = _COMMENT.sub("", line).rstrip()
            if chinese and line.strip() in CHINESE_LINES:
                english = CHINESE_LINES[line.strip()]
                if english is None:
                    continue
                line = line.replace(line.strip(), english)
            if line.strip():
                lines.append(line)
        blocks.append(lines)
    return blocks


@pytest.mark.parametrize(("english", "chinese"), PAIRS)
def test_the_chinese_page_has_every_section_of_the_english_one(english, chinese):
    assert _sections(english) == [e for e, _ in SECTIONS[english] if e is not None], (
        f"{english}: its sections changed; give {chinese} the same and update SECTIONS here")
    assert _sections(chinese) == [c for _, c in SECTIONS[english]], (
        f"{chinese} does not have the sections of {english} (SECTIONS)")


@pytest.mark.parametrize(("english", "chinese"), PAIRS)
def test_the_chinese_page_shows_every_command_block_of_the_english_one(english, chinese):
    """Same blocks, same lines, in the same order: only the comments are translated."""
    ours, theirs = _blocks(english), _blocks(chinese, chinese=True)
    for n, (a, b) in enumerate(zip(ours, theirs, strict=False), 1):
        assert a == b, f"command block {n} of {chinese} differs from that of {english}"
    assert len(ours) == len(theirs), f"{english} has {len(ours)} command blocks, {chinese} {len(theirs)}"


#: the pages for the people who run syncd (the developers' pages quote benchmark command lines)
USERS_PAGES = ["README.md", "README.zh-CN.md", "docs/operations.md", "docs/operations.zh-CN.md", "docs/auditing.md",
               "docs/mappings.md", "docs/sync-semantics.md", "docs/databases.md", "docs/intermediate-tables.md"]

#: where a line of a command block calls syncd: at its start, after sudo, a unit's ExecStart=, a
#: Zabbix key's comma or a shell's $(
_CALL = re.compile(r"(?:^|^sudo -u syncd |^ExecStart=\S*/|^UserParameter=[^,]*,|\$\()syncd( .*)?$")


def _documented_commands() -> list[tuple[str, str, bool]]:
    """(page, arguments after ``syncd``, whole) for every syncd command line a page shows: in a
    command block (whole: as it is typed) or as code in running text (a mention: ``syncd report``
    may leave out what the command requires)."""
    found = []
    for page in USERS_PAGES:
        text = _text(page)
        for block in _BLOCK.findall(text):
            for line in block.splitlines():
                match = _CALL.search(_COMMENT.sub("", line).strip())
                if match:
                    found.append((page, (match.group(1) or "").strip(), True))
        for code in re.findall(r"`([^`\n]+)`", _BLOCK.sub("", text)):
            match = re.fullmatch(r"(?:sudo -u syncd )?syncd(?: (.*))?", code.strip())
            if match:
                found.append((page, (match.group(1) or "").strip(), False))
    return found


def _arguments(command: str) -> list[list[str]]:
    """The argument lists a documented command stands for, up to the shell's own words (a pipe, a
    redirection, ``;``, ``&&``): ``[--out FILE]`` is taken as written, ``rewind|set`` as each."""
    words = shlex.split(command.replace("$(", "").replace("$?", "").replace("[", "").replace("]", ""))
    taken: list[list[str]] = [[]]
    for word in words:
        if word in ("|", ";", "&&", "||") or word.startswith((">", "2>", "<")):
            break
        last = word.endswith(";")
        choices = word.rstrip(";").split("|")
        taken = [[*args, choice] for args in taken for choice in choices]
        if last:
            break
    return taken


def _commands() -> list[tuple[str, list[str], bool]]:
    return [(page, args, whole) for page, command, whole in _documented_commands() if "…" not in command
            for args in _arguments(command)]


def test_the_pages_show_syncd_commands():
    pages = {page for page, _, whole in _documented_commands() if whole}
    assert {"README.md", "README.zh-CN.md", "docs/operations.md", "docs/operations.zh-CN.md"} <= pages
    assert len(_commands()) > 50


@pytest.mark.parametrize(("page", "args", "whole"), _commands(),
                         ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_every_syncd_command_a_page_shows_is_one_the_command_line_takes(page, args, whole):
    """Its command and subcommands exist and take every option and value it gives them; a command
    line in a block also gives what they require."""
    from syncd.cli import cli

    shown = "syncd " + " ".join(args)
    command: click.Command = cli
    try:
        ctx = command.make_context("syncd", list(args))
        while isinstance(command, click.Group):   # down the subcommands
            rest = [*ctx._protected_args, *ctx.args]
            if not rest:
                break
            name, sub, rest = command.resolve_command(ctx, rest)
            assert name is not None and sub is not None
            ctx = sub.make_context(name, rest, parent=ctx)
            command = sub
    except (click.MissingParameter, click.exceptions.NoArgsIsHelpError) as exc:
        assert not whole, f"{page}: {shown!r}: {exc.format_message()}"
    except click.exceptions.Exit:
        pass                                      # --version, --help
    except click.UsageError as exc:
        pytest.fail(f"{page}: {shown!r}: {exc.format_message()}")
