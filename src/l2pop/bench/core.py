"""``l2pop bench core``: the core's cost per change of a many-change revision.

An etcd group commit applies revisions of many changes at once; a host
touched by several gets one composed delta (:func:`l2pop.core.step_all`).
The yardstick, in the same run on the same fabric and revisions, is what the
composition replaced: every event stepped alone, and each touched host's
delta recomputed as ``diff`` of its desired state (restricted to the
networks the deltas name) before and after. Both must give the same deltas
(checked on every revision); the ratio of their times is the result.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, replace
from typing import Annotated, Any

import typer

from l2pop.core import (
    Delta,
    Event,
    Host,
    HostState,
    Network,
    Port,
    PortStatus,
    PortUpserted,
    Snapshot,
    diff,
    step,
    step_all,
)

__all__ = ["CoreBenchConfig", "register", "run_core_bench"]


@dataclass(frozen=True, slots=True)
class CoreBenchConfig:
    hosts: int = 1000
    networks: int = 100
    ports: int = 20_000
    hosts_per_network: int = 19
    batch: int = 64
    revisions: int = 200
    seed: int = 1


def _fabric(cfg: CoreBenchConfig) -> tuple[Snapshot, list[Port]]:
    hosts = [Host(f"h{i}", f"10.{i // 250}.{i % 250}.1") for i in range(cfg.hosts)]
    nets = [Network(f"n{n}", 1000 + n) for n in range(cfg.networks)]
    ports = []
    for i in range(cfg.ports):
        n = i % cfg.networks
        host = (n * cfg.hosts_per_network + i % cfg.hosts_per_network) % cfg.hosts
        mac = f"fa:16:3e:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}"
        ip = f"172.{16 + i // 62500}.{i // 250 % 250}.{i % 250 + 1}"
        ports.append(Port(f"p{i}", f"n{n}", mac, (ip,), host=f"h{host}", status=PortStatus.ACTIVE))
    return Snapshot.build(nets, hosts, ports), ports


def _in(snapshot: Snapshot, host: str, nets: set[str]) -> HostState:
    states = {}
    for net_id in nets:
        net = snapshot.networks.get(net_id)
        if net is not None and host in net.bound:
            states[net_id] = net.state_for(host)
    return HostState(states)


def _recompute(snapshot: Snapshot, events: list[Event]) -> tuple[Snapshot, dict[str, Delta]]:
    """The yardstick (step_all before composition): step each event; a host touched
    once gets that delta, a host touched by several the diff of its networks' states."""
    touched: dict[str, list[Delta]] = {}
    current = snapshot
    for event in events:
        current, deltas = step(current, event)
        for host, delta in deltas.items():
            touched.setdefault(host, []).append(delta)
    out = {}
    for host, deltas_of_host in touched.items():
        if len(deltas_of_host) == 1:
            out[host] = deltas_of_host[0]
            continue
        nets = {net_id for delta in deltas_of_host for net_id in delta.networks}
        net = diff(_in(snapshot, host, nets), _in(current, host, nets))
        if net:
            out[host] = net
    return current, out


def run_core_bench(cfg: CoreBenchConfig) -> dict[str, Any]:
    snapshot, ports = _fabric(cfg)
    rng = random.Random(cfg.seed)
    statuses = [PortStatus.ACTIVE, PortStatus.BUILD]
    revisions: list[list[Event]] = [
        [
            PortUpserted(replace(p, status=rng.choice(statuses)))
            for p in rng.sample(ports, cfg.batch)
        ]
        for _ in range(cfg.revisions)
    ]
    timings = {"step_all": 0.0, "recompute": 0.0}
    touched = 0
    current = snapshot
    for events in revisions:
        began = time.perf_counter()
        after, composed = step_all(current, events)
        middle = time.perf_counter()
        _, recomputed = _recompute(current, events)
        timings["step_all"] += middle - began
        timings["recompute"] += time.perf_counter() - middle
        if composed != recomputed:
            raise AssertionError("step_all and the yardstick disagree")
        touched += len(composed)
        current = after
    changes = cfg.batch * cfg.revisions
    per_change = {k: round(1000 * v / changes, 4) for k, v in timings.items()}
    return {
        "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
        "ms_per_change": per_change,
        "hosts_with_a_delta_per_revision": round(touched / cfg.revisions, 1),
        "step_all_vs_recompute": round(per_change["step_all"] / per_change["recompute"], 3),
    }


def register(bench: typer.Typer) -> None:
    @bench.command("core")
    def core(
        hosts: Annotated[int, typer.Option(min=2)] = 1000,
        networks: Annotated[int, typer.Option(min=1)] = 100,
        ports: Annotated[int, typer.Option(min=2)] = 20_000,
        hosts_per_network: Annotated[int, typer.Option(min=1)] = 19,
        batch: Annotated[int, typer.Option(min=1, help="Changes per revision.")] = 64,
        revisions: Annotated[int, typer.Option(min=1, max=100_000)] = 200,
    ) -> None:
        """The core's time per change in revisions of many changes (an etcd group
        commit): step_all against stepping each event and recomputing the touched
        hosts' states, in the same run."""
        if batch > ports:
            raise typer.BadParameter("at most --ports", param_hint="--batch")
        cfg = CoreBenchConfig(hosts, networks, ports, hosts_per_network, batch, revisions)
        typer.echo(json.dumps(run_core_bench(cfg), indent=2))
