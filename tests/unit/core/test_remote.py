"""Remote endpoints (imported EVPN routes): validation, identity, and what they tell hosts."""

from __future__ import annotations

import pytest

from l2pop.core import (
    EMPTY,
    AddressPair,
    Entries,
    HostDeleted,
    Neigh,
    NetworkDeleted,
    NetworkDelta,
    PortStatus,
    RemoteDeleted,
    RemoteEndpoint,
    RemoteKind,
    RemoteUpserted,
    Snapshot,
    Unicast,
)
from l2pop.core.remote import remote_publication
from l2pop.errors import ValidationError

from .core_world import World, mac

FRR = "198.18.0.7"
FRR_MAC = "52:54:00:00:00:07"


def flood(vtep: str = FRR, net: str = "n1") -> RemoteEndpoint:
    return RemoteEndpoint(net, RemoteKind.FLOOD, vtep)


def macip(mac_: str = FRR_MAC, ip: str | None = "198.51.100.7", net: str = "n1") -> RemoteEndpoint:
    return RemoteEndpoint(net, RemoteKind.MAC, FRR, mac_, ip)


def test_endpoint_is_canonical_and_keyed_by_its_route() -> None:
    ep = RemoteEndpoint("n1", "mac", "198.18.0.7", "52-54-00-00-00-07", "2001:DB8::7")  # type: ignore[arg-type]
    assert ep.kind is RemoteKind.MAC
    assert ep.mac == FRR_MAC
    assert ep.ip == "2001:db8::7"
    assert ep.key == f"n1|mac|{FRR}|{FRR_MAC}|2001:db8::7"
    assert flood().key == f"n1|flood|{FRR}||"
    assert macip(ip=None).key == f"n1|mac|{FRR}|{FRR_MAC}|"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("", "flood", FRR, None, None), "network_id"),
        (("n1", "type5", FRR, None, None), "type"),
        (("n1", "flood", "not-an-ip", None, None), "vtep"),
        (("n1", "flood", FRR, FRR_MAC, None), "mac"),
        (("n1", "mac", FRR, None, None), "mac"),
        (("n1", "mac", FRR, "ff:ff:ff:ff:ff:ff", None), "mac"),
        (("n1", "mac", FRR, FRR_MAC, "224.0.0.1"), "ip"),
    ],
)
def test_bad_endpoints_are_refused(
    args: tuple[str, str, str, str | None, str | None], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        RemoteEndpoint(*args)  # type: ignore[arg-type]
    assert info.value.field == field


def test_publication_joins_routes_and_leaves_out_own_macs() -> None:
    eps = [flood(), macip(), macip(ip=None), macip(mac(1), "198.51.100.1")]
    got = remote_publication(eps, frozenset({mac(1)}))
    assert got == Entries(
        frozenset({FRR}),
        frozenset({Unicast(FRR_MAC, FRR)}),
        frozenset({Neigh("198.51.100.7", FRR_MAC)}),
    )
    assert remote_publication([macip(mac(1))], frozenset({mac(1)})) is EMPTY


def test_a_type3_route_alone_puts_its_vtep_in_flood_of_every_host_on_the_network() -> None:
    w = World(hosts=3)
    w.port("pa", "h1", 1, "198.51.100.1")
    w.port("pb", "h2", 2, "198.51.100.2", status=PortStatus.BUILD)
    deltas = w.step(RemoteUpserted(flood()))
    # h3 has no port on n1: it hears nothing. h2's port is not ACTIVE but it takes part.
    assert set(deltas) == {"h1", "h2"}
    assert deltas["h1"].networks["n1"] == NetworkDelta(101, 1450, add=Entries(frozenset({FRR})))
    assert w.step(RemoteUpserted(flood())) == {}  # a second gateway: the same record
    deltas = w.step(RemoteDeleted("n1", flood().key))
    assert deltas["h1"].networks["n1"].remove == Entries(frozenset({FRR}))


def test_type2_routes_add_unicast_and_neigh_and_an_own_port_wins() -> None:
    w = World(hosts=2)
    w.port("pa", "h1", 1, "198.51.100.1")
    deltas = w.step(RemoteUpserted(macip()))
    add = deltas["h1"].networks["n1"].add
    assert add == Entries(
        unicast=frozenset({Unicast(FRR_MAC, FRR)}),
        neigh=frozenset({Neigh("198.51.100.7", FRR_MAC)}),
    )
    # A route for a MAC l2pop owns (e.g. reflected back, or a stale VM) is not programmed.
    assert w.step(RemoteUpserted(macip(mac(1), "198.51.100.1"))) == {}
    # l2pop creates a port with the remote MAC: the remote entries leave h1's view...
    deltas = w.port("pb", "h2", 7, "198.51.100.9", status=PortStatus.BUILD)
    assert w.step(RemoteUpserted(macip(mac(7), "198.51.100.70"))) == {}
    w.port("pc", "h2", 0x20, status=PortStatus.BUILD)
    deltas = w.step(RemoteUpserted(macip(mac(0x21))))
    assert Unicast(mac(0x21), FRR) in deltas["h1"].networks["n1"].add.unicast
    deltas = w.port("pd", "h2", 0x21)
    change = deltas["h1"].networks["n1"]
    assert Unicast(mac(0x21), FRR) in change.remove.unicast
    assert Unicast(mac(0x21), "192.0.2.2") in change.add.unicast
    # ... and come back when it is deleted.
    deltas = w.delete("pd")
    assert Unicast(mac(0x21), FRR) in deltas["h1"].networks["n1"].add.unicast


def test_routes_of_unknown_networks_and_deleted_networks_program_nothing() -> None:
    w = World(hosts=2)
    assert w.step(RemoteUpserted(flood(net="nope"))) == {}
    assert w.step(RemoteDeleted("nope", "x")) == {}
    w.port("pa", "h1", 1)
    w.step(RemoteUpserted(flood()))
    w.delete("pa")
    w.step(NetworkDeleted("n1"))
    built = Snapshot.build([], [], [], [flood()])
    assert built.networks == {}


def test_a_host_deleted_unpublishes_pair_macs_so_the_remote_route_wins_again() -> None:
    w = World(hosts=2)
    w.port("pa", "h1", 1)

    vmac = "00:00:5e:00:01:01"
    w.port("pb", "h2", 2, pairs=(AddressPair("198.51.100.100", vmac),))
    w.step(RemoteUpserted(macip(vmac, "198.51.100.100")))
    assert Unicast(vmac, FRR) not in w.state("h1").networks["n1"].unicast
    w.step(HostDeleted("h2"))
    assert Unicast(vmac, FRR) in w.state("h1").networks["n1"].unicast
