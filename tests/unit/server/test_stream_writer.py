"""The stream writer process, for real: a child process, real sockets, real descriptors.

A "client" is one end of a TCP connection on 127.0.0.1; the other end is
handed to the writer process as the server hands it a watch connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from l2pop.server.streamlink import ProcessSink, StreamLink

pytestmark = pytest.mark.timeout(60)
WAIT_S = 10.0


class _Conn:
    """What StreamLink.open needs of a transport: the connection's socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.sock if name == "socket" else default


def _tcp_pair() -> tuple[socket.socket, socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    client.setblocking(False)
    return server, client


async def _read_until(client: socket.socket, wanted: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    data = b""
    async with asyncio.timeout(WAIT_S):
        while not data.endswith(wanted):
            chunk = await loop.sock_recv(client, 65536)
            if not chunk:
                break
            data += chunk
    return data


async def _open(link: StreamLink) -> tuple[ProcessSink, socket.socket]:
    """A connection handed to the writer: its sink, and the client's end."""
    server, client = _tcp_pair()
    sink = link.open(_Conn(server))
    assert sink is not None
    server.close()  # the writer process holds its own descriptor now
    return sink, client


@contextlib.asynccontextmanager
async def _running_link(limit: int) -> AsyncIterator[StreamLink]:
    """A writer process for the test, stopped at the end whatever happened."""
    link = StreamLink.start(limit=limit)
    try:
        yield link
    finally:
        await link.close()


def _ended(sink: ProcessSink) -> asyncio.Future[None]:
    """Resolves when the writer (or its death) ends ``sink``'s stream from its side."""
    ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    sink.on_cut = lambda: ended.set_result(None)
    return ended


def test_lines_go_out_framed_and_in_order_then_the_stream_ends_cleanly() -> None:
    async def scenario() -> None:
        async with _running_link(limit=100) as link:
            sink, client = await _open(link)
            assert sink(b'{"revision":1}\n')
            assert sink(b'{"revision":2}\n{"revision":3}\n')
            link.flush()
            data = await _read_until(client, b'{"revision":3}\n\r\n')
            assert data == (b'f\r\n{"revision":1}\n\r\n1e\r\n{"revision":2}\n{"revision":3}\n\r\n')
            assert link.streams() == 1
            async with asyncio.timeout(WAIT_S):
                assert await sink.finish()  # everything it was given went out
            assert link.streams() == 0
            # The writer closed its descriptor: the client sees the end of the stream.
            async with asyncio.timeout(WAIT_S):
                assert await asyncio.get_running_loop().sock_recv(client, 10) == b""
            client.close()

    asyncio.run(scenario())


def test_a_client_that_stops_reading_is_cut_and_the_server_told() -> None:
    async def scenario() -> None:
        async with _running_link(limit=50) as link:
            sink, client = await _open(link)
            cut = _ended(sink)
            line = b"x" * 60_000 + b"\n"
            for _ in range(400):  # 24 MB: far more than the socket buffers hold
                if not sink(line):
                    break
                link.flush()
                await asyncio.sleep(0)
            async with asyncio.timeout(WAIT_S):
                await cut
            assert sink.closed
            client.close()

    asyncio.run(scenario())


def test_when_the_writer_process_dies_its_streams_end_and_no_new_one_is_taken() -> None:
    async def scenario() -> None:
        async with _running_link(limit=100) as link:
            sink, client = await _open(link)
            ended = _ended(sink)
            os.kill(link.pid, signal.SIGKILL)
            async with asyncio.timeout(WAIT_S):
                await ended
            assert not link.alive
            assert not sink(b"late\n")
            server, other = _tcp_pair()
            assert link.open(_Conn(server)) is None  # the server writes it itself then
            for sock in (server, other, client):
                sock.close()

    asyncio.run(scenario())
