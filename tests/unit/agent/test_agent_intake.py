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
    intake.new_stream()  # e.g. another replica, resumed from 7: replays what is held
    intake.take(state, change(8, "192.0.2.4"), batch)  # a replay below the held revision
    assert state.revision == 9
    assert state.state.networks[NET].flood == {"192.0.2.2", "192.0.2.3"}
    assert (batch.networks, batch.vnis, batch.changes) == ({NET}, {100}, 1)


def test_a_change_below_a_bookmark_of_the_same_stream_is_a_protocol_error() -> None:
    # Issue #17: a bookmark ahead of the server's head, then a real change,
    # must not make the agent skip that change silently: it lists again.
    state, batch = held(), Batch()
    intake = LineIntake(AgentMetrics())
    intake.new_stream()
    intake.take(state, '{"type": "bookmark", "revision": 1000000000000000000}', batch)
    with pytest.raises(Relist) as caught:
        intake.take(state, change(8, "192.0.2.4"), batch)
    assert caught.value.reason == "bad_order"


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
