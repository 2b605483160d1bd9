"""The held desired state: which watch lines fit it, and what a line touches."""

from __future__ import annotations

from l2pop.agent.desired import Held, touched_networks
from l2pop.core.model import PortStatus
from l2pop.core.state import Delta, Entries, HostState, Neigh, NetworkDelta, NetworkState, Unicast
from l2pop.core.wire import HostPort, WatchChange
from l2pop.dataplane.base import tap_name

NET_A = "aaaaaaaa-1111-4111-8111-000000000001"
NET_B = "bbbbbbbb-2222-4222-8222-000000000002"
PORT_A = "cccccccc-3333-4333-8333-000000000003"
PORT_B = "dddddddd-4444-4444-8444-000000000004"
U1 = Unicast("fa:16:3e:00:00:01", "192.0.2.2")
N1 = Neigh("198.51.100.1", "fa:16:3e:00:00:01")


def port(port_id: str, net: str, *, deleted: bool = False) -> HostPort:
    return HostPort(
        port_id, net, "fa:16:3e:00:00:aa", ("198.51.100.9",), PortStatus.BUILD, True, deleted
    )


def held_with_a() -> Held:
    state = HostState({NET_A: NetworkState(100, 1450, Entries(frozenset({"192.0.2.2"})))})
    return Held.listed(5, state, [port(PORT_A, NET_A)])


def change(revision: int, networks: dict[str, NetworkDelta], *ports: HostPort) -> WatchChange:
    return WatchChange(revision, Delta(networks), tuple(ports))


def test_a_delta_adding_new_entries_to_a_held_network_fits_and_applies() -> None:
    held = held_with_a()
    line = change(6, {NET_A: NetworkDelta(100, 1450, add=Entries(unicast=frozenset({U1})))})
    assert held.check(line) is None
    held.advance(line)
    assert held.revision == 6
    assert held.state.networks[NET_A].unicast == {U1}


def test_removing_an_entry_that_is_not_held_does_not_fit() -> None:
    line = change(6, {NET_A: NetworkDelta(100, 1450, remove=Entries(neigh=frozenset({N1})))})
    reason = held_with_a().check(line)
    assert reason is not None
    assert "not held" in reason


def test_adding_an_entry_already_held_does_not_fit() -> None:
    line = change(6, {NET_A: NetworkDelta(100, 1450, add=Entries(flood=frozenset({"192.0.2.2"})))})
    reason = held_with_a().check(line)
    assert reason is not None
    assert "already held" in reason


def test_a_delta_for_a_network_without_a_local_port_does_not_fit() -> None:
    line = change(6, {NET_B: NetworkDelta(200, 1450, add=Entries(flood=frozenset({"192.0.2.3"})))})
    reason = held_with_a().check(line)
    assert reason is not None
    assert NET_B in reason


def test_a_new_network_arriving_with_a_port_bound_on_it_fits() -> None:
    line = change(
        6,
        {NET_B: NetworkDelta(200, 1450, add=Entries(flood=frozenset({"192.0.2.3"})))},
        port(PORT_B, NET_B),
    )
    held = held_with_a()
    assert held.check(line) is None
    held.advance(line)
    assert set(held.state.networks) == {NET_A, NET_B}
    assert set(held.ports) == {PORT_A, PORT_B}


def test_a_changed_vni_does_not_fit() -> None:
    line = change(6, {NET_A: NetworkDelta(101, 1450)})
    assert held_with_a().check(line) is not None


def test_a_removed_network_and_a_deleted_port_leave_the_held_state() -> None:
    held = held_with_a()
    line = change(
        7, {NET_A: NetworkDelta(100, 1450, removed=True)}, port(PORT_A, NET_A, deleted=True)
    )
    assert held.check(line) is None
    held.advance(line)
    assert held.state.networks == {}
    assert held.ports == {}


def test_port_of_tap_finds_the_port_by_its_device_name() -> None:
    held = held_with_a()
    assert held.port_of_tap(tap_name(PORT_A)) == held.ports[PORT_A]
    assert held.port_of_tap("tapffffffffff") is None


def test_touched_networks_include_a_moved_port_old_and_new_network() -> None:
    before = {PORT_A: port(PORT_A, NET_A)}
    line = change(8, {}, port(PORT_A, NET_B))
    assert touched_networks(line, before) == {NET_A, NET_B}
