"""The package layout's rules, checked on the source: no import cycles, no hidden imports.

Modules of ``grammar``, ``planners``, ``gateway`` and ``standins`` import each other at module
level only, and those imports form no cycle (imports under ``if TYPE_CHECKING`` are annotations
and do not count). A first-party import inside a function is allowed only where the core
install stops: the command line and ``gateway/__init__.py`` import the server's modules when a
command needs them, so that ``adql-gateway parse`` runs without the ``server`` extra.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("grammar", "planners", "gateway", "standins")
LAZY_ALLOWED = ("gateway/cli/", "gateway/__init__.py")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _owner(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _targets(node: ast.Import | ast.ImportFrom) -> set[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif node.module is None or node.level:
        return set()
    else:
        submodules = [f"{node.module}.{alias.name}" for alias in node.names]
        names = [s for s in submodules if s in MODULES]
        if len(names) < len(submodules):
            names.append(node.module)
    owners = {_owner(name) for name in names if name.split(".")[0] in PACKAGES}
    return {o for o in owners if o is not None}


def _is_type_checking(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.If) and "TYPE_CHECKING" in ast.unparse(statement.test)


def _imports(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import with where it sits: ``module``, ``typing`` or ``function``."""
    for statement in tree.body:
        where = "typing" if _is_type_checking(statement) else "module"
        for node in ast.walk(statement):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                inside = isinstance(
                    statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
                )
                yield node, "function" if inside else where
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node is not statement:
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        yield inner, "function"


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    hidden = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text("utf-8"))
        for node, where in _imports(tree):
            targets = _targets(node) - {name}
            if where == "module" and not _inside_function(tree, node):
                graph[name] |= targets
            elif where != "typing" and targets:
                rel = path.relative_to(ROOT).as_posix()
                if not rel.startswith(LAZY_ALLOWED):
                    hidden.append(f"{rel}:{node.lineno} imports {sorted(targets)}")
    return graph, hidden


def _inside_function(tree: ast.Module, target: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
            inner is target for inner in ast.walk(node)
        ):
            return True
    return False


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_first_party_imports_form_no_cycle() -> None:
    graph, _ = _graph()
    assert _cycles(graph) == []


def test_no_first_party_import_hides_in_a_function() -> None:
    _, hidden = _graph()
    assert hidden == []


def test_the_checks_see_a_cycle_and_a_hidden_import() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    tree = ast.parse("import os\ndef f():\n    from gateway import facade\n")
    kinds = [(type(node).__name__, where) for node, where in _imports(tree)]
    assert kinds == [("Import", "module"), ("ImportFrom", "function")]
