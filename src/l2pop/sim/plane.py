"""The kernel side of a simulated agent: the project's fake dataplane, programmed with
the agent's own reconciler (:func:`l2pop.agent.reconcile.plan`), scoped to what a
batch of watch lines touched.

A watch line changes a few entries of a network; reconciling the whole network
for it costs O(entries of the network) per line, and a thousand agents in one
process pay that once per host of the network. Here a reconcile is scoped to the
*keys* the lines touched: the flood VTEPs they name, the MACs of their unicast
entries and of the host's ports they change, the IPs of their neigh entries.
:func:`plan` decides per key (a MAC's ambiguity counts its VTEPs, an IP's its
MACs, a local port hides its own MACs), so planning the desired and actual
entries of those keys only, with every VTEP of a named MAC and every MAC of a
named IP, gives exactly the ops the whole-network plan would give. The actual
entries are read from the fake kernel itself (its tables, key by key), not from
a cache. A network that appears is planned whole (its first line carries all of
it); a relist reconciles everything, after reading the whole kernel.

Taps are plugged and unplugged the way Nova does it: create the device,
nothing else; the reconciler attaches it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from l2pop.agent.desired import Held, HeldNetwork
from l2pop.agent.reconcile import LocalPort, plan
from l2pop.core import Entries, Host, HostState, Neigh, NetworkState, Unicast
from l2pop.core.wire import HostPort, WatchChange
from l2pop.dataplane.base import (
    EnsureNetwork,
    KernelNetwork,
    Mode,
    Op,
    RemoveNetwork,
    bridge_name,
    tap_name,
    vxlan_name,
)
from l2pop.dataplane.fake import PERMANENT, FakeDataplane
from l2pop.dataplane.naming import FLOOD_MAC

__all__ = ["AgentPlane", "Keys", "Touch", "by_vni"]

MODE = Mode.PROXY  # neigh entries on the VXLAN device; no half (bridge-only) entries


def by_vni(state: HostState) -> dict[int, tuple[int, Entries]]:
    """A host state keyed the way the kernel is: VNI -> (MTU, entries)."""
    return {net.vni: (net.mtu, net.entries) for net in state.networks.values()}


@dataclass(slots=True)
class Keys:
    """The keys of one network whose entries a batch may change."""

    vteps: set[str] = field(default_factory=set)
    macs: set[str] = field(default_factory=set)
    ips: set[str] = field(default_factory=set)
    # the network left the host in the batch (it may be back by its end): every key
    # the kernel holds for it is planned
    whole: bool = False

    def add_entries(self, entries: Entries) -> None:
        self.vteps |= entries.flood
        self.macs.update(u.mac for u in entries.unicast)
        self.ips.update(n.ip for n in entries.neigh)

    @classmethod
    def all_of(cls, net: HeldNetwork) -> Keys:
        return cls(set(net.flood), set(net.vteps_of), set(net.macs_of))


class Touch:
    """What a batch of watch lines touched: network id -> keys, and the networks on
    which this host's ports changed."""

    def __init__(self) -> None:
        self.networks: dict[str, Keys] = {}
        self.port_networks: set[str] = set()

    def keys(self, net_id: str) -> Keys:
        keys = self.networks.get(net_id)
        if keys is None:
            keys = self.networks[net_id] = Keys()
        return keys

    def add(self, change: WatchChange, before: Mapping[str, HostPort | None]) -> None:
        """``change`` (applied to the held state) with ``before``: its ports as held before."""
        for net_id, nd in change.delta.networks.items():
            keys = self.keys(net_id)
            keys.whole |= nd.removed
            keys.add_entries(nd.add)
            keys.add_entries(nd.remove)
        for port in change.ports:
            # a port of this host hides its own MACs from the remotes programmed here
            self.keys(port.network_id).macs |= LocalPort.from_host_port(port).macs
            self.port_networks.add(port.network_id)
            old = before.get(port.id)
            if old is not None:
                self.keys(old.network_id).macs |= LocalPort.from_host_port(old).macs
                self.port_networks.add(old.network_id)


def _restricted(net: HeldNetwork, keys: Keys) -> Entries:
    """The held entries of ``keys``: every VTEP of a MAC, every MAC of an IP."""
    return Entries(
        frozenset(v for v in keys.vteps if v in net.flood),
        frozenset(Unicast(m, v) for m in keys.macs for v in net.vteps_of.get(m, ())),
        frozenset(Neigh(ip, m) for ip in keys.ips for m in net.macs_of.get(ip, ())),
    )


