"""Request and response plumbing for the bare ASGI handlers of the hot paths.

What FastAPI's middleware does for every other route, done inline: the
request metric, the body limit, NeutronError answers, and the last-resort
500 for a bug (logged, never a traceback to the client).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from l2pop.errors import BodyTooLargeError, ValidationError
from l2pop.server.api.app import Context, check_declared_size, parse_json_body
from l2pop.server.api.errors import neutron_error

__all__ = ["read_body", "read_json_body", "respond", "send_json", "unexpected"]

log = logging.getLogger(__name__)
_JSON = [(b"content-type", b"application/json")]


async def respond(
    context: Context, response: Response, route: str, scope: Scope, receive: Receive, send: Send
) -> None:
    """Send a prepared response (an error) and count it."""
    context.service.metrics.requests.labels(scope["method"], route, str(response.status_code)).inc()
    await response(scope, receive, send)


async def unexpected(
    context: Context, route: str, scope: Scope, receive: Receive, send: Send
) -> None:
    """A bug: log it with its traceback and answer 500 as the FastAPI routes do."""
    log.exception("unexpected error on %s %s", scope["method"], scope["path"])
    response = neutron_error(500, "InternalError", "internal server error")
    await respond(context, response, route, scope, receive, send)


async def send_json(
    context: Context, method: str, route: str, status: int, value: object, send: Send
) -> None:
    """``value`` as a JSON answer (None: no body, for a 204), counted."""
    context.service.metrics.requests.labels(method, route, str(status)).inc()
    if value is None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    payload = orjson.dumps(value)
    length = (b"content-length", str(len(payload)).encode())
    await send({"type": "http.response.start", "status": status, "headers": [*_JSON, length]})
    await send({"type": "http.response.body", "body": payload})


async def read_body(receive: Receive, headers: Headers, limit: int) -> bytes:
    """The whole request body; over ``limit`` bytes is a 413 (declared or not)."""
    check_declared_size(headers.get("content-length"), limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ValidationError("body", "", "the client went away before its body arrived")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(f"request body is over the {limit} byte limit")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def read_json_body(receive: Receive, headers: Headers, limit: int) -> Any:
    """The request body as JSON: 413 over ``limit``, 400 when empty or malformed."""
    return parse_json_body(await read_body(receive, headers, limit))
