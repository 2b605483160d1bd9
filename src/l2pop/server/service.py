"""The service: one replica's view, the write loop, auth and metrics wiring.

Every write is built from the current view by a ``build`` function (which
validates and returns store ops guarded by the mod_revisions it read), then
committed. A guard that fails means another write got there first: the view
has caught up by then, so ``build`` runs again and either succeeds or raises
the precise 4xx (a duplicate found in the refreshed view).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from l2pop.errors import AuthError, ConflictError, StoreUnavailableError
from l2pop.server.agents import AgentBook
from l2pop.server.audit import note_revision
from l2pop.server.auth import AdminToken, Principal, hash_token, token_from_headers
from l2pop.server.metrics import Metrics
from l2pop.server.records import HOST
from l2pop.server.store.base import ChangeRecord, Op, PreconditionFailed, Store
from l2pop.server.view import View
from l2pop.server.watch.hub import Hub
from l2pop.server.watch.watcher import DEFAULT_MAX_QUEUED, Watcher

__all__ = ["Service", "ServiceConfig", "utc_iso", "utc_now"]

MAX_ATTEMPTS = 8
WRITE_TIMEOUT_S = 5.0


def utc_iso(epoch: float) -> str:
    """Neutron's timestamp format."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def utc_now() -> str:
    return utc_iso(time.time())


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    vni_range: tuple[int, int] = (1000, 1999)
    bookmark_interval: float = 5.0
    # Bytes a watch stream may have queued for a client that does not read.
    watch_max_queued: int = DEFAULT_MAX_QUEUED
    write_timeout: float = WRITE_TIMEOUT_S
    status_rate: float = 100.0  # status reports per second and host (0: no limit)
    status_burst: int = 2000  # ... after a burst of this many (ratelimit.py)


@dataclass
class Service:
    """Everything a request handler needs; built by :meth:`open`."""

    store: Store
    view: View
    admin: AdminToken
    config: ServiceConfig
    hub: Hub
    metrics: Metrics
    last_seen: dict[str, float] = field(default_factory=dict)
    # Agents' reports and each host's last change (explain, the fabric view).
    agents: AgentBook = field(default_factory=AgentBook)
    # Other never-ending streams (the fabric view's events) register how to end them.
    stream_closers: list[Callable[[], None]] = field(default_factory=list)
    _bookmarks: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls, store: Store, admin: AdminToken, config: ServiceConfig, metrics: Metrics
    ) -> Service:
        await store.start()
        view = View(await store.load())
        hub = Hub(
            config.watch_max_queued,
            config.bookmark_interval,
            on_cut=lambda _: metrics.watch_dropped.inc(),
            on_replaced=lambda _: metrics.watch_replaced.inc(),
        )
        hub.revision = view.revision
        metrics.watch_writes.set_function(lambda: hub.writes)
        service = cls(store, view, admin, config, hub, metrics)
        service.agents.floor = view.revision
        store.subscribe(service._on_change)
        metrics.revision.set(view.revision)
        service._bookmarks = asyncio.create_task(hub.run_bookmarks())
        return service

    def end_streams(self) -> None:
        """Server shutdown: end every open stream (they never end by themselves) and
        refuse new ones, so the graceful stop does not wait for its timeout."""
        self.hub.close_all()
        for close in self.stream_closers:
            close()

    async def close(self) -> None:
        if self._bookmarks is not None:
            self._bookmarks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._bookmarks
        self.hub.close_all()
        await self.store.close()

    def _on_change(self, record: ChangeRecord) -> None:
        applied = self.view.apply(record)
        reached = self.hub.publish(applied)
        self.agents.changed(applied)
        for change in record.changes:
            if change.kind == HOST:
                # A new token or a deleted host: its old token's streams end now.
                self.hub.revoke(change.key, self._watcher_valid)
        self.metrics.revision.set(self.view.revision)
        self.metrics.deltas_sent.inc(reached)
        self.metrics.fanout.observe(len(applied.deltas))

    # -- auth --------------------------------------------------------------

    def authenticate(self, headers: Mapping[str, str]) -> Principal:
        token_hash = hash_token(token_from_headers(headers))
        if self.admin.matches(token_hash):
            return Principal(admin=True)
        host = self.view.tokens.get(token_hash)
        if host is None:
            raise AuthError("the token is not valid (unknown, revoked, or its host was deleted)")
        self.last_seen[host] = time.time()
        return Principal(admin=False, host=host)

    def _watcher_valid(self, watcher: Watcher) -> bool:
        token = watcher.token_hash
        return token is None or self.view.tokens.get(token) == watcher.host

    # -- writes ------------------------------------------------------------

    async def write(self, build: Callable[[], Sequence[Op]]) -> ChangeRecord | None:
        """Commit what ``build`` returns; retry on a lost race; None if nothing to do."""
        for _ in range(MAX_ATTEMPTS):
            ops = build()
            if not ops:
                return None
            try:
                # asyncio.timeout, not wait_for: no extra task per write.
                async with asyncio.timeout(self.config.write_timeout):
                    record = await self.store.commit(ops)
            except PreconditionFailed:
                self.metrics.write_retries.inc()
                await self.view.wait_for(self.store.revision)
                continue
            except TimeoutError:
                raise StoreUnavailableError("the store did not acknowledge in time") from None
            await self.view.wait_for(record.revision)
            note_revision(record.revision)
            return record
        raise ConflictError("too many concurrent updates of the same resource; retry")
