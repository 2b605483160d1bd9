"""The simulated agent's kernel side: reconciles scoped to the keys a batch of lines
touched leave the fake kernel exactly where a whole-state reconcile would."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from l2pop.agent.desired import Held
from l2pop.agent.reconcile import effective
from l2pop.core import Host
from l2pop.core.model import PortStatus
from l2pop.core.state import Entries, HostState, Neigh, NetworkState, Unicast, diff
from l2pop.core.wire import HostPort, WatchChange
from l2pop.dataplane.base import tap_name
from l2pop.sim.plane import AgentPlane, Touch

LOCAL = "192.0.2.1"
NETS = {"aaaaaaaa-0001": 100, "bbbbbbbb-0002": 200}
VTEPS = ["192.0.2.2", "192.0.2.3", "192.0.2.4"]
MACS = ["fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "fa:16:3e:00:00:03"]
IPS = ["198.51.100.1", "198.51.100.2", "2001:db8:100::3"]


def port_id(net: str, i: int) -> str:
    return f"{i}{net[:4]}-port"  # distinct in the 11 characters a tap name keeps


entries = st.builds(
    lambda flood, uni, neigh: Entries(frozenset(flood), frozenset(uni), frozenset(neigh)),
    st.sets(st.sampled_from(VTEPS)),
    st.sets(st.builds(Unicast, st.sampled_from(MACS), st.sampled_from(VTEPS)), max_size=5),
    st.sets(st.builds(Neigh, st.sampled_from(IPS), st.sampled_from(MACS)), max_size=4),
)
# a host state, and per network the MACs of this host's ports there (one port per MAC:
# a local MAC hides the same MAC published by a peer)
steps = st.dictionaries(
    st.sampled_from(sorted(NETS)),
    st.tuples(entries, st.sampled_from([1450, 1400]), st.sets(st.sampled_from(MACS), min_size=1)),
)


def state_of(step: dict[str, tuple[Entries, int, set[str]]]) -> HostState:
    return HostState({n: NetworkState(NETS[n], mtu, e) for n, (e, mtu, _) in step.items()})


def ports_of(step: dict[str, tuple[Entries, int, set[str]]]) -> dict[str, HostPort]:
    ports = {}
    for net, (_, _, macs) in step.items():
        for mac in macs:
            pid = port_id(net, MACS.index(mac))
            ports[pid] = HostPort(pid, net, mac, (), PortStatus.ACTIVE, True)
    return ports


def port_changes(before: dict[str, HostPort], after: dict[str, HostPort]) -> tuple[HostPort, ...]:
    gone = [
        HostPort(p.id, p.network_id, p.mac_address, (), p.status, True, deleted=True)
        for pid, p in before.items()
        if pid not in after
    ]
    return (*gone, *(p for pid, p in after.items() if pid not in before))


def kernel_entries(plane: AgentPlane) -> dict[int, Entries]:
    return {vni: k.entries for vni, k in plane.dataplane.read().items()}


@settings(max_examples=150, deadline=None)
@given(st.lists(steps, min_size=1, max_size=6), st.integers(0, 3))
def test_keyed_reconciles_equal_a_whole_state_reconcile(
    walk: list[dict[str, tuple[Entries, int, set[str]]]], batch: int
) -> None:
    plane = AgentPlane(Host("h1", LOCAL))
    held = Held.listed(1, state_of(walk[0]), ports_of(walk[0]).values())
    for port in held.ports.values():
        plane.dataplane.kernel.add_tap(tap_name(port.id))
    plane.full(held)
    touch, pending = Touch(), 0
    for revision, step in enumerate(walk[1:], start=2):
        before = dict(held.ports)
        after_ports = ports_of(step)
        change = WatchChange(
            revision, diff(held.state, state_of(step)), port_changes(before, after_ports)
        )
        assert held.check(change) is None
        held.advance(change)
        touch.add(change, {p.id: before.get(p.id) for p in change.ports})
        for port in change.ports:
            if not port.deleted:
                plane.plug(held, port)  # the VM's tap appears (a reconcile of its own)
            else:
                plane.unplug(port.id)
        pending += 1
        if pending > batch:  # several lines in one read: one reconcile for all
            plane.change(held, touch)
            touch, pending = Touch(), 0
            want = effective(held.state, held.local_ports())
            assert kernel_entries(plane) == {n.vni: n.entries for n in want.networks.values()}
            for net in held.state.networks:
                assert {p.id for p in held.local_ports_on(net)} == {
                    p.id for p in held.ports.values() if p.network_id == net
                }
    plane.change(held, touch)
    want = effective(held.state, held.local_ports())
    assert kernel_entries(plane) == {n.vni: n.entries for n in want.networks.values()}
    read = plane.dataplane.read()
    for port in held.ports.values():
        assert tap_name(port.id) in read[NETS[port.network_id]].taps
