"""The agents' hot paths as bare ASGI handlers in front of the FastAPI app.

``PUT /v1/hosts/{name}/ports/{id}/status`` and ``GET /v1/hosts/{name}/watch``
are the server's most frequent requests (every agent, every port change).
Through FastAPI each would pass seven middleware layers and the router; here
they go straight from uvicorn to the service, with the same checks, the same
Neutron-shaped errors, the same read barrier and the same request metrics.
The FastAPI routes of the same paths stay for the OpenAPI schema (and the
TestClient); everything else passes through to the app, but for the port
requests of :mod:`l2pop.server.api.fastports`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from l2pop.errors import L2popError, ValidationError
from l2pop.server.api.app import (
    BARRIER_TIMEOUT_S,
    WRITE_BARRIER_TIMEOUT_S,
    Context,
    catch_up,
)
from l2pop.server.api.asgiwriter import (
    BodyWriter,
    TransportWriter,
    connection_transport,
    transport_writer,
)
from l2pop.server.api.errors import error_response
from l2pop.server.api.fastports import match_port_route, serve_ports
from l2pop.server.api.rawhttp import read_json_body, respond, send_json
from l2pop.server.auth import hash_token, token_from_headers
from l2pop.server.service import Service
from l2pop.server.streamlink import ProcessSink
from l2pop.server.watcher import Watcher

__all__ = ["AgentFastPath"]

log = logging.getLogger(__name__)
_WATCH = re.compile(r"/v1/hosts/([^/]+)/watch")
_STATUS = re.compile(r"/v1/hosts/([^/]+)/ports/([^/]+)/status")
WATCH_ROUTE = "/v1/hosts/{name}/watch"
STATUS_ROUTE = "/v1/hosts/{name}/ports/{port_id}/status"
HANDOVER_WAIT_S = 10.0
_NDJSON = [(b"content-type", b"application/x-ndjson"), (b"cache-control", b"no-store")]


class AgentFastPath:
    """Serve the watch, the status report and port requests directly; pass the rest on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        context = getattr(getattr(self.app, "state", None), "ctx", None)
        if scope["type"] == "http" and isinstance(context, Context):
            path, method = scope["path"], scope["method"]
            if method == "GET" and (match := _WATCH.fullmatch(path)):
                await _watch(context, match.group(1), scope, receive, send)
                return
            if method == "PUT" and (match := _STATUS.fullmatch(path)):
                await _status(context, match.group(1), match.group(2), scope, receive, send)
                return
            served, port_id = match_port_route(method, path)
            if served:
                await serve_ports(context, port_id, scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _status(
    context: Context, name: str, port_id: str, scope: Scope, receive: Receive, send: Send
) -> None:
    service = context.service
    try:
        await catch_up(service, WRITE_BARRIER_TIMEOUT_S)
        headers = Headers(scope=scope)
        principal = service.authenticate(headers)
        principal.require_host(name)
        body = await read_json_body(receive, headers, context.max_body)
        record = await context.hosts.report_status(principal, name, port_id, body)
    except L2popError as exc:
        await respond(context, error_response(exc), STATUS_ROUTE, scope, receive, send)
        return
    await send_json(context, "PUT", STATUS_ROUTE, 200, {"port": record}, send)


async def _watch(context: Context, name: str, scope: Scope, receive: Receive, send: Send) -> None:
    service = context.service
    query = QueryParams(scope.get("query_string", b""))
    try:
        await catch_up(service, BARRIER_TIMEOUT_S)
        headers = Headers(scope=scope)
        principal = service.authenticate(headers)
        token_hash = hash_token(token_from_headers(headers))
        for key in query:
            if key != "revision":
                raise ValidationError(key, query[key], "unknown query parameter")
        lines, watcher = await context.hosts.open_watch(
            principal, name, query.get("revision"), token_hash
        )
    except L2popError as exc:
        await respond(context, error_response(exc), WATCH_ROUTE, scope, receive, send)
        return
    service.metrics.requests.labels("GET", WATCH_ROUTE, "200").inc()
    async with context.hosts.session(principal, watcher):
        await send({"type": "http.response.start", "status": 200, "headers": _NDJSON})
        await send({"type": "http.response.body", "body": b"".join(lines), "more_body": True})
        gone = asyncio.create_task(_until_disconnect(receive, watcher))
        try:
            sink = await _hand_over(service, send, watcher)
            if sink is None:
                await _write_here(send, watcher)
            else:
                await _write_in_process(sink, send, watcher)
        except OSError as exc:
            log.info("watch of %s ended: %s", name, exc)
        finally:
            gone.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gone


async def _write_here(send: Send, watcher: Watcher) -> None:
    """This process writes the stream's lines."""
    # Behind by ``limit`` lines of ~1 KiB at most, or ``limit`` queued chunks.
    writer: BodyWriter | TransportWriter = transport_writer(
        send, watcher.limit * 1024
    ) or BodyWriter(send, watcher.limit)
    watcher.attach(writer)
    await watcher.ended()
    if watcher.cut:
        writer.drop()
    await writer.finish()


async def _write_in_process(sink: ProcessSink, send: Send, watcher: Watcher) -> None:
    """The writer process writes the lines; the final chunk is ours once it is done."""
    sink.on_cut = watcher.cut_off
    watcher.attach(sink)
    await watcher.ended()
    if await sink.finish():
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    else:  # bytes were lost on the way: no clean end, the agent resumes or lists
        transport = connection_transport(send)
        if transport is not None:
            transport.close()


async def _hand_over(service: Service, send: Send, watcher: Watcher) -> ProcessSink | None:
    """Give the connection to the writer process once what uvicorn buffered is out."""
    link, transport = service.streamer, connection_transport(send)
    if link is None or not link.alive or transport is None:
        return None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HANDOVER_WAIT_S
    # The writer writes to the socket itself: bytes still in uvicorn's buffer
    # (a long history) must reach the socket first. Lines published meanwhile
    # wait in the watcher.
    while transport.get_write_buffer_size():
        if transport.is_closing() or watcher.closed or loop.time() > deadline:
            return None
        await asyncio.sleep(0.005)
    sink: ProcessSink | None = link.open(transport)
    return sink


async def _until_disconnect(receive: Receive, watcher: Watcher) -> None:
    """The client went away: end the stream (uvicorn drops writes to a gone client)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            watcher.close()
            return
