"""``l2pop demo --evpn``: the reference scenario with one host run by FRR instead of l2pop.

The target VM's host (host4 of five) is an FRR VTEP (zebra + bgpd, see
:mod:`l2pop.lab.frr`); ``l2pop evpn`` in the control namespace peers with it
(iBGP, TCP MD5). VM A (on an l2pop host) pings VM G (behind FRR): host1's
VTEP answers VM A's ARP from the neighbour entry the gateway imported, and
the frames go to FRR's VTEP only. The flood-and-learn phase that follows is
the plain demo's.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict

from l2pop.dataplane.base import bridge_name, vxlan_name
from l2pop.lab.controlplane import ControlPlane, l2pop_command
from l2pop.lab.demo import VNI, DemoConfig, DemoResult, Progress, _baseline_phase
from l2pop.lab.fabric import Fabric
from l2pop.lab.frr import FrrHost
from l2pop.lab.measure import measure_ping
from l2pop.lab.procs import ManagedProcess, wait_until
from l2pop.lab.scenario import plan_vms
from l2pop.lab.shell import LabError, run
from l2pop.lab.topology import LabVM

__all__ = ["ASN", "run_evpn_demo", "start_gateway"]

ASN = 65000
READY_TIMEOUT_S = 30.0


def start_gateway(fabric: Fabric, cp: ControlPlane, peer: str, password: str) -> ManagedProcess:
    """A gateway token from the server, then ``l2pop evpn`` in the control namespace."""
    control = fabric.control
    if control is None:
        raise LabError("the fabric has no control namespace")
    token = cp._call("POST", "/v1/gateways", {"name": "demo-gw"})["token"]
    token_file = fabric.workdir / "gateway.token"
    token_file.write_text(f"{token}\n")
    token_file.chmod(0o600)
    password_file = fabric.workdir / "bgp.password"
    password_file.write_text(f"{password}\n")
    password_file.chmod(0o600)
    argv = [*l2pop_command(), "evpn", "--server", cp.inner_url, "--token-file", str(token_file)]
    argv += ["--asn", str(ASN), "--router-id", control.ipv4, "--peer", peer]
    argv += ["--peer-password-file", str(password_file), "--workdir", str(fabric.workdir / "evpn")]
    if cp.ca_file is not None:  # the lab's server is on HTTPS
        argv += ["--ca-file", str(cp.ca_file)]
    return fabric.start("evpn", control.netns, argv)


def _programmed(fabric: Fabric, host: str, target: LabVM) -> bool:
    netns = fabric.host(host).netns
    neigh = run(["ip", "neigh", "show", "to", str(target.ipv4)], netns=netns, check=False).stdout
    fdb = run(["bridge", "fdb", "show"], netns=netns, check=False).stdout
    return target.mac in neigh and any(
        target.mac in line and " dst " in line for line in fdb.splitlines()
    )


def run_evpn_demo(cfg: DemoConfig, say: Progress) -> DemoResult:
    """The demo with the target's host run by FRR; torn down at the end unless ``cfg.keep``."""
    plans, pinger_name, target_name = plan_vms(cfg.hosts, cfg.vms_per_host)
    frr_host = next(p.host for p in plans if p.name == target_name)
    started = time.monotonic()
    fabric = Fabric(cfg.hosts, workdir=cfg.workdir)
    result = DemoResult(asdict(cfg), fabric.prefix, pinger_name, target_name)
    result.config.update(workdir=str(fabric.workdir), frr_host=frr_host)
    with fabric:
        control = fabric.control
        assert control is not None
        cp = ControlPlane.start(fabric)
        say(f"lab {fabric.prefix}: {cfg.hosts} hosts ({frr_host} runs FRR), in {fabric.workdir}")
        password = secrets.token_hex(8)
        frr = FrrHost.start(
            fabric,
            frr_host,
            asn=ASN,
            peers=[control.ipv4],
            vnis=[VNI],
            subnets=[("198.51.100", "2001:db8:100:")],
            password=password,
        )
        try:
            start_gateway(fabric, cp, fabric.host(frr_host).ipv4, password)
            say(f"FRR (zebra + bgpd) on {frr_host}; l2pop evpn peering with it (iBGP, TCP MD5)")
            for host in fabric.hosts:
                if host != frr_host:
                    cp.start_agent(host, mode=cfg.mode)
            network = cp.create_network("demo", VNI)
            ports = []
            for i, plan in enumerate(plans):
                if plan.host == frr_host:
                    mac = f"52:54:00:00:01:{i:02x}"
                    frr.add_vm(plan.name, VNI, mac, ipv4=plan.ipv4, ipv6=plan.ipv6)
                    continue
                port = cp.create_port(network["id"], plan.host, [plan.ipv4, plan.ipv6], plan.name)
                ports.append(str(port["id"]))
                fabric.add_vm(
                    plan.name, plan.host, port_id=str(port["id"]), mac=str(port["mac_address"]),
                    ipv4=plan.ipv4, ipv6=plan.ipv6,
                )  # fmt: skip
            cp.wait_ports(network["id"], ports, "ACTIVE", READY_TIMEOUT_S)
            say(f"{len(ports)} l2pop ports ACTIVE")
            for plan in plans:
                if plan.host == frr_host:
                    frr.learn(fabric.vm(plan.name))
            wait_until(frr.established, timeout=READY_TIMEOUT_S, what="the BGP session")
            pinger, target = fabric.vm(pinger_name), fabric.vm(target_name)
            wait_until(
                lambda: _programmed(fabric, pinger.host, target),
                timeout=READY_TIMEOUT_S,
                what=f"{pinger.host}'s VTEP programmed for VM {target.name} (behind FRR)",
            )
            wait_until(
                lambda: sum(v != "local" for v in frr.macs(VNI).values()) == len(ports),
                timeout=READY_TIMEOUT_S,
                what="FRR knowing every l2pop VM",
            )
            say(
                f"FRR lists all {len(ports)} l2pop VMs behind their hosts (show evpn mac vni {VNI})"
            )
            say(f"VM {pinger.name} ({pinger.host}) pings VM {target.name} (FRR on {target.host})")
            result.l2pop = measure_ping(
                fabric, pinger, target, ipv6=cfg.ipv6, name="l2pop",
                vxlan=vxlan_name(VNI), bridge=bridge_name(str(network["id"])),
            )  # fmt: skip
            result.timings_s["l2pop"] = round(time.monotonic() - started, 3)
            _baseline_phase(fabric, cp, DemoConfig(**{**asdict(cfg), "keep": False}), result, say)
        finally:
            frr.close()
            cp.close()
    result.timings_s["total"] = round(time.monotonic() - started, 3)
    return result
