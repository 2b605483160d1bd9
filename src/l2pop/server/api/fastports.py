"""``/v2.0/ports`` writes and reads as a bare ASGI handler (the cloud's hot path).

Every VM boot, migration and deletion is a port create, update or delete.
Through FastAPI each request crossed eight middleware layers, the router's
match of every route, dependency solving and a stdlib JSON encoding: about
half of the server's time per port change (py-spy, a create/bind/ACTIVE/
migrate/delete mix). Here the same steps run inline, with the same order
(read barrier, admin token, body limit, JSON, the service's validation),
the same NeutronError answers and the same request metric. The FastAPI
routes of these paths stay for the OpenAPI schema and the TestClient; the
listing (``GET /v2.0/ports`` with filters and paging) stays there.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers, QueryParams
from starlette.types import Receive, Scope, Send

from l2pop.errors import L2popError
from l2pop.server.api.app import (
    BARRIER_TIMEOUT_S,
    WRITE_BARRIER_TIMEOUT_S,
    Context,
    catch_up,
)
from l2pop.server.api.errors import error_response
from l2pop.server.api.listing import select_fields, show_fields
from l2pop.server.api.rawhttp import read_json_body, respond, send_json, unexpected

__all__ = ["PORTS_ROUTE", "PORT_ROUTE", "match_port_route", "serve_ports"]

PORTS_ROUTE = "/v2.0/ports"
PORT_ROUTE = "/v2.0/ports/{port_id}"
_PORT = re.compile(r"^/v2\.0/ports/([^/]+)$")


def match_port_route(method: str, path: str) -> tuple[bool, str | None]:
    """(served here, port id): POST on the collection; GET, PUT, DELETE on one port."""
    if path == PORTS_ROUTE:
        return method == "POST", None
    if method in ("GET", "PUT", "DELETE") and (match := _PORT.match(path)):
        return True, match.group(1)
    return False, None


async def serve_ports(
    context: Context, port_id: str | None, scope: Scope, receive: Receive, send: Send
) -> None:
    method = scope["method"]
    route = PORTS_ROUTE if port_id is None else PORT_ROUTE
    try:
        status, value = await _handle(context, method, port_id, scope, receive)
    except L2popError as exc:
        await respond(context, error_response(exc), route, scope, receive, send)
        return
    except Exception:
        await unexpected(context, route, scope, receive, send)
        return
    await send_json(context, method, route, status, value, send)


async def _handle(
    context: Context, method: str, port_id: str | None, scope: Scope, receive: Receive
) -> tuple[int, object]:
    service = context.service
    await catch_up(service, BARRIER_TIMEOUT_S if method == "GET" else WRITE_BARRIER_TIMEOUT_S)
    headers = Headers(scope=scope)
    service.authenticate(headers).require_admin()
    ports = context.ports
    if port_id is None:  # POST /v2.0/ports
        body = await read_json_body(receive, headers, context.max_body)
        return 201, {"port": await ports.create(body)}
    if method == "GET":
        fields = show_fields(QueryParams(scope.get("query_string", b"")))
        return 200, {"port": select_fields(ports.get(port_id), fields)}
    if method == "DELETE":
        await ports.delete(port_id)
        return 204, None
    body = await read_json_body(receive, headers, context.max_body)
    return 200, {"port": await ports.update(port_id, body)}
