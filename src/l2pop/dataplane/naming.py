"""Derived kernel facts shared by the Linux and the fake dataplane."""

from __future__ import annotations

import hashlib

from l2pop.core.model import normalize_ip
from l2pop.dataplane.base import Mode
from l2pop.errors import ValidationError

__all__ = ["FLOOD_MAC", "VXLAN_PORT", "bridge_mac", "parse_mode", "tunnel_ip"]

# The all-zero MAC of the flood (head-end replication) FDB entries.
FLOOD_MAC = "00:00:00:00:00:00"
VXLAN_PORT = 4789


def bridge_mac(local_ip: str, bridge: str) -> str:
    """The bridge's own locally administered unicast MAC (``02:...``).

    A bridge without an address of its own takes one from its ports and changes
    it when ports come and go, and every change flushes its neighbour table
    (suppress mode keeps its entries there). Derived from the host's tunnel IP
    and the bridge name, so it is stable across agent restarts and unique per host.
    """
    digest = hashlib.sha256(f"{local_ip}/{bridge}".encode()).digest()
    return ":".join(f"{b:02x}" for b in (0x02, *digest[:5]))


def parse_mode(value: object) -> Mode:
    """``proxy`` or ``suppress``; anything else is a ValidationError naming the field."""
    for mode in Mode:
        if value == mode.value:
            return mode
    raise ValidationError("mode", value, "must be proxy or suppress")


def tunnel_ip(value: object) -> str:
    """The canonical spelling of a tunnel IP (the kernel reports it that way)."""
    return normalize_ip(value, "tunnel_ip")
