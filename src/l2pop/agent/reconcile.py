"""Reconcile: the minimal operations that turn what the kernel holds into the desired state.

Pure: no I/O. The agent reads the kernel (``Dataplane.read``), gets the desired
state from the server, and calls :func:`plan`; the dataplane applies the ops.

Rules (DESIGN.md §5):

* an entry that is already right is never deleted and re-added (an agent
  restart does not blink traffic); a changed unicast/neigh target is rewritten
  in place (``replace``), not deleted first;
* ambiguous desired entries are programmed for none of their candidates, so
  traffic falls back to flooding: one IP wanted with two MACs (VRRP pairs), one
  MAC wanted behind two VTEPs (a migration in flight);
* unicast entries for the MACs of this host's own ports are never programmed
  (a VRRP virtual MAC held locally and also published by a peer);
* a network that left the host loses its devices; only our devices are read,
  so only ours are removed;
* a tap of a port bound here that is present but not on its bridge is attached.

Op order (deterministic): removals of whole networks, then per network (sorted
by id): ensure, deletions, additions, tap attachments.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from l2pop.core.state import Entries, HostState, NetworkState, Unicast
from l2pop.core.wire import HostPort
from l2pop.dataplane.base import (
    AddFlood,
    AddNeigh,
    AddUnicast,
    AttachTap,
    DelFlood,
    DelNeigh,
    DelUnicast,
    EnsureNetwork,
    KernelNetwork,
    Mode,
    Op,
    RemoveNetwork,
    bridge_name,
    tap_name,
)

__all__ = ["LocalPort", "effective", "plan", "programmable"]


@dataclass(frozen=True, slots=True)
class LocalPort:
    """A port bound to this host, as far as reconciling cares."""

    id: str
    network_id: str
    # Its own MAC and the MACs of its allowed address pairs.
    macs: frozenset[str]

    @classmethod
    def from_host_port(cls, port: HostPort) -> LocalPort:
        return cls(port.id, port.network_id, frozenset({port.mac_address}) | port.pair_macs)


def programmable(state: NetworkState, local_macs: frozenset[str] = frozenset()) -> Entries:
    """The entries of ``state`` the kernel should hold: unambiguous, none for our own MACs."""
    # The sets hold distinct pairs, so a MAC seen twice has two VTEPs, an IP seen twice
    # two MACs. Most states have neither: one set comprehension each tells.
    macs = {u.mac for u in state.unicast}
    ambiguous = local_macs & macs
    if len(macs) != len(state.unicast):
        ambiguous |= _repeated(u.mac for u in state.unicast)
    unicast = (
        frozenset(u for u in state.unicast if u.mac not in ambiguous)
        if ambiguous
        else state.unicast
    )
    if len({n.ip for n in state.neigh}) == len(state.neigh):
        neigh = state.neigh
    else:
        shared = _repeated(n.ip for n in state.neigh)
        neigh = frozenset(n for n in state.neigh if n.ip not in shared)
    return Entries(state.flood, unicast, neigh)


def _repeated(keys: Iterable[str]) -> frozenset[str]:
    counts = Counter(keys)
    return frozenset(key for key, n in counts.items() if n > 1)


def effective(desired: HostState, ports: Iterable[LocalPort] = ()) -> HostState:
    """``desired`` reduced to what :func:`plan` programs (see :func:`programmable`)."""
    macs = _local_macs(ports)
    return HostState(
        {
            net_id: NetworkState(net.vni, net.mtu, programmable(net, macs.get(net_id, frozenset())))
            for net_id, net in desired.networks.items()
        }
    )


def plan(
    desired: HostState,
    actual: Mapping[int, KernelNetwork],
    *,
    mode: Mode,
    ports: Iterable[LocalPort] = (),
    taps: frozenset[str] = frozenset(),
    local_ip: str | None = None,
) -> list[Op]:
    """Ops that make ``actual`` (from ``Dataplane.read``) hold ``desired``.

    ``ports`` are the ports bound to this host, ``taps`` the tap devices present
    in its namespace, ``local_ip`` this host's tunnel IP (a VXLAN device with
    another ``local`` is re-created; None skips that check).
    """
    port_list = list(ports)
    macs = _local_macs(port_list)
    wanted_vnis = {net.vni: net_id for net_id, net in desired.networks.items()}
    ops: list[Op] = []
    for vni in sorted(actual):
        held = actual[vni]
        net_id = wanted_vnis.get(vni)
        if net_id is None or _must_recreate(held, net_id, mode, local_ip):
            ops.append(RemoveNetwork(vni, held.bridge or ""))
    removed = {op.vni for op in ops if isinstance(op, RemoveNetwork)}
    for net_id in sorted(desired.networks):
        net = desired.networks[net_id]
        kernel = None if net.vni in removed else actual.get(net.vni)
        entries = programmable(net, macs.get(net_id, frozenset()))
        ops.extend(_plan_network(net_id, net, entries, kernel, mode))
        ops.extend(_attachments(net_id, net, kernel, port_list, taps))
    return ops


def _local_macs(ports: Iterable[LocalPort]) -> dict[str, frozenset[str]]:
    macs: dict[str, set[str]] = defaultdict(set)
    for port in ports:
        macs[port.network_id] |= port.macs
    return {net_id: frozenset(found) for net_id, found in macs.items()}


def _must_recreate(kernel: KernelNetwork, net_id: str, mode: Mode, local_ip: str | None) -> bool:
    """The VNI now belongs to another network, the proxy flag (fixed at creation) is
    wrong for the mode, or the device's ``local`` address is not ours."""
    if kernel.bridge is not None and kernel.bridge != bridge_name(net_id):
        return True
    if kernel.proxy != (mode is Mode.PROXY):
        return True
    return local_ip is not None and kernel.local_ip != local_ip


