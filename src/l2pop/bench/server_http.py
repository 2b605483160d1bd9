"""A minimal HTTP/1.1 client on asyncio streams, for the server benchmark.

The benchmark runs on the same 2-core machine as the server: a general client
(httpx) would spend more CPU than the server it measures. This one does only
keep-alive requests with Content-Length answers, and chunked NDJSON streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Connection", "NdjsonProtocol", "open_ndjson"]


async def _head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return status, headers


def _request(method: str, host: str, path: str, token: str, body: bytes) -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nX-Auth-Token: {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


class Connection:
    """One keep-alive connection; one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self._reader, self._writer, self._host = reader, writer, host

    @classmethod
    async def open(cls, host: str, port: int, tls: ssl.SSLContext | None = None) -> Connection:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 24, ssl=tls)
        return cls(reader, writer, f"{host}:{port}")

    async def raw(self, method: str, path: str, token: str, payload: bytes = b"") -> bytes:
        self._writer.write(_request(method, self._host, path, token, payload))
        _, headers = await _head(self._reader)
        length = int(headers.get("content-length", "0"))
        return await self._reader.readexactly(length) if length else b""

    async def call(self, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
        payload = b"" if body is None else json.dumps(body).encode()
        self._writer.write(_request(method, self._host, path, token, payload))
        status, headers = await _head(self._reader)
        length = int(headers.get("content-length", "0"))
        data = await self._reader.readexactly(length) if length else b""
        return status, json.loads(data) if data else None

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


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
            status = int(buffer.split(b" ", 2)[1])
            if status != 200:
                self._fail(RuntimeError(f"watch: HTTP {status}"))
                return
            self._head_done = True
            buffer = buffer[end + 4 :]
        payload, buffer = _dechunk(buffer)
        self._buffer = buffer
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


def _dechunk(buffer: bytes) -> tuple[bytes, bytes]:
    """The data of every complete chunk at the start of ``buffer``, and the rest."""
    parts = []
    pos = 0
    while True:
        eol = buffer.find(b"\r\n", pos)
        if eol < 0:
            break
        size = int(buffer[pos:eol], 16)
        end = eol + 2 + size + 2
        if size == 0 or len(buffer) < end:
            break
        parts.append(buffer[eol + 2 : end - 2])
        pos = end
    return b"".join(parts), buffer[pos:]


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
    transport.write(_request("GET", f"{host}:{port}", path, token, b""))
    return transport, protocol
