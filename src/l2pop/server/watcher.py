"""One open watch stream: where the hub hands its host's lines.

A line is handed on the moment its revision is published, in revision
order, with no task per line: the stream either has a *sink* (the HTTP
response's writer, see :mod:`l2pop.server.api.asgiwriter`) that takes the
line at once, or it buffers lines until a sink is attached (while the
replayed history is being sent) or a reader :meth:`takes <Watcher.take>`
them (the generator behind the FastAPI route, used by the TestClient).

A stream that falls ``limit`` lines behind is cut: its agent resumes from
its last revision (or lists again) instead of the server holding memory.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["Sink", "Watcher"]

# Takes one chunk of NDJSON; False when the client is ``limit`` chunks behind.
Sink = Callable[[bytes], bool]


class Watcher:
    """An open stream of ``host``; ``token_hash`` is None for the admin's."""

    __slots__ = (
        "_buffer",
        "_ended",
        "_sink",
        "_wakeup",
        "closed",
        "cut",
        "host",
        "last_sent",
        "limit",
        "token_hash",
    )

    def __init__(self, host: str, token_hash: str | None = None, limit: int = 10_000) -> None:
        self.host = host
        self.token_hash = token_hash
        self.limit = limit
        self.closed = False
        self.cut = False  # closed because it fell behind
        self.last_sent = time.monotonic()
        self._buffer: list[bytes] = []
        self._sink: Sink | None = None
        self._wakeup: asyncio.Future[None] | None = None
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
        if len(self._buffer) >= self.limit:
            self._cut()
            return False
        self._buffer.append(line)
        self._wake()
        return True

    def attach(self, sink: Sink) -> None:
        """From now on lines go to ``sink``; what was buffered goes first."""
        buffered, self._buffer = self._buffer, []
        self._sink = sink
        if buffered and not self.closed and not sink(b"".join(buffered)):
            self._cut()

    def pending(self) -> list[bytes]:
        """Take what is buffered (for a reader without a sink)."""
        buffered, self._buffer = self._buffer, []
        return buffered

    async def take(self) -> bytes | None:
        """The buffered lines as one chunk, once there are any; None once closed."""
        while not self._buffer and not self.closed:
            self._wakeup = asyncio.get_running_loop().create_future()
            await self._wakeup
        if self.closed:
            return None
        return b"".join(self.pending())

    async def ended(self) -> None:
        """Return once the stream is closed (cut, revoked, client gone, shutdown)."""
        if self.closed:
            return
        if self._ended is None:
            self._ended = asyncio.get_running_loop().create_future()
        await self._ended

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._buffer = []
        self._wake()
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(None)

    def cut_off(self) -> None:
        """End the stream because its client cannot take more (too far behind, or gone)."""
        self._cut()

    def _cut(self) -> None:
        self.cut = True
        self.close()

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)
