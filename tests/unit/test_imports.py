"""The code's layout rules, read from the source files: no import cycles, layers that hold, small modules.

Imports are read with `ast`, not by importing: every `import` and `from ... import`
anywhere in a module counts, also one inside a function (an import put there to
dodge a cycle is still a cycle in the design). `from package import name` is an
import of the submodule `package.name` when that module exists.
"""
from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "views", "bench", "migrations")
MAX_LINES = 400
SIZED = ("app", "views", "bench")  # modules that must stay under MAX_LINES
# the composition root: the app factory builds the app from app/ and views/
FACTORY = "app"


@cache
def modules() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the project's packages."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _source_package(module: str, node: ast.ImportFrom) -> str:
    """The absolute name `from <this> import ...` refers to (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if modules()[module].name != "__init__.py":
        base.pop()
    base = base[:len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


@cache
def imports(module: str) -> tuple[tuple[str, str, int], ...]:
    """(imported module, imported name or '', line) for each import in a module."""
    tree = ast.parse(modules()[module].read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, "", node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _source_package(module, node)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in modules():
                    found.append((submodule, "", node.lineno))
                else:
                    found.append((source, alias.name, node.lineno))
    return tuple(found)


@cache
def graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    known = modules()
    return {m: {target for target, _name, _line in imports(m) if target in known and target != m} for m in known}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path that returns to its start) per strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return [_path_within(edges, group) for group in groups]


def _path_within(edges: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, through the group."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(edges[node] & group):
            if target == start:
                return paths[node] + [start]
            if target not in paths:
                paths[target] = paths[node] + [target]
                queue.append(target)
    raise AssertionError(f"no cycle through {start}")  # a strongly connected group always has one


def test_the_checker_finds_cycles_and_reads_submodule_imports():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    # `from app.security import lockout, sessions` imports two modules, not the package
    assert {"app.security.lockout", "app.security.sessions"} <= graph()["app.security.users_cli"]
    assert "app.security" not in graph()["app.security.users_cli"]


def test_no_import_cycles():
    found = cycles(graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in found)


def test_no_app_module_imports_views():
    wrong = sorted(f"{module} imports {target} (line {line})"
                   for module in modules() if module.split(".")[0] == "app"
                   and module != FACTORY
                   for target, _name, line in imports(module) if target.split(".")[0] == "views")
    assert not wrong, "app/ must not depend on views/:\n" + "\n".join(wrong)


def test_list_mechanics_read_no_request():
    """app/lists knows models, not requests (docs/architecture.md): the views hand it the arguments."""
    readers = {("flask", "request"), ("flask_appbuilder.urltools", "get_filter_args"),
               ("flask_appbuilder.urltools", "get_order_args")}
    wrong = sorted(f"{module} line {line}: from {target} import {name}" for module in modules()
                   if module.startswith("app.lists.") for target, name, line in imports(module)
                   if (target, name) in readers)
    assert not wrong, "pass the arguments in from the view instead:\n" + "\n".join(wrong)


def test_no_private_name_is_imported_from_another_module():
    wrong = sorted(f"{module} line {line}: from {target} import {name}"
                   for module in modules() for target, name, line in imports(module)
                   if name.startswith("_") and not name.startswith("__")
                   and target.split(".")[0] in PACKAGES + ("config", "tests"))
    assert not wrong, "make these public (rename them) or keep them in their module:\n" + "\n".join(wrong)


@pytest.mark.parametrize("package", SIZED)
def test_no_module_over_the_line_limit(package):
    long = sorted(f"{path.relative_to(ROOT)}: {lines} lines"
                  for name, path in modules().items() if name.split(".")[0] == package
                  for lines in [len(path.read_text(encoding="utf-8").splitlines())] if lines > MAX_LINES)
    assert not long, f"modules over {MAX_LINES} lines (split them by concern):\n" + "\n".join(long)
