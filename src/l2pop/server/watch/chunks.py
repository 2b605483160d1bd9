"""Write a streamed ASGI response body from synchronous code, with no task per chunk.

A watch line is the server's most frequent write (one per interested host
per change). ``await send(...)`` from a task per stream costs a task switch,
a queue and two generator hops per line; yet an ASGI server's ``send`` only
suspends when the client is slow (flow control paused the transport). So
:class:`BodyWriter` runs ``send`` inline: when it completes without
suspending (the usual case) the chunk is on the socket already; when it does
suspend, the rest of that ``send`` and every chunk after it go to one
draining task, in order, until the backlog is empty.

:class:`TransportWriter` goes one step further where the server allows it
(uvicorn's HTTP/1.1 cycle with chunked encoding, found by
:func:`transport_writer`): it frames the chunk and hands it to the
connection's transport itself, one call instead of a coroutine, a message
dict and three checks per line. Anything else (the TestClient, HTTP/1.0)
gets a :class:`BodyWriter`.

Both are bounded in bytes: a client with more than ``max_queued`` bytes not
yet taken by its socket is too far behind, and its stream is cut. A cut
drops what was queued at once (the transport is aborted: a client that
never reads would otherwise hold that memory for as long as it keeps the
connection open); the client sees the connection end and resumes from the
last revision it got.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import types
from collections.abc import Coroutine, Generator
from typing import Any

from starlette.types import Send

from l2pop.server.process.uvicorn_adapter import (
    ConnectionTransport,
    chunked_response,
    connection_transport,
)

__all__ = ["BodyWriter", "ChunkWriter", "TransportWriter", "chunk_writer"]

log = logging.getLogger(__name__)


@types.coroutine
def _resume(coro: Coroutine[Any, Any, None], first: Any) -> Generator[Any, Any, None]:
    """Go on with ``coro``, which already yielded ``first`` to its (absent) driver."""
    to_yield = first
    while True:
        try:
            sent = yield to_yield
        except BaseException as exc:  # cancellation reaches the inner send
            try:
                to_yield = coro.throw(exc)
            except StopIteration:
                return
            continue
        try:
            to_yield = coro.send(sent)
        except StopIteration:
            return


class BodyWriter:
    """Chunks of one response body through ASGI ``send``; a :data:`~.watcher.Sink`."""

    def __init__(self, send: Send, max_queued: int) -> None:
        self._send = send
        self._max_queued = max_queued
        self._backlog: list[bytes] = []
        self._backlog_size = 0
        self._draining: asyncio.Task[None] | None = None
        self.failed = False

    def __call__(self, chunk: bytes) -> bool:
        """Write ``chunk`` now, or after the backlog; False once over ``max_queued`` bytes."""
        if self.failed:
            return False
        if self._draining is not None:
            self._backlog.append(chunk)
            self._backlog_size += len(chunk)
            return self._backlog_size <= self._max_queued
        coro = self._send({"type": "http.response.body", "body": chunk, "more_body": True})
        assert isinstance(coro, Coroutine)  # an ASGI server's send is an async def
        try:
            blocker = coro.send(None)
        except StopIteration:
            return True
        except Exception as exc:  # the connection is gone: the stream ends
            log.info("watch write failed: %r", exc)
            self.failed = True
            return False
        self._draining = asyncio.get_running_loop().create_task(self._drain(coro, blocker))
        return True

    async def _drain(self, coro: Coroutine[Any, Any, None], blocker: Any) -> None:
        try:
            await _resume(coro, blocker)
            while self._backlog and not self.failed:
                chunk = b"".join(self._backlog)
                self._backlog, self._backlog_size = [], 0
                await self._send({"type": "http.response.body", "body": chunk, "more_body": True})
        except Exception as exc:
            log.info("watch write failed: %r", exc)
            self.failed = True
        finally:
            self._draining = None

    async def finish(self) -> None:
        """Wait for the backlog to be written (unless dropped), then end the body."""
        if self._draining is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._draining)
        if not self.failed:
            await self._send({"type": "http.response.body", "body": b"", "more_body": False})

    def drop(self) -> None:
        """The stream was cut: forget the backlog, stop a blocked write, end no body."""
        self._backlog, self._backlog_size = [], 0
        self.failed = True
        if self._draining is not None:
            self._draining.cancel()


class TransportWriter:
    """Chunks framed and written straight to the connection's transport.

    A client is too far behind when the transport holds more than
    ``max_queued`` bytes it could not send yet.
    """

    def __init__(self, send: Send, transport: ConnectionTransport, max_queued: int) -> None:
        self._send = send
        self._transport = transport
        self._max_queued = max_queued
        self.failed = False

    def __call__(self, chunk: bytes) -> bool:
        if self.failed or self._transport.is_closing():
            self.failed = True
            return False
        self._transport.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        return self._transport.get_write_buffer_size() <= self._max_queued

    async def finish(self) -> None:
        """End the body through the server, which then knows the response is complete."""
        if not self.failed and not self._transport.is_closing():
            await self._send({"type": "http.response.body", "body": b"", "more_body": False})

    def drop(self) -> None:
        """The stream was cut: discard the unsent bytes and the connection now."""
        self.failed = True
        self._transport.abort()


ChunkWriter = BodyWriter | TransportWriter


def chunk_writer(send: Send, max_queued: int) -> ChunkWriter:
    """The writer for a started streamed response: straight to uvicorn's transport if we can."""
    transport = connection_transport(send)
    if transport is not None and chunked_response(send):
        return TransportWriter(send, transport, max_queued)
    return BodyWriter(send, max_queued)
