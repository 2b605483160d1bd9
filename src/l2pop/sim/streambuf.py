"""The simulator's one reach into asyncio: the bytes a ``StreamReader`` holds already.

A simulated agent that gets a burst of watch chunks takes every complete
chunk already received in one read (one batch, one reconcile), without
waiting for more. asyncio offers no public way to look at what a
``StreamReader`` buffered, so this reads its ``_buffer``, here and nowhere
else; ``tests/unit/sim/test_sim_streambuf.py`` fails if asyncio changes it.
"""

from __future__ import annotations

import asyncio

__all__ = ["buffered"]


def buffered(reader: asyncio.StreamReader) -> bytearray:
    """What ``reader`` received and nobody read yet (live: do not keep it across awaits)."""
    buffer = reader._buffer  # type: ignore[attr-defined]
    if not isinstance(buffer, bytearray):
        raise TypeError("asyncio.StreamReader no longer keeps a _buffer bytearray")
    return buffer
