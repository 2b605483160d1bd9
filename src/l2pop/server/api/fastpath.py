"""The fast dispatcher: the hottest routes as bare ASGI handlers in front of the FastAPI app.

The status report, the watch, ``/state`` and the port writes are the
server's most frequent requests. They go straight from uvicorn to their
handler (:mod:`.fasthosts`, :mod:`.fastports`) through one table,
:data:`ROUTES`; everything else passes on to the FastAPI app, where these
routes are declared for the schema only (:mod:`.declared`).

Each route gets the same treatment here, in one place: the read barrier
first (as the app's ``ReadBarrier`` does), then the handler; an
:class:`~l2pop.errors.L2popError` becomes its NeutronError answer, any
other exception the logged 500 every route shares, and every answer is
counted in ``l2pop_requests`` under its route template.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from l2pop.errors import L2popError
from l2pop.server.api import fasthosts, fastports
from l2pop.server.api.context import (
    BARRIER_TIMEOUT_S,
    WRITE_BARRIER_TIMEOUT_S,
    Context,
    catch_up,
)
from l2pop.server.api.errors import error_response
from l2pop.server.api.rawhttp import Reply, StreamReply, respond, send_json, unexpected

__all__ = ["ROUTES", "AgentFastPath", "FastRoute"]

log = logging.getLogger(__name__)

Handler = Callable[[Context, dict[str, str], Scope, Receive], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class FastRoute:
    method: str
    path: str  # the template: as in the schema and the metrics label
    handler: Handler
    pattern: re.Pattern[str]

    @classmethod
    def of(cls, method: str, path: str, handler: Handler) -> FastRoute:
        parts = re.split(r"\{([^}]+)\}", path)  # literal, name, literal, ...
        regex = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts)
        )
        return cls(method, path, handler, re.compile(f"^{regex}$"))


ROUTES: tuple[FastRoute, ...] = (
    FastRoute.of("PUT", "/v1/hosts/{name}/ports/{port_id}/status", fasthosts.report_status),
    FastRoute.of("GET", "/v1/hosts/{name}/watch", fasthosts.watch),
    FastRoute.of("GET", "/v1/hosts/{name}/state", fasthosts.host_state),
    FastRoute.of("POST", "/v2.0/ports", fastports.create_port),
    FastRoute.of("GET", "/v2.0/ports/{port_id}", fastports.show_port),
    FastRoute.of("PUT", "/v2.0/ports/{port_id}", fastports.update_port),
    FastRoute.of("DELETE", "/v2.0/ports/{port_id}", fastports.delete_port),
)


def _match(method: str, path: str) -> tuple[FastRoute, dict[str, str]] | None:
    for route in ROUTES:
        if route.method == method and (found := route.pattern.match(path)):
            return route, found.groupdict()
    return None


class AgentFastPath:
    """Serve :data:`ROUTES` directly; pass everything else on to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        context = getattr(getattr(self.app, "state", None), "ctx", None)
        if scope["type"] == "http" and isinstance(context, Context):
            matched = _match(scope["method"], scope["path"])
            if matched is not None:
                await _serve(context, *matched, scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _serve(
    context: Context,
    route: FastRoute,
    params: dict[str, str],
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    method = scope["method"]
    try:
        read = method in ("GET", "HEAD")
        await catch_up(context.service, BARRIER_TIMEOUT_S if read else WRITE_BARRIER_TIMEOUT_S)
        reply = await route.handler(context, params, scope, receive)
    except L2popError as exc:
        await respond(context, error_response(exc), route.path, scope, receive, send)
        return
    except Exception:
        await unexpected(context, route.path, scope, receive, send)
        return
    if not isinstance(reply, StreamReply):
        await send_json(context, method, route.path, reply.status, reply.value, send)
        return
    context.service.metrics.requests.labels(method, route.path, "200").inc()
    try:
        await reply.serve(receive, send)
    except Exception:
        # The answer has started: nothing to send but the end of the connection.
        log.exception("unexpected error in the stream of %s %s", method, scope["path"])
