"""The messages between the server and its stream writer process (see :mod:`.streamlink`).

One ``AF_UNIX``/``SOCK_SEQPACKET`` pair carries them: each message arrives
whole and in order, so an attach, the data that follows it and the end of
the stream can never overtake each other. The first byte is the kind:

server -> writer
    ``A`` sid, with the client socket's descriptor (``SCM_RIGHTS``): attach;
    ``D`` (sid, length, bytes)...: NDJSON chunks, several streams per message;
    ``E`` sid: end (write what is pending, close, answer ``F``).
writer -> server
    ``F`` sid, ok: the stream is closed here; ok when all it was given went out;
    ``C`` sid: the stream was cut here (client too far behind, or gone).

Only the standard library: the writer process imports nothing else.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

__all__ = [
    "ATTACH",
    "CUT",
    "DATA",
    "END",
    "FINISHED",
    "MAX_MESSAGE",
    "SOCKET_BUFFER",
    "data_frame",
    "decode_data",
    "decode_finished",
    "decode_sid",
    "encode_finished",
    "encode_sid",
]

ATTACH, DATA, END = b"A", b"D", b"E"
FINISHED, CUT = b"F", b"C"
# A data message stays well under the socket buffer (a datagram must fit whole).
MAX_MESSAGE = 256 * 1024
SOCKET_BUFFER = 4 * 1024 * 1024

_SID = struct.Struct("<I")
_FRAME = struct.Struct("<II")
_FINISHED = struct.Struct("<IB")


def encode_sid(kind: bytes, sid: int) -> bytes:
    return kind + _SID.pack(sid)


def decode_sid(message: bytes) -> int:
    sid: int = _SID.unpack_from(message, 1)[0]
    return sid


def data_frame(sid: int, chunk: bytes) -> bytes:
    """One stream's chunk inside a ``D`` message (the message starts with ``DATA``)."""
    return _FRAME.pack(sid, len(chunk)) + chunk


def decode_data(message: bytes) -> Iterator[tuple[int, bytes]]:
    view = memoryview(message)
    offset = 1
    while offset < len(message):
        sid, length = _FRAME.unpack_from(message, offset)
        offset += _FRAME.size
        yield sid, bytes(view[offset : offset + length])
        offset += length


def encode_finished(sid: int, ok: bool) -> bytes:
    return FINISHED + _FINISHED.pack(sid, ok)


def decode_finished(message: bytes) -> tuple[int, bool]:
    sid, ok = _FINISHED.unpack_from(message, 1)
    return int(sid), bool(ok)
