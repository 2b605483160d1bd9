"""Properties of plan() on arbitrary states, checked against the fake dataplane."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from l2pop.agent.reconcile import LocalPort, effective, plan
from l2pop.core.state import Entries, HostState, Neigh, NetworkState, Unicast
from l2pop.dataplane.base import DelFlood, DelNeigh, DelUnicast, Mode, RemoveNetwork
from l2pop.dataplane.fake import FakeDataplane

NETS = {"aaaaaaaa-0001": 100, "bbbbbbbb-0002": 200, "cccccccc-0003": 300}
MACS = [f"fa:16:3e:00:00:0{i}" for i in range(1, 6)]
VTEPS = ["192.0.2.2", "192.0.2.3", "192.0.2.4"]  # the family of the local tunnel IP
IPS = ["198.51.100.1", "198.51.100.2", "2001:db8:100::1"]

entries = st.builds(
    Entries,
    st.frozensets(st.sampled_from(VTEPS)),
    st.frozensets(st.builds(Unicast, st.sampled_from(MACS), st.sampled_from(VTEPS))),
    st.frozensets(st.builds(Neigh, st.sampled_from(IPS), st.sampled_from(MACS))),
)
states = st.dictionaries(
    st.sampled_from(sorted(NETS)),
    st.tuples(st.sampled_from([1400, 1450]), entries),
).map(lambda d: HostState({n: NetworkState(NETS[n], mtu, e) for n, (mtu, e) in d.items()}))
modes = st.sampled_from([Mode.PROXY, Mode.SUPPRESS])
local_ports = st.lists(
    st.builds(
        LocalPort,
        st.sampled_from(["p1", "p2"]),
        st.sampled_from(sorted(NETS)),
        st.frozensets(st.sampled_from(MACS), max_size=1),
    ),
    max_size=2,
)


def read_back(dp: FakeDataplane) -> dict[int, Entries]:
    return {vni: k.entries for vni, k in dp.read().items()}


@given(modes, states, states, local_ports)
def test_any_kernel_converges_in_one_plan_and_then_plans_nothing(
    mode: Mode, before: HostState, after: HostState, ports: list[LocalPort]
) -> None:
    dp = FakeDataplane(mode, "192.0.2.1")
    dp.apply(plan(before, dp.read(), mode=mode, ports=ports))
    dp.apply(plan(after, dp.read(), mode=mode, ports=ports))
    want = {n.vni: n.entries for n in effective(after, ports).networks.values()}
    assert read_back(dp) == want
    assert plan(after, dp.read(), mode=mode, ports=ports) == []


@given(modes, states, states)
def test_entries_right_in_both_states_are_never_deleted(
    mode: Mode, before: HostState, after: HostState
) -> None:
    dp = FakeDataplane(mode, "192.0.2.1")
    dp.apply(plan(before, dp.read(), mode=mode))
    actual = dp.read()
    keep = {n.vni: n.entries for n in effective(after).networks.values()}
    for op in plan(after, actual, mode=mode):
        if isinstance(op, RemoveNetwork):
            assert op.vni not in keep  # only networks that left the host
            continue
        if not isinstance(op, DelFlood | DelUnicast | DelNeigh):
            continue
        right = (
            keep.get(op.vni, Entries()) & actual[op.vni].entries if op.vni in actual else Entries()
        )
        if isinstance(op, DelFlood):
            assert op.vtep not in right.flood
        if isinstance(op, DelUnicast):
            assert Unicast(op.mac, op.vtep) not in right.unicast
        if isinstance(op, DelNeigh):
            assert Neigh(op.ip, op.mac) not in right.neigh
