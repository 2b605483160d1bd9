"""Request bodies: the size limit (413) and JSON parsing (400), for every handler."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from starlette.datastructures import Headers
from starlette.types import Receive

from l2pop.errors import BodyTooLargeError, ValidationError
from l2pop.server.api.context import ctx

__all__ = [
    "check_declared_size",
    "parse_json_body",
    "read_body",
    "read_json",
    "read_json_body",
]


def check_declared_size(declared: str | None, limit: int) -> None:
    """413 before reading, when the client announces a body over ``limit``."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(f"request body of {declared} bytes is over the {limit} limit")


def parse_json_body(raw: bytes) -> Any:
    """A request body as JSON; empty or malformed is a 400 naming the problem."""
    if not raw.strip():
        raise ValidationError("body", "", "a JSON body is required")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        shown = raw[:60].decode(errors="replace")
        raise ValidationError("body", shown, f"malformed JSON: {exc}") from None


async def read_json(request: Request) -> Any:
    """A FastAPI route's body as JSON; over ``--max-body`` is 413, not JSON is 400."""
    limit = ctx(request).max_body
    check_declared_size(request.headers.get("content-length"), limit)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(f"request body is over the {limit} byte limit")
        chunks.append(chunk)
    return parse_json_body(b"".join(chunks))


async def read_body(receive: Receive, headers: Headers, limit: int) -> bytes:
    """A bare handler's whole body; over ``limit`` bytes is a 413 (declared or not)."""
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
    """A bare handler's body as JSON: 413 over ``limit``, 400 when empty or malformed."""
    return parse_json_body(await read_body(receive, headers, limit))
