"""Routes the fast dispatcher serves, declared in the FastAPI app for the schema only.

:class:`~l2pop.server.api.fastpath.AgentFastPath` answers these requests
before the app sees them, so their operations here have no body of their
own: a declaration gives the OpenAPI schema its path, parameters, request
body and status, and nothing else. The endpoint behind every declaration
raises, should a request ever reach it (it cannot while the dispatcher is
in front and the service is up); the test
``tests/unit/server/test_server_routes.py`` checks that the dispatcher's
routes and the declared operations are the same set.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter

from l2pop.server.api.schemas import body

__all__ = ["FAST_PATH", "declare"]

# Marks a declared operation in the schema (an OpenAPI extension field).
FAST_PATH = "x-l2pop-fast-path"
_PARAM = re.compile(r"\{([^}]+)\}")


async def _served_by_the_fast_dispatcher() -> None:
    raise RuntimeError("a declared route reached the FastAPI app: is AgentFastPath in front?")


def declare(
    router: APIRouter,
    method: str,
    path: str,
    *,
    tag: str,
    status_code: int = 200,
    request_body: dict[str, Any] | None = None,
    query: tuple[str, ...] = (),
) -> None:
    """Add ``method path`` to the schema as the fast dispatcher serves it."""
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(path)
    ] + [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in query
    ]
    extra: dict[str, Any] = {"parameters": parameters, FAST_PATH: True}
    if request_body is not None:
        extra |= body(request_body)
    router.add_api_route(
        path,
        _served_by_the_fast_dispatcher,
        methods=[method],
        tags=[tag],
        status_code=status_code,
        openapi_extra=extra,
        name=f"{method.lower()} {path}",
    )
