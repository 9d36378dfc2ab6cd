"""Doing the exercise means writing it: find student cells that reach cnnlab's own answers.

cnnlab implements everything the lessons ask students to write (``conv2d_forward_naive`` is
``cnnlab.conv.conv2d_forward`` with loops), and ``cnnlab.grading`` holds a reference for every
exercise. A submission that calls them instead of its own code has not done the exercise.
:func:`scan` reads the cells a student could write (solution cells and their own cells) and
reports, per exercise, every place that reaches one of the exercise's ``implemented_by``
objects, or anything in ``cnnlab.grading`` but ``check``:

* by name or attribute chain (``cl.F.conv2d_forward``), through imports and aliases
  (``import cnnlab.functional as fn``, ``from cnnlab.conv import *``, ``f = cl.conv``), also
  where the alias was made in a cell of the lesson itself;
* ``getattr(obj, "constant")``, ``importlib.import_module("cnnlab.conv")`` and
  ``__import__("cnnlab.conv")`` with constant strings.

Names are resolved against the real cnnlab package, so ``cl.F`` and ``cl.functional`` are the
same module and a function re-exported under another name is still found. What it cannot
see: names computed at run time (``getattr(cl, "con" + "v")``, ``exec``, ``eval``, strings
built from parts, objects fetched through ``sys.modules`` or ``gc``). Those remain for a human
reader; the README says so.
"""

from __future__ import annotations

import ast
import importlib
import types
from dataclasses import dataclass

__all__ = ["Finding", "forbidden", "scan"]

# Magics that run the code they are given, or (writefile) store it in a file that %run or an
# import runs later: lesson 05 has its students write my_conv.py with %%writefile.
_MAGICS = {"time", "timeit", "prun", "capture", "debug", "writefile"}


@dataclass(frozen=True)
class Finding:
    """One place where a cell reaches a forbidden object."""

    cell: str      # how the grader names the cell, e.g. "cell 7" or "conv2d_forward_naive_solution"
    written: str   # what the cell wrote, e.g. "cl.F.conv2d_forward"
    reached: str   # the object's dotted name, e.g. "cnnlab.functional.conv2d_forward"

    def __str__(self) -> str:
        return f"{self.written} in {self.cell}"


def _resolve(path: str):
    """The objects along a dotted path in the cnnlab package (as far as it resolves)."""
    parts = path.split(".")
    if parts[0] != "cnnlab":
        return []
    obj = importlib.import_module("cnnlab")
    chain = [obj]
    for part in parts[1:]:
        if isinstance(obj, types.ModuleType):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                try:
                    obj = importlib.import_module(f"{obj.__name__}.{part}")
                except ImportError:
                    break
        elif isinstance(obj, type) and part in vars(obj):  # a class's own method or attribute
            obj = vars(obj)[part]
        else:
            break
        chain.append(obj)
    return chain


def _name(obj) -> str:
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', '?')}"


def forbidden(implemented_by) -> list:
    """The objects that the dotted names ``implemented_by`` designate."""
    found = []
    for path in implemented_by:
        chain = _resolve(path)
        if len(chain) != path.count(".") + 1:
            raise ValueError(f"implemented_by names {path!r}, which is not in the cnnlab package")
        found.append(chain[-1])
    return found


def _in_grading(obj) -> bool:
    name = obj.__name__ if isinstance(obj, types.ModuleType) else getattr(obj, "__module__", "") or ""
    return name == "cnnlab.grading" or name.startswith("cnnlab.grading.")


def _reached(chain, targets) -> object | None:
    """The first object of ``chain`` that is forbidden: one of ``targets``, or anything of
    ``cnnlab.grading`` except ``check`` itself (students may run the checks)."""
    import cnnlab.grading as grading

    if chain and chain[-1] is grading.check:
        return None
    return next((obj for obj in chain if any(obj is t for t in targets) or _in_grading(obj)), None)


