"""A group of simulated agents sharing one event loop: in the driver's process, or in a
worker process of their own (:mod:`l2pop.sim.worker`).

Each agent is a real list + watch client with its own token, its own
:class:`~l2pop.agent.client.HostApi` (all of a group's over one light transport)
and its own fake kernel. The group answers what the driver asks of the hosts it
runs: wait until a port is ``BUILD`` on its host, plug the VM's tap (the agent
attaches it and reports the port ``ACTIVE``), unplug it, restart an agent, wait
until every agent reached a revision, check every fake kernel against the core's
desired state, and hand back what its agents recorded when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from l2pop.agent.client import HostApi
from l2pop.core import Host, Network, Port, PortStatus, Snapshot, desired
from l2pop.sim.agent import AgentStats, LineLog, SimAgent, Sink
from l2pop.sim.plane import AgentPlane, by_vni
from l2pop.sim.tracker import LineRecord
from l2pop.sim.transport import FastTransport
from l2pop.tlsclient import client_context

__all__ = ["AgentGroup", "GroupResult", "Member", "bounded", "frozen_heap"]

SETUP_CONCURRENCY = 64
SETTLE_POLL_S = 0.05
FREEZE_EVERY_S = 1.0


@contextlib.asynccontextmanager
async def frozen_heap(every_s: float = FREEZE_EVERY_S) -> AsyncIterator[None]:
    """Move every object alive into the collector's permanent generation every
    ``every_s`` seconds while the block runs.

    A simulator process holds millions of long-lived objects (a thousand agents' held
    states and fake kernels, the records of every line); each full collection walks
    them all and stops the event loop for up to a second, which every change in
    flight then pays as latency. Frozen objects are still freed by reference counting;
    the collector keeps scanning what was allocated since (reference cycles among
    frozen objects alone are kept, a bounded price in a bounded run).
    """

    async def freeze() -> None:
        while True:
            gc.freeze()
            await asyncio.sleep(every_s)

    task = asyncio.create_task(freeze(), name="gc-freeze")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        gc.unfreeze()


# A host and its own token.
Member = tuple[Host, str]


async def bounded(coros: Sequence[Awaitable[None]], limit: int) -> None:
    """Run ``coros`` with at most ``limit`` at a time."""
    gate = asyncio.Semaphore(limit)

    async def one(coro: Awaitable[None]) -> None:
        async with gate:
            await coro

    await asyncio.gather(*(one(c) for c in coros))


@dataclass(slots=True)
class GroupResult:
    """What the agents of one or several groups recorded."""

    lines: list[LineRecord] = field(default_factory=list)
    entry_counts: list[int] = field(default_factory=list)  # entries each fake kernel holds
    totals: dict[str, int] = field(default_factory=dict)  # AgentStats summed, and bookmarks

    def merge(self, other: GroupResult) -> None:
        self.lines.extend(other.lines)
        self.entry_counts.extend(other.entry_counts)
        for key, value in other.totals.items():
            self.totals[key] = self.totals.get(key, 0) + value


class AgentGroup:
    """The simulated agents of some hosts, in the running event loop."""

    def __init__(
        self, base_url: str, members: Iterable[Member], sink: Sink, ca_file: str | None = None
    ) -> None:
        https = base_url.startswith("https:")
        tls = client_context(Path(ca_file) if ca_file else None) if https else None
        self.transport = FastTransport(shared=True, tls=tls)
        self.log = LineLog(sink)
        self.agents: dict[str, SimAgent] = {}
        for host, token in members:
            api = HostApi([base_url], host.name, token, timeout=30.0, transport=self.transport)
            self.agents[host.name] = SimAgent(host, token, api, AgentPlane(host), self.log)

    async def start(self) -> None:
        """Every agent lists its state and starts watching."""
        await bounded([a.start() for a in self.agents.values()], SETUP_CONCURRENCY)

    async def wait_build(self, host: str, port_id: str, timeout: float) -> bool:
        """Wait until ``host``'s agent holds ``port_id`` in ``BUILD``; False on timeout."""
        try:
            await self.agents[host].wait_for_port(port_id, PortStatus.BUILD, timeout)
        except TimeoutError:
            return False
        return True

    async def plug(self, host: str, port_id: str) -> float:
        """The VM's tap appears on ``host``; its agent reports ACTIVE. The 2xx's time."""
        return await self.agents[host].plug(port_id)

    def unplug(self, host: str, port_id: str) -> None:
        self.agents[host].unplug(port_id)

    async def restart(self, host: str) -> None:
        await self.agents[host].restart()

    async def settle(self, revision: int, timeout: float) -> bool:
        """Wait (bounded) until every agent holds ``revision`` or newer."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if all(a.revision >= revision for a in self.agents.values()):
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(SETTLE_POLL_S)

    def verify(
        self, networks: Sequence[Network], hosts: Sequence[Host], ports: Sequence[Port]
    ) -> tuple[int, list[str]]:
        """Every fake kernel against the core's desired state for its host, computed from
        the server's listing: (hosts verified, mismatches)."""
        snapshot = Snapshot.build(networks, hosts, ports)
        mismatches: list[str] = []
        for name, agent in self.agents.items():
            want = by_vni(desired(snapshot, name))
            held = agent.plane.held_by_vni()
            if held != want:
                count = sum(len(e) for _, e in held.values())
                wanted = sum(len(e) for _, e in want.values())
                mismatches.append(
                    f"{name}: the fake kernel holds {count} entries on VNIs {sorted(held)}, "
                    f"desired {wanted} on {sorted(want)}"
                )
        return len(self.agents), mismatches

    async def stop(self) -> GroupResult:
        """Stop every agent; what they recorded."""
        agents = list(self.agents.values())
        await bounded([a.stop() for a in agents], SETUP_CONCURRENCY)
        await asyncio.gather(*(a.api.aclose() for a in agents))
        await self.transport.close()
        totals = dict.fromkeys(AgentStats.__slots__, 0)
        for agent in agents:
            for key in AgentStats.__slots__:
                totals[key] += getattr(agent.stats, key)
        totals["bookmarks"] = self.log.bookmarks
        return GroupResult(list(self.log.lines), [a.plane.entry_count() for a in agents], totals)
