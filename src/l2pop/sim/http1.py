"""HTTP/1.1 framing for the project's own load clients, in one place.

The simulator's transport (:mod:`l2pop.sim.transport`) and the server
benchmark's watch reader (:mod:`l2pop.bench.server_http`) speak HTTP/1.1
themselves: at thousands of requests and watch chunks a second on the same
two cores as the server, a general client would cost more CPU than the
server it measures. What they share is the wire format, and it lives here:
the request bytes, the answer's head, and chunked bodies. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Head", "dechunk", "parse_head", "request_bytes"]


def request_bytes(method: str, target: str, host: str, headers: bytes, body: bytes) -> bytes:
    """A request with a ``Content-Length`` body; ``headers`` are ready
    ``Name: value\\r\\n`` lines (neither ``Host`` nor ``Content-Length``)."""
    return b"%s %s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: %d\r\n\r\n%s" % (
        method.encode(),
        target.encode(),
        host.encode(),
        headers,
        len(body),
        body,
    )


@dataclass(frozen=True, slots=True)
class Head:
    """An answer's status line and headers, and how its body is framed."""

    status: int
    headers: list[tuple[bytes, bytes]]
    length: int | None  # Content-Length; None: chunked, or up to the connection's end
    chunked: bool
    keep_alive: bool


def parse_head(head: bytes) -> Head:
    """``head`` up to and including the blank line; ValueError when it is not HTTP."""
    status_line, *header_lines = head.rstrip(b"\r\n").split(b"\r\n")
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit() or not parts[0].startswith(b"HTTP/"):
        raise ValueError(f"bad status line {status_line!r}")
    headers: list[tuple[bytes, bytes]] = []
    length: int | None = None
    chunked = False
    keep_alive = True
    for line in header_lines:
        name, _, value = line.partition(b":")
        name, value = name.strip(), value.strip()
        headers.append((name, value))
        lower = name.lower()
        if lower == b"content-length":
            length = int(value)
        elif lower == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif lower == b"connection":
            keep_alive = b"close" not in value.lower()
    return Head(int(parts[1]), headers, None if chunked else length, chunked, keep_alive)


def dechunk(buffer: bytes | bytearray, limit: int | None = None) -> tuple[list[bytes], int]:
    """The data of the complete chunks at the start of ``buffer`` and how many bytes
    they take. It stops before the last chunk (size 0, left for the caller to read
    with its trailers), before a chunk not fully received, and, with ``limit``, once
    that much data is taken. ValueError for a size line that is not hex."""
    parts: list[bytes] = []
    pos = taken = 0
    while limit is None or taken < limit:
        eol = buffer.find(b"\r\n", pos)
        if eol < 0:
            break
        size = int(bytes(buffer[pos:eol]).split(b";", 1)[0].strip(), 16)
        end = eol + 2 + size + 2
        if size == 0 or len(buffer) < end:
            break
        parts.append(bytes(buffer[eol + 2 : end - 2]))
        taken += size
        pos = end
    return parts, pos
