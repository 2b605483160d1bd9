"""HTTP/1.1 framing of the load clients: request bytes, heads, chunked bodies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from l2pop.sim.http1 import dechunk, parse_head, request_bytes


def _chunked(parts: list[bytes]) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts)


@given(st.lists(st.binary(min_size=1, max_size=300), max_size=20), st.integers(0, 8000))
def test_dechunk_takes_exactly_the_complete_chunks_of_any_prefix(
    parts: list[bytes], cut: int
) -> None:
    wire = _chunked(parts) + b"0\r\n\r\n"
    prefix = wire[: min(cut, len(wire))]
    got, taken = dechunk(prefix)
    # What it took is a whole number of chunks, the first ones, nothing more.
    assert got == parts[: len(got)]
    assert taken == len(_chunked(got))
    # And it took every chunk complete in the prefix.
    assert len(_chunked(parts[: len(got) + 1])) > len(prefix) or len(got) == len(parts)
    # A bytearray (the simulator's stream buffer) reads the same.
    assert dechunk(bytearray(prefix)) == (got, taken)


def test_dechunk_stops_at_the_last_chunk_and_at_the_limit() -> None:
    wire = _chunked([b"a" * 10, b"b" * 10, b"c" * 10]) + b"0\r\n\r\n"
    assert dechunk(wire) == ([b"a" * 10, b"b" * 10, b"c" * 10], len(wire) - 5)
    parts, taken = dechunk(wire, limit=15)
    assert parts == [b"a" * 10, b"b" * 10]  # the limit is checked before each chunk
    assert taken == 2 * len(b"a\r\n" + b"a" * 10 + b"\r\n")
    assert dechunk(b"5;ext=1\r\nhello\r\n") == ([b"hello"], 16)
    with pytest.raises(ValueError, match="invalid literal"):
        dechunk(b"zz\r\nhello\r\n")


def test_heads() -> None:
    head = parse_head(
        b"HTTP/1.1 201 Created\r\ncontent-length: 12\r\nConnection: keep-alive\r\n\r\n"
    )
    assert (head.status, head.length, head.chunked, head.keep_alive) == (201, 12, False, True)
    assert head.headers[0] == (b"content-length", b"12")
    stream = parse_head(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nconnection: close\r\n\r\n"
    )
    assert (stream.length, stream.chunked, stream.keep_alive) == (None, True, False)
    assert parse_head(b"HTTP/1.1 204 No Content\r\n\r\n").length is None
    for bad in (b"garbage\r\n\r\n", b"HTTP/1.1 abc\r\n\r\n", b"SSH-2.0 200 x\r\n\r\n"):
        with pytest.raises(ValueError, match="bad status line"):
            parse_head(bad)


def test_request_bytes() -> None:
    wire = request_bytes("POST", "/v2.0/ports", "127.0.0.1:9696", b"X-Auth-Token: t\r\n", b"{}")
    assert wire == (
        b"POST /v2.0/ports HTTP/1.1\r\nHost: 127.0.0.1:9696\r\nX-Auth-Token: t\r\n"
        b"Content-Length: 2\r\n\r\n{}"
    )
