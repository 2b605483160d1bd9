"""Scenarios: allowed address pairs (own MAC, other MAC, CIDR, shared VRRP-style)."""

from __future__ import annotations

from l2pop.core import EMPTY, AddressPair, Entries, Neigh, PortStatus, Unicast

from .core_world import World, mac, tip

VIP = "198.51.100.100"
VMAC = "00:00:5e:00:01:0a"  # a VRRP virtual MAC


def test_pair_without_mac_adds_a_neigh_entry_with_the_ports_mac() -> None:
    w = World()
    w.port("pa", "h1", 1)
    w.port("pb", "h2", 2, "198.51.100.2")
    deltas = w.update("pb", allowed_address_pairs=(AddressPair(VIP),))
    change = deltas["h1"].networks["n1"]
    assert change.add == Entries(neigh=frozenset({Neigh(VIP, mac(2))}))
    assert change.remove == EMPTY


def test_pair_with_its_own_mac_adds_a_unicast_entry_for_that_mac_to_the_same_vtep() -> None:
    w = World()
    w.port("pa", "h1", 1)
    w.port("pb", "h2", 2, "198.51.100.2")
    deltas = w.update("pb", allowed_address_pairs=(AddressPair(VIP, VMAC),))
    assert deltas["h1"].networks["n1"].add == Entries(
        unicast=frozenset({Unicast(VMAC, tip(2))}), neigh=frozenset({Neigh(VIP, VMAC)})
    )


def test_cidr_pair_gets_a_unicast_entry_but_no_neigh_entry() -> None:
    w = World()
    w.port("pa", "h1", 1)
    w.port("pb", "h2", 2)
    deltas = w.update("pb", allowed_address_pairs=(AddressPair("203.0.113.0/24", VMAC),))
    assert deltas["h1"].networks["n1"].add == Entries(unicast=frozenset({Unicast(VMAC, tip(2))}))


def test_cidr_pair_with_the_ports_own_mac_changes_nothing_on_peers() -> None:
    w = World()
    w.port("pa", "h1", 1)
    w.port("pb", "h2", 2)
    assert w.update("pb", allowed_address_pairs=(AddressPair("203.0.113.0/24"),)) == {}
    assert w.get("pb").allowed_address_pairs == (AddressPair("203.0.113.0/24"),)


def test_host_prefix_pair_counts_as_a_single_address() -> None:
    w = World()
    w.port("pa", "h1", 1)
    w.port("pb", "h2", 2)
    deltas = w.update("pb", allowed_address_pairs=(AddressPair("2001:db8::64/128"),))
    assert deltas["h1"].networks["n1"].add.neigh == {Neigh("2001:db8::64", mac(2))}


def test_removing_a_pair_withdraws_its_entries() -> None:
    w = World()
    w.port("pa", "h1", 1)
    w.port("pb", "h2", 2, "198.51.100.2", pairs=(AddressPair(VIP, VMAC),))
    deltas = w.update("pb", allowed_address_pairs=())
    assert deltas["h1"].networks["n1"].remove == Entries(
        unicast=frozenset({Unicast(VMAC, tip(2))}), neigh=frozenset({Neigh(VIP, VMAC)})
    )
    assert deltas["h1"].networks["n1"].add == EMPTY


def test_pair_of_a_port_that_is_not_active_is_not_published() -> None:
    w = World()
    w.port("pa", "h1", 1)
    w.port("pb", "h2", 2, status=PortStatus.BUILD)
    assert w.update("pb", allowed_address_pairs=(AddressPair(VIP, VMAC),)) == {}


def test_shared_vrrp_pair_stays_on_peers_while_one_holder_is_active() -> None:
    w = World()
    w.port("pa", "h1", 1)
    w.port("pb", "h2", 2, pairs=(AddressPair(VIP, VMAC),))
    w.port("pc", "h3", 3, pairs=(AddressPair(VIP, VMAC),))
    assert Neigh(VIP, VMAC) in w.state("h1").networks["n1"].neigh
    deltas = w.update("pb", status=PortStatus.DOWN)
    # The neigh entry is still published by h3; only h2's unicast entries go.
    assert Neigh(VIP, VMAC) not in deltas["h1"].networks["n1"].remove.neigh
    assert Unicast(VMAC, tip(2)) in deltas["h1"].networks["n1"].remove.unicast
    assert Neigh(VIP, VMAC) in w.state("h1").networks["n1"].neigh
    deltas = w.update("pc", status=PortStatus.DOWN)
    assert Neigh(VIP, VMAC) in deltas["h1"].networks["n1"].remove.neigh


def test_shared_vrrp_pair_holder_sees_the_other_holder_but_not_itself() -> None:
    w = World()
    w.port("pb", "h2", 2, pairs=(AddressPair(VIP, VMAC),))
    w.port("pc", "h3", 3, pairs=(AddressPair(VIP, VMAC),))
    view = w.state("h2").networks["n1"]
    assert Unicast(VMAC, tip(3)) in view.unicast
    assert Unicast(VMAC, tip(2)) not in view.unicast
    assert Neigh(VIP, VMAC) in view.neigh
    # The second holder going down takes the neigh entry off the first holder.
    deltas = w.update("pc", status=PortStatus.DOWN)
    assert Neigh(VIP, VMAC) in deltas["h2"].networks["n1"].remove.neigh
