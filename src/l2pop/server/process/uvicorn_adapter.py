"""Everything the server uses of uvicorn beyond its public API, in one place.

uvicorn's public surface is ``Config``/``Server`` and ASGI; the server needs
a little more: the watch streams write their chunks straight to the
connection's transport (one call per line instead of an ASGI message), and
a TLS connection's peer certificate lives on that transport too. Where
uvicorn keeps these things is not a promise of its API, so every such
access is here, behind typed functions, and
``tests/unit/server/test_uvicorn_adapter.py`` runs them against the real
uvicorn installed: an upgrade that moves them fails that test loudly
instead of silently falling back to the slower path.

What is used:

* the ASGI ``send`` callable is a bound method of uvicorn's per-request
  ``RequestResponseCycle``, which holds ``transport`` (the connection's
  asyncio/uvloop transport) and ``chunked_encoding`` (True once a response
  without a Content-Length started; the body is then framed by us);
* ``Server.handle_exit`` records the signal in ``_captured_signals`` and
  re-raises it after the graceful stop (the process would die "by
  SIGTERM"); :class:`GracefulServer` clears it so a completed stop exits 0,
  and runs a hook at the start of ``Server.shutdown`` (the watch streams
  end first: they never end by themselves, and shutdown waits for them).

* a TLS connection's state is the transport's ``ssl_object`` extra info
  (:func:`peer_certificate`): add further accessors of it here.

**Connection limits** (issue #17, items 4 and 5). uvicorn's httptools
protocol reads headers without a size limit, waits for
headers and bodies without a deadline (its keep-alive timer only runs
between requests and any byte cancels it) and accepts connections until
the process runs out of file descriptors. :func:`guarded_protocol` returns
a subclass of ``HttpToolsProtocol`` that adds, per connection:

* a header size limit: a request whose headers grow past
  ``max_header_bytes`` is answered ``431`` and the connection closed;
* a header deadline: from the connection's start (or the end of its
  previous response) the next request's headers must be complete within
  ``header_timeout`` seconds -- a silent or a one-byte-a-second client is
  closed;
* a body deadline: once the headers are in, the body must be complete
  within ``body_timeout`` seconds (a body shorter than its Content-Length);
* a connection cap below the descriptor limit: at ``max_connections`` (by
  default the soft ``RLIMIT_NOFILE`` minus :data:`FD_HEADROOM`, read at each
  accept) a new connection first closes the connection that has been idle
  the longest -- connected but not inside a request, i.e. one that has not
  sent a request yet or sits between requests. A connection serving a
  request (an agent's watch stream) is never closed for room; only when every
  connection is busy is the new one refused.

It relies on these parts of uvicorn (``tests/unit/server/test_uvicorn_adapter_limits``
fails when they change): the class ``HttpToolsProtocol`` with the methods
``connection_made``, ``connection_lost``, ``data_received``, ``on_message_begin``,
``on_headers_complete``, ``on_message_complete``, ``on_response_complete`` and
the attribute ``transport``.
"""

from __future__ import annotations

import asyncio
import resource
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, ClassVar, Protocol

import uvicorn
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = [
    "FD_HEADROOM",
    "REASONS",
    "ConnectionGuard",
    "ConnectionLimits",
    "ConnectionTransport",
    "GracefulServer",
    "chunked_response",
    "connection_transport",
    "guarded_protocol",
    "peer_certificate",
]


class ConnectionTransport(Protocol):
    """What we use of a connection's transport (uvloop's do not derive from asyncio's)."""

    def write(self, data: bytes) -> None: ...
    def get_write_buffer_size(self) -> int: ...
    def is_closing(self) -> bool: ...
    def get_extra_info(self, name: str, default: Any = None) -> Any: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


_TRANSPORT_METHODS = (
    "write",
    "get_write_buffer_size",
    "is_closing",
    "get_extra_info",
    "close",
    "abort",
)


def _cycle(send: Send) -> object | None:
    """uvicorn's RequestResponseCycle behind ``send`` (its bound ``send`` method)."""
    return getattr(send, "__self__", None)


def connection_transport(send: Send) -> ConnectionTransport | None:
    """The transport of the connection behind ``send``, if ``send`` is uvicorn's."""
    transport = getattr(_cycle(send), "transport", None)
    if transport is None or not all(hasattr(transport, m) for m in _TRANSPORT_METHODS):
        return None
    found: ConnectionTransport = transport
    return found


def chunked_response(send: Send) -> bool:
    """Whether the started response behind ``send`` is HTTP/1.1 chunked (ours to frame)."""
    return getattr(_cycle(send), "chunked_encoding", None) is True


