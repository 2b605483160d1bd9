"""An in-memory dataplane with the Linux one's behaviour, for unit tests and the simulator.

:class:`FakeKernel` models one network namespace: links, the VXLAN devices'
``self`` FDB remotes, the bridges' ``master`` FDB and the neighbour tables,
with the kernel rules the agent depends on (``replace`` rewrites a MAC's first
remote, ``append`` adds one, deleting a device drops its entries and frees its
ports, enslaving a port adds the bridge's own ``master permanent`` entry).
Tests and the simulator use it to add foreign devices and entries and to plug
taps (which produces tap events). :class:`FakeDataplane` programs it exactly as
``linux.py`` programs the kernel and passes the same conformance suite.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from l2pop.core.state import Entries, Neigh, Unicast
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
    TapEvent,
    bridge_name,
    vxlan_name,
)
from l2pop.dataplane.naming import FLOOD_MAC, bridge_mac, parse_mode, tunnel_ip
from l2pop.errors import DataplaneError

__all__ = ["FakeDataplane", "FakeKernel", "FakeLink"]

PERMANENT = "permanent"
STATIC = "static"


@dataclass(slots=True)
class FakeLink:
    """One network device. ``vni``/``local``/``proxy``/``learning`` only mean
    something for VXLAN devices, ``neigh_suppress``/``port_learning`` for bridge ports."""

    name: str
    kind: str
    mac: str = "02:00:00:00:00:01"
    mtu: int = 1500
    up: bool = False
    master: str | None = None
    vni: int | None = None
    local: str | None = None
    proxy: bool = False
    learning: bool = True
    neigh_suppress: bool = False
    port_learning: bool = True


@dataclass
class FakeKernel:
    """One namespace's devices and tables. Thread-safe enough for one agent + tests."""

    links: dict[str, FakeLink] = field(default_factory=dict)
    # VXLAN device -> MAC -> remote VTEPs (``self`` entries with ``dst``).
    remotes: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # bridge port -> MAC -> "permanent" | "static" | "dynamic" (``master`` entries).
    bridge_fdb: dict[str, dict[str, str]] = field(default_factory=dict)
    # device -> IP -> (MAC, "permanent" | "reachable" | ...).
    neigh: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    _events: deque[TapEvent] = field(default_factory=deque)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def add_link(self, link: FakeLink) -> None:
        if link.name in self.links:
            raise DataplaneError(f"link {link.name} exists")
        self.links[link.name] = link
        self._notify(link.name, present=True)

    def add_tap(self, name: str, mtu: int = 1500) -> None:
        """What whoever plugs a VM does: create the tap, nothing else."""
        self.add_link(FakeLink(name, "tap", mac="fe:16:3e:00:00:01", mtu=mtu))

    def delete_link(self, name: str) -> None:
        self.links.pop(name, None)
        self.remotes.pop(name, None)
        self.bridge_fdb.pop(name, None)
        self.neigh.pop(name, None)
        for link in self.links.values():
            if link.master == name:
                link.master = None
                self.bridge_fdb.pop(link.name, None)
        self._notify(name, present=False)

    def enslave(self, port: str, bridge: str) -> None:
        link = self.links[port]
        if link.master != bridge:
            link.master = bridge
            # The bridge's own entry for the port's address, as the kernel adds it.
            self.bridge_fdb[port] = {link.mac: PERMANENT}

    def wait_events(self, timeout: float) -> list[TapEvent]:
        with self._changed:
            self._changed.wait_for(lambda: bool(self._events), timeout=max(0.0, timeout))
            events = list(self._events)
            self._events.clear()
            return events

    def _notify(self, name: str, *, present: bool) -> None:
        if name.startswith("tap"):
            with self._changed:
                self._events.append(TapEvent(name, present))
                self._changed.notify_all()


