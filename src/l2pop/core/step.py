"""Events and their per-host deltas: ``step(snapshot, event)``.

``step`` returns the next snapshot and, for each host whose desired state
changes, the :class:`Delta` that takes it there. It never recomputes a whole
host: it re-derives what the hosts touched by the event publish, and for each
entry whose set of publishers changed decides, per interested host, whether
the entry entered or left that host's view. Hosts with no bound port on the
network are never visited, so they never get a delta.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from l2pop.core.compose import compose
from l2pop.core.model import Host, Network, Port
from l2pop.core.remote import REMOTE_PUBLISHER, RemoteEndpoint
from l2pop.core.snapshot import NetworkSlice, Snapshot
from l2pop.core.state import (
    EMPTY,
    Delta,
    Entries,
    Neigh,
    NetworkDelta,
    Unicast,
)
from l2pop.errors import NotFoundError

__all__ = [
    "Event",
    "HostDeleted",
    "HostUpserted",
    "NetworkDeleted",
    "NetworkUpserted",
    "PortDeleted",
    "PortUpserted",
    "RemoteDeleted",
    "RemoteUpserted",
    "step",
    "step_all",
]


@dataclass(frozen=True, slots=True)
class NetworkUpserted:
    network: Network


@dataclass(frozen=True, slots=True)
class NetworkDeleted:
    network_id: str


@dataclass(frozen=True, slots=True)
class HostUpserted:
    """A host registered, or its tunnel IP changed."""

    host: Host


@dataclass(frozen=True, slots=True)
class HostDeleted:
    name: str


@dataclass(frozen=True, slots=True)
class PortUpserted:
    """A port created or changed (binding, status, addresses, admin state)."""

    port: Port


@dataclass(frozen=True, slots=True)
class PortDeleted:
    network_id: str
    port_id: str


@dataclass(frozen=True, slots=True)
class RemoteUpserted:
    """A gateway imported an EVPN route (or another gateway imported the same one)."""

    endpoint: RemoteEndpoint


@dataclass(frozen=True, slots=True)
class RemoteDeleted:
    network_id: str
    key: str


Event = (
    NetworkUpserted
    | NetworkDeleted
    | HostUpserted
    | HostDeleted
    | PortUpserted
    | PortDeleted
    | RemoteUpserted
    | RemoteDeleted
)
Deltas = dict[str, Delta]

K = TypeVar("K")
V = TypeVar("V")


def _with(mapping: Mapping[K, V], key: K, value: V | None) -> dict[K, V]:
    """A copy of ``mapping`` with ``key`` set to ``value``, or removed when None."""
    out = dict(mapping)
    if value is None:
        out.pop(key, None)
    else:
        out[key] = value
    return out


def step(snapshot: Snapshot, event: Event) -> tuple[Snapshot, Deltas]:
    """Apply ``event``; return the new snapshot and the per-host deltas."""
    match event:
        case PortUpserted(port):
            return _port_changed(snapshot, port.network_id, port.id, port)
        case PortDeleted(network_id, port_id):
            return _port_changed(snapshot, network_id, port_id, None)
        case HostUpserted(host):
            return _host_changed(snapshot, host.name, host)
        case HostDeleted(name):
            return _host_changed(snapshot, name, None)
        case NetworkUpserted(network):
            return _network_upserted(snapshot, network)
        case NetworkDeleted(network_id):
            return _network_deleted(snapshot, network_id)
        case RemoteUpserted(endpoint):
            return _remote_changed(snapshot, endpoint.network_id, endpoint.key, endpoint)
        case RemoteDeleted(network_id, key):
            return _remote_changed(snapshot, network_id, key, None)
    raise TypeError(f"not an event: {event!r}")  # pragma: no cover


def step_all(snapshot: Snapshot, events: Iterable[Event]) -> tuple[Snapshot, Deltas]:
    """Apply several events as one revision (e.g. a host deleted and its ports
    going DOWN). A host touched by one event gets that event's delta; a host
    touched by several gets the net change, composed from their deltas
    (:func:`l2pop.core.compose.compose`).
    """
    touched: dict[str, list[Delta]] = {}
    current = snapshot
    for event in events:
        current, deltas = step(current, event)
        for host, delta in deltas.items():
            touched.setdefault(host, []).append(delta)
    out: Deltas = {}
    for host, deltas_of_host in touched.items():
        if len(deltas_of_host) == 1:
            out[host] = deltas_of_host[0]
            continue
        net = compose(snapshot, current, host, deltas_of_host)
        if net:
            out[host] = net
    return current, out


def _port_changed(
    snapshot: Snapshot, network_id: str, port_id: str, port: Port | None
) -> tuple[Snapshot, Deltas]:
    old_slice = snapshot.networks.get(network_id)
    if old_slice is None:
        raise NotFoundError(f"network {network_id} not found")
    old_port = old_slice.ports.get(port_id)
    if old_port == port:
        return snapshot, {}
    bound = dict(old_slice.bound)
    if old_port is not None and old_port.bound:
        bound[old_port.host] = bound[old_port.host] - {port_id}
        if not bound[old_port.host]:
            del bound[old_port.host]
    if port is not None and port.bound:
        bound[port.host] = bound.get(port.host, frozenset()) | {port_id}
    new_slice = NetworkSlice(
        old_slice.network,
        _with(old_slice.ports, port_id, port),
        bound,
        old_slice.published,
        old_slice.remote,
    )
    sources = {p.host for p in (old_port, port) if p is not None and p.bound}
    for source in sources:
        new_slice = new_slice.republish(source, snapshot.vtep(source))
    new_slice = _rejudge_remote(new_slice, sources)
    new = Snapshot(_with(snapshot.networks, network_id, new_slice), snapshot.hosts)
    return new, _collect({network_id: network_deltas(old_slice, new_slice, sources)})


def _host_changed(snapshot: Snapshot, name: str, host: Host | None) -> tuple[Snapshot, Deltas]:
    if snapshot.hosts.get(name) == host:
        return snapshot, {}
    vtep = None if host is None else host.tunnel_ip
    networks = dict(snapshot.networks)
    per_network: dict[str, dict[str, NetworkDelta]] = {}
    for net_id, old_slice in snapshot.networks.items():
        if name not in old_slice.bound:
            continue
        sources = {name}
        new_slice = _rejudge_remote(old_slice.republish(name, vtep), sources)
        networks[net_id] = new_slice
        per_network[net_id] = network_deltas(old_slice, new_slice, sources)
    return Snapshot(networks, _with(snapshot.hosts, name, host)), _collect(per_network)


def _network_upserted(snapshot: Snapshot, network: Network) -> tuple[Snapshot, Deltas]:
    old_slice = snapshot.networks.get(network.id)
    if old_slice is None:
        new_slice = NetworkSlice(network)
        return Snapshot(_with(snapshot.networks, network.id, new_slice), snapshot.hosts), {}
    new_slice = NetworkSlice(
        network, old_slice.ports, old_slice.bound, old_slice.published, old_slice.remote
    )
    new = Snapshot(_with(snapshot.networks, network.id, new_slice), snapshot.hosts)
    return new, _collect({network.id: network_deltas(old_slice, new_slice, set())})


def _network_deleted(snapshot: Snapshot, network_id: str) -> tuple[Snapshot, Deltas]:
    old_slice = snapshot.networks.get(network_id)
    if old_slice is None:
        return snapshot, {}
    net = old_slice.network
    removed = {h: NetworkDelta(net.vni, net.mtu, removed=True) for h in old_slice.bound}
    new = Snapshot(_with(snapshot.networks, network_id, None), snapshot.hosts)
    return new, _collect({network_id: removed})


def _rejudge_remote(new_slice: NetworkSlice, sources: set[str]) -> NetworkSlice:
    """Recompute the remote publication when the own MACs may have changed (an own
    port wins over a remote endpoint with its MAC); add its publisher to ``sources``."""
    if not new_slice.remote:
        return new_slice
    judged = new_slice.republish_remote()
    if judged.published.get(REMOTE_PUBLISHER) != new_slice.published.get(REMOTE_PUBLISHER):
        sources.add(REMOTE_PUBLISHER)
    return judged


def _remote_changed(
    snapshot: Snapshot, network_id: str, key: str, endpoint: RemoteEndpoint | None
) -> tuple[Snapshot, Deltas]:
    old_slice = snapshot.networks.get(network_id)
    # A route for a network deleted meanwhile: the gateway removes it; nothing to program.
    if old_slice is None or old_slice.remote.get(key) == endpoint:
        return snapshot, {}
    new_slice = old_slice.republish_remote(_with(old_slice.remote, key, endpoint))
    new = Snapshot(_with(snapshot.networks, network_id, new_slice), snapshot.hosts)
    deltas = network_deltas(old_slice, new_slice, {REMOTE_PUBLISHER})
    return new, _collect({network_id: deltas})


T = TypeVar("T")
# An entry whose set of publishers changed: (entry, publishers before, after).
Change = tuple[T, frozenset[str], frozenset[str]]


@dataclass(frozen=True, slots=True)
class _Changes:
    flood: list[Change[str]]
    unicast: list[Change[Unicast]]
    neigh: list[Change[Neigh]]

    def hosts(self) -> set[str]:
        """Hosts that publish one of the changed entries, before or after."""
        out: set[str] = set()
        for changes in (self.flood, self.unicast, self.neigh):
            for _, before, after in changes:
                out |= before | after
        return out

    def delta_for(self, host: str | None) -> tuple[Entries, Entries]:
        """(add, remove) for ``host``; None stands for a host publishing none of them."""
        fa, fr = _split(host, self.flood)
        ua, ur = _split(host, self.unicast)
        na, nr = _split(host, self.neigh)
        return Entries(fa, ua, na), Entries(fr, ur, nr)


def _publishers(
    net: NetworkSlice, entry: T, pick: Callable[[Entries], frozenset[T]]
) -> frozenset[str]:
    return frozenset(h for h, e in net.published.items() if entry in pick(e))


def _changes_of(
    old: NetworkSlice,
    new: NetworkSlice,
    pick: Callable[[Entries], frozenset[T]],
    sources: Iterable[str],
) -> list[Change[T]]:
    entries: set[T] = set()
    for source in sources:
        entries |= pick(old.published.get(source, EMPTY)) ^ pick(new.published.get(source, EMPTY))
    return [(e, _publishers(old, e, pick), _publishers(new, e, pick)) for e in entries]


def _split(host: str | None, changes: list[Change[T]]) -> tuple[frozenset[T], frozenset[T]]:
    """An entry is in a host's view when someone other than the host publishes it."""
    add: set[T] = set()
    remove: set[T] = set()
    for entry, before, after in changes:
        was = bool(before - {host}) if host is not None else bool(before)
        now = bool(after - {host}) if host is not None else bool(after)
        if now and not was:
            add.add(entry)
        elif was and not now:
            remove.add(entry)
    return frozenset(add), frozenset(remove)


