"""The gateways' view of the store: a list and a watch of plain records.

An agent's watch carries one host's deltas; an EVPN gateway needs every
network, host and port (it exports them all), the remote endpoints (to
reconcile its imports) and the RD indexes of networks with a VNI over
65,535. So it lists ``GET /v1/evpn/state`` and follows
``GET /v1/evpn/watch?revision=R``: one NDJSON line per committed revision
that touched such a record, ``{"type": "change", "revision": N, "changes":
[{"kind", "key", "value"}]}`` (``value`` null: deleted), and ``{"type":
"bookmark", "revision": N}`` while idle. A revision older than the retained
log is ``410`` (the gateway lists again), one ahead of the store ``400``.
Hosts are shown without their token hash; gateway records never leave.

The feed subscribes to the store's change stream itself and keeps one
bounded queue per stream; a gateway that does not read is cut (it resumes).
There are a handful of gateways, so nothing here is shared between streams.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import orjson

from l2pop.errors import ValidationError
from l2pop.server.records import HOST, NETWORK, PORT, RD_INDEX, REMOTE, host_view
from l2pop.server.service import Service
from l2pop.server.store.base import JSON, ChangeRecord

__all__ = ["EvpnFeed", "feed_state"]

FEED_KINDS = frozenset({NETWORK, PORT, HOST, REMOTE, RD_INDEX})
QUEUE_LIMIT = 10_000
BOOKMARK_INTERVAL_S = 5.0
_CUT = (-1, b"")


def _image(kind: str, value: JSON | None) -> JSON | None:
    if value is None or kind != HOST:
        return value
    return host_view(value)


def change_line(record: ChangeRecord) -> bytes | None:
    changes = [
        {"kind": c.kind, "key": c.key, "value": _image(c.kind, c.after)}
        for c in record.changes
        if c.kind in FEED_KINDS
    ]
    if not changes:
        return None
    line = {"type": "change", "revision": record.revision, "changes": changes}
    return orjson.dumps(line) + b"\n"


def bookmark(revision: int) -> bytes:
    return orjson.dumps({"type": "bookmark", "revision": revision}) + b"\n"


def feed_state(service: Service) -> JSON:
    """Every record a gateway follows, at the view's revision."""
    view = service.view
    return {
        "revision": view.revision,
        "networks": list(view.values(NETWORK)),
        "hosts": [host_view(h) for h in view.values(HOST)],
        "ports": list(view.values(PORT)),
        "remote_endpoints": list(view.values(REMOTE)),
        "rd_indexes": list(view.values(RD_INDEX)),
    }


class EvpnFeed:
    """Open gateway streams of one server."""

    def __init__(self, service: Service, bookmark_interval: float = BOOKMARK_INTERVAL_S) -> None:
        self.service = service
        self.bookmark_interval = bookmark_interval
        self._queues: set[asyncio.Queue[tuple[int, bytes]]] = set()
        service.store.subscribe(self._on_change)

    def _on_change(self, record: ChangeRecord) -> None:
        if not self._queues:
            return
        line = change_line(record)
        if line is None:
            return
        for queue in list(self._queues):
            if queue.qsize() >= QUEUE_LIMIT:
                self._queues.discard(queue)
                queue.put_nowait(_CUT)
            else:
                queue.put_nowait((record.revision, line))

    async def open(self, raw_revision: str | None) -> AsyncIterator[bytes]:
        """The stream from ``revision`` on; 410/400 are raised here, before any byte."""
        revision = _parse_revision(raw_revision)
        current = self.service.view.revision
        if revision > current:
            raise ValidationError("revision", revision, f"ahead of the current {current}")
        queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
        self._queues.add(queue)
        try:
            backlog = await self.service.store.changes(revision)
        except BaseException:
            self._queues.discard(queue)
            raise
        return self._stream(queue, backlog, revision)

    async def _stream(
        self, queue: asyncio.Queue[tuple[int, bytes]], backlog: list[ChangeRecord], after: int
    ) -> AsyncIterator[bytes]:
        try:
            # Records committed while the backlog was read are in both: the queue's
            # copies at or below the backlog's end are skipped.
            last = backlog[-1].revision if backlog else after
            lines = [line for r in backlog if (line := change_line(r)) is not None]
            lines.append(bookmark(last))
            yield b"".join(lines)
            while True:
                try:
                    async with asyncio.timeout(self.bookmark_interval):
                        revision, line = await queue.get()
                except TimeoutError:
                    yield bookmark(max(last, self.service.view.revision))
                    continue
                if (revision, line) == _CUT:
                    return
                if revision > last:
                    last = revision
                    yield line
        finally:
            self._queues.discard(queue)

    def close(self) -> None:
        for queue in list(self._queues):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(_CUT)
        self._queues.clear()


def _parse_revision(raw: str | None) -> int:
    if raw is None:
        return 0
    if not raw.isdigit() or len(raw) > 19:
        raise ValidationError("revision", raw, "must be a non-negative integer")
    return int(raw)
