"""What ``l2pop explain`` looks at, as plain values (no I/O here).

The gatherers (:mod:`l2pop.explain.gather` for the CLI, the server's fabric
view for the browser) fill a :class:`Facts`; :func:`l2pop.explain.stages.explain`
turns it into stages. Keeping the two apart lets the stage logic be tested on
hand-made facts and lets the server and the CLI share it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from l2pop.core.model import normalize_ip, normalize_mac
from l2pop.core.state import Entries, NetworkState
from l2pop.dataplane.base import KernelNetwork
from l2pop.errors import ValidationError

__all__ = [
    "AgentHeld",
    "Ambiguous",
    "DesiredFacts",
    "Facts",
    "NetworkFacts",
    "PortFacts",
    "Probe",
    "Target",
    "candidates",
    "parse_target",
    "resolve",
]

JSON = dict[str, Any]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Target:
    """What HOST's VMs want to reach: an IP (v4/v6) or a MAC, in canonical spelling."""

    kind: str  # "ip" or "mac"
    value: str

    def __str__(self) -> str:
        return self.value


def parse_target(text: str) -> Target:
    """An IP or a MAC; anything else is a ValidationError (a usage error for the CLI)."""
    if len(text.replace("-", ":").split(":")) == 6 and "::" not in text:
        try:
            return Target("mac", normalize_mac(text, "target"))
        except ValidationError:
            pass
    try:
        return Target("ip", normalize_ip(text, "target"))
    except ValidationError:
        raise ValidationError("target", text, "not an IP address or a unicast MAC") from None


@dataclass(frozen=True, slots=True)
class PortFacts:
    """A port as the server holds it (the fields explain needs)."""

    id: str
    network_id: str
    mac: str
    ips: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...]  # (ip or cidr, mac): the pair's MAC filled in
    host: str
    status: str
    admin_state_up: bool = True

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> PortFacts:
        mac = str(rec["mac_address"])
        return cls(
            id=str(rec["id"]),
            network_id=str(rec["network_id"]),
            mac=mac,
            ips=tuple(str(ip["ip_address"]) for ip in rec.get("fixed_ips", [])),
            pairs=tuple(
                (str(p["ip_address"]), str(p.get("mac_address") or mac))
                for p in rec.get("allowed_address_pairs", [])
            ),
            host=str(rec.get("binding:host_id") or ""),
            status=str(rec["status"]),
            admin_state_up=bool(rec.get("admin_state_up", True)),
        )

    def owns(self, target: Target) -> bool:
        if target.kind == "mac":
            return target.value == self.mac or any(m == target.value for _, m in self.pairs)
        return target.value in self.ips or any(ip == target.value for ip, _ in self.pairs)

    def mac_for(self, target: Target) -> str:
        """The MAC that frames to ``target`` carry (a pair's own MAC for a pair's IP)."""
        if target.kind == "mac":
            return target.value
        if target.value in self.ips:
            return self.mac
        return next(m for ip, m in self.pairs if ip == target.value)

    def ips_for(self, target: Target) -> tuple[str, ...]:
        """The IPs whose neighbour entries HOST needs for ``target`` (single addresses:
        a CIDR pair gets no neighbour entry, DESIGN.md §5)."""
        if target.kind == "ip":
            return (target.value,)
        own = self.ips if target.value == self.mac else ()
        paired = tuple(ip for ip, m in self.pairs if m == target.value and "/" not in ip)
        return own + paired


@dataclass(frozen=True, slots=True)
class NetworkFacts:
    id: str
    name: str
    vni: int

    @property
    def label(self) -> str:
        return self.name or self.id


@dataclass(frozen=True, slots=True)
class DesiredFacts:
    """HOST's desired state, and R: the revision of the last change that concerned HOST."""

    revision: int
    networks: Mapping[str, NetworkState]


@dataclass(frozen=True, slots=True)
class AgentHeld:
    """What HOST's agent holds: its revision and, per network id, its entries."""

    revision: int
    networks: Mapping[str, Entries]


@dataclass(frozen=True, slots=True)
class Probe(Generic[T]):
    """One answer from HOST's agent or kernel: a value, or why there is none."""

    source: str
    value: T | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything explain compares. ``agent``/``kernel`` None: that stage was not asked."""

    host: str
    target: Target
    host_tunnel_ip: str | None  # None: HOST is not registered
    tunnel_ips: Mapping[str, str]  # every registered host's VTEP
    port: PortFacts | None
    network: NetworkFacts | None
    desired: DesiredFacts | None
    agent: Probe[AgentHeld] | None = None
    kernel: Probe[Mapping[int, KernelNetwork]] | None = None
    extra: JSON = field(default_factory=dict)


class Ambiguous(Exception):
    """TARGET is owned by ports on several networks and no ``--network`` picks one."""

    def __init__(self, target: Target, networks: Sequence[str]) -> None:
        self.target = target
        self.networks = tuple(networks)
        super().__init__(
            f"{target} is on several networks: {', '.join(self.networks)}; "
            "pick one with --network ID"
        )


def candidates(target: Target, ports: Sequence[PortFacts]) -> list[PortFacts]:
    """The ports that own ``target`` (fixed IP, pair IP, MAC or pair MAC)."""
    return [p for p in ports if p.owns(target)]


def resolve(
    target: Target,
    ports: Sequence[PortFacts],
    network_id: str | None,
    labels: Mapping[str, str] | None = None,
) -> PortFacts | None:
    """The one port that owns ``target`` (on ``network_id`` when given); None when none
    does. Several owners on different networks without ``network_id``: :class:`Ambiguous`
    naming them (``labels``: network id -> a readable "name (id)")."""
    owners = [p for p in candidates(target, ports) if network_id in (None, p.network_id)]
    if not owners:
        return None
    networks = sorted({p.network_id for p in owners})
    if len(networks) > 1:
        names = labels or {}
        raise Ambiguous(target, [names.get(n, n) for n in networks])
    # Same network, several owners (a pair shared by two ports, keepalived-style):
    # an ACTIVE one is what the desired state publishes.
    return sorted(owners, key=lambda p: (p.status != "ACTIVE", p.id))[0]