class AgentPlane:
    """One host's fake kernel, reconciled toward the held state."""

    def __init__(self, host: Host) -> None:
        self.dataplane = FakeDataplane(MODE, host.tunnel_ip)
        self.local_ip = self.dataplane.local_ip
        # bridge name -> VNI of the VXLAN device enslaved to it (what the kernel holds)
        self._vni_of: dict[str, int] = {}
        # VNI -> its devices are sound (only an EnsureNetwork / RemoveNetwork changes that)
        self._sound: dict[int, bool] = {}
        self._stale = False  # an apply failed: read the whole kernel again next time
        self._tap_of: dict[str, str] = {}  # port id -> its tap's name
        # network id -> MAC -> this host's ports there with that MAC (built when first
        # needed, dropped when the network's ports change: see Touch.port_networks)
        self._by_mac: dict[str, dict[str, list[LocalPort]]] = {}
        # network id -> ports whose tap appeared and was not yet seen attached
        self._plugged: dict[str, set[str]] = {}

    def full(self, held: Held) -> int:
        """After a list: read the whole kernel, reconcile everything; the ops applied."""
        ops = plan(
            held.state,
            self.dataplane.read(),
            mode=MODE,
            ports=held.local_ports(),
            taps=self.dataplane.taps(),
            local_ip=self.local_ip,
        )
        self._stale = True
        self._by_mac.clear()
        self._plugged.clear()  # every present tap is attached by a whole plan
        self.dataplane.apply(ops)
        self._stale = False
        self._sound.clear()
        self._vni_of = {
            link.master: link.vni
            for link in self.dataplane.kernel.links.values()
            if link.kind == "vxlan" and link.master is not None and link.vni is not None
        }
        return len(ops)

    def change(self, held: Held, touch: Touch) -> int:
        """After ``held.advance`` of a batch of lines: reconcile only the keys they touched."""
        if self._stale:
            return self.full(held)
        for net_id in touch.port_networks:
            self._by_mac.pop(net_id, None)
        ops = 0
        for net_id, keys in touch.networks.items():
            ops += self._reconcile(held, net_id, keys)
        return ops

    def plug(self, held: Held, port: HostPort) -> int:
        """A VM's tap appears for ``port``: attach it (a reconcile of no entry key)."""
        tap = tap_name(port.id)
        if tap not in self.dataplane.kernel.links:
            self.dataplane.kernel.add_tap(tap)
        self._plugged.setdefault(port.network_id, set()).add(port.id)
        if self._stale:
            return self.full(held)
        return self._reconcile(held, port.network_id, Keys())

    def unplug(self, port_id: str) -> None:
        """The VM left (deleted or migrated away): its tap goes."""
        self.dataplane.kernel.delete_link(tap_name(port_id))

    def held_by_vni(self) -> dict[int, tuple[int, Entries]]:
        """What the fake kernel holds, read back through the dataplane."""
        return {vni: (k.mtu, k.entries) for vni, k in self.dataplane.read().items()}

    def entry_count(self) -> int:
        return sum(len(k.entries) for k in self.dataplane.read().values())

    def _reconcile(self, held: Held, net_id: str, keys: Keys) -> int:
        brq = bridge_name(net_id)
        have_vni = self._vni_of.get(brq)
        net = held.networks.get(net_id)
        if net is None:
            if have_vni is None:
                return 0
            desired = HostState({})
        else:
            if have_vni is not None and have_vni != net.vni:
                return self.full(held)  # the network's VNI changed: start over
            if have_vni is None:
                keys = Keys.all_of(net)  # a network new here is planned whole
            elif keys.whole:
                keys = self._kernel_keys(have_vni, Keys.all_of(net))
            want = _restricted(net, keys)
            desired = HostState({net_id: NetworkState(net.vni, net.mtu, want)})
        ports, taps, attached = self._ports(held, net_id, keys, have_vni, net)
        actual = {} if have_vni is None else {have_vni: self._actual(have_vni, keys, attached)}
        ops = plan(desired, actual, mode=MODE, ports=ports, taps=taps, local_ip=self.local_ip)
        if ops:
            self._stale = True
            self.dataplane.apply(ops)
            self._stale = False
            self._track(ops)
        return len(ops)

    def _kernel_keys(self, vni: int, keys: Keys) -> Keys:
        """``keys`` and every key the kernel holds on ``vni``."""
        kernel = self.dataplane.kernel
        remotes = kernel.remotes.get(vxlan_name(vni), {})
        keys.vteps.update(remotes.get(FLOOD_MAC, ()))
        keys.macs.update(mac for mac in remotes if mac != FLOOD_MAC)
        keys.ips.update(kernel.neigh.get(vxlan_name(vni), {}))
        return keys

    def _ports(
        self, held: Held, net_id: str, keys: Keys, vni: int | None, net: HeldNetwork | None
    ) -> tuple[list[LocalPort], frozenset[str], frozenset[str]]:
        """This host's ports on ``net_id`` that the plan of ``keys`` depends on, the taps
        of theirs present, and those attached (on the bridge, up, the device's MTU).

        ``plan`` uses the ports for two things: their MACs hide the same MACs published
        by peers (only MACs among ``keys`` can matter), and their present taps that are
        not attached get attached (all present taps when the network's devices are made
        or re-made). So when the devices stay as they are, the ports that matter are
        those with a MAC among ``keys`` (found by MAC) and those whose tap appeared and
        was not attached yet (:meth:`plug` notes them; a port that moved to this network
        has its MACs among ``keys``): a host with many VMs on a network does not pay for
        all of them on every line. Otherwise every port of the network is planned.
        """
        links = self.dataplane.kernel.links
        vx = None if vni is None else links.get(vxlan_name(vni))
        bridge = links.get(vx.master) if vx is not None and vx.master else None
        # the devices stay: planned against what is there, not re-created or resized
        kept = (
            vx is not None
            and net is not None
            and bridge is not None
            and bridge.name == bridge_name(net_id)
            and vx.proxy is (MODE is Mode.PROXY)
            and vx.local == self.local_ip
            and vx.mtu == net.mtu
        )
        plugged = self._plugged.get(net_id)
        if kept:
            candidates: dict[str, LocalPort] = {}
            by_mac = self._ports_by_mac(held, net_id)
            macs = keys.macs if len(keys.macs) <= len(by_mac) else by_mac.keys() & keys.macs
            for mac in macs:
                for port in by_mac.get(mac, ()):
                    candidates[port.id] = port
            for port_id in plugged or ():
                host_port = held.ports.get(port_id)
                if host_port is not None and host_port.network_id == net_id:
                    candidates[port_id] = LocalPort.from_host_port(host_port)
            ports: Iterable[LocalPort] = candidates.values()
        else:
            ports = held.local_ports_on(net_id)
        mtu = 0 if vx is None else vx.mtu
        chosen: list[LocalPort] = []
        present: list[str] = []
        attached: list[str] = []
        tap_of = self._tap_of
        for port in ports:
            tap = tap_of.get(port.id)
            if tap is None:
                tap = tap_of[port.id] = tap_name(port.id)
            chosen.append(port)
            link = links.get(tap)
            if link is None:
                continue
            present.append(tap)
            if bridge is not None and link.master == bridge.name and link.up and link.mtu == mtu:
                attached.append(tap)
                if plugged is not None:
                    plugged.discard(port.id)  # attached: no longer a candidate
        return chosen, frozenset(present), frozenset(attached)

    def _ports_by_mac(self, held: Held, net_id: str) -> dict[str, list[LocalPort]]:
        by_mac = self._by_mac.get(net_id)
        if by_mac is None:
            by_mac = self._by_mac[net_id] = {}
            for port in held.local_ports_on(net_id):
                for mac in port.macs:
                    by_mac.setdefault(mac, []).append(port)
        return by_mac

    def _actual(self, vni: int, keys: Keys, taps: frozenset[str]) -> KernelNetwork:
        """What the kernel holds for ``keys`` on ``vni`` (``Dataplane.read``, key by key);
        ``taps``: the attached taps (of the ports planned)."""
        kernel = self.dataplane.kernel
        vx = kernel.links[vxlan_name(vni)]
        bridge = kernel.links.get(vx.master) if vx.master else None
        remotes = kernel.remotes.get(vx.name, {})
        flood = remotes.get(FLOOD_MAC, [])
        # one pass over the kernel's list, not one per VTEP (a network joined names all)
        if len(keys.vteps) > 1:
            floods = keys.vteps.intersection(flood)
        else:
            floods = {v for v in keys.vteps if v in flood}
        neigh = kernel.neigh.get(vx.name, {})
        entries = Entries(
            frozenset(floods),
            frozenset(Unicast(m, d) for m in keys.macs for d in remotes.get(m, ())),
            frozenset(
                Neigh(ip, held[0])
                for ip in keys.ips
                if (held := neigh.get(ip)) is not None and held[1] == PERMANENT
            ),
        )
        sound = self._sound.get(vni)
        if sound is None:
            sound = self._sound[vni] = self.dataplane._sound(vx, bridge)
        return KernelNetwork(
            vni=vni,
            bridge=vx.master,
            mtu=vx.mtu,
            local_ip=vx.local,
            proxy=vx.proxy,
            entries=entries,
            taps=taps,
            sound=sound,
        )

    def _track(self, ops: Iterable[Op]) -> None:
        for op in ops:
            if isinstance(op, EnsureNetwork | RemoveNetwork):
                self._sound.pop(op.vni, None)
            if isinstance(op, RemoveNetwork):
                if self._vni_of.get(op.bridge) == op.vni:
                    del self._vni_of[op.bridge]
            elif isinstance(op, EnsureNetwork):
                self._vni_of[bridge_name(op.network_id)] = op.vni
