"""The agent's view of the kernel: after every scoped reconcile it equals what the
dataplane reads back, so deltas never need a full kernel read."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from l2pop.agent.desired import Held, touched_networks
from l2pop.agent.kernel import KernelView, Scope
from l2pop.agent.metrics import AgentMetrics
from l2pop.agent.reconcile import effective
from l2pop.core.model import PortStatus
from l2pop.core.state import Entries, HostState, Neigh, NetworkState, Unicast, diff
from l2pop.core.wire import HostPort, WatchChange
from l2pop.dataplane.base import DelUnicast, Mode, tap_name
from l2pop.dataplane.fake import FakeDataplane

LOCAL = "192.0.2.1"
NETS = {"aaaaaaaa-0001": 100, "bbbbbbbb-0002": 200}
PORTS = {net: f"{net[:8]}-port-{i}" for i, net in enumerate(NETS)}
VTEPS = ["192.0.2.2", "192.0.2.3"]
MACS = ["fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "fa:16:3e:00:00:03"]
IPS = ["198.51.100.1", "198.51.100.2", "2001:db8:100::3"]


def host_port(net: str) -> HostPort:
    return HostPort(PORTS[net], net, "fa:16:3e:00:00:ff", (), PortStatus.ACTIVE, True)


network_states = st.builds(
    lambda flood, uni, neigh, mtu: Entries(frozenset(flood), frozenset(uni), frozenset(neigh)),
    st.sets(st.sampled_from(VTEPS)),
    st.sets(st.builds(Unicast, st.sampled_from(MACS), st.sampled_from(VTEPS)), max_size=4),
    st.sets(st.builds(Neigh, st.sampled_from(IPS), st.sampled_from(MACS)), max_size=4),
    st.just(1450),
)
host_states = st.dictionaries(
    st.sampled_from(sorted(NETS)), st.tuples(network_states, st.sampled_from([1450, 1400]))
).map(lambda d: HostState({n: NetworkState(NETS[n], mtu, e) for n, (e, mtu) in d.items()}))


def ports_of(state: HostState) -> list[HostPort]:
    return [host_port(n) for n in state.networks]


def port_changes(before: HostState, after: HostState) -> tuple[HostPort, ...]:
    gone = [
        HostPort(PORTS[n], n, "fa:16:3e:00:00:ff", (), PortStatus.ACTIVE, True, deleted=True)
        for n in before.networks
        if n not in after.networks
    ]
    new = [host_port(n) for n in after.networks if n not in before.networks]
    return (*gone, *new)


async def _converge(mode: Mode, states: list[HostState], taps: set[str]) -> None:
    dp = FakeDataplane(mode, LOCAL)
    for tap in taps:
        dp.kernel.add_tap(tap)
    view = KernelView(dp, mode=mode, local_ip=LOCAL, metrics=AgentMetrics())
    held = Held.listed(1, states[0], ports_of(states[0]))
    await view.reconcile(held)
    assert view.actual == dp.read()
    for revision, after in enumerate(states[1:], start=2):
        change = WatchChange(revision, diff(held.state, after), port_changes(held.state, after))
        assert held.check(change) is None
        before_ports = dict(held.ports)
        held.advance(change)
        vnis = frozenset(nd.vni for nd in change.delta.networks.values())
        await view.reconcile(held, Scope(frozenset(touched_networks(change, before_ports)), vnis))
        read = dp.read()
        assert view.actual == read
        want = effective(held.state, held.local_ports())
        assert {n.vni: n.entries for n in want.networks.values()} == {
            vni: k.entries for vni, k in read.items()
        }


@given(
    st.lists(host_states, min_size=1, max_size=6),
    st.sampled_from(list(Mode)),
    st.sets(st.sampled_from([tap_name(p) for p in PORTS.values()])),
)
def test_scoped_reconciles_keep_the_view_equal_to_the_kernel(
    states: list[HostState], mode: Mode, taps: set[str]
) -> None:
    asyncio.run(_converge(mode, states, taps))


def test_an_entry_deleted_behind_the_agents_back_is_found_by_a_full_reconcile() -> None:
    async def scenario() -> None:
        dp = FakeDataplane(Mode.PROXY, LOCAL)
        view = KernelView(dp, mode=Mode.PROXY, local_ip=LOCAL, metrics=AgentMetrics())
        entries = Entries(frozenset(VTEPS[:1]), frozenset({Unicast(MACS[0], VTEPS[0])}))
        state = HostState({"aaaaaaaa-0001": NetworkState(100, 1450, entries)})
        held = Held.listed(1, state, ports_of(state))
        await view.reconcile(held)
        dp.apply([DelUnicast(100, MACS[0], VTEPS[0])])
        # The cached view still believes the entry is there: a scoped reconcile does nothing.
        assert await view.reconcile(held, Scope(frozenset({"aaaaaaaa-0001"}))) == []
        view.stale = True
        ops = await view.reconcile(held)
        assert [type(op).__name__ for op in ops] == ["AddUnicast"]
        assert dp.read()[100].entries == entries

    asyncio.run(scenario())
