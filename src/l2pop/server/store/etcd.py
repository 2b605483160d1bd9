"""etcd store: several server replicas share one etcd cluster.

* **l2pop transactions ride in etcd Txns** (:mod:`etcd_codec`): guards are
  compares on ``mod_revision``, index records make uniqueness hold across
  replicas, and the revision of the write is etcd's revision of the Txn.
  Concurrent writes on disjoint keys share one Txn (group commit,
  :mod:`etcd_writer`), each still all or nothing; they then share the
  revision and one change record.
* **The change stream is etcd's watch** over the prefix with ``prev_kv``
  (:mod:`etcd_watch`): every replica, the writer included, turns the events of
  one revision into a :class:`ChangeRecord` (before images from ``prev_kv``)
  and hands it to its listeners in revision order. ``commit`` returns once its
  own Txn came back through the watch, so the writer's view has it
  (read-your-writes) and every replica's stream carries the same records.
* **A lost reply** (member killed mid-call) is not retried blindly: the Txn
  also writes a random id to the ``txn`` key, and the writer waits until its
  watch reached the current ``txn`` revision to learn whether it landed.
* **History**: recent records are kept in memory; older ones come from etcd's
  history (``changes``). The store compacts etcd's history itself, keeping
  ``retain`` revisions (it writes the point to the ``compacted`` key).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from aetcd import rpc

from l2pop.errors import GoneError, StoreUnavailableError, ValidationError
from l2pop.server.store.base import (
    DEFAULT_RETAIN,
    INDEX,
    ChangeListener,
    ChangeRecord,
    Loaded,
    Op,
    StoredRecord,
)
from l2pop.server.store.etcd_barrier import SharedRead
from l2pop.server.store.etcd_client import EtcdClient, EtcdCredentials
from l2pop.server.store.etcd_codec import (
    Decoded,
    Layout,
    check_ops,
    decode_events,
    prefix_end,
)
from l2pop.server.store.etcd_liveness import DEFAULT_TTL_S, HostLiveness
from l2pop.server.store.etcd_schema import migrate_etcd
from l2pop.server.store.etcd_watch import Compacted, follow, read_history
from l2pop.server.store.etcd_writer import DEFAULT_MAX_TXN_OPS, GroupWriter

__all__ = ["EtcdStore", "open_etcd_store"]

log = logging.getLogger(__name__)

WRITE_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 10.0
HEALTH_TIMEOUT_S = 1.0
HEALTH_CACHE_S = 0.5
HISTORY_TIMEOUT_S = 10.0
PAGE = 500


class EtcdStore:
    """The :class:`~l2pop.server.store.base.Store` on an etcd v3 cluster."""

    def __init__(
        self,
        endpoints: str,
        *,
        ca: Path | None = None,
        cert: Path | None = None,
        key: Path | None = None,
        user: str | None = None,
        password_file: Path | None = None,
        prefix: str = "/l2pop/",
        retain: int = DEFAULT_RETAIN,
        write_timeout: float = WRITE_TIMEOUT_S,
        liveness_ttl: float = DEFAULT_TTL_S,
        max_txn_ops: int = DEFAULT_MAX_TXN_OPS,
    ) -> None:
        self.layout = Layout(prefix)
        self._client = EtcdClient(endpoints, EtcdCredentials(ca, cert, key, user, password_file))
        self.liveness = HostLiveness(self._client, self.layout, liveness_ttl)
        self._shared_barrier = SharedRead(
            lambda: self._barrier_until(time.monotonic() + self._write_timeout)
        )
        self._retain = retain
        self._write_timeout = write_timeout
        self._listeners: list[ChangeListener] = []
        self._waiting: dict[str, asyncio.Future[ChangeRecord]] = {}
        self._delivery: list[tuple[int, asyncio.Future[None]]] = []
        # The last ``retain`` records and the one before: changes(after) for
        # any ``after`` among them is served from memory.
        self._recent: deque[ChangeRecord] = deque(maxlen=retain + 1)
        self._revision = 0  # latest l2pop transaction known (loaded or watched)
        self._next = 0  # next revision the watch asks for
        self._cache_floor = 0  # the cache holds every record after this
        self._listen_after = 0  # listeners get records after this (load's revision)
        self._compacted = 0
        self._compacting: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._watch: asyncio.Task[None] | None = None
        self._broken: str | None = None
        self._health: tuple[float, bool] = (0.0, False)
        self.commits = 0
        self._writer = GroupWriter(
            self._client,
            self.layout,
            waiting=self._waiting,
            wait_delivered=self._wait_delivered,
            barrier_until=self._barrier_until,
            committed=self._committed,
            write_timeout=write_timeout,
            max_txn_ops=max_txn_ops,
        )

    @property
    def revision(self) -> int:
        return self._revision

    # -- lifecycle ----------------------------------------------------------

    async def start(self) -> None:
        await migrate_etcd(self._client, self.layout.prefix)
        response = await self._range(self.layout.txn_key, within=CONNECT_TIMEOUT_S)
        head = int(response.kvs[0].mod_revision) if response.kvs else 0
        self._revision = self._cache_floor = self._listen_after = head
        self._next = int(response.header.revision) + 1
        self._watch = asyncio.create_task(self._follow(), name="etcd-watch")

    async def close(self) -> None:
        self._stop.set()
        await self._writer.close()
        for task in (self._watch, self._compacting):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(StoreUnavailableError("the store is closed"))
        await self.liveness.close()
        await self._client.close()

    async def healthy(self) -> bool:
        if self._broken is not None or self._watch is None or self._watch.done():
            return False
        checked_at, ok = self._health
        if time.monotonic() - checked_at < HEALTH_CACHE_S:
            return ok
        try:
            await self._range(self.layout.txn_key, within=HEALTH_TIMEOUT_S)
            ok = True
        except StoreUnavailableError:
            ok = False
        self._health = (time.monotonic(), ok)
        return ok

    def subscribe(self, listener: ChangeListener) -> None:
        # Records that arrived between load's read and this call come first.
        for record in self._recent:
            if record.revision > self._listen_after:
                listener(record)
        self._listeners.append(listener)

    # -- reads --------------------------------------------------------------

    async def _range(self, key: bytes, *, within: float, **fields: Any) -> Any:
        request = rpc.RangeRequest(key=key, **fields)
        return await self._client.call("kv", "Range", request, within=within)

    async def load(self) -> Loaded:
        records: dict[str, dict[str, StoredRecord]] = {}
        start, revision, head = self.layout.start, 0, 0
        while True:
            page = await self._range(
                start, within=CONNECT_TIMEOUT_S, range_end=self.layout.end,
                limit=PAGE, revision=revision,
            )  # fmt: skip
            revision = revision or int(page.header.revision)
            for kv in page.kvs:
                head = max(head, self._load_kv(kv, records))
            if not page.more:
                break
            start = bytes(page.kvs[-1].key) + b"\x00"
        # The state at etcd's revision is the state at the last l2pop write.
        self._revision = max(self._revision, head)
        self._listen_after = max(self._listen_after, head)
        return Loaded(head, self._compacted, records)

    def _load_kv(self, kv: Any, records: dict[str, dict[str, StoredRecord]]) -> int:
        """File one key of the prefix; the revision it says l2pop is at (txn key)."""
        if kv.key == self.layout.txn_key:
            return int(kv.mod_revision)
        if self.liveness.owns(kv.key):
            self.liveness.on_kv(kv.key, kv.value, deleted=False)
        elif kv.key == self.layout.compacted_key:
            self._compacted = max(self._compacted, int(kv.value or b"0"))
        elif (parsed := self.layout.parse(kv.key)) is not None and parsed[0] != INDEX:
            value = orjson.loads(kv.value)
            records.setdefault(parsed[0], {})[parsed[1]] = StoredRecord(value, kv.mod_revision)
        return 0

    async def changes(self, after: int) -> list[ChangeRecord]:
        if after < self._compacted:
            raise GoneError(
                f"revision {after} is compacted (log retained after {self._compacted}): list again"
            )
        if after > self._revision:
            raise ValidationError("revision", after, f"ahead of the current {self._revision}")
        if after >= self._cache_floor:
            return [record for record in self._recent if record.revision > after]
        if after >= self._revision:
            return []
        events = await read_history(
            self._client, self.layout, after, self._revision, HISTORY_TIMEOUT_S
        )
        decoded = decode_events(self.layout, events)
        return [d.record for d in decoded if d.txn_id is not None or d.record.changes]

    async def count_keys(self) -> int:
        """How many records the prefix holds (any kind; 0 for a fresh prefix: its
        schema marker is not a record)."""
        start = self.layout.start + b"r/"
        response = await self._range(
            start, within=CONNECT_TIMEOUT_S, range_end=prefix_end(start), count_only=True
        )
        return int(response.count)

    @property
    def shared(self) -> EtcdStore:
        """Shared by every replica on the same prefix: barrier and liveness."""
        return self

    async def barrier(self) -> int:
        """Wait until this replica saw every write acknowledged anywhere; the revision.

        (A linearizable read of the ``txn`` key, then the watch catching up;
        concurrent callers share the reads.)
        """
        await self._shared_barrier()
        return self._revision

    # -- the change feed ------------------------------------------------------

    async def _follow(self) -> None:
        """The change feed; if it cannot go on, the replica stops writing (/healthz 503,
        a supervisor restarts it and the view is rebuilt), as the SQLite store does."""
        try:
            await follow(self._client, self.layout, lambda: self._next, self._deliver, self._stop)
        except Compacted as exc:
            self._stop_writing(f"the etcd watch fell behind compaction ({exc})")
        except Exception as exc:  # a listener failed on a committed change
            log.exception("applying committed changes failed")
            self._stop_writing(f"applying committed changes failed: {exc!r}")

    def _stop_writing(self, reason: str) -> None:
        self._broken = reason
        log.error("the etcd store stops: %s; restart this replica", reason)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(StoreUnavailableError("the server must restart"))
        self._writer.fail_all(StoreUnavailableError("the server must restart"))

    def _deliver(self, events: list[Any]) -> None:
        self.liveness.on_events(events)
        for event in events:
            if event.kv.key == self.layout.compacted_key and event.type == 0:
                self._compacted = max(self._compacted, int(event.kv.value or b"0"))
        for decoded in decode_events(self.layout, events):
            self._deliver_one(decoded)

    def _deliver_one(self, decoded: Decoded) -> None:
        record = decoded.record
        if record.revision < self._next:
            return  # already seen before a reconnect
        self._next = record.revision + 1
        if decoded.txn_id is None and not record.changes:
            return  # not an l2pop transaction (e.g. the compaction mark)
        self._revision = max(self._revision, record.revision)
        if len(self._recent) == self._recent.maxlen:
            self._cache_floor = self._recent[0].revision
        self._recent.append(record)
        if record.revision > self._listen_after:
            for listener in self._listeners:
                listener(record)  # a failure ends the feed (_follow)
        waiter = self._waiting.get(decoded.txn_id or "")
        if waiter is not None and not waiter.done():
            waiter.set_result(record)
        self._wake()

    def _wake(self) -> None:
        keep = []
        for revision, future in self._delivery:
            if revision <= self._revision:
                if not future.done():
                    future.set_result(None)
            else:
                keep.append((revision, future))
        self._delivery = keep

    async def _wait_delivered(self, revision: int, deadline: float) -> None:
        if revision <= self._revision:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._delivery.append((revision, future))
        try:
            await asyncio.wait_for(future, max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise StoreUnavailableError(
                f"the etcd watch did not reach revision {revision} in time"
            ) from None

    # -- writes (group commit: :mod:`etcd_writer`) ------------------------------

    async def commit(self, ops: Sequence[Op]) -> ChangeRecord:
        check_ops(ops)
        if self._watch is None or self._watch.done() or self._broken is not None:
            raise StoreUnavailableError("the etcd store is not running")
        return await self._writer.submit(ops)

    def _committed(self, writes: int) -> None:
        self.commits += writes
        self._maybe_compact()

    async def _barrier_until(self, deadline: float) -> None:
        response = await self._range(
            self.layout.txn_key, within=max(0.01, deadline - time.monotonic())
        )
        head = int(response.kvs[0].mod_revision) if response.kvs else 0
        await self._wait_delivered(head, deadline)

    # -- compaction -----------------------------------------------------------

    def _maybe_compact(self) -> None:
        """Compact etcd's history below the oldest of the last ``retain`` records.

        From then on older revisions count as compacted here (410), even
        before etcd finished: a client lists again a little early, never late.
        """
        if len(self._recent) != self._recent.maxlen:
            return
        point = self._recent[0].revision
        busy = self._compacting is not None and not self._compacting.done()
        if busy or point - self._compacted < max(1, self._retain // 10):
            return
        self._compacted = point
        self._compacting = asyncio.create_task(self.compact(point))

    async def compact(self, revision: int) -> None:
        """Drop etcd's history before ``revision`` (older watches get 410) and mark it."""
        try:
            await self._client.call(
                "kv", "Compact", rpc.CompactionRequest(revision=revision), within=5.0
            )
        except StoreUnavailableError as exc:
            if "compacted" not in str(exc):  # already compacted there: fine
                log.warning("etcd compaction at %d failed: %s", revision, exc)
                return
        self._compacted = max(self._compacted, revision)
        mark = rpc.PutRequest(key=self.layout.compacted_key, value=str(revision).encode())
        with contextlib.suppress(StoreUnavailableError):
            await self._client.call("kv", "Put", mark, within=5.0)


async def open_etcd_store(endpoints: str, **options: Any) -> EtcdStore:
    """An etcd store, started (connected, watching); the caller closes it."""
    store = EtcdStore(endpoints, **options)
    await store.start()
    return store
