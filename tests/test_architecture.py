"""The package's shape holds: no import cycle, check families independent, no tracker references."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "gate"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(tree: ast.Module, module: str, is_package: bool, modules: set[str]) -> set[str]:
    """Modules imported when the module runs (anywhere, functions included), not those under TYPE_CHECKING.

    `from gate.checks import dns` imports the module gate.checks.dns; `from gate.checks import CHECKS`
    the package gate.checks."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported = _runtime_imports(ast.parse(path.read_text()), name, path.name == "__init__.py", set(modules))
        graph[name] = {target for target in imported if target in modules and target != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = walk(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = walk(node)
            if found:
                return found
    return None


def test_no_import_cycle_in_the_package():
    """Walking every module's imports (function-level ones included) finds no cycle."""
    graph = import_graph()
    assert "gate.run" in graph and graph["gate.run"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle():
    """The finder itself reports a cycle when there is one (so the test above can fail)."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_check_families_never_import_each_other():
    """A family module imports gate.checks.base and gate.domain, never another family."""
    from gate.checks import FAMILIES

    families = {f.__name__ for f in FAMILIES}
    graph = import_graph()
    for family in families:
        assert not (graph[family] & (families - {family})), family


def test_domain_does_no_io_and_knows_no_checks():
    """gate.domain is semantics only: it imports neither checks, probes, sources nor network libraries."""
    graph = import_graph()
    forbidden = ("gate.checks", "gate.probes", "gate.sources", "gate.report", "gate.run", "gate.cli")
    for name, edges in graph.items():
        if name.startswith("gate.domain"):
            assert not [e for e in edges if e.startswith(forbidden)], (name, edges)
            text = (PACKAGE / Path(*name.split(".")[1:])).with_suffix(".py").read_text() \
                if not (PACKAGE / Path(*name.split(".")[1:])).is_dir() else ""
            assert not re.search(r"^\s*(import|from) (httpx|dns|lightkube|socket|subprocess)\b", text, re.M), name


def test_no_code_refers_to_the_tracker():
    """Code, docstrings and the policy schema say what and why, never which ticket asked for it."""
    pattern = re.compile(r"\b[Ii]ssues? \d+\b|\(issue \d+\)")
    offenders = [str(p.relative_to(ROOT)) for p in [*PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.json"),
                                                    *(ROOT / "tests").glob("**/*.py")]
                 if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
