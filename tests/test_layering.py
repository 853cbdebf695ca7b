"""The floors of the package hold: no import cycles, and the low layers never import the high ones.

Every import statement of every module under `rnnzoo/` counts, those inside
functions included (a lazy import is still a dependency; it only hides a
cycle from the interpreter). `import a.b.c` and `from a.b import c` are an
edge to the module `a.b.c` when there is one, else to `a.b`. `rnnzoo/__init__.py`
is the API surface on top of everything and is left out, and so is a
module's import of a package it belongs to (`rnnzoo.models.tagger.family`
importing `rnnzoo.models`): a package's `__init__` gathers its own modules.
"""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "rnnzoo")

#: The low floors (STYLE.md: layers, text, data, the config schema and export at the bottom, models above
#: them), and what they must never import: the training loop, the zoo, the CLI and what sits on them.
#: (`rnnzoo.config` validates a config against its family's sections, so it sits above `rnnzoo.models`.)
FLOORS = ("rnnzoo.layers", "rnnzoo.text", "rnnzoo.data", "rnnzoo.models", "rnnzoo.generation", "rnnzoo.metrics",
          "rnnzoo.artifacts", "rnnzoo.utils", "rnnzoo.schema", "rnnzoo.export")
HIGH = ("rnnzoo.training", "rnnzoo.zoo", "rnnzoo.cli", "rnnzoo.evaluation", "rnnzoo.downloads", "rnnzoo.tuning",
        "rnnzoo.config")


def _modules(package):
    """`{dotted name: file path}` of every module and package (namespace packages included) under `package`."""
    modules = {}
    for folder, dirs, files in os.walk(package):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")) and d != "__pycache__")
        rel = os.path.relpath(folder, os.path.dirname(package)).replace(os.sep, ".")
        if any(f.endswith(".py") for f in files):
            modules.setdefault(rel, os.path.join(folder, "__init__.py"))
        for file in sorted(files):
            if file.endswith(".py") and file != "__init__.py":
                modules[f"{rel}.{file[:-3]}"] = os.path.join(folder, file)
    return modules


def _targets(node, module, is_package, modules):
    """The rnnzoo modules one import statement of `module` depends on."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
        return [_nearest_module(name, modules) for name in names if name.split(".")[0] == "rnnzoo"]
    base = node.module or ""
    if node.level:
        parts = module.split(".") if is_package else module.split(".")[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([base] if base else []))
    if base.split(".")[0] != "rnnzoo":
        return []
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else _nearest_module(base, modules)
            for alias in node.names]


def _nearest_module(name, modules):
    while name not in modules and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def import_graph(package=PACKAGE):
    """`{module: set of rnnzoo modules it imports}` over every module but `rnnzoo` itself."""
    modules = _modules(package)
    graph = {}
    for module, path in modules.items():
        if module == "rnnzoo":
            continue
        edges = set()
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read(), path)
            is_package = path.endswith("__init__.py")
            for node in ast.walk(tree):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    edges.update(_targets(node, module, is_package, modules))
        graph[module] = {t for t in edges if t != "rnnzoo" and t != module and not module.startswith(t + ".")}
    if "rnnzoo.models" in graph:  # the family registry imports every `rnnzoo/models/<family>/family.py` by name
        graph["rnnzoo.models"] |= {m for m in modules if m.startswith("rnnzoo.models.") and m.endswith(".family")}
    return graph


def strongly_connected(graph):
    """Tarjan's strongly connected components of more than one module, each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def a_cycle(graph, component):
    """One shortest import cycle through the first module of a strongly connected component, as a path."""
    start, inside = component[0], set(component)
    paths, seen = [[start]], {start}
    while paths:
        path = paths.pop(0)
        for nxt in sorted(graph[path[-1]] & inside):
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                paths.append(path + [nxt])
    return component


def _under(module, prefixes):
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_the_graph_sees_lazy_relative_and_package_imports(tmp_path):
    files = {
        "__init__.py": "from rnnzoo.top import api\n",
        "top.py": "import rnnzoo\nfrom rnnzoo import low\n",
        "low.py": "def late():\n    from rnnzoo.pkg.b import thing  # a lazy import counts\n",
        "pkg/__init__.py": "from .b import thing\n",
        "pkg/b.py": "import os\nfrom rnnzoo.pkg import helper\nfrom . import c\nfrom .. import low\nimport rnnzoo.pkg.c\n",
        "pkg/c.py": "from rnnzoo.pkg.b import thing\n",
        "ns/d.py": "import rnnzoo.ns\n",  # a namespace package (no __init__.py)
    }
    for name, text in files.items():
        path = tmp_path / "rnnzoo" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    graph = import_graph(str(tmp_path / "rnnzoo"))
    assert graph == {
        "rnnzoo.top": {"rnnzoo.low"},  # `import rnnzoo` (the API on top) is left out
        "rnnzoo.low": {"rnnzoo.pkg.b"},
        "rnnzoo.pkg": {"rnnzoo.pkg.b"},
        "rnnzoo.pkg.b": {"rnnzoo.pkg.c", "rnnzoo.low"},  # its own package `rnnzoo.pkg` is left out
        "rnnzoo.pkg.c": {"rnnzoo.pkg.b"},
        "rnnzoo.ns": set(),
        "rnnzoo.ns.d": set(),
    }
    (cycle,) = strongly_connected(graph)
    assert cycle == ["rnnzoo.low", "rnnzoo.pkg.b", "rnnzoo.pkg.c"]
    assert a_cycle(graph, cycle) == ["rnnzoo.low", "rnnzoo.pkg.b", "rnnzoo.low"]


def test_no_import_cycles():
    graph = import_graph()
    cycles = strongly_connected(graph)
    report = "\n".join(f"import cycle among {', '.join(c)}; e.g. {' -> '.join(a_cycle(graph, c))}" for c in cycles)
    print(report)
    assert not cycles, report


def test_low_floors_never_import_the_high_ones():
    graph = import_graph()
    wrong = sorted(
        (module, target)
        for module, targets in graph.items()
        if _under(module, FLOORS)
        for target in targets
        if _under(target, HIGH)
    )
    report = "\n".join(f"{module} imports {target}" for module, target in wrong)
    print(report)
    assert not wrong, report
