"""Tap devices appearing and leaving, from netlink link events (not polling).

The socket is a NETLINK_ROUTE socket bound to RTMGRP_LINK in the dataplane's
namespace (``linux.py`` opens it there). Index -> name of the ``tap*`` devices
is tracked, so a link change that is not an appearance (flags, MTU, master) is
not reported, and a rename reports the old name gone. When the kernel dropped
events (ENOBUFS on a full socket buffer), the current taps are compared with
the tracked ones instead.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable

from l2pop.dataplane.base import TapEvent
from l2pop.dataplane.nlmsg import parse_link_names

__all__ = ["TapWatch", "is_tap"]


def is_tap(name: str) -> bool:
    return name.startswith("tap")


class TapWatch:
    """Turns link events into :class:`TapEvent` values. One reader at a time."""

    def __init__(self, sock: socket.socket, current: Callable[[], dict[int, str]]) -> None:
        self._sock = sock
        self._current = current  # index -> name of the tap devices present now
        self._known = current()

    def wait(self, timeout: float) -> list[TapEvent]:
        """Events in order, as soon as there is at least one; [] after ``timeout`` s."""
        deadline = time.monotonic() + max(0.0, timeout)
        events: list[TapEvent] = []
        for _ in range(10_000):  # bounded: each pass reads or times out
            left = deadline - time.monotonic()
            if events or left <= 0:
                break
            if not select.select([self._sock], [], [], left)[0]:
                break
            try:
                data = self._sock.recv(1 << 20)
            except OSError:  # ENOBUFS: events were lost, compare with the kernel instead
                events.extend(self._resync())
                continue
            events.extend(self._changes(data))
        return events

    def close(self) -> None:
        self._sock.close()

    def _changes(self, data: bytes) -> list[TapEvent]:
        events: list[TapEvent] = []
        for present, index, name in parse_link_names(data):
            old = self._known.get(index)
            if old is not None and (not present or old != name):
                del self._known[index]
                events.append(TapEvent(old, present=False))
            if present and is_tap(name) and old != name:
                self._known[index] = name
                events.append(TapEvent(name, present=True))
        return events

    def _resync(self) -> list[TapEvent]:
        now = self._current()
        gone = [TapEvent(n, False) for i, n in self._known.items() if now.get(i) != n]
        new = [TapEvent(n, True) for i, n in now.items() if self._known.get(i) != n]
        self._known = now
        return gone + new
