"""The stream writer process: writes the watch lines to the agents' sockets.

A change reaches every interested host as one socket write per stream, and
on loopback or a fast NIC each write costs the sender several microseconds
of kernel time (the whole TCP send path, often the receive side too). In the
server's one Python thread those writes were a third of its time per change.
This process takes them over, on the other core: the server hands it each
watch connection's descriptor once (``SCM_RIGHTS``) and then, per batch of
committed changes, one message with every stream's lines; it frames them as
HTTP/1.1 chunks and writes them, without a GIL shared with the server.

It owns nothing but bytes in flight: the HTTP response (headers, replayed
history, the final chunk) is the server's, and the server keeps reading the
connection, so a client that goes away is noticed there. A stream whose
client falls ``limit`` chunks behind, or whose socket fails, is cut here and
the server told (``C``). The process ends when the server's end of the
control socket closes (the server stopped, or was killed).

Run as ``python -m l2pop.server.streamwriter FD LIMIT``; standard library only.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import sys
import time

from l2pop.server import streamwire as wire

__all__ = ["Writer", "main"]

END_FLUSH_S = 2.0  # an ended stream's pending bytes get this long to go out
_IOV_MAX = 512


class _Stream:
    __slots__ = ("fd", "pending", "registered", "sid")

    def __init__(self, sid: int, fd: int) -> None:
        self.sid = sid
        self.fd = fd
        self.pending: list[bytes] = []
        self.registered = False  # waiting for EPOLLOUT


class Writer:
    """The process's loop: control messages in, chunks out to the streams."""

    def __init__(self, control: socket.socket, limit: int) -> None:
        self.control = control
        self.limit = limit
        self.epoll = select.epoll()
        self.epoll.register(control.fileno(), select.EPOLLIN)
        self.streams: dict[int, _Stream] = {}
        self.by_fd: dict[int, _Stream] = {}
        self.closed_here: dict[int, bool] = {}  # sid -> ok, closed before its end came
        self.ending: dict[int, float] = {}  # sid -> deadline for its pending bytes

    def run(self) -> None:
        control = self.control.fileno()
        while True:
            timeout = 0.2 if self.ending else -1.0
            for fd, _events in self.epoll.poll(timeout):
                if fd == control:
                    if not self._read_control():
                        return
                elif (stream := self.by_fd.get(fd)) is not None:
                    self._flush(stream)
            if self.ending:
                self._expire_ends()

    # -- control -----------------------------------------------------------

    def _read_control(self) -> bool:
        """Every message waiting; False once the server is gone."""
        while True:
            try:
                message, fds, _flags, _addr = socket.recv_fds(
                    self.control, wire.MAX_MESSAGE, 1, socket.MSG_DONTWAIT
                )
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not message:
                return False
            kind = message[:1]
            if kind == wire.DATA:
                for sid, chunk in wire.decode_data(message):
                    self._queue(sid, chunk)
            elif kind == wire.ATTACH:
                self._attach(wire.decode_sid(message), fds)
            elif kind == wire.END:
                self._end(wire.decode_sid(message))
            else:
                for fd in fds:
                    os.close(fd)

    def _attach(self, sid: int, fds: list[int]) -> None:
        if not fds:
            self._reply(wire.encode_sid(wire.CUT, sid))
            self.closed_here[sid] = False
            return
        # Never block on one client: the descriptor shares its file status
        # with the server's (non-blocking there already; made sure of here).
        os.set_blocking(fds[0], False)
        stream = _Stream(sid, fds[0])
        for extra in fds[1:]:
            os.close(extra)
        self.streams[sid] = stream
        self.by_fd[stream.fd] = stream

    def _end(self, sid: int) -> None:
        stream = self.streams.get(sid)
        if stream is None:
            self._reply(wire.encode_finished(sid, self.closed_here.pop(sid, False)))
        elif stream.pending:
            self.ending[sid] = time.monotonic() + END_FLUSH_S
        else:
            self._finish(stream, ok=True)

    def _reply(self, message: bytes) -> None:
        # The server gone: the next read ends the loop.
        with contextlib.suppress(OSError):
            self.control.send(message)

    # -- streams -----------------------------------------------------------

    def _queue(self, sid: int, chunk: bytes) -> None:
        stream = self.streams.get(sid)
        if stream is None or sid in self.ending:
            return  # cut here already (its end is on the way) or ending: nothing more
        stream.pending.append(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        if len(stream.pending) > self.limit:
            self._cut(stream, ok=True)  # too far behind: the agent resumes from its revision
        elif not stream.registered:
            self._flush(stream)

    def _flush(self, stream: _Stream) -> None:
        while stream.pending:
            batch = stream.pending[:_IOV_MAX]
            try:
                written = os.writev(stream.fd, batch)
            except BlockingIOError:
                break
            except OSError:
                self._cut(stream, ok=False)
                return
            _consume(stream.pending, written)
        if stream.pending and not stream.registered:
            self.epoll.register(stream.fd, select.EPOLLOUT)
            stream.registered = True
        elif not stream.pending:
            if stream.registered:
                self.epoll.unregister(stream.fd)
                stream.registered = False
            if stream.sid in self.ending:
                self._finish(stream, ok=True)

    def _cut(self, stream: _Stream, ok: bool) -> None:
        """Close a stream the server has not ended yet; tell it (``C``)."""
        if stream.sid in self.ending:
            self._finish(stream, ok=False)
            return
        self._close(stream)
        self.closed_here[stream.sid] = ok
        self._reply(wire.encode_sid(wire.CUT, stream.sid))

    def _finish(self, stream: _Stream, ok: bool) -> None:
        """Close a stream the server ended; answer its ``E`` (``F``)."""
        self._close(stream)
        self._reply(wire.encode_finished(stream.sid, ok))

    def _close(self, stream: _Stream) -> None:
        if stream.registered:
            self.epoll.unregister(stream.fd)
        os.close(stream.fd)
        del self.streams[stream.sid]
        del self.by_fd[stream.fd]
        self.ending.pop(stream.sid, None)
        stream.pending = []

    def _expire_ends(self) -> None:
        now = time.monotonic()
        for sid, deadline in list(self.ending.items()):
            stream = self.streams.get(sid)
            if stream is not None and deadline <= now:
                self._finish(stream, ok=False)


def _consume(pending: list[bytes], written: int) -> None:
    """Drop ``written`` bytes from the front of ``pending``."""
    while written and pending:
        head = pending[0]
        if written >= len(head):
            written -= len(head)
            del pending[0]
        else:
            pending[0] = head[written:]
            written = 0


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m l2pop.server.streamwriter FD LIMIT", file=sys.stderr)
        return 2
    # Signals are the server's business: this process ends when the server's
    # end of the control socket closes, after the server's graceful stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    control = socket.socket(fileno=int(argv[1]))
    Writer(control, int(argv[2])).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
