"""OpenAPI request-body schemas (documentation and schemathesis input only).

Bodies are parsed and validated by :mod:`l2pop.server.resources.validate`, which gives
Neutron-shaped 400s; these schemas only describe them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["HOST_BODY", "NETWORK_BODY", "PORT_BODY", "STATUS_BODY", "SUBNET_BODY", "body"]

_IP = {"type": "string"}
_ADDRESS_PAIR = {
    "type": "object",
    "properties": {"ip_address": _IP, "mac_address": {"type": "string"}},
    "required": ["ip_address"],
}
_NETWORK = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "description": {"type": "string"},
        "admin_state_up": {"type": "boolean"},
        "mtu": {"type": "integer"},
        "provider:network_type": {"type": "string", "enum": ["vxlan"]},
        "provider:segmentation_id": {"type": "integer"},
        "project_id": {"type": "string"},
    },
}
_PORT = {
    "type": "object",
    "properties": {
        "network_id": {"type": "string"},
        "name": {"type": "string"},
        "mac_address": {"type": "string"},
        "fixed_ips": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"ip_address": _IP, "subnet_id": {"type": "string"}},
            },
        },
        "allowed_address_pairs": {"type": "array", "items": _ADDRESS_PAIR},
        "binding:host_id": {"type": "string"},
        "admin_state_up": {"type": "boolean"},
        "device_owner": {"type": "string"},
        "device_id": {"type": "string"},
    },
}
_POOL = {
    "type": "object",
    "properties": {"start": _IP, "end": _IP},
    "required": ["start", "end"],
}
_SUBNET = {
    "type": "object",
    "properties": {
        "network_id": {"type": "string"},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "ip_version": {"type": "integer", "enum": [4, 6]},
        "cidr": {"type": "string"},
        "gateway_ip": {"type": ["string", "null"]},
        "allocation_pools": {"type": "array", "items": _POOL},
        "enable_dhcp": {"type": "boolean"},
        "dns_nameservers": {"type": "array", "items": _IP},
        "host_routes": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"destination": {"type": "string"}, "nexthop": _IP},
                "required": ["destination", "nexthop"],
            },
        },
        "ipv6_address_mode": {"type": ["string", "null"]},
        "ipv6_ra_mode": {"type": ["string", "null"]},
    },
}
SUBNET_BODY = {"type": "object", "properties": {"subnet": _SUBNET}, "required": ["subnet"]}
NETWORK_BODY = {"type": "object", "properties": {"network": _NETWORK}, "required": ["network"]}
PORT_BODY = {"type": "object", "properties": {"port": _PORT}, "required": ["port"]}
HOST_BODY = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "tunnel_ip": _IP},
    "required": ["name", "tunnel_ip"],
}
STATUS_BODY = {
    "type": "object",
    "properties": {"status": {"type": "string", "enum": ["ACTIVE", "DOWN"]}},
    "required": ["status"],
}


def body(schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads a JSON body itself."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
