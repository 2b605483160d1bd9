"""A simulated agent: a real HTTP list + watch client driving a fake dataplane.

It does what ``l2pop agent`` does on the wire (list ``/state``, watch from
its revision, list again on ``410``, report its ports' status with its own
token) and hands every state it reaches to a :class:`Plane` (the fake
dataplane behind the project's reconciler). It has no kernel and no tap
devices: the driver tells it when a VM's tap "appears" (:meth:`activate`).

Many agents share one ``httpx.AsyncClient`` and one event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Mapping
from typing import Protocol

import httpx

from l2pop.core import Host, HostState, PortStatus, apply
from l2pop.core.wire import HostPort, decode_change, decode_state
from l2pop.sim.tracker import LineRecord, RelistRecord, Tracker

__all__ = ["AgentStats", "Plane", "SimAgent"]

RECONNECT_LIMIT = 20  # consecutive failed watch attempts before the agent gives up
BACKOFF_S = 0.05


class Plane(Protocol):
    """The dataplane side of a simulated agent."""

    def converge(self, state: HostState, ports: Mapping[str, HostPort]) -> int:
        """Make the dataplane hold ``state``; return the number of operations applied."""
        ...

    def held(self) -> HostState:
        """What the dataplane holds, read back."""
        ...


class AgentStats:
    __slots__ = ("foreign_deltas", "lines", "ops", "relists", "watch_errors")

    def __init__(self) -> None:
        self.lines = 0
        self.relists = 0
        self.ops = 0
        self.watch_errors = 0
        # delta for a network on which the host has no bound port (must stay 0)
        self.foreign_deltas = 0


class SimAgent:
    def __init__(
        self,
        host: Host,
        token: str,
        client: httpx.AsyncClient,
        plane: Plane,
        tracker: Tracker,
    ) -> None:
        self.host = host
        self.token = token
        self.client = client
        self.plane = plane
        self.tracker = tracker
        self.state = HostState()
        self.ports: dict[str, HostPort] = {}
        self.revision = 0
        self.stats = AgentStats()
        self._task: asyncio.Task[None] | None = None
        self._port_changed = asyncio.Condition()

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.token}

    async def start(self) -> None:
        await self.relist("start")
        self._task = asyncio.create_task(self._watch_loop(), name=f"watch-{self.host.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def restart(self) -> None:
        """Forget everything but the dataplane (a process restart), list, watch again."""
        await self.stop()
        self.state = HostState()
        self.ports = {}
        await self.start()

    async def relist(self, reason: str) -> None:
        t_start = time.perf_counter()
        response = await self.client.get(f"/v1/hosts/{self.host.name}/state", headers=self.headers)
        response.raise_for_status()
        revision, state, ports = decode_state(response.json())
        self.state = state
        self.ports = {p.id: p for p in ports}
        self.revision = revision
        self.stats.ops += self.plane.converge(self.state, self.ports)
        self.stats.relists += 1
        record = RelistRecord(
            self.host.name,
            reason,
            revision,
            t_start,
            time.perf_counter(),
            state.entry_count(),
            len(response.content),
        )
        self.tracker.on_relist(record)
        await self._notify()

    async def _watch_loop(self) -> None:
        failures = 0
        while failures < RECONNECT_LIMIT:
            try:
                await self._watch_once()
                failures = 0
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 410:
                    raise
                await self.relist("gone")
            except (httpx.TransportError, ValueError):
                # ValueError: a line that did not decode; the stream is restarted
                failures += 1
                self.stats.watch_errors += 1
                await asyncio.sleep(BACKOFF_S * failures)

    async def _watch_once(self) -> None:
        url = f"/v1/hosts/{self.host.name}/watch"
        params = {"revision": str(self.revision)}
        timeout = httpx.Timeout(10.0, read=30.0)
        async with self.client.stream(
            "GET", url, params=params, headers=self.headers, timeout=timeout
        ) as response:
            if response.status_code != 200:
                await response.aread()
                response.raise_for_status()
            async for line in response.aiter_lines():
                if line:
                    await self._on_line(line)

    async def _on_line(self, line: str) -> None:
        body = json.loads(line)
        if body.get("type") != "change":
            self.revision = max(self.revision, int(body.get("revision", 0)))
            self.tracker.bookmarks += 1
            return
        change = decode_change(body)
        self.state = apply(self.state, change.delta)
        for port in change.ports:
            if port.deleted:
                self.ports.pop(port.id, None)
            else:
                self.ports[port.id] = port
        self.stats.ops += self.plane.converge(self.state, self.ports)
        self.revision = change.revision
        self.stats.lines += 1
        self._check_targeted(change.delta.networks)
        networks = tuple(
            (net_id, -1 if nd.removed else len(nd.add) + len(nd.remove))
            for net_id, nd in change.delta.networks.items()
        )
        self.tracker.on_line(
            LineRecord(
                self.host.name,
                change.revision,
                time.perf_counter(),
                len(line) + 1,
                networks,
                tuple(p.id for p in change.ports),
            )
        )
        if change.ports:
            await self._notify()

    def _check_targeted(self, networks: Mapping[str, object]) -> None:
        """A delta may only name networks this host has a bound port on (or just left)."""
        mine = {p.network_id for p in self.ports.values()}
        for net_id in networks:
            if net_id not in mine and net_id in self.state.networks:
                self.stats.foreign_deltas += 1

    async def _notify(self) -> None:
        async with self._port_changed:
            self._port_changed.notify_all()

    async def wait_for_port(self, port_id: str, status: PortStatus, timeout: float) -> None:
        """Wait until this agent knows ``port_id`` with ``status`` (the VM's tap is plugged
        only once the agent has seen the port bound to its host)."""

        def ready() -> bool:
            port = self.ports.get(port_id)
            return port is not None and port.status is status

        async with asyncio.timeout(timeout), self._port_changed:
            await self._port_changed.wait_for(ready)
