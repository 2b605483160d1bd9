"""Responses of the bare ASGI handlers of the fast dispatcher.

What FastAPI's middleware does for every other route, done inline: the
request metric, NeutronError answers, and the last-resort 500 for a bug
(:func:`~l2pop.server.api.errors.internal_error`, shared with the app).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from l2pop.server.api.context import Context
from l2pop.server.api.errors import internal_error

__all__ = ["JsonReply", "Reply", "StreamReply", "respond", "send_json", "unexpected"]

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
    """A bug (call from an ``except`` block): logged, answered 500 as every route does."""
    response = internal_error(scope["method"], scope["path"])
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


@dataclass(frozen=True, slots=True)
class JsonReply:
    """A handler's answer: ``value`` as JSON with ``status`` (None: no body)."""

    status: int
    value: object


@dataclass(frozen=True, slots=True)
class StreamReply:
    """A handler's answer that writes its own response (a watch stream)."""

    serve: Callable[[Receive, Send], Awaitable[None]]


Reply = JsonReply | StreamReply
