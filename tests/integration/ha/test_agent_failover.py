"""An agent (in-process, fake dataplane) watching replica 1 of two ``l2pop server --etcd``
replicas: replica 1 is killed with SIGKILL, the agent moves to replica 2, resumes its watch
from its last revision (no new list) and ends holding exactly the desired state."""

from __future__ import annotations

import signal

import pytest

from harness.agents import Admin, agent_config, running_agent, wait_for
from harness.servers import Replica
from l2pop.agent.servers import rank_servers

pytestmark = pytest.mark.etcd

CONVERGE_S = 10.0


def test_the_agent_moves_to_the_other_replica_and_ends_with_the_desired_state(
    replicas: list[Replica],
) -> None:
    # The replica h1 ranks first (agents spread by host name) is the one to kill.
    by_url = {replica.url: replica for replica in replicas}
    first, second = (by_url[url] for url in rank_servers(list(by_url), "h1"))
    admin = Admin(first)  # type: ignore[arg-type]  # duck-typed: url + token
    net = admin.network("a", 100)
    for i in (1, 2, 3):
        admin.host(f"h{i}", f"192.0.2.{i}")
    mine = admin.port(net, "h1", ["198.51.100.1"])["id"]
    peers = {h: admin.port(net, h, [f"198.51.100.{i}"])["id"] for i, h in ((2, "h2"), (3, "h3"))}
    for host, port in peers.items():
        admin.report(host, port, "ACTIVE")
    config = agent_config("h1", "192.0.2.1", [first.url, second.url], admin.tokens["h1"])
    with running_agent(config) as agent:
        agent.plug(mine)
        wait_for(lambda: admin.status(mine) == "ACTIVE", CONVERGE_S, "h1's port ACTIVE")
        wait_for(lambda: agent.held() == admin.wanted("h1"), CONVERGE_S, "first convergence")
        assert agent.held()[100].flood == {"192.0.2.2", "192.0.2.3"}

        first.stop(signal.SIGKILL)
        survivor = Admin(second)  # type: ignore[arg-type]
        survivor.tokens = admin.tokens
        survivor.report("h2", peers["h2"], "DOWN")
        extra = survivor.port(net, "h3", ["198.51.100.4"])["id"]
        survivor.report("h3", extra, "ACTIVE")

        def converged() -> bool:
            return agent.held() == survivor.wanted("h1")

        took = wait_for(converged, CONVERGE_S, "convergence on the other replica")
        print(f"converged on replica 2 {took * 1000:.0f} ms after the changes")
        held = agent.held()[100]
        assert held.flood == {"192.0.2.3"}
        assert len(held.unicast) == 2  # h3's two ports; h2's is DOWN
        assert agent.metric("l2pop_agent_relists_total", reason="start") == 1
        others = ("gone", "rejected", "bad_line", "bad_delta")
        assert sum(agent.metric("l2pop_agent_relists_total", reason=r) for r in others) == 0
        # h1's own port stays ACTIVE: the agent reports through replica 2 now.
        assert survivor.status(mine) == "ACTIVE"
