"""The batched group commit: guards across transactions of one batch, on real SQLite."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from l2pop.errors import StoreUnavailableError
from l2pop.server.store.base import (
    ABSENT,
    ChangeRecord,
    CheckNone,
    Delete,
    PreconditionFailed,
    Put,
)
from l2pop.server.store.sqlite import SCHEMA, SQLiteStore
from l2pop.server.store.sqlite_batch import BatchWriter


def _conn(tmp_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(tmp_path / "b.db", isolation_level=None)
    conn.executescript(SCHEMA)
    return conn


def _run(conn: sqlite3.Connection, batch: list[list[object]], revision: int = 0) -> list[object]:
    conn.execute("BEGIN IMMEDIATE")
    outcome = BatchWriter(conn, revision).run(batch)  # type: ignore[arg-type]
    conn.execute("COMMIT")
    return list(outcome)


def _records(conn: sqlite3.Connection) -> dict[tuple[str, str], int]:
    rows = conn.execute("SELECT kind, key, mod_revision FROM records")
    return {(k, key): mod for k, key, mod in rows}


def test_a_later_transaction_sees_an_earlier_one_of_the_same_batch(tmp_path: Path) -> None:
    conn = _conn(tmp_path)
    outcome = _run(
        conn,
        [
            [Put("port", "a", {"v": 1}, ABSENT)],
            [Put("port", "a", {"v": 2}, ABSENT)],  # a exists since the first one
            [Put("port", "a", {"v": 3}, 1)],
            [Delete("port", "a", 2)],
        ],
    )
    assert isinstance(outcome[0], ChangeRecord)
    assert outcome[0].revision == 1
    assert isinstance(outcome[1], PreconditionFailed)
    assert isinstance(outcome[2], ChangeRecord)
    assert outcome[2].revision == 2
    change = outcome[2].changes[0]
    assert (change.before, change.after) == ({"v": 1}, {"v": 3})
    assert isinstance(outcome[3], ChangeRecord)
    assert outcome[3].changes[0].after is None
    assert _records(conn) == {}
    logged = [r for (r,) in conn.execute("SELECT revision FROM changes ORDER BY revision")]
    assert logged == [1, 2, 3]


def test_a_failed_transaction_writes_nothing(tmp_path: Path) -> None:
    conn = _conn(tmp_path)
    _run(conn, [[Put("index", "mac/n/1", {"o": "x"}, ABSENT)]])
    outcome = _run(
        conn, [[Put("port", "b", {"v": 1}, ABSENT), Put("index", "mac/n/1", {}, ABSENT)]], 1
    )
    assert isinstance(outcome[0], PreconditionFailed)
    assert _records(conn) == {("index", "mac/n/1"): 1}


def test_check_none_sees_the_batch_and_its_own_transaction(tmp_path: Path) -> None:
    conn = _conn(tmp_path)
    _run(conn, [[Put("index", "mac/n/1", {}, ABSENT)]])
    outcome = _run(
        conn,
        [
            [CheckNone("index", "mac/n/")],  # held by revision 1
            [Delete("index", "mac/n/1")],
            [CheckNone("index", "mac/n/"), Put("network", "n", {"x": 1}, ABSENT)],
            [Put("index", "mac/n/2", {}, ABSENT), CheckNone("index", "mac/n/")],
        ],
        1,
    )
    assert [type(o).__name__ for o in outcome] == [
        "PreconditionFailed",
        "ChangeRecord",
        "ChangeRecord",
        "PreconditionFailed",
    ]
    assert _records(conn) == {("network", "n"): 3}


class _CommitFailsOnce(SQLiteStore):
    """A disk that fails one COMMIT (the part that runs on the worker thread)."""

    fail_next = False

    def _commit_staged(self) -> None:
        if self.fail_next:
            self.fail_next = False
            raise sqlite3.OperationalError("disk I/O error")
        super()._commit_staged()


def test_a_failed_commit_fails_its_batch_and_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = _CommitFailsOnce(tmp_path / "s.db")
        seen: list[int] = []
        store.subscribe(lambda record: seen.append(record.revision))
        await store.start()
        try:
            await store.commit([Put("port", "a", {"v": 1}, ABSENT)])
            store.fail_next = True
            with pytest.raises(StoreUnavailableError):
                await store.commit([Put("port", "b", {"v": 1}, ABSENT)])
            assert store.revision == 1
            loaded = await store.load()
            assert (loaded.revision, sorted(loaded.records["port"])) == (1, ["a"])
            # The next write works, at the next revision, and sees b absent.
            record = await store.commit([Put("port", "b", {"v": 2}, ABSENT)])
            assert record.revision == 2
            assert seen == [1, 2]  # listeners never saw the failed batch
        finally:
            await store.close()
        reopened = SQLiteStore(tmp_path / "s.db")
        await reopened.start()
        try:
            loaded = await reopened.load()
            assert loaded.revision == 2
            assert loaded.records["port"]["b"].value == {"v": 2}
        finally:
            await reopened.close()

    asyncio.run(scenario())
