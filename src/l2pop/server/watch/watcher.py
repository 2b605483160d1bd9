"""One open watch stream: where the hub hands its host's lines.

A line is handed on the moment its revision is published, in revision
order, with no task per line: the stream has a *sink* (the response's chunk
writer, :mod:`l2pop.server.watch.chunks`) that takes the line at once; until
the sink is attached (while the replayed history is being sent) lines wait
in a buffer.

A stream that has more than ``max_queued`` bytes waiting for its client is
cut: the agent resumes from its last revision (or lists again) instead of
the server holding memory for a client that does not read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["DEFAULT_MAX_QUEUED", "Sink", "Watcher"]

# Takes one chunk of NDJSON; False when the client is too far behind (or gone).
Sink = Callable[[bytes], bool]

# 4 MiB: several thousand lines, minutes of a busy host's changes; an agent
# that is merely slow for a moment never comes near it.
DEFAULT_MAX_QUEUED = 4 * 1024 * 1024


class Watcher:
    """An open stream of ``host``; ``token_hash`` is None for the admin's."""

    __slots__ = (
        "_buffer",
        "_buffered",
        "_ended",
        "_sink",
        "closed",
        "cut",
        "host",
        "last_sent",
        "max_queued",
        "token_hash",
    )

    def __init__(
        self, host: str, token_hash: str | None = None, max_queued: int = DEFAULT_MAX_QUEUED
    ) -> None:
        self.host = host
        self.token_hash = token_hash
        self.max_queued = max_queued
        self.closed = False
        self.cut = False  # closed because it fell behind
        self.last_sent = time.monotonic()
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._sink: Sink | None = None
        self._ended: asyncio.Future[None] | None = None

    def offer(self, line: bytes) -> bool:
        """Hand ``line`` on (or buffer it); False if the stream is closed."""
        if self.closed:
            return False
        self.last_sent = time.monotonic()
        if self._sink is not None:
            if not self._sink(line):
                self._cut()
            return not self.closed
        self._buffered += len(line)
        if self._buffered > self.max_queued:
            self._cut()
            return False
        self._buffer.append(line)
        return True

    def attach(self, sink: Sink) -> None:
        """From now on lines go to ``sink``; what was buffered goes first."""
        buffered, self._buffer, self._buffered = self._buffer, [], 0
        self._sink = sink
        if buffered and not self.closed and not sink(b"".join(buffered)):
            self._cut()

    async def ended(self) -> None:
        """Return once the stream is closed (cut, revoked, replaced, client gone, shutdown)."""
        if self.closed:
            return
        if self._ended is None:
            self._ended = asyncio.get_running_loop().create_future()
        await self._ended

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._buffer, self._buffered = [], 0
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(None)

    def cut_off(self) -> None:
        """End the stream because its client cannot take more (too far behind, or gone)."""
        self._cut()

    def _cut(self) -> None:
        self.cut = True
        self.close()
