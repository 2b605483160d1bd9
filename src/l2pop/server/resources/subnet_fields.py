"""Subnet request bodies -> validated fields (shape only; the service checks the rest).

The address arithmetic (cidr, gateway, pools) is :mod:`l2pop.core.ipam`'s;
here: which fields a create or update may carry and the simple ones' types.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from l2pop.core.model import normalize_ip, normalize_ip_or_cidr
from l2pop.errors import ValidationError
from l2pop.server.store.base import JSON

__all__ = ["SUBNET_CREATE_FIELDS", "SUBNET_UPDATE_FIELDS", "parse_subnet_fields"]

SUBNET_UPDATE_FIELDS = frozenset(
    {"name", "description", "gateway_ip", "allocation_pools", "enable_dhcp",
     "dns_nameservers", "host_routes"}
)  # fmt: skip
SUBNET_CREATE_FIELDS = SUBNET_UPDATE_FIELDS | {
    "network_id", "cidr", "ip_version", "ipv6_address_mode", "ipv6_ra_mode",
    "subnetpool_id", "project_id", "tenant_id", "use_default_subnetpool",
}  # fmt: skip
IPV6_MODES = (None, "slaac", "dhcpv6-stateful", "dhcpv6-stateless")
MAX_TEXT = 255


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise ValidationError(field, value, f"must be a string of at most {MAX_TEXT} characters")
    return value


def _list(value: object, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValidationError(field, value, "must be a list")
    return value


def _host_routes(value: object) -> list[JSON]:
    routes = []
    for item in _list(value, "host_routes"):
        if not isinstance(item, dict) or set(item) != {"destination", "nexthop"}:
            raise ValidationError("host_routes", item, 'items are {"destination", "nexthop"}')
        routes.append(
            {
                "destination": normalize_ip_or_cidr(item["destination"], "host_routes.destination"),
                "nexthop": normalize_ip(item["nexthop"], "host_routes.nexthop"),
            }
        )
    return routes


def _ip_version(value: object) -> int:
    # The openstack CLI sends integers; a numeric string is accepted as Neutron does.
    if isinstance(value, str) and value.strip() in ("4", "6"):
        return int(value)
    if isinstance(value, bool) or value not in (4, 6):
        raise ValidationError("ip_version", value, "must be 4 or 6")
    assert isinstance(value, int)
    return value


def parse_subnet_fields(body: Mapping[str, Any], *, create: bool) -> JSON:
    """Validated subnet fields present in ``body``; cidr/ip_version are create-only (400)."""
    allowed = SUBNET_CREATE_FIELDS if create else SUBNET_UPDATE_FIELDS
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValidationError(unknown[0], body[unknown[0]], "unknown or read-only subnet field")
    if create:
        for required in ("network_id", "cidr"):
            if body.get(required) is None:
                raise ValidationError(
                    required, None, "is required (subnet pools are not supported)"
                )
    out: JSON = {}
    for field, value in body.items():
        if field in ("name", "description", "network_id", "project_id", "tenant_id", "cidr"):
            out[field] = _text(value, field)
        elif field == "ip_version":
            out[field] = _ip_version(value)
        elif field == "enable_dhcp":
            if not isinstance(value, bool):
                raise ValidationError(field, value, "must be true or false")
            out[field] = value
        elif field == "gateway_ip":
            out[field] = None if value is None else _text(value, field)
        elif field == "allocation_pools":
            out[field] = _list(value, field)
        elif field == "dns_nameservers":
            out[field] = [normalize_ip(v, "dns_nameservers") for v in _list(value, field)]
        elif field == "host_routes":
            out[field] = _host_routes(value)
        elif field in ("ipv6_address_mode", "ipv6_ra_mode"):
            if value not in IPV6_MODES:
                raise ValidationError(field, value, f"one of {', '.join(map(str, IPV6_MODES))}")
            out[field] = value
        elif field in ("subnetpool_id", "use_default_subnetpool") and value not in (None, False):
            raise ValidationError(field, value, "subnet pools are not supported")
    return out
