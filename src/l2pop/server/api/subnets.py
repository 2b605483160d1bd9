"""``/v2.0/subnets`` and ``/v2.0/extensions`` (Neutron's shapes)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.responses import JSONResponse

from l2pop.errors import NotFoundError
from l2pop.server.api.bodies import read_json
from l2pop.server.api.context import ctx
from l2pop.server.api.links import public_base
from l2pop.server.api.listing import SUBNET_FILTERS, listing, select_fields, show_fields
from l2pop.server.api.schemas import SUBNET_BODY, body
from l2pop.server.resources.subnets import SubnetOps
from l2pop.server.store.base import JSON

__all__ = ["EXTENSIONS", "router"]

router = APIRouter()

# Exactly what is implemented: the openstack CLI asks before it sends an
# attribute, so listing one we do not serve would make it send fields we refuse.
_EXTENSIONS: tuple[tuple[str, str, str], ...] = (
    ("binding", "Port Binding", "binding:host_id and the binding:* attributes of ports"),
    ("provider", "Provider Network", "provider:network_type (vxlan) and segmentation_id"),
    ("allowed-address-pairs", "Allowed Address Pairs", "extra IP/MAC pairs a port may use"),
    ("net-mtu", "Network MTU", "the mtu attribute of networks"),
    ("standard-attr-revisions", "Resource revision numbers", "revision_number"),
    ("standard-attr-timestamp", "Resource timestamps", "created_at and updated_at"),
    ("standard-attr-description", "standard-attr-description", "description attributes"),
    ("project-id", "project_id field enabled", "project_id beside tenant_id"),
    ("filter-validation", "Filter parameters validation", "an unknown filter is a 400"),
    ("pagination", "Pagination support", "limit and marker on lists"),
    ("sorting", "Sorting support", "sort_key and sort_dir on lists"),
)
EXTENSIONS: tuple[JSON, ...] = tuple(
    {
        "alias": alias,
        "name": name,
        "description": description,
        "updated": "2026-01-01T00:00:00-00:00",
        "links": [],
    }
    for alias, name, description in _EXTENSIONS
)


def _subnets(request: Request) -> SubnetOps:
    c = ctx(request)
    c.service.authenticate(request.headers).require_admin()
    return SubnetOps(c.service)


@router.get("/v2.0/extensions", tags=["discovery"])
async def list_extensions(request: Request) -> JSON:
    ctx(request).service.authenticate(request.headers)
    return {"extensions": list(EXTENSIONS)}


@router.get("/v2.0/extensions/{alias}", tags=["discovery"])
async def show_extension(request: Request, alias: str) -> JSON:
    ctx(request).service.authenticate(request.headers)
    for extension in EXTENSIONS:
        if extension["alias"] == alias:
            return {"extension": extension}
    raise NotFoundError(f"Extension with alias {alias} does not exist")


@router.get("/v2.0/subnets", tags=["subnets"])
async def list_subnets(request: Request) -> JSON:
    ops = _subnets(request)
    base = public_base(request)  # --public-url, never the Host header
    return listing(base, "subnets", request.query_params, ops.all(), SUBNET_FILTERS)


@router.post("/v2.0/subnets", tags=["subnets"], status_code=201, openapi_extra=body(SUBNET_BODY))
async def create_subnet(request: Request) -> JSONResponse:
    ops = _subnets(request)
    return JSONResponse({"subnet": await ops.create(await read_json(request))}, status_code=201)


@router.get("/v2.0/subnets/{subnet_id}", tags=["subnets"])
async def show_subnet(request: Request, subnet_id: str) -> JSON:
    ops = _subnets(request)
    return {"subnet": select_fields(ops.get(subnet_id), show_fields(request.query_params))}


@router.put("/v2.0/subnets/{subnet_id}", tags=["subnets"], openapi_extra=body(SUBNET_BODY))
async def update_subnet(request: Request, subnet_id: str) -> JSON:
    ops = _subnets(request)
    return {"subnet": await ops.update(subnet_id, await read_json(request))}


@router.delete("/v2.0/subnets/{subnet_id}", tags=["subnets"], status_code=204)
async def delete_subnet(request: Request, subnet_id: str) -> Response:
    ops = _subnets(request)
    await ops.delete(subnet_id)
    return Response(status_code=204)
