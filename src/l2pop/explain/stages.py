"""``l2pop explain``'s stages: server -> scope -> desired -> agent -> kernel (DESIGN.md §5).

Pure: a :class:`~l2pop.explain.facts.Facts` in, a :class:`Report` out. Each stage
says ``ok`` True/False, or None when it was not asked (no agent, no kernel read)
or cannot be judged because an earlier stage left nothing to compare. The
verdict is ``broken`` when any stage failed, the first failing stage is named,
and later stages are still judged where they can be (an agent behind its
stream with a correct kernel is worth knowing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from l2pop.core.state import Entries, Neigh, Unicast
from l2pop.dataplane.base import KernelNetwork, bridge_name, vxlan_name
from l2pop.explain.facts import Facts, NetworkFacts, PortFacts

__all__ = ["STAGES", "Report", "Stage", "expected_entries", "explain"]

STAGES = ("server", "scope", "desired", "agent", "kernel")
FLOOD_MAC = "00:00:00:00:00:00"


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    ok: bool | None
    detail: str
    compared: tuple[str, ...] = ()  # the exact entries looked at (``--detailed``)

    def to_json(self, detailed: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "ok": self.ok, "detail": self.detail}
        if detailed:
            out["compared"] = list(self.compared)
        return out


@dataclass(frozen=True, slots=True)
class Report:
    host: str
    target: str
    stages: tuple[Stage, ...]
    via: str | None = None  # "vxlan-100 -> 192.0.2.4", or "local"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def first_failure(self) -> Stage | None:
        return next((s for s in self.stages if s.ok is False), None)

    @property
    def verdict(self) -> str:
        return "broken" if self.first_failure is not None else "ok"

    @property
    def line(self) -> str:
        """The verdict as one line (ovn-trace's last line)."""
        failed = self.first_failure
        if failed is not None:
            return f"BROKEN at stage {failed.name}: {failed.detail}"
        if self.via == "local":
            return f"REACHABLE: local ({self.target} is on {self.host} itself)"
        return f"REACHABLE via {self.via}"

    def to_json(self, detailed: bool = False) -> dict[str, Any]:
        failed = self.first_failure
        return {
            "host": self.host,
            "target": self.target,
            "verdict": self.verdict,
            "first_failure": None if failed is None else failed.name,
            "stages": [s.to_json(detailed) for s in self.stages],
        }


def expected_entries(port: PortFacts, facts: Facts, vtep: str) -> Entries:
    """What HOST must hold to reach ``facts.target`` on ``port`` behind ``vtep``."""
    mac = port.mac_for(facts.target)
    return Entries(
        frozenset({vtep}),
        frozenset({Unicast(mac, vtep)}),
        frozenset(Neigh(ip, mac) for ip in port.ips_for(facts.target)),
    )


def _short(port: PortFacts) -> str:
    return f"port {port.id[:8]} ({port.mac})"


def _net(network: NetworkFacts) -> str:
    return f"network {network.label} (VNI {network.vni})"


def describe(entries: Entries) -> list[str]:
    """One readable line per entry, in a stable order."""
    out = [f"flood {FLOOD_MAC} -> {vtep}" for vtep in sorted(entries.flood)]
    out += [f"unicast {u.mac} -> {u.vtep}" for u in sorted(entries.unicast)]
    out += [f"neigh {n.ip} lladdr {n.mac}" for n in sorted(entries.neigh)]
    return out


def _compare(want: Entries, have: Entries) -> tuple[str, ...]:
    held = set(describe(have & want))
    return tuple(f"{line}: {'held' if line in held else 'MISSING'}" for line in describe(want))


def _server(facts: Facts) -> Stage:
    port, network = facts.port, facts.network
    if port is None:
        where = f" on network {facts.network.label}" if facts.network is not None else ""
        return Stage(
            "server", False, f"no port owns {facts.target}{where} (no fixed IP, pair or MAC)"
        )
    if network is None:
        return Stage("server", False, f"{_short(port)}: its network {port.network_id} is gone")
    where = f"{_short(port)} on {_net(network)}"
    if not port.host:
        return Stage("server", False, f"{where} is not bound to a host ({port.status})")
    vtep = facts.tunnel_ips.get(port.host)
    if vtep is None:
        return Stage(
            "server", False, f"{where} is {port.status}: bound to {port.host}, not registered"
        )
    if port.status == "BUILD":
        why = f"its host {port.host} has not reported the tap"
        return Stage("server", False, f"port is BUILD: {why} ({where})")
    if port.status != "ACTIVE":
        why = "admin_state_up is false" if not port.admin_state_up else "its tap is gone"
        return Stage("server", False, f"port is {port.status}: {why} ({where}, {port.host})")
    return Stage("server", True, f"{where}, host {port.host} ({vtep}), ACTIVE")


def _scope(facts: Facts, port: PortFacts, network: NetworkFacts) -> Stage:
    if facts.host_tunnel_ip is None:
        return Stage("scope", False, f"host {facts.host} is not registered")
    if facts.desired is None or network.id not in facts.desired.networks:
        return Stage(
            "scope",
            False,
            f"{facts.host} has no port on network {network.label}, so it is told nothing about it",
        )
    return Stage("scope", True, f"{facts.host} has a port on network {network.label}")


def _desired(facts: Facts, network: NetworkFacts, want: Entries) -> Stage:
    assert facts.desired is not None
    have = facts.desired.networks[network.id].entries
    compared = _compare(want, have)
    missing = want - have
    revision = facts.desired.revision
    if missing:
        lacks = ", ".join(describe(missing))
        detail = f"the server's desired state of {facts.host} lacks {lacks} (revision {revision})"
        return Stage("desired", False, detail, compared)
    detail = f"{len(want)} entries for {facts.target} at revision {revision} (R)"
    return Stage("desired", True, detail, compared)


def _agent(facts: Facts, network: NetworkFacts, want: Entries) -> Stage:
    probe = facts.agent
    if probe is None:
        return Stage("agent", None, "not asked (pass --agent URL)")
    if probe.value is None:
        return Stage("agent", False, f"agent at {probe.source} did not answer: {probe.error}")
    held = probe.value
    wanted_revision = facts.desired.revision if facts.desired is not None else 0
    have = held.networks.get(network.id, Entries())
    compared = _compare(want, have)
    if held.revision < wanted_revision:
        detail = f"agent at revision {held.revision} < {wanted_revision}: stream behind"
        return Stage("agent", False, detail, compared)
    missing = want - have
    if missing:
        detail = f"{facts.host}'s agent does not hold {', '.join(describe(missing))}"
        return Stage("agent", False, detail, compared)
    detail = f"agent at revision {held.revision} >= {wanted_revision} holds them"
    return Stage("agent", True, detail, compared)


def _kernel_problems(host: str, net: KernelNetwork, want: Entries) -> list[str]:
    dev = vxlan_name(net.vni)
    neigh_dev = dev if net.proxy else (net.bridge or dev)
    have = net.entries
    problems: list[str] = []
    for vtep in sorted(want.flood - have.flood):
        problems.append(f"{host}'s kernel has no flood entry {FLOOD_MAC} -> {vtep} on {dev}")
    for mac, vtep in sorted(want.unicast - have.unicast):
        other = sorted(u.vtep for u in have.unicast | net.partial if u.mac == mac and u.vtep)
        if other and vtep not in other:
            problems.append(
                f"{host}'s kernel has FDB entry {mac} -> {', '.join(other)} on {dev}, "
                f"expected dst {vtep}"
            )
        elif any(u.mac == mac for u in net.partial):
            problems.append(
                f"{host}'s kernel has only half of FDB entry {mac} -> {vtep} on {dev} "
                "(self with dst and master static go together in suppress mode)"
            )
        else:
            problems.append(f"{host}'s kernel has no FDB entry {mac} -> {vtep} on {dev}")
    for ip, mac in sorted(want.neigh - have.neigh):
        other = sorted(n.mac for n in have.neigh if n.ip == ip)
        if other:
            problems.append(
                f"{host}'s kernel has neigh entry {ip} lladdr {', '.join(other)} on "
                f"{neigh_dev}, expected lladdr {mac}"
            )
        else:
            problems.append(
                f"{host}'s kernel has no permanent neigh entry {ip} lladdr {mac} on {neigh_dev}"
            )
    return problems


def _kernel(facts: Facts, network: NetworkFacts, want: Entries) -> Stage:
    probe = facts.kernel
    if probe is None:
        return Stage("kernel", None, "not asked (pass --local on the host, or --agent URL)")
    if probe.value is None:
        return Stage("kernel", False, f"cannot read {facts.host}'s kernel: {probe.error}")
    net = probe.value.get(network.vni)
    if net is None:
        dev = vxlan_name(network.vni)
        return Stage("kernel", False, f"{facts.host}'s kernel has no VXLAN device {dev}")
    compared = _compare(want, net.entries)
    problems = _kernel_problems(facts.host, net, want)
    if net.bridge != bridge_name(network.id):
        problems.append(
            f"{vxlan_name(net.vni)} is not a port of bridge {bridge_name(network.id)} "
            f"(master: {net.bridge})"
        )
    if problems:
        return Stage("kernel", False, "; ".join(problems), compared)
    detail = f"{facts.host}'s kernel ({probe.source}) holds them on {vxlan_name(net.vni)}"
    return Stage("kernel", True, detail, compared)


def _skipped(names: tuple[str, ...], why: str) -> list[Stage]:
    return [Stage(name, None, f"skipped: {why}") for name in names]


def explain(facts: Facts) -> Report:
    """Judge every stage for ``facts``."""
    target = str(facts.target)
    server = _server(facts)
    port, network = facts.port, facts.network
    if port is None or network is None or (server.ok is False and not port.host):
        return Report(facts.host, target, (server, *_skipped(STAGES[1:], "no port to look for")))
    scope = _scope(facts, port, network)
    if port.host == facts.host and server.ok:
        local = [Stage(name, True, "local") for name in STAGES[1:]]
        return Report(facts.host, target, (server, *local), via="local")
    if not scope.ok:
        rest = _skipped(STAGES[2:], f"{facts.host} is not told about network {network.label}")
        return Report(facts.host, target, (server, scope, *rest))
    vtep = facts.tunnel_ips.get(port.host)
    if vtep is None:
        rest = _skipped(STAGES[2:], f"{port.host} has no tunnel IP (not registered)")
        return Report(facts.host, target, (server, scope, *rest))
    want = expected_entries(port, facts, vtep)
    judges: tuple[Callable[[Facts, NetworkFacts, Entries], Stage], ...] = (
        _desired,
        _agent,
        _kernel,
    )
    stages = (server, scope, *(judge(facts, network, want) for judge in judges))
    return Report(facts.host, target, stages, via=f"{vxlan_name(network.vni)} -> {vtep}")
