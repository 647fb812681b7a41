"""The shape of the code: no import cycle among the project's modules (imports inside functions
included, ``if TYPE_CHECKING:`` ones excepted), and code outside ``rt_core`` imports only its public
face: ``rt_core`` itself or a submodule that docs/api.md lists under "Documented submodules".

Imports are read with ``ast`` from the source, so an import hidden inside a function counts as much
as one at the top of a module. ``from rt_core import NAME`` is an edge to the module that defines
NAME (the face imports it on first use), so a cycle through the lazy face is found too.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import rt_core

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("rt_core", "plugins", "theory", "benchmarks")
OUTSIDE = ("plugins", "theory", "benchmarks", "examples")  # code that must keep to the face
LAZY_FACE = {**rt_core._LAZY, **{name: module for name, (module, _) in rt_core._RENAMED.items()}}


@dataclass(frozen=True)
class Import:
    """``source`` (a file) imports ``module`` at ``line``; ``names``: what a ``from`` import takes."""

    source: str
    line: int
    module: str
    names: tuple[str, ...]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the project's packages, by dotted name."""
    return {module_name(p, root): p for package in PACKAGES for p in sorted((root / package).rglob("*.py"))}


def _type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _walk(node: ast.AST):
    """Every node under ``node``, function bodies included, ``if TYPE_CHECKING:`` bodies left out."""
    for child in ast.iter_child_nodes(node):
        if _type_checking(child):
            for other in child.orelse:
                yield other
                yield from _walk(other)
            continue
        yield child
        yield from _walk(child)


def imports_of(source: str, name: str, is_package: bool, where: str = "") -> list[Import]:
    """The imports in ``source``, the text of module ``name``, relative ones resolved."""
    found = []
    for node in _walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Import(where, node.lineno, a.name, ()) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                package = package[:len(package) - node.level + 1]
                base = ".".join(package + ([base] if base else []))
            found.append(Import(where, node.lineno, base, tuple(a.name for a in node.names)))
    return found


def edges(imp: Import, modules: dict[str, Path]) -> set[str]:
    """The project modules an import loads: ``from X import Y`` is X.Y when that is a module, the
    module defining Y when X is the lazy face ``rt_core``, else X."""
    if not imp.names:
        return {imp.module} & set(modules)
    out = set()
    for n in imp.names:
        full = f"{imp.module}.{n}"
        if full in modules:
            out.add(full)
        elif imp.module == "rt_core" and n in LAZY_FACE:
            out.add(LAZY_FACE[n])
        elif imp.module in modules:
            out.add(imp.module)
    return out


def import_graph(modules: dict[str, Path]) -> dict[str, dict[str, Import]]:
    """module -> {imported module: the first import of it}."""
    graph: dict[str, dict[str, Import]] = {}
    for name, path in modules.items():
        graph[name] = {}
        for imp in imports_of(path.read_text(), name, path.name == "__init__.py", str(path.relative_to(ROOT))):
            for target in sorted(edges(imp, modules)):
                graph[name].setdefault(target, imp)
    return graph


