"""Kernel dumps -> KernelNetwork (only our kinds of entries), and ops -> requests."""

from __future__ import annotations

import errno
import socket

import pytest

from l2pop.core.state import Neigh, Unicast
from l2pop.dataplane.base import (
    AddFlood,
    AddNeigh,
    AddUnicast,
    DelNeigh,
    DelUnicast,
    Mode,
)
from l2pop.dataplane.entries import Batch, Link, networks
from l2pop.dataplane.naming import bridge_mac
from l2pop.dataplane.nlmsg import NTF_SELF, NUD_NOARP, NUD_PERMANENT, NeighRecord, parse_neigh
from l2pop.errors import DataplaneError

LOCAL = "192.0.2.1"
BRQ = "brqaaaaaaaa-11"
ZERO = "00:00:00:00:00:00"
M1, M2, M3 = "fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "fa:16:3e:00:00:03"
REACHABLE = 0x02


def links(mode: Mode, **vx_changes: object) -> dict[str, Link]:
    suppress = mode is Mode.SUPPRESS
    vx: dict[str, object] = {"index": 10, "name": "vxlan-100", "kind": "vxlan", "up": True}
    vx |= {"mtu": 1450, "mac": "02:aa:00:00:00:01", "master": 11, "vni": 100, "local": LOCAL}
    vx |= {"port": 4789, "proxy": not suppress, "learning": False}
    vx |= {"neigh_suppress": suppress, "port_learning": not suppress}
    vx.update(vx_changes)
    return {
        "vxlan-100": Link(**vx),  # type: ignore[arg-type]
        BRQ: Link(11, BRQ, "bridge", True, 1450, bridge_mac(LOCAL, BRQ), None),
        "tapx": Link(12, "tapx", "tun", True, 1450, "fe:00:00:00:00:01", 11),
        "tapdown": Link(13, "tapdown", "tun", False, 1450, "fe:00:00:00:00:02", 11),
        "vxlan0": Link(14, "vxlan0", "vxlan", True, 1450, "02:bb:00:00:00:01", None, vni=7),
    }


def fdb(ifindex: int, mac: str, *, dst: str | None = None, master: int | None = None,
        state: int = NUD_PERMANENT) -> NeighRecord:  # fmt: skip
    return NeighRecord(
        socket.AF_BRIDGE, ifindex, state, NTF_SELF if master is None else 0, mac, dst, master
    )


FDB = [
    fdb(10, ZERO, dst="192.0.2.2"),
    fdb(10, ZERO, dst="192.0.2.3"),
    fdb(10, M1, dst="192.0.2.2"),
    fdb(10, M1, master=11, state=NUD_NOARP),  # master static: ours
    fdb(10, M2, dst="192.0.2.3"),  # no master twin
    fdb(10, M3, master=11, state=NUD_NOARP),  # no self twin
    fdb(10, "02:aa:00:00:00:01", master=11, state=NUD_PERMANENT),  # the kernel's own
    fdb(10, "fa:16:3e:00:00:77", master=11, state=REACHABLE),  # learned
    fdb(14, M1, dst="192.0.2.9"),  # a foreign device
]


def neigh(ifindex: int, ip: str, mac: str, state: int = NUD_PERMANENT) -> NeighRecord:
    return NeighRecord(socket.AF_INET, ifindex, state, 0, mac, ip, None)


NEIGH = [
    neigh(10, "198.51.100.1", M1),
    neigh(11, "198.51.100.2", M2),
    neigh(10, "198.51.100.3", M3, REACHABLE),
    neigh(11, "198.51.100.4", M3, REACHABLE),
]


def test_proxy_mode_reads_self_remotes_and_vxlan_neighbours_only() -> None:
    read = networks(links(Mode.PROXY), FDB, NEIGH, Mode.PROXY, LOCAL)
    assert set(read) == {100}
    net = read[100]
    assert net.entries.flood == {"192.0.2.2", "192.0.2.3"}
    assert net.entries.unicast == {Unicast(M1, "192.0.2.2"), Unicast(M2, "192.0.2.3")}
    assert net.entries.neigh == {Neigh("198.51.100.1", M1)}
    assert net.partial == {Unicast(M1, ""), Unicast(M3, "")}  # stray master static entries
    assert (net.bridge, net.mtu, net.local_ip, net.proxy, net.sound) == (
        BRQ,
        1450,
        LOCAL,
        True,
        True,
    )
    assert net.taps == {"tapx"}


def test_suppress_mode_pairs_self_and_master_entries_and_reads_bridge_neighbours() -> None:
    net = networks(links(Mode.SUPPRESS), FDB, NEIGH, Mode.SUPPRESS, LOCAL)[100]
    assert net.entries.unicast == {Unicast(M1, "192.0.2.2")}
    assert net.partial == {Unicast(M2, "192.0.2.3"), Unicast(M3, "")}
    assert net.entries.neigh == {Neigh("198.51.100.2", M2)}
    assert net.sound


@pytest.mark.parametrize(
    "change",
    [{"up": False}, {"learning": True}, {"port": 8472}, {"neigh_suppress": True}, {"master": None}],
)
def test_devices_needing_repair_are_not_sound(change: dict[str, object]) -> None:
    read = networks(links(Mode.PROXY, **change), [], [], Mode.PROXY, LOCAL)
    assert not read[100].sound


def test_a_bridge_with_another_mac_is_not_sound() -> None:
    read = networks(links(Mode.PROXY), [], [], Mode.PROXY, "192.0.2.99")
    assert not read[100].sound


def test_unicast_in_suppress_mode_writes_self_and_master_static() -> None:
    batch = Batch(Mode.SUPPRESS)
    batch.add(AddUnicast(100, M1, "192.0.2.2"), links(Mode.SUPPRESS))
    records = [parse_neigh(r) for r in batch.requests]
    assert [(r.flags, r.state, r.dst) for r in records] == [
        (NTF_SELF, NUD_PERMANENT, "192.0.2.2"),
        (0x04, NUD_NOARP, None),
    ]
    assert batch.ops == [AddUnicast(100, M1, "192.0.2.2")] * 2


def test_neighbours_go_to_the_vxlan_device_or_the_bridge() -> None:
    for mode, ifindex in ((Mode.PROXY, 10), (Mode.SUPPRESS, 11)):
        batch = Batch(mode)
        batch.add(AddNeigh(100, "2001:db8:100::1", M1), links(mode))
        rec = parse_neigh(batch.requests[0])
        assert (rec.ifindex, rec.family, rec.dst) == (ifindex, socket.AF_INET6, "2001:db8:100::1")


def test_deletes_tolerate_absence_and_skip_missing_devices() -> None:
    batch = Batch(Mode.PROXY)
    batch.add(DelUnicast(100, M1, "192.0.2.2"), links(Mode.PROXY))
    batch.add(DelNeigh(999, "198.51.100.1", M1), links(Mode.PROXY))
    assert len(batch.requests) == 1  # proxy mode: no master entry to delete
    assert errno.ENOENT in batch.tolerated[0]
    batch.add(DelUnicast(100, M3, ""), links(Mode.PROXY))
    assert parse_neigh(batch.requests[1]).dst is None


def test_adding_to_a_missing_device_names_the_op() -> None:
    with pytest.raises(DataplaneError, match=r"AddFlood.*vxlan-5"):
        Batch(Mode.PROXY).add(AddFlood(5, "192.0.2.2"), links(Mode.PROXY))
