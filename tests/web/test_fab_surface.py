"""The FAB surface listed in app/crud/fab_surface.py: checked against the installed FAB, and complete."""
from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import re
import sys
from importlib.metadata import version
from pathlib import Path

import flask_appbuilder
import pytest

from app.crud.fab_surface import FAB_VERSION_CHECKED, PRIVATE, PUBLIC, SURFACE, TEMPLATES

ROOT = Path(__file__).resolve().parents[2]
FAB_ROOT = Path(flask_appbuilder.__file__).parent
OURS = ("app", "views")
# wtforms' form metaclass writes these on every form class, ours included
NOT_OURS = {"_unbound_fields", "_wtforms_meta"}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _is_fab(cls: type) -> bool:
    return cls.__module__.startswith("flask_appbuilder")


def _is_ours(cls: type) -> bool:
    return cls.__module__.split(".")[0] in OURS


def _resolve(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _fab_private_names() -> set[str]:
    """Private names FAB defines: methods and attributes of its classes, and attributes it sets on objects."""
    names = set()
    for path in FAB_ROOT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for stmt in node.body:
                    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        names.add(stmt.name)
                    targets = stmt.targets if isinstance(stmt, ast.Assign) else \
                        [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
                    names.update(t.id for t in targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
    return {n for n in names if _private(n)}


FAB_PRIVATE = _fab_private_names()


def _defined_by_fab(cls: type, name: str) -> bool:
    """`name` is an attribute of FAB class `cls` or its bases, or one it sets on instances."""
    if any(name in vars(k) for k in cls.__mro__):
        return True
    return any(re.search(rf"\.{re.escape(name)}\s*=[^=]", inspect.getsource(k))
               for k in cls.__mro__ if _is_fab(k))


def _our_classes() -> set[type]:
    """Classes of app/ and views/ the running app has loaded, and their subclasses made at run time."""
    found = {v for name, module in list(sys.modules.items()) if name.split(".")[0] in OURS and module
             for v in vars(module).values() if inspect.isclass(v) and _is_ours(v)}
    pending = list(found)
    while pending:
        for sub in pending.pop().__subclasses__():
            if _is_ours(sub) and sub not in found:
                found.add(sub)
                pending.append(sub)
    return found


def _is_method(value) -> bool:
    return inspect.isfunction(value) or isinstance(value, (property, classmethod, staticmethod))


def _overrides() -> set[tuple[str, str]]:
    """(our class, name) for each FAB attribute one of our classes redefines: private ones, public methods."""
    found = set()
    for cls in _our_classes():
        fab = [k for k in cls.__mro__ if _is_fab(k)]
        if not fab:
            continue
        for ours in (k for k in cls.__mro__ if _is_ours(k)):
            for name, value in vars(ours).items():
                if name in NOT_OURS or name in ("__module__", "__doc__", "__dict__", "__weakref__"):
                    continue
                on_fab = any(name in vars(k) for k in fab)
                if _private(name) and (on_fab or name in FAB_PRIVATE) or on_fab and _is_method(value):
                    found.add((f"{ours.__module__}.{ours.__qualname__}", name))
    return found


def _uses() -> set[tuple[str, str]]:
    """(our module, name) for each private FAB name read or called in app/ and views/."""
    found = set()
    for path in [*ROOT.glob("app/**/*.py"), *ROOT.glob("views/**/*.py")]:
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = None
            if isinstance(node, ast.Attribute):
                name = node.attr
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                    node.func.id in ("getattr", "hasattr", "setattr") and len(node.args) > 1 and \
                    isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
                name = node.args[1].value
            if name in FAB_PRIVATE:
                found.add((module, name))
    return found


def test_the_list_was_checked_against_the_installed_fab():
    installed = version("flask-appbuilder")
    assert installed == FAB_VERSION_CHECKED, (
        f"Flask-AppBuilder {installed} is installed, the FAB surface was checked against {FAB_VERSION_CHECKED}: "
        "review the list in app/crud/fab_surface.py against the new FAB source, then update the version")


@pytest.mark.parametrize("entry", SURFACE, ids=lambda e: f"{e.fab.rpartition('.')[2]}.{e.name}")
def test_each_listed_name_still_exists_on_its_fab_class(entry):
    cls = _resolve(entry.fab)
    assert _is_fab(cls), f"{entry.fab} is not a Flask-AppBuilder class"
    assert _defined_by_fab(cls, entry.name), (
        f"{entry.fab} has no {entry.name} any more: FAB renamed or removed it; see app/crud/fab_surface.py")


def test_each_entry_is_in_its_section_and_says_why():
    assert all(e.private for e in PRIVATE) and not any(e.private for e in PUBLIC)
    for entry in SURFACE:
        assert entry.why and (entry.overridden_by or entry.used_in), entry


def test_every_fab_override_and_private_name_used_is_listed(app):  # app: every module of the app loaded
    listed_overrides = {(ours, e.name) for e in SURFACE for ours in e.overridden_by}
    missing = sorted(_overrides() - listed_overrides)
    assert not missing, f"FAB attributes redefined but not listed in app/crud/fab_surface.py: {missing}"
    listed_uses = {(module, e.name) for e in PRIVATE for module in e.used_in} | {
        (ours.rpartition(".")[0], e.name) for e in PRIVATE for ours in e.overridden_by}
    unlisted = sorted(_uses() - listed_uses)
    assert not unlisted, f"private FAB names used but not listed in app/crud/fab_surface.py: {unlisted}"


def test_every_listed_override_and_use_is_still_there(app):
    """The list names no override or use the code has dropped (it stays the list of what we rely on)."""
    for entry in SURFACE:
        for ours in entry.overridden_by:
            assert entry.name in vars(_resolve(ours)), f"{ours} no longer defines {entry.name}"
    uses = _uses()
    for entry in PRIVATE:
        for module in entry.used_in:
            assert (module, entry.name) in uses, f"{module} no longer uses {entry.name}"


def test_every_fab_template_we_override_is_listed():
    """A file under app/templates/appbuilder/ replaces FAB's at the same path: each is recorded with its origin."""
    ours = {p.relative_to(ROOT / "app/templates").as_posix() for p in (ROOT / "app/templates/appbuilder").rglob("*")
            if p.is_file()}
    listed = [t.path for t in TEMPLATES]
    assert len(listed) == len(set(listed)) and all(t.why for t in TEMPLATES)
    assert ours == set(listed), f"not listed: {sorted(ours - set(listed))}; no copy: {sorted(set(listed) - ours)}"


@pytest.mark.parametrize("copy", TEMPLATES, ids=lambda t: t.path)
def test_fabs_original_of_each_template_copy_is_unchanged(copy):
    """An upgrade that changes FAB's original fails here: carry its change into our copy, then record the hash."""
    original = FAB_ROOT / "templates" / copy.path
    assert original.is_file(), f"FAB has no {copy.path} any more: review our copy (app/templates/{copy.path})"
    digest = hashlib.sha256(original.read_bytes()).hexdigest()
    assert digest == copy.fab_sha256, (
        f"FAB's {copy.path} changed since our copy was made from FAB {FAB_VERSION_CHECKED}: review "
        f"app/templates/{copy.path} against it, then record its SHA-256 {digest} in app/crud/fab_surface.py")
