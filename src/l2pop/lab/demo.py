"""``l2pop demo``: the reference scenario on real kernels, l2pop beside flood-and-learn.

1. A fabric of N hosts; ``l2pop server`` in the control namespace, one
   ``l2pop agent`` per host.
2. A VXLAN network and one port per VM through the API; each port is created
   unbound (``DOWN``), bound to its host (``BUILD``), and goes ``ACTIVE`` when
   the lab plugs the VM's tap and the agent reports it. Transitions are shown
   as the server reports them.
3. VM A pings VM G while every host's uplink is captured.
4. The agents stop (the kernel stays as it is), the VMs' taps move to a
   flood-and-learn VXLAN network on another VNI, the VMs forget their
   neighbours, and the same ping runs again under capture.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from l2pop.dataplane.base import bridge_name, vxlan_name
from l2pop.lab.baseline import FloodAndLearn
from l2pop.lab.controlplane import ControlPlane, port_addresses
from l2pop.lab.fabric import Fabric
from l2pop.lab.measure import PhaseResult, measure_ping
from l2pop.lab.procs import wait_until
from l2pop.lab.scenario import VmPlan, plan_vms, vm_ipv4, vm_ipv6
from l2pop.lab.shell import run
from l2pop.lab.topology import LabVM

__all__ = ["DemoConfig", "DemoResult", "bring_up_overlay", "explain_hints", "run_demo"]

VNI = 100
BASELINE_VNI = 4242
ACTIVE_TIMEOUT_S = 30.0
PROGRAMMED_TIMEOUT_S = 15.0
# The VMs' subnets (scenario.vm_ipv4/vm_ipv6 number the VMs from .10 / ::a up).
DEMO_V4, DEMO_V4_LAST = "198.51.100.0/24", "198.51.100.254"
DEMO_V6, DEMO_V6_LAST = "2001:db8:100::/64", "2001:db8:100::ffff"

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class DemoConfig:
    hosts: int = 5
    vms_per_host: int | None = None
    mode: str = "proxy"
    ipv6: bool = False  # VM traffic over IPv6 (NS instead of ARP)
    ipv6_underlay: bool = False  # VTEPs on 2001:db8::/64
    keep: bool = False
    workdir: Path | None = None
    agent_command: list[str] | None = None  # default: `l2pop agent`
    evpn: bool = False  # the target's host runs FRR, joined by `l2pop evpn` (l2pop.lab.evpn_demo)


@dataclass(slots=True)
class DemoResult:
    config: dict[str, Any]
    prefix: str
    pinger: str
    target: str
    l2pop: PhaseResult | None = None
    baseline: PhaseResult | None = None
    transitions: dict[str, list[str]] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    kept: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.l2pop and self.l2pop.ping_ok and self.baseline and self.baseline.ping_ok)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


class _StatusWatch:
    """Records each port's status changes as the server reports them."""

    def __init__(self, cp: ControlPlane, network_id: str, names: dict[str, str], say: Progress):
        self.cp, self.network_id, self.names, self.say = cp, network_id, names, say
        self.history: dict[str, list[str]] = {name: [] for name in names.values()}

    def poll(self) -> dict[str, str]:
        statuses = self.cp.port_statuses(self.network_id)
        for port_id, status in statuses.items():
            name = self.names.get(port_id)
            if name is not None and (not self.history[name] or self.history[name][-1] != status):
                self.history[name].append(status)
                self.say(f"  port {name}: {' -> '.join(self.history[name])}")
        return statuses

    def wait_all(self, status: str, timeout: float) -> None:
        def reached() -> bool:
            for agent in self.cp.agents.values():
                agent.check_running()
            statuses = self.poll()
            return all(statuses.get(p) == status for p in self.names)

        wait_until(reached, timeout=timeout, what=f"every port {status}", interval=0.05)


def _programmed(fabric: Fabric, host: str, target: LabVM, ipv6: bool) -> bool:
    """``host``'s VTEP holds the neighbour entry (and FDB entry) for ``target``."""
    netns = fabric.host(host).netns
    address = target.ipv6 if ipv6 else target.ipv4
    neigh = run(["ip", "neigh", "show", "to", str(address)], netns=netns, check=False).stdout
    fdb = run(["bridge", "fdb", "show"], netns=netns, check=False).stdout
    has_fdb = any(target.mac in line and " dst " in line for line in fdb.splitlines())
    return target.mac in neigh and "PERMANENT" in neigh and has_fdb


def explain_hints(fabric: Fabric, cp: ControlPlane, host: str, target: LabVM) -> dict[str, str]:
    """What ``demo --keep`` / ``lab up`` print: the fabric view, and explain commands that
    work in the kept lab (from here: the server stages; on the host: its kernel too)."""
    token = fabric.workdir / "admin.token"
    address = target.ipv4 or target.ipv6 or target.mac
    common = f"--token-file {token}" + (f" --ca-file {cp.ca_file}" if cp.ca_file else "")
    return {
        "ui_url": f"{cp.url}/ui/",
        "explain": f"l2pop explain {host} {address} --url {cp.url} {common}",
        "explain_local": (
            f"sudo ip netns exec {fabric.host(host).netns} l2pop explain {host} {address} "
            f"--local --agent auto --url {cp.inner_url} {common}"
        ),
    }


def _timed(timings: dict[str, float], key: str, started: float) -> float:
    now = time.monotonic()
    timings[key] = round(now - started, 3)
    return now


