"""The import layering of the cnnlab package, read from its source.

Lessons reach the widgets; nothing inside cnnlab does (a widget tweak must not change what a
check expects). The grading imports computing modules only, never the widgets or the course
tools (the grader's side imports the grading, not the other way round). No module imports
itself through others. Every import counts, also one inside a function (it runs sooner or
later); the package ``__init__``'s lazy attribute access (``cl.widgets``) is no import
statement, so it is not in the graph.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cnnlab"


def module_names(root: Path) -> dict:
    """``{"cnnlab.grading.core": path, ...}`` for every module of the package at ``root``."""
    names = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def imports(modules: dict) -> dict:
    """``{module: set of package modules it imports}``. ``from pkg import name`` counts as an
    import of ``pkg.name`` when that is a module, else of ``pkg``."""
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def cycles(graph: dict) -> list:
    """The groups of modules that import each other, directly or not (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while not group or v not in group:
                group.add(stack.pop())
            on_stack.difference_update(group)
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def importers(graph: dict, target: str) -> list:
    """``(importer, imported)`` pairs where a module outside ``target`` imports ``target`` or a
    module inside it."""
    inside = lambda m: m == target or m.startswith(target + ".")  # noqa: E731
    return sorted((m, i) for m, found in graph.items() if not inside(m) for i in found if inside(i))


@pytest.fixture(scope="module")
def graph():
    return imports(module_names(PACKAGE))


def test_the_graph_is_read_from_the_source(graph):
    assert {"cnnlab.grading.core", "cnnlab.widgets.conv_explorer", "cnnlab.course.scan"} <= set(graph)
    assert "cnnlab.examples" in graph["cnnlab.grading.lesson01"]          # from .. import examples
    assert "cnnlab.grading.plain" in graph["cnnlab.grading.core"]         # from . import plain
    assert "cnnlab.conv" in graph["cnnlab.widgets.pool_explorer"]         # from ..conv import arithmetic
    assert "cnnlab.plot" in graph["cnnlab.widgets._explore"]              # imported inside a function


def test_no_module_of_the_package_imports_the_widgets(graph):
    assert importers(graph, "cnnlab.widgets") == []


def test_the_grading_imports_neither_the_widgets_nor_the_course(graph):
    grading = {m: found for m, found in graph.items() if m == "cnnlab.grading" or m.startswith("cnnlab.grading.")}
    reached = sorted((m, i) for m, found in grading.items() for i in found
                     if i.startswith(("cnnlab.widgets", "cnnlab.course")))
    assert reached == []


def test_no_cycles(graph):
    assert cycles(graph) == []


def test_a_broken_layering_would_be_caught(tmp_path):
    """The same checks on a small made-up package that breaks every rule."""
    root = tmp_path / "cnnlab"
    for name, source in {
        "__init__.py": "",
        "conv.py": "def f():\n    from .grading import lesson04\n",
        "widgets/__init__.py": "",
        "widgets/conv_explorer.py": "from ..conv import f\n",
        "grading/__init__.py": "",
        "grading/lesson04.py": "from ..widgets import conv_explorer\nimport cnnlab.course.scan\n",
        "course/__init__.py": "",
        "course/scan.py": "",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(source)
    made_up = imports(module_names(root))
    assert importers(made_up, "cnnlab.widgets") == [("cnnlab.grading.lesson04", "cnnlab.widgets.conv_explorer")]
    assert made_up["cnnlab.grading.lesson04"] == {"cnnlab.widgets.conv_explorer", "cnnlab.course.scan"}
    assert cycles(made_up) == [["cnnlab.conv", "cnnlab.grading.lesson04", "cnnlab.widgets.conv_explorer"]]
