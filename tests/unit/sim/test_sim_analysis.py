"""The post-run analysis on hand-written records of a tiny, perfectly served trace."""

from __future__ import annotations

import math

import pytest

from l2pop.core import Host, Network
from l2pop.sim.analysis import analyse, percentile, summarize_ms
from l2pop.sim.trace import Action, ActivatePort, BindPort, CreatePort, Fabric
from l2pop.sim.tracker import ChangeRecord, LineRecord, RelistRecord, Tracker

FABRIC = Fabric(tuple(Host(f"h{i}", f"192.0.2.{i}") for i in (1, 2, 3)), (Network("n1", 101),))
TRACE: list[Action] = [
    CreatePort("p1", "n1", "fa:16:3e:00:00:01", ("198.51.100.1",)),
    BindPort("p1", "h1"),
    ActivatePort("p1"),
    CreatePort("p2", "n1", "fa:16:3e:00:00:02", ("198.51.100.2",)),
    BindPort("p2", "h2"),
    ActivatePort("p2"),
]
PORT_IDS = {"p1": "P1", "p2": "P2"}
NET_IDS = {"n1": "N1"}

# (trace index, kind, server port, owners, revision, t_ack)
CHANGES = [
    (0, "CreatePort", "P1", frozenset(), None, 1.0),
    (1, "BindPort", "P1", frozenset({"h1"}), 1, 2.0),
    (2, "ActivatePort", "P1", frozenset({"h1"}), 2, 3.0),
    (3, "CreatePort", "P2", frozenset(), None, 4.0),
    (4, "BindPort", "P2", frozenset({"h2"}), 3, 5.0),
    (5, "ActivatePort", "P2", frozenset({"h2"}), 4, 6.0),
]
Line = tuple[str, int, float, tuple[tuple[str, int], ...], tuple[str, ...]]
# What a correct server sends, counted by hand: (host, revision, t_apply, networks, ports)
LINES: list[Line] = [
    ("h1", 1, 2.010, (("N1", 0),), ("P1",)),  # h1 joins n1: nobody to learn yet
    ("h1", 2, 3.001, (), ("P1",)),  # its own port ACTIVE
    ("h2", 3, 5.002, (("N1", 3),), ("P2",)),  # h2 joins n1 and learns p1's 3 entries
    ("h1", 4, 6.050, (("N1", 3),), ()),  # h1 learns p2
    ("h2", 4, 6.020, (), ("P2",)),
]


def _tracker(
    lines: list[tuple[str, int, float, tuple[tuple[str, int], ...], tuple[str, ...]]],
) -> Tracker:
    tracker = Tracker()
    for index, kind, port, owners, revision, t_ack in CHANGES:
        change = ChangeRecord(index, kind, port, owners, t_ack - 0.5, t_ack, revision)
        tracker.changes.append(change)
    for host, revision, t_apply, networks, ports in lines:
        tracker.on_line(LineRecord(host, revision, t_apply, 100, networks, ports))
    return tracker


def test_a_perfect_run_has_no_faults_and_exact_latencies() -> None:
    result = analyse(FABRIC, TRACE, _tracker(LINES), PORT_IDS, NET_IDS, {})
    assert (result.missing, result.unexpected, result.mismatched, result.unresolved) == (0, 0, 0, 0)
    latencies = {o.change.revision: o.latency_s for o in result.outcomes}
    assert latencies == pytest.approx({1: 0.010, 2: 0.001, 3: 0.002, 4: 0.050})
    # sent 0.5 s before its answer: the round trip counts from the request
    from_send = {o.change.revision: o.from_send_s for o in result.outcomes}
    assert from_send == pytest.approx({1: 0.510, 2: 0.501, 3: 0.502, 4: 0.550})
    messages = {o.change.revision: (o.messages, o.expected_hosts) for o in result.outcomes}
    assert messages == {1: (1, 1), 2: (1, 1), 3: (1, 1), 4: (2, 2)}
    assert [o.network_hosts for o in result.outcomes] == [1, 1, 2, 2]


