"""Bad input from a server (scripted by a stand-in): logged, listed again or skipped,
and the agent keeps running and converges on what it can trust."""

from __future__ import annotations

import json
from typing import Any

import pytest
from standin import standin

from harness.agents import agent_config, running_agent, wait_for

NET = "aaaaaaaa-1111-4111-8111-000000000001"
OTHER = "bbbbbbbb-2222-4222-8222-000000000002"
PORT = {
    "id": "cccccccc-3333-4333-8333-000000000003",
    "network_id": NET,
    "mac_address": "fa:16:3e:00:00:01",
    "fixed_ips": [{"ip_address": "198.51.100.1"}],
    "status": "BUILD",
    "admin_state_up": True,
}


def state(revision: int, flood: list[str], mac: str = "fa:16:3e:00:00:09") -> dict[str, Any]:
    return {
        "host": "h1",
        "revision": revision,
        "ports": [PORT],
        "networks": {
            NET: {
                "vni": 300,
                "mtu": 1450,
                "flood": flood,
                "unicast": [{"mac": mac, "vtep": flood[0]}],
                "neigh": [],
            }
        },
    }


def change(revision: int, net: str, add: dict[str, Any], vni: int = 300) -> str:
    body = {
        "type": "change",
        "revision": revision,
        "networks": {net: {"vni": vni, "mtu": 1450, "add": add, "remove": {}}},
        "ports": [],
    }
    return json.dumps(body)


BAD_MAC = change(11, NET, {"unicast": [{"mac": "fa:16:3e:zz:00:01", "vtep": "192.0.2.9"}]})
FOREIGN = change(12, OTHER, {"flood": ["192.0.2.7"]}, vni=400)
GOOD = change(13, NET, {"flood": ["192.0.2.8"]})
FOREIGN_AGAIN = change(14, OTHER, {"flood": ["192.0.2.7"]}, vni=400)


def test_bad_watch_lines_are_logged_relisted_or_skipped_and_the_agent_keeps_going(
    caplog: pytest.LogCaptureFixture,
) -> None:
    states = [
        state(10, ["192.0.2.9"]),
        state(10, ["192.0.2.9"]),
        state(14, ["192.0.2.9", "192.0.2.8"]),
    ]
    watches = [
        ['{"type": "mode", "mode": "turbo"}', BAD_MAC],  # unknown type: ignored; bad MAC: relist
        [BAD_MAC, "not json at all", FOREIGN, GOOD, FOREIGN_AGAIN],  # skipped x3, applied, relist
        [],
    ]
    with standin(states, watches) as server:
        config = agent_config("h1", "192.0.2.1", [server.url], "token")
        with running_agent(config) as agent:
            wait_for(lambda: len(server.watch_calls) >= 3, 10, "third watch")
            assert agent.alive()
            bad = {
                kind: agent.metric("l2pop_agent_bad_input_total", kind=kind)
                for kind in ("line", "delta", "unknown_type")
            }
            assert bad == {"line": 3, "delta": 2, "unknown_type": 1}
            assert agent.metric("l2pop_agent_relists_total", reason="bad_line") == 1
            assert agent.metric("l2pop_agent_relists_total", reason="bad_delta") == 1
            assert server.watch_calls == [10, 10, 14]
            held = agent.held()
            assert set(held) == {300}, "the foreign network never reached the kernel"
            assert held[300].flood == {"192.0.2.9", "192.0.2.8"}
    assert "invalid unicast.mac" in caplog.text
    assert "without a port of this host" in caplog.text


def test_a_malformed_state_keeps_the_kernel_until_a_good_one_arrives() -> None:
    bad_states: list[Any] = [
        state(5, ["192.0.2.9"], mac="not-a-mac"),
        {"revision": "five"},
        [1, 2, 3],
        state(6, ["192.0.2.9"]),
    ]
    with standin(bad_states, []) as server:
        config = agent_config("h1", "192.0.2.1", [server.url], "token")
        with running_agent(config) as agent:
            wait_for(lambda: agent.held().get(300) is not None, 10, "good state programmed")
            assert agent.metric("l2pop_agent_bad_input_total", kind="state") == 3
            assert server.state_calls == 4
            assert agent.alive()


def test_watch_errors_400_lists_again_500_retries_without_listing() -> None:
    states = [state(10, ["192.0.2.9"]), state(12, ["192.0.2.9", "192.0.2.8"])]
    with standin(states, [500, 503, 400, []]) as server:
        config = agent_config("h1", "192.0.2.1", [server.url], "token")
        with running_agent(config) as agent:
            wait_for(lambda: len(server.watch_calls) >= 4, 10, "fourth watch")
            assert server.watch_calls == [10, 10, 10, 12]
            assert agent.metric("l2pop_agent_relists_total", reason="rejected") == 1
            assert agent.held()[300].flood == {"192.0.2.9", "192.0.2.8"}
            assert agent.alive()
