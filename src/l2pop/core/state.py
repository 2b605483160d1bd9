"""Forwarding state of one host, and deltas between two such states.

A host's state is, per network it takes part in, three sets (DESIGN.md §4):
``flood`` (VTEP addresses), ``unicast`` ((mac, vtep) pairs) and ``neigh``
((ip, mac) pairs). A :class:`Delta` is the set difference of two states;
:func:`apply` is its inverse, so ``apply(a, diff(a, b)) == b`` always.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = [
    "EMPTY",
    "Delta",
    "Entries",
    "HostState",
    "Neigh",
    "NetworkDelta",
    "NetworkState",
    "Unicast",
    "apply",
    "diff",
]


class Unicast(NamedTuple):
    """Frames to ``mac`` go to the VTEP at ``vtep``."""

    mac: str
    vtep: str


class Neigh(NamedTuple):
    """The local VTEP answers ARP/NS for ``ip`` with ``mac``."""

    ip: str
    mac: str


@dataclass(frozen=True, slots=True)
class Entries:
    """The three entry sets of one network on one host."""

    flood: frozenset[str] = frozenset()
    unicast: frozenset[Unicast] = frozenset()
    neigh: frozenset[Neigh] = frozenset()

    def __or__(self, other: Entries) -> Entries:
        return Entries(
            self.flood | other.flood, self.unicast | other.unicast, self.neigh | other.neigh
        )

    def __sub__(self, other: Entries) -> Entries:
        return Entries(
            self.flood - other.flood, self.unicast - other.unicast, self.neigh - other.neigh
        )

    def __and__(self, other: Entries) -> Entries:
        return Entries(
            self.flood & other.flood, self.unicast & other.unicast, self.neigh & other.neigh
        )

    def __bool__(self) -> bool:
        return bool(self.flood or self.unicast or self.neigh)

    def __len__(self) -> int:
        return len(self.flood) + len(self.unicast) + len(self.neigh)

    @staticmethod
    def union(parts: Iterable[Entries]) -> Entries:
        flood: set[str] = set()
        unicast: set[Unicast] = set()
        neigh: set[Neigh] = set()
        for part in parts:
            flood |= part.flood
            unicast |= part.unicast
            neigh |= part.neigh
        return Entries(frozenset(flood), frozenset(unicast), frozenset(neigh))


EMPTY = Entries()


@dataclass(frozen=True, slots=True)
class NetworkState:
    """What one host programs for one network."""

    vni: int
    mtu: int
    entries: Entries = EMPTY

    @property
    def flood(self) -> frozenset[str]:
        return self.entries.flood

    @property
    def unicast(self) -> frozenset[Unicast]:
        return self.entries.unicast

    @property
    def neigh(self) -> frozenset[Neigh]:
        return self.entries.neigh


@dataclass(frozen=True, slots=True)
class HostState:
    """A host's whole desired state: network id -> :class:`NetworkState`."""

    networks: Mapping[str, NetworkState] = field(default_factory=dict)

    def entry_count(self) -> int:
        return sum(len(n.entries) for n in self.networks.values())


@dataclass(frozen=True, slots=True)
class NetworkDelta:
    """Change of one network on one host.

    ``removed`` means the network leaves the host (the agent deletes its
    bridge and VXLAN device); ``add``/``remove`` are then empty.
    """

    vni: int
    mtu: int
    add: Entries = EMPTY
    remove: Entries = EMPTY
    removed: bool = False


@dataclass(frozen=True, slots=True)
class Delta:
    """Change of a host's state: network id -> :class:`NetworkDelta`."""

    networks: Mapping[str, NetworkDelta] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.networks)


def diff(before: HostState, after: HostState) -> Delta:
    """The delta that turns ``before`` into ``after``; empty when they are equal."""
    changes: dict[str, NetworkDelta] = {}
    for net_id, old in before.networks.items():
        if net_id not in after.networks:
            changes[net_id] = NetworkDelta(old.vni, old.mtu, removed=True)
    for net_id, new in after.networks.items():
        old_state = before.networks.get(net_id)
        if old_state is None:
            changes[net_id] = NetworkDelta(new.vni, new.mtu, add=new.entries)
            continue
        add = new.entries - old_state.entries
        remove = old_state.entries - new.entries
        if add or remove or (new.vni, new.mtu) != (old_state.vni, old_state.mtu):
            changes[net_id] = NetworkDelta(new.vni, new.mtu, add=add, remove=remove)
    return Delta(changes)


def apply(state: HostState, delta: Delta) -> HostState:
    """The state after ``delta``. A network added by a delta starts empty."""
    networks = dict(state.networks)
    for net_id, change in delta.networks.items():
        if change.removed:
            networks.pop(net_id, None)
            continue
        old = networks.get(net_id)
        entries = EMPTY if old is None else old.entries
        networks[net_id] = NetworkState(
            change.vni, change.mtu, (entries - change.remove) | change.add
        )
    return HostState(networks)
