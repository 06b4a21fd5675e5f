"""The layers stay apart: the analysis never pulls in torch, the engine, the methods or the method core,
and the engine never imports the analysis (docs/CONTRACTS.md)."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ANALYSIS = REPO / "adamixbench" / "analysis"


def test_importing_the_analysis_loads_no_torch_engine_or_methods():
    code = (
        "import json, sys\n"
        "from adamixbench.analysis import aggregate, claims, plots, stats\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    loaded = set(json.loads(out))
    forbidden = {
        "torch",
        "transformers",
        "peft",
        "adapters",
        "adamix",
        "baselines",
        "adamixbench.trainer",
        "adamixbench.cli",
        "adamixbench.tasks",
    }
    assert not loaded & forbidden, sorted(loaded & forbidden)


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: resolve against the file's package
                package = ".".join(path.relative_to(REPO).with_suffix("").parts[: -node.level])
                module = f"{package}.{module}" if module else package
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_the_engine_never_imports_the_analysis():
    engine = [p for p in (REPO / "adamixbench").rglob("*.py") if ANALYSIS not in p.parents]
    offenders = {
        str(p.relative_to(REPO)): sorted(n for n in _imports(p) if n.startswith("adamixbench.analysis")) for p in engine
    }
    assert not {k: v for k, v in offenders.items() if v}


def _architecture():
    spec = importlib.util.spec_from_file_location("architecture", REPO / "scripts" / "architecture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_import_cycles_and_the_method_core_imports_no_methods_or_engine():
    """scripts/architecture.py's graph (every import, lazy ones too): no cycle between modules, `adamix`
    imports neither `baselines` nor `adamixbench`, and `baselines` never imports `adamixbench`."""
    architecture = _architecture()
    graph = architecture.import_graph()
    assert architecture.cycles(graph) == []
    upward = [
        (a, b)
        for a, b in graph.edges
        if (a.startswith("adamix.") or a == "adamix")
        and b.split(".")[0] in ("baselines", "adamixbench")
        or a.split(".")[0] == "baselines"
        and b.split(".")[0] == "adamixbench"
    ]
    assert upward == []


def test_the_import_graph_sees_lazy_imports_and_cycles(tmp_path, monkeypatch):
    """The checker itself: a lazy import inside a function is an edge, and two modules importing each
    other are reported as a cycle (else the test above could pass on a graph that misses edges)."""
    architecture = _architecture()
    package = tmp_path / "adamix"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import thing\n")
    (package / "b.py").write_text("def thing():\n    from adamix import a\n")
    monkeypatch.setattr(architecture, "REPO", tmp_path)
    monkeypatch.setattr(architecture, "PACKAGES", ("adamix",))
    assert [sorted(c) for c in architecture.cycles(architecture.import_graph())] == [["adamix.a", "adamix.b"]]
