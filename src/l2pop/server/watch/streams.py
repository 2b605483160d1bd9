"""``GET /v1/hosts/{name}/watch`` from open to end: the one interface the route calls.

:meth:`Watches.open` checks the request and prepares everything a stream
starts with (its history since the client's revision, a watcher registered
with the hub for what follows): a bad request fails there, before any byte
of the answer. :meth:`Watches.serve` then writes the response: headers,
history, a bookmark, and the hub's lines as they are published, until the
stream ends (the client went away or fell too far behind, its token was
revoked, a third stream of its host replaced it, or the server stops).

The server's own event loop writes every stream (no second process): the
lines of one loop turn leave as one chunk per stream before the writes that
caused them are acknowledged (see :mod:`.hub`), so an acknowledged write is
on every open stream's socket (or in its bounded queue) already.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.types import Receive, Send

from l2pop.core.wire import bookmark_line
from l2pop.errors import ValidationError
from l2pop.server.auth import Principal
from l2pop.server.records import HOST, HostNotFound
from l2pop.server.resources.validate import ascii_digits
from l2pop.server.store.base import DEFAULT_RETAIN
from l2pop.server.watch.chunks import chunk_writer
from l2pop.server.watch.history import replay_lines
from l2pop.server.watch.index import HistoryIndex, indexed_changes, start_index
from l2pop.server.watch.watcher import Watcher

if TYPE_CHECKING:
    from l2pop.server.service import Service

__all__ = ["OpenWatch", "Watches", "parse_revision"]

log = logging.getLogger(__name__)
_NDJSON = [(b"content-type", b"application/x-ndjson"), (b"cache-control", b"no-store")]


def parse_revision(raw: str | None) -> int:
    if raw is None:
        return 0
    if not ascii_digits(raw) or len(raw) > 19:
        raise ValidationError("revision", raw, "must be a non-negative integer")
    return int(raw)


@dataclass
class OpenWatch:
    """A stream about to be served: its first lines and its registered watcher."""

    principal: Principal
    history: list[bytes]
    watcher: Watcher


class Watches:
    """Opens and serves the watch streams of one service."""

    def __init__(self, service: Service) -> None:
        self.service = service
        # Which revisions concern a host (index.py): a resume far behind reads
        # and replays only those, not the whole log.
        self.history = HistoryIndex(keep=4 * DEFAULT_RETAIN)
        self.backfill = start_index(self.history, service.store, service.view.revision)

    async def open(
        self, principal: Principal, name: str, raw_revision: str | None, token_hash: str
    ) -> OpenWatch:
        """Lines for (R, now] and a watcher registered for what follows.

        ``token_hash`` is the stream's token: replacing it (or deleting the
        host) ends the stream. The admin's streams end only with the server.
        """
        principal.require_host(name)
        revision = parse_revision(raw_revision)
        service = self.service
        view = service.view
        if view.get(HOST, name) is None:
            raise HostNotFound(f"Host {name} is not registered.")
        if revision > view.revision:
            raise ValidationError("revision", revision, f"ahead of the current {view.revision}")
        watcher = service.hub.add(name, None if principal.admin else token_hash)
        start, snapshot = view.revision, view.snapshot
        try:
            records, networks = await indexed_changes(
                self.history, service.store, snapshot, name, revision
            )
            records = [r for r in records if r.revision <= start]
            lines = await replay_lines(snapshot, records, name, networks)
        except BaseException:
            watcher.close()
            service.hub.remove(watcher)
            raise
        lines.append(bookmark_line(start))
        return OpenWatch(principal, lines, watcher)

    async def serve(self, opened: OpenWatch, receive: Receive, send: Send) -> None:
        """Write the stream of ``opened`` until it ends."""
        watcher = opened.watcher
        async with self.session(opened):
            await send({"type": "http.response.start", "status": 200, "headers": _NDJSON})
            body = b"".join(opened.history)
            await send({"type": "http.response.body", "body": body, "more_body": True})
            gone = asyncio.create_task(_until_disconnect(receive, watcher))
            try:
                writer = chunk_writer(send, watcher.max_queued)
                watcher.attach(writer)
                await watcher.ended()
                if watcher.cut:
                    writer.drop()
                await writer.finish()
            except OSError as exc:
                log.info("watch of %s ended: %s", watcher.host, exc)
            finally:
                gone.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await gone

    @contextlib.asynccontextmanager
    async def session(self, opened: OpenWatch) -> AsyncIterator[None]:
        """The lifetime of an open stream: liveness, the gauge, and removal at the end."""
        service, watcher = self.service, opened.watcher
        shared = service.store.shared
        liveness = None if shared is None else shared.liveness
        service.metrics.watchers.inc()
        try:
            async with contextlib.AsyncExitStack() as stack:
                if liveness is not None and not opened.principal.admin:
                    # The agent's open stream keeps its host "up" on every replica.
                    await stack.enter_async_context(liveness.hold(watcher.host))
                yield
        finally:
            watcher.close()
            service.hub.remove(watcher)
            service.metrics.watchers.dec()

    def close(self, opened: OpenWatch) -> None:
        """Give up a stream that was opened but will not be served."""
        opened.watcher.close()
        self.service.hub.remove(opened.watcher)


async def _until_disconnect(receive: Receive, watcher: Watcher) -> None:
    """The client went away: end the stream (uvicorn drops writes to a gone client)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            watcher.close()
            return
