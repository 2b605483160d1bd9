"""``/v1/hosts/{name}/agent``: an agent's report (applied revision, endpoint), and R.

``PUT`` (that host's token, or admin) ``{"revision": N, "endpoint": URL|null}``
-> ``200 {"agent": {...}}``; ``GET`` (that host, admin) shows it with
``last_change`` (R, the revision of the last change that concerned the host)
and ``in_sync`` (revision >= R). ``l2pop explain`` reads R here. The endpoint
must be at the host's tunnel IP or the report's source address (the server
fetches it: see :mod:`l2pop.server.agents`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from l2pop.server.agents import check_endpoint_address, parse_agent_report
from l2pop.server.api.bodies import read_json
from l2pop.server.api.context import Context, ctx
from l2pop.server.store.base import JSON

__all__ = ["agent_view", "router"]

router = APIRouter()


def agent_view(c: Context, name: str) -> JSON:
    """The agent of host ``name`` as shown by the API and the fabric view."""
    alive = c.hosts.show(name)["alive"]  # 404 for an unknown host
    return c.service.agents.show(name, bool(alive))


@router.put("/v1/hosts/{name}/agent", tags=["agent"])
async def report_agent(request: Request, name: str) -> JSON:
    c = ctx(request)
    c.service.authenticate(request.headers).require_host(name)
    revision, endpoint = parse_agent_report(await read_json(request))
    host = c.hosts.show(name)  # 404 before anything is kept
    if endpoint is not None:
        peer = None if request.client is None else request.client.host
        check_endpoint_address(endpoint, name, (str(host["tunnel_ip"]), peer))
    c.service.agents.report(name, revision, endpoint)
    return {"agent": agent_view(c, name)}


@router.get("/v1/hosts/{name}/agent", tags=["agent"])
async def show_agent(request: Request, name: str) -> JSON:
    c = ctx(request)
    c.service.authenticate(request.headers).require_host(name)
    return {"agent": agent_view(c, name)}
