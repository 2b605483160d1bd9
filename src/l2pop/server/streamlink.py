"""The server's side of the stream writer process (:mod:`l2pop.server.streamwriter`).

:class:`StreamLink` starts the process and talks to it over a
``SOCK_SEQPACKET`` pair (:mod:`l2pop.server.streamwire`). A watch stream
whose response headers and history the server has written is handed over
with :meth:`StreamLink.open`; from then on its lines go to a
:class:`ProcessSink`, the :data:`~l2pop.server.watcher.Sink` of its watcher.
Lines queued while the event loop handles one batch of committed changes
leave in one message (``loop.call_soon``): the write loop publishes a batch
before it wakes the writers' requests, so a line is on its way to the writer
process before the write that caused it is acknowledged (read your writes).

If the writer process dies, every stream it held is cut (the agents resume
from their revision) and new streams are written in-process again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import sys
from collections import deque
from typing import Any, Protocol

from l2pop.server import streamwire as wire

__all__ = ["ProcessSink", "StreamLink", "Transport"]

log = logging.getLogger(__name__)
STOP_WAIT_S = 3.0
# Bytes the server may hold for a writer process that does not keep up (it
# is then presumed stuck: its streams are cut and it is not used again).
MAX_BACKLOG = 256 * 1024 * 1024


class Transport(Protocol):
    """What :meth:`StreamLink.open` needs of an asyncio transport."""

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...


class ProcessSink:
    """One stream's lines, handed to the writer process."""

    __slots__ = ("_finished", "_link", "closed", "on_cut", "sid")

    def __init__(self, link: StreamLink, sid: int) -> None:
        self._link = link
        self.sid = sid
        self.closed = False  # cut by the writer, or ended
        self.on_cut: Any = None  # called once when the writer cuts the stream
        self._finished: asyncio.Future[bool] | None = None

    def __call__(self, chunk: bytes) -> bool:
        if self.closed:
            return False
        self._link.queue(self.sid, chunk)
        return True

    async def finish(self) -> bool:
        """End the stream in the writer; True when all it was given went out."""
        if self._finished is None:
            self._finished = asyncio.get_running_loop().create_future()
            self._link.end(self.sid)
        return await self._finished

    def _cut(self) -> None:
        if not self.closed:
            self.closed = True
            if self.on_cut is not None:
                self.on_cut()

    def _done(self, ok: bool) -> None:
        self.closed = True
        if self._finished is not None and not self._finished.done():
            self._finished.set_result(ok)


