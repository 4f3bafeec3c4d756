"""The import rules the package docstrings state, enforced on the source.

Every ``import`` and ``from ... import`` in the package is read from the syntax tree, including
imports inside functions (a lazy import is still a dependency). Imports under
``if TYPE_CHECKING:`` are annotations only and are exempt where a rule says so.

The rules:
- ``reference/`` (the model) imports nothing of the harness or the adapters, and no I/O module.
- ``adapters/`` imports nothing of the harness.
- value modules import no runtime module: only the model, other value modules, attrs and the
  standard library.
- the harness's core, faults and concurrency never import a front end.
- click is imported only by the CLI (the ``cli`` package and its console printer,
  ``console.py``); pytest only by the pytest plugin and the suite it collects.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {
    "reference": "mqspec.reference",
    "conformance": "mqspec.conformance",
    "adapters": "mqspec.adapters",
}

# Modules that hold values only: what a run produces and what the checkers read.
VALUE_MODULES = {
    "mqspec.conformance.core.events",
    "mqspec.conformance.core.results",
    "mqspec.conformance.concurrency.history",
}
IO_MODULES = {"socket", "subprocess", "sqlite3", "threading", "os", "time", "select", "signal"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    top, *rest = rel.parts
    parts = [PACKAGES[top], *rest]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> Iterator[tuple[str, Path]]:
    for top in PACKAGES:
        for path in sorted((REPO / top).rglob("*.py")):
            if "drivers" in path.relative_to(REPO).parts:
                continue  # example drivers are separate programs, not the package
            yield _module_name(path), path


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, module: str) -> Iterator[tuple[str, bool]]:
    """Yield ``(imported module, only for type checking)`` for every import in the file."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST, typing_only: bool) -> Iterator[tuple[str, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for inner in child.body:
                    yield from visit_one(inner, True)
                for inner in child.orelse:
                    yield from visit_one(inner, typing_only)
            else:
                yield from visit_one(child, typing_only)

    def visit_one(node: ast.AST, typing_only: bool) -> Iterator[tuple[str, bool]]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, typing_only
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, typing_only
            for alias in node.names:  # `from pkg import module` imports the module
                yield f"{base}.{alias.name}", typing_only
        yield from visit(node, typing_only)

    yield from visit(tree, False)


SOURCES = list(_sources())


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _known(name: str) -> bool:
    return any(m == name for m, _ in SOURCES)


def _violations(rule: str) -> list[str]:
    found = []
    for module, path in SOURCES:
        for imported, typing_only in _imports(path, module):
            if not imported.startswith("mqspec") and rule not in ("io", "libraries"):
                continue
            if problem := _broken(rule, module, imported, typing_only):
                found.append(f"{path.relative_to(REPO)}: {module} imports {imported} ({problem})")
    return found


def _broken(rule: str, module: str, imported: str, typing_only: bool) -> str | None:
    if rule == "reference":
        if _within(module, "mqspec.reference") and not _within(imported, "mqspec.reference"):
            return "the model imports only itself"
    elif rule == "io":
        if _within(module, "mqspec.reference") and imported.split(".")[0] in IO_MODULES:
            return "the model does no I/O"
    elif rule == "adapters":
        if _within(module, "mqspec.adapters") and _within(imported, "mqspec.conformance"):
            return "adapters never import the harness"
    elif rule == "values":
        if module in VALUE_MODULES and not typing_only:
            allowed = _within(imported, "mqspec.reference") or imported in VALUE_MODULES
            if _within(imported, "mqspec") and _known(imported) and not allowed:
                return "a value module imports only the model and other value modules"
    elif rule == "frontends":
        runtime = ("core", "faults", "concurrency")
        if any(_within(module, f"mqspec.conformance.{p}") for p in runtime) and _within(
            imported, "mqspec.conformance.frontends"
        ):
            return "the harness never imports a front end"
    elif rule == "libraries":
        top = imported.split(".")[0]
        cli = _within(module, "mqspec.conformance.frontends.cli")
        if top == "click" and not cli and module != "mqspec.conformance.frontends.console":
            return "only the CLI imports click"
        pytest_users = {
            "mqspec.conformance.frontends.pytest_plugin",
            "mqspec.conformance.frontends.suite_tests",
        }
        if top in ("pytest", "_pytest") and module not in pytest_users:
            return "only the pytest plugin and its suite import pytest"
    return None


RULES = ["reference", "io", "adapters", "values", "frontends", "libraries"]


@pytest.mark.parametrize("rule", RULES)
def test_import_rule(rule):
    assert _violations(rule) == []


def test_the_rules_see_every_module():
    names = {m for m, _ in SOURCES}
    for layer in ("core", "faults", "concurrency", "frontends"):
        assert any(_within(n, f"mqspec.conformance.{layer}") for n in names), layer
    assert VALUE_MODULES & names, "no value module found: the values rule would check nothing"


def test_a_broken_rule_is_reported(tmp_path):
    # The checker itself must be able to fail: a model module that imports the harness.
    path = tmp_path / "bad.py"
    path.write_text("import os\nfrom mqspec.conformance.core import session\n")
    imported = list(_imports(path, "mqspec.reference.bad"))
    assert ("mqspec.conformance.core.session", False) in imported
    assert _broken("reference", "mqspec.reference.bad", "mqspec.conformance.core", False)
    assert _broken("io", "mqspec.reference.bad", "os", False)
    assert _broken("libraries", "mqspec.adapters.memory", "click", False)
