"""The dataplane side of a simulated agent: the project's fake dataplane and reconciler."""

from __future__ import annotations

from collections.abc import Mapping

from l2pop.core import Host, HostState
from l2pop.core.wire import HostPort

__all__ = ["StatePlane", "make_plane"]


class StatePlane:
    """Placeholder until the fake dataplane lands: holds the state it is given."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self._state = HostState()

    def converge(self, state: HostState, ports: Mapping[str, HostPort]) -> int:
        self._state = state
        return 0

    def held(self) -> HostState:
        return self._state


def make_plane(host: Host) -> StatePlane:
    return StatePlane(host)
