"""Entries set algebra, and diff/apply as inverse operations on host states."""

from __future__ import annotations

from l2pop.core import (
    EMPTY,
    Delta,
    Entries,
    HostState,
    Neigh,
    NetworkDelta,
    NetworkState,
    Unicast,
    apply,
    diff,
)

U1 = Unicast("fa:16:3e:00:00:01", "192.0.2.1")
U2 = Unicast("fa:16:3e:00:00:02", "192.0.2.2")
N1 = Neigh("198.51.100.1", "fa:16:3e:00:00:01")
N2 = Neigh("198.51.100.2", "fa:16:3e:00:00:02")
E1 = Entries(frozenset({"192.0.2.1"}), frozenset({U1}), frozenset({N1}))
E2 = Entries(frozenset({"192.0.2.2"}), frozenset({U2}), frozenset({N2}))


def test_entries_union_difference_and_intersection_work_per_set() -> None:
    both = E1 | E2
    assert both.flood == {"192.0.2.1", "192.0.2.2"}
    assert both.unicast == {U1, U2}
    assert both.neigh == {N1, N2}
    assert both - E2 == E1
    assert both & E1 == E1
    assert E1 & E2 == EMPTY


def test_entries_are_false_only_when_all_three_sets_are_empty() -> None:
    assert not EMPTY
    assert Entries(flood=frozenset({"192.0.2.1"}))
    assert Entries(unicast=frozenset({U1}))
    assert Entries(neigh=frozenset({N1}))


def test_entries_length_counts_every_entry() -> None:
    assert len(EMPTY) == 0
    assert len(E1 | E2) == 6


def test_entries_union_of_many_equals_pairwise_union() -> None:
    assert Entries.union([E1, E2, EMPTY]) == E1 | E2
    assert Entries.union([]) == EMPTY


def test_network_state_exposes_its_entry_sets() -> None:
    ns = NetworkState(100, 1450, E1)
    assert (ns.flood, ns.unicast, ns.neigh) == (E1.flood, E1.unicast, E1.neigh)


def test_host_state_counts_entries_over_all_networks() -> None:
    state = HostState({"n1": NetworkState(100, 1450, E1), "n2": NetworkState(200, 1450, E2)})
    assert state.entry_count() == 6
    assert HostState().entry_count() == 0


def test_diff_of_equal_states_is_empty() -> None:
    state = HostState({"n1": NetworkState(100, 1450, E1)})
    assert not diff(state, state)
    assert diff(state, state) == Delta()


def test_diff_of_a_new_network_adds_all_its_entries() -> None:
    after = HostState({"n1": NetworkState(100, 1450, E1)})
    assert diff(HostState(), after) == Delta({"n1": NetworkDelta(100, 1450, add=E1)})


def test_diff_of_a_new_network_without_entries_still_announces_the_network() -> None:
    after = HostState({"n1": NetworkState(100, 1450)})
    assert diff(HostState(), after) == Delta({"n1": NetworkDelta(100, 1450)})


def test_diff_of_a_network_that_left_marks_it_removed_without_entries() -> None:
    before = HostState({"n1": NetworkState(100, 1450, E1)})
    assert diff(before, HostState()) == Delta({"n1": NetworkDelta(100, 1450, removed=True)})


def test_diff_adds_and_removes_only_what_changed() -> None:
    before = HostState({"n1": NetworkState(100, 1450, E1)})
    after = HostState({"n1": NetworkState(100, 1450, E2)})
    assert diff(before, after) == Delta({"n1": NetworkDelta(100, 1450, add=E2, remove=E1)})


def test_diff_reports_an_mtu_change_even_without_entry_changes() -> None:
    before = HostState({"n1": NetworkState(100, 1450, E1)})
    after = HostState({"n1": NetworkState(100, 1400, E1)})
    assert diff(before, after) == Delta({"n1": NetworkDelta(100, 1400)})


def test_apply_undoes_diff_in_every_direction() -> None:
    states = [
        HostState(),
        HostState({"n1": NetworkState(100, 1450, E1)}),
        HostState({"n1": NetworkState(100, 1400, E1 | E2)}),
        HostState({"n1": NetworkState(100, 1450, E2), "n2": NetworkState(200, 9000 - 50)}),
        HostState({"n2": NetworkState(200, 1450, E1)}),
    ]
    for before in states:
        for after in states:
            assert apply(before, diff(before, after)) == after


def test_apply_of_removed_network_drops_it_and_ignores_unknown_ones() -> None:
    before = HostState({"n1": NetworkState(100, 1450, E1)})
    delta = Delta(
        {
            "n1": NetworkDelta(100, 1450, removed=True),
            "gone": NetworkDelta(300, 1450, removed=True),
        }
    )
    assert apply(before, delta) == HostState()


def test_apply_to_an_unknown_network_starts_from_empty() -> None:
    delta = Delta({"n1": NetworkDelta(100, 1450, add=E1, remove=E2)})
    assert apply(HostState(), delta) == HostState({"n1": NetworkState(100, 1450, E1)})


def test_apply_removes_before_it_adds() -> None:
    # An entry both removed and added ends up present: add wins.
    before = HostState({"n1": NetworkState(100, 1450, E1)})
    delta = Delta({"n1": NetworkDelta(100, 1450, add=E1, remove=E1)})
    assert apply(before, delta) == before


def test_apply_does_not_change_the_original_state() -> None:
    before = HostState({"n1": NetworkState(100, 1450, E1)})
    apply(before, Delta({"n1": NetworkDelta(100, 1450, removed=True)}))
    assert before.networks["n1"].entries == E1


def test_empty_delta_is_false_and_nonempty_is_true() -> None:
    assert not Delta()
    assert Delta({"n1": NetworkDelta(100, 1450)})
