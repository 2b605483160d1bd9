"""Neutron's list and show query language: filters, ``fields``, sort, paging.

``GET /v2.0/<collection>?name=x&fields=id&fields=name&sort_key=name&limit=2``:
filters are exact matches (repeatable: any of the values), booleans match
case-insensitively, ``fixed_ips=ip_address=A`` / ``fixed_ips=subnet_id=S``
match one of a port's fixed IPs; any other parameter is a 400 (a typo must
not silently list everything).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from l2pop.core.model import normalize_ip, normalize_mac
from l2pop.errors import NotFoundError, ValidationError
from l2pop.server.resources.validate import ascii_digits
from l2pop.server.store.base import JSON

__all__ = [
    "NETWORK_FILTERS",
    "PAGING",
    "PORT_FILTERS",
    "SUBNET_FILTERS",
    "listing",
    "select_fields",
    "show_fields",
]

NETWORK_FILTERS = frozenset(
    {"id", "name", "status", "mtu", "provider:segmentation_id", "provider:network_type",
     "admin_state_up"}
)  # fmt: skip
PORT_FILTERS = frozenset(
    {"id", "name", "network_id", "binding:host_id", "status", "mac_address", "device_id",
     "device_owner", "admin_state_up", "fixed_ips"}
)  # fmt: skip
SUBNET_FILTERS = frozenset(
    {"id", "name", "network_id", "ip_version", "cidr", "gateway_ip", "enable_dhcp"}
)
PAGING = frozenset({"limit", "marker", "fields", "sort_key", "sort_dir"})


def select_fields(item: Mapping[str, Any], fields: Sequence[str]) -> JSON:
    """``fields=`` selection; none asked -> everything."""
    if not fields:
        return dict(item)
    return {k: v for k, v in item.items() if k in fields}


def _matches(value: object, wanted: list[str]) -> bool:
    if isinstance(value, bool):
        return str(value).lower() in {w.lower() for w in wanted}
    return str(value) in wanted


def _fixed_ip_filter(value: str) -> tuple[str, str]:
    key, sep, wanted = value.partition("=")
    if not sep or key not in ("ip_address", "subnet_id"):
        raise ValidationError(
            "fixed_ips", value, "filter as fixed_ips=ip_address=A or fixed_ips=subnet_id=S"
        )
    if key == "ip_address":
        wanted = normalize_ip(wanted, "fixed_ips=ip_address")
    return key, wanted


def _matches_fixed_ips(item: Mapping[str, Any], wanted: list[tuple[str, str]]) -> bool:
    # Every fixed_ips filter must hold (Neutron ANDs them), each by some fixed IP.
    return all(any(ip.get(k) == v for ip in item.get("fixed_ips", ())) for k, v in wanted)


def _query(query: QueryParams, filters: frozenset[str]) -> tuple[dict[str, list[str]], JSON]:
    """Split the query into filters and paging; an unknown parameter is a 400."""
    wanted: dict[str, list[str]] = {}
    paging: JSON = {"fields": [], "sort_key": [], "sort_dir": []}
    for key, value in query.multi_items():
        if key in ("fields", "sort_key", "sort_dir"):
            paging[key].append(value)
        elif key in ("limit", "marker"):
            paging[key] = value
        elif key in filters:
            if key == "mac_address":
                value = normalize_mac(value)
            wanted.setdefault(key, []).append(value)
        else:
            raise ValidationError(key, value, "unknown filter or query parameter")
    limit = paging.get("limit")
    if limit is not None:
        if not ascii_digits(str(limit)) or len(str(limit)) > 9:
            raise ValidationError("limit", limit, "must be a non-negative integer")
        paging["limit"] = int(limit) or None
    for direction in paging["sort_dir"]:
        if direction not in ("asc", "desc"):
            raise ValidationError("sort_dir", direction, 'must be "asc" or "desc"')
    return wanted, paging


def _sorted(items: list[JSON], keys: list[str], dirs: list[str]) -> list[JSON]:
    # Stable sorts, least significant key first; ties keep the id order.
    for index in reversed(range(len(keys))):
        key = keys[index]
        reverse = (dirs[index] if index < len(dirs) else "asc") == "desc"
        items = sorted(items, key=lambda i: (i.get(key) is None, str(i.get(key))), reverse=reverse)
    return items


def listing(
    base: str,
    collection: str,
    query: QueryParams,
    items: Iterable[JSON],
    filters: frozenset[str],
) -> JSON:
    """The list answer ``{collection: [...], collection_links?}`` for ``query``."""
    wanted, paging = _query(query, filters | PAGING)
    fixed = [_fixed_ip_filter(v) for v in wanted.pop("fixed_ips", [])]
    chosen = [
        i
        for i in items
        if all(_matches(i.get(k), v) for k, v in wanted.items()) and _matches_fixed_ips(i, fixed)
    ]
    for key in paging["sort_key"]:
        if chosen and key not in chosen[0]:
            raise ValidationError("sort_key", key, "not an attribute of the resource")
    if paging["sort_key"]:
        chosen = _sorted(chosen, paging["sort_key"], paging["sort_dir"])
    marker, limit = paging.get("marker"), paging.get("limit")
    if marker is not None:
        ids = [i["id"] for i in chosen]
        if marker not in ids:
            raise NotFoundError(f"marker {marker} not found")
        chosen = chosen[ids.index(marker) + 1 :]
    out: JSON = {}
    if limit is not None and len(chosen) > limit:
        chosen = chosen[:limit]
        pairs = [(k, v) for k, vs in wanted.items() for v in vs]
        pairs += [("fixed_ips", f"{k}={v}") for k, v in fixed]
        pairs += [("sort_key", k) for k in paging["sort_key"]]
        pairs += [("sort_dir", d) for d in paging["sort_dir"]]
        pairs += [("limit", str(limit)), ("marker", chosen[-1]["id"])]
        out[f"{collection}_links"] = [
            {"rel": "next", "href": f"{base}/v2.0/{collection}?{urlencode(pairs)}"}
        ]
    out[collection] = [select_fields(i, paging["fields"]) for i in chosen]
    return out


def show_fields(query: QueryParams) -> list[str]:
    """The ``fields=`` of a show (other parameters are ignored there, as by Neutron)."""
    return query.getlist("fields")
