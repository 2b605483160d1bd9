"""The ASGI application: FastAPI with Neutron-shaped errors and a body limit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from l2pop import __version__
from l2pop.server.api import agents, hosts, neutron, subnets
from l2pop.server.api.context import (
    BARRIER_TIMEOUT_S,
    LOCAL_PATHS,
    WRITE_BARRIER_TIMEOUT_S,
    Context,
    attach,
    catch_up,
)
from l2pop.server.api.errors import install_error_handlers
from l2pop.server.service import Service

__all__ = ["create_app"]


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
            template = getattr(scope.get("route"), "path", "unmatched")
            state = scope.get("app")
            context = getattr(getattr(state, "state", None), "ctx", None)
            if isinstance(context, Context):
                context.service.metrics.requests.labels(
                    scope["method"], template, str(status[0])
                ).inc()


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


def create_app(open_service: Callable[[], Awaitable[Service]], max_body: int) -> FastAPI:
    """The app; ``open_service`` runs at startup, the service closes at shutdown.

    The agents' hot paths and the port writes are not served by this app but
    by :class:`~l2pop.server.api.fastpath.AgentFastPath` in front of it; they
    are declared here for the schema only (:mod:`.declared`).
    """
    from l2pop.server.api import evpn
    from l2pop.server.ui.routes import install_ui

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
        version=__version__,
        description="Neutron v2.0 subset (networks, subnets, ports) and the l2pop host/agent API.",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    install_error_handlers(app)
    app.include_router(hosts.router)
    app.include_router(neutron.router)
    app.include_router(subnets.router)
    app.include_router(agents.router)
    app.include_router(evpn.router)
    install_ui(app)
    app.add_middleware(ReadBarrier)
    app.add_middleware(RequestMetrics)
    return app
