"""The fabric as built: underlay reachability, VMs plugged like Nova does, names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from l2pop.lab import Fabric, LabError
from l2pop.lab.shell import run

from .conftest import PORT_A, leftovers

pytestmark = pytest.mark.netns


def links(netns: str) -> dict[str, dict[str, object]]:
    raw = json.loads(run(["ip", "-n", netns, "-j", "addr"]).stdout)
    return {str(link["ifname"]): link for link in raw}


def ping_ok(netns: str, target: str) -> bool:
    return (
        run(["ping", "-n", "-c", "1", "-W", "2", target], netns=netns, check=False).returncode == 0
    )


def test_hosts_and_control_reach_each_other_over_ipv4_and_ipv6_underlay(fabric3: Fabric) -> None:
    h1, h3 = fabric3.host("host1"), fabric3.host("host3")
    control = fabric3.control
    assert control is not None
    assert ping_ok(h1.netns, h3.ipv4)
    assert ping_ok(h1.netns, h3.ipv6)
    assert ping_ok(h3.netns, control.ipv4)
    assert ping_ok(control.netns, "2001:db8::2")
    assert (h1.ipv4, h1.ipv6, control.ipv4) == ("192.0.2.1", "2001:db8::1", "192.0.2.254")


def test_vm_tap_appears_in_its_host_down_and_not_enslaved_like_nova_plugs_it(
    fabric3: Fabric,
) -> None:
    vm = fabric3.vm("a")
    host_links = links(fabric3.host("host1").netns)
    tap = host_links["tap" + PORT_A[:11]]
    assert vm.tap == "tap" + PORT_A[:11]
    assert "UP" not in tap["flags"]  # type: ignore[operator]
    assert "master" not in tap
    assert tap["mtu"] == 1450
    eth0 = links(vm.netns)["eth0"]
    assert eth0["address"] == "fa:16:3e:00:00:0a"
    assert eth0["mtu"] == 1450
    addrs = {a["local"] for a in eth0["addr_info"]}  # type: ignore[attr-defined]
    assert {"198.51.100.10", "2001:db8:100::a"} <= addrs
    assert vm.tap not in links(fabric3.host("host2").netns)


def test_tap_up_leaves_the_tap_up_for_an_agent_that_expects_it(tmp_path: Path) -> None:
    with Fabric(["hv1"], workdir=tmp_path) as fabric:
        vm = fabric.add_vm("x", "hv1", port_id=PORT_A, mac="fa:16:3e:00:00:01", tap_up=True)
        assert "UP" in links(fabric.host("hv1").netns)[vm.tap]["flags"]  # type: ignore[operator]
        fabric.wait_vm_link_up("x")


def test_removing_a_vm_makes_its_tap_vanish_from_the_host(fabric3: Fabric) -> None:
    fabric3.remove_vm("a")
    assert "tap" + PORT_A[:11] not in links(fabric3.host("host1").netns)
    assert fabric3.names.vm_ns("a") not in fabric3.namespaces()
    with pytest.raises(LabError, match="no VM"):
        fabric3.vm("a")


def test_a_host_added_later_joins_the_underlay_and_a_removed_one_leaves(fabric3: Fabric) -> None:
    h6 = fabric3.add_host("host6")
    assert h6.ipv4 == "192.0.2.4"  # the lowest free slot
    assert ping_ok(h6.netns, "192.0.2.1")
    fabric3.remove_host("host3")
    assert fabric3.names.host_ns("host3") not in fabric3.namespaces()
    assert fabric3.names.vm_ns("b") not in fabric3.namespaces()  # its VM went with it
    assert not ping_ok(h6.netns, "192.0.2.3")


def test_every_name_carries_the_run_prefix_and_fits_in_an_interface_name(fabric3: Fabric) -> None:
    prefix = fabric3.prefix
    assert all(ns.startswith(prefix + "-") for ns in fabric3.namespaces())
    assert len(fabric3.namespaces()) == 1 + 1 + 3 + 2  # underlay, control, hosts, VMs
    for netns in fabric3.namespaces():
        for name in links(netns):
            assert len(name) <= 15
            assert name.startswith((prefix, "tap", "lo", "eth0")), name
    assert leftovers(prefix) != []  # the helper sees a live run (so it can see a leak)


@pytest.mark.parametrize("bad", ["A", "a b", "-x", "x" * 33, "a/b"])
def test_bad_host_or_vm_names_are_refused_and_create_nothing(fabric3: Fabric, bad: str) -> None:
    before = fabric3.namespaces()
    with pytest.raises(ValueError, match="name"):
        fabric3.add_host(bad)
    with pytest.raises(ValueError, match="name"):
        fabric3.add_vm(bad, "host1", port_id=PORT_A, mac="fa:16:3e:00:00:01")
    assert fabric3.namespaces() == before


def test_duplicates_and_unknown_hosts_are_refused(fabric3: Fabric) -> None:
    with pytest.raises(LabError, match="already exists"):
        fabric3.add_host("host1")
    with pytest.raises(LabError, match="already exists"):
        fabric3.add_vm("a", "host2", port_id=PORT_A, mac="fa:16:3e:00:00:01")
    with pytest.raises(LabError, match="no host"):
        fabric3.add_vm("z", "host9", port_id=PORT_A, mac="fa:16:3e:00:00:01")


def test_agent_devices_in_a_host_take_ipv6_neighbours_but_get_no_link_local(
    fabric3: Fabric,
) -> None:
    """What the agent will create must accept IPv6 proxy entries and stay quiet (no DAD/RS)."""
    host = fabric3.host("host1")
    vxlan = ["type", "vxlan", "id", "77", "dstport", "4789", "local", host.ipv4, "nolearning"]
    run(["ip", "link", "add", "vxlan-77", *vxlan, "proxy"], netns=host.netns)
    run(["ip", "link", "set", "vxlan-77", "up"], netns=host.netns)
    entry = ["2001:db8:100::7", "lladdr", "fa:16:3e:00:00:07", "dev", "vxlan-77"]
    run(["ip", "neigh", "replace", *entry, "nud", "permanent"], netns=host.netns)
    shown = run(["ip", "neigh", "show", "dev", "vxlan-77"], netns=host.netns).stdout
    assert "2001:db8:100::7 lladdr fa:16:3e:00:00:07 PERMANENT" in shown
    by_link = links(host.netns)
    assert by_link["vxlan-77"]["addr_info"] == []
    uplink_addrs = {a["local"] for a in by_link[host.uplink]["addr_info"]}  # type: ignore[attr-defined]
    assert any(a.startswith("fe80:") for a in uplink_addrs)
