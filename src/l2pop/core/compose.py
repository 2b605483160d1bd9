"""The net delta of several events of one revision, composed from their deltas.

An etcd group commit makes revisions of many changes; a host touched by
several of them gets one line with the net change. Recomputing the host's
state before and after (``diff``) cost most of such a revision's apply time:
every state is a union over every publisher of the network. Each single
delta from ``step`` is exact (it equals ``diff`` of the states around it), so
the net change of a network that stays on the host follows from the deltas
alone, by set algebra; only a network that enters, leaves, or leaves and
comes back within the revision is looked at in the snapshots.

Composition, with ``A``/``R`` the entries added/removed so far relative to
the state before the revision and ``a``/``r`` the next exact delta::

    A' = (A - r) | (a - R)        R' = (R - a) | (r - A)

(``a`` cannot meet the state it applies to, and ``r`` is inside it: an entry
of ``a`` already there before must have been removed so far, i.e. be in ``R``;
likewise for ``r`` and ``A``.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from l2pop.core.snapshot import Snapshot
from l2pop.core.state import Delta, Entries, HostState, NetworkDelta, NetworkState, diff

__all__ = ["compose"]


def _state(snapshot: Snapshot, host: str, net_id: str) -> NetworkState | None:
    """The host's desired state of one network, or None when it has no port there."""
    net = snapshot.networks.get(net_id)
    if net is None or host not in net.bound:
        return None
    return net.state_for(host)


def _has(snapshot: Snapshot, host: str, net_id: str) -> bool:
    net = snapshot.networks.get(net_id)
    return net is not None and host in net.bound


def compose(before: Snapshot, after: Snapshot, host: str, deltas: Sequence[Delta]) -> Delta:
    """The delta from ``host``'s desired state in ``before`` to ``after``, given the
    exact deltas of the events between them, in order; equal to ``diff`` of the two."""
    chains: dict[str, list[NetworkDelta]] = {}
    for delta in deltas:
        for net_id, change in delta.networks.items():
            chains.setdefault(net_id, []).append(change)
    out: dict[str, NetworkDelta] = {}
    for net_id, chain in chains.items():
        was, stays = _has(before, host, net_id), _has(after, host, net_id)
        if not (was and stays) or any(change.removed for change in chain):
            # Enters, leaves, or leaves and comes back: the snapshots say how.
            old, new = _state(before, host, net_id), _state(after, host, net_id)
            part = diff(
                HostState({} if old is None else {net_id: old}),
                HostState({} if new is None else {net_id: new}),
            )
            out.update(part.networks)
            continue
        added, removed = _fold(chain)
        old_net, new_net = before.networks[net_id].network, after.networks[net_id].network
        same_shape = (old_net.vni, old_net.mtu) == (new_net.vni, new_net.mtu)
        if added or removed or not same_shape:
            out[net_id] = NetworkDelta(new_net.vni, new_net.mtu, add=added, remove=removed)
    return Delta(out)


def _fold(chain: Sequence[NetworkDelta]) -> tuple[Entries, Entries]:
    """The formula of the module, entry by entry in mutable sets (a chain can be
    long: a revision of a hundred changes in one network)."""
    sets: list[tuple[set[Any], set[Any]]] = [(set(), set()) for _ in range(3)]
    for change in chain:
        for (added, removed), dropped, new in zip(
            sets, _kinds(change.remove), _kinds(change.add), strict=True
        ):
            for entry in dropped:
                if entry in added:
                    added.discard(entry)
                else:
                    removed.add(entry)
            for entry in new:
                if entry in removed:
                    removed.discard(entry)
                else:
                    added.add(entry)
    (fa, fr), (ua, ur), (na, nr) = sets
    return (
        Entries(frozenset(fa), frozenset(ua), frozenset(na)),
        Entries(frozenset(fr), frozenset(ur), frozenset(nr)),
    )


def _kinds(entries: Entries) -> tuple[frozenset[Any], frozenset[Any], frozenset[Any]]:
    return entries.flood, entries.unicast, entries.neigh
