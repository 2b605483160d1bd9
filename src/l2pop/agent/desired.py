"""The desired state the agent holds between a list and the watch lines after it.

A watch line is a set difference of two desired states (DESIGN.md §4), so
it must fit the state it is applied to: it removes only entries that are
held, adds only entries that are not, and brings a network only together
with a port of this host on it. A line that does not fit means the agent
and the server disagree: :meth:`Held.check` says why, and the agent lists
again instead of guessing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from l2pop.agent.reconcile import LocalPort
from l2pop.core.state import EMPTY, Delta, HostState, NetworkDelta, apply
from l2pop.core.wire import HostPort, WatchChange
from l2pop.dataplane.base import tap_name

__all__ = ["Held", "touched_networks"]


@dataclass
class Held:
    """Desired state, this host's ports and the revision they were taken at."""

    revision: int = 0
    state: HostState = field(default_factory=HostState)
    ports: dict[str, HostPort] = field(default_factory=dict)

    @classmethod
    def listed(cls, revision: int, state: HostState, ports: Iterable[HostPort]) -> Held:
        return cls(revision, state, {p.id: p for p in ports if not p.deleted})

    def local_ports(self) -> list[LocalPort]:
        return [LocalPort.from_host_port(p) for p in self.ports.values()]

    def port_of_tap(self, tap: str) -> HostPort | None:
        for port in self.ports.values():
            if tap_name(port.id) == tap:
                return port
        return None

    def check(self, change: WatchChange) -> str | None:
        """Why ``change`` cannot follow this state, or None when it fits."""
        networks_after = self._port_networks_after(change.ports)
        for net_id, nd in change.delta.networks.items():
            reason = self._misfit(net_id, nd, networks_after)
            if reason is not None:
                return f"network {net_id}: {reason}"
        return None

    def _port_networks_after(self, changed: Iterable[HostPort]) -> set[str]:
        ports = dict(self.ports)
        for port in changed:
            if port.deleted:
                ports.pop(port.id, None)
            else:
                ports[port.id] = port
        return {p.network_id for p in ports.values()}

    def _misfit(self, net_id: str, nd: NetworkDelta, port_networks: set[str]) -> str | None:
        held = self.state.networks.get(net_id)
        if nd.removed:
            return None  # removing a network that is not held changes nothing
        if held is None:
            if net_id not in port_networks:
                return "a delta for a network without a port of this host (never listed)"
            held_entries = EMPTY
        else:
            if held.vni != nd.vni:
                return f"VNI changed from {held.vni} to {nd.vni}"
            held_entries = held.entries
        if nd.remove - held_entries:
            return f"removes entries that are not held: {nd.remove - held_entries}"
        if nd.add & held_entries:
            return f"adds entries that are already held: {nd.add & held_entries}"
        return None

    def advance(self, change: WatchChange) -> None:
        """Apply a change that :meth:`check` accepted."""
        self.state = apply(self.state, change.delta)
        for port in change.ports:
            if port.deleted:
                self.ports.pop(port.id, None)
            else:
                self.ports[port.id] = port
        self.revision = change.revision


def touched_networks(
    change: WatchChange, before: Mapping[str, HostPort], delta: Delta | None = None
) -> set[str]:
    """Networks whose kernel objects a change may affect: those in its delta, and
    those of its ports before and after (a port's own MAC is never programmed as
    a remote, and its tap is attached to its network's bridge)."""
    nets = set((delta or change.delta).networks)
    for port in change.ports:
        nets.add(port.network_id)
        old = before.get(port.id)
        if old is not None:
            nets.add(old.network_id)
    return nets
