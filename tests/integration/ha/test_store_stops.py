"""A replica whose view cannot apply a committed change stops writing (as with SQLite):
the write in flight and later ones get StoreUnavailableError, healthy() turns False."""

from __future__ import annotations

import asyncio
import os

import pytest

from harness.etcd import EtcdCluster
from l2pop.errors import StoreUnavailableError
from l2pop.server.store.base import ChangeRecord, Put
from l2pop.server.store.etcd import EtcdStore

pytestmark = pytest.mark.etcd


def test_a_failing_listener_stops_the_store_instead_of_hanging_writes(
    cluster: EtcdCluster,
) -> None:
    async def body() -> None:
        store = EtcdStore(cluster.endpoints, prefix=f"/stops-{os.urandom(3).hex()}/")
        await store.start()
        await store.load()

        def broken(record: ChangeRecord) -> None:
            if any(change.key == "p" for change in record.changes):
                raise RuntimeError(f"cannot apply {record.revision}")

        store.subscribe(broken)
        try:
            assert await store.healthy()
            await store.commit([Put("port", "ok", {})])  # applied fine
            with pytest.raises(StoreUnavailableError):
                await asyncio.wait_for(store.commit([Put("port", "p", {})]), 10)
            assert not await store.healthy()
            with pytest.raises(StoreUnavailableError):
                await store.commit([Put("port", "q", {})])
        finally:
            await store.close()

    asyncio.run(body())
