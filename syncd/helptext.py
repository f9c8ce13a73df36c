"""Help text that fits the terminal in Chinese as in English.

click measures text in characters and breaks lines at spaces. A Chinese character takes two
columns of a terminal, and Chinese puts no spaces between words: click's help in Chinese ran to
twice the terminal's width, and a command whose first sentence has no space came out as "..." in
the list of commands. Here text is measured in columns (``unicodedata.east_asian_width``) and may
break between two Chinese characters, never before a closing punctuation mark. Text without a
wide character is left to click, so the English help is click's own, unchanged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

import click
from click.formatting import iter_rows, measure_table, wrap_text

#: what may not begin a line (it stays at the end of the line before)
_CLOSING = frozenset("，。、；：？！）》」』】〕〉”’…,.;:?!)")
#: a run of printable ASCII (a word, an option, a path) or one other character, or spaces
_TOKENS = re.compile(r"\s+|[!-~]+|.")


def width(text: str) -> int:
    """Columns ``text`` takes in a terminal: two for a wide (Chinese) character, one otherwise."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def wide(text: str) -> bool:
    return any(unicodedata.east_asian_width(ch) in "WF" for ch in text)


def _joined(lines: Sequence[str]) -> str:
    """A paragraph's lines as one: a space between them, unless both sides are wide characters."""
    out = ""
    for line in (line.strip() for line in lines):
        if out and line and not (wide(out[-1]) and wide(line[0])):
            out += " "
        out += line
    return out


def wrap(text: str, columns: int, initial_indent: str = "", subsequent_indent: str = "") -> str:
    """``text`` wrapped to ``columns`` terminal columns, paragraphs (blank-line separated) kept."""
    if not wide(text):
        return wrap_text(text, columns, initial_indent=initial_indent, subsequent_indent=subsequent_indent,
                         preserve_paragraphs=True)
    return "\n\n".join(_wrap_paragraph(_joined(p.splitlines()), columns, initial_indent, subsequent_indent)
                       for p in re.split(r"\n\s*\n", text.strip("\n")))


def _wrap_paragraph(text: str, columns: int, initial_indent: str, subsequent_indent: str) -> str:
    lines: list[str] = []
    indent, space = initial_indent, False
    parts: list[tuple[str, str]] = []       # (gap, token) of the line being filled

    def used() -> int:
        return width(indent) + sum(width(gap) + width(token) for gap, token in parts)

    for token in _TOKENS.findall(text):
        if token.isspace():
            space = bool(parts)
            continue
        gap = " " if space else ""
        space = False
        if parts and used() + width(gap) + width(token) > columns:
            # A closing mark does not begin a line: the token before it goes down with it (a line
            # of closing marks alone stays as it is).
            carried: list[tuple[str, str]] = []
            if token in _CLOSING:
                while parts and parts[-1][1] in _CLOSING:
                    carried.insert(0, parts.pop())
                if len(parts) > 1:
                    carried.insert(0, parts.pop())
                else:
                    parts.extend(carried)
                    carried = []
            lines.append(indent + "".join(g + t for g, t in parts))
            indent = subsequent_indent
            parts = [("", carried[0][1]), *carried[1:]] if carried else []
            gap = gap if parts else ""
        parts.append((gap, token))
    lines.append(indent + "".join(g + t for g, t in parts))
    return "\n".join(line.rstrip() for line in lines)


def short(text: str, limit: int) -> str:
    """A command's help for the list of commands: its first sentence, cut to ``limit`` columns."""
    first = _joined(re.split(r"\n\s*\n", text.strip())[0].splitlines())
    end = first.find("。")
    if end >= 0:
        first = first[:end + 1]
    if width(first) <= limit:
        return first
    out, used = "", width("…")
    for ch in first:
        used += width(ch)
        if used > limit:
            break
        out += ch
    return out.rstrip() + "…"


class HelpFormatter(click.HelpFormatter):
    """click's formatter, measuring and wrapping text in terminal columns."""

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        self.write(wrap(text, self.width, initial_indent=indent, subsequent_indent=indent))
        self.write("\n")

    def write_dl(self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        # (older clicks type ``rows`` as a Sequence, newer ones as an Iterable: this takes either)
        listed = list(rows)
        if not any(wide(second) for _first, second in listed):
            super().write_dl(listed, col_max, col_spacing)
            return
        widths = measure_table(listed)
        first_col = min(widths[0], col_max) + col_spacing
        for first, second in iter_rows(listed, len(widths)):
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if width(first) <= first_col - col_spacing:
                self.write(" " * (first_col - width(first)))
            else:
                self.write("\n")
                self.write(" " * (first_col + self.current_indent))
            lines = wrap(second, max(self.width - first_col - 2, 10)).splitlines() or [""]
            self.write(f"{lines[0]}\n")
            for line in lines[1:]:
                self.write(f"{'':>{first_col + self.current_indent}}{line}\n")


class Context(click.Context):
    formatter_class = HelpFormatter


class ColumnsHelp:
    """For a command or a group: its help laid out in terminal columns (``HelpFormatter``), and its
    line in the list of commands its first sentence (click's is "..." for text without spaces)."""

    context_class: type[click.Context] = Context
    help: str | None
    short_help: str | None

    def get_short_help_str(self, limit: int = 45) -> str:
        if self.short_help or not self.help or not wide(self.help):
            return super().get_short_help_str(limit)  # type: ignore[misc]
        return short(self.help, limit)


class Command(ColumnsHelp, click.Command):
    pass
