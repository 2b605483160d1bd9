"""Kernel facts -> :class:`KernelNetwork`, and entry ops -> netlink requests.

No pyroute2 here: ``linux.py`` dumps links (as :class:`Link`) and hands the
FDB/neighbour dumps (:class:`NeighRecord`) to :func:`networks`; :class:`Batch`
turns flood/unicast/neigh ops into requests for ``NeighChannel.send``.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from l2pop.core.state import Entries, Neigh, Unicast
from l2pop.dataplane.base import (
    AddFlood,
    AddNeigh,
    AddUnicast,
    DelFlood,
    DelNeigh,
    DelUnicast,
    KernelNetwork,
    Mode,
    Op,
    vxlan_name,
)
from l2pop.dataplane.naming import FLOOD_MAC, VXLAN_PORT, bridge_mac
from l2pop.dataplane.nlmsg import (
    NLM_F_APPEND,
    NLM_F_CREATE,
    NLM_F_REPLACE,
    NTF_MASTER,
    NTF_SELF,
    NUD_NOARP,
    NUD_PERMANENT,
    RTM_DELNEIGH,
    RTM_NEWNEIGH,
    NeighRecord,
    encode_neigh,
)
from l2pop.errors import DataplaneError

__all__ = ["Batch", "Link", "networks"]

# A delete of what is already gone has done its job.
_GONE = frozenset({errno.ENOENT, errno.ENODEV, errno.ESRCH})
_NONE: frozenset[int] = frozenset()
_APPEND = NLM_F_CREATE | NLM_F_APPEND
_REPLACE = NLM_F_CREATE | NLM_F_REPLACE


@dataclass(frozen=True, slots=True)
class Link:
    """What the dataplane needs to know about one network device."""

    index: int
    name: str
    kind: str
    up: bool
    mtu: int
    mac: str
    master: int | None
    vni: int | None = None
    local: str | None = None
    port: int | None = None
    proxy: bool = False
    learning: bool = False
    neigh_suppress: bool = False
    port_learning: bool = True


def networks(
    links: Mapping[str, Link],
    fdb: Iterable[NeighRecord],
    neigh: Iterable[NeighRecord],
    mode: Mode,
    local_ip: str,
) -> dict[int, KernelNetwork]:
    """Our networks (VXLAN devices named ``vxlan-<their vni>``) and our kinds of entries."""
    by_index = {link.index: link for link in links.values()}
    ours = {
        link.index: link
        for link in links.values()
        if link.kind == "vxlan" and link.vni is not None and link.name == vxlan_name(link.vni)
    }
    suppress = mode is Mode.SUPPRESS
    remotes: dict[int, set[Unicast]] = {index: set() for index in ours}
    static: dict[int, set[str]] = {index: set() for index in ours}
    for rec in fdb:
        if rec.ifindex not in ours or rec.lladdr is None:
            continue
        if rec.master is None and rec.flags & NTF_SELF and rec.dst is not None:
            remotes[rec.ifindex].add(Unicast(rec.lladdr, rec.dst))
        elif rec.master is not None and rec.state & (NUD_NOARP | NUD_PERMANENT) == NUD_NOARP:
            static[rec.ifindex].add(rec.lladdr)  # `master static`; not the kernel's permanent
    neigh_dev = {
        (vx.master if suppress and vx.master is not None else index): index
        for index, vx in ours.items()
    }
    held: dict[int, set[Neigh]] = {index: set() for index in ours}
    for rec in neigh:
        owner = neigh_dev.get(rec.ifindex)
        if owner is not None and rec.state & NUD_PERMANENT and rec.lladdr and rec.dst:
            held[owner].add(Neigh(rec.dst, rec.lladdr))
    found: dict[int, KernelNetwork] = {}
    for index, vx in ours.items():
        bridge = by_index.get(vx.master) if vx.master is not None else None
        flood = frozenset(u.vtep for u in remotes[index] if u.mac == FLOOD_MAC)
        pairs = {u for u in remotes[index] if u.mac != FLOOD_MAC}
        complete = {u for u in pairs if u.mac in static[index] or not suppress}
        held_macs = {u.mac for u in pairs}
        partial = (pairs - complete) | {
            Unicast(mac, "") for mac in static[index] if not suppress or mac not in held_macs
        }
        found[vx.vni or 0] = KernelNetwork(
            vni=vx.vni or 0,
            bridge=bridge.name if bridge else None,
            mtu=vx.mtu,
            local_ip=vx.local,
            proxy=vx.proxy,
            entries=Entries(flood, frozenset(complete), frozenset(held[index])),
            taps=_taps(by_index.values(), bridge, vx.mtu),
            partial=frozenset(partial),
            sound=_sound(vx, bridge, mode, local_ip),
        )
    return found


def _taps(links: Iterable[Link], bridge: Link | None, mtu: int) -> frozenset[str]:
    if bridge is None:
        return frozenset()
    return frozenset(
        link.name
        for link in links
        if link.master == bridge.index and link.name.startswith("tap") and link.up
        if link.mtu == mtu
    )


def _sound(vx: Link, bridge: Link | None, mode: Mode, local_ip: str) -> bool:
    if bridge is None or bridge.kind != "bridge":
        return False
    suppress = mode is Mode.SUPPRESS
    ports_ok = vx.neigh_suppress and not vx.port_learning if suppress else not vx.neigh_suppress
    return (
        vx.up
        and bridge.up
        and not vx.learning
        and vx.port == VXLAN_PORT
        and bridge.mtu == vx.mtu
        and bridge.mac == bridge_mac(local_ip, bridge.name)
        and ports_ok
    )


@dataclass
class Batch:
    """Entry ops encoded as netlink requests, with the errnos each may ignore."""

    mode: Mode
    ops: list[Op] = field(default_factory=list)
    requests: list[bytes] = field(default_factory=list)
    tolerated: list[frozenset[int]] = field(default_factory=list)

    def clear(self) -> None:
        self.ops.clear()
        self.requests.clear()
        self.tolerated.clear()

    def add(self, op: Op, links: Mapping[str, Link]) -> None:
        vx = links.get(vxlan_name(op.vni)) if hasattr(op, "vni") else None
        deleting = isinstance(op, DelFlood | DelUnicast | DelNeigh)
        if vx is None:
            if deleting:
                return  # the device is gone, and its entries with it
            raise DataplaneError(f"{op}: no device {vxlan_name(getattr(op, 'vni', 0))}")
        match op:
            case AddFlood():
                self._self_entry(
                    op, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_APPEND, vx, FLOOD_MAC, op.vtep
                )
            case DelFlood():
                self._self_entry(op, RTM_DELNEIGH, 0, vx, FLOOD_MAC, op.vtep)
            case AddUnicast():
                self._self_entry(
                    op, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, vx, op.mac, op.vtep
                )
                if self.mode is Mode.SUPPRESS:
                    self._master_entry(op, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, vx, op.mac)
            case DelUnicast():
                if op.vtep:
                    self._self_entry(op, RTM_DELNEIGH, 0, vx, op.mac, op.vtep)
                if self.mode is Mode.SUPPRESS or not op.vtep:
                    self._master_entry(op, RTM_DELNEIGH, 0, vx, op.mac)
            case AddNeigh() | DelNeigh():
                self._neigh(op, vx, links)

    def _push(self, op: Op, request: bytes, tolerated: frozenset[int]) -> None:
        self.ops.append(op)
        self.requests.append(request)
        self.tolerated.append(tolerated)

    def _self_entry(self, op: Op, kind: int, flags: int, vx: Link, mac: str, dst: str) -> None:
        request = encode_neigh(
            kind, flags, family=socket.AF_BRIDGE, ifindex=vx.index,
            state=NUD_PERMANENT, flags=NTF_SELF, lladdr=mac, dst=dst,
        )  # fmt: skip
        self._push(op, request, _GONE if kind == RTM_DELNEIGH else _NONE)

    def _master_entry(self, op: Op, kind: int, flags: int, vx: Link, mac: str) -> None:
        request = encode_neigh(
            kind, flags, family=socket.AF_BRIDGE, ifindex=vx.index,
            state=NUD_NOARP, flags=NTF_MASTER, lladdr=mac,
        )  # fmt: skip
        self._push(op, request, _GONE if kind == RTM_DELNEIGH else _NONE)

    def _neigh(self, op: AddNeigh | DelNeigh, vx: Link, links: Mapping[str, Link]) -> None:
        device = vx
        if self.mode is Mode.SUPPRESS:
            bridge = next((link for link in links.values() if link.index == vx.master), None)
            if bridge is None:
                if isinstance(op, DelNeigh):
                    return
                raise DataplaneError(f"{op}: {vx.name} is on no bridge")
            device = bridge
        family = socket.AF_INET6 if ":" in op.ip else socket.AF_INET
        if isinstance(op, AddNeigh):
            request = encode_neigh(
                RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, family=family,
                ifindex=device.index, state=NUD_PERMANENT, flags=0, lladdr=op.mac, dst=op.ip,
            )  # fmt: skip
            self._push(op, request, _NONE)
        else:
            request = encode_neigh(
                RTM_DELNEIGH, 0, family=family, ifindex=device.index, state=0, flags=0, dst=op.ip
            )
            self._push(op, request, _GONE)
