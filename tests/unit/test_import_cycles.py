"""No import cycle between vodai's packages: each subpackage (and each top-level module) of
``shared/vodai`` sits above or below any other, never both. Imports inside functions count as
much as module-level ones: a lazy import hides a cycle, it does not break it."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Set

from conftest import ROOT

SHARED = ROOT / "shared"
PACKAGE = "vodai"


def _module_name(path: Path, shared: Path) -> str:
    parts = list(path.relative_to(shared).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _exists(module: str, shared: Path) -> bool:
    base = shared.joinpath(*module.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _imports(path: Path, shared: Path) -> Iterator[str]:
    """Every module ``path`` imports, anywhere in the file."""
    module = _module_name(path, shared)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            yield source
            # `from . import outcome` imports a module, not a name of the package.
            yield from (f"{source}.{alias.name}" for alias in node.names if _exists(f"{source}.{alias.name}", shared))


def _unit(module: str) -> str:
    """The package-level unit a module belongs to: ``vodai.pipeline.jobs`` -> ``vodai.pipeline``."""
    return ".".join(module.split(".")[:2])


def unit_graph(shared: Path, package: str = PACKAGE) -> Dict[str, Dict[str, List[str]]]:
    """unit -> unit it imports -> the imports that make the edge (``module -> module``), for the
    package ``package`` in the folder ``shared``."""
    graph: Dict[str, Dict[str, List[str]]] = {}
    for path in sorted((shared / package).rglob("*.py")):
        source = _module_name(path, shared)
        for target in _imports(path, shared):
            if not target.startswith(package + ".") or not _exists(target, shared):
                continue
            a, b = _unit(source), _unit(target)
            if a != b:
                graph.setdefault(a, {}).setdefault(b, []).append(f"{source} -> {target}")
    return graph


def cycles(graph: Dict[str, Dict[str, List[str]]]) -> List[List[str]]:
    """The strongly connected components of more than one unit (Tarjan's algorithm)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, {}):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(set(graph) | {b for edges in graph.values() for b in edges}):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_vodai_packages():
    graph = unit_graph(SHARED)
    problems = []
    for component in cycles(graph):
        edges = [e for a in component for b in component for e in graph.get(a, {}).get(b, [])]
        problems.append(f"{' <-> '.join(component)}: " + "; ".join(edges))
    assert not problems, "import cycles (move the shared piece into a module both can import):\n" + "\n".join(problems)


def test_the_check_sees_a_cycle_made_by_a_function_level_import(tmp_path):
    # The checker itself, on a two-package tree whose only back edge is a lazy import.
    root = tmp_path / "vodai"
    for package in ("a", "b"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "a" / "core.py").write_text("from ..b import tools\n")
    (root / "b" / "tools.py").write_text("def f():\n    from ..a.core import g\n")
    assert cycles(unit_graph(tmp_path)) == [["vodai.a", "vodai.b"]]
    (root / "b" / "tools.py").write_text("def f():\n    pass\n")
    assert cycles(unit_graph(tmp_path)) == []
