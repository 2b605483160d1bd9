"""An FRR VTEP in a lab host: bridge + VXLAN device per VNI, zebra + bgpd with EVPN.

The host's namespace gets, per VNI, ``br<vni>`` and ``vx<vni>`` (``dstport
4789 nolearning``, bridge port ``neigh_suppress on learning off``), the way
FRR's EVPN documentation sets up an L2 VNI; zebra and bgpd run in it as
their own instance (``-N`` pathspace, their own vty socket directory), with
``advertise-all-vni``. Their files live in a directory owned by the ``frr``
user (the daemons drop to it), removed on :meth:`FrrHost.close`.

A VM on the FRR host is a lab VM whose tap is enslaved to the VNI's bridge;
FRR learns its MAC from the bridge and its addresses from the bridge's
(SVI) neighbour table, which :meth:`FrrHost.learn` fills by pinging it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from l2pop.lab.fabric import Fabric
from l2pop.lab.procs import ManagedProcess, wait_until
from l2pop.lab.shell import LabError, ip_batch, run
from l2pop.lab.topology import LabHost, LabVM

__all__ = ["FRR_DAEMONS", "FrrHost", "frr_available", "frr_config"]

FRR_DAEMONS = Path("/usr/lib/frr")
# The SVI's host address in every VNI's subnet (the lab's VMs use .1 .. .253).
SVI_SUFFIX_V4 = ".254"
SVI_SUFFIX_V6 = ":fe"


def frr_available() -> str | None:
    """None when FRR can run here, else why not."""
    for daemon in ("zebra", "bgpd"):
        if not (FRR_DAEMONS / daemon).exists():
            return f"{FRR_DAEMONS / daemon} missing: install the Debian package frr"
    if shutil.which("vtysh") is None:
        return "vtysh missing: install the Debian package frr"
    return None


def frr_config(
    hostname: str, router_id: str, asn: int, peers: Sequence[str], password: str | None = None
) -> str:
    """bgpd's configuration: iBGP EVPN to ``peers``, every local VNI advertised."""
    lines = [
        "frr defaults datacenter",
        f"hostname {hostname}",
        "!",
        f"router bgp {asn}",
        f" bgp router-id {router_id}",
        " no bgp default ipv4-unicast",
    ]
    for peer in peers:
        lines += [f" neighbor {peer} remote-as {asn}", f" neighbor {peer} timers connect 1"]
        if password is not None:
            lines.append(f" neighbor {peer} password {password}")
    lines += [" !", " address-family l2vpn evpn"]
    lines += [f"  neighbor {peer} activate" for peer in peers]
    lines += ["  advertise-all-vni", " exit-address-family", "!"]
    return "\n".join(lines) + "\n"


