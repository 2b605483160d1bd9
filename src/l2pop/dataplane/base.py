"""The dataplane interface: operations as data, and what the kernel holds.

The reconciler (``l2pop.agent.reconcile``) compares a host's desired state
with :meth:`Dataplane.read` and emits a list of :data:`Op` values; a
dataplane applies them in one batch. The Linux implementation
(``l2pop.dataplane.linux``) is the only code that talks to the kernel; the
fake (``l2pop.dataplane.fake``) holds the same state in memory and passes the
same conformance suite.

Kernel object names are fixed by DESIGN.md §5 and derived here only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from l2pop.core.state import Entries, Unicast

__all__ = [
    "AddFlood",
    "AddNeigh",
    "AddUnicast",
    "AttachTap",
    "Dataplane",
    "DelFlood",
    "DelNeigh",
    "DelUnicast",
    "EnsureNetwork",
    "KernelNetwork",
    "Mode",
    "Op",
    "RemoveNetwork",
    "TapEvent",
    "bridge_name",
    "tap_name",
    "vxlan_name",
]


class Mode(StrEnum):
    """How the local VTEP answers ARP/NS for remote VMs."""

    PROXY = "proxy"  # VXLAN device flag `proxy`: answers from its neighbour table
    SUPPRESS = "suppress"  # bridge port `neigh_suppress on`: bridge answers from its table


def bridge_name(network_id: str) -> str:
    return "brq" + network_id[:11]


def vxlan_name(vni: int) -> str:
    return f"vxlan-{vni}"


def tap_name(port_id: str) -> str:
    return "tap" + port_id[:11]


@dataclass(frozen=True, slots=True)
class EnsureNetwork:
    """Create (or repair) the bridge and VXLAN device of a network.

    Idempotent: an existing, correct device is left alone (never bounced).
    """

    network_id: str
    vni: int
    mtu: int


@dataclass(frozen=True, slots=True)
class RemoveNetwork:
    """Delete the bridge and the VXLAN device of a network that left the host."""

    vni: int
    bridge: str


@dataclass(frozen=True, slots=True)
class AddFlood:
    vni: int
    vtep: str


@dataclass(frozen=True, slots=True)
class DelFlood:
    vni: int
    vtep: str


@dataclass(frozen=True, slots=True)
class AddUnicast:
    """`fdb replace <mac> dev vxlan-<vni> dst <vtep> self permanent`; `master static` too
    in suppress mode."""

    vni: int
    mac: str
    vtep: str


@dataclass(frozen=True, slots=True)
class DelUnicast:
    vni: int
    mac: str
    vtep: str


@dataclass(frozen=True, slots=True)
class AddNeigh:
    """`neigh replace <ip> lladdr <mac> nud permanent` on the VXLAN device (proxy) or bridge."""

    vni: int
    ip: str
    mac: str


@dataclass(frozen=True, slots=True)
class DelNeigh:
    vni: int
    ip: str
    mac: str


@dataclass(frozen=True, slots=True)
class AttachTap:
    """Enslave a VM's tap to its network's bridge, set its MTU and bring it up."""

    tap: str
    network_id: str
    mtu: int


Op = (
    EnsureNetwork
    | RemoveNetwork
    | AddFlood
    | DelFlood
    | AddUnicast
    | DelUnicast
    | AddNeigh
    | DelNeigh
    | AttachTap
)


@dataclass(frozen=True, slots=True)
class KernelNetwork:
    """What the kernel holds for one VXLAN device the agent owns.

    ``entries`` lists only the kinds the agent manages: ``self`` FDB entries
    with a ``dst`` (the all-zero MAC ones are ``flood``), and ``permanent``
    neighbour entries. ``bridge`` is None when the VXLAN device has no master.
    """

    vni: int
    bridge: str | None
    mtu: int
    local_ip: str | None
    proxy: bool
    entries: Entries = field(default_factory=Entries)
    # Taps enslaved to this network's bridge.
    taps: frozenset[str] = frozenset()
    # Unicast entries only half present (suppress mode: a ``self`` remote without its
    # ``master static`` twin, or, with vtep "", a ``master static`` entry without a
    # ``self`` remote; proxy mode: any ``master static`` entry, vtep ""). Not in ``entries``.
    partial: frozenset[Unicast] = frozenset()
    # False when the devices need repair that EnsureNetwork does (a device down, the
    # bridge's MAC or MTU wrong, the port flags wrong for the mode).
    sound: bool = True


@dataclass(frozen=True, slots=True)
class TapEvent:
    """A ``tap*`` device appeared (``present``) or went away."""

    tap: str
    present: bool


class Dataplane(Protocol):
    """A host's VTEP programming. Synchronous; the agent calls it from a thread."""

    @property
    def mode(self) -> Mode: ...

    def read(self) -> dict[int, KernelNetwork]:
        """Every network the agent owns (found by device name), keyed by VNI."""
        ...

    def apply(self, ops: Sequence[Op]) -> None:
        """Apply ``ops`` in order, batched. Raises DataplaneError naming the failed op."""
        ...

    def taps(self) -> frozenset[str]:
        """Names of the ``tap*`` devices present in the host's namespace."""
        ...

    def wait_tap_events(self, timeout: float) -> list[TapEvent]:
        """Block up to ``timeout`` s for tap devices appearing/disappearing (netlink
        link events, not polling); return them in order, or [] on timeout."""
        ...

    def close(self) -> None: ...
