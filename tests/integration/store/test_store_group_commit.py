"""Group commit on every backend: a burst of writes, each still all or nothing.

The SQLite store batches writes into one COMMIT, the etcd store into one Txn
(:mod:`l2pop.server.store.etcd_writer`); in both a broken guard must fail only
its own write, and of writes racing for one key exactly one wins.
"""

from __future__ import annotations

import asyncio

from storebackends import OpenStore
from test_store_conformance import run

from l2pop.server.store.base import ABSENT, INDEX, ChangeRecord, PreconditionFailed, Put, Store
from l2pop.server.store.etcd import EtcdStore


def test_a_broken_guard_fails_only_its_own_write_in_a_burst(open_store: OpenStore) -> None:
    async def body(store: Store) -> None:
        seen: list[ChangeRecord] = []
        store.subscribe(seen.append)
        k0 = await store.commit([Put("thing", "k0", {"v": 0})])
        await store.commit([Put("thing", "k1", {"v": 1})])
        good = [store.commit([Put("thing", f"n{i}", {"v": i}, ABSENT)]) for i in range(40)]
        bad = [
            store.commit([Put("thing", "k0", {"v": "stale"}, k0.revision + 1000)]),
            store.commit([Put("thing", "x", {"v": "x"}, ABSENT), Put("thing", "k1", {}, ABSENT)]),
        ]
        results = await asyncio.gather(*good, *bad, return_exceptions=True)
        assert all(isinstance(r, ChangeRecord) for r in results[:40]), results
        failed = results[40:]
        assert all(isinstance(r, PreconditionFailed) for r in failed), failed
        assert [(f.kind, f.key) for f in failed if isinstance(f, PreconditionFailed)] == [
            ("thing", "k0"),
            ("thing", "k1"),
        ]
        loaded = await store.load()
        things = loaded.records["thing"]
        assert sorted(things) == sorted(["k0", "k1", *(f"n{i}" for i in range(40))])
        assert things["k0"].value == {"v": 0}
        assert things["k1"].value == {"v": 1}
        written = [c.key for record in seen for c in record.changes]
        assert sorted(written) == sorted(["k0", "k1", *(f"n{i}" for i in range(40))])
        if isinstance(store, EtcdStore):
            # The burst rode in fewer Txns than writes (etcd: one revision per Txn).
            burst = {r.revision for r in results[:40] if isinstance(r, ChangeRecord)}
            assert len(burst) < 40

    run(open_store, body)


def test_of_writes_racing_for_one_key_in_one_burst_exactly_one_wins(
    open_store: OpenStore,
) -> None:
    async def body(store: Store) -> None:
        racers = [
            store.commit(
                [Put("port", f"p{i}", {"i": i}, ABSENT), Put(INDEX, "mac/n/a", {"p": i}, ABSENT)]
            )
            for i in range(10)
        ]
        results = await asyncio.gather(*racers, return_exceptions=True)
        won = [i for i, r in enumerate(results) if isinstance(r, ChangeRecord)]
        assert len(won) == 1, results
        assert all(isinstance(r, PreconditionFailed) for i, r in enumerate(results) if i != won[0])
        loaded = await store.load()
        assert sorted(loaded.records["port"]) == [f"p{won[0]}"]

    run(open_store, body)