@dataclass
class FrrHost:
    """zebra + bgpd on one lab host. ``FrrHost.start(fabric, "frr1", ...)``."""

    fabric: Fabric
    host: LabHost
    rundir: Path
    vnis: tuple[int, ...]
    processes: list[ManagedProcess] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        fabric: Fabric,
        host: str,
        *,
        asn: int,
        peers: Sequence[str],
        vnis: Sequence[int],
        subnets: Sequence[tuple[str, str]] = (),
        password: str | None = None,
    ) -> FrrHost:
        """``subnets``: per VNI (IPv4 /24 prefix like ``198.51.100``, IPv6 /64 prefix like
        ``2001:db8:100:`` giving ``2001:db8:100::fe``) for the SVI address; none, no SVI address."""
        why = frr_available()
        if why is not None:
            raise LabError(why)
        lab_host = fabric.host(host)
        rundir = Path(tempfile.mkdtemp(prefix=f"{fabric.prefix}-frr-{host}-"))
        rundir.chmod(0o755)
        shutil.chown(rundir, "frr", "frr")
        frr = cls(fabric, lab_host, rundir, tuple(vnis))
        try:
            frr._kernel(subnets)
            config = rundir / "frr.conf"
            config.write_text(frr_config(host, lab_host.ipv4, asn, peers, password))
            shutil.chown(config, "frr", "frr")
            config.chmod(0o600)
            frr._daemon("zebra")
            wait_until(lambda: (rundir / "zserv.api").exists(), timeout=10, what="zebra socket")
            frr._daemon("bgpd")
            wait_until(lambda: (rundir / "bgpd.vty").exists(), timeout=10, what="bgpd vty")
        except BaseException:
            frr.close()
            raise
        return frr

    def _kernel(self, subnets: Sequence[tuple[str, str]]) -> None:
        lines = []
        for i, vni in enumerate(self.vnis):
            br, vx = f"br{vni}", f"vx{vni}"
            lines += [
                f"link add {br} type bridge stp_state 0 mcast_snooping 0",
                f"link add {vx} mtu 1500 type vxlan id {vni} local {self.host.ipv4}"
                " dstport 4789 nolearning",
                f"link set {vx} master {br}",
                f"link set {vx} type bridge_slave neigh_suppress on learning off",
                f"link set {br} up",
                f"link set {vx} up",
            ]
            if i < len(subnets):
                v4, v6 = subnets[i]
                lines += [
                    f"addr add {v4}{SVI_SUFFIX_V4}/24 dev {br}",
                    f"addr add {v6}{SVI_SUFFIX_V6}/64 dev {br} nodad",
                ]
        ip_batch(self.host.netns, lines)

    def _daemon(self, name: str) -> None:
        d = self.rundir
        argv = [str(FRR_DAEMONS / name), "-N", f"{self.fabric.prefix}{self.host.name}"]
        argv += ["--vty_socket", str(d), "-i", str(d / f"{name}.pid"), "-z", str(d / "zserv.api")]
        argv += ["-f", str(d / "frr.conf"), "--log", f"file:{d / (name + '.log')}"]
        self.processes.append(
            self.fabric.start(f"frr-{self.host.name}-{name}", self.host.netns, argv)
        )

    def vtysh(self, command: str) -> str:
        done = run(["vtysh", "--vty_socket", str(self.rundir), "-c", command], check=False)
        if done.returncode != 0:
            raise LabError(f"vtysh -c {command!r}: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def vtysh_json(self, command: str) -> Any:
        out = self.vtysh(command + " json").strip()
        return json.loads(out) if out else {}

    def macs(self, vni: int) -> dict[str, str]:
        """``show evpn mac vni N``: MAC -> remote VTEP (or ``local``)."""
        answer = self.vtysh_json(f"show evpn mac vni {vni}")
        out = {}
        for mac, entry in answer.get("macs", {}).items():
            out[mac] = (
                entry.get("remoteVtep", "local") if entry.get("type") == "remote" else "local"
            )
        return out

    def established(self) -> bool:
        summary = self.vtysh_json("show bgp l2vpn evpn summary")
        peers = summary.get("peers", {})
        return bool(peers) and all(p.get("state") == "Established" for p in peers.values())

    def add_vm(
        self, name: str, vni: int, mac: str, ipv4: str | None = None, ipv6: str | None = None
    ) -> LabVM:
        """A VM on the FRR host, plugged into ``br<vni>`` (no agent here)."""
        vm = self.fabric.add_vm(
            name,
            self.host.name,
            port_id=f"frr{name}"[:11].ljust(11, "0"),
            mac=mac,
            ipv4=ipv4,
            ipv6=ipv6,
        )
        ip_batch(self.host.netns, [f"link set {vm.tap} master br{vni}", f"link set {vm.tap} up"])
        self.fabric.wait_vm_link_up(name)
        return vm

    def learn(self, vm: LabVM) -> None:
        """Let the SVI talk to ``vm`` once, so FRR learns its addresses (MAC+IP routes)."""
        for address in (vm.ipv4, vm.ipv6):
            if address is not None:
                run(
                    ["ping", "-n", "-c", "1", "-W", "2", address],
                    netns=self.host.netns,
                    check=False,
                )

    def close(self) -> None:
        for process in self.processes:
            process.stop()
        self.processes.clear()
        shutil.rmtree(self.rundir, ignore_errors=True)
