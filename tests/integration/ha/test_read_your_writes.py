"""``EtcdStore.barrier()``: after it, a replica has applied every write acknowledged
anywhere before the call (two store instances = two replicas, real etcd)."""

from __future__ import annotations

import asyncio
import os

import pytest

from harness.etcd import EtcdCluster
from l2pop.server.store.base import Put
from l2pop.server.store.etcd import EtcdStore
from l2pop.server.store.etcd_barrier import SharedRead

pytestmark = pytest.mark.etcd


def test_after_a_barrier_the_other_replica_has_every_acknowledged_write(
    cluster: EtcdCluster,
) -> None:
    async def body() -> None:
        prefix = f"/ryw-{os.urandom(3).hex()}/"
        writer, reader = (EtcdStore(cluster.endpoints, prefix=prefix) for _ in "ab")
        for store in (writer, reader):
            await store.start()
            await store.load()
        applied: list[int] = []
        reader.subscribe(lambda record: applied.append(record.revision))
        try:
            for i in range(30):
                record = await writer.commit([Put("port", f"p{i}", {"i": i})])
                assert await reader.barrier() >= record.revision
                assert applied[-1] >= record.revision
        finally:
            await writer.close()
            await reader.close()

    asyncio.run(body())


def test_concurrent_callers_share_the_catch_up_reads() -> None:
    async def body() -> tuple[int, list[int]]:
        runs = 0
        seen_by: list[int] = []

        async def read() -> None:
            nonlocal runs
            runs += 1
            await asyncio.sleep(0.01)

        shared = SharedRead(read)

        async def caller() -> None:
            await shared()
            seen_by.append(runs)

        await asyncio.gather(*(caller() for _ in range(200)))
        return runs, seen_by

    runs, seen_by = asyncio.run(body())
    assert runs <= 2
    assert len(seen_by) == 200


def test_a_caller_waits_for_a_read_that_began_after_it_arrived() -> None:
    async def body() -> list[str]:
        log: list[str] = []
        gate = asyncio.Event()

        async def read() -> None:
            log.append("begin")
            await gate.wait()
            log.append("end")

        shared = SharedRead(read)
        first = asyncio.create_task(shared())
        await asyncio.sleep(0)  # the first read is running
        second = asyncio.create_task(shared())  # arrives during it
        await asyncio.sleep(0)
        gate.set()
        await first
        log.append("first done")
        await second
        log.append("second done")
        return log

    log = asyncio.run(body())
    assert log.count("begin") == 2  # the read running when the second came did not serve it
    assert log[-2:] == ["end", "second done"]
