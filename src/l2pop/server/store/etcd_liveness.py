"""Host liveness through etcd leases, shared by every replica.

A host is *up* while the key ``<prefix>live/<host>`` exists. The replica an
agent talks to keeps that key under an etcd lease of ``ttl`` seconds and
renews the lease while the agent holds a watch open (:meth:`HostLiveness.hold`)
or reports (:meth:`HostLiveness.seen`). When the agent is gone from every
replica -- or its replica died -- nobody renews, etcd deletes the key when the
lease expires, and every replica's watch sees the host go down. An agent that
moves to another replica gets a new lease there; the key follows the latest
put, so the old replica's lease expiring does not take the host down.

So a replica *claims* the key whenever a stream of the host opens there: it
puts the key under its own lease even when it still has a valid lease for the
host (an agent that went A -> B -> A within a TTL finds A's old lease alive,
but the key went with B's, which B stops renewing). And a replica that holds
a host whose key is deleted (the lease of another replica that held it too
ran out) claims it again at once: the host is down only for that moment.

Liveness is not part of the l2pop change log (no revision of the records, no
deltas): a down host's entries stay programmed on its peers (fail static), and
the state shows up in the API and metrics only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import grpc
from aetcd import rpc

from l2pop.errors import StoreUnavailableError
from l2pop.server.store.etcd_client import EtcdClient
from l2pop.server.store.etcd_codec import Layout
from l2pop.server.store.etcd_keepalive import KeepAlives

__all__ = ["DEFAULT_TTL_S", "HostLiveness", "Lease"]

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 15.0
CALL_S = 2.0
EVENT_DELETE = 1


@dataclass
class Lease:
    id: int
    renewed: float


class HostLiveness:
    """Which hosts are up (fed by the store's watch) and the leases this replica keeps."""

    def __init__(self, client: EtcdClient, layout: Layout, ttl: float = DEFAULT_TTL_S) -> None:
        self._client = client
        self._prefix = f"{layout.prefix}live/"
        self._ttl = ttl
        self._up: dict[str, float] = {}  # host -> since (epoch seconds, from the key)
        self._leases: dict[str, Lease] = {}
        self._held: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._keepalives = KeepAlives(client)
        self._renewing: dict[str, asyncio.Task[None]] = {}

    # -- what every replica knows ---------------------------------------------

    def key(self, host: str) -> bytes:
        return f"{self._prefix}{host}".encode()

    def owns(self, raw: bytes) -> bool:
        return raw.startswith(self._prefix.encode())

    def on_kv(self, raw: bytes, value: bytes, deleted: bool) -> None:
        """A live key put or deleted (from load or the watch)."""
        host = raw.decode()[len(self._prefix) :]
        if deleted:
            if host in self._held:  # another replica's lease ran out: ours now
                self._leases.pop(host, None)
                self._renew_soon(host, claim=True)
            elif self._up.pop(host, None) is not None:
                log.warning("host %s is down (no agent renewed its lease)", host)
            return
        with contextlib.suppress(ValueError, TypeError, KeyError):
            self._up.setdefault(host, float(json.loads(value)["since"]))

    def on_events(self, events: Iterable[Any]) -> None:
        for event in events:
            if self.owns(event.kv.key):
                self.on_kv(event.kv.key, event.kv.value, event.type == EVENT_DELETE)

    def alive(self, host: str) -> bool:
        return host in self._up

    def up_since(self, host: str) -> float | None:
        return self._up.get(host)

    def up_hosts(self) -> set[str]:
        return set(self._up)

    # -- what this replica renews ---------------------------------------------

    @contextlib.asynccontextmanager
    async def hold(self, host: str) -> AsyncIterator[None]:
        """Keep ``host`` up while the block runs (an open watch stream)."""
        self._held[host] = self._held.get(host, 0) + 1
        self._ensure_renewer()
        await self._renew_quietly(host, self._leases.get(host), claim=True)
        try:
            yield
        finally:
            self._held[host] -= 1
            if not self._held[host]:
                del self._held[host]

    async def seen(self, host: str) -> None:
        """The host's agent spoke to this replica: renew (at most every ttl/3).

        Only a host without a lease here waits (grant and put: it must be up
        when its first report is answered); a due renewal runs beside the
        request, which need not wait for it -- the lease has 2/3 of its TTL left.
        """
        lease = self._leases.get(host)
        if lease is not None and time.monotonic() - lease.renewed < self._ttl / 3:
            return
        if lease is not None:
            self._renew_soon(host, claim=False)
            return
        await self._renew_quietly(host, None)

    def _renew_soon(self, host: str, *, claim: bool) -> None:
        """Renew (``claim``: and put the key) in the background, once at a time."""
        if host not in self._renewing:
            task = asyncio.create_task(
                self._renew_quietly(host, self._leases.get(host), claim=claim)
            )
            self._renewing[host] = task
            task.add_done_callback(lambda _: self._renewing.pop(host, None))

    async def _renew_quietly(self, host: str, lease: Lease | None, *, claim: bool = False) -> None:
        try:
            await self._renew(host, lease, claim)
        except (StoreUnavailableError, grpc.aio.AioRpcError) as exc:
            log.info("could not renew the liveness of %s: %s", host, exc)

    async def _renew(self, host: str, lease: Lease | None, claim: bool) -> None:
        """Keep our lease alive (granting one if it ran out) and, when ``claim`` or
        the lease is new, put the key under it."""
        if lease is not None and await self._keepalive(lease.id) > 0:
            lease.renewed = time.monotonic()
        else:
            granted = await self._client.call(
                "lease",
                "LeaseGrant",
                rpc.LeaseGrantRequest(TTL=max(1, round(self._ttl))),
                within=CALL_S,
            )
            lease, claim = Lease(int(granted.ID), time.monotonic()), True
        if claim:
            since = self._up.get(host, time.time())  # a host that stays up keeps its since
            value = json.dumps({"since": since}).encode()
            put = rpc.PutRequest(key=self.key(host), value=value, lease=lease.id)
            await self._client.call("kv", "Put", put, within=CALL_S)
        self._leases[host] = lease

    async def _keepalive(self, lease_id: int) -> int:
        """The lease's remaining TTL after renewing it (0: it had expired)."""
        return await self._keepalives.renew(lease_id, CALL_S)

    def _ensure_renewer(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._renew_held(), name="etcd-liveness")

    async def _renew_held(self) -> None:
        while self._held:
            for host in list(self._held):
                await self.seen(host)
            await asyncio.sleep(self._ttl / 6)
        # Hosts no longer held keep their lease until it runs out (then: down).

    async def close(self) -> None:
        tasks = [self._task, *self._renewing.values()]
        for task in tasks:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._keepalives.close()
