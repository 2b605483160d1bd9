"""The watch stream as a bare ASGI handler in front of the FastAPI app.

A watch line is the server's most frequent write (one per interested host per
change). Through FastAPI it would pass five middleware ``send`` wrappers and
a StreamingResponse per line; here it goes straight to uvicorn. The FastAPI
route of the same path stays for the OpenAPI schema (and for the TestClient).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from l2pop.errors import L2popError, ValidationError
from l2pop.server.api.app import Context
from l2pop.server.api.errors import error_response
from l2pop.server.auth import hash_token, token_from_headers
from l2pop.server.fanout import Watcher

__all__ = ["WatchFirst"]

log = logging.getLogger(__name__)
_WATCH = re.compile(r"^/v1/hosts/([^/]+)/watch$")
ROUTE = "/v1/hosts/{name}/watch"
_HEADERS = [(b"content-type", b"application/x-ndjson"), (b"cache-control", b"no-store")]


class WatchFirst:
    """Serve ``GET /v1/hosts/{name}/watch`` directly; pass everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _WATCH.match(scope.get("path", "")) if scope["type"] == "http" else None
        inner_state = getattr(self.app, "state", None)
        context = getattr(inner_state, "ctx", None)
        if match is None or scope["method"] != "GET" or not isinstance(context, Context):
            await self.app(scope, receive, send)
            return
        await _serve(context, match.group(1), scope, receive, send)


async def _serve(context: Context, name: str, scope: Scope, receive: Receive, send: Send) -> None:
    service = context.service
    headers = Headers(scope=scope)
    query = QueryParams(scope.get("query_string", b""))
    try:
        principal = service.authenticate(headers)
        token_hash = hash_token(token_from_headers(headers))
        for key in query:
            if key != "revision":
                raise ValidationError(key, query[key], "unknown query parameter")
        lines, watcher = await context.hosts.open_watch(principal, name, query.get("revision"))
    except L2popError as exc:
        response = error_response(exc)
        service.metrics.requests.labels("GET", ROUTE, str(response.status_code)).inc()
        await response(scope, receive, send)
        return
    service.metrics.requests.labels("GET", ROUTE, "200").inc()
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    gone = asyncio.create_task(_until_disconnect(receive, watcher))
    try:
        async for chunk in context.hosts.stream(principal, token_hash, lines, watcher):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except OSError as exc:
        log.info("watch of %s ended: %s", name, exc)
    finally:
        gone.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await gone


async def _until_disconnect(receive: Receive, watcher: Watcher) -> None:
    """The client went away: end the stream (uvicorn drops writes to a gone client)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            watcher.closed = True
            watcher.queue.put_nowait(b"")
            return
