"""A simulated agent: the agent's real HTTP client and reconciler, a fake kernel.

It speaks to the server through the agent's own :class:`~l2pop.agent.client.HostApi`
(list ``/state``, watch from the held revision, list again on ``410``, report
status with its own token), keeps the held state with the agent's
:class:`~l2pop.agent.desired.Held` (every line is checked to fit before it is
applied) and reconciles only what each line touches into a fake dataplane
(:class:`~l2pop.sim.plane.AgentPlane`). What it adds is bookkeeping: every
line applied is recorded (revision, time, size) in its group's :class:`LineLog`
for the analysis after the run, and a line that carries ports is passed at once
to the :class:`Sink` (the driver resolves its changes from these "owner" lines).
Times are ``time.monotonic()`` (CLOCK_MONOTONIC, one clock for every process of
the machine), so agents in worker processes time their lines on the driver's
clock.

Many agents share one event loop (an :class:`~l2pop.sim.group.AgentGroup`); the
driver tells an agent when a VM's tap appears (:meth:`plug`), as Nova would by
creating the device.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol

from l2pop.agent.client import Bookmark, HostApi, UnknownLine, parse_line
from l2pop.agent.desired import Held
from l2pop.core import Host, PortStatus
from l2pop.core.wire import WatchChange
from l2pop.errors import GoneError, L2popError, ServerUnreachableError
from l2pop.sim.plane import AgentPlane, Touch
from l2pop.sim.tracker import LineRecord, RelistRecord

__all__ = ["AgentStats", "LineLog", "SimAgent", "Sink"]

RECONNECT_LIMIT = 20  # consecutive failed watch attempts before the agent gives up
MAX_STREAMS = 100_000  # streams opened over a run, at most (bounds the loop)
BACKOFF_S = 0.05
WATCH_IDLE_TIMEOUT_S = 30.0
REPORT_ATTEMPTS = 3  # the server sends a bookmark at least every 5 s


class AgentStats:
    __slots__ = (
        "foreign_deltas",
        "lines",
        "misfits",
        "ops",
        "relists",
        "report_retries",
        "watch_errors",
    )

    def __init__(self) -> None:
        self.lines = 0
        self.relists = 0
        self.ops = 0
        self.watch_errors = 0
        self.report_retries = 0  # status reports sent again after a stale connection
        # lines that did not fit the held state (Held.check): the agent lists again
        self.misfits = 0
        # delta for a network on which the host has no bound port (must stay 0)
        self.foreign_deltas = 0


class Sink(Protocol):
    """Who must hear at once about owner lines and lists (the driver's tracker)."""

    def on_owner_line(
        self, host: str, revision: int, port_ids: tuple[str, ...], t_apply: float
    ) -> None: ...

    def on_relist(self, record: RelistRecord) -> None: ...


class LineLog:
    """Every line the agents of one group applied, kept for the analysis after the run."""

    __slots__ = ("bookmarks", "lines", "sink")

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.lines: list[LineRecord] = []
        self.bookmarks = 0


class SimAgent:
    def __init__(
        self, host: Host, token: str, api: HostApi, plane: AgentPlane, log: LineLog
    ) -> None:
        self.host = host
        self.token = token
        self.api = api
        self.plane = plane
        self.log = log
        self.held = Held()
        self.stats = AgentStats()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one reconcile at a time, as in the agent
        self._port_changed = asyncio.Condition()

    @property
    def revision(self) -> int:
        return self.held.revision

    async def start(self, reason: str = "start") -> None:
        await self.relist(reason)
        self._task = asyncio.create_task(self._watch_loop(), name=f"watch-{self.host.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def restart(self) -> None:
        """A process restart: forget all but the kernel, list, reconcile, watch again."""
        await self.stop()
        self.held = Held()
        await self.start("restart")

    async def relist(self, reason: str) -> None:
        t_start = time.monotonic()
        listing = await self.api.list_state()
        async with self._lock:
            self.held = Held.listed(listing.revision, listing.state, listing.ports)
            self.stats.ops += self.plane.full(self.held)
        self.stats.relists += 1
        self.log.sink.on_relist(
            RelistRecord(
                self.host.name,
                reason,
                listing.revision,
                t_start,
                time.monotonic(),
                listing.state.entry_count(),
                0,
            )
        )
        await self._notify()

    async def _watch_loop(self) -> None:
        failures = 0
        for _ in range(MAX_STREAMS):
            if failures >= RECONNECT_LIMIT:
                return
            try:
                async with self.api.watch_batches(self.held.revision, WATCH_IDLE_TIMEOUT_S) as b:
                    failures = 0
                    async for lines in b:
                        await self._on_batch(lines)
            except GoneError:
                await self.relist("gone")
            except _Misfit:
                await self.relist("misfit")
            except L2popError:
                failures += 1
                self.stats.watch_errors += 1
                await asyncio.sleep(BACKOFF_S * failures)

    async def _on_batch(self, texts: list[str]) -> None:
        """Every line one network read brought: each is checked and applied to the held
        state, then one reconcile covers what they touched (as the agent does)."""
        async with self._lock:
            taken: list[tuple[WatchChange, int]] = []
            touch = Touch()
            try:
                for text in texts:
                    change = self._take(text)
                    if change is None:
                        continue
                    before = {p.id: self.held.ports.get(p.id) for p in change.ports}
                    self.held.advance(change)
                    self._check_targeted(change)
                    touch.add(change, before)
                    taken.append((change, len(text) + 1))
            finally:
                if taken:
                    self.stats.ops += self.plane.change(self.held, touch)
        now = time.monotonic()
        for change, nbytes in taken:
            self._record(change, nbytes, now)
        if any(change.ports for change, _ in taken):
            await self._notify()

    def _take(self, text: str) -> WatchChange | None:
        line = parse_line(text)
        if isinstance(line, Bookmark):
            self.held.revision = max(self.held.revision, line.revision)
            self.log.bookmarks += 1
            return None
        if isinstance(line, UnknownLine) or line.revision <= self.held.revision:
            return None
        if self.held.check(line) is not None:
            self.stats.misfits += 1
            raise _Misfit()
        return line

    def _record(self, change: WatchChange, nbytes: int, applied_at: float) -> None:
        self.stats.lines += 1
        networks = tuple(
            (net_id, -1 if nd.removed else len(nd.add) + len(nd.remove))
            for net_id, nd in change.delta.networks.items()
        )
        port_ids = tuple(p.id for p in change.ports)
        self.log.lines.append(
            LineRecord(self.host.name, change.revision, applied_at, nbytes, networks, port_ids)
        )
        if port_ids:
            self.log.sink.on_owner_line(self.host.name, change.revision, port_ids, applied_at)

    def _check_targeted(self, change: WatchChange) -> None:
        """After the line: every network it names is one this host has a port on, or left."""
        for net_id, nd in change.delta.networks.items():
            if not nd.removed and not self.held.has_port_on(net_id):
                self.stats.foreign_deltas += 1

    async def _notify(self) -> None:
        async with self._port_changed:
            self._port_changed.notify_all()

    async def wait_for_port(self, port_id: str, status: PortStatus, timeout: float) -> None:
        """Wait until this agent holds ``port_id`` with ``status``."""

        def ready() -> bool:
            port = self.held.ports.get(port_id)
            return port is not None and port.status is status

        async with asyncio.timeout(timeout), self._port_changed:
            await self._port_changed.wait_for(ready)

    async def plug(self, port_id: str) -> float:
        """The VM's tap appears: attach it, then report the port ACTIVE (own token).
        Returns when the server's 2xx answer came (``time.monotonic()``)."""
        async with self._lock:
            port = self.held.ports.get(port_id)
            if port is None:
                raise L2popError(f"port {port_id} is not bound to {self.host.name}")
            self.stats.ops += self.plane.plug(self.held, port)
        for attempt in range(REPORT_ATTEMPTS):
            try:
                await self.api.report_status(port_id, PortStatus.ACTIVE)
                return time.monotonic()
            except ServerUnreachableError:
                # HostApi tries each URL once; a keep-alive connection the server closed
                # while it idled fails the first try (the agent's reporter retries too).
                if attempt == REPORT_ATTEMPTS - 1:
                    raise
                self.stats.report_retries += 1
        raise AssertionError("unreachable")  # pragma: no cover

    def unplug(self, port_id: str) -> None:
        self.plane.unplug(port_id)


class _Misfit(Exception):
    """A line did not fit the held state: list again (as the agent does)."""