def bring_up_overlay(
    fabric: Fabric, cp: ControlPlane, cfg: DemoConfig, plans: list[VmPlan], say: Progress
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Agents on every host, the network, a port per VM (unbound, bound, plugged), until every
    port is ``ACTIVE``. Returns the network and each port's status history."""
    for host in fabric.hosts:
        cp.start_agent(host, mode=cfg.mode, ipv6_underlay=cfg.ipv6_underlay)
    say(f"agents started on {len(fabric.hosts)} hosts (mode {cfg.mode})")
    network = cp.create_network("demo", VNI)
    say(f"network demo: VNI {VNI}, MTU {network.get('mtu', 1450)}")
    # The VMs' addresses come from the subnets' IPAM, as in a cloud: the pools
    # start at the plan's first address, so IPAM hands out the planned ones.
    cp.create_subnet(network["id"], DEMO_V4, (vm_ipv4(0), DEMO_V4_LAST), name="demo-v4")
    cp.create_subnet(network["id"], DEMO_V6, (vm_ipv6(0), DEMO_V6_LAST), name="demo-v6")
    ports = {p.name: cp.create_port(network["id"], "", None, name=p.name) for p in plans}
    names = {str(port["id"]): name for name, port in ports.items()}
    watch = _StatusWatch(cp, network["id"], names, say)
    watch.poll()
    for plan in plans:
        cp.bind_port(str(ports[plan.name]["id"]), plan.host)
    watch.poll()
    for plan in plans:
        port = ports[plan.name]
        ipv4, ipv6 = port_addresses(port)
        fabric.add_vm(
            plan.name,
            plan.host,
            port_id=str(port["id"]),
            mac=str(port["mac_address"]),
            ipv4=ipv4,
            ipv6=ipv6,
            mtu=int(network.get("mtu", 1450)),
        )
        watch.poll()
    watch.wait_all("ACTIVE", ACTIVE_TIMEOUT_S)
    return network, watch.history


def _l2pop_phase(
    fabric: Fabric,
    cp: ControlPlane,
    cfg: DemoConfig,
    plans: list[VmPlan],
    result: DemoResult,
    say: Progress,
) -> None:
    network, result.transitions = bring_up_overlay(fabric, cp, cfg, plans, say)
    pinger, target = fabric.vm(result.pinger), fabric.vm(result.target)
    for vm in (pinger, target):
        fabric.wait_vm_link_up(vm.name)
    wait_until(
        lambda: _programmed(fabric, pinger.host, target, cfg.ipv6),
        timeout=PROGRAMMED_TIMEOUT_S,
        what=f"{pinger.host}'s VTEP programmed for VM {target.name}",
    )
    say(f"VM {pinger.name} ({pinger.host}) pings VM {target.name} ({target.host}) with l2pop")
    bridge = bridge_name(str(network["id"]))
    result.l2pop = measure_ping(
        fabric, pinger, target, ipv6=cfg.ipv6, name="l2pop", vxlan=vxlan_name(VNI), bridge=bridge
    )


def _baseline_phase(
    fabric: Fabric, cp: ControlPlane, cfg: DemoConfig, result: DemoResult, say: Progress
) -> None:
    cp.stop_agents()
    baseline = FloodAndLearn(fabric, vni=BASELINE_VNI, ipv6_underlay=cfg.ipv6_underlay)
    baseline.setup()
    for vm in fabric.vms.values():
        baseline.attach(vm)
        run(["ip", "neigh", "flush", "all"], netns=vm.netns)
    pinger, target = fabric.vm(result.pinger), fabric.vm(result.target)
    say(f"same ping on a flood-and-learn VXLAN network (VNI {BASELINE_VNI}, no control plane)")
    result.baseline = measure_ping(
        fabric,
        pinger,
        target,
        ipv6=cfg.ipv6,
        name="baseline",
        vxlan=baseline.vxlan,
        bridge=baseline.bridge,
    )
    if cfg.keep:  # leave l2pop in charge again
        baseline.teardown()
        for host in fabric.hosts:
            cp.start_agent(host, mode=cfg.mode, ipv6_underlay=cfg.ipv6_underlay)


def run_demo(cfg: DemoConfig, say: Progress) -> DemoResult:
    """Run the whole demo; the lab is torn down at the end unless ``cfg.keep``."""
    if cfg.evpn:
        from l2pop.lab.evpn_demo import run_evpn_demo

        return run_evpn_demo(cfg, say)
    plans, pinger, target = plan_vms(cfg.hosts, cfg.vms_per_host)
    started = time.monotonic()
    fabric = Fabric(cfg.hosts, workdir=cfg.workdir)
    result = DemoResult(config=asdict(cfg), prefix=fabric.prefix, pinger=pinger, target=target)
    result.config["workdir"] = str(fabric.workdir)
    with fabric:
        mark = _timed(result.timings_s, "fabric", started)
        say(f"lab {fabric.prefix}: {cfg.hosts} hosts, {len(plans)} VMs, files in {fabric.workdir}")
        cp = ControlPlane.start(fabric)
        if cfg.agent_command:
            cp.agent_command = list(cfg.agent_command)
        say(f"server up: {cp.inner_url} on the underlay, {cp.url} from here")
        mark = _timed(result.timings_s, "server", mark)
        try:
            _l2pop_phase(fabric, cp, cfg, plans, result, say)
            mark = _timed(result.timings_s, "l2pop", mark)
            _baseline_phase(fabric, cp, cfg, result, say)
            _timed(result.timings_s, "baseline", mark)
        finally:
            cp.close()
        if cfg.keep:
            info = {
                "server_url": cp.url,
                "admin_token_file": str(fabric.workdir / "admin.token"),
                "ca_file": str(cp.ca_file or ""),
            }
            info |= explain_hints(fabric, cp, fabric.vm(pinger).host, fabric.vm(target))
            result.kept = fabric.keep(info)
    result.timings_s["total"] = round(time.monotonic() - started, 3)
    return result
