"""The layering that import-linter cannot see: who runs SQL, who prints, who names a database kind.

import-linter (``.importlinter``, run by CI) checks which module imports which. These tests read
the code itself: a call to ``execute`` in a command, a ``print`` in the engine, or a dialect's
name outside ``syncd/dialects`` would each slip past an import contract.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from syncd import dialects

PACKAGE = Path(__file__).resolve().parent.parent / "syncd"
MODULES = sorted(p for p in PACKAGE.rglob("*.py"))

#: The database layer: the only modules that open connections and run SQL. The demo's own
#: generator (devtools) also creates and fills the demo's databases.
RUNS_SQL = {"source.py", "target.py", "state.py", "engines.py", "demo.py", "demodata.py"}
SQL_CALLS = {"execute", "exec_driver_sql", "executemany", "begin", "connect", "cursor", "create_engine",
             "execution_options", "create_all", "drop_all", "inspect"}


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _calls(tree: ast.AST) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                found.append((func.attr, node.lineno))
            elif isinstance(func, ast.Name):
                found.append((func.id, node.lineno))
    return found


def _tree(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_only_the_database_layer_runs_sql(path):
    name = _relative(path)
    if name in RUNS_SQL or name.startswith("dialects/"):
        return
    # ``engines.connect(config)`` hands out the database layer's objects; it is called by name.
    calls = [(c, line) for c, line in _calls(_tree(path)) if c in SQL_CALLS and not (c == "connect" and
                                                                                         _is_engines_connect(path, line))]
    assert not calls, f"{name} runs SQL itself ({calls}); ask source, target, state or engines instead"


def _is_engines_connect(path: Path, line: int) -> bool:
    text = path.read_text(encoding="utf-8").splitlines()[line - 1]
    return "with connect(" in text


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_only_the_cli_prints_or_exits(path):
    name = _relative(path)
    if name in ("cli.py", "__main__.py"):
        return
    calls = [(c, line) for c, line in _calls(_tree(path)) if c in ("print", "exit", "_exit")]
    # Two deliberate exits at once, where no cleanup may run: a crash point (its purpose), and the
    # daemon's answer to a second stop signal or a stop timeout.
    calls = [(c, line) for c, line in calls if not (name in ("faults.py", "daemon.py") and c == "_exit")]
    assert not calls, f"{name} prints or exits ({calls}); return a value and let syncd.cli report it"


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_database_kinds_are_named_only_in_the_dialect_layer(path):
    name = _relative(path)
    if name.startswith("dialects/"):
        return
    kinds = set(dialects.REGISTRY)
    named = [(node.value, node.lineno) for node in ast.walk(_tree(path))
             if isinstance(node, ast.Constant) and isinstance(node.value, str)
             and (node.value in kinds or any(node.value.startswith(k + ":") or node.value.startswith(k + "+")
                                             for k in kinds))]
    assert not named, f"{name} names a database kind {named}; ask syncd.dialects instead"


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_data_files_are_found_through_the_package(path):
    assert "Path(__file__)" not in path.read_text(encoding="utf-8"), \
        f"{_relative(path)} climbs from __file__; use syncd.resources"


def test_the_checks_see_what_they_look_for(tmp_path):
    """The checks above would notice a violation (and so are not passing on an empty list)."""
    bad = ast.parse("def f(engine):\n    print(1)\n    engine.connect().execute('x')\n")
    names = {c for c, _ in _calls(bad)}
    assert {"print", "connect", "execute"} <= names
    assert len(MODULES) > 30
