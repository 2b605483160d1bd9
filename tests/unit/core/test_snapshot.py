"""What a host publishes, how a snapshot indexes records, and desired() per host."""

from __future__ import annotations

from l2pop.core import (
    EMPTY,
    AddressPair,
    Entries,
    Host,
    HostState,
    Neigh,
    Network,
    NetworkState,
    Port,
    PortStatus,
    Snapshot,
    Unicast,
    desired,
    publication,
)

VTEP = "192.0.2.1"
M1, M2, VMAC = "fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "00:00:5e:00:01:01"


def _active(pid: str, mac: str, *ips: str, host: str = "h1", **kw: object) -> Port:
    return Port(pid, "n1", mac, ips, host=host, status=PortStatus.ACTIVE, **kw)  # type: ignore[arg-type]


def test_active_ports_publish_flood_unicast_and_one_neigh_per_ip() -> None:
    entries = publication([_active("a", M1, "198.51.100.1", "2001:db8::1")], VTEP)
    assert entries == Entries(
        frozenset({VTEP}),
        frozenset({Unicast(M1, VTEP)}),
        frozenset({Neigh("198.51.100.1", M1), Neigh("2001:db8::1", M1)}),
    )


def test_ports_that_are_not_active_publish_nothing() -> None:
    ports = [
        Port("b", "n1", M1, ("198.51.100.1",), host="h1", status=PortStatus.BUILD),
        Port("d", "n1", M2, ("198.51.100.2",), host="h1", status=PortStatus.DOWN),
    ]
    assert publication(ports, VTEP) == EMPTY


def test_a_host_without_a_known_vtep_publishes_nothing() -> None:
    assert publication([_active("a", M1, "198.51.100.1")], None) == EMPTY


def test_several_active_ports_share_one_flood_entry() -> None:
    entries = publication([_active("a", M1), _active("b", M2)], VTEP)
    assert entries.flood == {VTEP}
    assert entries.unicast == {Unicast(M1, VTEP), Unicast(M2, VTEP)}


def test_address_pairs_publish_by_their_own_rules() -> None:
    pairs = (
        AddressPair("198.51.100.50"),  # own MAC: neigh only
        AddressPair("198.51.100.60", VMAC),  # other MAC: unicast + neigh
        AddressPair("203.0.113.0/24", VMAC),  # CIDR: no neigh
    )
    entries = publication([_active("a", M1, allowed_address_pairs=pairs)], VTEP)
    assert entries.unicast == {Unicast(M1, VTEP), Unicast(VMAC, VTEP)}
    assert entries.neigh == {Neigh("198.51.100.50", M1), Neigh("198.51.100.60", VMAC)}


def _snapshot() -> Snapshot:
    return Snapshot.build(
        [Network("n1", 100), Network("n2", 200, mtu=1400)],
        [Host("h1", "192.0.2.1"), Host("h2", "192.0.2.2")],
        [
            _active("a", M1, "198.51.100.1"),
            _active("b", M2, "198.51.100.2", host="h2"),
            Port("c", "n2", M1, host="h3", status=PortStatus.ACTIVE),  # h3 unregistered
            Port("u", "n2", M2),  # unbound
        ],
    )


def test_build_indexes_bound_ports_per_host_and_publishers() -> None:
    snap = _snapshot()
    assert snap.networks["n1"].bound == {"h1": {"a"}, "h2": {"b"}}
    assert set(snap.networks["n1"].published) == {"h1", "h2"}
    assert snap.networks["n2"].bound == {"h3": {"c"}}
    assert snap.networks["n2"].published == {}  # h3 has no VTEP yet
    assert set(snap.networks["n2"].ports) == {"c", "u"}


def test_snapshot_looks_up_vteps_and_ports() -> None:
    snap = _snapshot()
    assert snap.vtep("h2") == "192.0.2.2"
    assert snap.vtep("h3") is None
    assert snap.port("n1", "a") == _active("a", M1, "198.51.100.1")
    assert snap.port("n1", "zz") is None
    assert snap.port("nx", "a") is None
    assert sorted(p.id for p in snap.all_ports()) == ["a", "b", "c", "u"]


def test_desired_state_is_what_the_other_hosts_publish_on_the_hosts_networks() -> None:
    snap = _snapshot()
    assert desired(snap, "h1") == HostState(
        {
            "n1": NetworkState(
                100,
                1450,
                Entries(
                    frozenset({"192.0.2.2"}),
                    frozenset({Unicast(M2, "192.0.2.2")}),
                    frozenset({Neigh("198.51.100.2", M2)}),
                ),
            )
        }
    )


def test_unregistered_host_with_a_bound_port_still_has_a_desired_state() -> None:
    assert desired(_snapshot(), "h3") == HostState({"n2": NetworkState(200, 1400)})


def test_host_without_bound_ports_desires_nothing() -> None:
    assert desired(_snapshot(), "h9") == HostState()


def test_empty_snapshot_gives_empty_states() -> None:
    assert desired(Snapshot(), "h1") == HostState()
    assert Snapshot.build([], [], []) == Snapshot()


def test_build_accepts_generators() -> None:
    nets = (n for n in [Network("n1", 100)])
    port = Port("p1", "n1", "fa:16:3e:00:00:01", host="h1")
    snap = Snapshot.build(nets, (h for h in [Host("h1", "192.0.2.1")]), (p for p in [port]))
    assert snap.port("n1", "p1") == port
