"""Stored records (Neutron-shaped JSON) <-> core values, and their index keys.

A record is exactly what the API shows for the resource (plus, for hosts,
the token hash, which the API never shows). The core sees only the fields
that matter for forwarding.
"""

from __future__ import annotations

from collections.abc import Iterator

from l2pop.core import AddressPair, Host, Network, Port, PortStatus
from l2pop.errors import NotFoundError
from l2pop.server.store.base import JSON

__all__ = [
    "GATEWAY",
    "HOST",
    "NETWORK",
    "PORT",
    "RD_INDEX",
    "REMOTE",
    "SUBNET",
    "HostNotFound",
    "host_of",
    "host_view",
    "index_keys",
    "network_of",
    "port_of",
]

NETWORK = "network"
PORT = "port"
HOST = "host"
# EVPN gateways (their tokens), the remote endpoints they import, and the RD index of a
# network whose VNI does not fit a type-1 RD (l2pop.server.resources.remote).
GATEWAY = "gateway"
REMOTE = "remote"
RD_INDEX = "evpn_rd"
# Subnets are not forwarding state: the core never sees them (IPAM only).
SUBNET = "subnet"


class HostNotFound(NotFoundError):
    """No host of that name is registered (raised by host and watch requests alike)."""

    neutron_type = "HostNotFound"


def network_of(rec: JSON) -> Network:
    return Network(
        id=rec["id"],
        vni=rec["provider:segmentation_id"],
        name=rec["name"],
        mtu=rec["mtu"],
        admin_state_up=rec["admin_state_up"],
    )


def port_of(rec: JSON) -> Port:
    return Port(
        id=rec["id"],
        network_id=rec["network_id"],
        mac_address=rec["mac_address"],
        fixed_ips=tuple(ip["ip_address"] for ip in rec["fixed_ips"]),
        allowed_address_pairs=tuple(
            AddressPair(p["ip_address"], p.get("mac_address")) for p in rec["allowed_address_pairs"]
        ),
        host=rec["binding:host_id"],
        status=PortStatus(rec["status"]),
        admin_state_up=rec["admin_state_up"],
        name=rec["name"],
        device_owner=rec["device_owner"],
        device_id=rec["device_id"],
    )


def port_like(rec: JSON, known: Port | None) -> Port:
    """``port_of(rec)``, reusing ``known`` (validated before) when only the status differs.

    A status report is the most frequent change: its record differs from the
    port already in the snapshot by ``status`` alone, and comparing is much
    cheaper than validating MACs and addresses again.
    """
    if known is None or not _same_but_status(known, rec):
        return port_of(rec)
    status = PortStatus(rec["status"])
    return known if known.status is status else known.with_status(status)


def _same_but_status(known: Port, rec: JSON) -> bool:
    return (
        known.id == rec["id"]
        and known.network_id == rec["network_id"]
        and known.mac_address == rec["mac_address"]
        and known.host == rec["binding:host_id"]
        and known.admin_state_up is rec["admin_state_up"]
        and known.name == rec["name"]
        and known.device_owner == rec["device_owner"]
        and known.device_id == rec["device_id"]
        and known.fixed_ips == tuple(ip["ip_address"] for ip in rec["fixed_ips"])
        and tuple((p.ip_address, p.mac_address) for p in known.allowed_address_pairs)
        == tuple((p["ip_address"], p.get("mac_address")) for p in rec["allowed_address_pairs"])
    )


def host_of(rec: JSON) -> Host:
    return Host(rec["name"], rec["tunnel_ip"])


def host_view(rec: JSON) -> JSON:
    """A host record as the API shows it: never the token hash."""
    return {k: v for k, v in rec.items() if k != "token_hash"}


def index_keys(kind: str, rec: JSON) -> Iterator[str]:
    """The unique-index keys a record claims (VNI; MAC, IPs per network/subnet; tunnel IP)."""
    if kind == NETWORK:
        yield f"vni/{rec['provider:segmentation_id']}"
    elif kind == PORT:
        net = rec["network_id"]
        yield f"mac/{net}/{rec['mac_address']}"
        for ip in rec["fixed_ips"]:
            yield f"ip/{net}/{ip['ip_address']}"
            # Per subnet too: deleting a subnet checks that no ``ipam/<subnet>/``
            # key remains (one range compare, as for a network's ports).
            if "subnet_id" in ip:
                yield f"ipam/{ip['subnet_id']}/{ip['ip_address']}"
    elif kind == HOST:
        yield f"tunnel_ip/{rec['tunnel_ip']}"
