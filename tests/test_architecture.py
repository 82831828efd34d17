"""The layout's rules, checked on the source text (nothing is imported):

* no import cycle among the project's modules, counting imports inside functions and under
  ``TYPE_CHECKING`` (a cycle hidden in a function is still a knot a reader has to untie);
* the core (``bench/``) never imports ``encoders/`` or ``tasks/``: it reaches them through the
  registries, whose entries are ``"module:attr"`` strings and entry points, not imports.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bench", "encoders", "tasks")

Edges = dict[str, dict[str, int]]  # module → imported project module → first line


def project_modules(root: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _imported(node: ast.AST, module: str, is_package: bool, known: set[str]) -> Iterator[str]:
    """Project modules an import statement names (``from pkg import mod`` names ``pkg.mod``)."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            source = ".".join([*base, *([node.module] if node.module else [])])
        else:
            source = node.module or ""
        for alias in node.names:
            candidate = f"{source}.{alias.name}"
            yield candidate if candidate in known else source


def import_graph(root: Path = ROOT) -> Edges:
    modules = project_modules(root)
    known = set(modules)
    graph: Edges = {}
    for module, path in modules.items():
        edges: dict[str, int] = {}
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            for target in _imported(node, module, path.name == "__init__.py", known):
                while target and target not in known:  # `import bench.x.y.attr` → the module that exists
                    target = target.rpartition(".")[0]
                if target and target != module:
                    edges.setdefault(target, getattr(node, "lineno", 0))
        graph[module] = edges
    return graph


def cycles(graph: Edges) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _describe(component: list[str], graph: Edges, root: Path) -> str:
    paths = project_modules(root)
    inside = set(component)
    lines = [
        f"  {paths[a].relative_to(root)}:{line} imports {b}"
        for a in component
        for b, line in sorted(graph[a].items())
        if b in inside
    ]
    return "\n".join(lines)


def test_no_import_cycles() -> None:
    graph = import_graph()
    assert len(graph) > 50  # the whole tree was read
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n\n".join(_describe(c, graph, ROOT) for c in found)


def test_core_reaches_encoders_and_tasks_only_through_registries() -> None:
    graph = import_graph()
    paths = project_modules(ROOT)
    bad = [
        f"{paths[module].relative_to(ROOT)}:{line} imports {target}"
        for module, edges in graph.items()
        if module.split(".")[0] == "bench"
        for target, line in edges.items()
        if target.split(".")[0] in ("encoders", "tasks")
    ]
    assert not bad, "bench/ must reach encoders/ and tasks/ through the registries:\n" + "\n".join(bad)


def test_the_checker_sees_function_level_and_relative_cycles(tmp_path: Path) -> None:
    """The checks above can fail: a cycle closed inside a function, and one through a relative import."""
    (tmp_path / "bench" / "sub").mkdir(parents=True)
    (tmp_path / "encoders").mkdir()
    (tmp_path / "tasks").mkdir()
    files = {
        "bench/__init__.py": "",
        "bench/a.py": "from bench import b\n",
        "bench/b.py": "def f():\n    import bench.a.thing\n",
        "bench/sub/__init__.py": "from .c import x\n",
        "bench/sub/c.py": "from bench.sub import d\n",
        "bench/sub/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n "
        "   from . import c\nimport encoders.e\n",
        "encoders/__init__.py": "",
        "encoders/e.py": "",
        "tasks/__init__.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path)
    assert cycles(graph) == [["bench.a", "bench.b"], ["bench.sub.c", "bench.sub.d"]]
    assert graph["bench.sub.d"]["encoders.e"] == 4
