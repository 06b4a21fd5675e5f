"""The layers stay apart: the analysis never pulls in torch, the engine, the methods or the method core,
and every import follows the rooms' direction of scripts/architecture.py (docs/CONTRACTS.md)."""

from __future__ import annotations

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
        "from adamixbench.analysis import claims, comparisons, layouts, plots, records, render, stats, tables\n"
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
        "adamixbench.engine",
        "adamixbench.tasks.classification",
        "adamixbench.tasks.prompting",
        "adamixbench.tasks.generation",
    }
    assert not loaded & forbidden, sorted(loaded & forbidden)


def _architecture():
    spec = importlib.util.spec_from_file_location("architecture", REPO / "scripts" / "architecture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_import_cycles_and_every_import_follows_the_rooms_direction():
    """scripts/architecture.py's graph (every import, lazy ones too): no cycle between modules, and every
    import goes where its room may look (architecture.ROOMS): the method core imports neither the methods
    nor the benchmark, plan/ and analysis/ never import engine/, metrics/ and sources/ import nothing
    else of the house, and only the entry point imports the engine."""
    architecture = _architecture()
    graph = architecture.import_graph()
    assert architecture.cycles(graph) == []
    assert architecture.wrong_way_imports(graph) == []


def test_every_module_lives_in_a_room():
    architecture = _architecture()
    assert all(architecture.room_of(module) for module in architecture.import_graph().nodes)


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


def test_the_room_check_sees_an_import_against_the_direction(tmp_path, monkeypatch):
    """The checker itself: plan/ importing engine/ (even lazily) and metrics/ importing tasks/ are reported."""
    architecture = _architecture()
    root = tmp_path / "adamixbench"
    for room in ("plan", "engine", "metrics", "tasks"):
        (root / room).mkdir(parents=True)
        (root / room / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "engine" / "cli.py").write_text("from adamixbench.plan import smoke\n")
    (root / "plan" / "smoke.py").write_text("def f():\n    from adamixbench.engine import cli\n")
    (root / "tasks" / "glue.py").write_text("")
    (root / "metrics" / "glue.py").write_text("from adamixbench.tasks.glue import x\n")
    monkeypatch.setattr(architecture, "REPO", tmp_path)
    monkeypatch.setattr(architecture, "PACKAGES", ("adamixbench",))
    assert architecture.wrong_way_imports(architecture.import_graph()) == [
        ("adamixbench.metrics.glue", "adamixbench.tasks.glue"),
        ("adamixbench.plan.smoke", "adamixbench.engine"),
        ("adamixbench.plan.smoke", "adamixbench.engine.cli"),
    ]
