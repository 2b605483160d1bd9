"""The ASGI application: FastAPI with Neutron-shaped errors and a body limit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from l2pop.errors import BodyTooLargeError, L2popError, ValidationError
from l2pop.server.api.errors import install_error_handlers
from l2pop.server.hosts import HostOps
from l2pop.server.networks import NetworkOps
from l2pop.server.ports import PortOps
from l2pop.server.service import Service

__all__ = [
    "Context",
    "attach",
    "catch_up",
    "check_declared_size",
    "create_app",
    "ctx",
    "parse_json_body",
    "read_json",
]

DEFAULT_MAX_BODY = 1024 * 1024


@dataclass
class Context:
    service: Service
    networks: NetworkOps
    ports: PortOps
    hosts: HostOps
    max_body: int


def ctx(request: Request) -> Context:
    context: Context = request.app.state.ctx
    return context


async def read_json(request: Request) -> Any:
    """The request body as JSON; over ``--max-body`` is 413, not JSON is 400."""
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


class RequestMetrics:
    """Counts requests by method, route template and status (pure ASGI: streams untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = [500]

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            template = scope.get("l2pop.route") or getattr(scope.get("route"), "path", "unmatched")
            state = scope.get("app")
            context = getattr(getattr(state, "state", None), "ctx", None)
            if isinstance(context, Context):
                context.service.metrics.requests.labels(
                    scope["method"], template, str(status[0])
                ).inc()


# Answered from this replica alone: liveness and discovery must not wait on the store.
LOCAL_PATHS = frozenset({"/healthz", "/metrics", "/", "/v2.0/", "/v2.0"})
BARRIER_TIMEOUT_S = 5.0
# A write re-checks its guards at commit time and has its own 5 s budget
# against an unreachable store: its barrier only gets a short head start.
WRITE_BARRIER_TIMEOUT_S = 0.5


class ReadBarrier:
    """Read-your-writes across replicas (DESIGN.md §5).

    A store shared by several replicas (etcd) offers ``barrier()``: the
    revision of the last write acknowledged anywhere. Before a request is
    served, this replica's view catches up to it, so a write acknowledged by
    another replica (or a token it revoked) is seen here. A store that is
    unreachable does not block reads: the request is served from the local
    view, and writes get their own 503. SQLite has no barrier: nothing to wait for.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in LOCAL_PATHS:
            context = getattr(getattr(scope.get("app"), "state", None), "ctx", None)
            if isinstance(context, Context):
                read = scope["method"] in ("GET", "HEAD")
                await catch_up(
                    context.service, BARRIER_TIMEOUT_S if read else WRITE_BARRIER_TIMEOUT_S
                )
        await self.app(scope, receive, send)


async def catch_up(service: Service, timeout: float) -> None:
    barrier = getattr(service.store, "barrier", None)
    if barrier is None:
        return
    try:
        async with asyncio.timeout(timeout):
            revision = int(await barrier())
            await service.view.wait_for(revision)
    except (TimeoutError, L2popError):
        return


def attach(app: FastAPI, service: Service, max_body: int) -> Context:
    """Make ``service`` the one the routes of ``app`` use (the lifespan does it; tests too)."""
    ports = PortOps(service)
    context = Context(service, NetworkOps(service), ports, HostOps(service, ports), max_body)
    app.state.ctx = context
    return context


def create_app(open_service: Callable[[], Awaitable[Service]], max_body: int) -> FastAPI:
    """The app; ``open_service`` runs at startup, the service closes at shutdown."""
    from l2pop.server.api import evpn, hosts, neutron, subnets

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = await open_service()
        attach(app, service, max_body)
        try:
            yield
        finally:
            await service.close()

    app = FastAPI(
        title="l2pop server",
        version="0.1.0",
        description="Neutron v2.0 subset (networks, subnets, ports) and the l2pop host/agent API.",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    install_error_handlers(app)
    app.include_router(hosts.router)
    app.include_router(neutron.router)
    app.include_router(subnets.router)
    app.include_router(evpn.router)
    app.router.routes[0:0] = hosts.fast_routes()
    app.add_middleware(ReadBarrier)
    app.add_middleware(RequestMetrics)
    return app
