"""Remote endpoints and the gateways that write them (DESIGN.md §5, EVPN gateway).

Records (generic store records, so SQLite and etcd hold them alike):

* ``gateway/<name>``: ``{"name", "token_hash", "created_at"}``. The admin
  issues a gateway its own token (``POST /v1/gateways``); only a gateway
  token writes remote endpoints: the admin token, a host token or no token
  cannot (403/401), so a leaked host token cannot inject forwarding state
  into other hosts.
* ``evpn_rd/<network id>``: ``{"network_id", "index"}``, the number of the
  type-1 RD ``<tunnel IPv4>:<n>`` for a network whose VNI is over 65,535
  (DESIGN.md §5: "a per-network index kept with the network"); unique
  (index record ``evpn_rd/<n>``), allocated on a gateway's first request,
  from 65,535 down and never equal to a VNI below 65,536 of a network that
  exists then (VNIs are usually allocated low).
* ``remote/<key>``: one imported EVPN route, keyed by its identity
  ``network|type|vtep|mac|ip`` (:attr:`l2pop.core.RemoteEndpoint.key`), with
  the set of gateways that hold it. Several gateways importing the same route
  converge on one record; it goes when the last holder withdraws it (or is
  deleted by the admin).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from l2pop.core import RemoteEndpoint
from l2pop.errors import AuthError, ConflictError, ForbiddenError, NotFoundError, ValidationError
from l2pop.server.auth import hash_token, new_token, token_from_headers
from l2pop.server.records import GATEWAY, NETWORK, RD_INDEX, REMOTE
from l2pop.server.resources.validate import HOST_NAME_RE
from l2pop.server.service import Service, utc_now
from l2pop.server.store.base import ABSENT, INDEX, JSON, Delete, Op, Put

__all__ = [
    "GATEWAY",
    "REMOTE",
    "GatewayOps",
    "RdIndexOps",
    "RemoteOps",
    "endpoint_record",
    "parse_endpoint",
]

# One batch carries at most this many routes (the body limit bounds it too).
MAX_BATCH = 10_000
# The assigned-number field of a type-1 RD is 2 bytes.
MAX_RD_NUMBER = 0xFFFF


class GatewayNotFound(NotFoundError):
    neutron_type = "GatewayNotFound"


class GatewayInUse(ConflictError):
    neutron_type = "GatewayInUse"


class NetworkNotFound(NotFoundError):
    neutron_type = "NetworkNotFound"


def endpoint_record(ep: RemoteEndpoint, gateways: set[str]) -> JSON:
    """The record as stored and shown by the API."""
    return {
        "id": ep.key,
        "network_id": ep.network_id,
        "type": str(ep.kind),
        "vtep": ep.vtep,
        "mac_address": ep.mac,
        "ip_address": ep.ip,
        "gateways": sorted(gateways),
    }


_FIELDS = frozenset({"network_id", "type", "vtep", "mac_address", "ip_address"})


def parse_endpoint(item: object) -> RemoteEndpoint:
    """``{"network_id", "type": "flood"|"mac", "vtep", "mac_address"?, "ip_address"?}``."""
    if not isinstance(item, dict):
        raise ValidationError("endpoint", str(item)[:60], "must be an object")
    unknown = set(item) - _FIELDS
    if unknown:
        raise ValidationError(sorted(unknown)[0], "", "unknown attribute of a remote endpoint")
    for required in ("network_id", "type", "vtep"):
        if required not in item:
            raise ValidationError(required, None, "is required")
    return RemoteEndpoint(
        item["network_id"],
        item["type"],
        item["vtep"],
        item.get("mac_address"),
        item.get("ip_address"),
    )


def _parse_list(body: Mapping[str, Any], name: str) -> list[RemoteEndpoint]:
    items = body.get(name, [])
    if not isinstance(items, list):
        raise ValidationError(name, str(items)[:60], "must be a list of remote endpoints")
    if len(items) > MAX_BATCH:
        raise ValidationError(name, len(items), f"at most {MAX_BATCH} endpoints per request")
    return [parse_endpoint(item) for item in items]


class GatewayOps:
    """Gateway registration and tokens (admin), and who a gateway token names."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def authenticate(self, headers: Mapping[str, str]) -> str | None:
        """The gateway a token names; None for the admin token; 401/403 otherwise."""
        token_hash = hash_token(token_from_headers(headers))
        if self.service.admin.matches(token_hash):
            return None
        for name, stored in self.service.view.records.get(GATEWAY, {}).items():
            if stored.value["token_hash"] == token_hash:
                return name
        if token_hash in self.service.view.tokens:
            raise ForbiddenError("a host token cannot act as an EVPN gateway")
        raise AuthError("the token is not valid (unknown, revoked, or its gateway was deleted)")

    def require_admin(self, headers: Mapping[str, str]) -> None:
        if self.authenticate(headers) is not None:
            raise ForbiddenError("this call needs the admin token")

    def require_gateway(self, headers: Mapping[str, str]) -> str:
        name = self.authenticate(headers)
        if name is None:
            raise ForbiddenError(
                "remote endpoints are written by gateways only: POST /v1/gateways issues a token"
            )
        return name

    def all(self) -> list[JSON]:
        records = self.service.view.records.get(GATEWAY, {})
        return [self._show(s.value) for _, s in sorted(records.items())]

    @staticmethod
    def _show(record: JSON) -> JSON:
        return {"name": record["name"], "created_at": record["created_at"]}

    async def register(self, body: object, *, reissue: bool = False) -> tuple[JSON, str]:
        """A new gateway and its token; with ``reissue`` a new token for an existing
        one (the old token stops working at once)."""
        if not isinstance(body, dict) or set(body) != {"name"}:
            raise ValidationError("body", str(body)[:60], 'must be {"name": ...}')
        name = body["name"]
        if not isinstance(name, str) or not HOST_NAME_RE.match(name):
            raise ValidationError("name", str(name)[:60], "a gateway name: letters, digits, . _ -")
        token = new_token()

        def build() -> list[Op]:
            stored = self.service.view.get(GATEWAY, name)
            if reissue and stored is None:
                raise GatewayNotFound(f"Gateway {name} is not registered.")
            if not reissue and stored is not None:
                raise GatewayInUse(f"Gateway {name} is already registered.")
            record = {
                "name": name,
                "token_hash": hash_token(token),
                "created_at": utc_now() if stored is None else stored.value["created_at"],
            }
            expect = ABSENT if stored is None else stored.mod_revision
            return [Put(GATEWAY, name, record, expect)]

        await self.service.write(build)
        return {"name": name}, token

    async def delete(self, name: str) -> None:
        """Unregister ``name``: its token stops working and its holds on remote
        endpoints are released (records no other gateway holds go)."""

        def build() -> list[Op]:
            view = self.service.view
            stored = view.get(GATEWAY, name)
            if stored is None:
                raise GatewayNotFound(f"Gateway {name} is not registered.")
            ops: list[Op] = [Delete(GATEWAY, name, stored.mod_revision)]
            for key, rec in view.records.get(REMOTE, {}).items():
                holders = set(rec.value["gateways"])
                if name in holders:
                    ops.append(_release(key, rec.value, rec.mod_revision, holders - {name}))
            return ops

        await self.service.write(build)


