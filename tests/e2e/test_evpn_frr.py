"""EVPN interop with real FRR 8.4: two l2pop hosts and one FRR VTEP in one VXLAN overlay.

Lab: host1 and host2 run ``l2pop agent``; frr1 runs zebra + bgpd (bridge + VXLAN
device, ``advertise-all-vni``); ``l2pop server`` and ``l2pop evpn`` (with its gobgpd)
run in the control namespace; the gateway peers with FRR over iBGP with a TCP MD5
password. VMs on all three hosts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from harness.agents import wait_for
from l2pop.dataplane.base import bridge_name, vxlan_name
from l2pop.lab import Fabric, LabVM
from l2pop.lab.controlplane import ControlPlane, l2pop_command
from l2pop.lab.frr import FrrHost, frr_available
from l2pop.lab.measure import measure_ping
from l2pop.lab.procs import ManagedProcess
from l2pop.lab.shell import run

from .conftest import MakeFabric

pytestmark = [pytest.mark.netns, pytest.mark.slow]

VNI = 100
ASN = 65000
CONVERGE_S = 10.0
FRR_VM_MAC = "52:54:00:00:00:03"
PASSWORD = "l2pop-md5-secret"


@dataclass
class EvpnLab:
    fabric: Fabric
    cp: ControlPlane
    frr: FrrHost
    net: dict[str, Any]
    gateway_argv: list[str]
    gateway: ManagedProcess

    def start_gateway(self, name: str) -> None:
        control = self.fabric.control
        assert control is not None
        self.gateway = self.fabric.start(name, control.netns, self.gateway_argv)

    def fdb(self, host: str) -> str:
        out = run(
            ["bridge", "fdb", "show", "dev", vxlan_name(VNI)], netns=self.fabric.host(host).netns
        )
        return out.stdout

    def neigh(self, host: str) -> str:
        return run(
            ["ip", "neigh", "show", "dev", vxlan_name(VNI)], netns=self.fabric.host(host).netns
        ).stdout


@pytest.fixture
def lab(make_fabric: MakeFabric) -> Iterator[EvpnLab]:
    why = frr_available()
    if why is not None or not os.path.exists("/usr/bin/gobgpd"):
        pytest.fail(f"FRR and gobgpd are required (scripts/setup.sh installs them): {why}")
    fabric = make_fabric(["host1", "host2", "frr1"])
    cp = ControlPlane.start(fabric)
    control = fabric.control
    assert control is not None
    frr = FrrHost.start(
        fabric,
        "frr1",
        asn=ASN,
        peers=[control.ipv4],
        vnis=[VNI],
        subnets=[("198.51.100", "2001:db8:100:")],
        password=PASSWORD,
    )
    try:
        for host in ("host1", "host2"):
            cp.start_agent(host)
        net = cp.create_network("evpn", VNI)
        token = cp._call("POST", "/v1/gateways", {"name": "gw1"})["token"]
        token_file = fabric.workdir / "gw1.token"
        token_file.write_text(token + "\n")
        password_file = fabric.workdir / "md5.password"
        password_file.write_text(PASSWORD + "\n")
        argv = [*l2pop_command(), "evpn", "--server", cp.inner_url, "--token-file", str(token_file)]
        argv += ["--asn", str(ASN), "--router-id", control.ipv4, "--peer", frr.host.ipv4]
        argv += ["--peer-password-file", str(password_file), "--settle", "3"]
        argv += ["--workdir", str(fabric.workdir / "evpn")]
        if cp.ca_file is not None:  # the lab runs on HTTPS: the gateway checks the server
            argv += ["--ca-file", str(cp.ca_file)]
        gateway = fabric.start("evpn", control.netns, argv)
        yield EvpnLab(fabric, cp, frr, net, argv, gateway)
    finally:
        frr.close()
        cp.close()


def test_l2pop_and_frr_vteps_share_one_overlay(lab: EvpnLab) -> None:
    fabric, cp, frr = lab.fabric, lab.cp, lab.frr
    host1, host2, frr1 = (fabric.host(h).ipv4 for h in ("host1", "host2", "frr1"))
    vm1 = cp.boot_vm("vm1", "host1", lab.net, ipv4="198.51.100.1", ipv6="2001:db8:100::1")
    vm2 = cp.boot_vm("vm2", "host2", lab.net, ipv4="198.51.100.2", ipv6="2001:db8:100::2")
    vm3 = frr.add_vm("vm3", VNI, FRR_VM_MAC, ipv4="198.51.100.3", ipv6="2001:db8:100::3")

    # The MD5-protected session comes up, and FRR lists l2pop's VMs behind their hosts.
    wait_for(frr.established, 30, "the BGP session with FRR (TCP MD5)")
    wait_for(
        lambda: (
            {k: v for k, v in frr.macs(VNI).items() if k in (vm1.mac, vm2.mac)}
            == {vm1.mac: host1, vm2.mac: host2}
        ),
        CONVERGE_S,
        "show evpn mac vni 100 listing the l2pop VMs",
    )

    # FRR learns its VM (MAC and addresses); l2pop's kernels get it and the FRR VTEP.
    frr.learn(vm3)
    for host in ("host1", "host2"):
        wait_for(
            lambda h=host: (
                f"{FRR_VM_MAC} dst {frr1}" in lab.fdb(h)
                and f"00:00:00:00:00:00 dst {frr1}" in lab.fdb(h)
                and "198.51.100.3" in lab.neigh(h)
                and "2001:db8:100::3" in lab.neigh(h)
            ),
            CONVERGE_S,
            f"{host}'s kernel holding the FRR VM and VTEP",
        )
    # `l2pop state` shows them beside the host's entries.
    env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"}
    if cp.ca_file is not None:
        env["L2POP_CA_FILE"] = str(cp.ca_file)
    shown = subprocess.run(
        [*l2pop_command(), "state", "host1", "--url", cp.url, "--token", cp.admin_token],
        capture_output=True, text=True, env=env, check=True, timeout=30,
    ).stdout  # fmt: skip
    assert "remote endpoints" in shown
    assert FRR_VM_MAC in shown
    listed = cp._call("GET", f"/v1/remote-endpoints?network_id={lab.net['id']}")
    assert {(r["type"], r["vtep"]) for r in listed["remote_endpoints"]} >= {
        ("flood", frr1),
        ("mac", frr1),
    }

    # Pings both ways, IPv4 and IPv6; no ARP broadcast or NS multicast from an l2pop VM
    # travels in VXLAN (tcpdump on the underlay of every host).
    kw = {"vxlan": vxlan_name(VNI), "bridge": bridge_name(str(lab.net["id"]))}
    for pinger, target in ((vm1, vm3), (vm2, vm3), (vm3, vm1)):
        for ipv6 in (False, True):
            phase = measure_ping(
                fabric, pinger, target, ipv6=ipv6, name=f"{pinger.name}-{ipv6}", **kw
            )
            assert phase.ping_ok, (pinger.name, target.name, ipv6, phase)
            if pinger is not vm3:
                assert phase.hosts_reached_by_broadcast == [], phase

    # Gateway kill -9 (gobgpd dies with it) and restart: l2pop-to-l2pop traffic loses nothing.
    held = {r["id"] for r in cp._call("GET", "/v1/remote-endpoints")["remote_endpoints"]}
    start = _restart_gateway_during_ping(lab, vm1, vm2)
    wait_for(frr.established, 30, "the session after the gateway's restart")
    wait_for(lambda: vm1.mac in frr.macs(VNI), CONVERGE_S, "FRR relearning vm1 after restart")
    restarted = time.monotonic() - start
    lab.gateway.wait_log("imports are reconciled", 30)
    # It reconciled: nothing it held before was written again (a route FRR sent meanwhile,
    # e.g. the VM's IPv6 link-local address, may be new).
    log = (lab.fabric.workdir / "evpn-2.log").read_text()
    # Whole words: the key of a MAC-only route is a prefix of the same MAC's MAC/IP routes.
    added = {word[1:] for word in log.split() if word.startswith("+")}
    readded = sorted(held & added)
    assert not readded, "the restarted gateway re-added what it held:\n" + "\n".join(
        line for line in log.splitlines() if "remote endpoints +" in line or "settled" in line
    )

    # A port deleted on the l2pop side leaves FRR; a VM removed on the FRR side leaves l2pop.
    port2 = next(p for p in cp._call("GET", "/v2.0/ports?name=vm2")["ports"])
    start = time.monotonic()
    cp.delete_port(port2["id"])
    wait_for(lambda: vm2.mac not in frr.macs(VNI), CONVERGE_S, "FRR forgetting the deleted port")
    l2pop_to_frr = time.monotonic() - start
    start = time.monotonic()
    fabric.remove_vm("vm3")
    # The VXLAN device's entry (with a dst) and the neighbour entry go; the bridge's own
    # learned entry (no dst) ages out by itself.
    wait_for(
        lambda: (
            f"{FRR_VM_MAC} dst {frr1}" not in lab.fdb("host1")
            and "198.51.100.3" not in lab.neigh("host1")
        ),
        CONVERGE_S,
        "host1 forgetting the FRR VM",
    )
    frr_to_l2pop = time.monotonic() - start
    print(
        f"\nEVPN convergence: l2pop port delete -> gone from FRR {l2pop_to_frr:.2f} s; "
        f"FRR VM removed -> gone from host1's FDB {frr_to_l2pop:.2f} s; "
        f"gateway restart -> routes back in FRR {restarted:.2f} s"
    )


def _restart_gateway_during_ping(lab: EvpnLab, vm1: LabVM, vm2: LabVM) -> float:
    """kill -9 the gateway and start it again while vm1 pings vm2; no ping may be lost.
    Returns the monotonic time of the restart."""
    result: dict[str, Any] = {}

    def ping() -> None:
        assert vm2.ipv4 is not None
        result["ping"] = lab.fabric.ping(vm1.name, vm2.ipv4, count=40, interval=0.1)

    pinger = threading.Thread(target=ping)
    pinger.start()
    time.sleep(0.5)
    os.kill(lab.gateway.pid, signal.SIGKILL)  # the gateway alone: gobgpd follows (PDEATHSIG)
    lab.gateway.popen.wait(timeout=10)
    lab.start_gateway("evpn-2")
    start = time.monotonic()
    pinger.join(timeout=30)
    ping = result["ping"]
    assert ping.transmitted == 40, ping
    assert ping.received == ping.transmitted, f"l2pop-to-l2pop pings lost: {ping}"
    return start
