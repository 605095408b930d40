"""The library's layout holds: layers point down, no import cycles, and the runtime library
never reaches into the tools, the local stack or the functions (decision 0020)."""
from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.bundle import _imported
from infra.manifest import REPO

OWN = ("shared", "functions", "local", "infra", "tests", "bench", "migrations")
# shared/ from the bottom up: base modules (top-level files) and the events transport,
# then the domain packages, then HTTP. Functions sit on top of all of them.
DOMAINS = ("identity", "people", "proposals", "market", "media", "chain", "graph", "payments", "notifications", "live", "moderation", "embeddings")
BASE_PACKAGES = ("events",)


def _modules() -> dict[str, Path]:
    found = {}
    for top in ("shared", "functions", "local", "infra"):
        for path in sorted((REPO / top).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> Iterator[str]:
    """The project's own modules that ``path`` imports (TYPE_CHECKING blocks included:
    a cycle through type hints is a cycle a reader still has to untangle)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in OWN:
            for alias in node.names:
                qualified = f"{node.module}.{alias.name}"
                yield qualified if qualified in MODULES else node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.split(".")[0] in OWN)


def _layer(module: str) -> tuple[int, str]:
    parts = module.split(".")
    if parts[0] != "shared":
        return 3, parts[0]
    if len(parts) == 1 or (len(parts) == 2 and MODULES.get(module, Path()).name != "__init__.py"):
        return 0, "base"
    if parts[1] in BASE_PACKAGES:
        return 0, "base"
    if parts[1] in DOMAINS:
        return 1, parts[1]
    if parts[1] == "http":
        return 2, "http"
    raise AssertionError(f"{module}: a package of shared/ that no layer names (add it to DOMAINS)")


def test_every_package_of_the_library_has_a_layer():
    for module in MODULES:
        if module.startswith("shared."):
            _layer(module)


def test_layers_point_down():
    upward = []
    for module, path in MODULES.items():
        if not module.startswith("shared"):
            continue
        rank, _ = _layer(module)
        for target in _imports(path):
            if target.split(".")[0] != "shared":
                upward.append(f"{module} -> {target} (the runtime library imports a tool, test or function)")
            elif _layer(target)[0] > rank:
                upward.append(f"{module} -> {target}")
    assert upward == []


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of the graph, its first node repeated at its end ([]: none), as the standard
    library's topological sort finds it."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        return error.args[1]
    return []


def test_no_import_cycles_between_modules():
    graph = {module: {t for t in _imports(path) if t in MODULES and t != module} for module, path in MODULES.items()}
    assert _cycle(graph) == []


def test_no_import_cycles_between_domain_packages():
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        if module.startswith("shared."):
            source = _layer(module)[1]
            graph.setdefault(source, set()).update(
                _layer(t)[1] for t in _imports(path) if t.startswith("shared") and _layer(t)[1] != source)
    assert _cycle(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    cycle = _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert cycle[0] == cycle[-1] and sorted(cycle[:-1]) == ["a", "b", "c"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "d": {"a", "c"}}) == []


@pytest.mark.parametrize("function", sorted((REPO / "functions").glob("*/main.py")), ids=lambda p: p.parent.name)
def test_functions_import_only_the_library(function):
    """An entry point imports the library and its own libraries; never another function,
    the local stack or a build tool (none of them is in its bundle)."""
    foreign = sorted({name for name in _imported(ast.parse(function.read_text()))
                      if name.split(".")[0] in OWN and name.split(".")[0] != "shared"})
    assert foreign == []
