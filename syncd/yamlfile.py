"""Reading YAML with line numbers, and ``${NAME}`` interpolation.

Every mapping node becomes a ``LineDict``: a plain ``dict`` that also remembers the line
of each key, so that a problem found later (by pydantic or by a cross-check) can be reported
as ``file, line N``. Interpolation replaces ``${NAME}`` in string scalars from the config's
``vars`` first, then the environment; ``$${`` stands for a literal ``${``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from syncd.errors import Problem
from syncd.i18n import _


class LineDict(dict):
    """A dict that knows the line (1-based) of itself and of each of its keys."""

    line: int | None = None
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int | None:
        return self.key_lines.get(key, self.line)


class LineList(list):
    line: int | None = None


# libyaml's parser where PyYAML was built with it (its wheels are): the same nodes, marks and
# errors, several times faster than the pure-Python one, which parsing the code lists at start-up
# spent about a third of ``syncd status`` on. The constructors, and so the line numbers and the
# alias limit below, are PyYAML's own either way.
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    _refuse_duplicate_keys(node)
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _refuse_duplicate_keys(node: yaml.MappingNode) -> None:
    """A key written twice in one block: YAML parsers keep the last, so the first (a column a DBA
    mapped, say) would vanish without a word. Keys merged in with ``<<:`` may be overridden."""
    seen: dict[tuple[str, str], int] = {}
    for key_node, _value in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        line = key_node.start_mark.line + 1
        first = seen.setdefault((key_node.tag, key_node.value), line)
        if first != line:
            shown = key_node.value if len(key_node.value) <= 64 else key_node.value[:40] + "…"
            raise yaml.constructor.ConstructorError(
                None, None, _("the key '{key}' is written twice in one block (lines {first} and {line}); YAML would "
                              "keep only the second: remove or rename one").format(key=shown, first=first, line=line),
                key_node.start_mark)


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load(path: Path) -> tuple[Any, list[Problem]]:
    """Parse one YAML file. Returns (data, problems); data is None when the file is unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [Problem(str(path), None, "", _("cannot read the file: "
                                                     "{value}").format(value=exc.strerror or exc))]
    except UnicodeDecodeError as exc:
        return None, [Problem(str(path), None, "", _("the file is not UTF-8 text "
                                                     "({reason}); save it as UTF-8").format(reason=exc.reason))]
    loader = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return None, []
        # Without an anchor (&name) there is no alias, and the document is as big as its text.
        if "&" in text and _expanded_size(node) > MAX_NODES:
            return None, [Problem(str(path), node.start_mark.line + 1, "",
                                  _("the file expands to more than {max_nodes} YAML values through its aliases "
                                    "(*name); write the values out").format(max_nodes=MAX_NODES))]
        return loader.construct_document(node), []
    except yaml.reader.ReaderError as exc:
        return None, [Problem(str(path), text.count("\n", 0, exc.position) + 1, "",
                              _("not valid YAML: character #x{character:04X} is a control character, which YAML does "
                                "not allow; remove it").format(character=exc.character))]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        lines = text.splitlines()
        if mark is not None and mark.line < len(lines) and "\t" in lines[mark.line][:mark.column + 1]:
            # PyYAML says "found character that cannot start any token": not that it is a tab
            return None, [Problem(str(path), line, "", _("not valid YAML: a tab character; YAML indents with spaces "
                                                         "only: replace the tab by spaces"))]
        return None, [Problem(str(path), line, "", _("not valid YAML: {reason}").format(reason=reason))]
    finally:
        if loader is not None:
            loader.dispose()


#: The most values a config or mapping file may expand to. An alias (*name) stands for a whole
#: subtree, so a few hundred bytes of nested aliases can stand for billions of values; everything
#: that walks the data afterwards (interpolation, validation) would then never finish.
MAX_NODES = 200_000


def _expanded_size(root: yaml.Node) -> int:
    """How many values the document stands for with every alias written out; linear in the node
    graph (each node's size is computed once), and stops counting past ``MAX_NODES``."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if children_done or not children:
            sizes[id(node)] = min(MAX_NODES + 1, 1 + sum(sizes.get(id(c), 0) for c in children))
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def line_at(data: Any, loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest node along ``loc`` (a pydantic error location) that has one."""
    line = getattr(data, "line", None)
    node = data
    for part in loc:
        if isinstance(node, LineDict) and part in node:
            line = node.line_of(part) or line
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            line = getattr(node, "line", None) or line
        else:
            break
    return line


_VAR = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}")


def interpolate(data: Any, variables: Mapping[str, str], env: Mapping[str, str], *,
                file: str, problems: list[Problem], path: tuple[Any, ...] = (),
                line: int | None = None) -> Any:
    """Replace ``${NAME}`` in every string scalar; unknown names become problems."""
    if isinstance(data, LineDict):
        out = LineDict()
        out.line, out.key_lines = data.line, data.key_lines
        for key, value in data.items():
            out[key] = interpolate(value, variables, env, file=file, problems=problems,
                                   path=path + (key,), line=data.line_of(key))
        return out
    if isinstance(data, list):
        out_list = LineList(interpolate(v, variables, env, file=file, problems=problems, path=path + (i,),
                                        line=getattr(data, "line", None) or line)
                            for i, v in enumerate(data))
        out_list.line = getattr(data, "line", None)
        return out_list
    if not isinstance(data, str) or "${" not in data:
        return data

    def replace(match: re.Match[str]) -> str:
        escaped, name = match.group(1), match.group(2)
        if escaped:
            return "${" + name + "}"
        if name in variables:
            return str(variables[name])
        if name in env:
            return env[name]
        problems.append(Problem(file, line, ".".join(map(str, path)),
                                _("${{{name}}} is not defined: add it under 'vars:' in the config or set the "
                                  "environment variable {name}").format(name=name)))
        return match.group(0)

    return _VAR.sub(replace, data)


def format_loc(loc: tuple[Any, ...]) -> str:
    # a key can be a megabyte long: cut in a problem's "where" (the message says how long it is)
    return ".".join(text if len(text := str(p)) <= 64 else f"{text[:40]}…" for p in loc)