def network_deltas(
    old: NetworkSlice, new: NetworkSlice, sources: Iterable[str]
) -> dict[str, NetworkDelta]:
    """Per-host deltas on one network when only ``sources`` changed what they publish."""
    vni, mtu = new.network.vni, new.network.mtu
    out: dict[str, NetworkDelta] = {}
    for host in old.bound.keys() - new.bound.keys():
        out[host] = NetworkDelta(old.network.vni, old.network.mtu, removed=True)
    for host in new.bound.keys() - old.bound.keys():
        out[host] = NetworkDelta(vni, mtu, add=new.view_for(host))
    staying = old.bound.keys() & new.bound.keys()
    if not staying:
        return out
    sources = list(sources)
    changes = _Changes(
        _changes_of(old, new, _flood, sources),
        _changes_of(old, new, _unicast, sources),
        _changes_of(old, new, _neigh, sources),
    )
    meta_changed = (vni, mtu) != (old.network.vni, old.network.mtu)
    add, remove = changes.delta_for(None)
    # Hosts that publish none of the changed entries all get the same delta:
    # one immutable value, shared (the server encodes it once for all of them).
    shared = NetworkDelta(vni, mtu, add=add, remove=remove)
    publishers = changes.hosts()
    for host in staying:
        if host in publishers:
            add, remove = changes.delta_for(host)
            if add or remove or meta_changed:
                out[host] = NetworkDelta(vni, mtu, add=add, remove=remove)
        elif shared.add or shared.remove or meta_changed:
            out[host] = shared
    return out


def _flood(e: Entries) -> frozenset[str]:
    return e.flood


def _unicast(e: Entries) -> frozenset[Unicast]:
    return e.unicast


def _neigh(e: Entries) -> frozenset[Neigh]:
    return e.neigh


def _collect(per_network: Mapping[str, Mapping[str, NetworkDelta]]) -> Deltas:
    """Regroup network -> host -> delta into host -> Delta."""
    per_host: dict[str, dict[str, NetworkDelta]] = {}
    for net_id, by_host in per_network.items():
        for host, change in by_host.items():
            per_host.setdefault(host, {})[net_id] = change
    # Hosts with the very same network changes share one (immutable) Delta.
    shared: dict[tuple[tuple[str, int], ...], Delta] = {}
    out: Deltas = {}
    for host, changes in per_host.items():
        key = tuple((net_id, id(change)) for net_id, change in changes.items())
        delta = shared.get(key)
        if delta is None:
            delta = shared[key] = Delta(changes)
        out[host] = delta
    return out
