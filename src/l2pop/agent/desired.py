"""The desired state the agent holds between a list and the watch lines after it.

A watch line is a set difference of two desired states (DESIGN.md §4), so
it must fit the state it is applied to: it removes only entries that are
held, adds only entries that are not, and brings a network only together
with a port of this host on it. A line that does not fit means the agent
and the server disagree: :meth:`Held.check` says why, and the agent lists
again instead of guessing.

Checking and applying a line cost what the line carries, not what the network
holds: every network is kept in mutable sets with a per-MAC and per-IP index
(:class:`HeldNetwork`), and the immutable :class:`~l2pop.core.state.HostState`
(:attr:`Held.state`) is rebuilt, per network, only when asked for after a
change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from l2pop.agent.reconcile import LocalPort
from l2pop.core.state import (
    EMPTY,
    Delta,
    Entries,
    HostState,
    Neigh,
    NetworkDelta,
    NetworkState,
    Unicast,
)
from l2pop.core.wire import HostPort, WatchChange
from l2pop.dataplane.base import tap_name

__all__ = ["Held", "HeldNetwork", "touched_networks"]


class HeldNetwork:
    """One held network: its entry sets, and which VTEPs hold a MAC / MACs an IP."""

    __slots__ = ("flood", "macs_of", "mtu", "neigh", "unicast", "vni", "vteps_of")

    def __init__(self, vni: int, mtu: int, entries: Entries = EMPTY) -> None:
        self.vni = vni
        self.mtu = mtu
        self.flood: set[str] = set()
        self.unicast: set[Unicast] = set()
        self.neigh: set[Neigh] = set()
        self.vteps_of: dict[str, set[str]] = {}  # MAC -> VTEPs of its unicast entries
        self.macs_of: dict[str, set[str]] = {}  # IP -> MACs of its neigh entries
        self.add(entries)

    def add(self, entries: Entries) -> None:
        self.flood |= entries.flood
        self.unicast |= entries.unicast
        self.neigh |= entries.neigh
        for mac, vtep in entries.unicast:
            self.vteps_of.setdefault(mac, set()).add(vtep)
        for ip, mac in entries.neigh:
            self.macs_of.setdefault(ip, set()).add(mac)

    def remove(self, entries: Entries) -> None:
        self.flood -= entries.flood
        self.unicast -= entries.unicast
        self.neigh -= entries.neigh
        for mac, vtep in entries.unicast:
            _discard(self.vteps_of, mac, vtep)
        for ip, mac in entries.neigh:
            _discard(self.macs_of, ip, mac)

    def missing(self, entries: Entries) -> Entries:
        """The part of ``entries`` that is not held."""
        return Entries(
            entries.flood - self.flood, entries.unicast - self.unicast, entries.neigh - self.neigh
        )

    def common(self, entries: Entries) -> Entries:
        """The part of ``entries`` that is held."""
        return Entries(
            entries.flood & self.flood, entries.unicast & self.unicast, entries.neigh & self.neigh
        )

    def entries(self) -> Entries:
        return Entries(frozenset(self.flood), frozenset(self.unicast), frozenset(self.neigh))


def _discard(index: dict[str, set[str]], key: str, value: str) -> None:
    values = index.get(key)
    if values is not None:
        values.discard(value)
        if not values:
            del index[key]


class Held:
    """Desired state, this host's ports and the revision they were taken at."""

    def __init__(
        self,
        revision: int = 0,
        state: HostState | None = None,
        ports: dict[str, HostPort] | None = None,
    ) -> None:
        self.revision = revision
        self.ports: dict[str, HostPort] = {} if ports is None else ports
        # network id -> port id -> that port as the reconciler sees it (kept by advance)
        self._local: dict[str, dict[str, LocalPort]] = {}
        for port in self.ports.values():
            self._local.setdefault(port.network_id, {})[port.id] = LocalPort.from_host_port(port)
        self.networks: dict[str, HeldNetwork] = {}
        # network id -> its immutable form, dropped when a line changes the network
        self._frozen: dict[str, NetworkState] = {}
        for net_id, net in ({} if state is None else state.networks).items():
            self.networks[net_id] = HeldNetwork(net.vni, net.mtu, net.entries)
            self._frozen[net_id] = net

    def __repr__(self) -> str:
        return (
            f"Held(revision={self.revision}, networks={len(self.networks)}, "
            f"ports={len(self.ports)})"
        )

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Held):
            return NotImplemented
        return (self.revision, self.state, self.ports) == (other.revision, other.state, other.ports)

    __hash__ = None  # type: ignore[assignment]

    @property
    def state(self) -> HostState:
        """The held desired state (immutable; networks changed since last asked are rebuilt)."""
        return HostState({net_id: self.network_state(net_id) for net_id in self.networks})

    def network_state(self, net_id: str) -> NetworkState:
        frozen = self._frozen.get(net_id)
        if frozen is None:
            net = self.networks[net_id]
            frozen = self._frozen[net_id] = NetworkState(net.vni, net.mtu, net.entries())
        return frozen

    @classmethod
    def listed(cls, revision: int, state: HostState, ports: Iterable[HostPort]) -> Held:
        return cls(revision, state, {p.id: p for p in ports if not p.deleted})

    def local_ports(self) -> list[LocalPort]:
        return [LocalPort.from_host_port(p) for p in self.ports.values()]

    def local_ports_on(self, net_id: str) -> list[LocalPort]:
        """This host's ports on ``net_id``."""
        return list(self._local.get(net_id, {}).values())

    def has_port_on(self, net_id: str) -> bool:
        return net_id in self._local

    def port_of_tap(self, tap: str) -> HostPort | None:
        for port in self.ports.values():
            if tap_name(port.id) == tap:
                return port
        return None

    def check(self, change: WatchChange) -> str | None:
        """Why ``change`` cannot follow this state, or None when it fits."""
        networks_after: set[str] | None = None
        for net_id, nd in change.delta.networks.items():
            if nd.removed or net_id in self.networks:
                reason = self._misfit(net_id, nd)
            else:
                if networks_after is None:
                    networks_after = self._port_networks_after(change.ports)
                reason = self._misfit_new(net_id, nd, networks_after)
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

    def _misfit(self, net_id: str, nd: NetworkDelta) -> str | None:
        if nd.removed:
            return None  # removing a network that is not held changes nothing
        held = self.networks[net_id]
        if held.vni != nd.vni:
            return f"VNI changed from {held.vni} to {nd.vni}"
        missing = held.missing(nd.remove)
        if missing:
            return f"removes entries that are not held: {missing}"
        both = held.common(nd.add)
        if both:
            return f"adds entries that are already held: {both}"
        return None

    @staticmethod
    def _misfit_new(net_id: str, nd: NetworkDelta, port_networks: set[str]) -> str | None:
        if net_id not in port_networks:
            return "a delta for a network without a port of this host (never listed)"
        if nd.remove:
            return f"removes entries that are not held: {nd.remove}"
        return None

    def advance(self, change: WatchChange) -> None:
        """Apply a change that :meth:`check` accepted (as ``core.state.apply`` does)."""
        for net_id, nd in change.delta.networks.items():
            self._frozen.pop(net_id, None)
            if nd.removed:
                self.networks.pop(net_id, None)
                continue
            net = self.networks.get(net_id)
            if net is None:
                self.networks[net_id] = HeldNetwork(nd.vni, nd.mtu, nd.add)
                continue
            net.vni, net.mtu = nd.vni, nd.mtu
            net.remove(nd.remove)
            net.add(nd.add)
        for port in change.ports:
            old = self.ports.get(port.id)
            if old is not None:
                on_old = self._local[old.network_id]
                del on_old[port.id]
                if not on_old:
                    del self._local[old.network_id]
            if port.deleted:
                self.ports.pop(port.id, None)
            else:
                self.ports[port.id] = port
                local = LocalPort.from_host_port(port)
                self._local.setdefault(port.network_id, {})[port.id] = local
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
