"""Scenarios: what each port event tells which host (step's per-host deltas)."""

from __future__ import annotations

import pytest

from l2pop.core import (
    EMPTY,
    Entries,
    Neigh,
    NetworkDelta,
    Port,
    PortDeleted,
    PortStatus,
    PortUpserted,
    Unicast,
    step,
)
from l2pop.errors import NotFoundError

from .core_world import World, mac, tip


def published(host: int, n: int, *ips: str) -> Entries:
    """What host h<host> publishes for one ACTIVE port with MAC mac(n) and ``ips``."""
    return Entries(
        frozenset({tip(host)}),
        frozenset({Unicast(mac(n), tip(host))}),
        frozenset(Neigh(ip, mac(n)) for ip in ips),
    )


def test_first_active_port_on_new_host_adds_flood_entry_on_peers() -> None:
    w = World()
    w.port("pa", "h1", 1, "198.51.100.1")
    deltas = w.port("pb", "h2", 2, "198.51.100.2", status=PortStatus.BUILD)
    assert deltas == {"h2": deltas["h2"]}  # h1 learns nothing from a BUILD port
    deltas = w.update("pb", status=PortStatus.ACTIVE)
    assert set(deltas) == {"h1"}
    assert deltas["h1"].networks["n1"] == NetworkDelta(
        101, 1450, add=published(2, 2, "198.51.100.2")
    )


def test_port_active_on_a_then_b_gives_both_each_others_flood_unicast_and_neigh() -> None:
    w = World()
    first = w.port("pa", "h1", 1, "198.51.100.1")
    # h1 joins the network: it hears about it, with nobody to talk to yet.
    assert first == {"h1": first["h1"]}
    assert first["h1"].networks["n1"] == NetworkDelta(101, 1450)
    second = w.port("pb", "h2", 2, "198.51.100.2")
    assert second["h1"].networks["n1"].add == published(2, 2, "198.51.100.2")
    assert second["h2"].networks["n1"].add == published(1, 1, "198.51.100.1")
    assert w.state("h1").networks["n1"].entries == published(2, 2, "198.51.100.2")
    assert w.state("h2").networks["n1"].entries == published(1, 1, "198.51.100.1")


def test_active_port_tells_its_own_host_nothing_about_itself() -> None:
    w = World()
    w.port("pb", "h2", 2, "198.51.100.2")
    deltas = w.port("pa", "h1", 1, "198.51.100.1")
    assert deltas["h1"].networks["n1"].add == published(2, 2, "198.51.100.2")
    assert tip(1) not in w.state("h1").networks["n1"].flood


def test_ports_on_two_networks_are_isolated_from_each_other() -> None:
    w = World(networks=2)
    w.port("a1", "h1", 1, "198.51.100.1", net="n1")
    w.port("b1", "h2", 2, "198.51.100.1", net="n2")
    deltas = w.port("b2", "h3", 3, "198.51.100.3", net="n2")
    assert set(deltas) == {"h2", "h3"}
    assert set(deltas["h2"].networks) == {"n2"}
    assert set(w.state("h1").networks) == {"n1"}
    assert w.state("h1").networks["n1"].entries == EMPTY
    assert w.state("h3").networks["n2"].entries == published(2, 2, "198.51.100.1")


def test_dual_stack_port_gives_one_neigh_entry_per_address() -> None:
    w = World()
    w.port("pa", "h1", 1)
    deltas = w.port("pb", "h2", 2, "198.51.100.2", "2001:db8::2")
    assert deltas["h1"].networks["n1"].add.neigh == {
        Neigh("198.51.100.2", mac(2)),
        Neigh("2001:db8::2", mac(2)),
    }


def test_last_active_port_of_host_going_down_drops_all_its_entries_on_peers_only() -> None:
    w = World()
    w.port("pa", "h1", 1, "198.51.100.1")
    w.port("pb", "h2", 2, "198.51.100.2")
    w.port("pc", "h3", 3, "198.51.100.3")
    deltas = w.update("pb", status=PortStatus.DOWN)
    assert set(deltas) == {"h1", "h3"}
    for peer in ("h1", "h3"):
        change = deltas[peer].networks["n1"]
        assert change.remove == published(2, 2, "198.51.100.2")
        assert change.add == EMPTY
    # h3's entries stay on h1 and h1's on h3.
    assert w.state("h1").networks["n1"].entries == published(3, 3, "198.51.100.3")
    assert w.state("h3").networks["n1"].entries == published(1, 1, "198.51.100.1")
    # h2 still has a bound port there, so it keeps its view of the others.
    assert w.state("h2").networks["n1"].entries == published(1, 1, "198.51.100.1") | published(
        3, 3, "198.51.100.3"
    )


def test_one_of_two_active_ports_going_down_keeps_the_flood_entry() -> None:
    w = World()
    w.port("pa", "h1", 1)
    w.port("pb", "h2", 2, "198.51.100.2")
    w.port("pc", "h2", 3, "198.51.100.3")
    deltas = w.update("pc", status=PortStatus.DOWN)
    change = deltas["h1"].networks["n1"]
    assert change.remove == Entries(
        unicast=frozenset({Unicast(mac(3), tip(2))}),
        neigh=frozenset({Neigh("198.51.100.3", mac(3))}),
    )
    assert tip(2) in w.state("h1").networks["n1"].flood


