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
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any, Protocol

import uvicorn
from starlette.types import Send

__all__ = ["ConnectionTransport", "GracefulServer", "chunked_response", "connection_transport"]
__all__ = ["ConnectionTransport", "chunked_response", "connection_transport", "peer_certificate"]


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
