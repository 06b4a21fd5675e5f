"""The layers stay apart: the analysis never pulls in torch, the engine, the methods or the method core,
and the engine never imports the analysis (docs/CONTRACTS.md)."""

from __future__ import annotations

import ast
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
