"""The l2pop host/agent API (``/v1``), ``/healthz`` and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.responses import JSONResponse

from l2pop.server.api.bodies import read_json
from l2pop.server.api.context import ctx
from l2pop.server.api.declared import declare
from l2pop.server.api.errors import neutron_error
from l2pop.server.api.schemas import HOST_BODY, STATUS_BODY, body
from l2pop.server.store.base import JSON

__all__ = ["router"]

router = APIRouter()


# Served by the fast dispatcher (:mod:`.fastpath`); here for the schema only.
declare(
    router,
    "PUT",
    "/v1/hosts/{name}/ports/{port_id}/status",
    tag="agent",
    request_body=STATUS_BODY,
)
declare(router, "GET", "/v1/hosts/{name}/state", tag="agent")
declare(router, "GET", "/v1/hosts/{name}/watch", tag="agent", query=("revision",))


@router.get("/healthz", tags=["operations"])
async def healthz(request: Request) -> JSONResponse:
    service = ctx(request).service
    if not await service.store.healthy():
        return neutron_error(503, "ServiceUnavailable", "the store is unreachable")
    return JSONResponse({"status": "ok", "revision": service.view.revision})


@router.get("/metrics", tags=["operations"])
async def metrics(request: Request) -> Response:
    body_ = ctx(request).service.metrics.render()
    return Response(body_, media_type="text/plain; version=0.0.4; charset=utf-8")


@router.post("/v1/hosts", tags=["hosts"], status_code=201, openapi_extra=body(HOST_BODY))
async def register_host(request: Request) -> JSONResponse:
    c = ctx(request)
    c.service.authenticate(request.headers).require_admin()
    host, token = await c.hosts.register(await read_json(request))
    return JSONResponse({"host": host, "token": token}, status_code=201)


@router.get("/v1/hosts", tags=["hosts"])
async def list_hosts(request: Request) -> JSON:
    c = ctx(request)
    c.service.authenticate(request.headers).require_admin()
    return {"hosts": c.hosts.all()}


@router.get("/v1/hosts/{name}", tags=["hosts"])
async def show_host(request: Request, name: str) -> JSON:
    c = ctx(request)
    c.service.authenticate(request.headers).require_host(name)
    return {"host": c.hosts.show(name)}


@router.delete("/v1/hosts/{name}", tags=["hosts"], status_code=204)
async def delete_host(request: Request, name: str) -> Response:
    c = ctx(request)
    c.service.authenticate(request.headers).require_admin()
    await c.hosts.delete(name)
    return Response(status_code=204)


@router.post("/v1/hosts/{name}/token", tags=["hosts"])
async def new_host_token(request: Request, name: str) -> JSON:
    c = ctx(request)
    c.service.authenticate(request.headers).require_admin()
    host, token = await c.hosts.new_token(name)
    return {"host": host, "token": token}