def cycles(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """The strongly connected components with a cycle (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, {}):
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def documented_submodules(doc: str) -> set[str]:
    """The ``- `rt_core.x`:`` items of docs/api.md's "Documented submodules" section."""
    section = doc.split("## Documented submodules", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^- `(rt_core(?:\.\w+)+)`", section, flags=re.M))


def face_violations(imp: Import, documented: set[str]) -> list[str]:
    """Why ``imp`` (in code outside rt_core) leaves the public face; [] when it keeps to it."""
    root = imp.module.split(".")[0]
    if root != "rt_core":
        return []
    where = f"{imp.source}:{imp.line}"
    if imp.module == "rt_core":
        hidden = [n for n in imp.names if n not in rt_core.__all__]
        return [f"{where} imports {', '.join(hidden)} from rt_core, which does not export it"] if hidden else []
    if imp.module in documented:
        return []
    return [f"{where} imports {imp.module}, an internal module; import from rt_core or one of "
            f"{', '.join(sorted(documented))}, or export the name there (and list it in docs/api.md)"]


def test_no_import_cycle_among_the_projects_modules():
    graph = import_graph(project_modules())
    report = []
    for component in cycles(graph):
        links = [f"{graph[a][b].source}:{graph[a][b].line} ({a} -> {b})" for a in component for b in graph[a]
                 if b in component]
        report.append(f"cycle among {', '.join(component)}: " + "; ".join(links))
    assert report == []


def test_code_outside_rt_core_imports_only_the_documented_face():
    documented = documented_submodules((ROOT / "docs" / "api.md").read_text())
    assert {"rt_core.cli", "rt_core.reporting", "rt_core.engine"} <= documented
    problems = []
    files = [p for top in OUTSIDE for p in sorted((ROOT / top).rglob("*.py"))]
    assert len(files) > 20
    for path in files:
        name = module_name(path, ROOT)
        for imp in imports_of(path.read_text(), name, path.name == "__init__.py", str(path.relative_to(ROOT))):
            problems += face_violations(imp, documented)
    assert problems == []


def test_every_documented_submodule_exports_what_it_lists():
    import importlib

    for name in documented_submodules((ROOT / "docs" / "api.md").read_text()):
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            assert getattr(module, attr) is not None, f"{name}.{attr}"


def test_the_cycle_finder_sees_imports_inside_functions_and_skips_type_checking_ones():
    """The two checks above can fail: a cycle closed by an import inside a function is found, one
    closed only under ``if TYPE_CHECKING:`` is not, and an internal import from outside is named."""
    sources = {
        "pkg.a": "from pkg.b import f\n",
        "pkg.b": "def f():\n    from pkg import a\n    return a\n",
        "pkg.c": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import x\n",
        "pkg.d": "import pkg.c\n",
        "pkg": "",
    }
    modules = {name: Path(name) for name in sources}
    graph = {name: {t: imp for imp in imports_of(src, name, name == "pkg") for t in edges(imp, modules)}
             for name, src in sources.items()}
    assert cycles(graph) == [["pkg.a", "pkg.b"]]
    assert "pkg.a" not in graph["pkg.c"] and "pkg.c" in graph["pkg.d"]
    bad = imports_of("def g():\n    from rt_core.experiment.sweep import run_sweep\n", "theory.x", False, "x.py")
    assert face_violations(bad[0], {"rt_core.engine"}) and not face_violations(
        imports_of("from rt_core.engine import run_sweep\n", "theory.x", False)[0], {"rt_core.engine"})
    assert face_violations(imports_of("from rt_core import experiment\n", "plugins.x", False)[0], set())


def _example_text(name: str) -> str:
    """The docstring that must show ``name`` in use: its own for a class or function; for a marker or
    a type alias (``hookimpl``, ``Params``: objects without a docstring of their own) the docstring of
    the module defining it."""
    import importlib
    import inspect

    obj = getattr(rt_core, name)
    if inspect.isclass(obj):
        return obj.__dict__.get("__doc__") or ""  # its own, not a base class's
    if inspect.isfunction(obj):
        return obj.__doc__ or ""
    module = importlib.import_module(LAZY_FACE[name])
    return module.__doc__ if name in (module.__doc__ or "") else ""


def test_every_public_name_and_builtin_plugin_class_has_a_runnable_example():
    """kornia's habit: each name of the face and each built-in plugin's class carries a doctest (run by
    ``make test``: pytest --doctest-modules over rt_core and plugins)."""
    missing = [name for name in rt_core.__all__ if name != "__version__" and ">>>" not in _example_text(name)]
    builtin = [spec.factory for specs in (rt_core.list_augmentations(), rt_core.list_regularizers())
               for spec in specs if spec.factory.__module__.startswith("plugins.")]
    assert len(builtin) == 8
    missing += [cls.__qualname__ for cls in builtin if ">>>" not in (cls.__dict__.get("__doc__") or "")]
    assert missing == []
