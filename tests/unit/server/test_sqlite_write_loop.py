"""No single write stops the SQLite store's writer loop (issue #17, item 2); real SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from l2pop.server.store.base import ABSENT, ChangeRecord, Op, Put, WriteFailed
from l2pop.server.store.sqlite import SQLiteStore

# On a store whose writer loop died, a commit never resolves: fail instead of hanging.
WRITE_S = 5.0


async def _commit(store: SQLiteStore, ops: Sequence[Op]) -> ChangeRecord:
    async with asyncio.timeout(WRITE_S):
        return await store.commit(ops)


def test_a_value_the_encoder_cannot_take_fails_alone(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = SQLiteStore(tmp_path / "s.db")
        await store.start()
        try:
            # One batch: the bad write between two good ones.
            results = await asyncio.gather(
                _commit(store, [Put("network", "a", {"name": "a"}, ABSENT)]),
                _commit(store, [Put("network", "b", {"name": "\ud800"}, ABSENT)]),
                _commit(store, [Put("network", "c", {"name": 2**70}, ABSENT)]),
                _commit(store, [Put("network", "d", {"name": "d"}, ABSENT)]),
                return_exceptions=True,
            )
            assert [type(r).__name__ for r in results] == [
                "ChangeRecord",
                "WriteFailed",
                "WriteFailed",
                "ChangeRecord",
            ]
            assert await store.healthy()
            after = await _commit(store, [Put("network", "e", {"name": "e"}, ABSENT)])
            assert after.revision == 3  # no revision was spent on the failed ones
            loaded = await store.load()
            assert sorted(loaded.records["network"]) == ["a", "d", "e"]
        finally:
            await store.close()

    asyncio.run(scenario())


class _BuggyStaging(SQLiteStore):
    """A bug (not a database error) while staging any batch that holds a "bug" write."""

    def _stage_batch(self, batch: list[Sequence[Op]]) -> list[ChangeRecord | object]:  # type: ignore[override]
        if any(op.key == "bug" for ops in batch for op in ops):
            self._abandon_staged()
            raise RuntimeError("a bug nobody foresaw")
        return super()._stage_batch(batch)  # type: ignore[return-value]


def test_an_unexpected_error_fails_its_write_alone_and_the_loop_goes_on(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = _BuggyStaging(tmp_path / "s.db")
        await store.start()
        try:
            results = await asyncio.gather(
                _commit(store, [Put("port", "x", {"v": 1}, ABSENT)]),
                _commit(store, [Put("port", "bug", {"v": 1}, ABSENT)]),
                _commit(store, [Put("port", "y", {"v": 1}, ABSENT)]),
                return_exceptions=True,
            )
            assert isinstance(results[0], ChangeRecord)
            assert isinstance(results[1], WriteFailed)
            assert isinstance(results[2], ChangeRecord)
            with pytest.raises(WriteFailed):
                await _commit(store, [Put("port", "bug", {"v": 2}, ABSENT)])
            assert await store.healthy()
            assert (await _commit(store, [Put("port", "z", {"v": 1}, ABSENT)])).revision == 3
        finally:
            await store.close()

    asyncio.run(scenario())
