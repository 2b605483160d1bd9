"""Watch lines into the held state, and the bad-input policy: list again once, then skip."""

from __future__ import annotations

import json

import pytest

from l2pop.agent.desired import Held
from l2pop.agent.intake import Batch, LineIntake, Relist
from l2pop.agent.metrics import AgentMetrics
from l2pop.core.model import PortStatus
from l2pop.core.state import Entries, HostState, NetworkState
from l2pop.core.wire import HostPort

NET = "aaaaaaaa-1111-4111-8111-000000000001"
PORT = HostPort("p1", NET, "fa:16:3e:00:00:aa", (), PortStatus.BUILD, True)


def held() -> Held:
    state = HostState({NET: NetworkState(100, 1450, Entries(frozenset({"192.0.2.2"})))})
    return Held.listed(5, state, [PORT])


def change(revision: int, flood: str, net: str = NET) -> str:
    body = {"type": "change", "revision": revision, "ports": [],
            "networks": {net: {"vni": 100, "mtu": 1450, "add": {"flood": [flood]}}}}  # fmt: skip
    return json.dumps(body)


def test_good_lines_advance_the_state_and_collect_what_to_reconcile() -> None:
    state, batch = held(), Batch()
    intake = LineIntake(AgentMetrics())
    intake.take(state, change(6, "192.0.2.3"), batch)
    intake.take(state, '{"type": "bookmark", "revision": 9}', batch)
    intake.take(state, change(8, "192.0.2.4"), batch)  # a replay below the held revision
    assert state.revision == 9
    assert state.state.networks[NET].flood == {"192.0.2.2", "192.0.2.3"}
    assert (batch.networks, batch.vnis, batch.changes) == ({NET}, {100}, 1)


def test_bad_input_lists_again_once_then_is_skipped_until_a_good_line() -> None:
    metrics = AgentMetrics()
    state, batch, intake = held(), Batch(), LineIntake(metrics)
    with pytest.raises(Relist) as first:
        intake.take(state, "{not json", batch)
    assert first.value.reason == "bad_line"
    intake.take(state, change(6, "192.0.2.2"), batch)  # already held: skipped, consumed
    assert state.revision == 6
    intake.take(state, change(7, "192.0.2.3"), batch)  # good: the policy re-arms
    with pytest.raises(Relist) as again:
        intake.take(state, change(8, "192.0.2.9", net="other"), batch)
    assert again.value.reason == "bad_delta"
    assert metrics.registry.get_sample_value("l2pop_agent_bad_input_total", {"kind": "delta"}) == 2
