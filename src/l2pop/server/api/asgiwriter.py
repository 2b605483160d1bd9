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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import types
from collections.abc import Coroutine, Generator
from typing import Any, Protocol

from starlette.types import Send

__all__ = [
    "BodyWriter",
    "TransportWriter",
    "connection_transport",
    "peer_certificate",
    "transport_writer",
]

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
    """Chunks of one response body; a :data:`~l2pop.server.watcher.Sink`."""

    def __init__(self, send: Send, limit: int) -> None:
        self._send = send
        self._limit = limit
        self._backlog: list[bytes] = []
        self._draining: asyncio.Task[None] | None = None
        self.failed = False

    def __call__(self, chunk: bytes) -> bool:
        """Write ``chunk`` now, or after the backlog; False once ``limit`` chunks behind."""
        if self.failed:
            return False
        if self._draining is not None:
            self._backlog.append(chunk)
            return len(self._backlog) < self._limit
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
                self._backlog = []
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
        """Forget the backlog (the stream was cut for falling behind)."""
        self._backlog = []


class _Transport(Protocol):
    """What we use of an asyncio transport (uvloop's are not registered as one)."""

    def write(self, data: bytes) -> None: ...
    def get_write_buffer_size(self) -> int: ...
    def is_closing(self) -> bool: ...
    def get_extra_info(self, name: str, default: Any = None) -> Any: ...
    def close(self) -> None: ...


_TRANSPORT_METHODS = ("write", "get_write_buffer_size", "is_closing", "get_extra_info", "close")


def connection_transport(send: Send) -> _Transport | None:
    """The transport of the connection behind ``send``, if ``send`` is uvicorn's HTTP cycle's.

    The one place that knows where uvicorn keeps it; uvloop's transports do
    not derive from asyncio's classes, so the methods are checked instead.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None or not all(hasattr(transport, m) for m in _TRANSPORT_METHODS):
        return None
    found: _Transport = transport
    return found


class TransportWriter:
    """Chunks framed and written straight to an asyncio transport.

    A client is "too far behind" when the transport holds more than
    ``max_buffer`` bytes it could not send yet.
    """

    def __init__(self, send: Send, transport: _Transport, max_buffer: int) -> None:
        self._send = send
        self._transport = transport
        self._max_buffer = max_buffer
        self.failed = False

    def __call__(self, chunk: bytes) -> bool:
        if self.failed or self._transport.is_closing():
            self.failed = True
            return False
        self._transport.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        return self._transport.get_write_buffer_size() <= self._max_buffer

    async def finish(self) -> None:
        """End the body through the server, which then knows the response is complete."""
        if not self.failed and not self._transport.is_closing():
            await self._send({"type": "http.response.body", "body": b"", "more_body": False})

    def drop(self) -> None:
        """Nothing to forget: what was written is the transport's now."""


def transport_writer(send: Send, max_buffer: int) -> TransportWriter | None:
    """A :class:`TransportWriter` for a started chunked response, if ``send`` is uvicorn's."""
    transport = connection_transport(send)
    cycle = getattr(send, "__self__", None)
    if transport is None or getattr(cycle, "chunked_encoding", None) is not True:
        return None
    return TransportWriter(send, transport, max_buffer)


def peer_certificate(send: Send) -> dict[str, Any] | None:
    """The verified client certificate of the TLS connection behind ``send``
    (``SSLObject.getpeercert()``), or None: plain HTTP, no certificate, or not uvicorn."""
    transport = connection_transport(send)
    if transport is None:
        return None
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    cert: dict[str, Any] | None = ssl_object.getpeercert() or None
    return cert
