"""The three cost models on a tiny trace whose every number was counted by hand.

Fabric: four agents h1..h4 (so a Neutron fan-out reaches 4 hosts), networks
n1 and n2. Each ACTIVE port publishes 3 entries: its VTEP (flood), its MAC
(unicast) and its IP (neigh).
"""

from __future__ import annotations

import pytest

from l2pop.core import Host, Network
from l2pop.sim.models import Cost, FloodParams, evaluate
from l2pop.sim.trace import (
    Action,
    ActivatePort,
    BindPort,
    CreatePort,
    DeletePort,
    Fabric,
    MigratePort,
    RestartAgent,
)
from l2pop.sim.workload import WorkloadConfig, generate

FABRIC = Fabric(
    hosts=tuple(Host(f"h{i}", f"192.0.2.{i}") for i in range(1, 5)),
    networks=(Network("n1", 101), Network("n2", 102)),
)

# (action, network hosts after, l2pop, neutron, flood) — counted by hand.
TINY: list[tuple[Action, int, Cost, Cost, Cost]] = [
    # an unbound port interests nobody
    (CreatePort("p1", "n1", "fa:16:3e:00:00:01", ("198.51.100.1",)), 0, Cost(), Cost(), Cost()),
    # h1 gets n1 (empty view) and its port: one line; Neutron casts to all 4
    (BindPort("p1", "h1"), 1, Cost(1, 0), Cost(4, 0), Cost()),
    # nobody else on n1: only h1's own port line; Neutron: 4 x 3 entries + h1's (empty) table
    (ActivatePort("p1"), 1, Cost(1, 0), Cost(5, 12), Cost()),
    (CreatePort("p2", "n1", "fa:16:3e:00:00:02", ("198.51.100.2",)), 1, Cost(), Cost(), Cost()),
    # h2 joins n1 and gets h1's 3 entries in the same line
    (BindPort("p2", "h2"), 2, Cost(1, 3), Cost(4, 0), Cost()),
    # h1 learns p2 (3 entries) + h2's port line; Neutron adds h2's full table (3);
    # flooding: 2 broadcasts + 1 unknown unicast, each to the 1 other VTEP
    (ActivatePort("p2"), 2, Cost(2, 3), Cost(5, 15), Cost(3, 1)),
    # a port on n2 costs l2pop one line (its own host); Neutron still casts to all
    (CreatePort("p3", "n2", "fa:16:3e:00:00:03", ("198.51.100.3",)), 0, Cost(), Cost(), Cost()),
    (BindPort("p3", "h3"), 1, Cost(1, 0), Cost(4, 0), Cost()),
    (ActivatePort("p3"), 1, Cost(1, 0), Cost(5, 12), Cost()),
    # p2 moves h2 -> h3: h1 drops 3 entries, h2 loses n1, h3 gains n1 with h1's 3
    (MigratePort("p2", "h3"), 2, Cost(3, 6), Cost(4, 12), Cost()),
    (ActivatePort("p2"), 2, Cost(2, 3), Cost(5, 15), Cost(3, 1)),
    # h1 relists: it holds p2 on h3 (3 entries) on one network
    (RestartAgent("h1"), 0, Cost(1, 3), Cost(1, 3), Cost()),
    # h1's last port goes: h1 loses n1, h3 drops h1's 3 entries
    (DeletePort("p1"), 1, Cost(2, 3), Cost(4, 12), Cost()),
]


def test_tiny_trace_costs_match_hand_count_action_by_action() -> None:
    costs = evaluate(FABRIC, [row[0] for row in TINY])
    got = [(c.action, c.network_hosts, c.l2pop, c.neutron, c.flood) for c in costs.actions]
    for expected, actual in zip(TINY, got, strict=True):
        assert actual == expected


def test_tiny_trace_totals_and_ratio() -> None:
    costs = evaluate(FABRIC, [row[0] for row in TINY])
    assert costs.totals["l2pop"].messages == 14
    assert costs.totals["neutron"].messages == 40
    assert costs.totals["flood"].messages == 6
    assert costs.totals["l2pop"].changes == 12
    assert costs.restarts["l2pop"].messages == 1
    assert costs.as_json()["ratio_l2pop_to_neutron"] == pytest.approx(14 / 40, abs=1e-5)


def test_flood_scope_fabric_replicates_to_every_other_vtep() -> None:
    trace = [row[0] for row in TINY[:6]]
    costs = evaluate(FABRIC, trace, FloodParams(scope="fabric"))
    # p1's and p2's boots now reach the 3 other VTEPs of the fabric
    assert [c.flood for c in costs.actions if isinstance(c.action, ActivatePort)] == [
        Cost(9, 3),
        Cost(9, 3),
    ]


def test_l2pop_activation_reaches_exactly_the_hosts_of_the_network() -> None:
    workload = generate(WorkloadConfig(hosts=30, networks=8, ports=200, events=200, seed=7))
    costs = evaluate(workload.fabric, workload.trace)
    activations = [c for c in costs.actions if isinstance(c.action, ActivatePort)]
    assert activations
    for cost in activations:
        assert cost.l2pop.messages == cost.network_hosts
        assert cost.neutron.messages >= 30
