"""`l2pop demo --evpn`: the five-host demo with VM G's host run by FRR (real FRR, real gobgpd)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from l2pop.lab.controlplane import l2pop_command
from l2pop.lab.registry import lab_links, lab_namespaces

pytestmark = [pytest.mark.netns, pytest.mark.slow]


def test_demo_evpn_reaches_the_frr_host_without_arp_broadcast(tmp_path: Path) -> None:
    done = subprocess.run(
        [*l2pop_command(), "demo", "--evpn", "--json", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert lab_namespaces(result["prefix"]) == []
    assert lab_links(result["prefix"]) == []
    assert result["config"]["frr_host"] == "host4"
    ours, baseline = result["l2pop"], result["baseline"]
    assert ours["ping_ok"]
    assert baseline["ping_ok"]
    assert ours["arp_broadcasts"] == 0
    assert ours["hosts_reached_by_pinger"] == ["host4"]
    assert ours["tunnels"] == ["192.0.2.1 <-> 192.0.2.4"]
    assert baseline["hosts_reached_by_broadcast"] == ["host2", "host3", "host4", "host5"]
    # host1 learned VM G (behind FRR) from the gateway: a unicast entry and a neighbour.
    assert any(" dst 192.0.2.4 " in line and "permanent" in line for line in ours["vtep_fdb"])