def test_deleted_port_is_withdrawn_from_peers_and_its_host_leaves_the_network() -> None:
    w = World()
    w.port("pa", "h1", 1, "198.51.100.1")
    w.port("pb", "h2", 2, "198.51.100.2")
    deltas = w.delete("pb")
    assert deltas["h1"].networks["n1"].remove == published(2, 2, "198.51.100.2")
    assert deltas["h2"].networks["n1"] == NetworkDelta(101, 1450, removed=True)
    assert "n1" not in w.state("h2").networks


def test_deleting_an_unknown_port_changes_nothing() -> None:
    w = World()
    w.port("pa", "h1", 1)
    before = w.snap
    assert w.step(PortDeleted("n1", "nope")) == {}
    assert w.snap is before


def test_port_on_an_unknown_network_is_not_found() -> None:
    w = World()
    with pytest.raises(NotFoundError, match="nx"):
        step(w.snap, PortUpserted(Port("pa", "nx", mac(1), host="h1")))


def test_port_migrating_moves_its_entries_on_peers() -> None:
    w = World()
    w.port("pa", "h1", 1, "198.51.100.1")
    w.port("pc", "h3", 3)
    w.port("pb", "h2", 2, "198.51.100.2")
    deltas = w.update("pb", host="h3", status=PortStatus.ACTIVE)
    change = deltas["h1"].networks["n1"]
    # h3 already published a flood entry, and an (ip, mac) pair does not name a
    # VTEP: only the unicast entry moves, and h2's flood entry goes.
    assert change.remove == Entries(frozenset({tip(2)}), frozenset({Unicast(mac(2), tip(2))}))
    assert change.add == Entries(unicast=frozenset({Unicast(mac(2), tip(3))}))
    assert deltas["h2"].networks["n1"].removed
    assert deltas["h3"].networks["n1"].remove == published(2, 2, "198.51.100.2")


def test_port_migrating_away_keeps_the_old_host_in_the_network_only_with_other_ports() -> None:
    w = World()
    w.port("pa", "h1", 1, "198.51.100.1")
    w.port("pb", "h2", 2, "198.51.100.2")
    w.port("pk", "h2", 4, status=PortStatus.BUILD)  # h2 keeps this one
    w.port("pc", "h3", 3)
    deltas = w.update("pb", host="h3")
    # h2 stays on n1, now a peer of the moved port: it sees it behind h3.
    assert not deltas["h2"].networks["n1"].removed
    assert deltas["h2"].networks["n1"].add == Entries(
        unicast=frozenset({Unicast(mac(2), tip(3))}),
        neigh=frozenset({Neigh("198.51.100.2", mac(2))}),
    )
    assert w.state("h2").networks["n1"].unicast >= {Unicast(mac(2), tip(3))}


def test_migration_to_a_host_new_to_the_network_gives_it_the_full_view() -> None:
    w = World()
    w.port("pa", "h1", 1, "198.51.100.1")
    w.port("pb", "h2", 2)
    deltas = w.update("pb", host="h3", status=PortStatus.BUILD)
    assert deltas["h3"].networks["n1"] == NetworkDelta(
        101, 1450, add=published(1, 1, "198.51.100.1")
    )
    assert deltas["h2"].networks["n1"].removed
    assert deltas["h1"].networks["n1"].remove == published(2, 2)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (("198.51.100.2",), ("198.51.100.2", "198.51.100.9")),  # added
        (("198.51.100.2",), ("198.51.100.9",)),  # replaced
        (("198.51.100.2", "198.51.100.9"), ("198.51.100.9",)),  # removed
        (("198.51.100.2",), ()),  # last one removed
    ],
)
def test_fixed_ip_change_moves_only_the_neigh_entries(
    before: tuple[str, ...], after: tuple[str, ...]
) -> None:
    w = World()
    w.port("pa", "h1", 1)
    w.port("pb", "h2", 2, *before)
    deltas = w.update("pb", fixed_ips=after)
    change = deltas["h1"].networks["n1"]
    assert change.add == Entries(
        neigh=frozenset(Neigh(ip, mac(2)) for ip in after if ip not in before)
    )
    assert change.remove == Entries(
        neigh=frozenset(Neigh(ip, mac(2)) for ip in before if ip not in after)
    )
    assert set(deltas) == {"h1"}


def test_updating_a_port_to_what_it_already_is_sends_nothing() -> None:
    w = World()
    w.port("pa", "h1", 1, "198.51.100.1")
    w.port("pb", "h2", 2, "198.51.100.2")
    before = w.snap
    assert w.update("pb") == {}
    assert w.snap is before


def test_changing_only_api_fields_of_a_port_sends_nothing() -> None:
    w = World()
    w.port("pa", "h1", 1)
    w.port("pb", "h2", 2, "198.51.100.2")
    assert w.update("pb", name="web", device_owner="compute:nova", device_id="vm-1") == {}
    assert w.get("pb").name == "web"


def test_mac_change_of_a_build_port_reaches_peers_only_once_active() -> None:
    w = World()
    w.port("pa", "h1", 1)
    w.port("pb", "h2", 2, "198.51.100.2", status=PortStatus.BUILD)
    assert w.update("pb", mac_address=mac(9)) == {}
    deltas = w.update("pb", status=PortStatus.ACTIVE)
    assert deltas["h1"].networks["n1"].add.unicast == {Unicast(mac(9), tip(2))}


def test_admin_down_port_is_withdrawn_from_peers() -> None:
    w = World()
    w.port("pa", "h1", 1)
    w.port("pb", "h2", 2, "198.51.100.2")
    deltas = w.update("pb", admin_state_up=False, status=PortStatus.DOWN)
    assert deltas["h1"].networks["n1"].remove == published(2, 2, "198.51.100.2")