def _plan_network(
    net_id: str, net: NetworkState, want: Entries, kernel: KernelNetwork | None, mode: Mode
) -> list[Op]:
    vni = net.vni
    if kernel is None:
        return [EnsureNetwork(net_id, vni, net.mtu), *_additions(vni, want, Entries())]
    ops: list[Op] = []
    have = kernel.entries
    repair = not kernel.sound or kernel.mtu != net.mtu or kernel.bridge is None
    if repair:
        ops.append(EnsureNetwork(net_id, vni, net.mtu))
    ops.extend(_deletions(vni, want, have, kernel.partial))
    if repair and mode is Mode.SUPPRESS:
        # Repairing the bridge may flush its neighbour table: write them all again.
        have = Entries(have.flood, have.unicast, frozenset())
    ops.extend(_additions(vni, want, have, kernel.partial))
    return ops


def _deletions(
    vni: int, want: Entries, have: Entries, partial: frozenset[Unicast] = frozenset()
) -> list[Op]:
    # Only differences are sorted and walked: a resync of a correct kernel is cheap.
    ops: list[Op] = [DelFlood(vni, vtep) for vtep in sorted(have.flood - want.flood)]
    stale = have.unicast - want.unicast
    wanted_vtep = {u.mac: u.vtep for u in want.unicast} if stale or partial else {}
    remotes = _remote_counts(have.unicast) if stale else {}
    for u in sorted(stale):
        if u.mac in wanted_vtep and remotes[u.mac] == 1:
            continue  # one remote: ``replace`` rewrites it in place, no gap
        ops.append(DelUnicast(vni, u.mac, u.vtep))
    ops.extend(DelUnicast(vni, u.mac, u.vtep) for u in sorted(partial) if _stale(u, wanted_vtep))
    gone = have.neigh - want.neigh
    if gone:
        # A neighbour entry is keyed by IP: a new MAC for a held IP is a ``replace``.
        wanted_ips = {n.ip for n in want.neigh}
        ops.extend(DelNeigh(vni, n.ip, n.mac) for n in sorted(gone) if n.ip not in wanted_ips)
    return ops


def _remote_counts(unicast: frozenset[Unicast]) -> dict[str, int]:
    """How many remote VTEPs the kernel holds per MAC (``append`` can add several)."""
    counts: dict[str, int] = defaultdict(int)
    for u in unicast:
        counts[u.mac] += 1
    return counts


def _stale(half: Unicast, wanted_vtep: Mapping[str, str]) -> bool:
    """A half entry of a wanted MAC is completed by its addition's ``replace``."""
    target = wanted_vtep.get(half.mac)
    return target is None or half.vtep not in ("", target)


def _additions(
    vni: int, want: Entries, have: Entries, partial: frozenset[Unicast] = frozenset()
) -> list[Op]:
    ops: list[Op] = [AddFlood(vni, vtep) for vtep in sorted(want.flood - have.flood)]
    redo = set(want.unicast - have.unicast) | (want.unicast & partial)
    if have.unicast - want.unicast:
        # Re-assert a kept remote whose sibling remotes of the same MAC are deleted.
        multi = {mac for mac, n in _remote_counts(have.unicast).items() if n > 1}
        redo |= {u for u in want.unicast if u.mac in multi}
    ops.extend(AddUnicast(vni, u.mac, u.vtep) for u in sorted(redo))
    ops.extend(AddNeigh(vni, n.ip, n.mac) for n in sorted(want.neigh - have.neigh))
    return ops


def _attachments(
    net_id: str,
    net: NetworkState,
    kernel: KernelNetwork | None,
    ports: list[LocalPort],
    taps: frozenset[str],
) -> list[Op]:
    fresh = kernel is None or kernel.mtu != net.mtu
    attached = frozenset() if kernel is None or fresh else kernel.taps
    names = sorted({tap_name(p.id) for p in ports if p.network_id == net_id})
    return [AttachTap(tap, net_id, net.mtu) for tap in names if tap in taps and tap not in attached]
