"""The agent API's hot routes as bare handlers: status report, ``/state``, watch.

Every agent calls them, for every port change: through FastAPI each
request crossed its middleware stack, router and dependency solving for a
few microseconds of real work. Dispatched by :mod:`.fastpath`, which also
runs the read barrier first and turns errors into NeutronError answers.
"""

from __future__ import annotations

from starlette.datastructures import Headers, QueryParams
from starlette.types import Receive, Scope, Send

from l2pop.errors import ValidationError
from l2pop.server.api.bodies import read_json_body
from l2pop.server.api.context import Context
from l2pop.server.api.rawhttp import JsonReply, StreamReply
from l2pop.server.auth import hash_token, token_from_headers

__all__ = ["host_state", "report_status", "watch"]


async def report_status(
    context: Context, params: dict[str, str], scope: Scope, receive: Receive
) -> JsonReply:
    """``PUT /v1/hosts/{name}/ports/{port_id}/status``."""
    name = params["name"]
    headers = Headers(scope=scope)
    principal = context.service.authenticate(headers)
    principal.require_host(name)
    body = await read_json_body(receive, headers, context.max_body)
    record = await context.hosts.report_status(principal, name, params["port_id"], body)
    return JsonReply(200, {"port": record})


async def host_state(
    context: Context, params: dict[str, str], scope: Scope, receive: Receive
) -> JsonReply:
    """``GET /v1/hosts/{name}/state``."""
    principal = context.service.authenticate(Headers(scope=scope))
    return JsonReply(200, context.hosts.state(principal, params["name"]))


async def watch(
    context: Context, params: dict[str, str], scope: Scope, receive: Receive
) -> StreamReply:
    """``GET /v1/hosts/{name}/watch?revision=R``: checked and opened here, then streamed."""
    headers = Headers(scope=scope)
    principal = context.service.authenticate(headers)
    token_hash = hash_token(token_from_headers(headers))
    query = QueryParams(scope.get("query_string", b""))
    for key in query:
        if key != "revision":
            raise ValidationError(key, query[key], "unknown query parameter")
    watches = context.watches
    opened = await watches.open(principal, params["name"], query.get("revision"), token_hash)

    async def serve(receive: Receive, send: Send) -> None:
        await watches.serve(opened, receive, send)

    return StreamReply(serve)
