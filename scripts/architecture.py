"""The import picture of the project's packages, read from the source with `ast` (nothing is imported):
modules per folder, import cycles between modules, imports that break the rooms' direction (ROOMS), and
functions longer than a limit.

    python scripts/architecture.py                 # the report
    python scripts/architecture.py --json out.json # the same as JSON (tests/pipeline/test_layers.py uses it)

An import counts where it is written, also inside a function (a lazy import still ties the two modules
together) but not under `if TYPE_CHECKING:` (never executed). Cycles are the strongly connected
components of that graph with more than one module (networkx), each printed with one cycle through it.
"""

from __future__ import annotations

import argparse
import ast
import json
from collections import Counter
from pathlib import Path

import networkx as nx

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("adamix", "baselines", "adamixbench")
LONG_FUNCTION_LINES = 60

#: room -> the rooms its modules may import (docs/CONTRACTS.md, "Rooms"). A module's room is its package
#: path (`adamixbench.engine.trainer` -> `adamixbench.engine`; `adamixbench.__main__` -> `adamixbench`).
#: Read bottom-up: the method core, then the methods; in the benchmark, sources and metrics are leaves,
#: tasks sit on them, plan (torch-free) on tasks, and analysis on plan; only the engine sees everything
#: but the analysis, and only the package's entry point imports the engine.
ROOMS: dict[str, set[str]] = {
    "adamix": {"adamix"},
    "baselines": {"adamix", "baselines"},
    "adamixbench.sources": {"adamixbench.sources"},
    "adamixbench.metrics": {"adamixbench.metrics"},
    "adamixbench.tasks": {"adamixbench.tasks", "adamixbench.metrics", "adamixbench.sources"},
    "adamixbench.plan": {"adamixbench.plan", "adamixbench.tasks", "adamixbench.sources", "adamix", "baselines"},
    "adamixbench.analysis": {"adamixbench.analysis", "adamixbench.plan", "adamixbench.sources"},
    "adamixbench.engine": {
        "adamixbench.engine",
        "adamixbench.plan",
        "adamixbench.tasks",
        "adamixbench.metrics",
        "adamixbench.sources",
        "adamix",
        "baselines",
    },
    "adamixbench": {"adamixbench", "adamixbench.engine", "adamixbench.sources"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.AST, parents: dict) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The project modules that `path` imports (`from pkg import name` counts pkg.name when it is a module)."""
    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    is_package = path.name == "__init__.py"
    here = module_name(path).split(".")
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom) or _type_checking_only(node, parents):
            continue
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = here if is_package else here[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for name in candidates:
            while name and name not in known:  # a.b.C (a class) -> a.b
                name = name.rpartition(".")[0]
            if name and name != module_name(path):
                found.add(name)
    return found


def import_graph() -> nx.DiGraph:
    files = [p for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))]
    known = {module_name(p) for p in files}
    graph = nx.DiGraph()
    for path in files:
        graph.add_node(module_name(path))
        for target in imported_modules(path, known):
            if not (target in module_name(path) and path.name == "__init__.py"):
                graph.add_edge(module_name(path), target)
    return graph


def cycles(graph: nx.DiGraph) -> list[list[str]]:
    """One cycle through each strongly connected component of more than one module."""
    found = []
    for component in nx.strongly_connected_components(graph):
        if len(component) > 1:
            found.append(next(nx.simple_cycles(graph.subgraph(component))))
    return sorted(found)


def room_of(module: str) -> str:
    """The room a module lives in: the longest ROOMS key that is the module or a package above it."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in ROOMS:
            return ".".join(parts[:end])
    raise KeyError(f"{module} is in no room of ROOMS; add its folder to scripts/architecture.py")


def wrong_way_imports(graph: nx.DiGraph) -> list[tuple[str, str]]:
    """(importer, imported) for every import whose target room the importer's room may not import."""
    return sorted((a, b) for a, b in graph.edges if room_of(b) not in ROOMS[room_of(a)])


def long_functions(limit: int = LONG_FUNCTION_LINES) -> list[tuple[str, int]]:
    """(module.function, lines) of every function longer than `limit` lines, longest first."""
    found = []
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > limit:
                        found.append((f"{module_name(path)}.{node.name}", lines))
    return sorted(found, key=lambda item: -item[1])


def picture() -> dict:
    graph = import_graph()
    rooms = Counter(name.rpartition(".")[0] or name for name in graph.nodes)
    return {
        "modules_per_folder": dict(sorted(rooms.items())),
        "cycles": cycles(graph),
        "wrong_way_imports": wrong_way_imports(graph),
        "long_functions": long_functions(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the picture as JSON")
    args = parser.parse_args()
    found = picture()
    print("modules per folder:")
    for folder, n in found["modules_per_folder"].items():
        print(f"  {folder:<28} {n}")
    print(f"import cycles: {len(found['cycles'])}")
    for cycle in found["cycles"]:
        print("  " + " -> ".join([*cycle, cycle[0]]))
    print(f"imports against the rooms' direction: {len(found['wrong_way_imports'])}")
    for importer, imported in found["wrong_way_imports"]:
        print(f"  {importer} -> {imported}")
    print(f"functions over {LONG_FUNCTION_LINES} lines: {len(found['long_functions'])}")
    for name, lines in found["long_functions"]:
        print(f"  {lines:>4}  {name}")
    if args.json:
        args.json.write_text(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
