"""The local Slurm cluster's port choice (scripts/local_slurm.py), without starting any daemon.

A port picked from the kernel's ephemeral range can be taken by an outgoing connection before the daemon
binds it (CI saw slurmd die with "Address already in use"); the ports must lie outside that range."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def local_slurm():
    spec = importlib.util.spec_from_file_location("local_slurm", REPO / "scripts" / "local_slurm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ports_are_distinct_free_and_outside_the_ephemeral_range(local_slurm, monkeypatch):
    monkeypatch.setattr(local_slurm, "_ephemeral_range", lambda: (10000, 60999))  # leaves 61000-65535
    ports = local_slurm._free_ports(4)
    assert len(set(ports)) == 4
    assert all(61000 <= p <= 65535 for p in ports)
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", port))


def test_a_port_in_use_is_skipped(local_slurm, monkeypatch):
    monkeypatch.setattr(local_slurm, "_ephemeral_range", lambda: (10000, 65533))  # leaves 65534 and 65535
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 65534))
        held.listen()
        assert local_slurm._free_ports(1) == [65535]
        with pytest.raises(local_slurm.ClusterError, match="found 1 of 2 free loopback ports"):
            local_slurm._free_ports(2)


def test_the_real_ephemeral_range_is_read(local_slurm):
    low, high = local_slurm._ephemeral_range()
    assert 1024 <= low <= high <= 65535
    if local_slurm.EPHEMERAL_RANGE_FILE.exists():
        assert [low, high] == [int(v) for v in local_slurm.EPHEMERAL_RANGE_FILE.read_text().split()]


def test_no_room_left_names_the_range(local_slurm, monkeypatch):
    monkeypatch.setattr(local_slurm, "_ephemeral_range", lambda: (1024, 65535))
    with pytest.raises(local_slurm.ClusterError, match="outside the ephemeral range 1024-65535"):
        local_slurm._free_ports(1)
