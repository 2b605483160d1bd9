"""One LeaseKeepAlive stream for every lease a replica renews (as etcd's own client does).

A replica renews one lease per host whose agent talks to it: 1,000 hosts
with a 15 s TTL are 200 renewals a second. Opening a gRPC stream per
renewal cost more server CPU than the writes it accompanied (docs/ha.md);
here every renewal is one message on one long-lived stream, and the answer
(the lease's remaining TTL) is matched to the waiting caller by lease ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
from aetcd import rpc

from l2pop.errors import StoreUnavailableError
from l2pop.server.store.etcd_client import EtcdClient

__all__ = ["KeepAlives"]

log = logging.getLogger(__name__)


class KeepAlives:
    """``await renew(lease_id, timeout)`` -> the lease's TTL after renewing (0: expired)."""

    def __init__(self, client: EtcdClient) -> None:
        self._client = client
        self._outbox: asyncio.Queue[Any] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._waiters: dict[int, list[asyncio.Future[int]]] = {}
        self.streams_opened = 0

    async def renew(self, lease_id: int, timeout: float) -> int:
        await self._client.ready(timeout)
        outbox = self._stream()
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        waiting = self._waiters.setdefault(lease_id, [])
        waiting.append(future)
        if len(waiting) == 1:  # one request answers every caller waiting on this lease
            outbox.put_nowait(rpc.LeaseKeepAliveRequest(ID=lease_id))
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise StoreUnavailableError(f"etcd did not renew lease {lease_id:x} in time") from None
        finally:
            if future in self._waiters.get(lease_id, ()):
                self._waiters[lease_id].remove(future)
                if not self._waiters[lease_id]:
                    del self._waiters[lease_id]

    def _stream(self) -> asyncio.Queue[Any]:
        if self._outbox is None or self._reader is None or self._reader.done():
            self._outbox = asyncio.Queue()
            self.streams_opened += 1
            self._reader = asyncio.create_task(self._read(self._outbox), name="etcd-keepalive")
        return self._outbox

    async def _read(self, outbox: asyncio.Queue[Any]) -> None:
        async def requests() -> AsyncIterator[Any]:
            while True:
                yield await outbox.get()

        index = self._client.current
        stub = rpc.LeaseStub(self._client.channel())
        call = stub.LeaseKeepAlive(requests(), metadata=self._client.metadata())
        try:
            async for response in call:
                for future in self._waiters.pop(int(response.ID), []):
                    if not future.done():
                        future.set_result(int(response.TTL))
        except grpc.aio.AioRpcError as exc:
            log.info("etcd keepalive stream ended: %s", exc.code().name)
            self._client.rotate(failed=index)
        finally:
            call.cancel()
            self._fail_waiters()

    def _fail_waiters(self) -> None:
        waiters, self._waiters = self._waiters, {}
        for futures in waiters.values():
            for future in futures:
                if not future.done():
                    future.set_exception(StoreUnavailableError("the etcd keepalive stream ended"))

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        self._fail_waiters()
