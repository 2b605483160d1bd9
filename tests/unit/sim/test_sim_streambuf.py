"""asyncio's StreamReader still keeps its received bytes where l2pop.sim.streambuf looks."""

from __future__ import annotations

import asyncio

from l2pop.sim.streambuf import buffered


def test_buffered_shows_what_was_received_and_not_read_yet() -> None:
    async def scenario() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(b"3\r\nabc\r\n")
        assert bytes(buffered(reader)) == b"3\r\nabc\r\n"
        assert await reader.readexactly(3) == b"3\r\n"
        assert bytes(buffered(reader)) == b"abc\r\n"

    asyncio.run(scenario())
