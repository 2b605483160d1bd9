"""OpenStack Networking v2.0 subset: version discovery, networks, ports (subnets: api/subnets)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.responses import JSONResponse

from l2pop.server.api.bodies import read_json
from l2pop.server.api.context import Context, ctx
from l2pop.server.api.declared import declare
from l2pop.server.api.listing import (
    NETWORK_FILTERS,
    PORT_FILTERS,
    listing,
    select_fields,
    show_fields,
)
from l2pop.server.api.schemas import NETWORK_BODY, PORT_BODY, body
from l2pop.server.store.base import JSON

__all__ = ["router"]

router = APIRouter()


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
        for name in ("network", "subnet", "port")
    ]
    return {"version": _version(base), "resources": resources}


def _listing(
    request: Request, collection: str, items: Iterable[JSON], filters: frozenset[str]
) -> JSON:
    return listing(_base(request), collection, request.query_params, items, filters)


def _admin(request: Request) -> Context:
    """The request's context, once its token is checked to be the admin's."""
    c = ctx(request)
    c.service.authenticate(request.headers).require_admin()
    return c


def _one(
    name: str, record: Mapping[str, Any], status: int = 200, request: Request | None = None
) -> JSONResponse:
    fields = [] if request is None else show_fields(request.query_params)
    return JSONResponse({name: select_fields(record, fields)}, status_code=status)


@router.get("/v2.0/networks", tags=["networks"])
async def list_networks(request: Request) -> JSON:
    c = _admin(request)
    return _listing(request, "networks", c.networks.all(), NETWORK_FILTERS)


@router.post("/v2.0/networks", tags=["networks"], status_code=201, openapi_extra=body(NETWORK_BODY))
async def create_network(request: Request) -> JSONResponse:
    c = _admin(request)
    return _one("network", await c.networks.create(await read_json(request)), 201)


@router.get("/v2.0/networks/{network_id}", tags=["networks"])
async def show_network(request: Request, network_id: str) -> JSONResponse:
    c = _admin(request)
    return _one("network", c.networks.get(network_id), request=request)


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
    return _listing(request, "ports", c.ports.all(), PORT_FILTERS)


# Served by the fast dispatcher (:mod:`.fastports`); here for the schema only.
declare(router, "POST", "/v2.0/ports", tag="ports", status_code=201, request_body=PORT_BODY)
declare(router, "GET", "/v2.0/ports/{port_id}", tag="ports", query=("fields",))
declare(router, "PUT", "/v2.0/ports/{port_id}", tag="ports", request_body=PORT_BODY)
declare(router, "DELETE", "/v2.0/ports/{port_id}", tag="ports", status_code=204)
