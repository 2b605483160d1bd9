"""A seeded, deterministic workload: a fabric and an event trace.

Network sizes follow a heavy-tailed law, as in real clouds: most networks
span a few hosts, a few span very many. Each network draws its *span* (the
number of hosts it may place VMs on) from a Pareto law with shape
``span_alpha`` (smaller = heavier tail), capped at ``max_span`` hosts.
Every port lands on a host of its network's span; a network with more
hosts gets proportionally more ports.

The trace has two phases. *Populate* boots ``ports`` VMs (create, bind,
ACTIVE), and *churn* then performs ``events`` operations drawn by weight:
boot a VM, delete one, migrate one to another host of its network, restart
an agent. The same :class:`WorkloadConfig` always gives the same trace.
"""

from __future__ import annotations

import ipaddress
import random
import uuid
from dataclasses import dataclass

from l2pop.core import Host, Network
from l2pop.sim.trace import (
    Action,
    ActivatePort,
    BindPort,
    CreatePort,
    DeletePort,
    Fabric,
    MigratePort,
    RestartAgent,
)

__all__ = ["Workload", "WorkloadConfig", "generate", "host_name", "tunnel_ip"]

# RFC 2544 benchmarking range for VTEPs, 10/8 for VM addresses: the simulator
# sends nothing to either, they only travel inside API bodies on 127.0.0.1.
_TUNNEL_BASE = ipaddress.IPv4Address("198.18.0.0")
_VM_BASE = ipaddress.IPv4Address("10.0.0.0")
_FIRST_VNI = 10_000


@dataclass(frozen=True, slots=True)
class WorkloadConfig:
    hosts: int = 50
    networks: int = 20
    ports: int = 1000
    events: int = 300
    span_alpha: float = 1.2
    max_span: int | None = None
    weight_boot: float = 4.0
    weight_delete: float = 4.0
    weight_migrate: float = 1.0
    weight_restart: float = 0.2
    seed: int = 1

    def __post_init__(self) -> None:
        if self.hosts < 2 or self.networks < 1 or self.ports < 0 or self.events < 0:
            raise ValueError("need hosts >= 2, networks >= 1, ports >= 0, events >= 0")
        if self.span_alpha <= 0:
            raise ValueError("span_alpha must be > 0")


@dataclass(frozen=True, slots=True)
class Workload:
    config: WorkloadConfig
    fabric: Fabric
    # network id -> the hosts its VMs may land on
    spans: dict[str, tuple[str, ...]]
    trace: tuple[Action, ...]

    def changes(self) -> int:
        """Actions that reach the API (everything but agent restarts)."""
        return sum(not isinstance(a, RestartAgent) for a in self.trace)


def host_name(index: int) -> str:
    return f"sim{index:05d}"


def tunnel_ip(index: int) -> str:
    return str(_TUNNEL_BASE + index + 1)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _spans(config: WorkloadConfig, rng: random.Random, hosts: list[str]) -> list[tuple[str, ...]]:
    cap = min(config.max_span or len(hosts), len(hosts))
    out = []
    for _ in range(config.networks):
        size = min(cap, int(rng.paretovariate(config.span_alpha)))
        out.append(tuple(sorted(rng.sample(hosts, max(1, size)))))
    return out


class _Builder:
    """Emits actions while tracking the live ports, so churn picks real ones."""

    def __init__(self, rng: random.Random, spans: dict[str, tuple[str, ...]]) -> None:
        self.rng = rng
        self.spans = spans
        self.net_ids = list(spans)
        self.net_weights = [len(spans[n]) for n in self.net_ids]
        self.hosts = sorted({h for span in spans.values() for h in span})
        self.actions: list[Action] = []
        self.live: dict[str, tuple[str, str]] = {}  # port id -> (network id, host)
        self.live_order: list[str] = []
        self.counter = 0

    def boot(self) -> None:
        net = self.rng.choices(self.net_ids, self.net_weights)[0]
        host = self.rng.choice(self.spans[net])
        self.counter += 1
        port_id = _uuid(self.rng)
        mac = "fa:16:3e:" + ":".join(f"{b:02x}" for b in self.counter.to_bytes(3, "big"))
        ip = str(_VM_BASE + self.counter)
        self.actions += [
            CreatePort(port_id, net, mac, (ip,)),
            BindPort(port_id, host),
            ActivatePort(port_id),
        ]
        self.live[port_id] = (net, host)
        self.live_order.append(port_id)

    def _pick_live(self) -> str | None:
        while self.live_order:
            index = self.rng.randrange(len(self.live_order))
            port_id = self.live_order[index]
            # swap-remove keeps picking O(1); dead ids are dropped lazily
            if port_id in self.live:
                return port_id
            self.live_order[index] = self.live_order[-1]
            self.live_order.pop()
        return None

    def delete(self) -> None:
        port_id = self._pick_live()
        if port_id is not None:
            self.actions.append(DeletePort(port_id))
            del self.live[port_id]

    def migrate(self) -> None:
        port_id = self._pick_live()
        if port_id is None:
            return
        net, host = self.live[port_id]
        targets = [h for h in self.spans[net] if h != host] or [h for h in self.hosts if h != host]
        target = self.rng.choice(targets)
        self.actions += [MigratePort(port_id, target), ActivatePort(port_id)]
        self.live[port_id] = (net, target)

    def restart(self) -> None:
        self.actions.append(RestartAgent(self.rng.choice(self.hosts)))


def generate(config: WorkloadConfig) -> Workload:
    rng = random.Random(config.seed)
    hosts = [Host(host_name(i), tunnel_ip(i)) for i in range(config.hosts)]
    names = [h.name for h in hosts]
    networks = [
        Network(_uuid(rng), _FIRST_VNI + i, name=f"simnet{i}") for i in range(config.networks)
    ]
    spans = dict(zip((n.id for n in networks), _spans(config, rng, names), strict=True))
    builder = _Builder(rng, spans)
    for _ in range(config.ports):
        builder.boot()
    operations = (builder.boot, builder.delete, builder.migrate, builder.restart)
    weights = (
        config.weight_boot,
        config.weight_delete,
        config.weight_migrate,
        config.weight_restart,
    )
    for _ in range(config.events):
        rng.choices(operations, weights)[0]()
    fabric = Fabric(tuple(hosts), tuple(networks))
    return Workload(config, fabric, spans, tuple(builder.actions))
