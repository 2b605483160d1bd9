"""Agents given several servers spread over them by their host name, and a dead
replica moves only its own agents: 30 lightweight watchers (the agent's own HTTP
client, :class:`~l2pop.agent.client.HostApi`) over three real replicas."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path

import httpx
import pytest

from harness.etcd import EtcdCluster
from harness.servers import Replica, running_replicas
from l2pop.agent.client import HostApi
from l2pop.agent.servers import rank_servers
from l2pop.errors import ServerUnreachableError

pytestmark = pytest.mark.etcd

AGENTS = 30
SETTLE_S = 20.0
# Fixed URLs: which replica an agent picks is a hash of (host name, URL), so
# with free ports the split of 30 names would be a new draw each run, and no
# fair hash keeps 30 draws over 3 buckets at <= 15 every time (about 1 run in
# 18 would have 16 or more). With these URLs the split is a fixed fact
# (11/11/8), checked against the bound; evenness over many names is
# the unit test's (tests/unit/agent/test_agent_servers.py).
LISTEN = [(f"127.0.7.{i}", 19696) for i in (1, 2, 3)]
MOST_ON_ONE = 15


def _watchers_of(replica: Replica) -> float:
    text = httpx.get(f"{replica.url}/metrics", headers={"X-Auth-Token": replica.token}).text
    for line in text.splitlines():
        if line.startswith("l2pop_watchers "):
            return float(line.split()[1])
    raise AssertionError("no l2pop_watchers gauge")


async def _watch_forever(api: HostApi, revision: int, on: dict[str, str], name: str) -> None:
    """What the agent does with its stream: read it; on failure, the next server."""
    while True:
        try:
            async with api.watch(revision, idle_timeout=10.0) as lines:
                on[name] = api.url
                async for _ in lines:
                    pass
        except ServerUnreachableError:
            on.pop(name, None)
            api.fail_over()
            await asyncio.sleep(0.1)


async def _settled(on: dict[str, str], want: int) -> None:
    async with asyncio.timeout(SETTLE_S):
        while len(on) < want:
            await asyncio.sleep(0.05)


def test_30_agents_spread_over_3_replicas_and_a_dead_one_moves_only_its_own(
    tmp_path: Path, cluster: EtcdCluster
) -> None:
    with running_replicas(tmp_path, cluster.endpoints, count=3, listen=LISTEN) as replicas:
        urls = [r.url for r in replicas]
        with replicas[0].client() as admin:
            tokens = {}
            for i in range(AGENTS):
                answer = admin.post(
                    "/v1/hosts", json={"name": f"h{i}", "tunnel_ip": f"192.0.2.{i + 1}"}
                )
                assert answer.status_code == 201, answer.text
                tokens[f"h{i}"] = answer.json()["token"]
            revision = admin.get("/healthz").json()["revision"]

        async def scenario() -> tuple[dict[str, str], dict[str, str]]:
            on: dict[str, str] = {}
            apis = [HostApi(urls, name, token) for name, token in tokens.items()]
            tasks = [
                asyncio.create_task(_watch_forever(api, revision, on, name))
                for api, name in zip(apis, tokens, strict=True)
            ]
            try:
                await _settled(on, AGENTS)
                before = dict(on)
                counts = Counter(before.values())
                assert before == {name: rank_servers(urls, name)[0] for name in tokens}
                assert max(counts.values()) <= MOST_ON_ONE, counts
                # The servers count the same streams (the agents' view is not all).
                for replica in replicas:
                    assert _watchers_of(replica) == counts[replica.url]
                busiest = counts.most_common(1)[0][0]
                victim = next(r for r in replicas if r.url == busiest)
                victim.stop(signal.SIGKILL)
                await asyncio.sleep(0.5)
                await _settled(on, AGENTS)
                return before, {**on, "victim": victim.url}
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                for api in apis:
                    await api.aclose()

        before, after = asyncio.run(scenario())
        victim = after.pop("victim")
        moved = {name for name in before if before[name] != after[name]}
        assert moved == {name for name, url in before.items() if url == victim}
        assert victim not in after.values()
