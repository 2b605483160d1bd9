"""The flood-and-learn baseline: what a VXLAN network does without a control plane.

Per host a bridge and a VXLAN device WITH data-plane learning and a full
flood list (``bridge fdb append 00:00:00:00:00:00 ... dst <every other
VTEP>``), no proxy, no static entries. An ARP request from a VM is then
replicated to every other host; replies teach the VTEPs where MACs live.
It runs on the same fabric as l2pop for the demo's comparison, on its own
VNI and devices (``<prefix>fb<k>`` / ``<prefix>fx<k>``), so it never collides
with the agent's ``brq*``/``vxlan-*`` devices.
"""

from __future__ import annotations

from collections.abc import Sequence

from l2pop.lab.fabric import Fabric
from l2pop.lab.shell import LabError, ip_batch
from l2pop.lab.topology import LabVM

__all__ = ["FloodAndLearn"]

ZERO_MAC = "00:00:00:00:00:00"


class FloodAndLearn:
    """One flood-and-learn VXLAN network over ``hosts`` of ``fabric``."""

    def __init__(
        self,
        fabric: Fabric,
        *,
        vni: int,
        hosts: Sequence[str] | None = None,
        mtu: int = 1450,
        ipv6_underlay: bool = False,
        index: int = 0,
    ) -> None:
        if not 1 <= vni <= 16_777_215 or not 0 <= index <= 9:
            raise LabError(f"baseline vni {vni} / index {index} out of range")
        self.fabric = fabric
        self.vni = vni
        self.mtu = mtu
        self.ipv6_underlay = ipv6_underlay
        self.hosts = list(hosts) if hosts is not None else list(fabric.hosts)
        self.bridge = fabric.names.baseline_bridge(index)
        self.vxlan = fabric.names.baseline_vxlan(index)

    def setup(self) -> None:
        """Bridge + learning VXLAN device + flood entries to every other host, on each host."""
        for name in self.hosts:
            host = self.fabric.host(name)
            local = host.tunnel_ip(self.ipv6_underlay)
            peers = [
                self.fabric.host(p).tunnel_ip(self.ipv6_underlay) for p in self.hosts if p != name
            ]
            ip_batch(
                host.netns,
                [
                    f"link add {self.bridge} mtu {self.mtu} type bridge stp_state 0",
                    f"link add {self.vxlan} mtu {self.mtu} type vxlan id {self.vni}"
                    f" dstport 4789 local {local} dev {host.uplink} learning",
                    f"link set {self.vxlan} master {self.bridge} up",
                    f"link set {self.bridge} up",
                ],
            )
            ip_batch(
                host.netns,
                [f"fdb append {ZERO_MAC} dev {self.vxlan} dst {peer}" for peer in peers],
                tool="bridge",
            )

    def attach(self, vm: LabVM) -> None:
        """Plug ``vm``'s tap into the baseline bridge (out of any other bridge), up, and wait
        until the link carries frames."""
        host = self.fabric.host(vm.host)
        ip_batch(
            host.netns,
            [
                f"link set {vm.tap} nomaster",
                f"link set {vm.tap} mtu {self.mtu} master {self.bridge} up",
            ],
        )
        self.fabric.wait_vm_link_up(vm.name)

    def teardown(self) -> None:
        """Delete the baseline devices (taps stay, unplugged)."""
        for name in self.hosts:
            if name in self.fabric.hosts:
                host = self.fabric.host(name)
                ip_batch(host.netns, [f"link del {self.vxlan}", f"link del {self.bridge}"])
