"""``/v2.0/ports`` writes and reads of one port as bare handlers (the cloud's hot path).

Every VM boot, migration and deletion is a port create, update or delete.
Through FastAPI each request crossed eight middleware layers, the router's
match of every route, dependency solving and a stdlib JSON encoding: about
half of the server's time per port change (py-spy, a create/bind/ACTIVE/
migrate/delete mix). Dispatched by :mod:`.fastpath` (read barrier, errors);
the listing (``GET /v2.0/ports`` with filters and paging) stays in FastAPI.
"""

from __future__ import annotations

from starlette.datastructures import Headers, QueryParams
from starlette.types import Receive, Scope

from l2pop.server.api.bodies import read_json_body
from l2pop.server.api.context import Context
from l2pop.server.api.listing import select_fields, show_fields
from l2pop.server.api.rawhttp import JsonReply

__all__ = ["create_port", "delete_port", "show_port", "update_port"]


def _admin(context: Context, scope: Scope) -> Headers:
    headers = Headers(scope=scope)
    context.service.authenticate(headers).require_admin()
    return headers


async def create_port(
    context: Context, params: dict[str, str], scope: Scope, receive: Receive
) -> JsonReply:
    headers = _admin(context, scope)
    body = await read_json_body(receive, headers, context.max_body)
    return JsonReply(201, {"port": await context.ports.create(body)})


async def show_port(
    context: Context, params: dict[str, str], scope: Scope, receive: Receive
) -> JsonReply:
    _admin(context, scope)
    fields = show_fields(QueryParams(scope.get("query_string", b"")))
    return JsonReply(200, {"port": select_fields(context.ports.get(params["port_id"]), fields)})


async def update_port(
    context: Context, params: dict[str, str], scope: Scope, receive: Receive
) -> JsonReply:
    headers = _admin(context, scope)
    body = await read_json_body(receive, headers, context.max_body)
    return JsonReply(200, {"port": await context.ports.update(params["port_id"], body)})


async def delete_port(
    context: Context, params: dict[str, str], scope: Scope, receive: Receive
) -> JsonReply:
    _admin(context, scope)
    await context.ports.delete(params["port_id"])
    return JsonReply(204, None)
