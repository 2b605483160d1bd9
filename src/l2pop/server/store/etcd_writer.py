"""The etcd store's group commit: many l2pop writes per etcd Txn, Txns pipelined.

Every ``commit`` is queued; once per event-loop turn the queue is cut into
Txns (:func:`~l2pop.server.store.etcd_batch.take_batch`: writes that do not
touch each other's keys, up to ``--max-txn-ops``), and up to ``PIPELINE`` Txns
are in flight at once on the store's one gRPC channel. Per Txn the replica
pays one gRPC call, one raft proposal, one watch revision and one ``txn``
key, instead of one per write: that, not etcd, was the cost (docs/ha.md).

**Each write stays its own all-or-nothing unit.** The Txn's compare is every
guard of every write in it; when it fails, etcd runs the failure branch,
which reads back every guarded key *at the same revision*. Those reads tell
exactly which writes' guards broke: they fail alone
(:class:`~l2pop.server.store.base.PreconditionFailed`, after the watch
reached that revision, so the caller re-validates against a fresh view), and
the others are sent again at once, in a new Txn, ahead of the queue. Each
retry drops at least one write, so a Txn of n writes is sent at most n times;
a write is retried only because a write *of another replica* broke a guard
of its batch-mates, never starved by its own replica's later writes.

**A lost reply** (the member died mid-call): the Txn also writes its random
id to the ``txn`` key; the writer reads the current head (a linearizable
read), waits until its watch got there, and knows whether the Txn landed
before sending it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc

from l2pop.errors import StoreUnavailableError
from l2pop.server.store.base import ChangeRecord, Op, PreconditionFailed
from l2pop.server.store.etcd_batch import Footprints, Pending, take_batch
from l2pop.server.store.etcd_client import EtcdClient, is_retryable
from l2pop.server.store.etcd_codec import (
    Layout,
    TxnParts,
    broken_guard,
    failed_head,
    finish_txn,
    txn_parts,
)

__all__ = ["DEFAULT_MAX_TXN_OPS", "PIPELINE", "GroupWriter"]

log = logging.getLogger(__name__)

# etcd's own default --max-txn-ops; a cluster with a larger one can be told.
DEFAULT_MAX_TXN_OPS = 128
# Txns in flight at once: enough to keep raft's pipeline busy while the next
# batch gathers; more would only make batches smaller (more CPU per write).
PIPELINE = 4
# One attempt of a write: a proposal lost with a dying leader is never answered
# by etcd before its own 5 s timeout; give up sooner, check, and send again.
WRITE_ATTEMPT_S = 2.0


class GroupWriter:
    """Queues writes, sends them as Txns; ``submit`` resolves after the watch had it."""

    def __init__(
        self,
        client: EtcdClient,
        layout: Layout,
        *,
        waiting: dict[str, asyncio.Future[ChangeRecord]],
        wait_delivered: Callable[[int, float], Awaitable[None]],
        barrier_until: Callable[[float], Awaitable[None]],
        committed: Callable[[int], None],
        write_timeout: float,
        max_txn_ops: int = DEFAULT_MAX_TXN_OPS,
    ) -> None:
        self._client = client
        self._layout = layout
        self._waiting = waiting
        self._wait_delivered = wait_delivered
        self._barrier_until = barrier_until
        self._committed = committed
        self._write_timeout = write_timeout
        self.max_txn_ops = max_txn_ops
        self._queue: deque[Pending] = deque()
        self._in_flight = Footprints()
        self._running: set[asyncio.Task[None]] = set()
        self._scheduled = False
        self._closed = False
        self.txns = 0  # Txns that landed (each holds one or more writes)

    def submit(self, ops: Sequence[Op]) -> asyncio.Future[ChangeRecord]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ChangeRecord] = loop.create_future()
        self._queue.append(Pending(ops, future, time.monotonic() + self._write_timeout))
        if not self._scheduled:
            # At the end of this loop turn: every write queued in it joins.
            self._scheduled = True
            loop.call_soon(self._dispatch)
        return future

    async def close(self) -> None:
        self._closed = True
        for task in list(self._running):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.fail_all(StoreUnavailableError("the store is closed"))

    def fail_all(self, exc: Exception) -> None:
        while self._queue:
            write = self._queue.popleft()
            if not write.future.done():
                write.future.set_exception(exc)

    def _dispatch(self) -> None:
        self._scheduled = False
        while not self._closed and self._queue and len(self._running) < PIPELINE:
            batch = take_batch(self._queue, self._in_flight, self.max_txn_ops)
            if not batch:
                return
            for write in batch:
                self._in_flight.add(write)
            task = asyncio.create_task(self._run(batch), name="etcd-txn")
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[Pending]) -> None:
        requeued = False
        try:
            requeued = await self._send_until_settled(list(batch))
        except Exception as exc:
            for write in batch:
                if not write.future.done():
                    write.future.set_exception(exc)
        finally:
            for write in batch:
                self._in_flight.remove(write)
                if not requeued and not write.future.done():  # cancelled: the store closes
                    write.future.set_exception(StoreUnavailableError("the store is closed"))
            if not self._closed:
                self._dispatch()

    async def _send_until_settled(self, batch: list[Pending]) -> bool:
        """Send until every write of ``batch`` is settled; True: queued again instead."""
        while batch:
            parts = TxnParts([], [], [])
            for write in batch:
                txn_parts(self._layout, write.ops, parts)
            txn_id = os.urandom(12).hex()
            landed = asyncio.get_running_loop().create_future()
            self._waiting[txn_id] = landed
            deadline = min(write.deadline for write in batch)
            try:
                request = finish_txn(self._layout, parts, txn_id)
                outcome = await self._send(request, landed, deadline)
            except StoreUnavailableError as exc:
                if "too many operations" in str(exc) and len(batch) > 1:
                    self._shrink(batch)
                    return True
                raise
            finally:
                self._waiting.pop(txn_id, None)
            if isinstance(outcome, ChangeRecord):
                for write in batch:
                    if not write.future.done():
                        write.future.set_result(outcome)
                self.txns += 1
                self._committed(len(batch))
                return False
            batch = await self._drop_broken(batch, outcome, deadline)
        return False

    def _shrink(self, batch: list[Pending]) -> None:
        """etcd allows fewer ops per Txn than we thought: learn, and queue again."""
        ops = sum(max(w.guards, w.writes) for w in batch)
        self.max_txn_ops = max(2, ops // 2)
        log.warning("etcd refused %d ops in one txn; batches now up to %d", ops, self.max_txn_ops)
        self._queue.extendleft(reversed(batch))

    async def _drop_broken(
        self, batch: list[Pending], response: Any, deadline: float
    ) -> list[Pending]:
        """Fail the writes whose guards broke; the rest, to be sent again."""
        head = failed_head(response)
        replies = [r.response_range for r in response.responses]
        survivors: list[Pending] = []
        broken: list[tuple[Pending, PreconditionFailed]] = []
        at = 0
        for write in batch:
            failed = broken_guard(self._layout, write.ops, replies[at : at + write.guards])
            at += write.guards
            if failed is None:
                survivors.append(write)
            else:
                broken.append((write, failed))
        if not broken:  # cannot happen with disjoint keys; never loop on it
            broken = [(w, PreconditionFailed("txn", "", None, head)) for w in survivors]
            survivors = []
        # The caller re-validates against its view: it must include ``head``.
        await self._wait_delivered(head, deadline)
        for write, failed in broken:
            if not write.future.done():
                write.future.set_exception(failed)
        return survivors

    async def _send(
        self, request: Any, landed: asyncio.Future[ChangeRecord], deadline: float
    ) -> ChangeRecord | Any:
        """The Txn, sent until it landed (its record) or failed (the TxnResponse)."""
        while (remaining := deadline - time.monotonic()) > 0:
            target = self._client.endpoint.target
            try:
                attempt = min(WRITE_ATTEMPT_S, remaining)
                response = await self._client.once("kv", "Txn", request, attempt)
            except grpc.aio.AioRpcError as exc:
                if not is_retryable(exc):
                    detail = exc.details()
                    raise StoreUnavailableError(f"etcd refused the write: {detail}") from None
                log.info("etcd write on %s failed (%s); checking it", target, exc.code().name)
                if await self._landed(landed, deadline):
                    return landed.result()
                continue
            if response.succeeded:
                return await self._delivered(landed, int(response.header.revision), deadline)
            await self._wait_delivered(failed_head(response), deadline)
            if landed.done():  # it failed on our own earlier attempt, whose reply was lost
                return landed.result()
            return response
        raise StoreUnavailableError(f"etcd did not acknowledge within {self._write_timeout:g} s")

    async def _delivered(
        self, landed: asyncio.Future[ChangeRecord], revision: int, deadline: float
    ) -> ChangeRecord:
        try:
            return await asyncio.wait_for(
                asyncio.shield(landed), max(0.0, deadline - time.monotonic())
            )
        except TimeoutError:
            raise StoreUnavailableError(
                f"written at revision {revision} but not yet seen in the watch"
            ) from None

    async def _landed(self, landed: asyncio.Future[ChangeRecord], deadline: float) -> bool:
        """After a lost reply: did the Txn land? (the watch reaching the current head tells)."""
        if deadline > time.monotonic():
            with contextlib.suppress(StoreUnavailableError):
                await self._barrier_until(deadline)
        return landed.done()
