"""The driver's view of the simulated agents: one group in its own process, or N worker
processes that share the hosts out (``--workers``).

Either way the driver asks the same things of a host's agent (:class:`AgentPool`)
and the agents report owner lines and lists to the driver's tracker (a
:class:`~l2pop.sim.agent.Sink`) as they apply them; every other line they
applied comes back when the pool stops. Hosts go to workers round robin.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import l2pop
from l2pop.core import Host, Network, Port
from l2pop.errors import L2popError
from l2pop.sim.agent import Sink
from l2pop.sim.group import AgentGroup, GroupResult, Member
from l2pop.sim.worker import read_frame, write_frame

__all__ = ["AgentPool", "LocalPool", "ProcessPool", "WorkerError", "open_pool"]

JOIN_TIMEOUT_S = 10.0
WORKER_COMMAND = "import sys; from l2pop.sim.worker import main; main(int(sys.argv[1]))"


class WorkerError(L2popError):
    """A worker process failed a request, or went away."""


class AgentPool(Protocol):
    """What the driver asks of the simulated agents (see :class:`AgentGroup`)."""

    async def start(
        self, base_url: str, members: Sequence[Member], ca_file: str | None = None
    ) -> None: ...
    async def wait_build(self, host: str, port_id: str, timeout: float) -> bool: ...
    async def plug(self, host: str, port_id: str) -> float: ...
    def unplug(self, host: str, port_id: str) -> None: ...
    async def restart(self, host: str) -> None: ...
    async def settle(self, revision: int, timeout: float) -> bool: ...
    async def verify(
        self, networks: Sequence[Network], hosts: Sequence[Host], ports: Sequence[Port]
    ) -> tuple[int, list[str]]: ...
    async def stop(self) -> GroupResult: ...
    async def close(self) -> None: ...
    def pids(self) -> list[int]: ...


class LocalPool:
    """Every agent in the driver's own event loop (``--workers 0``)."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.group: AgentGroup | None = None

    def _group(self) -> AgentGroup:
        assert self.group is not None, "start first"
        return self.group

    async def start(
        self, base_url: str, members: Sequence[Member], ca_file: str | None = None
    ) -> None:
        self.group = AgentGroup(base_url, members, self.sink, ca_file)
        await self.group.start()

    async def wait_build(self, host: str, port_id: str, timeout: float) -> bool:
        return await self._group().wait_build(host, port_id, timeout)

    async def plug(self, host: str, port_id: str) -> float:
        return await self._group().plug(host, port_id)

    def unplug(self, host: str, port_id: str) -> None:
        self._group().unplug(host, port_id)

    async def restart(self, host: str) -> None:
        await self._group().restart(host)

    async def settle(self, revision: int, timeout: float) -> bool:
        return await self._group().settle(revision, timeout)

    async def verify(
        self, networks: Sequence[Network], hosts: Sequence[Host], ports: Sequence[Port]
    ) -> tuple[int, list[str]]:
        return self._group().verify(networks, hosts, ports)

    async def stop(self) -> GroupResult:
        group, self.group = self._group(), None
        return await group.stop()

    async def close(self) -> None:
        if self.group is not None:
            await self.stop()

    def pids(self) -> list[int]:
        return []