class _Reader(ast.NodeVisitor):
    """Collects the dotted cnnlab paths a cell reaches, keeping aliases across cells."""

    def __init__(self, aliases: dict):
        self.aliases, self.paths = aliases, []

    def dotted(self, node) -> str | None:
        """``cnnlab.x.y`` for a Name/Attribute chain (or constant getattr) rooted at an alias."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                and isinstance(node.args[1].value, str):
            base = self.dotted(node.args[0])
            return f"{base}.{node.args[1].value}" if base else None
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str) and node.args[0].value.split(".")[0] == "cnnlab":
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name == "import_module":
                return node.args[0].value
            if name == "__import__":  # returns the top-level package
                return "cnnlab"
        return None

    def visit_Import(self, node):
        for alias in node.names:
            if alias.name.split(".")[0] == "cnnlab":
                if alias.asname:
                    self.aliases[alias.asname] = alias.name
                else:
                    self.aliases["cnnlab"] = "cnnlab"
                self.paths.append((alias.name, alias.name))

    def visit_ImportFrom(self, node):
        if node.level or not node.module or node.module.split(".")[0] != "cnnlab":
            return
        for alias in node.names:
            if alias.name == "*":
                self.paths.append((f"from {node.module} import *", f"{node.module}.*"))
                continue
            path = f"{node.module}.{alias.name}"
            self.aliases[alias.asname or alias.name] = path
            self.paths.append((path, path))

    def _assign(self, targets, value):
        path = self.dotted(value)
        for target in targets:
            names = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
            values = value.elts if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(names) \
                else [value] * len(names)
            for name, item in zip(names, values):
                if isinstance(name, ast.Name):
                    found = self.dotted(item) if item is not value else path
                    if found:
                        self.aliases[name.id] = found
                    else:
                        self.aliases.pop(name.id, None)

    def visit_Assign(self, node):
        self.generic_visit(node)
        self._assign(node.targets, node.value)

    def visit_AnnAssign(self, node):
        self.generic_visit(node)
        if node.value is not None:
            self._assign([node.target], node.value)

    def visit_NamedExpr(self, node):
        self.generic_visit(node)
        self._assign([node.target], node.value)

    def _unbind(self, target) -> None:
        """A name bound by a loop, a ``with`` or an ``except`` is no longer an alias."""
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                self.aliases.pop(node.id, None)

    def visit_For(self, node):
        self._unbind(node.target)
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_comprehension(self, node):
        self._unbind(node.target)
        self.generic_visit(node)

    def visit_withitem(self, node):
        if node.optional_vars is not None:
            self._unbind(node.optional_vars)
        self.generic_visit(node)

    def visit_FunctionDef(self, node):
        """A function's parameters hide aliases of the same name inside it (only there)."""
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
            self.visit(default)
        for decorator in node.decorator_list:
            self.visit(decorator)
        params = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
        params += [a.arg for a in (node.args.vararg, node.args.kwarg) if a is not None]
        hidden = {name: self.aliases.pop(name) for name in params if name in self.aliases}
        for statement in node.body:
            self.visit(statement)
        for name in params:
            self.aliases.pop(name, None)
        self.aliases.update(hidden)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node):
        params = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
        hidden = {name: self.aliases.pop(name) for name in params if name in self.aliases}
        self.visit(node.body)
        self.aliases.update(hidden)

    def _reference(self, node):
        path = self.dotted(node)
        if path:
            self.paths.append((ast.unparse(node), path))
            return True
        return False

    def visit_Attribute(self, node):
        if not self._reference(node):
            self.generic_visit(node)

    def visit_Name(self, node):
        self._reference(node)

    def visit_Call(self, node):
        if not self._reference(node):
            self.generic_visit(node)
        # %time x = ..., %%timeit and %%writefile cells: IPython turns them into calls with the code
        # as a string
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("run_line_magic", "run_cell_magic") and node.args \
                and isinstance(node.args[0], ast.Constant) and node.args[0].value in _MAGICS:
            for arg in node.args[1:]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    tree = _parse(arg.value)
                    if tree is not None:
                        self.visit(tree)


def _parse(source: str):
    """The cell as a Python syntax tree (IPython's magics turned into Python first)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        source = TransformerManager().transform_cell(source)
    except Exception:  # no IPython, or a cell it cannot transform: read it as it is
        pass
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def scan(cells, exercises) -> dict[str, list[Finding]]:
    """Every place an editable cell reaches a forbidden object, per exercise id.

    Args:
        cells: ``(label, source, editable)`` in notebook order; aliases made in any cell count,
            findings only in editable ones.
        exercises: the :class:`cnnlab.grading.Exercise` objects of the lesson.
    """
    targets = {ex.id: forbidden(ex.implemented_by) for ex in exercises}
    aliases: dict[str, str] = {}
    findings: dict[str, list[Finding]] = {ex.id: [] for ex in exercises}
    for label, source, editable in cells:
        tree = _parse(source)
        if tree is None:
            continue
        reader = _Reader(aliases)
        reader.visit(tree)
        if not editable:
            continue
        for written, path in reader.paths:
            star = path.endswith(".*")
            chain = _resolve(path[:-2] if star else path)
            for ex in exercises:
                if star:  # every public name of the module becomes reachable
                    module = chain[-1] if chain else None
                    members = list(vars(module).values()) if isinstance(module, types.ModuleType) else []
                    hit = next((t for t in targets[ex.id] if any(t is m for m in members)), None) \
                        or _reached(chain, [])
                else:
                    hit = _reached(chain, targets[ex.id])
                if hit is not None:
                    finding = Finding(label, written, _name(hit))
                    if finding not in findings[ex.id]:
                        findings[ex.id].append(finding)
    return findings
