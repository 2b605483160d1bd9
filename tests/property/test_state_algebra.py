"""diff and apply on arbitrary host states: apply(a, diff(a, b)) == b, and diff is minimal."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from l2pop.core import Entries, HostState, Neigh, NetworkState, Unicast, apply, diff

vteps = st.sampled_from(["192.0.2.1", "192.0.2.2", "2001:db8::3"])
macs = st.sampled_from(["fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "00:00:5e:00:01:01"])
ips = st.sampled_from(["198.51.100.1", "198.51.100.2", "2001:db8:1::1"])
entries = st.builds(
    Entries,
    st.frozensets(vteps, max_size=3),
    st.frozensets(st.builds(Unicast, macs, vteps), max_size=3),
    st.frozensets(st.builds(Neigh, ips, macs), max_size=3),
)
states = st.builds(
    HostState,
    st.dictionaries(
        st.sampled_from(["n1", "n2", "n3"]),
        st.builds(
            NetworkState, st.sampled_from([100, 200]), st.sampled_from([1400, 1450]), entries
        ),
    ),
)


@given(states, states)
def test_diff_is_minimal_and_apply_undoes_it(before: HostState, after: HostState) -> None:
    delta = diff(before, after)
    assert apply(before, delta) == after
    assert not diff(after, after)
    for net_id, change in delta.networks.items():
        old = before.networks.get(net_id)
        if change.removed:
            assert net_id not in after.networks
            assert not change.add
            assert not change.remove
            continue
        old_entries = old.entries if old else Entries()
        assert not (change.add & old_entries)
        assert change.remove & old_entries == change.remove
        assert not (change.add & change.remove)
