"""OpenStack Networking v2.0 subset: version discovery, networks, ports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from starlette.responses import JSONResponse

from l2pop.core.model import normalize_mac
from l2pop.errors import NotFoundError, ValidationError
from l2pop.server.api.bodies import read_json
from l2pop.server.api.context import Context, ctx
from l2pop.server.api.declared import declare
from l2pop.server.api.schemas import NETWORK_BODY, PORT_BODY, body
from l2pop.server.store.base import JSON

__all__ = ["router"]

router = APIRouter()

NETWORK_FILTERS = frozenset(
    {"id", "name", "status", "mtu", "provider:segmentation_id", "provider:network_type"}
)
PORT_FILTERS = frozenset(
    {"id", "name", "network_id", "binding:host_id", "status", "mac_address", "device_id",
     "device_owner"}
)  # fmt: skip
PAGING = frozenset({"limit", "marker", "fields"})


def _version(base: str) -> JSON:
    return {
        "id": "v2.0",
        "status": "CURRENT",
        "links": [{"rel": "self", "href": f"{base}/v2.0/"}],
    }


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/", tags=["discovery"])
async def versions(request: Request) -> JSON:
    return {"versions": [_version(_base(request))]}


@router.get("/v2.0/", tags=["discovery"])
@router.get("/v2.0", tags=["discovery"], include_in_schema=False)
async def version_v2(request: Request) -> JSON:
    base = _base(request)
    resources = [
        {
            "name": name,
            "collection": f"{name}s",
            "links": [{"rel": "self", "href": f"{base}/v2.0/{name}s"}],
        }
        for name in ("network", "port")
    ]
    return {"version": _version(base), "resources": resources}


def _matches(value: object, wanted: list[str]) -> bool:
    if isinstance(value, bool):
        return str(value).lower() in {w.lower() for w in wanted}
    return str(value) in wanted


def _query(request: Request, filters: frozenset[str]) -> tuple[dict[str, list[str]], JSON]:
    """Split the query into filters and paging; an unknown parameter is a 400."""
    wanted: dict[str, list[str]] = {}
    paging: JSON = {"fields": []}
    for key, value in request.query_params.multi_items():
        if key == "fields":
            paging["fields"].append(value)
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
        if not str(limit).isdigit() or len(str(limit)) > 9:
            raise ValidationError("limit", limit, "must be a non-negative integer")
        paging["limit"] = int(limit) or None
    return wanted, paging


def _listing(
    request: Request, collection: str, items: Iterable[JSON], filters: frozenset[str]
) -> JSON:
    wanted, paging = _query(request, filters)
    chosen = [i for i in items if all(_matches(i.get(k), v) for k, v in wanted.items())]
    marker, limit = paging.get("marker"), paging.get("limit")
    if marker is not None:
        ids = [i["id"] for i in chosen]
        if marker not in ids:
            raise NotFoundError(f"marker {marker} not found")
        chosen = chosen[ids.index(marker) + 1 :]
    out: JSON = {}
    if limit is not None and len(chosen) > limit:
        chosen = chosen[:limit]
        query = [(k, v) for k, vs in wanted.items() for v in vs]
        query += [("limit", str(limit)), ("marker", chosen[-1]["id"])]
        href = f"{_base(request)}/v2.0/{collection}?{urlencode(query)}"
        out[f"{collection}_links"] = [{"rel": "next", "href": href}]
    if paging["fields"]:
        chosen = [{k: v for k, v in i.items() if k in paging["fields"]} for i in chosen]
    out[collection] = chosen
    return out


def _admin(request: Request) -> Context:
    """The request's context, once its token is checked to be the admin's."""
    c = ctx(request)
    c.service.authenticate(request.headers).require_admin()
    return c


def _one(name: str, record: Mapping[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse({name: record}, status_code=status)


@router.get("/v2.0/networks", tags=["networks"])
async def list_networks(request: Request) -> JSON:
    c = _admin(request)
    return _listing(request, "networks", c.networks.all(), NETWORK_FILTERS | PAGING)


@router.post("/v2.0/networks", tags=["networks"], status_code=201, openapi_extra=body(NETWORK_BODY))
async def create_network(request: Request) -> JSONResponse:
    c = _admin(request)
    return _one("network", await c.networks.create(await read_json(request)), 201)


@router.get("/v2.0/networks/{network_id}", tags=["networks"])
async def show_network(request: Request, network_id: str) -> JSONResponse:
    c = _admin(request)
    return _one("network", c.networks.get(network_id))


@router.put("/v2.0/networks/{network_id}", tags=["networks"], openapi_extra=body(NETWORK_BODY))
async def update_network(request: Request, network_id: str) -> JSONResponse:
    c = _admin(request)
    return _one("network", await c.networks.update(network_id, await read_json(request)))


@router.delete("/v2.0/networks/{network_id}", tags=["networks"], status_code=204)
async def delete_network(request: Request, network_id: str) -> Response:
    c = _admin(request)
    await c.networks.delete(network_id)
    return Response(status_code=204)


@router.get("/v2.0/ports", tags=["ports"])
async def list_ports(request: Request) -> JSON:
    c = _admin(request)
    return _listing(request, "ports", c.ports.all(), PORT_FILTERS | PAGING)


# Served by the fast dispatcher (:mod:`.fastports`); here for the schema only.
declare(router, "POST", "/v2.0/ports", tag="ports", status_code=201, request_body=PORT_BODY)
declare(router, "GET", "/v2.0/ports/{port_id}", tag="ports")
declare(router, "PUT", "/v2.0/ports/{port_id}", tag="ports", request_body=PORT_BODY)
declare(router, "DELETE", "/v2.0/ports/{port_id}", tag="ports", status_code=204)