def _release(key: str, value: JSON, mod: int, holders: set[str]) -> Op:
    if not holders:
        return Delete(REMOTE, key, mod)
    return Put(REMOTE, key, {**value, "gateways": sorted(holders)}, mod)


class RemoteOps:
    """Reads for everyone allowed to see them; batch writes by one gateway."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def list(self, network_id: str | None = None) -> list[JSON]:
        view = self.service.view
        networks = view.records.get(NETWORK, {})
        out = []
        for _, stored in sorted(view.records.get(REMOTE, {}).items()):
            net = stored.value["network_id"]
            # Records of a network deleted meanwhile program nothing: not shown.
            if net in networks and (network_id is None or net == network_id):
                out.append(stored.value)
        return out

    async def write(self, gateway: str, body: object) -> int:
        """Apply ``{"add": [...], "remove": [...]}`` for ``gateway``; the revision after."""
        if not isinstance(body, dict) or not set(body) <= {"add", "remove"}:
            raise ValidationError("body", str(body)[:60], 'must be {"add": [...], "remove": [...]}')
        add, remove = _parse_list(body, "add"), _parse_list(body, "remove")
        add_keys = {ep.key: ep for ep in add}
        remove_keys = {ep.key for ep in remove}
        both = add_keys.keys() & remove_keys
        if both:
            raise ValidationError("remove", sorted(both)[0], "added and removed in one request")

        def build() -> list[Op]:
            view = self.service.view
            ops: list[Op] = []
            for key, ep in add_keys.items():
                if view.get(NETWORK, ep.network_id) is None:
                    raise NetworkNotFound(f"Network {ep.network_id} could not be found.")
                stored = view.get(REMOTE, key)
                holders = set(stored.value["gateways"]) if stored else set()
                if gateway not in holders:
                    expect = stored.mod_revision if stored else ABSENT
                    ops.append(Put(REMOTE, key, endpoint_record(ep, holders | {gateway}), expect))
            for key in remove_keys:
                stored = view.get(REMOTE, key)
                if stored is not None and gateway in stored.value["gateways"]:
                    holders = set(stored.value["gateways"]) - {gateway}
                    ops.append(_release(key, stored.value, stored.mod_revision, holders))
            return ops

        record = await self.service.write(build)
        return self.service.view.revision if record is None else record.revision


class RdIndexOps:
    """The RD index of a network with a VNI over 65,535: allocated once, then kept."""

    def __init__(self, service: Service) -> None:
        self.service = service

    async def allocate(self, body: object) -> JSON:
        if not isinstance(body, dict) or set(body) != {"network_id"}:
            raise ValidationError("body", str(body)[:60], 'must be {"network_id": ...}')
        network_id = body["network_id"]
        if not isinstance(network_id, str):
            raise ValidationError("network_id", str(network_id)[:60], "must be a string")

        def build() -> list[Op]:
            view = self.service.view
            network = view.get(NETWORK, network_id)
            if network is None:
                raise NetworkNotFound(f"Network {network_id} could not be found.")
            vni = network.value["provider:segmentation_id"]
            if vni <= MAX_RD_NUMBER:
                raise ValidationError("network_id", network_id, f"VNI {vni} is its own RD number")
            if view.get(RD_INDEX, network_id) is not None:
                return []
            used = {r["index"] for r in view.values(RD_INDEX)}
            used |= {n["provider:segmentation_id"] for n in view.values(NETWORK)}
            free = next((n for n in range(MAX_RD_NUMBER, 0, -1) if n not in used), None)
            if free is None:
                raise ConflictError("no RD number left below 65,536")
            record = {"network_id": network_id, "index": free}
            return [
                Put(RD_INDEX, network_id, record, ABSENT),
                Put(INDEX, f"evpn_rd/{free}", {"owner": f"network/{network_id}"}, ABSENT),
            ]

        await self.service.write(build)
        stored = self.service.view.get(RD_INDEX, network_id)
        assert stored is not None
        return stored.value
