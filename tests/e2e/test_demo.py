"""`l2pop demo` end to end: real server, real agents, real kernels, JSON asserted."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from l2pop.lab.controlplane import l2pop_command
from l2pop.lab.registry import lab_links, lab_namespaces

pytestmark = pytest.mark.netns

DEMO_BUDGET_S = 60.0


def run_demo(tmp_path: Path, *args: str) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    done = subprocess.run(
        [*l2pop_command(), "demo", "--json", "--workdir", str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=DEMO_BUDGET_S * 2,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    assert lab_namespaces(result["prefix"]) == []
    assert lab_links(result["prefix"]) == []
    return result, elapsed


def test_demo_l2pop_sends_no_arp_broadcast_and_reaches_only_host4(tmp_path: Path) -> None:
    result, elapsed = run_demo(tmp_path)
    assert elapsed < DEMO_BUDGET_S
    ours, baseline = result["l2pop"], result["baseline"]
    assert (result["pinger"], result["target"]) == ("a", "g")
    assert ours["ping_ok"]
    assert baseline["ping_ok"]
    assert ours["arp_broadcasts"] == 0
    assert ours["hosts_reached_by_broadcast"] == []
    assert ours["hosts_reached_by_pinger"] == ["host4"]
    assert ours["tunnels"] == ["192.0.2.1 <-> 192.0.2.4"]
    # The flood-and-learn baseline replicates VM A's ARP to all four other hosts.
    assert baseline["arp_broadcasts"] == 4
    assert baseline["hosts_reached_by_broadcast"] == ["host2", "host3", "host4", "host5"]
    assert set(ours["broadcasts_received_by_host"].values()) == {0}
    assert baseline["broadcasts_received_by_host"]["host1"] == 0
    assert all(baseline["broadcasts_received_by_host"][f"host{i}"] >= 1 for i in range(2, 6))
    assert len(baseline["tunnels"]) == 4
    # Every port went DOWN -> BUILD -> ACTIVE, as reported by the server.
    assert all(h == ["DOWN", "BUILD", "ACTIVE"] for h in result["transitions"].values())
    assert len(result["transitions"]) == 8
    # host1's VTEP held a unicast entry for VM G toward host4, and its neighbour entry.
    assert any(" dst 192.0.2.4 " in line and "permanent" in line for line in ours["vtep_fdb"])
    assert any(line.startswith("198.51.100.16 ") for line in ours["vtep_neigh"])


def test_demo_ipv6_in_suppress_mode_sends_no_multicast_ns(tmp_path: Path) -> None:
    result, _ = run_demo(tmp_path, "--ipv6", "--mode", "suppress", "--hosts", "4")
    ours, baseline = result["l2pop"], result["baseline"]
    assert ours["ping_ok"]
    assert baseline["ping_ok"]
    assert ours["ns_multicasts"] == 0
    assert ours["hosts_reached_by_pinger"] == ["host4"]
    assert baseline["hosts_reached_by_broadcast"] == ["host2", "host3", "host4"]
