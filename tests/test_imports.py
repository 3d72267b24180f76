"""No import cycle in the package (issue 11): every module imports on its own, and the graph of
its imports (module level and inside functions; `if TYPE_CHECKING:` blocks excepted) has no
cycle, so no bottom-of-file or function-local import hides one."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import replaystore

PACKAGE = Path(replaystore.__file__).parent

# Imports each module with every module of the package forgotten first, one child process
# for all: third-party modules stay loaded, so this takes seconds, not one interpreter each.
ISOLATED = """
import importlib, json, sys, traceback
package, names = sys.argv[1], json.loads(sys.argv[2])
failed = {}
for name in names:
    for loaded in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except BaseException:
        failed[name] = traceback.format_exc(limit=-3)
print(json.dumps(failed))
"""


def module_names(root: Path) -> dict[str, Path]:
    """Every module under the package folder `root`, by dotted name (`__main__`, which runs
    the command line when imported, excepted)."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        if path.name == "__main__.py":
            continue
        parts = path.relative_to(root.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (a parent package's own `__init__` run by
    importing a submodule is not counted: that is how packages work, not a cycle)."""
    modules = module_names(root)
    return {
        name: {m for m in _imported(ast.parse(path.read_text()), name, path, modules) if m != name}
        for name, path in modules.items()
    }


def _imported(tree: ast.Module, name: str, path: Path, modules: dict) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            subs = [f"{base}.{a.name}" for a in node.names]
            found.update(s for s in subs if s in modules)
            if base in modules and any(s not in modules for s in subs):
                found.add(base)
    return found


def _runtime_nodes(node: ast.AST):
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            yield from (n for s in child.orelse for n in [s, *_runtime_nodes(s)])
            continue
        yield child
        yield from _runtime_nodes(child)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path `[a, b, ..., a]`, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def import_alone(root: Path) -> dict[str, str]:
    """Module -> traceback, for each module of the package at `root` that fails to import
    when it is the first of the package to be imported."""
    names = list(module_names(root))
    result = subprocess.run(
        [sys.executable, "-c", ISOLATED, root.name, json.dumps(names)],
        cwd=root.parent,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_module_imports_on_its_own():
    assert import_alone(PACKAGE) == {}


def test_the_package_has_no_import_cycle():
    assert find_cycle(import_graph(PACKAGE)) is None


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    root.mkdir()
    for name, text in {"__init__.py": "", **files}.items():
        (root / name).write_text(textwrap.dedent(text))
    return root


def test_a_cycle_hidden_by_a_bottom_import_is_found(tmp_path):
    root = _package(
        tmp_path,
        {
            "a.py": """
                def f():
                    return g()

                from pkg.b import g  # noqa: E402
            """,
            "b.py": """
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from pkg.c import C

                def g():
                    from pkg import a
                    return a
            """,
            "c.py": "from pkg.a import f\nclass C: ...\n",
        },
    )
    assert import_alone(root) == {}  # it imports fine, which is why it needs the graph
    assert find_cycle(import_graph(root)) == ["pkg.a", "pkg.b", "pkg.a"]


def test_a_module_that_fails_alone_is_reported(tmp_path):
    root = _package(
        tmp_path,
        {"a.py": "from pkg.b import B\nA = 1\n", "b.py": "from pkg.a import A\nB = 2\n"},
    )
    failed = import_alone(root)
    assert set(failed) == {"pkg.a", "pkg.b"}
    assert "partially initialized" in failed["pkg.a"]
    assert find_cycle(import_graph(root)) == ["pkg.a", "pkg.b", "pkg.a"]


# The api layer (request syntax, HTTP errors) sits above the stages; none of them reaches up.
API_LAYER = {"replaystore.api", "replaystore.params", "replaystore.job_params", "replaystore.wsgi"}
STAGES = (
    "replaystore.fields",
    "replaystore.ingest",
    "replaystore.storage",
    "replaystore.search",
    "replaystore.query",
    "replaystore.engines",
)


def _names_imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_no_stage_imports_the_api_layer():
    graph = import_graph(PACKAGE)
    reaching_up = {
        name: sorted(graph[name] & API_LAYER)
        for name in graph
        if name.startswith(STAGES) and graph[name] & API_LAYER
    }
    assert reaching_up == {}


def test_the_query_stage_raises_no_api_error():
    """Request syntax and HTTP statuses are the api layer's: `query/` raises its own errors."""
    modules = module_names(PACKAGE)
    users = sorted(
        name
        for name, path in modules.items()
        if name.startswith("replaystore.query")
        and {"replaystore.errors.ApiError", "replaystore.errors.NotFound"} & _names_imported(path)
    )
    assert users == []
