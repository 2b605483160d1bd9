"""A watch stream read straight off a TCP socket, for clients that misbehave on purpose.

httpx reads whatever arrives; a slow or stuck agent does not. This client
sets its receive buffer before connecting, reads only when told to, and
decodes the chunked NDJSON body itself, so a test can stop reading in the
middle of a burst and see exactly what the server does about it.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

__all__ = ["RawWatch"]


class RawWatch:
    """``GET /v1/hosts/{host}/watch?revision=R`` on a socket of ``rcvbuf`` bytes."""

    def __init__(
        self, port: int, host: str, token: str, revision: int, rcvbuf: int | None = None
    ) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Before connect: the window the client announces is fixed from the start.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        request = (
            f"GET /v1/hosts/{host}/watch?revision={revision} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nX-Auth-Token: {token}\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        self._raw = b""
        self._body = b""
        self._in_body = False
        self.status: int | None = None
        self.ended = ""  # "", "eof" (closed), "reset", or "last-chunk" (a clean end)
        self.lines: list[dict[str, Any]] = []

    @property
    def revision(self) -> int:
        """The revision of the last line read (change or bookmark), 0 before any."""
        return int(self.lines[-1]["revision"]) if self.lines else 0

    def read_until(self, revision: int, timeout: float) -> bool:
        """Read until a line at ``revision`` or later, the stream's end, or ``timeout``.

        True when the revision was reached; :attr:`ended` says how it ended otherwise.
        """
        deadline = time.monotonic() + timeout
        while self.revision < revision and not self.ended:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(min(left, 1.0))
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except ConnectionResetError:
                self.ended = "reset"
                break
            if not data:
                self.ended = "eof"
                break
            self._feed(data)
        return self.revision >= revision

    def _feed(self, data: bytes) -> None:
        self._raw += data
        if not self._in_body:
            head, sep, rest = self._raw.partition(b"\r\n\r\n")
            if not sep:
                return
            self.status = int(head.split(b" ", 2)[1])
            self._in_body, self._raw = True, rest
        while True:  # chunks: SIZE\r\nDATA\r\n
            size_line, sep, rest = self._raw.partition(b"\r\n")
            if not sep:
                return
            size = int(size_line, 16)
            if size == 0:
                self.ended = "last-chunk"
                return
            if len(rest) < size + 2:
                return
            self._body += rest[:size]
            self._raw = rest[size + 2 :]
            *complete, self._body = self._body.split(b"\n")
            self.lines += [json.loads(line) for line in complete if line]

    def close(self) -> None:
        self.sock.close()
