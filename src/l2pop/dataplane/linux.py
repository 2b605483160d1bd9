"""The Linux dataplane: bridges, VXLAN devices, FDB and neighbour entries over netlink.

The only module that imports pyroute2. Links (few, rarely changed) go through
pyroute2's IPRoute; FDB and neighbour entries (many) through
:class:`~l2pop.dataplane.nlmsg.NeighChannel`, many requests per ``send()``.
Objects and flags follow DESIGN.md §5; see docs/dataplane.md.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netns import create_socket

from l2pop.dataplane import entries as kernel_entries
from l2pop.dataplane.base import (
    AttachTap,
    EnsureNetwork,
    KernelNetwork,
    Mode,
    Op,
    RemoveNetwork,
    TapEvent,
    bridge_name,
    vxlan_name,
)
from l2pop.dataplane.entries import Link
from l2pop.dataplane.naming import VXLAN_PORT, bridge_mac, parse_mode, tunnel_ip
from l2pop.dataplane.nlmsg import BatchError, NeighChannel
from l2pop.dataplane.tapwatch import TapWatch, is_tap
from l2pop.errors import DataplaneError

__all__ = ["LinuxDataplane"]

log = logging.getLogger(__name__)

NETLINK_ROUTE = 0
RTMGRP_LINK = 1
IFF_UP = 1

LinkOp = EnsureNetwork | RemoveNetwork | AttachTap
T = TypeVar("T")


def _link(msg: Any) -> Link:
    info = msg.get_attr("IFLA_LINKINFO")
    kind = (info.get_attr("IFLA_INFO_KIND") if info else None) or ""
    data = info.get_attr("IFLA_INFO_DATA") if info else None
    slave = info.get_attr("IFLA_INFO_SLAVE_DATA") if info else None
    extra: dict[str, Any] = {}
    if kind == "vxlan" and data is not None:
        extra = {
            "vni": data.get_attr("IFLA_VXLAN_ID"),
            "local": data.get_attr("IFLA_VXLAN_LOCAL") or data.get_attr("IFLA_VXLAN_LOCAL6"),
            "port": data.get_attr("IFLA_VXLAN_PORT"),
            "proxy": bool(data.get_attr("IFLA_VXLAN_PROXY")),
            "learning": bool(data.get_attr("IFLA_VXLAN_LEARNING")),
        }
    if slave is not None and info.get_attr("IFLA_INFO_SLAVE_KIND") == "bridge":
        extra["neigh_suppress"] = bool(slave.get_attr("IFLA_BRPORT_NEIGH_SUPPRESS"))
        extra["port_learning"] = bool(slave.get_attr("IFLA_BRPORT_LEARNING"))
    return Link(
        index=msg["index"],
        name=msg.get_attr("IFLA_IFNAME"),
        kind=kind,
        up=bool(msg["flags"] & IFF_UP),
        mtu=msg.get_attr("IFLA_MTU"),
        mac=msg.get_attr("IFLA_ADDRESS") or "",
        master=msg.get_attr("IFLA_MASTER"),
        **extra,
    )


class LinuxDataplane:
    """:class:`~l2pop.dataplane.base.Dataplane` on the running kernel (or a namespace)."""

    def __init__(
        self,
        mode: Mode | str,
        local_ip: str,
        interface: str | None = None,
        netns: str | None = None,
    ) -> None:
        self._mode = parse_mode(mode)
        self.local_ip = tunnel_ip(local_ip)
        self._lock = threading.Lock()
        self._closed = False
        _off_loop(lambda: self._open(interface, netns))

    def _open(self, interface: str | None, netns: str | None) -> None:
        opened: list[Any] = []  # closed again if opening fails half way
        try:
            # groups=0: pyroute2 joins every rtnetlink group by default; the kernel would
            # then build a notification per entry we program, for a socket never reading them.
            self._ipr = IPRoute(netns=netns, flags=0, groups=0) if netns else IPRoute(groups=0)
            opened.append(self._ipr)
            self._channel = NeighChannel(self._socket(netns))
            opened.append(self._channel)
            monitor = self._socket(netns)
            opened.append(monitor)
            monitor.bind((0, RTMGRP_LINK))
            self._underlay = self._find_underlay(interface)
            self._taps = TapWatch(monitor, lambda: _off_loop(self._tap_indexes))
        except (OSError, NetlinkError, DataplaneError) as exc:
            for thing in reversed(opened):
                thing.close()
            if isinstance(exc, DataplaneError):
                raise
            raise DataplaneError(f"cannot open netlink (netns {netns!r}): {exc}") from exc

    @staticmethod
    def _socket(netns: str | None) -> socket.socket:
        if netns is None:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        else:
            sock = create_socket(netns, socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE, flags=0)
        sock.settimeout(10.0)
        return sock

    @property
    def mode(self) -> Mode:
        return self._mode

    # -- Dataplane protocol ------------------------------------------------------

    def read(self) -> dict[int, KernelNetwork]:
        return _off_loop(self._read)

    def _read(self) -> dict[int, KernelNetwork]:
        with self._lock:
            links = self._links()
            fdb = self._channel.dump(socket.AF_BRIDGE)
            neigh = self._channel.dump(socket.AF_UNSPEC)
        return kernel_entries.networks(links, fdb, neigh, self._mode, self.local_ip)

    def apply(self, ops: Sequence[Op]) -> None:
        _off_loop(lambda: self._apply(ops))

    def _apply(self, ops: Sequence[Op]) -> None:
        """Every op is tried, so one refused entry or network does not hold back the
        others; the first failure is raised at the end (with the count of the rest)."""
        failures: list[str] = []
        with self._lock:
            batch = kernel_entries.Batch(self._mode)
            links = self._links()
            for op in ops:
                try:
                    if isinstance(op, EnsureNetwork | RemoveNetwork | AttachTap):
                        self._flush(batch, failures)
                        try:
                            self._link_op(op, links)
                        finally:
                            links = self._links()
                    else:
                        batch.add(op, links)
                except DataplaneError as exc:
                    failures.append(str(exc))
            self._flush(batch, failures)
        if failures:
            more = f" (and {len(failures) - 1} more failures)" if len(failures) > 1 else ""
            raise DataplaneError(failures[0] + more)

    def taps(self) -> frozenset[str]:
        return frozenset(_off_loop(self._tap_indexes).values())

    def wait_tap_events(self, timeout: float) -> list[TapEvent]:
        return self._taps.wait(timeout)

    def close(self) -> None:
        """Idempotent; safe on the thread that runs the agent's event loop."""
        if not self._closed:
            self._closed = True
            _off_loop(self._ipr.close)
            self._channel.close()
            self._taps.close()

    # -- links ---------------------------------------------------------------------

    def _links(self) -> dict[str, Link]:
        try:
            return {link.name: link for link in map(_link, self._ipr.link("dump"))}
        except NetlinkError as exc:
            raise DataplaneError(f"link dump: {exc}") from exc

    def _find_underlay(self, interface: str | None) -> int | None:
        if interface is not None:
            found = self._ipr.link_lookup(ifname=interface)
            if not found:
                raise DataplaneError(f"underlay interface {interface!r} does not exist")
            return int(found[0])
        for addr in self._ipr.addr("dump"):
            if addr.get_attr("IFA_ADDRESS") == self.local_ip:
                return int(addr["index"])
        raise DataplaneError(f"no interface holds the tunnel IP {self.local_ip}")

    def _call(self, op: Op, action: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        try:
            action(*args, **kwargs)
        except NetlinkError as exc:
            raise DataplaneError(f"{op}: {exc}") from exc

    def _link_op(
        self, op: EnsureNetwork | RemoveNetwork | AttachTap, links: dict[str, Link]
    ) -> None:
        if isinstance(op, EnsureNetwork):
            self._ensure(op, links)
        elif isinstance(op, RemoveNetwork):
            vx = links.get(vxlan_name(op.vni))
            if vx is not None and vx.kind == "vxlan":
                self._call(op, self._ipr.link, "del", index=vx.index)
            br = links.get(op.bridge)
            if br is not None and br.kind == "bridge" and op.bridge.startswith("brq"):
                self._call(op, self._ipr.link, "del", index=br.index)
        else:
            self._attach(op, links)

    def _ensure(self, op: EnsureNetwork, links: dict[str, Link]) -> None:
        brq, vxn = bridge_name(op.network_id), vxlan_name(op.vni)
        vx = links.get(vxn)
        if vx is not None and vx.kind != "vxlan":
            raise DataplaneError(f"{op}: {vxn} exists and is a {vx.kind or 'plain'} device")
        if vx is not None and not self._vxlan_reusable(vx, op.vni):
            log.warning(
                "re-creating %s (proxy %s -> %s, local %s -> %s): traffic is interrupted",
                vxn,
                vx.proxy,
                self._mode is Mode.PROXY,
                vx.local,
                self.local_ip,
            )
            self._call(op, self._ipr.link, "del", index=vx.index)
            vx = None
        if vx is None:
            self._call(op, self._ipr.link, "add", **self._vxlan_spec(vxn, op))
        br = links.get(brq)
        mac = bridge_mac(self.local_ip, brq)
        if br is None:
            self._call(
                op, self._ipr.link, "add", ifname=brq, kind="bridge", address=mac, mtu=op.mtu
            )
        elif br.kind != "bridge":
            raise DataplaneError(f"{op}: {brq} exists and is a {br.kind or 'plain'} device")
        elif br.mac != mac:  # never rewritten when equal: it flushes the neighbour table
            self._call(op, self._ipr.link, "set", index=br.index, address=mac)
        self._settle(op, self._links(), brq, vxn)

    def _vxlan_reusable(self, vx: Link, vni: int) -> bool:
        return (
            vx.kind == "vxlan"
            and vx.vni == vni
            and vx.port == VXLAN_PORT
            and vx.proxy == (self._mode is Mode.PROXY)
            and vx.local == self.local_ip
            and not vx.learning
        )

    def _vxlan_spec(self, name: str, op: EnsureNetwork) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "ifname": name,
            "kind": "vxlan",
            "vxlan_id": op.vni,
            "vxlan_port": VXLAN_PORT,
            "vxlan_learning": 0,
            "vxlan_proxy": 1 if self._mode is Mode.PROXY else 0,
            "mtu": op.mtu,
        }
        spec["vxlan_local6" if ":" in self.local_ip else "vxlan_local"] = self.local_ip
        if self._underlay is not None:
            spec["vxlan_link"] = self._underlay
        return spec

    def _settle(self, op: EnsureNetwork, links: dict[str, Link], brq: str, vxn: str) -> None:
        """Enslave, MTU, port flags and up, each written only when it differs."""
        vx, br = links[vxn], links[brq]
        if vx.mtu != op.mtu:
            self._call(op, self._ipr.link, "set", index=vx.index, mtu=op.mtu)
        if vx.master != br.index:
            self._call(op, self._ipr.link, "set", index=vx.index, master=br.index)
        suppress = self._mode is Mode.SUPPRESS
        if vx.neigh_suppress != suppress or (suppress and vx.port_learning):
            flags = {"neigh_suppress": int(suppress)} | ({"learning": 0} if suppress else {})
            self._call(op, self._ipr.brport, "set", index=vx.index, **flags)
        for link in (vx, br):
            if not link.up:
                self._call(op, self._ipr.link, "set", index=link.index, state="up")
        after = self._links()
        if after[brq].mtu != op.mtu:
            self._call(op, self._ipr.link, "set", index=br.index, mtu=op.mtu)
            after = self._links()
        for link in (after[vxn], after[brq]):
            if link.mtu != op.mtu:
                raise DataplaneError(
                    f"{op}: the kernel set MTU {link.mtu} on {link.name}, not {op.mtu} "
                    "(is the underlay MTU large enough for the VXLAN overhead?)"
                )

    def _attach(self, op: AttachTap, links: dict[str, Link]) -> None:
        tap, br = links.get(op.tap), links.get(bridge_name(op.network_id))
        if tap is None or br is None:
            missing = op.tap if tap is None else bridge_name(op.network_id)
            raise DataplaneError(f"{op}: no device {missing}")
        if tap.mtu != op.mtu:
            self._call(op, self._ipr.link, "set", index=tap.index, mtu=op.mtu)
        if tap.master != br.index:
            self._call(op, self._ipr.link, "set", index=tap.index, master=br.index)
        if not tap.up:
            self._call(op, self._ipr.link, "set", index=tap.index, state="up")

    # -- entries -----------------------------------------------------------------

    def _flush(self, batch: kernel_entries.Batch, failures: list[str]) -> None:
        """Send the pending entry requests; record each refusal, naming its op."""
        try:
            self._channel.send(batch.requests, batch.tolerated)
        except BatchError as exc:
            failures.extend(
                f"{batch.ops[index]}: {os.strerror(code)} (errno {code})"
                for index, code in exc.failures
            )
        except OSError as exc:
            failures.append(f"netlink batch of {len(batch.ops)} ops: {exc}")
        finally:
            batch.clear()

    # -- tap events ----------------------------------------------------------------

    def _tap_indexes(self) -> dict[int, str]:
        with self._lock:
            links = self._links()
        return {link.index: link.name for link in links.values() if is_tap(link.name)}


def _off_loop(work: Callable[[], T]) -> T:
    """Run ``work`` here, or on a worker thread when this thread runs an asyncio loop.

    pyroute2's synchronous API drives its own event loop, which cannot run on a
    thread already running one (the agent's): "Cannot run the event loop while
    another loop is running". The caller still blocks until ``work`` is done.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="l2pop-dataplane") as pool:
        return pool.submit(work).result()