class StreamLink:
    """The writer process and the streams it holds."""

    def __init__(self, sock: socket.socket, process: subprocess.Popen[bytes]) -> None:
        self._sock = sock
        self._process = process
        self._loop = asyncio.get_running_loop()
        self._sinks: dict[int, ProcessSink] = {}
        self._next_sid = 1
        self._frames: list[bytes] = [wire.DATA]
        self._frames_size = 1
        self._outbox: deque[tuple[bytes, int | None]] = deque()
        self._outbox_size = 0
        self._flush_scheduled = False
        self._writing = False
        self.alive = True
        self._loop.add_reader(sock.fileno(), self._on_readable)

    @classmethod
    def start(cls, limit: int) -> StreamLink:
        """Start the writer process (inside the running event loop)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        for end in (ours, theirs):
            end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, wire.SOCKET_BUFFER)
            end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, wire.SOCKET_BUFFER)
        command = [sys.executable, "-m", "l2pop.server.streamwriter", str(theirs.fileno())]
        process = subprocess.Popen(
            [*command, str(limit)], pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL
        )
        theirs.close()
        ours.setblocking(False)
        log.info("stream writer process %d started", process.pid)
        return cls(ours, process)

    @property
    def pid(self) -> int:
        return self._process.pid

    def streams(self) -> int:
        return len(self._sinks)

    def open(self, transport: Transport) -> ProcessSink | None:
        """Hand the connection of ``transport`` over; None if it cannot be."""
        sock = transport.get_extra_info("socket")
        if not self.alive or sock is None:
            return None
        sid = self._next_sid
        self._next_sid += 1
        sink = ProcessSink(self, sid)
        self._sinks[sid] = sink
        # Data already queued for other streams goes first; the duplicate
        # descriptor is ours until it is sent (the connection may close meanwhile).
        self._seal_frames()
        self._post(wire.encode_sid(wire.ATTACH, sid), os.dup(sock.fileno()))
        return sink

    def queue(self, sid: int, chunk: bytes) -> None:
        frame = wire.data_frame(sid, chunk)
        if self._frames_size + len(frame) > wire.MAX_MESSAGE:
            self._seal_frames()
        self._frames.append(frame)
        self._frames_size += len(frame)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def end(self, sid: int) -> None:
        if not self.alive:
            self._forget(sid, ok=False)
            return
        self._seal_frames()
        self._post(wire.encode_sid(wire.END, sid), None)

    async def close(self) -> None:
        """Stop the process (its streams must have ended) and wait for it."""
        self._fail_all()
        with contextlib.suppress(OSError, ValueError):
            self._loop.remove_reader(self._sock.fileno())
            self._loop.remove_writer(self._sock.fileno())
        self._sock.close()
        try:
            await asyncio.wait_for(asyncio.to_thread(self._process.wait), STOP_WAIT_S)
        except TimeoutError:
            self._process.kill()
            await asyncio.to_thread(self._process.wait)

    # -- sending -------------------------------------------------------------

    def flush(self) -> None:
        """Send what is queued now (the hub calls it after handing out a batch)."""
        if len(self._frames) > 1 or self._outbox:
            self._seal_frames()
            self._send_outbox()

    def _flush(self) -> None:
        self._flush_scheduled = False
        self._seal_frames()
        self._send_outbox()

    def _seal_frames(self) -> None:
        if len(self._frames) > 1:
            self._post(b"".join(self._frames), None, send=False)
            self._frames = [wire.DATA]
            self._frames_size = 1

    def _post(self, message: bytes, fd: int | None, send: bool = True) -> None:
        if not self.alive:
            if fd is not None:
                os.close(fd)
            return
        self._outbox.append((message, fd))
        self._outbox_size += len(message)
        if self._outbox_size > MAX_BACKLOG:
            log.error("stream writer process %d does not keep up: its streams end", self.pid)
            self._fail_all()
            return
        if send:
            self._send_outbox()

    def _send_outbox(self) -> None:
        while self._outbox:
            message, fd = self._outbox[0]
            try:
                if fd is None:
                    self._sock.send(message)
                else:
                    socket.send_fds(self._sock, [message], [fd])
            except BlockingIOError:
                if not self._writing:
                    self._writing = True
                    self._loop.add_writer(self._sock.fileno(), self._on_writable)
                return
            except OSError as exc:
                log.error("stream writer process %d is gone: %s", self.pid, exc)
                self._fail_all()
                return
            self._outbox.popleft()
            self._outbox_size -= len(message)
            if fd is not None:
                os.close(fd)
        if self._writing:
            self._writing = False
            self._loop.remove_writer(self._sock.fileno())

    def _on_writable(self) -> None:
        self._send_outbox()

    # -- receiving -----------------------------------------------------------

    def _on_readable(self) -> None:
        while True:
            try:
                message = self._sock.recv(64)
            except BlockingIOError:
                return
            except OSError:
                message = b""
            if not message:
                if self.alive:
                    log.error("stream writer process %d exited: its streams end", self.pid)
                self._fail_all()
                with contextlib.suppress(OSError, ValueError):
                    self._loop.remove_reader(self._sock.fileno())
                return
            kind = message[:1]
            if kind == wire.FINISHED:
                sid, ok = wire.decode_finished(message)
                self._forget(sid, ok)
            elif kind == wire.CUT:
                sink = self._sinks.get(wire.decode_sid(message))
                if sink is not None:
                    sink._cut()

    def _forget(self, sid: int, ok: bool) -> None:
        sink = self._sinks.pop(sid, None)
        if sink is not None:
            sink._done(ok)

    def _fail_all(self) -> None:
        """The process is gone (or stopping): every stream it held ends, uncleanly."""
        self.alive = False
        for _, fd in self._outbox:
            if fd is not None:
                os.close(fd)
        self._outbox.clear()
        self._outbox_size = 0
        for sid, sink in list(self._sinks.items()):
            sink._cut()
            self._forget(sid, ok=False)
