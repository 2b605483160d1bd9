"""Derived kernel facts shared by the Linux and the fake dataplane."""

from __future__ import annotations

import hashlib

__all__ = ["FLOOD_MAC", "VXLAN_PORT", "bridge_mac"]

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
