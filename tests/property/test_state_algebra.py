"""diff and apply on arbitrary host states: apply(a, diff(a, b)) == b, and diff is minimal."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from harness.strategies import entries
from l2pop.core import Entries, HostState, NetworkState, apply, diff

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
