"""Writes in flight when their etcd member dies (store level, real three-member cluster):
a write whose reply was lost is found (or sent again), never doubled or refused."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from harness.etcd import EtcdCluster
from l2pop.errors import StoreUnavailableError
from l2pop.server.store.base import ABSENT, PreconditionFailed, Put
from l2pop.server.store.etcd import EtcdStore

pytestmark = pytest.mark.etcd


def test_creates_in_flight_when_the_member_dies_are_acknowledged_once(
    cluster: EtcdCluster,
) -> None:
    outcome: dict[str, str] = {}

    async def body() -> set[str]:
        store = EtcdStore(cluster.endpoints, prefix=f"/lost-{os.urandom(3).hex()}/")
        await store.start()
        try:
            stop = time.monotonic() + 4.0

            async def writer(w: int) -> None:
                for i in range(100_000):
                    if time.monotonic() > stop:
                        return
                    key = f"w{w}-{i}"
                    try:
                        await store.commit([Put("thing", key, {"i": i}, ABSENT)])
                        outcome[key] = "acked"
                    except PreconditionFailed:
                        outcome[key] = "refused"  # would mean: our own lost write hit us
                    except StoreUnavailableError:
                        outcome[key] = "unavailable"

            async def killer() -> None:
                await asyncio.sleep(1.0)
                await asyncio.to_thread(cluster.kill, 0)  # the member the store uses

            await asyncio.gather(killer(), *(writer(w) for w in range(32)))
            return set((await store.load()).records.get("thing", {}))
        finally:
            await store.close()

    stored = asyncio.run(body())
    acked = {k for k, v in outcome.items() if v == "acked"}
    assert "refused" not in outcome.values()
    assert acked <= stored
    assert stored <= set(outcome)  # nothing appeared that nobody wrote
    print(f"{len(acked)} acked, {len(stored - acked)} stored without an ack")
