"""The flood-and-learn baseline, seen through the VXLAN capture."""

from __future__ import annotations

import pytest

from l2pop.lab import Fabric, FloodAndLearn, Inner

pytestmark = pytest.mark.netns


def test_baseline_floods_the_arp_broadcast_to_every_other_host(fabric3: Fabric) -> None:
    baseline = FloodAndLearn(fabric3, vni=4242)
    baseline.setup()
    baseline.attach(fabric3.vm("a"))
    baseline.attach(fabric3.vm("b"))
    with fabric3.capture() as cap:
        result = fabric3.ping("a", "198.51.100.11", count=2)
    assert result.received == 2, result.output
    # host1 replicated VM a's ARP request to both other hosts, host2 included (no VM there).
    assert cap.hosts_receiving(lambda p: p.is_arp_broadcast) == ["host2", "host3"]
    assert all(p.vni == 4242 for p in cap.packets("host1"))
    # After learning, the echo requests go to host3's VTEP only.
    echoes = [p for p in cap.sent("host1") if p.inner is Inner.ECHO_REQUEST]
    assert [p.outer_dst for p in echoes] == ["192.0.2.3", "192.0.2.3"]
    assert not any(p.inner is Inner.ECHO_REQUEST for p in cap.received("host2"))


def test_baseline_floods_multicast_ns_for_ipv6_over_an_ipv6_underlay(fabric3: Fabric) -> None:
    baseline = FloodAndLearn(fabric3, vni=4243, ipv6_underlay=True)
    baseline.setup()
    baseline.attach(fabric3.vm("a"))
    baseline.attach(fabric3.vm("b"))
    with fabric3.capture() as cap:
        result = fabric3.ping("a", "2001:db8:100::b")
    assert result.ok, result.output
    assert result.first_rtt_ms is not None
    assert cap.hosts_receiving(lambda p: p.is_multicast_ns) == ["host2", "host3"]
    assert all(p.outer_src.startswith("2001:db8::") for p in cap.sent("host1"))


def test_vms_not_attached_to_the_baseline_cannot_talk(fabric3: Fabric) -> None:
    baseline = FloodAndLearn(fabric3, vni=4244)
    baseline.setup()
    baseline.attach(fabric3.vm("a"))  # b's tap stays unplugged
    assert not fabric3.ping("a", "198.51.100.11", timeout=0.5).ok
    baseline.teardown()