def test_a_line_never_applied_is_missing_and_the_change_has_no_latency() -> None:
    result = analyse(FABRIC, TRACE, _tracker(LINES[:3] + LINES[4:]), PORT_IDS, NET_IDS, {})
    assert result.missing == 1
    last = result.outcomes[-1]
    assert last.latency_s is None


def test_a_relist_covers_a_line_the_host_never_received() -> None:
    tracker = _tracker(LINES[:3] + LINES[4:])
    tracker.relists.append(RelistRecord("h1", "restart", 4, 5.9, 6.2, 3, 500))
    result = analyse(FABRIC, TRACE, tracker, PORT_IDS, NET_IDS, {})
    assert result.missing == 0
    assert result.outcomes[-1].latency_s == pytest.approx(0.2)


def test_a_list_sent_before_the_change_but_answered_after_it_covers_its_line() -> None:
    tracker = _tracker(LINES[:3] + LINES[4:])
    tracker.relists.append(RelistRecord("h1", "restart", 4, 5.0, 6.2, 3, 500))
    result = analyse(FABRIC, TRACE, tracker, PORT_IDS, NET_IDS, {})
    assert result.missing == 0


def test_a_list_older_than_the_change_does_not_cover_it() -> None:
    tracker = _tracker(LINES[:3] + LINES[4:])
    tracker.relists.append(RelistRecord("h1", "restart", 3, 5.0, 6.2, 3, 500))
    result = analyse(FABRIC, TRACE, tracker, PORT_IDS, NET_IDS, {})
    assert result.missing == 1


def test_a_line_to_an_uninterested_host_is_unexpected() -> None:
    result = analyse(
        FABRIC, TRACE, _tracker([*LINES, ("h3", 4, 6.0, (("N1", 3),), ())]), PORT_IDS, NET_IDS, {}
    )
    assert result.unexpected == 1


def test_a_line_with_the_wrong_delta_is_a_mismatch() -> None:
    wrong = [*LINES[:3], ("h1", 4, 6.05, (("N1", 2),), ()), LINES[4]]
    result = analyse(FABRIC, TRACE, _tracker(wrong), PORT_IDS, NET_IDS, {})
    assert result.mismatched == 1


def test_percentiles_use_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert math.isnan(percentile([], 50))
    assert summarize_ms([0.001, 0.002, 0.003])["p50_ms"] == 2.0
    assert summarize_ms([]) == {"count": 0}


def test_tracker_resolves_a_change_from_its_owners_line_only() -> None:
    tracker = Tracker()
    change = ChangeRecord(1, "BindPort", "P1", frozenset({"h1"}), 0.0)
    tracker.begin(change)
    tracker.on_line(LineRecord("h2", 7, 0.1, 10, (), ("P1",)))  # not the owner
    assert not change.owner_seen.is_set()
    tracker.on_line(LineRecord("h1", 8, 0.2, 10, (), ("P1",)))
    assert change.owner_seen.is_set()
    assert (change.revision, change.resolved_by) == (8, "line")


def test_a_migration_waits_for_the_lines_of_both_its_old_and_new_host() -> None:
    tracker = Tracker()
    change = ChangeRecord(1, "MigratePort", "P1", frozenset({"h1", "h2"}), 0.0)
    tracker.begin(change)
    tracker.on_line(LineRecord("h1", 9, 0.1, 10, (), ("P1",)))  # old host: deleted record
    assert change.revision == 9
    assert not change.owner_seen.is_set()
    tracker.on_line(LineRecord("h2", 9, 0.2, 10, (("N1", 3),), ("P1",)))
    assert change.owner_seen.is_set()
    assert tracker.owner_conflicts == 0


def test_a_relisting_owner_stands_in_for_its_line() -> None:
    tracker = Tracker()
    change = ChangeRecord(1, "BindPort", "P1", frozenset({"h1"}), 0.0)
    tracker.begin(change)
    tracker.on_relist(RelistRecord("h1", "restart", 12, 0.5, 0.6, 0, 0))
    assert change.owner_seen.is_set()
    assert (change.revision, change.resolved_by) == (None, "relist")
