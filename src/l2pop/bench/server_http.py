"""The server benchmark's HTTP: requests through the simulator's transport, and a
raw watch reader.

The benchmark runs on the same 2-core machine as the server: a general client
(httpx) would spend more CPU than the server it measures. Requests go through
:class:`~l2pop.sim.transport.FastTransport` (keep-alive, no httpx models);
the thousand watch streams are read by :class:`NdjsonProtocol` straight off
the transport, with no stream reader. Both frame HTTP/1.1 with
:mod:`l2pop.sim.http1`.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Callable
from typing import Any

from l2pop.sim.http1 import dechunk, parse_head, request_bytes
from l2pop.sim.transport import FastTransport

__all__ = ["Connection", "NdjsonProtocol", "open_ndjson"]

_JSON = b"Content-Type: application/json\r\n"


def _auth(token: str) -> bytes:
    return b"X-Auth-Token: %s\r\n%s" % (token.encode(), _JSON)


class Connection:
    """Requests to one server, one at a time per caller (a writer of the benchmark)."""

    def __init__(self, transport: FastTransport, host: str, port: int) -> None:
        self._transport, self._key = transport, (host, port)

    @classmethod
    async def open(cls, host: str, port: int, tls: ssl.SSLContext | None = None) -> Connection:
        return cls(FastTransport(tls=tls), host, port)

    async def raw(self, method: str, path: str, token: str, payload: bytes = b"") -> bytes:
        _, data = await self._transport.exchange(
            self._key, method, path, _auth(token), payload, None
        )
        return data

    async def call(self, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
        payload = b"" if body is None else json.dumps(body).encode()
        status, data = await self._transport.exchange(
            self._key, method, path, _auth(token), payload, None
        )
        return status, json.loads(data) if data else None

    async def close(self) -> None:
        await self._transport.close()


class NdjsonProtocol(asyncio.Protocol):
    """A chunked NDJSON answer read straight off the transport (no stream reader).

    ``on_lines`` gets each run of complete lines as it arrives, with the time
    it arrived; ``first`` resolves when the head and the first chunk are in.
    1,000 of these share the benchmark's one core with its writers.
    """

    def __init__(self, on_lines: Callable[[bytes, float], None]) -> None:
        self.on_lines = on_lines
        self.first: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buffer = b""
        self._head_done = False
        self._partial = b""  # a line not complete yet

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        buffer = self._buffer + data
        if not self._head_done:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self._buffer = buffer
                return
            status = parse_head(buffer[: end + 4]).status
            if status != 200:
                self._fail(RuntimeError(f"watch: HTTP {status}"))
                return
            self._head_done = True
            buffer = buffer[end + 4 :]
        parts, taken = dechunk(buffer)
        payload, self._buffer = b"".join(parts), buffer[taken:]
        if payload:
            text = self._partial + payload
            cut = text.rfind(b"\n") + 1
            self._partial = text[cut:]
            if cut:
                self.on_lines(text[:cut], now)
            if not self.first.done():
                self.first.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionError("watch stream closed"))

    def _fail(self, exc: Exception) -> None:
        for future in (self.first, self.closed):
            if not future.done():
                future.set_exception(exc)
                future.exception()  # retrieved: a stream ended at teardown is no error


async def open_ndjson(
    host: str,
    port: int,
    path: str,
    token: str,
    on_lines: Callable[[bytes, float], None],
    tls: ssl.SSLContext | None = None,
) -> tuple[asyncio.Transport, NdjsonProtocol]:
    """Start a watch; ``on_lines`` is called as lines arrive (raises on a non-200)."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(
        lambda: NdjsonProtocol(on_lines), host, port, ssl=tls
    )
    transport.write(request_bytes("GET", path, f"{host}:{port}", _auth(token), b""))
    return transport, protocol
