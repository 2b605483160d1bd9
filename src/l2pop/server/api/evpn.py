"""The EVPN routes: gateways (admin), remote endpoints, and the gateways' list + watch.

* ``POST /v1/gateways {"name"}`` (admin) -> ``201 {"gateway", "token"}``;
  ``POST /v1/gateways/{name}/token`` (admin) issues a new token and revokes
  the old; ``GET /v1/gateways``; ``DELETE /v1/gateways/{name}`` (its holds
  on remote endpoints are released).
* ``GET /v1/remote-endpoints[?network_id=N]`` (admin or a gateway): read-only
  to users; ``POST /v1/remote-endpoints {"add": [...], "remove": [...]}``
  (a gateway token only) -> ``{"revision"}``.
* ``GET /v1/evpn/state`` and ``GET /v1/evpn/watch?revision=R`` (admin or a
  gateway): see :mod:`l2pop.server.evpnfeed`; ``state`` also says who asked
  (``"gateway": name`` or null for the admin).
* ``POST /v1/evpn/rd-indexes {"network_id"}`` (a gateway): the RD number of a
  network whose VNI is over 65,535, allocated once and kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from starlette.responses import JSONResponse, StreamingResponse

from l2pop.errors import ValidationError
from l2pop.server.api.bodies import read_json
from l2pop.server.api.context import ctx
from l2pop.server.evpnfeed import EvpnFeed, feed_state
from l2pop.server.resources.remote import GatewayOps, RdIndexOps, RemoteOps
from l2pop.server.service import Service
from l2pop.server.store.base import JSON

__all__ = ["router"]

router = APIRouter()


@dataclass
class _Evpn:
    service: Service
    gateways: GatewayOps
    remote: RemoteOps
    feed: EvpnFeed
    rd: RdIndexOps


def _evpn(request: Request) -> _Evpn:
    """The EVPN parts of the app's current service (made on first use: most servers
    never see a gateway, and then nothing subscribes to the store for them)."""
    service = ctx(request).service
    current: _Evpn | None = getattr(request.app.state, "evpn", None)
    if current is None or current.service is not service:
        current = _Evpn(
            service, GatewayOps(service), RemoteOps(service), EvpnFeed(service), RdIndexOps(service)
        )
        request.app.state.evpn = current
    return current


def _only(request: Request, allowed: frozenset[str]) -> None:
    for key in request.query_params:
        if key not in allowed:
            raise ValidationError(key, request.query_params[key], "unknown query parameter")


@router.post("/v1/gateways", tags=["evpn"], status_code=201)
async def register_gateway(request: Request) -> JSONResponse:
    evpn = _evpn(request)
    evpn.gateways.require_admin(request.headers)
    gateway, token = await evpn.gateways.register(await read_json(request))
    return JSONResponse({"gateway": gateway, "token": token}, status_code=201)


@router.post("/v1/gateways/{name}/token", tags=["evpn"])
async def new_gateway_token(request: Request, name: str) -> JSON:
    evpn = _evpn(request)
    evpn.gateways.require_admin(request.headers)
    gateway, token = await evpn.gateways.register({"name": name}, reissue=True)
    return {"gateway": gateway, "token": token}


@router.get("/v1/gateways", tags=["evpn"])
async def list_gateways(request: Request) -> JSON:
    evpn = _evpn(request)
    evpn.gateways.require_admin(request.headers)
    return {"gateways": evpn.gateways.all()}


@router.delete("/v1/gateways/{name}", tags=["evpn"], status_code=204)
async def delete_gateway(request: Request, name: str) -> Response:
    evpn = _evpn(request)
    evpn.gateways.require_admin(request.headers)
    await evpn.gateways.delete(name)
    return Response(status_code=204)


@router.get("/v1/remote-endpoints", tags=["evpn"])
async def list_remote_endpoints(request: Request, network_id: str | None = None) -> JSON:
    evpn = _evpn(request)
    evpn.gateways.authenticate(request.headers)
    _only(request, frozenset({"network_id"}))
    return {"remote_endpoints": evpn.remote.list(network_id)}


@router.post("/v1/remote-endpoints", tags=["evpn"])
async def write_remote_endpoints(request: Request) -> JSON:
    evpn = _evpn(request)
    gateway = evpn.gateways.require_gateway(request.headers)
    revision = await evpn.remote.write(gateway, await read_json(request))
    return {"revision": revision}


@router.post("/v1/evpn/rd-indexes", tags=["evpn"])
async def allocate_rd_index(request: Request) -> JSON:
    evpn = _evpn(request)
    evpn.gateways.require_gateway(request.headers)
    return {"rd_index": await evpn.rd.allocate(await read_json(request))}


@router.get("/v1/evpn/state", tags=["evpn"])
async def evpn_state(request: Request) -> JSON:
    evpn = _evpn(request)
    gateway = evpn.gateways.authenticate(request.headers)
    return {**feed_state(evpn.service), "gateway": gateway}


@router.get("/v1/evpn/watch", tags=["evpn"])
async def evpn_watch(request: Request, revision: str | None = None) -> StreamingResponse:
    evpn = _evpn(request)
    evpn.gateways.authenticate(request.headers)
    _only(request, frozenset({"revision"}))
    stream = await evpn.feed.open(revision)
    return StreamingResponse(
        stream, media_type="application/x-ndjson", headers={"Cache-Control": "no-store"}
    )
