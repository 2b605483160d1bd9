"""Watch fan-out: the open streams by host and watch lines encoded once per host.

Lines are not written one by one: everything published in one run of the
event loop (a group commit delivers all its revisions at once) is joined per
stream and written on the next iteration, before any caller's write is
acknowledged. A socket write to a loopback or LAN peer costs ~10 us of
kernel time on both ends, and at 1,000 streams it was a third of the
server's CPU; under load the store's batches grow, and so does the number of
lines one write carries (the batching clocks itself, with no timer).

Lines are encoded by :func:`l2pop.core.wire.encode_line` with one cache per
revision: a network part that several hosts share is encoded once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from l2pop.core.wire import LineCache, bookmark_line, encode_line
from l2pop.errors import StoreUnavailableError
from l2pop.server.view import Applied
from l2pop.server.watch.watcher import DEFAULT_MAX_QUEUED, Watcher

__all__ = ["STREAMS_PER_HOST", "Hub"]

# An agent needs one stream; a second lets it reconnect (or an operator
# watch) before the old one is noticed gone. A third replaces the oldest, so
# a host cannot pile up streams (each costs memory and a write per change).
STREAMS_PER_HOST = 2


class Hub:
    """Open watch streams by host; ``publish`` hands each its host's line.

    Idle streams get a bookmark of the last published revision at least every
    ``bookmark_interval`` (one timer for all streams, not one per stream): a
    bookmark is offered after every line it covers, so it never runs ahead.
    """

    def __init__(
        self,
        max_queued: int = DEFAULT_MAX_QUEUED,
        bookmark_interval: float = 5.0,
        on_cut: Callable[[Watcher], None] | None = None,
        on_replaced: Callable[[Watcher], None] | None = None,
    ) -> None:
        # Per host, its streams oldest first (a dict keeps insertion order).
        self._by_host: dict[str, dict[Watcher, None]] = {}
        self._max_queued = max_queued
        self._bookmark_interval = bookmark_interval
        self._on_cut = on_cut
        self._on_replaced = on_replaced
        self.revision = 0  # of the last published change
        self.lines_sent = 0
        self.writes = 0  # chunks handed to streams (several lines each under load)
        self.dropped = 0
        # Lines published in this loop iteration, per stream, not yet handed on.
        self._outbox: dict[Watcher, list[bytes]] = {}
        self.closed = False  # the server is stopping: no new stream

    def add(self, host: str, token_hash: str | None = None) -> Watcher:
        """A new stream of ``host``; past :data:`STREAMS_PER_HOST` its oldest one ends.

        Refused (503) once :meth:`close_all` ran: the listener is closed by then,
        but a kept-alive connection could still ask for a stream, and an agent
        that got one would hold it until the process dies instead of failing
        over to another replica.
        """
        if self.closed:
            raise StoreUnavailableError("the server is shutting down: try another replica")
        watcher = Watcher(host, token_hash, max_queued=self._max_queued)
        streams = self._by_host.setdefault(host, {})
        while len(streams) >= STREAMS_PER_HOST:
            oldest = next(iter(streams))
            del streams[oldest]
            oldest.close()
            if self._on_replaced is not None:
                self._on_replaced(oldest)
        streams[watcher] = None
        return watcher

    def remove(self, watcher: Watcher) -> None:
        watchers = self._by_host.get(watcher.host)
        if watchers is None:
            return
        watchers.pop(watcher, None)
        if not watchers:
            del self._by_host[watcher.host]

    def close_all(self) -> None:
        """End every stream (server shutdown); agents reconnect and resume elsewhere."""
        self.closed = True
        for watcher in self._all():
            watcher.close()

    def revoke(self, host: str, valid: Callable[[Watcher], bool]) -> None:
        """Close the streams of ``host`` whose token no longer holds."""
        for watcher in list(self._by_host.get(host, ())):
            if not valid(watcher):
                watcher.close()

    def watching(self, host: str) -> bool:
        """Whether a stream of ``host`` is open here (liveness with one replica)."""
        return bool(self._by_host.get(host))

    def hosts_watching(self) -> int:
        return len(self._by_host)

    def count(self) -> int:
        return sum(len(w) for w in self._by_host.values())

    def publish(self, applied: Applied) -> int:
        """Hand the revision's line to every watcher of a touched host; return hosts reached."""
        cache: LineCache = {}
        reached = 0
        self.revision = max(self.revision, applied.revision)
        for host in applied.hosts():
            watchers = self._by_host.get(host)
            if not watchers:
                continue
            line = encode_line(
                applied.revision, applied.deltas.get(host), applied.ports.get(host, ()), cache
            )
            reached += 1
            for watcher in watchers:
                self._post(watcher, line)
        return reached

    def _post(self, watcher: Watcher, line: bytes) -> None:
        """Queue ``line`` for ``watcher``; the queue goes out on the loop's next turn."""
        if not self._outbox:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (a synchronous caller): hand it on now
                if self._offer(watcher, line):
                    self.lines_sent += 1
                return
            # Scheduled before the callers' futures resolve: lines leave first.
            loop.call_soon(self.flush)
        self._outbox.setdefault(watcher, []).append(line)

    def flush(self) -> None:
        """Hand every stream the lines queued for it, joined into one chunk."""
        outbox, self._outbox = self._outbox, {}
        for watcher, lines in outbox.items():
            if self._offer(watcher, lines[0] if len(lines) == 1 else b"".join(lines)):
                self.lines_sent += len(lines)

    def bookmark_idle(self) -> None:
        """Offer a bookmark to every stream that could not wait another tick for one."""
        # A bookmark must never overtake a queued line whose revision it covers.
        self.flush()
        # Checked every tenth of the interval: a stream idle for 9 tenths gets
        # its bookmark now, so no gap exceeds the interval (DESIGN: "at least
        # every 5 s"), with a tick of slack for a late timer.
        horizon = time.monotonic() - 0.9 * self._bookmark_interval
        line = bookmark_line(self.revision)
        for watcher in self._all():
            if watcher.last_sent <= horizon and self._offer(watcher, line):
                self.lines_sent += 1

    async def run_bookmarks(self) -> None:
        """Bookmark idle streams until cancelled, every tenth of the interval."""
        while True:
            await asyncio.sleep(self._bookmark_interval / 10)
            self.bookmark_idle()

    def _all(self) -> list[Watcher]:
        return [w for watchers in self._by_host.values() for w in watchers]

    def _offer(self, watcher: Watcher, chunk: bytes) -> bool:
        """Hand ``chunk`` to ``watcher``; a stream that fell behind is cut."""
        if watcher.offer(chunk):
            self.writes += 1
            return True
        if watcher.cut:
            self.remove(watcher)
            self.dropped += 1
            if self._on_cut is not None:
                self._on_cut(watcher)
        return False
