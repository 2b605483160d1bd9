"""SQLite store: one file, WAL, ``synchronous=FULL``, group commit.

Concurrent ``commit`` calls are queued and written in batches: every
transaction of a batch gets its own revision, a failed guard drops that
transaction only (:mod:`l2pop.server.store.sqlite_batch` checks the guards in
Python and writes a batch in a few statements), and the batch ends with one
COMMIT -- one fsync for many acknowledged writes. Listeners then get the
change records in revision order on the event loop, and only after that are
the callers' futures resolved (read-your-writes).

Where each part runs: the batch is *staged* (BEGIN IMMEDIATE, reads, guards,
writes: CPU and page-cache work, well under a millisecond of SQLite) on the
event loop's thread, and only the COMMIT -- the fsync, the one part that
waits on the disk -- runs on the worker thread, which gives up the GIL for
it. When the whole batch ran on the worker, each of its statements gave up
the GIL and had to win it back from a busy event loop: a batch of 2 ms of
CPU took 8 ms of wall time, and that wait, not the CPU, capped the write rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson

from l2pop.errors import GoneError, StoreUnavailableError, ValidationError
from l2pop.server.store.base import (
    DEFAULT_RETAIN,
    INDEX,
    ChangeListener,
    ChangeRecord,
    Loaded,
    Op,
    PreconditionFailed,
    ResourceChange,
    StoredRecord,
)
from l2pop.server.store.sqlite_batch import BatchWriter
from l2pop.server.store.sqlite_schema import migrate_sqlite

__all__ = ["SQLiteStore"]

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    mod_revision INTEGER NOT NULL, PRIMARY KEY (kind, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (revision INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('revision', 0), ('compacted', 0);
"""
MAX_BATCH = 512

_Pending = tuple[Sequence[Op], "asyncio.Future[ChangeRecord]"]


