"""``--underlay-allowlist``: VXLAN from a host that is no VTEP of this host's networks is
dropped; it is accepted once that host joins a shared network; traffic keeps flowing."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from harness.agents import wait_for
from l2pop.dataplane.allowlist import Allowlist
from l2pop.lab.shell import run

from .conftest import MakeFabric
from .test_agent_overlay import CONVERGE_S, AgentLab, start_agent_lab

pytestmark = pytest.mark.netns

SEND = (
    "import socket, sys\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "for _ in range(5): s.sendto(b'x' * 64, (sys.argv[1], 4789))\n"
)


@pytest.fixture
def guarded(make_fabric: MakeFabric) -> Iterator[AgentLab]:
    overlay = start_agent_lab(make_fabric(3), "proxy", agent_args=["--underlay-allowlist"])
    try:
        yield overlay
    finally:
        overlay.cp.close()


def send_vxlan_junk(overlay: AgentLab, src: str, dst: str) -> None:
    run([sys.executable, "-c", SEND, overlay.fabric.host(dst).ipv4],
        netns=overlay.fabric.host(src).netns)  # fmt: skip


def test_vxlan_from_unknown_sources_is_dropped_until_they_join(guarded: AgentLab) -> None:
    overlay = guarded
    overlay.boot("a", "host1", 1)
    overlay.boot("c", "host3", 3)
    overlay.wait_remote("host1", "c", "host3", CONVERGE_S)
    table = Allowlist(netns=overlay.fabric.host("host1").netns)
    wait_for(lambda: "192.0.2.3" in _listing(overlay), CONVERGE_S, "host3 allowed on host1")
    before = table.dropped()
    send_vxlan_junk(overlay, "host2", "host1")  # host2 has no VM: not a VTEP of host1
    wait_for(lambda: table.dropped() >= before + 5, 5, "junk from host2 dropped")
    overlay.fabric.wait_vm_link_up("a")
    overlay.fabric.wait_vm_link_up("c")
    assert overlay.fabric.ping("a", "198.51.100.3", count=2, interval=0.1).received == 2

    overlay.boot("b", "host2", 2)  # host2 joins the network: now a known VTEP
    wait_for(lambda: "192.0.2.2" in _listing(overlay), CONVERGE_S, "host2 allowed on host1")
    dropped = table.dropped()
    send_vxlan_junk(overlay, "host2", "host1")
    overlay.fabric.wait_vm_link_up("b")
    assert overlay.fabric.ping("a", "198.51.100.2", count=2, interval=0.1).received == 2
    assert table.dropped() == dropped


def _listing(overlay: AgentLab) -> str:
    netns = overlay.fabric.host("host1").netns
    return run(["nft", "list", "table", "inet", "l2pop_allowlist"], netns=netns, check=False).stdout
