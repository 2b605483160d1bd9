"""What every store backend must do (DESIGN.md §5 "Store and replicas", issue 9)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from storebackends import OpenStore

from l2pop.errors import GoneError, ValidationError
from l2pop.server.store.base import (
    ABSENT,
    INDEX,
    ChangeRecord,
    Check,
    CheckNone,
    Delete,
    PreconditionFailed,
    Put,
    Store,
)

T = TypeVar("T")


def run(open_store: OpenStore, body: Callable[[Store], Awaitable[T]], retain: int = 10_000) -> T:
    async def main() -> T:
        store = open_store(retain)
        await store.start()
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(main())


async def _put(store: Store, key: str, value: Any, expect: int | None = None) -> ChangeRecord:
    return await store.commit([Put("thing", key, {"v": value}, expect)])


def test_revisions_increase_strictly_and_survive_a_restart(open_store: OpenStore) -> None:
    async def first(store: Store) -> list[int]:
        return [(await _put(store, f"k{i}", i)).revision for i in range(5)]

    revisions = run(open_store, first)
    assert revisions == sorted(set(revisions))

    async def second(store: Store) -> tuple[int, int]:
        loaded = await store.load()
        return loaded.revision, (await _put(store, "after", 1)).revision

    loaded, after = run(open_store, second)
    assert loaded == revisions[-1]
    assert after > loaded


def test_a_failed_guard_writes_nothing_of_the_transaction(open_store: OpenStore) -> None:
    async def body(store: Store) -> None:
        first = await store.commit([Put(INDEX, "vni/1", {"o": "a"}, ABSENT)])
        with pytest.raises(PreconditionFailed) as failed:
            await store.commit(
                [Put("network", "b", {"n": "b"}, ABSENT), Put(INDEX, "vni/1", {"o": "b"}, ABSENT)]
            )
        assert (failed.value.kind, failed.value.key) == (INDEX, "vni/1")
        loaded = await store.load()
        assert loaded.revision == first.revision
        assert "network" not in loaded.records
        assert await store.changes(first.revision) == []

    run(open_store, body)


def test_mod_revision_guards_put_and_delete(open_store: OpenStore) -> None:
    async def body(store: Store) -> None:
        created = await _put(store, "k", 1, ABSENT)
        updated = await _put(store, "k", 2, created.revision)
        with pytest.raises(PreconditionFailed):
            await _put(store, "k", 3, created.revision)  # stale
        with pytest.raises(PreconditionFailed):
            await store.commit([Delete("thing", "k", created.revision)])
        loaded = await store.load()
        assert loaded.records["thing"]["k"].value == {"v": 2}
        assert loaded.records["thing"]["k"].mod_revision == updated.revision
        deleted = await store.commit([Delete("thing", "k", updated.revision)])
        assert "k" not in (await store.load()).records.get("thing", {})
        assert deleted.changes[0].before == {"v": 2}
        assert deleted.changes[0].after is None

    run(open_store, body)


def test_check_and_check_none_guard_without_writing(open_store: OpenStore) -> None:
    async def body(store: Store) -> None:
        net = await _put(store, "net", 1, ABSENT)
        await store.commit([Put(INDEX, "mac/net/aa", {"o": "p"}, ABSENT)])
        with pytest.raises(PreconditionFailed):
            await store.commit([CheckNone(INDEX, "mac/net/"), Delete("thing", "net")])
        with pytest.raises(PreconditionFailed):
            await store.commit([Check("thing", "net", net.revision + 100), _p("x")])
        ok = await store.commit([Check("thing", "net", net.revision), _p("x")])
        assert [c.key for c in ok.changes] == ["x"]
        await store.commit([CheckNone(INDEX, "mac/other/"), _p("y")])

    run(open_store, body)


def _p(key: str) -> Put:
    return Put("thing", key, {"v": key})


def test_change_records_carry_images_and_skip_index_records(open_store: OpenStore) -> None:
    async def body(store: Store) -> None:
        record = await store.commit(
            [Put("port", "p", {"mac": "a"}, ABSENT), Put(INDEX, "mac/n/a", {"o": "p"}, ABSENT)]
        )
        [change] = record.changes
        assert (change.kind, change.key, change.before, change.after) == (
            "port", "p", None, {"mac": "a"}
        )  # fmt: skip
        update = await store.commit([Put("port", "p", {"mac": "b"})])
        assert (update.changes[0].before, update.changes[0].after) == ({"mac": "a"}, {"mac": "b"})
        loaded = await store.load()
        assert INDEX not in loaded.records
        assert loaded.records["port"]["p"].mod_revision == update.revision

    run(open_store, body)


def test_change_log_is_served_after_a_restart(open_store: OpenStore) -> None:
    async def write(store: Store) -> list[ChangeRecord]:
        return [await _put(store, f"k{i}", i) for i in range(4)]

    written = run(open_store, write)

    async def read(store: Store) -> list[ChangeRecord]:
        return await store.changes(written[0].revision)

    assert run(open_store, read) == written[1:]


def test_revision_ahead_is_400_and_compacted_is_410(open_store: OpenStore) -> None:
    retain = 10

    async def body(store: Store) -> None:
        records = [await _put(store, f"k{i}", i) for i in range(40)]
        with pytest.raises(ValidationError):
            await store.changes(records[-1].revision + 1)
        with pytest.raises(GoneError):
            await store.changes(0)
        kept = await store.changes(records[-1 - retain].revision)
        assert kept == records[-retain:]

    run(open_store, body, retain=retain)


def test_listeners_get_every_change_in_order_before_commit_returns(open_store: OpenStore) -> None:
    async def body(store: Store) -> None:
        seen: list[int] = []
        keys: list[str] = []

        def listener(record: ChangeRecord) -> None:
            seen.append(record.revision)
            keys.extend(change.key for change in record.changes)

        store.subscribe(listener)

        async def one(i: int) -> None:
            record = await _put(store, f"k{i}", i)
            assert record.revision in seen
            assert f"k{i}" in [change.key for change in record.changes]

        await asyncio.gather(*(one(i) for i in range(50)))
        # A group commit may fold concurrent writes into one revision (etcd:
        # one Txn); each revision is delivered once, every write exactly once.
        assert seen == sorted(set(seen))
        assert sorted(keys) == sorted(f"k{i}" for i in range(50))
        assert store.revision == seen[-1]

    run(open_store, body)


def test_concurrent_claims_of_one_index_key_have_one_winner(open_store: OpenStore) -> None:
    async def body(store: Store) -> None:
        async def claim(i: int) -> bool:
            try:
                port = Put("port", f"p{i}", {"i": i}, ABSENT)
                await store.commit([port, Put(INDEX, "mac/n/x", {"o": i}, ABSENT)])
            except PreconditionFailed:
                return False
            return True

        wins = await asyncio.gather(*(claim(i) for i in range(40)))
        assert sum(wins) == 1
        assert len((await store.load()).records["port"]) == 1

    run(open_store, body)


def test_a_started_store_is_healthy(open_store: OpenStore) -> None:
    async def body(store: Store) -> bool:
        return await store.healthy()

    assert run(open_store, body) is True
