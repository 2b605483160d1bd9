"""The simulator's light HTTP transport against a tiny scripted server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from l2pop.sim.transport import FastTransport

pytestmark = pytest.mark.timeout(30)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    return server, port


async def _stalling(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    writer.write(b"6\r\nline1\n\r\n")
    await writer.drain()
    await asyncio.sleep(5)  # then silence: the client's read timeout ends the stream
    writer.close()


async def _answering(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    body = await reader.readexactly(length)
    answer = b'{"got": "%s"}' % body
    writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))
    await writer.drain()
    writer.close()


async def _collect(response: httpx.Response, into: list[bytes]) -> None:
    async for chunk in response.aiter_bytes():
        into.append(chunk)


def test_a_silent_stream_ends_with_a_read_timeout_after_its_data() -> None:
    async def main() -> list[bytes]:
        server, port = await _serve(_stalling)
        transport = FastTransport()
        got: list[bytes] = []
        try:
            async with (
                httpx.AsyncClient(transport=transport) as client,
                client.stream(
                    "GET", f"http://127.0.0.1:{port}/w", timeout=httpx.Timeout(5.0, read=0.3)
                ) as response,
            ):
                with pytest.raises(httpx.ReadTimeout):
                    await _collect(response, got)
        finally:
            server.close()
            await transport.close()
        return got

    assert asyncio.run(main()) == [b"line1\n"]


def test_exchange_sends_the_body_and_reads_the_answer() -> None:
    async def main() -> tuple[int, bytes]:
        server, port = await _serve(_answering)
        transport = FastTransport()
        try:
            return await transport.exchange(
                ("127.0.0.1", port), "POST", "/v2.0/ports", b"X-Auth-Token: t\r\n", b"abc", 5.0
            )
        finally:
            server.close()
            await transport.close()

    assert asyncio.run(main()) == (201, b'{"got": "abc"}')
