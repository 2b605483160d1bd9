"""A cluster that allows fewer ops per Txn than the group commit assumed: the store
learns the limit from etcd's refusal and every write still lands (real etcd,
``--max-txn-ops 8``)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import pytest

from harness.etcd import EtcdCluster, Member, require_etcd
from l2pop.server.store.base import ABSENT, ChangeRecord, Put
from l2pop.server.store.etcd import EtcdStore

pytestmark = pytest.mark.etcd

LIMIT = 8


class SmallTxnCluster(EtcdCluster):
    def _command(self, member: Member) -> list[str]:
        command = super()._command(member)
        command[command.index("--max-txn-ops") + 1] = str(LIMIT)
        return command


def test_a_smaller_max_txn_ops_is_learnt_and_every_write_lands(tmp_path: Path) -> None:
    require_etcd()
    cluster = SmallTxnCluster(tmp_path / "etcd", 1, None)
    try:
        cluster.start()

        async def body() -> None:
            store = EtcdStore(cluster.endpoints, prefix="/small/", max_txn_ops=128)
            await store.start()
            try:
                writes = [
                    store.commit([Put("thing", f"k{i}", {"i": i}, ABSENT)]) for i in range(30)
                ]
                results = await asyncio.gather(*writes)
                assert all(isinstance(r, ChangeRecord) for r in results)
                # At most LIMIT - 1 writes per Txn (one op is the txn key's).
                revisions = [r.revision for r in results]
                assert max(revisions.count(r) for r in revisions) <= LIMIT - 1
                loaded = await store.load()
                assert len(loaded.records["thing"]) == 30
            finally:
                await store.close()

        asyncio.run(body())
    finally:
        for index in range(cluster.size):
            with contextlib.suppress(Exception):
                cluster.kill(index, signal.SIGKILL)
