"""Link events -> tap events: appearances once, renames as gone + new, others ignored."""

from __future__ import annotations

import socket
import struct

from l2pop.dataplane.base import TapEvent
from l2pop.dataplane.tapwatch import TapWatch

NEWLINK, DELLINK = 16, 17


def link_msg(msg_type: int, index: int, name: str) -> bytes:
    raw = name.encode() + b"\0"
    attr = struct.pack("=HH", 4 + len(raw), 3) + raw
    attr += b"\0" * (-len(attr) % 4)
    body = struct.pack("=BxHiII", 0, 1, index, 0, 0) + attr
    return struct.pack("=IHHII", 16 + len(body), msg_type, 0, 0, 0) + body


def test_link_events_become_tap_events() -> None:
    kernel, ours = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    watch = TapWatch(ours, lambda: {3: "tapold"})
    try:
        kernel.send(link_msg(NEWLINK, 5, "tapnew") + link_msg(NEWLINK, 5, "tapnew"))
        kernel.send(link_msg(NEWLINK, 6, "eth9"))
        assert watch.wait(1.0) == [TapEvent("tapnew", True)]
        kernel.send(link_msg(NEWLINK, 3, "vm-renamed") + link_msg(DELLINK, 5, "tapnew"))
        assert watch.wait(1.0) == [TapEvent("tapold", False), TapEvent("tapnew", False)]
        kernel.send(link_msg(NEWLINK, 6, "eth9"))
        assert watch.wait(0.1) == []
    finally:
        watch.close()
        kernel.close()
