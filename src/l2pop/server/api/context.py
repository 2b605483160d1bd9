"""What every request handler shares: the service's operations and the read barrier.

Both the FastAPI routes and the bare handlers of the fast dispatcher import
this module (and :mod:`.bodies`); it imports neither, so the app factory
(:mod:`.app`) can import the routes without a cycle.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import FastAPI, Request

from l2pop.errors import L2popError
from l2pop.server.resources.hosts import HostOps
from l2pop.server.resources.networks import NetworkOps
from l2pop.server.resources.ports import PortOps
from l2pop.server.service import Service
from l2pop.server.watch import Watches

__all__ = [
    "BARRIER_TIMEOUT_S",
    "LOCAL_PATHS",
    "WRITE_BARRIER_TIMEOUT_S",
    "Context",
    "attach",
    "catch_up",
    "ctx",
]

# Answered from this replica alone: liveness and discovery must not wait on the store.
LOCAL_PATHS = frozenset({"/healthz", "/metrics", "/", "/v2.0/", "/v2.0"})
BARRIER_TIMEOUT_S = 5.0
# A write re-checks its guards at commit time and has its own 5 s budget
# against an unreachable store: its barrier only gets a short head start.
WRITE_BARRIER_TIMEOUT_S = 0.5


@dataclass
class Context:
    service: Service
    networks: NetworkOps
    ports: PortOps
    hosts: HostOps
    watches: Watches
    max_body: int


def ctx(request: Request) -> Context:
    context: Context = request.app.state.ctx
    return context


def attach(app: FastAPI, service: Service, max_body: int) -> Context:
    """Make ``service`` the one the routes of ``app`` use (the lifespan does it; tests too)."""
    ports = PortOps(service)
    hosts = HostOps(service, ports)
    context = Context(service, NetworkOps(service), ports, hosts, Watches(service), max_body)
    app.state.ctx = context
    return context


async def catch_up(service: Service, timeout: float) -> None:
    """Read-your-writes across replicas (the store's barrier); see :class:`.app.ReadBarrier`."""
    shared = service.store.shared
    if shared is None:
        return
    try:
        async with asyncio.timeout(timeout):
            revision = await shared.barrier()
            await service.view.wait_for(revision)
    except (TimeoutError, L2popError):
        return
