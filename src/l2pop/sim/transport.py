"""A small HTTP/1.1 transport for httpx over asyncio streams, for the simulator.

The simulator sends thousands of requests per second and reads thousands of
watch streams from one process. httpx's default transport (httpcore over anyio)
costs a lot of CPU per request at that rate: on every request it scans every
connection of its pool, one readability syscall each. This transport keeps the
httpx API, so the agent's own client (:class:`~l2pop.agent.client.HostApi`)
runs unchanged on top of it, with a plain keep-alive pool underneath:
``http://`` only, bodies by ``Content-Length`` or ``chunked`` (the watch
stream), read timeouts per read (one lazy timer per watch stream). The
driver's admin calls (:class:`~l2pop.sim.api.SimApi`) use :meth:`exchange`,
the same pool without httpx's request and response models.

A request that goes out on a pooled connection the server closed while it idled
fails before any byte of an answer: it is sent once more on a new connection
(the server never saw it). Other failures raise httpx's transport errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator

import httpx

from l2pop.sim.http1 import dechunk, parse_head, request_bytes
from l2pop.sim.streambuf import buffered

__all__ = ["FastTransport"]

KEEPALIVE_S = 2.0  # uvicorn closes an idle connection after 5 s: drop ours first
MAX_IDLE = 256  # idle connections kept per server
NO_BODY = {204, 304}
MAX_COALESCE = 1 << 20  # bytes of buffered chunks joined into one read at most


class _Conn:
    __slots__ = ("idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class _Timeout:
    """``asyncio.timeout`` that accepts None (no limit)."""

    __slots__ = ()

    @staticmethod
    def of(seconds: float | None) -> contextlib.AbstractAsyncContextManager[object]:
        if seconds is None:
            return contextlib.nullcontext()
        return asyncio.timeout(seconds)


class FastTransport(httpx.AsyncBaseTransport):
    """Keep-alive HTTP/1.1 over asyncio streams. ``shared``: several clients use it, so
    a client's ``aclose`` leaves it open (close it with :meth:`close`)."""

    def __init__(
        self,
        *,
        shared: bool = False,
        keepalive_s: float = KEEPALIVE_S,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._tls = tls  # https:// URLs only, and only with a context
        self._shared = shared
        self._keepalive_s = keepalive_s
        self._idle: dict[tuple[str, int], deque[_Conn]] = {}

    async def aclose(self) -> None:
        if not self._shared:
            await self.close()

    async def close(self) -> None:
        for idle in self._idle.values():
            while idle:
                idle.pop().close()

    def release(self, key: tuple[str, int], conn: _Conn) -> None:
        idle = self._idle.setdefault(key, deque())
        if len(idle) >= MAX_IDLE:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    async def _connect(
        self, key: tuple[str, int], timeout: float | None, request: httpx.Request | None
    ) -> tuple[_Conn, bool]:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if now - conn.idle_since < self._keepalive_s and not conn.reader.at_eof():
                return conn, True
            conn.close()
        try:
            async with _Timeout.of(timeout):
                reader, writer = await asyncio.open_connection(key[0], key[1], ssl=self._tls)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connect {key}", request=request) from None
        except OSError as exc:
            raise httpx.ConnectError(f"connect {key}: {exc}", request=request) from exc
        return _Conn(reader, writer), False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != ("https" if self._tls else "http"):
            raise httpx.UnsupportedProtocol(f"{url.scheme}: not what this transport speaks")
        key = (url.host, url.port or (443 if self._tls else 80))
        timeouts = request.extensions.get("timeout", {})
        body = await request.aread()
        lines = [b"%s %s HTTP/1.1" % (request.method.encode(), url.raw_path)]
        lines.extend(b"%s: %s" % (name, value) for name, value in request.headers.raw)
        message = b"\r\n".join(lines) + b"\r\n\r\n" + body
        what = f"{request.method} {url}"
        read_timeout = timeouts.get("read")
        conn, head = await self._roundtrip(
            key, message, timeouts.get("connect"), read_timeout, what, request
        )
        status, headers, length, chunked, reuse = _parse_head(conn, head, request)
        extensions = {"http_version": b"HTTP/1.1"}
        if request.method == "HEAD" or status in NO_BODY or status < 200:
            length = 0
        if chunked:
            stream = _Chunked(self, key, conn, reuse, read_timeout, request)
            return httpx.Response(status, headers=headers, stream=stream, extensions=extensions)
        content = await self._body(key, conn, length, reuse, read_timeout, what, request)
        return httpx.Response(status, headers=headers, content=content, extensions=extensions)

    async def exchange(
        self,
        key: tuple[str, int],
        method: str,
        target: str,
        headers: bytes,
        body: bytes,
        timeout: float | None,
    ) -> tuple[int, bytes]:
        """One request without httpx's models (the driver's admin calls, thousands a
        second): ``headers`` are ready ``Name: value\\r\\n`` lines; (status, body)."""
        message = request_bytes(method, target, f"{key[0]}:{key[1]}", headers, body)
        what = f"{method} {target}"
        conn, head = await self._roundtrip(key, message, timeout, timeout, what, None)
        status, _, length, chunked, reuse = _parse_head(conn, head, None)
        if method == "HEAD" or status in NO_BODY or status < 200:
            length = 0
        if chunked:
            stream = _Chunked(self, key, conn, reuse, timeout, None)
            return status, b"".join([part async for part in stream])
        return status, await self._body(key, conn, length, reuse, timeout, what, None)

    async def _roundtrip(
        self,
        key: tuple[str, int],
        message: bytes,
        connect_timeout: float | None,
        read_timeout: float | None,
        what: str,
        request: httpx.Request | None,
    ) -> tuple[_Conn, bytes]:
        """Send ``message``, read the answer's head (sent once more on a new connection
        when a pooled one turns out closed by the server before any byte came)."""
        for attempt in range(2):
            conn, reused = await self._connect(key, connect_timeout, request)
            try:
                conn.writer.write(message)
                async with _Timeout.of(read_timeout):
                    head = await conn.reader.readuntil(b"\r\n\r\n")
            except TimeoutError:
                conn.close()
                raise httpx.ReadTimeout(what, request=request) from None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                conn.close()
                partial = isinstance(exc, asyncio.IncompleteReadError) and bool(exc.partial)
                if reused and attempt == 0 and not partial:
                    continue  # a pooled connection the server had closed: never reached it
                raise httpx.ReadError(f"{what}: {exc!r}", request=request) from exc
            return conn, head
        raise AssertionError("unreachable")  # pragma: no cover

    async def _body(
        self,
        key: tuple[str, int],
        conn: _Conn,
        length: int | None,
        reuse: bool,
        read_timeout: float | None,
        what: str,
        request: httpx.Request | None,
    ) -> bytes:
        """A body of ``length`` bytes (None: up to the end of the connection)."""
        try:
            async with _Timeout.of(read_timeout):
                if length is None:
                    content = await conn.reader.read()
                    reuse = False
                else:
                    content = await conn.reader.readexactly(length) if length else b""
        except TimeoutError:
            conn.close()
            raise httpx.ReadTimeout(what, request=request) from None
        except (OSError, asyncio.IncompleteReadError) as exc:
            conn.close()
            raise httpx.ReadError(f"{what}: {exc!r}", request=request) from exc
        if reuse:
            self.release(key, conn)
        else:
            conn.close()
        return content


def _parse_head(
    conn: _Conn, head: bytes, request: httpx.Request | None
) -> tuple[int, list[tuple[bytes, bytes]], int | None, bool, bool]:
    """(status, headers, Content-Length, chunked, keep-alive) of an answer's head."""
    try:
        parsed = parse_head(head)
    except ValueError as exc:
        conn.close()
        raise httpx.RemoteProtocolError(str(exc), request=request) from None
    return parsed.status, parsed.headers, parsed.length, parsed.chunked, parsed.keep_alive


async def _buffered_chunks(reader: asyncio.StreamReader, parts: list[bytes]) -> None:
    """Append the data of every complete chunk already buffered (a burst of watch lines
    is then one read for the agent: one batch, one reconcile). Never waits for data:
    the bytes taken are in the buffer already."""
    more, taken = dechunk(buffered(reader), MAX_COALESCE)
    if taken:
        await reader.readexactly(taken)
        parts.extend(more)


class _Idle:
    """A stream's read timeout, checked lazily: one timer per ``timeout`` seconds, not
    one per chunk (a thousand watch streams read thousands of chunks a second). When a
    read has waited ``timeout`` seconds the connection is aborted, which ends the read."""

    __slots__ = ("busy", "conn", "fired", "handle", "loop", "started", "timeout")

    def __init__(self, conn: _Conn, timeout: float) -> None:
        self.conn = conn
        self.timeout = timeout
        self.loop = asyncio.get_running_loop()
        self.started = self.loop.time()
        self.busy = False  # a read is waiting
        self.fired = False
        self.handle = self.loop.call_at(self.started + timeout, self._check)

    def reading(self) -> None:
        self.started = self.loop.time()
        self.busy = True

    def _check(self) -> None:
        now = self.loop.time()
        due = self.started + self.timeout
        if self.busy and now >= due:
            self.fired = True
            self.conn.writer.transport.abort()
            return
        self.handle = self.loop.call_at(due if self.busy else now + self.timeout, self._check)

    def cancel(self) -> None:
        self.handle.cancel()


class _Chunked(httpx.AsyncByteStream):
    """A ``Transfer-Encoding: chunked`` body, chunk by chunk (a watch stream)."""

    def __init__(
        self,
        transport: FastTransport,
        key: tuple[str, int],
        conn: _Conn,
        reuse: bool,
        read_timeout: float | None,
        request: httpx.Request | None,
    ) -> None:
        self._transport = transport
        self._key = key
        self._conn: _Conn | None = conn
        self._reuse = reuse
        self._timeout = read_timeout
        self._request = request
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        reader = conn.reader
        idle = None if self._timeout is None else _Idle(conn, self._timeout)
        try:
            while True:
                if idle is not None:
                    idle.reading()
                size_line = await reader.readline()
                if not size_line:
                    raise asyncio.IncompleteReadError(b"", None)
                size = int(size_line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    self._done = True
                    return
                data = await reader.readexactly(size + 2)
                parts = [data[:-2]]
                await _buffered_chunks(reader, parts)
                if idle is not None:
                    idle.busy = False
                yield parts[0] if len(parts) == 1 else b"".join(parts)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            if idle is not None and idle.fired:
                raise httpx.ReadTimeout("watch stream idle", request=self._request) from None
            raise httpx.ReadError(f"stream: {exc!r}", request=self._request) from exc
        finally:
            if idle is not None:
                idle.cancel()

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._done and self._reuse:
            self._transport.release(self._key, conn)
        else:
            conn.close()
