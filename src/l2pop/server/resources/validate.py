"""Request bodies -> validated fields. Anything unexpected is a 400, naming the field.

Only the shape and the values are checked here; conflicts with stored state
(duplicates, lifecycle) are the service's business.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from l2pop.core.model import (
    normalize_ip,
    normalize_ip_or_cidr,
    normalize_mac,
    validate_mtu,
    validate_vni,
)
from l2pop.errors import ValidationError
from l2pop.server.store.base import JSON

__all__ = [
    "HOST_NAME_RE",
    "NETWORK_CREATE_FIELDS",
    "NETWORK_UPDATE_FIELDS",
    "PORT_CREATE_FIELDS",
    "PORT_UPDATE_FIELDS",
    "ascii_digits",
    "parse_host",
    "parse_network",
    "parse_port",
    "parse_status",
    "unwrap",
]

MAX_TEXT = 255
# Host names appear in URL paths and log lines: a DNS-like name, no slashes.
# Always fullmatch: "$" also matches before a trailing newline.
HOST_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,253}")

_COMMON = frozenset({"name", "admin_state_up", "description", "project_id", "tenant_id"})
NETWORK_UPDATE_FIELDS = _COMMON | {"mtu", "provider:segmentation_id", "provider:network_type"}
NETWORK_CREATE_FIELDS = NETWORK_UPDATE_FIELDS | {"provider:physical_network", "shared"}
PORT_UPDATE_FIELDS = _COMMON | {
    "mac_address",
    "fixed_ips",
    "allowed_address_pairs",
    "binding:host_id",
    "device_owner",
    "device_id",
}
PORT_CREATE_FIELDS = PORT_UPDATE_FIELDS | {"network_id"}


def ascii_digits(text: str) -> bool:
    """Only 0-9: ``str.isdigit`` is also true for "²" and other digits ``int`` refuses."""
    return text.isascii() and text.isdigit()


def unwrap(body: object, wrapper: str) -> Mapping[str, Any]:
    """``{"port": {...}}`` -> the inner object; anything else is a 400."""
    if not isinstance(body, dict) or set(body) != {wrapper}:
        raise ValidationError("body", _short(body), f'must be {{"{wrapper}": {{...}}}}')
    inner = body[wrapper]
    if not isinstance(inner, dict):
        raise ValidationError(wrapper, _short(inner), "must be a JSON object")
    return inner


def _short(value: object) -> object:
    text = repr(value)
    return value if len(text) <= 80 else text[:77] + "..."


def _check_fields(body: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValidationError(unknown[0], body[unknown[0]], f"unknown or read-only {what} field")


def _text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, _short(value), "must be a string")
    if len(value) > MAX_TEXT:
        raise ValidationError(field, _short(value), f"longer than {MAX_TEXT} characters")
    return value


def _bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(field, _short(value), "must be true or false")
    return value


def _numeric(value: object) -> object:
    """A numeric string as its integer (Neutron converts; the openstack CLI sends "1500")."""
    if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]{1,12}", value.strip()):
        return int(value)
    return value


def parse_network(body: Mapping[str, Any], *, create: bool) -> JSON:
    """Validated network fields present in ``body`` (defaults are the service's)."""
    _check_fields(body, NETWORK_CREATE_FIELDS if create else NETWORK_UPDATE_FIELDS, "network")
    out: JSON = {}
    for field, value in body.items():
        if field in ("name", "description", "project_id", "tenant_id"):
            out[field] = _text(value, field)
        elif field in ("admin_state_up", "shared"):
            out[field] = _bool(value, field)
        elif field == "mtu":
            out[field] = validate_mtu(_numeric(value))
        elif field == "provider:segmentation_id":
            if value is not None:
                out[field] = validate_vni(_numeric(value))
        elif field == "provider:network_type":
            if value not in (None, "vxlan"):
                raise ValidationError(field, _short(value), 'only "vxlan" networks exist here')
        elif field == "provider:physical_network" and value is not None:
            raise ValidationError(field, _short(value), "VXLAN networks have no physical network")
    if out.get("shared"):
        raise ValidationError("shared", True, "shared networks are not supported")
    out.pop("shared", None)
    return out


def _fixed_ips(value: object) -> list[JSON]:
    """``[{"ip_address"?, "subnet_id"?}]``: an address, a subnet to pick from, or both."""
    if not isinstance(value, list):
        raise ValidationError("fixed_ips", _short(value), "must be a list")
    out = []
    for item in value:
        if not isinstance(item, dict) or not ({"ip_address", "subnet_id"} & set(item)):
            raise ValidationError(
                "fixed_ips", _short(item), 'items are {"ip_address"?, "subnet_id"?} (one at least)'
            )
        _check_fields(item, frozenset({"ip_address", "subnet_id"}), "fixed_ips")
        entry: JSON = {}
        if "subnet_id" in item:
            entry["subnet_id"] = _text(item["subnet_id"], "fixed_ips.subnet_id")
        if "ip_address" in item:
            entry["ip_address"] = normalize_ip(item["ip_address"], "fixed_ips.ip_address")
        out.append(entry)
    addresses = [ip["ip_address"] for ip in out if "ip_address" in ip]
    if len(set(addresses)) != len(addresses):
        raise ValidationError("fixed_ips", _short(value), "an address is repeated")
    return out


def _address_pairs(value: object) -> list[JSON]:
    if not isinstance(value, list):
        raise ValidationError("allowed_address_pairs", _short(value), "must be a list")
    out = []
    for item in value:
        if not isinstance(item, dict) or "ip_address" not in item:
            raise ValidationError(
                "allowed_address_pairs", _short(item), 'items are {"ip_address", "mac_address"?}'
            )
        _check_fields(item, frozenset({"ip_address", "mac_address"}), "allowed_address_pairs")
        ip = normalize_ip_or_cidr(item["ip_address"], "allowed_address_pairs.ip_address")
        pair: JSON = {"ip_address": ip}
        if item.get("mac_address") is not None:
            pair["mac_address"] = normalize_mac(
                item["mac_address"], "allowed_address_pairs.mac_address"
            )
        out.append(pair)
    return out


_TEXT_FIELDS = frozenset(
    {"name", "description", "project_id", "tenant_id", "device_owner", "device_id", "network_id"}
)


def parse_port(body: Mapping[str, Any], *, create: bool) -> JSON:
    """Validated port fields present in ``body``."""
    _check_fields(body, PORT_CREATE_FIELDS if create else PORT_UPDATE_FIELDS, "port")
    if create and "network_id" not in body:
        raise ValidationError("network_id", None, "is required")
    out: JSON = {}
    for field, value in body.items():
        if field in _TEXT_FIELDS:
            out[field] = _text(value, field)
        elif field == "binding:host_id":
            out[field] = "" if value is None else _text(value, field)
        elif field == "admin_state_up":
            out[field] = _bool(value, field)
        elif field == "mac_address":
            out[field] = normalize_mac(value)
        elif field == "fixed_ips":
            out[field] = _fixed_ips(value)
        elif field == "allowed_address_pairs":
            out[field] = _address_pairs(value)
    return out


def parse_host(body: object) -> tuple[str, str]:
    """``{"name", "tunnel_ip"}`` -> (name, canonical tunnel IP)."""
    if not isinstance(body, dict):
        raise ValidationError("body", _short(body), 'must be {"name": ..., "tunnel_ip": ...}')
    inner = body
    _check_fields(inner, frozenset({"name", "tunnel_ip"}), "host")
    name = inner.get("name")
    if not isinstance(name, str) or not HOST_NAME_RE.fullmatch(name):
        raise ValidationError("name", _short(name), "a host name: letters, digits, . _ -")
    if "tunnel_ip" not in inner:
        raise ValidationError("tunnel_ip", None, "is required")
    return name, _tunnel_ip(inner["tunnel_ip"])


def _tunnel_ip(value: object) -> str:
    """A VTEP address other hosts can send VXLAN to: one unicast, routable address."""
    tunnel_ip = normalize_ip(value, "tunnel_ip")  # canonical: ::ffff:a.b.c.d -> a.b.c.d
    address = ipaddress.ip_address(tunnel_ip)
    if address.is_loopback:
        raise ValidationError("tunnel_ip", _short(value), "a loopback address is no VTEP")
    if address == ipaddress.IPv4Address("255.255.255.255"):
        raise ValidationError("tunnel_ip", _short(value), "the broadcast address is no VTEP")
    return tunnel_ip


def parse_status(body: object) -> str:
    """``{"status": "ACTIVE"|"DOWN"}`` -> the status."""
    if not isinstance(body, dict):
        raise ValidationError("body", _short(body), 'must be {"status": "ACTIVE"|"DOWN"}')
    _check_fields(body, frozenset({"status"}), "status report")
    status = body.get("status")
    if status not in ("ACTIVE", "DOWN"):
        raise ValidationError("status", _short(status), 'must be "ACTIVE" or "DOWN"')
    assert isinstance(status, str)
    return status
