"""The l2pop host/agent API (``/v1``), ``/healthz`` and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from l2pop.errors import ValidationError
from l2pop.server.api.app import ctx, read_json
from l2pop.server.api.errors import neutron_error
from l2pop.server.api.schemas import HOST_BODY, STATUS_BODY, body
from l2pop.server.auth import hash_token, token_from_headers
from l2pop.server.store.base import JSON

__all__ = ["fast_routes", "router"]

router = APIRouter()


# The agents' hot path first: routes are matched in order.
@router.put(
    "/v1/hosts/{name}/ports/{port_id}/status", tags=["agent"], openapi_extra=body(STATUS_BODY)
)
async def report_status(request: Request, name: str, port_id: str) -> JSON:
    c = ctx(request)
    principal = c.service.authenticate(request.headers)
    principal.require_host(name)
    record = await c.hosts.report_status(principal, name, port_id, await read_json(request))
    return {"port": record}


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


@router.get("/v1/hosts/{name}/state", tags=["agent"])
async def host_state(request: Request, name: str) -> JSON:
    c = ctx(request)
    principal = c.service.authenticate(request.headers)
    return c.hosts.state(principal, name)


@router.get("/v1/hosts/{name}/watch", tags=["agent"])
async def host_watch(request: Request, name: str, revision: str | None = None) -> StreamingResponse:
    c = ctx(request)
    principal = c.service.authenticate(request.headers)
    token_hash = hash_token(token_from_headers(request.headers))
    for key in request.query_params:
        if key != "revision":
            raise ValidationError(key, request.query_params[key], "unknown query parameter")
    lines, watcher = await c.hosts.open_watch(principal, name, revision, token_hash)
    stream = c.hosts.stream(principal, lines, watcher)
    return StreamingResponse(
        stream, media_type="application/x-ndjson", headers={"Cache-Control": "no-store"}
    )


def fast_routes() -> list[Route]:
    """``/state`` as a plain Starlette route, matched before FastAPI's.

    FastAPI's per-request machinery (dependency solving, its router) cost more
    CPU than the listing itself; the FastAPI route above stays for the OpenAPI
    schema. The status report and the watch are served before the app is
    reached at all (:mod:`l2pop.server.api.fastpath`).
    """
    path = "/v1/hosts/{name}/state"

    async def state(request: Request) -> Response:
        request.scope["l2pop.route"] = path  # the metrics label
        return JSONResponse(await host_state(request, request.path_params["name"]))

    return [Route(path, state, methods=["GET"])]