class _Worker:
    """One worker process and the driver's end of its socket."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        sink: Sink,
    ) -> None:
        self.process = process
        self.reader = reader
        self.writer = writer
        self.sink = sink
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.ids = itertools.count()
        self.gone: str = ""
        self.task = asyncio.create_task(self._read(), name=f"worker-{process.pid}")

    async def call(self, op: str, *args: Any) -> Any:
        if self.gone:
            raise WorkerError(self.gone)
        request = next(self.ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[request] = future
        write_frame(self.writer, (op, request, args))
        return await future

    def cast(self, op: str, *args: Any) -> None:
        if not self.gone:
            write_frame(self.writer, (op, -1, args))

    async def _read(self) -> None:
        sink = self.sink
        try:
            while True:
                kind, *rest = await read_frame(self.reader)
                if kind == "events":
                    for event in rest[0]:
                        if event[0] == "owner":
                            sink.on_owner_line(*event[1:])
                        else:
                            sink.on_relist(event[1])
                    continue
                future = self.pending.pop(rest[0], None)
                if future is None or future.done():
                    continue
                if kind == "ok":
                    future.set_result(rest[1])
                else:
                    future.set_exception(WorkerError(rest[1]))
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self.gone = f"worker {self.process.pid} went away: {exc!r}"
        finally:
            self.gone = self.gone or f"worker {self.process.pid} stopped"
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(WorkerError(self.gone))
            self.pending.clear()

    async def close(self) -> None:
        """Close the socket (the worker exits on its end), then make sure it did."""
        self.writer.close()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        for stop in (None, self.process.terminate, self.process.kill):
            if stop is not None and self.process.poll() is None:
                stop()
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(self.process.wait, JOIN_TIMEOUT_S)
                return


class ProcessPool:
    """The agents spread over ``count`` worker processes, hosts round robin."""

    def __init__(self, count: int, sink: Sink) -> None:
        if count < 1:
            raise ValueError("a process pool needs at least one worker")
        self.count = count
        self.sink = sink
        self.workers: list[_Worker] = []
        self.worker_of: dict[str, _Worker] = {}

    async def open(self) -> None:
        """Start the worker processes: a fresh interpreter each (nothing of the driver's
        loop is copied, and the caller's main module is not imported again, as
        multiprocessing's spawn would), running this very l2pop tree."""
        tree = str(Path(l2pop.__file__).resolve().parent.parent)
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": tree + (os.pathsep + path if path else "")}
        for _ in range(self.count):
            mine, theirs = socket.socketpair()
            with theirs:
                process = subprocess.Popen(
                    [sys.executable, "-c", WORKER_COMMAND, str(theirs.fileno())],
                    pass_fds=[theirs.fileno()],
                    env=env,
                )
            reader, writer = await asyncio.open_unix_connection(sock=mine)
            self.workers.append(_Worker(process, reader, writer, self.sink))

    async def start(
        self, base_url: str, members: Sequence[Member], ca_file: str | None = None
    ) -> None:
        shares: list[list[Member]] = [[] for _ in self.workers]
        for n, member in enumerate(members):
            shares[n % len(self.workers)].append(member)
            self.worker_of[member[0].name] = self.workers[n % len(self.workers)]
        pairs = zip(self.workers, shares, strict=True)
        await asyncio.gather(*(w.call("init", base_url, share, ca_file) for w, share in pairs))
        await asyncio.gather(*(w.call("start") for w in self.workers))

    async def wait_build(self, host: str, port_id: str, timeout: float) -> bool:
        ready: bool = await self.worker_of[host].call("wait_build", host, port_id, timeout)
        return ready

    async def plug(self, host: str, port_id: str) -> float:
        acked: float = await self.worker_of[host].call("plug", host, port_id)
        return acked

    def unplug(self, host: str, port_id: str) -> None:
        self.worker_of[host].cast("unplug", host, port_id)

    async def restart(self, host: str) -> None:
        await self.worker_of[host].call("restart", host)

    async def settle(self, revision: int, timeout: float) -> bool:
        done = await asyncio.gather(*(w.call("settle", revision, timeout) for w in self.workers))
        return all(done)

    async def verify(
        self, networks: Sequence[Network], hosts: Sequence[Host], ports: Sequence[Port]
    ) -> tuple[int, list[str]]:
        args = (list(networks), list(hosts), list(ports))
        answers = await asyncio.gather(*(w.call("verify", *args) for w in self.workers))
        return sum(n for n, _ in answers), [m for _, found in answers for m in found]

    async def stop(self) -> GroupResult:
        merged = GroupResult()
        for result in await asyncio.gather(*(w.call("stop") for w in self.workers)):
            merged.merge(result)
        return merged

    async def close(self) -> None:
        await asyncio.gather(*(w.close() for w in self.workers))
        self.workers.clear()

    def pids(self) -> list[int]:
        return [w.process.pid for w in self.workers]


async def open_pool(workers: int, sink: Sink) -> AgentPool:
    """A pool of ``workers`` processes, or the driver's own loop for 0."""
    if workers <= 0:
        return LocalPool(sink)
    pool = ProcessPool(workers, sink)
    try:
        await pool.open()
    except BaseException:
        await pool.close()
        raise
    return pool
