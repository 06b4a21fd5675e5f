"""Targeted mutation testing: inject plausible single-line bugs, one at a time, and check a test fails.

The mutants live in `scripts/mutants.toml`: each names a file, an exact code snippet that must occur
there exactly once, its replacement (the injected bug) and the tests that should catch it. Each mutant
is applied to a scratch copy of the repository (the working tree is never modified), the tests run with
`pytest -x`, and the mutant is "killed" when they fail, "survived" when they pass. A mutant whose
snippet is no longer in the code (the code was rewritten) is skipped with a warning: update its entry.

    python scripts/mutants.py                      # every mutant (make mutants)
    python scripts/mutants.py --only trainer       # ids starting with "trainer"
    python scripts/mutants.py --list               # the mutants and whether each snippet still applies
    python scripts/mutants.py --json out.json      # also write the results as JSON

Why not mutmut / cosmic-ray over the whole package: both generate thousands of operator swaps and
re-run the selected tests for each; on a 2-core machine with a test suite that trains small models that
takes hours. A curated list of bugs a person could plausibly write (a dropped `.detach()`, the wrong
quantity in the warmup, a cache that never refreshes) costs minutes and measures what matters: whether
the tests written for a behaviour see it break. See docs/TESTING.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MUTANTS_FILE = REPO / "scripts" / "mutants.toml"
# Untracked assets the tests use when present (git-ignored); linked into the scratch copy.
ASSETS = (".cache",)


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    find: str
    replace: str
    tests: tuple[str, ...]
    why: str


def load_mutants(path: Path = MUTANTS_FILE) -> list[Mutant]:
    data = tomllib.loads(path.read_text())
    groups = data.get("tests", {})
    mutants = []
    for entry in data["mutant"]:
        tests = entry["tests"]
        tests = groups[tests] if isinstance(tests, str) else tests
        mutants.append(Mutant(entry["id"], entry["file"], entry["find"], entry["replace"], tuple(tests), entry["why"]))
    ids = [m.id for m in mutants]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SystemExit(f"{path}: duplicate mutant ids {duplicates}")
    return mutants


def applicable(mutant: Mutant, root: Path) -> str | None:
    """None when the mutant applies to the code under `root`, else why it does not."""
    path = root / mutant.file
    if not path.is_file():
        return f"{mutant.file} does not exist"
    count = path.read_text().count(mutant.find)
    if count != 1:
        return f"snippet found {count} times in {mutant.file} (must be exactly once)"
    return None


def scratch_copy(destination: Path) -> None:
    """The tracked and untracked-but-not-ignored files of the working tree, plus the test assets."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    for asset in ASSETS:
        if (REPO / asset).exists():
            (destination / asset).symlink_to(REPO / asset)


def run_tests(root: Path, tests: tuple[str, ...], timeout: float) -> tuple[str, float, str]:
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1",
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-W", "ignore", *tests]
    tic = time.perf_counter()
    try:
        proc = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - tic, ""
    elapsed = time.perf_counter() - tic
    lines = [line for line in proc.stdout.splitlines() if line.startswith("FAILED") or line.startswith("ERROR")]
    return ("passed" if proc.returncode == 0 else "failed"), elapsed, (lines[0] if lines else proc.stdout[-300:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", default=[], help="run mutants whose id starts with this (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the mutants and whether they apply; run nothing")
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per mutant's test run")
    args = parser.parse_args(argv)
    mutants = [m for m in load_mutants() if not args.only or any(m.id.startswith(p) for p in args.only)]
    if not mutants:
        raise SystemExit(f"no mutant id starts with {args.only}")
    if args.list:
        for m in mutants:
            problem = applicable(m, REPO)
            print(f"{m.id:40s} {m.file:36s} {'ok' if problem is None else 'SKIP: ' + problem}")
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="adamix-mutants-") as tmp:
        root = Path(tmp)
        scratch_copy(root)
        needed = tuple(sorted({t for m in mutants if applicable(m, root) is None for t in m.tests}))
        print(f"unmutated run of {len(needed)} test selections ...", flush=True)
        outcome, elapsed, detail = run_tests(root, needed, args.timeout * len(mutants))
        if outcome != "passed":
            print(f"the tests fail WITHOUT any mutation ({detail}); fix them first: a mutant 'killed' by a broken "
                  "suite proves nothing", file=sys.stderr)
            return 1
        print(f"  green in {elapsed:.0f} s", flush=True)
        for m in mutants:
            problem = applicable(m, root)
            if problem is not None:
                warnings.warn(f"mutant {m.id} skipped: {problem}; update scripts/mutants.toml", stacklevel=1)
                results.append({"id": m.id, "file": m.file, "status": "skipped", "detail": problem, "why": m.why})
                continue
            path = root / m.file
            original = path.read_text()
            path.write_text(original.replace(m.find, m.replace))
            try:
                outcome, elapsed, detail = run_tests(root, m.tests, args.timeout)
            finally:
                path.write_text(original)
            status = {"failed": "killed", "timeout": "killed (timeout)", "passed": "SURVIVED"}[outcome]
            results.append({"id": m.id, "file": m.file, "status": status, "seconds": round(elapsed, 1),
                            "detail": detail if outcome == "failed" else "", "why": m.why})
            print(f"{status:16s} {m.id:40s} {elapsed:6.0f} s  {detail if outcome == 'failed' else ''}", flush=True)
    ran = [r for r in results if r["status"] != "skipped"]
    killed = [r for r in ran if r["status"].startswith("killed")]
    survived = [r for r in ran if r["status"] == "SURVIVED"]
    skipped = len(results) - len(ran)
    print(f"\nkilled {len(killed)} of {len(ran)} mutants ({100 * len(killed) / max(len(ran), 1):.0f}%)"
          + (f"; {skipped} skipped (snippet no longer in the code)" if skipped else ""))
    for r in survived:
        print(f"  survived: {r['id']} ({r['file']}): {r['why']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"killed": len(killed), "ran": len(ran), "skipped": skipped,
                                         "mutants": results}, indent=2) + "\n")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
