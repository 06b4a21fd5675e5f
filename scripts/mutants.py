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
    python scripts/mutants.py --tests-from REV     # the tests of git revision REV against today's code
                                                   # (the kill rate of an older test suite)
    python scripts/mutants.py --file other.toml    # mutants from another file (default scripts/mutants.toml)

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
import signal
import subprocess
import sys
import tempfile
import time
import warnings

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    raise SystemExit("scripts/mutants.py reads scripts/mutants.toml with tomllib: run it with Python >= 3.11") from None
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
    select: str | None  # a pytest -k expression narrowing `tests` to the ones that should catch it
    why: str


def load_mutants(path: Path = MUTANTS_FILE) -> list[Mutant]:
    data = tomllib.loads(path.read_text())
    groups = data.get("tests", {})
    mutants = []
    for entry in data["mutant"]:
        tests = entry["tests"]
        tests = groups[tests] if isinstance(tests, str) else tests
        mutants.append(
            Mutant(
                entry["id"],
                entry["file"],
                entry["find"],
                entry["replace"],
                tuple(tests),
                entry.get("select"),
                entry["why"],
            )
        )
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


def scratch_copy(destination: Path, tests_from: str | None = None) -> None:
    """The tracked and untracked-but-not-ignored files of the working tree, plus the test assets;
    with `tests_from`, tests/ as it was at that git revision."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    for asset in ASSETS:
        if (REPO / asset).exists():
            (destination / asset).symlink_to(REPO / asset)
    if tests_from is not None:
        shutil.rmtree(destination / "tests")
        archive = subprocess.run(
            ["git", "archive", tests_from, "tests"], cwd=REPO, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(destination)], input=archive, check=True)


# Imported once by the runner, before any test run forks from it: what every test session would
# otherwise spend most of its time importing. Never the project's own packages (adamix, adamixbench,
# baselines, tests): each forked run must import those fresh, from the mutated scratch copy.
HEAVY_IMPORTS = (
    "torch",
    "numpy",
    "scipy.stats",
    "sklearn.metrics",
    "pandas",
    "transformers",
    "datasets",
    "peft",
    "sacrebleu",
    "pytest",
)


def prewarm() -> None:
    import importlib

    os.environ.update(
        {
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
        }
    )
    for name in HEAVY_IMPORTS:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    import torch

    torch.set_num_threads(1)  # tiny models: threads only add contention (and must not exist before fork)
    import transformers  # resolve the lazy model modules the tests use

    for name in ("BertForSequenceClassification", "GPT2LMHeadModel", "LlamaForCausalLM", "AutoTokenizer"):
        getattr(transformers, name, None)


def run_tests(root: Path, tests: tuple[str, ...], select: str | None, timeout: float) -> tuple[str, float, str]:
    """One pytest session in a forked child of this (pre-warmed) process, on the scratch copy at `root`."""
    log = root.parent / f"{root.name}-pytest.log"
    arguments = ["-x", "-q", "-p", "no:cacheprovider", "-W", "ignore", *tests] + (["-k", select] if select else [])
    tic = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child: import the project from the scratch copy only, never write bytecode
        code = 3
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.chdir(root)
            sys.dont_write_bytecode = True
            sys.path[:] = [str(root)] + [p for p in sys.path if p and Path(p).resolve() != REPO]
            os.environ["PYTHONPATH"] = str(root)
            import pytest

            code = int(pytest.main(arguments))
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.perf_counter() - tic > timeout:
                raise TimeoutError
            time.sleep(0.2)
    except BaseException as error:  # timeout, Ctrl-C or `kill`: the child goes too
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        if isinstance(error, TimeoutError):
            return "timeout", time.perf_counter() - tic, ""
        raise
    elapsed = time.perf_counter() - tic
    returncode = os.waitstatus_to_exitcode(status)
    output = log.read_text(errors="replace")
    if returncode == 5:  # pytest: no test collected / selected
        return "none selected", elapsed, f"no test matches {' '.join(tests)} -k {select!r}"
    lines = [line for line in output.splitlines() if line.startswith("FAILED") or line.startswith("ERROR")]
    return ("passed" if returncode == 0 else "failed"), elapsed, (lines[0] if lines else output[-300:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only", action="append", default=[], help="run mutants whose id starts with this (repeatable)"
    )
    parser.add_argument("--list", action="store_true", help="list the mutants and whether they apply; run nothing")
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per mutant's test run")
    parser.add_argument(
        "--tests-from",
        metavar="REV",
        help="use tests/ of this git revision (e.g. to measure the kill rate before new tests were added)",
    )
    parser.add_argument(
        "--file",
        type=Path,
        default=MUTANTS_FILE,
        help="the mutants file (same format as scripts/mutants.toml, which is the default)",
    )
    args = parser.parse_args(argv)
    # `kill` (SIGTERM) ends the run like Ctrl-C: the running test session is killed, the scratch copy removed.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    mutants = [m for m in load_mutants(args.file) if not args.only or any(m.id.startswith(p) for p in args.only)]
    if not mutants:
        raise SystemExit(f"no mutant id starts with {args.only}")
    if args.list:
        for m in mutants:
            problem = applicable(m, REPO)
            print(f"{m.id:52s} {m.file:36s} {'ok' if problem is None else 'SKIP: ' + problem}")
        return 0
    results = []
    prewarm()
    with tempfile.TemporaryDirectory(prefix="adamix-mutants-") as tmp:
        root = Path(tmp) / "repo"
        scratch_copy(root, args.tests_from)
        # The unmutated code must pass every selection once (a mutant "killed" by a broken suite proves
        # nothing); selections on the same files are checked together.
        groups: dict[tuple[str, ...], set] = {}
        for m in mutants:
            if applicable(m, root) is None:
                groups.setdefault(m.tests, set()).add(m.select)
        for tests, selects in groups.items():
            select = None if None in selects else " or ".join(f"({s})" for s in sorted(selects))
            print(f"unmutated: {' '.join(tests)} ...", flush=True)
            outcome, elapsed, detail = run_tests(root, tests, select, args.timeout * len(mutants))
            if outcome not in ("passed", "none selected"):  # none selected: an older suite lacks those tests
                print(f"the tests fail WITHOUT any mutation ({detail}); fix them first", file=sys.stderr)
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
                outcome, elapsed, detail = run_tests(root, m.tests, m.select, args.timeout)
            finally:
                path.write_text(original)
            status = {
                "failed": "killed",
                "timeout": "killed (timeout)",
                "passed": "SURVIVED",
                "none selected": "SURVIVED",
            }[outcome]  # no test selected: nothing would catch it
            shown = detail if outcome in ("failed", "none selected") else ""
            results.append(
                {
                    "id": m.id,
                    "file": m.file,
                    "status": status,
                    "seconds": round(elapsed, 1),
                    "detail": shown,
                    "why": m.why,
                }
            )
            print(f"{status:16s} {m.id:52s} {elapsed:6.0f} s  {shown}", flush=True)
    ran = [r for r in results if r["status"] != "skipped"]
    killed = [r for r in ran if r["status"].startswith("killed")]
    survived = [r for r in ran if r["status"] == "SURVIVED"]
    skipped = len(results) - len(ran)
    print(
        f"\nkilled {len(killed)} of {len(ran)} mutants ({100 * len(killed) / max(len(ran), 1):.0f}%)"
        + (f"; {skipped} skipped (snippet no longer in the code)" if skipped else "")
    )
    for r in survived:
        print(f"  survived: {r['id']} ({r['file']}): {r['why']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"killed": len(killed), "ran": len(ran), "skipped": skipped, "mutants": results}, indent=2)
            + "\n"
        )
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