class SQLiteStore:
    """The default store; ``path`` may be ``:memory:`` only in tests (not durable)."""

    def __init__(self, path: Path | str, *, retain: int = DEFAULT_RETAIN) -> None:
        self._path = str(path)
        self._retain = retain
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._conn: sqlite3.Connection | None = None
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._listeners: list[ChangeListener] = []
        self._revision = 0
        self._compacted = 0
        self._staged_commits = 0
        self._staged_compaction: int | None = None
        self.batches = 0
        self.commits = 0

    @property
    def revision(self) -> int:
        return self._revision

    async def _run(self, fn: object, *args: object) -> object:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)  # type: ignore[arg-type]

    def _open(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(SCHEMA)
        self._conn = conn
        migrate_sqlite(conn, self._path)
        self._revision = self._meta("revision")
        self._compacted = self._meta("compacted")

    def _meta(self, name: str) -> int:
        assert self._conn is not None
        row = self._conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return int(row[0])

    async def start(self) -> None:
        await self._run(self._open)
        self._writer = asyncio.create_task(self._write_loop(), name="sqlite-writer")

    async def close(self) -> None:
        if self._writer is not None:
            while not self._queue.empty():
                await asyncio.sleep(0.01)
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        if self._conn is not None:
            await self._run(self._conn.close)
            self._conn = None
        self._executor.shutdown(wait=True)

    @property
    def shared(self) -> None:
        """One replica's own file: no barrier, liveness from its own streams."""
        return None

    async def healthy(self) -> bool:
        return self._conn is not None and self._writer is not None and not self._writer.done()

    def subscribe(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    # -- reads -------------------------------------------------------------

    def _load(self) -> Loaded:
        assert self._conn is not None
        records: dict[str, dict[str, StoredRecord]] = {}
        rows = self._conn.execute(
            "SELECT kind, key, value, mod_revision FROM records WHERE kind != ?", (INDEX,)
        )
        for kind, key, value, mod in rows:
            records.setdefault(kind, {})[key] = StoredRecord(orjson.loads(value), mod)
        return Loaded(self._meta("revision"), self._meta("compacted"), records)

    async def load(self) -> Loaded:
        result = await self._run(self._load)
        assert isinstance(result, Loaded)
        return result

    def _changes(self, after: int) -> list[ChangeRecord]:
        assert self._conn is not None
        rows = self._conn.execute(
            "SELECT revision, body FROM changes WHERE revision > ? ORDER BY revision", (after,)
        )
        return [_decode_change(rev, body) for rev, body in rows]

    async def changes(self, after: int) -> list[ChangeRecord]:
        if after < self._compacted:
            raise GoneError(
                f"revision {after} is compacted (log retained after {self._compacted}): list again"
            )
        if after > self._revision:
            raise ValidationError("revision", after, f"ahead of the current {self._revision}")
        result = await self._run(self._changes, after)
        assert isinstance(result, list)
        return result

    # -- writes ------------------------------------------------------------

    async def commit(self, ops: Sequence[Op]) -> ChangeRecord:
        if self._writer is None or self._writer.done():
            raise StoreUnavailableError("the store is not running")
        future: asyncio.Future[ChangeRecord] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((list(ops), future))
        return await future

    async def _write_loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                outcome = self._stage_batch([ops for ops, _ in batch])
                await self._run(self._commit_staged)
            except (sqlite3.Error, OSError) as exc:
                self._abandon_staged()
                log.error("sqlite write failed: %s", exc)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(StoreUnavailableError(f"sqlite: {exc}"))
                continue
            assert isinstance(outcome, list)
            self.batches += 1
            try:
                self._deliver(batch, outcome)
            except Exception:
                # A listener failed on a committed change: the replica's view
                # can no longer be trusted. Stop writing (/healthz turns 503,
                # a supervisor restarts us and the view is rebuilt from disk).
                log.exception("applying committed changes failed; the store stops")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(StoreUnavailableError("the server must restart"))
                raise

    def _deliver(
        self, batch: list[_Pending], outcome: list[ChangeRecord | PreconditionFailed]
    ) -> None:
        # Listeners first, in revision order, then the callers: a caller woken
        # up finds its write already in the view.
        for result in outcome:
            if isinstance(result, ChangeRecord):
                self._revision = result.revision
                for listener in self._listeners:
                    listener(result)
        for (_, future), result in zip(batch, outcome, strict=True):
            if future.done():
                continue
            if isinstance(result, ChangeRecord):
                future.set_result(result)
            else:
                future.set_exception(result)

    def _stage_batch(self, batch: list[Sequence[Op]]) -> list[ChangeRecord | PreconditionFailed]:
        """Write the batch inside an open transaction; :meth:`_commit_staged` ends it."""
        conn = self._conn
        assert conn is not None
        conn.execute("BEGIN IMMEDIATE")
        try:
            writer = BatchWriter(conn, self._meta("revision"))
            outcome = writer.run(batch)
            conn.execute("UPDATE meta SET value = ? WHERE name = 'revision'", (writer.revision,))
            self._staged_compaction = self._compact(conn, writer.revision)
        except BaseException:
            self._abandon_staged()
            raise
        self._staged_commits = sum(isinstance(r, ChangeRecord) for r in outcome)
        return outcome

    def _commit_staged(self) -> None:
        """COMMIT (the fsync); runs on the worker thread, without the GIL while it waits."""
        assert self._conn is not None
        self._conn.execute("COMMIT")
        self.commits += self._staged_commits
        if self._staged_compaction is not None:
            self._compacted = self._staged_compaction

    def _abandon_staged(self) -> None:
        conn = self._conn
        if conn is not None and conn.in_transaction:
            conn.execute("ROLLBACK")

    def _compact(self, conn: sqlite3.Connection, revision: int) -> int | None:
        """Trim the change log in the open transaction; the new floor, or None."""
        # Compact in steps, not on every commit: once the log is 10 % over.
        if revision - self._compacted <= self._retain + max(1, self._retain // 10):
            return None
        compacted = revision - self._retain
        conn.execute("DELETE FROM changes WHERE revision <= ?", (compacted,))
        conn.execute("UPDATE meta SET value = ? WHERE name = 'compacted'", (compacted,))
        return compacted


def _decode_change(revision: int, body: str) -> ChangeRecord:
    return ChangeRecord(
        revision, tuple(ResourceChange(k, key, b, a) for k, key, b, a in orjson.loads(body))
    )
