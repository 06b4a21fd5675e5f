"""A real single-node Slurm cluster (scripts/local_slurm.py) for the tests of this folder.

They start daemons and take minutes, so they run only when asked: `make cluster-test` (installs Slurm
from Debian's packages, then sets ADAMIX_CLUSTER_TEST=1). Without that variable they are skipped with
that reason; with it, a missing Slurm installation is an error, not a skip."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENABLED = os.environ.get("ADAMIX_CLUSTER_TEST") == "1"


def _load_local_slurm():
    spec = importlib.util.spec_from_file_location("local_slurm", REPO / "scripts" / "local_slurm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


local_slurm = _load_local_slurm()


def pytest_collection_modifyitems(config, items):
    if ENABLED:
        return
    skip = pytest.mark.skip(
        reason="needs a local Slurm cluster (root, Debian's slurm packages): run `make cluster-test`"
    )
    for item in items:
        if "cluster" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """munged + MariaDB + slurmdbd + slurmctld + slurmd on localhost, one node with the machine's CPUs and
    two fake GPUs, partition `debug`, account `adamix`; stopped (and checked stopped) at the end."""
    missing = local_slurm.missing_binaries()
    if missing:
        pytest.fail(
            f"Slurm is not installed (missing {missing}): run `bash scripts/install_slurm.sh` or `make cluster-test`"
        )
    cluster = local_slurm.LocalSlurm(tmp_path_factory.mktemp("slurm"), partition="debug", account="adamix", gpus=2)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()  # idempotent: test_cluster_is_torn_down may have stopped it already
