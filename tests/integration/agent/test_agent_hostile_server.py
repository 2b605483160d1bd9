"""A server (here a scripted stand-in) that breaks the watch protocol on purpose
(issue #17, item 8): the agent neither buffers without bound nor skips a change."""

from __future__ import annotations

import itertools
import json

from standin import standin
from test_agent_bad_input import NET, PORT, change, state

from harness.agents import agent_config, running_agent, wait_for

MAX_LINE_BYTES = 16 * 1024 * 1024  # l2pop.agent.client.MAX_LINE_BYTES


def test_a_bookmark_ahead_of_the_server_is_a_protocol_error_and_the_agent_lists_again() -> None:
    # A bookmark at 10**18 claims nothing changed up to there; a change at 11
    # follows. Taking the bookmark's word would skip revision 11 for good.
    states = [state(10, ["192.0.2.9"]), state(11, ["192.0.2.9", "192.0.2.8"])]
    far = json.dumps({"type": "bookmark", "revision": 10**18})
    watches: list[list[str] | int] = [
        [far, change(11, NET, {"flood": ["192.0.2.8"]})],
        [],
    ]
    with standin(states, watches) as server:
        config = agent_config("h1", "192.0.2.1", [server.url], "token")
        with running_agent(config) as agent:
            wait_for(lambda: len(server.watch_calls) >= 2, 10, "a second watch")
            assert agent.metric("l2pop_agent_relists_total", reason="bad_order") == 1
            assert server.watch_calls == [10, 11], "resumed from the listing, not from 10**18"
            assert agent.held()[300].flood == {"192.0.2.9", "192.0.2.8"}


def test_a_watch_line_without_end_is_cut_at_the_cap_and_the_agent_lists_again() -> None:
    chunk = b"x" * (1024 * 1024)
    sent = 96 * len(chunk)  # then a newline (the next bookmark)
    endless: list[str | bytes] = [b'{"type": "change", "pad": "', *[chunk] * (sent // len(chunk))]
    with standin([state(10, ["192.0.2.9"])], [endless, []]) as server:
        config = agent_config("h1", "192.0.2.1", [server.url], "token")
        with running_agent(config) as agent:
            wait_for(lambda: len(server.watch_calls) >= 2, 30, "a second watch")
            assert agent.metric("l2pop_agent_relists_total", reason="bad_line") == 1
            assert agent.metric("l2pop_agent_bad_input_total", kind="line") == 1
            assert agent.alive()
            # The agent hung up at the cap: the rest of the line was never taken
            # (a few MiB of socket buffers aside), let alone held.
            assert server.script_bytes[0] < MAX_LINE_BYTES + 16 * len(chunk) < sent


def test_the_agent_waits_as_long_as_a_429_says_before_reporting_again() -> None:
    with standin([state(10, ["192.0.2.9"])], [[]]) as server:
        server.status_answers = [429, 429]
        config = agent_config("h1", "192.0.2.1", [server.url], "token")
        with running_agent(config) as agent:
            wait_for(
                lambda: agent.metric("l2pop_agent_relists_total", reason="start") == 1, 10, "list"
            )
            agent.plug(PORT["id"])
            wait_for(lambda: len(server.status_calls) >= 3, 10, "three status reports")
            gaps = [b - a for a, b in itertools.pairwise(server.status_calls)]
            assert len(gaps) >= 2, gaps
            assert min(gaps[:2]) >= 0.9, gaps  # Retry-After: 1
            # The stand-in notes the third call before the agent has read its answer.
            wait_for(
                lambda: (
                    agent.metric(
                        "l2pop_agent_port_status_reports_total", status="ACTIVE", result="ok"
                    )
                    == 1
                ),
                10,
                "the third report counted as ok",
            )
            limited = agent.metric(
                "l2pop_agent_port_status_reports_total", status="ACTIVE", result="rate_limited"
            )
            assert limited == 2
