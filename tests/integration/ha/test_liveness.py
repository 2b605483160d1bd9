"""Host liveness through etcd leases, seen by every replica (two store instances on a
real etcd; short lease TTL)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from harness.etcd import EtcdCluster, etcd_cluster
from l2pop.server.store.etcd import EtcdStore

pytestmark = pytest.mark.etcd

# Renewed every TTL/6 once a third of it has passed: 5 s leaves a starved etcd
# or test process over 3 s of slack (3 s failed once in CI on a loaded machine).
TTL = 5.0


@pytest.fixture
def single(tmp_path: Path) -> Iterator[EtcdCluster]:
    with etcd_cluster(tmp_path / "etcd", size=1) as started:
        yield started


async def until(predicate: Callable[[], bool], timeout: float) -> float:
    began = time.monotonic()
    while not predicate():
        assert time.monotonic() - began < timeout, "timed out"
        await asyncio.sleep(0.05)
    return time.monotonic() - began


@contextlib.asynccontextmanager
async def two_replicas(cluster: EtcdCluster) -> AsyncIterator[tuple[EtcdStore, EtcdStore]]:
    """Two stores (replicas) on one fresh prefix, loaded; closed at the end."""
    prefix = f"/live-{os.urandom(3).hex()}/"
    one, two = (EtcdStore(cluster.endpoints, prefix=prefix, liveness_ttl=TTL) for _ in "ab")
    try:
        for store in (one, two):
            await store.start()
            await store.load()
        yield one, two
    finally:
        await one.close()
        await two.close()


def test_a_held_host_is_up_everywhere_and_goes_down_when_no_replica_renews(
    single: EtcdCluster,
) -> None:
    async def body() -> None:
        async with two_replicas(single) as (one, two):
            async with one.liveness.hold("h1"):
                await until(lambda: two.liveness.alive("h1"), 2.0)
                await asyncio.sleep(TTL * 2)  # renewed meanwhile: still up
                assert two.liveness.alive("h1")
                assert one.liveness.up_hosts() == {"h1"}
            took = await until(lambda: not two.liveness.alive("h1"), TTL + 3.0)
            assert not one.liveness.alive("h1")
            print(f"down {took:.1f} s after the last holder let go (ttl {TTL} s)")

    asyncio.run(body())


def test_a_host_that_moves_to_another_replica_stays_up(single: EtcdCluster) -> None:
    async def body() -> None:
        async with two_replicas(single) as (one, two):
            async with one.liveness.hold("h1"):
                await until(lambda: two.liveness.alive("h1"), 2.0)
            async with two.liveness.hold("h1"):  # the agent failed over
                await asyncio.sleep(TTL * 2.5)  # replica one's lease ran out meanwhile
                assert one.liveness.alive("h1")
                assert two.liveness.alive("h1")
            # A replica started now learns who is up from its load.
            late = EtcdStore(single.endpoints, prefix=one.layout.prefix, liveness_ttl=TTL)
            await late.start()
            await late.load()
            assert late.liveness.alive("h1")
            await late.close()

    asyncio.run(body())


def test_a_host_that_comes_back_to_its_first_replica_stays_up(single: EtcdCluster) -> None:
    """A -> B -> A within a TTL: A's lease is still valid when the agent returns, but
    the key went to B's lease, which B stops renewing. A must take the key back,
    or the host goes down while its agent is connected to A."""

    async def body() -> None:
        async with two_replicas(single) as (one, two):
            async with one.liveness.hold("h1"):
                await until(lambda: two.liveness.alive("h1"), 2.0)
            async with two.liveness.hold("h1"):
                pass
            async with one.liveness.hold("h1"):  # back at once: one's lease still runs
                await asyncio.sleep(TTL * 2.5)  # two's lease ran out meanwhile
                assert one.liveness.alive("h1")
                assert two.liveness.alive("h1")

    asyncio.run(body())