class GracefulServer(uvicorn.Server):
    """uvicorn's server: ``before_shutdown`` runs first at shutdown; a graceful stop exits 0."""

    def __init__(
        self,
        config: uvicorn.Config,
        before_shutdown: Callable[[], Awaitable[None]],
        after_startup: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(config)
        self._before_shutdown = before_shutdown
        self._after_startup = after_startup  # once the app started and the socket listens

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._after_startup is not None:
            self._after_startup()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Stop accepting first (uvicorn's shutdown does it again): a client whose
        # stream the hook ends must not reconnect to a server that is going away.
        for server in getattr(self, "servers", []):  # set by startup
            server.close()
        await self._before_shutdown()
        await super().shutdown(sockets)


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


# Descriptors kept free of connections: the database and its WAL, the event
# loop, the stream writer's socket, logs, a few outgoing connections (etcd).
FD_HEADROOM = 64
MIN_CONNECTIONS = 16
REASONS = ("header_too_large", "header_timeout", "body_timeout", "evicted", "refused")
_431 = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: application/json\r\nconnection: close\r\n"
)
_431_BODY = (
    b'{"NeutronError": {"type": "RequestHeaderFieldsTooLarge", '
    b'"message": "request headers over the limit", "detail": ""}}'
)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_header_bytes: int = 64 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    max_connections: int | None = None  # None: the descriptor limit minus FD_HEADROOM

    def cap(self) -> int:
        if self.max_connections is not None:
            return self.max_connections
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            soft = 1 << 20
        return max(MIN_CONNECTIONS, soft - FD_HEADROOM)


@dataclass(eq=False)
class ConnectionGuard:
    """The connections of one server, the limits and their counters."""

    limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    # Open connections; the idle ones in the order they became idle.
    open: set[Any] = field(default_factory=set)
    idle: dict[Any, None] = field(default_factory=dict)
    closed: dict[str, int] = field(default_factory=dict)

    def count(self, reason: str) -> None:
        self.closed[reason] = self.closed.get(reason, 0) + 1

    def register(self, registry: CollectorRegistry) -> None:
        """Export the gauge and the counters in ``registry`` (the server's /metrics)."""
        registry.register(_GuardCollector(self))

    def admit(self, conn: Any) -> bool:
        """A new connection: make room or refuse it (False)."""
        if len(self.open) >= self.limits.cap():
            oldest = next(iter(self.idle), None)
            if oldest is None:
                self.count("refused")
                return False
            self.count("evicted")
            oldest.close_quietly()
        self.open.add(conn)
        self.idle[conn] = None
        return True

    def busy(self, conn: Any) -> None:
        self.idle.pop(conn, None)

    def rest(self, conn: Any) -> None:
        if conn in self.open:
            self.idle.pop(conn, None)
            self.idle[conn] = None

    def gone(self, conn: Any) -> None:
        self.open.discard(conn)
        self.idle.pop(conn, None)


class _GuardCollector(Collector):
    """The guard's numbers, read at scrape time (the protocol keeps plain ints)."""

    def __init__(self, guard: ConnectionGuard) -> None:
        self.guard = guard

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "l2pop_http_connections", "Open HTTP connections", value=len(self.guard.open)
        )
        closed = CounterMetricFamily(
            "l2pop_http_connections_closed",
            "Connections the server closed to protect itself, by reason",
            labels=["reason"],
        )
        for reason in REASONS:
            closed.add_metric([reason], self.guard.closed.get(reason, 0))
        yield closed


class _Guarded(HttpToolsProtocol):
    """``HttpToolsProtocol`` with the limits of :class:`ConnectionGuard` (see the module)."""

    guard: ClassVar[ConnectionGuard]
    _in_headers = False  # between a message's first byte and the end of its headers
    _header_bytes = 0
    _timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self.guard.admit(self):
            transport.abort()
            return
        self._arm(self.guard.limits.header_timeout, "header_timeout")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.guard.gone(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Counted after parsing: bytes of a body the app did not read (a 413
        # answered early) are parsed as that body, not as the next headers.
        if self._in_headers:
            self._header_bytes += len(data)
        too_large = self._header_bytes > self.guard.limits.max_header_bytes
        if self._in_headers and too_large and not self.transport.is_closing():
            self.guard.count("header_too_large")
            length = b"content-length: %d\r\n\r\n" % len(_431_BODY)
            self.transport.write(_431 + length + _431_BODY)
            self.transport.close()

    def on_message_begin(self) -> None:
        self._in_headers = True
        self._header_bytes = 0
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._header_bytes = 0
        self.guard.busy(self)
        # The body (if any) must follow in time; a request without a body
        # completes at once (on_message_complete disarms).
        self._arm(self.guard.limits.body_timeout, "body_timeout")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self.guard.rest(self)
        self._arm(self.guard.limits.header_timeout, "header_timeout")

    def close_quietly(self) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.close()

    def _arm(self, delay: float, reason: str) -> None:
        self._disarm()
        self._timer = asyncio.get_running_loop().call_later(delay, self._expired, reason)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self, reason: str) -> None:
        self._timer = None
        if not self.transport.is_closing():
            self.guard.count(reason)
            self.transport.close()


def guarded_protocol(guard: ConnectionGuard) -> type[HttpToolsProtocol]:
    """The protocol class to give uvicorn (``Config(http=...)``) for ``guard``."""
    return type("GuardedHttpToolsProtocol", (_Guarded,), {"guard": guard})
