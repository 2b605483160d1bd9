"""The whole model at one revision, and the desired state of a host in it.

A :class:`Snapshot` is immutable. It keeps, per network, a small index that
makes one event cheap to evaluate: which hosts have bound ports there, and
what each host *publishes* to its peers (the entries its ACTIVE ports give
rise to). A host's desired state on a network is then the union of what
every *other* host publishes there (DESIGN.md §4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from l2pop.core.model import Host, Network, Port, is_single_address
from l2pop.core.remote import REMOTE_PUBLISHER, RemoteEndpoint, remote_publication
from l2pop.core.state import EMPTY, Entries, HostState, Neigh, NetworkState, Unicast
from l2pop.errors import NotFoundError

__all__ = ["NetworkSlice", "Snapshot", "desired", "publication"]


def publication(ports: Iterable[Port], vtep: str | None) -> Entries:
    """What a host's ports on one network tell the host's peers.

    Only ACTIVE ports count, and only when the host has a known VTEP. An
    allowed address pair with its own MAC gets a unicast entry for that MAC
    too; a CIDR pair gets no neigh entry (no single address to answer for).
    """
    if vtep is None:
        return EMPTY
    unicast: set[Unicast] = set()
    neigh: set[Neigh] = set()
    for port in ports:
        if not port.published:
            continue
        unicast.add(Unicast(port.mac_address, vtep))
        neigh.update(Neigh(ip, port.mac_address) for ip in port.fixed_ips)
        for pair in port.allowed_address_pairs:
            mac = pair.mac_address or port.mac_address
            unicast.add(Unicast(mac, vtep))
            if is_single_address(pair.ip_address):
                neigh.add(Neigh(pair.ip_address, mac))
    if not unicast:
        return EMPTY
    return Entries(frozenset({vtep}), frozenset(unicast), frozenset(neigh))


@dataclass(frozen=True, slots=True)
class NetworkSlice:
    """One network with its ports and the per-host index derived from them."""

    network: Network
    ports: Mapping[str, Port] = field(default_factory=dict)
    # host -> ids of the ports bound to it, any status: these hosts get state.
    bound: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # host -> entries it publishes; hosts that publish nothing are absent.
    published: Mapping[str, Entries] = field(default_factory=dict)
    # key -> remote endpoint (imported EVPN routes); published as REMOTE_PUBLISHER.
    remote: Mapping[str, RemoteEndpoint] = field(default_factory=dict)

    def view_for(self, host: str) -> Entries:
        """The union of what every host but ``host`` publishes here."""
        return Entries.union(e for h, e in self.published.items() if h != host)

    def state_for(self, host: str) -> NetworkState:
        return NetworkState(self.network.vni, self.network.mtu, self.view_for(host))

    def republish(self, host: str, vtep: str | None) -> NetworkSlice:
        """This slice with ``host``'s publication recomputed from its ports."""
        ports = (self.ports[pid] for pid in self.bound.get(host, ()))
        entries = publication(ports, vtep)
        published = dict(self.published)
        if entries:
            published[host] = entries
        else:
            published.pop(host, None)
        return NetworkSlice(self.network, self.ports, self.bound, published, self.remote)

    def own_macs(self) -> frozenset[str]:
        """MACs of l2pop's own ports here (any status) and the MACs its hosts publish
        (address pairs): they win over remote endpoints with the same MAC."""
        macs: set[str] = {p.mac_address for p in self.ports.values()}
        for host, entries in self.published.items():
            if host != REMOTE_PUBLISHER:
                macs.update(u.mac for u in entries.unicast)
        return frozenset(macs)

    def republish_remote(self, remote: Mapping[str, RemoteEndpoint] | None = None) -> NetworkSlice:
        """This slice with ``remote`` (default: its own) and their publication recomputed."""
        remote = self.remote if remote is None else remote
        published = dict(self.published)
        entries = remote_publication(remote.values(), self.own_macs()) if remote else EMPTY
        if entries:
            published[REMOTE_PUBLISHER] = entries
        else:
            published.pop(REMOTE_PUBLISHER, None)
        return NetworkSlice(self.network, self.ports, self.bound, published, remote)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Networks (with their ports) and registered hosts at one revision."""

    networks: Mapping[str, NetworkSlice] = field(default_factory=dict)
    hosts: Mapping[str, Host] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        networks: Iterable[Network],
        hosts: Iterable[Host],
        ports: Iterable[Port],
        remotes: Iterable[RemoteEndpoint] = (),
    ) -> Snapshot:
        """Index a snapshot from plain records (a store load, or a test). Remote
        endpoints of a network that does not exist (any more) are left out."""
        networks = list(networks)  # read twice below; a generator would be spent
        host_map = {h.name: h for h in hosts}
        by_net: dict[str, dict[str, Port]] = {n.id: {} for n in networks}
        nets = {n.id: n for n in networks}
        for port in ports:
            if port.network_id not in by_net:
                raise NotFoundError(f"port {port.id}: network {port.network_id} not found")
            by_net[port.network_id][port.id] = port
        slices: dict[str, NetworkSlice] = {}
        for net_id, net_ports in by_net.items():
            bound: dict[str, set[str]] = {}
            for port in net_ports.values():
                if port.bound:
                    bound.setdefault(port.host, set()).add(port.id)
            frozen = {h: frozenset(ids) for h, ids in bound.items()}
            published = {}
            for host, ids in frozen.items():
                vtep = host_map[host].tunnel_ip if host in host_map else None
                entries = publication((net_ports[i] for i in ids), vtep)
                if entries:
                    published[host] = entries
            slices[net_id] = NetworkSlice(nets[net_id], net_ports, frozen, published)
        by_net_remote: dict[str, dict[str, RemoteEndpoint]] = {}
        for ep in remotes:
            if ep.network_id in slices:
                by_net_remote.setdefault(ep.network_id, {})[ep.key] = ep
        for net_id, remote in by_net_remote.items():
            slices[net_id] = slices[net_id].republish_remote(remote)
        return cls(slices, host_map)

    def vtep(self, host: str) -> str | None:
        registered = self.hosts.get(host)
        return None if registered is None else registered.tunnel_ip

    def port(self, network_id: str, port_id: str) -> Port | None:
        net = self.networks.get(network_id)
        return None if net is None else net.ports.get(port_id)

    def all_ports(self) -> Iterable[Port]:
        for net in self.networks.values():
            yield from net.ports.values()


def desired(snapshot: Snapshot, host: str) -> HostState:
    """The forwarding state ``host`` should hold (DESIGN.md §4)."""
    return HostState(
        {
            net_id: net.state_for(host)
            for net_id, net in snapshot.networks.items()
            if host in net.bound
        }
    )
