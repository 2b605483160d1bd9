"""Scenarios: host and network events, and who hears about them."""

from __future__ import annotations

import pytest

from l2pop.core import (
    Entries,
    Host,
    HostDeleted,
    HostUpserted,
    Neigh,
    Network,
    NetworkDeleted,
    NetworkDelta,
    NetworkUpserted,
    PortStatus,
    Unicast,
)

from .core_world import World, mac, tip

NEW_IP = "192.0.2.200"


def _three_active(w: World) -> None:
    w.port("pa", "h1", 1, "198.51.100.1")
    w.port("pb", "h2", 2, "198.51.100.2")
    w.port("pb2", "h2", 4, "198.51.100.4")
    w.port("pc", "h3", 3, "198.51.100.3")


def test_host_tunnel_ip_change_moves_its_flood_and_unicast_entries_on_every_peer() -> None:
    w = World()
    _three_active(w)
    deltas = w.step(HostUpserted(Host("h2", NEW_IP)))
    assert set(deltas) == {"h1", "h3"}
    for peer in ("h1", "h3"):
        change = deltas[peer].networks["n1"]
        assert change.remove == Entries(
            frozenset({tip(2)}),
            frozenset({Unicast(mac(2), tip(2)), Unicast(mac(4), tip(2))}),
        )
        assert change.add == Entries(
            frozenset({NEW_IP}), frozenset({Unicast(mac(2), NEW_IP), Unicast(mac(4), NEW_IP)})
        )
    # ARP answers do not depend on the VTEP: the neigh entries stay.
    assert Neigh("198.51.100.2", mac(2)) in w.state("h1").networks["n1"].neigh


def test_host_tunnel_ip_change_reaches_peers_on_every_network_of_that_host() -> None:
    w = World(networks=2)
    w.port("pa", "h1", 1, net="n1")
    w.port("pb", "h2", 2, net="n1")
    w.port("qb", "h2", 3, net="n2")
    w.port("qc", "h3", 4, net="n2")
    deltas = w.step(HostUpserted(Host("h2", NEW_IP)))
    assert set(deltas["h1"].networks) == {"n1"}
    assert set(deltas["h3"].networks) == {"n2"}


def test_reregistering_a_host_with_the_same_ip_sends_nothing() -> None:
    w = World()
    _three_active(w)
    before = w.snap
    assert w.step(HostUpserted(Host("h2", tip(2)))) == {}
    assert w.snap is before


def test_deleted_host_is_unpublished_but_its_ports_stay_bound() -> None:
    w = World()
    _three_active(w)
    deltas = w.step(HostDeleted("h2"))
    assert set(deltas) == {"h1", "h3"}
    removed = deltas["h1"].networks["n1"].remove
    assert tip(2) in removed.flood
    assert {u.vtep for u in removed.unicast} == {tip(2)}
    assert w.get("pb").host == "h2"
    assert "h2" in w.snap.networks["n1"].bound
    assert "h2" not in w.snap.hosts


def test_deleting_an_unknown_host_changes_nothing() -> None:
    w = World()
    _three_active(w)
    assert w.step(HostDeleted("nobody")) == {}


def test_port_bound_to_unregistered_host_publishes_nothing_until_the_host_registers() -> None:
    w = World()
    w.port("pa", "h1", 1, "198.51.100.1")
    assert set(w.port("px", "h9", 9, "198.51.100.9")) == {"h9"}
    assert Unicast(mac(9), tip(9)) not in w.state("h1").networks["n1"].unicast
    deltas = w.step(HostUpserted(Host("h9", tip(9))))
    assert deltas["h1"].networks["n1"].add == Entries(
        frozenset({tip(9)}),
        frozenset({Unicast(mac(9), tip(9))}),
        frozenset({Neigh("198.51.100.9", mac(9))}),
    )


def test_registering_a_host_without_ports_sends_nothing() -> None:
    w = World()
    _three_active(w)
    assert w.step(HostUpserted(Host("h7", tip(7)))) == {}


def test_mtu_change_reaches_every_host_with_a_bound_port_and_no_other() -> None:
    w = World(networks=2)
    w.port("pa", "h1", 1)
    w.port("pb", "h2", 2, status=PortStatus.DOWN)  # bound, not active: still interested
    w.port("qc", "h3", 3, net="n2")
    deltas = w.step(NetworkUpserted(Network("n1", 101, mtu=1400)))
    assert deltas == {
        "h1": deltas["h1"],
        "h2": deltas["h2"],
    }
    for host in ("h1", "h2"):
        assert deltas[host].networks == {"n1": deltas[host].networks["n1"]}
        assert deltas[host].networks["n1"].mtu == 1400
    assert w.state("h1").networks["n1"].mtu == 1400


def test_renaming_a_network_sends_nothing() -> None:
    w = World()
    w.port("pa", "h1", 1)
    assert w.step(NetworkUpserted(Network("n1", 101, name="renamed"))) == {}
    assert w.snap.networks["n1"].network.name == "renamed"


def test_creating_a_network_sends_nothing() -> None:
    w = World()
    assert w.step(NetworkUpserted(Network("n9", 900))) == {}
    assert "n9" in w.snap.networks


def test_deleted_network_is_removed_from_every_host_that_had_it() -> None:
    w = World(networks=2)
    w.port("pa", "h1", 1)
    w.port("pb", "h2", 2, status=PortStatus.BUILD)
    w.port("qc", "h3", 3, net="n2")
    deltas = w.step(NetworkDeleted("n1"))
    assert deltas == {
        "h1": deltas["h1"],
        "h2": deltas["h2"],
    }
    for host in ("h1", "h2"):
        assert deltas[host].networks == {"n1": NetworkDelta(101, 1450, removed=True)}
    assert "n1" not in w.snap.networks


def test_deleting_an_unknown_network_changes_nothing() -> None:
    w = World()
    assert w.step(NetworkDeleted("nope")) == {}


@pytest.mark.parametrize(
    "event",
    [
        HostUpserted(Host("h2", NEW_IP)),
        HostDeleted("h2"),
        NetworkUpserted(Network("n1", 101, mtu=1400)),
        NetworkDeleted("n1"),
    ],
    ids=["reip", "host-deleted", "mtu", "network-deleted"],
)
def test_host_without_a_port_on_a_network_never_hears_about_it(event: object) -> None:
    w = World(networks=2)
    _three_active(w)
    w.port("q", "idle", 8, net="n2")  # "idle" is only on n2
    deltas = w.step(event)  # type: ignore[arg-type]
    assert "idle" not in deltas
    assert "n1" not in w.state("idle").networks