class FakeDataplane:
    """The :class:`~l2pop.dataplane.base.Dataplane` over a :class:`FakeKernel`."""

    def __init__(self, mode: Mode, local_ip: str, kernel: FakeKernel | None = None) -> None:
        self._mode = parse_mode(mode)
        self.local_ip = tunnel_ip(local_ip)
        self.kernel = kernel if kernel is not None else FakeKernel()
        self.applied = 0  # ops applied so far (the simulator counts them)

    @property
    def mode(self) -> Mode:
        return self._mode

    def read(self) -> dict[int, KernelNetwork]:
        found: dict[int, KernelNetwork] = {}
        for link in self.kernel.links.values():
            if link.kind == "vxlan" and link.vni is not None and link.name == vxlan_name(link.vni):
                found[link.vni] = self._read_network(link)
        return found

    def apply(self, ops: Sequence[Op]) -> None:
        """As Linux: every op is tried; the first failure is raised at the end."""
        failures: list[str] = []
        for op in ops:
            try:
                self._apply_one(op)
            except (DataplaneError, KeyError) as exc:
                failures.append(f"{op}: {exc}")
                continue
            self.applied += 1
        if failures:
            more = f" (and {len(failures) - 1} more failures)" if len(failures) > 1 else ""
            raise DataplaneError(failures[0] + more)

    def taps(self) -> frozenset[str]:
        return frozenset(name for name in self.kernel.links if name.startswith("tap"))

    def wait_tap_events(self, timeout: float) -> list[TapEvent]:
        return self.kernel.wait_events(timeout)

    def close(self) -> None:
        return None

    # -- reading -----------------------------------------------------------------

    def _read_network(self, vx: FakeLink) -> KernelNetwork:
        k = self.kernel
        bridge = k.links.get(vx.master) if vx.master else None
        suppress = self._mode is Mode.SUPPRESS
        held = k.remotes.get(vx.name, {})
        static = {mac for mac, kind in k.bridge_fdb.get(vx.name, {}).items() if kind == STATIC}
        flood = frozenset(held.get(FLOOD_MAC, ()))
        pairs = {Unicast(m, d) for m, dsts in held.items() if m != FLOOD_MAC for d in dsts}
        complete = {u for u in pairs if u.mac in static or not suppress}
        partial = (pairs - complete) | {
            Unicast(m, "") for m in static if not suppress or m not in held
        }
        neigh_dev = bridge.name if suppress and bridge else vx.name
        neigh = frozenset(
            Neigh(ip, mac)
            for ip, (mac, state) in k.neigh.get(neigh_dev, {}).items()
            if state == PERMANENT
        )
        return KernelNetwork(
            vni=vx.vni or 0,
            bridge=vx.master,
            mtu=vx.mtu,
            local_ip=vx.local,
            proxy=vx.proxy,
            entries=Entries(flood, frozenset(complete), neigh),
            taps=self._taps_on(bridge, vx.mtu),
            partial=frozenset(partial),
            sound=self._sound(vx, bridge),
        )

    def _taps_on(self, bridge: FakeLink | None, mtu: int) -> frozenset[str]:
        if bridge is None:
            return frozenset()
        return frozenset(
            link.name
            for link in self.kernel.links.values()
            if link.master == bridge.name and link.name.startswith("tap")
            if link.up and link.mtu == mtu
        )

    def _sound(self, vx: FakeLink, bridge: FakeLink | None) -> bool:
        if bridge is None or bridge.kind != "bridge":
            return False
        ports_ok = (
            vx.neigh_suppress and not vx.port_learning
            if self._mode is Mode.SUPPRESS
            else not vx.neigh_suppress
        )
        return (
            vx.up
            and bridge.up
            and not vx.learning
            and bridge.mtu == vx.mtu
            and bridge.mac == bridge_mac(self.local_ip, bridge.name)
            and ports_ok
        )

    # -- writing -----------------------------------------------------------------

    def _apply_one(self, op: Op) -> None:
        match op:
            case EnsureNetwork():
                self._ensure(op)
            case RemoveNetwork():
                self.kernel.delete_link(vxlan_name(op.vni))
                if op.bridge.startswith("brq"):
                    self.kernel.delete_link(op.bridge)
            case AddFlood():
                self._remote_ok(self._vxlan(op.vni), op.vtep)
                dsts = self.kernel.remotes.setdefault(vxlan_name(op.vni), {})
                flood = dsts.setdefault(FLOOD_MAC, [])
                if op.vtep not in flood:
                    flood.append(op.vtep)
            case DelFlood():
                self._del_remote(vxlan_name(op.vni), FLOOD_MAC, op.vtep)
            case AddUnicast():
                self._add_unicast(op)
            case DelUnicast():
                self._del_unicast(op)
            case AddNeigh():
                self.kernel.neigh.setdefault(self._neigh_dev(op.vni), {})[op.ip] = (
                    op.mac,
                    PERMANENT,
                )
            case DelNeigh():
                self.kernel.neigh.get(self._neigh_dev(op.vni, must=False), {}).pop(op.ip, None)
            case AttachTap():
                self._attach(op)

    def _vxlan(self, vni: int) -> FakeLink:
        link = self.kernel.links.get(vxlan_name(vni))
        if link is None:
            raise DataplaneError(f"no device {vxlan_name(vni)}")
        return link

    @staticmethod
    def _remote_ok(vx: FakeLink, vtep: str) -> FakeLink:
        """The kernel refuses a remote of the other address family (EAFNOSUPPORT)."""
        if (":" in vtep) != (":" in (vx.local or "")):
            raise DataplaneError(f"{vtep}: address family not supported by {vx.name}")
        return vx

    def _neigh_dev(self, vni: int, *, must: bool = True) -> str:
        name = vxlan_name(vni)
        if self._mode is Mode.PROXY:
            if must:
                self._vxlan(vni)
            return name
        link = self.kernel.links.get(name)
        if link is None or link.master is None:
            if must:
                raise DataplaneError(f"no bridge for {name}")
            return ""
        return link.master

    def _ensure(self, op: EnsureNetwork) -> None:
        k = self.kernel
        brq, vxn = bridge_name(op.network_id), vxlan_name(op.vni)
        proxy = self._mode is Mode.PROXY
        for link in k.links.values():
            if link.kind == "vxlan" and link.vni == op.vni and link.name != vxn:
                raise DataplaneError(f"VNI {op.vni} is held by device {link.name}")
        vx = k.links.get(vxn)
        for name, kind in ((vxn, "vxlan"), (brq, "bridge")):
            if name in k.links and k.links[name].kind != kind:
                raise DataplaneError(f"{name} exists and is a {k.links[name].kind} device")
        if vx is not None and (vx.proxy != proxy or vx.local != self.local_ip or vx.vni != op.vni):
            k.delete_link(vxn)  # the proxy flag cannot change in place: re-create
            vx = None
        if vx is None:
            vx = FakeLink(vxn, "vxlan", mac="02:aa:00:00:00:01", vni=op.vni)
            vx.local, vx.proxy, vx.learning = self.local_ip, proxy, False
            k.add_link(vx)
        br = k.links.get(brq)
        if br is None:
            br = FakeLink(brq, "bridge", mac=bridge_mac(self.local_ip, brq))
            k.add_link(br)
        br.mac = bridge_mac(self.local_ip, brq)
        br.mtu = vx.mtu = op.mtu
        vx.learning = False
        k.enslave(vxn, brq)
        suppress = self._mode is Mode.SUPPRESS
        vx.neigh_suppress, vx.port_learning = suppress, not suppress
        br.up = vx.up = True

    def _add_unicast(self, op: AddUnicast) -> None:
        vxn = self._remote_ok(self._vxlan(op.vni), op.vtep).name
        dsts = self.kernel.remotes.setdefault(vxn, {}).setdefault(op.mac, [])
        if dsts:
            dsts[0] = op.vtep  # NLM_F_REPLACE rewrites the first remote
        else:
            dsts.append(op.vtep)
        if self._mode is Mode.SUPPRESS:
            self.kernel.bridge_fdb.setdefault(vxn, {})[op.mac] = STATIC

    def _del_unicast(self, op: DelUnicast) -> None:
        vxn = vxlan_name(op.vni)
        if op.vtep:
            self._del_remote(vxn, op.mac, op.vtep)
        fdb = self.kernel.bridge_fdb.get(vxn, {})
        if fdb.get(op.mac) == STATIC:
            del fdb[op.mac]

    def _del_remote(self, vxn: str, mac: str, vtep: str) -> None:
        dsts = self.kernel.remotes.get(vxn, {})
        if vtep in dsts.get(mac, []):
            dsts[mac].remove(vtep)
            if not dsts[mac]:
                del dsts[mac]

    def _attach(self, op: AttachTap) -> None:
        tap = self.kernel.links.get(op.tap)
        if tap is None:
            raise DataplaneError(f"no device {op.tap}")
        brq = bridge_name(op.network_id)
        if brq not in self.kernel.links:
            raise DataplaneError(f"no bridge {brq}")
        self.kernel.enslave(op.tap, brq)
        tap.mtu, tap.up = op.mtu, True
