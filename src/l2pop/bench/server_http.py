"""A minimal HTTP/1.1 client on asyncio streams, for the server benchmark.

The benchmark runs on the same 2-core machine as the server: a general client
(httpx) would spend more CPU than the server it measures. This one does only
keep-alive requests with Content-Length answers, and chunked NDJSON streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["Connection", "ndjson_stream"]


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
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 24)
        return cls(reader, writer, f"{host}:{port}")

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


async def ndjson_stream(host: str, port: int, path: str, token: str) -> AsyncIterator[bytes]:
    """Yield each NDJSON line of a chunked GET answer (raises on a non-200)."""
    reader, writer = await asyncio.open_connection(host, port, limit=1 << 24)
    try:
        writer.write(_request("GET", f"{host}:{port}", path, token, b""))
        status, _ = await _head(reader)
        if status != 200:
            raise RuntimeError(f"watch {path}: HTTP {status}")
        pending = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            if size == 0:
                return
            # The chunk's data, without the CRLF that ends every chunk.
            pending += (await reader.readexactly(size + 2))[:-2]
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line
    finally:
        writer.close()
