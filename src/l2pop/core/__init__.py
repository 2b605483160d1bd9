"""The pure core: model, lifecycle, desired state and deltas. No I/O here.

Everything else in l2pop is an adapter around these functions.
"""

from __future__ import annotations

from l2pop.core.lifecycle import PortEvent, is_legal, next_status
from l2pop.core.model import (
    DEFAULT_MTU,
    AddressPair,
    Host,
    Network,
    Port,
    PortStatus,
    normalize_ip,
    normalize_ip_or_cidr,
    normalize_mac,
    validate_vni,
)
from l2pop.core.remote import REMOTE_PUBLISHER, RemoteEndpoint, RemoteKind
from l2pop.core.snapshot import NetworkSlice, Snapshot, desired, publication
from l2pop.core.state import (
    EMPTY,
    Delta,
    Entries,
    HostState,
    Neigh,
    NetworkDelta,
    NetworkState,
    Unicast,
    apply,
    diff,
)
from l2pop.core.step import (
    Event,
    HostDeleted,
    HostUpserted,
    NetworkDeleted,
    NetworkUpserted,
    PortDeleted,
    PortUpserted,
    RemoteDeleted,
    RemoteUpserted,
    step,
    step_all,
)

__all__ = [
    "DEFAULT_MTU",
    "EMPTY",
    "REMOTE_PUBLISHER",
    "AddressPair",
    "Delta",
    "Entries",
    "Event",
    "Host",
    "HostDeleted",
    "HostState",
    "HostUpserted",
    "Neigh",
    "Network",
    "NetworkDeleted",
    "NetworkDelta",
    "NetworkSlice",
    "NetworkState",
    "NetworkUpserted",
    "Port",
    "PortDeleted",
    "PortEvent",
    "PortStatus",
    "PortUpserted",
    "RemoteDeleted",
    "RemoteEndpoint",
    "RemoteKind",
    "RemoteUpserted",
    "Snapshot",
    "Unicast",
    "apply",
    "desired",
    "diff",
    "is_legal",
    "next_status",
    "normalize_ip",
    "normalize_ip_or_cidr",
    "normalize_mac",
    "publication",
    "step",
    "step_all",
    "validate_vni",
]
