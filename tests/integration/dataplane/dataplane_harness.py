"""One harness per dataplane for the conformance suite: the dataplane plus the hands
that plug taps and plant foreign devices/entries (what other software would do)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from l2pop.dataplane.base import Dataplane, Mode, vxlan_name
from l2pop.dataplane.fake import FakeDataplane, FakeLink

__all__ = ["FakeHands", "Hands", "LinuxHands", "Underlay", "fake_harness", "linux_harness"]


@dataclass(frozen=True)
class Underlay:
    """This host's tunnel IP and two peers' VTEPs, one address family."""

    local: str
    peers: tuple[str, str]

    @property
    def v6(self) -> bool:
        return ":" in self.local


UNDERLAYS = {
    "ipv4": Underlay("192.0.2.1", ("192.0.2.2", "192.0.2.3")),
    "ipv6": Underlay("2001:db8::1", ("2001:db8::2", "2001:db8::3")),
}


class Hands(Protocol):
    """Changes other software makes in the namespace, and a view of what is not ours."""

    def plug_tap(self, name: str) -> None: ...
    def unplug_tap(self, name: str) -> None: ...
    def add_foreign_bridge(self, name: str) -> None: ...
    def link_names(self) -> set[str]: ...
    def add_learned_fdb(self, vni: int, mac: str) -> None: ...
    def add_reachable_neigh(self, vni: int, ip: str, mac: str) -> None: ...
    def not_ours(self, vni: int) -> set[tuple[str, str]]: ...
    def delete_unicast(self, vni: int, mac: str, vtep: str) -> None: ...


class FakeHands:
    def __init__(self, dp: FakeDataplane) -> None:
        self.dp = dp
        self.k = dp.kernel

    def plug_tap(self, name: str) -> None:
        self.k.add_tap(name)

    def unplug_tap(self, name: str) -> None:
        self.k.delete_link(name)

    def add_foreign_bridge(self, name: str) -> None:
        self.k.add_link(FakeLink(name, "bridge", up=True))

    def link_names(self) -> set[str]:
        return set(self.k.links)

    def add_learned_fdb(self, vni: int, mac: str) -> None:
        self.k.bridge_fdb.setdefault(vxlan_name(vni), {})[mac] = "dynamic"

    def _neigh_dev(self, vni: int) -> str:
        vx = self.k.links[vxlan_name(vni)]
        return vx.name if self.dp.mode is Mode.PROXY else vx.master or ""

    def add_reachable_neigh(self, vni: int, ip: str, mac: str) -> None:
        self.k.neigh.setdefault(self._neigh_dev(vni), {})[ip] = (mac, "reachable")

    def not_ours(self, vni: int) -> set[tuple[str, str]]:
        fdb = self.k.bridge_fdb.get(vxlan_name(vni), {})
        held = {("fdb", mac) for mac, kind in fdb.items() if kind != "static"}
        neigh = self.k.neigh.get(self._neigh_dev(vni), {})
        return held | {("neigh", ip) for ip, (_m, state) in neigh.items() if state != "permanent"}

    def delete_unicast(self, vni: int, mac: str, vtep: str) -> None:
        self.k.remotes[vxlan_name(vni)][mac].remove(vtep)


class LinuxHands:
    def __init__(self, netns: str, mode: Mode) -> None:
        self.netns = netns
        self.mode = mode

    def sh(self, *argv: str) -> str:
        done = subprocess.run(
            ["ip", "netns", "exec", self.netns, *argv],
            check=True, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        return done.stdout

    def plug_tap(self, name: str) -> None:
        self.sh("ip", "tuntap", "add", "dev", name, "mode", "tap")

    def unplug_tap(self, name: str) -> None:
        self.sh("ip", "link", "del", name)

    def add_foreign_bridge(self, name: str) -> None:
        self.sh("ip", "link", "add", name, "type", "bridge")

    def link_names(self) -> set[str]:
        return {link["ifname"] for link in json.loads(self.sh("ip", "-j", "link", "show"))}

    def add_learned_fdb(self, vni: int, mac: str) -> None:
        self.sh("bridge", "fdb", "add", mac, "dev", vxlan_name(vni), "master", "dynamic")

    def _neigh_dev(self, vni: int) -> str:
        if self.mode is Mode.PROXY:
            return vxlan_name(vni)
        link = json.loads(self.sh("ip", "-j", "link", "show", vxlan_name(vni)))[0]
        return str(link["master"])

    def add_reachable_neigh(self, vni: int, ip: str, mac: str) -> None:
        dev = self._neigh_dev(vni)
        self.sh("ip", "neigh", "replace", ip, "lladdr", mac, "dev", dev, "nud", "reachable")

    def not_ours(self, vni: int) -> set[tuple[str, str]]:
        fdb = json.loads(self.sh("bridge", "-j", "fdb", "show", "dev", vxlan_name(vni)))
        held = {
            ("fdb", e["mac"]) for e in fdb if "master" in e and "static" not in e.get("state", "")
        }
        neigh = json.loads(self.sh("ip", "-j", "neigh", "show", "dev", self._neigh_dev(vni)))
        return held | {("neigh", e["dst"]) for e in neigh if "PERMANENT" not in e.get("state", [])}

    def delete_unicast(self, vni: int, mac: str, vtep: str) -> None:
        self.sh("bridge", "fdb", "del", mac, "dev", vxlan_name(vni), "dst", vtep, "self")


@contextmanager
def fake_harness(mode: Mode, underlay: Underlay) -> Iterator[tuple[Dataplane, Hands]]:
    dp = FakeDataplane(mode, underlay.local)
    yield dp, FakeHands(dp)


@contextmanager
def linux_harness(mode: Mode, underlay: Underlay) -> Iterator[tuple[Dataplane, Hands]]:
    """A fresh namespace with an underlay veth holding the tunnel IP; always removed."""
    from l2pop.dataplane.linux import LinuxDataplane

    netns = f"l2p{os.urandom(3).hex()}dp"
    subprocess.run(["ip", "netns", "add", netns], check=True, timeout=30)
    hands = LinuxHands(netns, mode)
    dp: LinuxDataplane | None = None
    try:
        prefix = "64" if underlay.v6 else "24"
        hands.sh("ip", "link", "add", "ul0", "mtu", "1600", "type", "veth", "peer", "name", "ul1")
        hands.sh("ip", "addr", "add", f"{underlay.local}/{prefix}", "dev", "ul0", "nodad")
        hands.sh("ip", "link", "set", "ul0", "up")
        dp = LinuxDataplane(mode, underlay.local, netns=netns)
        yield dp, hands
    finally:
        if dp is not None:
            dp.close()
        subprocess.run(["ip", "netns", "del", netns], check=False, timeout=30)
