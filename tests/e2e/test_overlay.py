"""Scenarios on a live overlay: real server, real agents, the lab's VMs, the kernel's tables."""

from __future__ import annotations

import signal

import pytest

from l2pop.lab import Inner, wait_until
from l2pop.lab.shell import run
from l2pop.lab.topology import parse_ping

from .conftest import MakeOverlay

pytestmark = pytest.mark.netns

CONVERGE_S = 10.0


def test_vm_on_a_sixth_host_joins_while_traffic_runs(make_overlay: MakeOverlay) -> None:
    overlay = make_overlay(5)
    net = overlay.network("web", 300)
    a = overlay.boot("a", "host1", net, "198.51.100.10")
    overlay.boot("g", "host4", net, "198.51.100.16")
    assert overlay.fabric.ping("a", "198.51.100.16").ok
    pinger = overlay.fabric.start(
        "ping-a-g", a.netns, ["ping", "-n", "-i", "0.02", "-w", "30", "198.51.100.16"]
    )
    overlay.fabric.add_host("host6")
    overlay.cp.start_agent("host6")
    overlay.boot("z", "host6", net, "198.51.100.20")
    wait_until(
        lambda: overlay.fabric.ping("z", "198.51.100.10", timeout=0.5).ok,
        timeout=CONVERGE_S,
        what="VM z on host6 reaching VM a",
    )
    assert overlay.fabric.ping("a", "198.51.100.20").ok
    pinger.stop(sig=signal.SIGINT)
    stats = parse_ping(pinger.log_tail(5000))
    assert stats.transmitted > 20
    assert stats.received == stats.transmitted, pinger.log_tail(500)


def test_a_deleted_port_vanishes_from_every_peer(make_overlay: MakeOverlay) -> None:
    overlay = make_overlay(3)
    net = overlay.network("db", 301)
    overlay.boot("a", "host1", net, "198.51.100.10")
    overlay.boot("b", "host2", net, "198.51.100.11")
    c = overlay.boot("c", "host3", net, "198.51.100.12")

    def c_known_on(host: str) -> bool:
        fdb, neigh = overlay.entries(host, net)
        return any(c.mac in line for line in fdb) or any("198.51.100.12 " in n for n in neigh)

    wait_until(lambda: c_known_on("host1") and c_known_on("host2"), timeout=CONVERGE_S, what="c")
    overlay.cp.delete_port(c.port_id)
    wait_until(
        lambda: not c_known_on("host1") and not c_known_on("host2"),
        timeout=CONVERGE_S,
        what="c's entries gone from host1 and host2",
    )
    assert not overlay.fabric.ping("a", "198.51.100.12", timeout=0.5).ok
    assert overlay.fabric.ping("a", "198.51.100.11").ok  # the others are untouched


def test_last_vm_leaving_a_host_drops_it_from_peer_flood_lists(make_overlay: MakeOverlay) -> None:
    overlay = make_overlay(3)
    net = overlay.network("app", 302)
    overlay.boot("a", "host1", net, "198.51.100.10")
    overlay.boot("b", "host2", net, "198.51.100.11")
    c = overlay.boot("c", "host3", net, "198.51.100.12")
    flood_to_host3 = "00:00:00:00:00:00 dst 192.0.2.3"

    def floods_to_host3(host: str) -> bool:
        return any(line.startswith(flood_to_host3) for line in overlay.entries(host, net)[0])

    wait_until(
        lambda: floods_to_host3("host1") and floods_to_host3("host2"),
        timeout=CONVERGE_S,
        what="flood",
    )
    overlay.fabric.remove_vm("c")  # its tap vanishes: the agent reports the port DOWN
    wait_until(
        lambda: not floods_to_host3("host1") and not floods_to_host3("host2"),
        timeout=CONVERGE_S,
        what="host3 dropped from the flood lists",
    )
    overlay.cp.delete_port(c.port_id)  # no port left on host3: its devices go
    host3 = overlay.fabric.host("host3").netns
    wait_until(
        lambda: "vxlan-302" not in run(["ip", "-br", "link"], netns=host3).stdout,
        timeout=CONVERGE_S,
        what="host3's VXLAN device removed",
    )


def test_two_networks_with_overlapping_vm_ips_stay_isolated(make_overlay: MakeOverlay) -> None:
    overlay = make_overlay(3)
    red, blue = overlay.network("red", 401), overlay.network("blue", 402)
    overlay.boot("r1", "host1", red, "198.51.100.10", "2001:db8:100::a")
    r2 = overlay.boot("r2", "host2", red, "198.51.100.11", "2001:db8:100::b")
    overlay.boot("b1", "host1", blue, "198.51.100.10", "2001:db8:100::a")
    b2 = overlay.boot("b2", "host3", blue, "198.51.100.11", "2001:db8:100::b")
    with overlay.fabric.capture() as cap:
        assert overlay.fabric.ping("r1", "198.51.100.11").ok
        assert overlay.fabric.ping("b1", "198.51.100.11").ok
        assert overlay.fabric.ping("b1", "2001:db8:100::b").ok
    for vm, peer in (("r1", r2), ("b1", b2)):
        neigh = run(["ip", "neigh", "show", "198.51.100.11"], netns=overlay.fabric.vm(vm).netns)
        assert peer.mac in neigh.stdout
    echoes = [p for p in cap.sent("host1") if p.inner is Inner.ECHO_REQUEST]
    assert {(p.vni, p.outer_dst) for p in echoes} == {(401, "192.0.2.2"), (402, "192.0.2.3")}
    assert not any(p.is_arp_broadcast or p.is_multicast_ns for h in cap.hosts for p in cap.sent(h))
