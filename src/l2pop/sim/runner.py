"""Play a workload against a real server with one simulated agent per host.

The driver is the "cloud": it creates, binds, migrates and deletes ports
through the Neutron API with the admin token; a port goes ACTIVE when its
host's agent, having seen it in ``BUILD``, reports it with its own token.
Actions on one port run strictly in order (each waits for the watch line its
owner host receives), different ports run concurrently, paced at ``rate``.
The agents run in ``workers`` worker processes (:mod:`l2pop.sim.pool`), or in
the driver's own event loop for ``workers=0``. Every time is
``time.monotonic()``, one clock for every process of the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import ssl
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from l2pop.core import Host
from l2pop.sim.api import SimApi
from l2pop.sim.group import GroupResult, Member, bounded, frozen_heap
from l2pop.sim.pool import AgentPool, open_pool
from l2pop.sim.procstats import MIB, CpuMark, ProcSampler
from l2pop.sim.server_proc import ServerProcess, running_server
from l2pop.sim.trace import (
    Action,
    ActivatePort,
    BindPort,
    CreatePort,
    DeletePort,
    MigratePort,
    PortAction,
    RestartAgent,
)
from l2pop.sim.tracker import ChangeRecord, Tracker
from l2pop.sim.transport import FastTransport
from l2pop.sim.workload import Workload, WorkloadConfig, generate

__all__ = ["Progress", "SimConfig", "SimRun", "default_workers", "run_simulation", "simulate"]

SETUP_CONCURRENCY = 64
TMPFS = "/dev/shm"


def default_workers() -> int:
    """Worker processes for the agents: one per core, at most 4 (the driver and the
    server need CPU too); none (agents in the driver) on a single core."""
    cpus = os.cpu_count() or 1
    return 0 if cpus < 2 else min(cpus, 4)


@dataclass(frozen=True, slots=True)
class SimConfig:
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)
    rate: float = 200.0  # churn actions per second; 0 = as fast as the server answers
    populate_rate: float = 0.0  # populate actions per second; 0 = as fast as possible
    concurrency: int = 32  # API calls in flight at most
    change_timeout_s: float = 10.0  # per action: answer + owner's watch line
    settle_timeout_s: float = 30.0  # after the trace: agents catching up
    time_limit_s: float = 1800.0  # the whole run, setup included
    workdir: Path | None = None
    server_args: tuple[str, ...] = ()
    # The server's database on tmpfs (/dev/shm): fsync costs nothing, so the run
    # measures the control plane's CPU, not the disk's flush latency.
    tmpfs: bool = False
    # processes running the simulated agents (0: in the driver's own event loop)
    workers: int = field(default_factory=default_workers)
    # The server on HTTPS (a CA made for the run); every simulated agent over TLS.
    tls: bool = False


# Called with (phase, done, total) as actions complete.
Progress = Callable[[str, int, int], None]


@dataclass(slots=True)
class SimRun:
    """Everything a run produced, for the report and for tests."""

    config: SimConfig
    workload: Workload
    tracker: Tracker
    port_ids: dict[str, str]  # trace port id -> server port id
    net_ids: dict[str, str]  # trace network id -> server network id
    phase_of: dict[int, str]  # trace index -> "populate" | "churn"
    timings: dict[str, float] = field(default_factory=dict)
    server: dict[str, float] = field(default_factory=dict)
    sim_cpu: dict[str, float] = field(default_factory=dict)
    verify_mismatches: list[str] = field(default_factory=list)
    verified_hosts: int = 0
    skipped: int = 0  # actions not played because an earlier one on the port failed
    # what the agents recorded: every line, entries per fake kernel, their counters
    agents: GroupResult = field(default_factory=GroupResult)
    hosts: list[str] = field(default_factory=list)


class Driver:
    def __init__(
        self, run: SimRun, api: SimApi, pool: AgentPool, progress: Progress | None
    ) -> None:
        self.run = run
        self.api = api
        self.pool = pool
        self.progress = progress
        self.config = run.config
        self.gate = asyncio.Semaphore(run.config.concurrency)
        self.host_of: dict[str, str] = {}  # trace port id -> host it is bound to
        self.broken: set[str] = set()  # trace ports whose life could not be played on
        self.skipped = 0
        self.ready = {name: asyncio.Event() for name in run.hosts}
        for event in self.ready.values():
            event.set()

    async def play(self, phase: str, actions: Sequence[tuple[int, Action]], rate: float) -> None:
        chains: dict[str, asyncio.Task[None]] = {}
        tasks: list[asyncio.Task[None]] = []
        done = 0
        start = time.monotonic()

        def finished(_: asyncio.Task[None]) -> None:
            nonlocal done
            done += 1
            if self.progress is not None:
                self.progress(phase, done, len(actions))

        for n, (index, action) in enumerate(actions):
            self.run.phase_of[index] = phase
            if rate > 0:
                delay = start + n / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            key = action.host if isinstance(action, RestartAgent) else action.port_id
            task = asyncio.create_task(self._act(index, action, chains.get(key)))
            task.add_done_callback(finished)
            chains[key] = task
            tasks.append(task)
        await asyncio.gather(*tasks)

    async def _act(self, index: int, action: Action, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        if isinstance(action, RestartAgent):
            await self._restart(action.host)
            return
        if isinstance(action, CreatePort):
            owners: frozenset[str] = frozenset()
        elif action.port_id not in self.run.port_ids or action.port_id in self.broken:
            # an earlier action on this port failed: the rest of its life cannot be played
            self.skipped += 1
            self.broken.add(action.port_id)
            return
        else:
            owners = self._owners(action)
        for owner in owners:
            await self.ready[owner].wait()
        async with self.gate:
            change = await self._send(index, action, owners)
        if change is None:
            return
        try:
            await asyncio.wait_for(change.owner_seen.wait(), self.config.change_timeout_s)
        except TimeoutError:
            # The server accepted it: it stays in the analysis (a late line may still
            # resolve it), but the port's later actions are not played, so that a late
            # line cannot be taken for theirs.
            change.late = True
            self.broken.add(self._trace_port(change))

    def _trace_port(self, change: ChangeRecord) -> str:
        action = self.run.workload.trace[change.index]
        return "" if isinstance(action, RestartAgent) else action.port_id

    def _failed(self, change: ChangeRecord, trace_port: str, error: str) -> None:
        change.error = error[:300]
        self.broken.add(trace_port)
        self.run.tracker.forget(change)

    def _owners(self, action: Action) -> frozenset[str]:
        match action:
            case BindPort(port_id, host) | MigratePort(port_id, host):
                old = self.host_of.get(port_id)
                return frozenset({host} | ({old} if old else set()))
            case ActivatePort(port_id) | DeletePort(port_id):
                return frozenset({self.host_of[port_id]})
        return frozenset()

    async def _send(
        self, index: int, action: PortAction, owners: frozenset[str]
    ) -> ChangeRecord | None:
        api, run = self.api, self.run
        kind = type(action).__name__
        port_id = (
            "" if isinstance(action, CreatePort | RestartAgent) else run.port_ids[action.port_id]
        )
        if isinstance(action, ActivatePort):
            # not timed: the agent must hold the port in BUILD before its tap appears
            host = self.host_of[action.port_id]
            await self.pool.wait_build(host, port_id, self.config.change_timeout_s)
        change = ChangeRecord(index, kind, port_id, owners, time.monotonic())
        run.tracker.begin(change)
        acked: float | None = None
        try:
            match action:
                case CreatePort(trace_id, network_id, mac, ips):
                    server_id = await api.create_port(run.net_ids[network_id], mac, ips)
                    run.port_ids[trace_id] = change.port_id = server_id
                case BindPort(trace_id, host) | MigratePort(trace_id, host):
                    await api.bind_port(port_id, host)
                    old = self.host_of.get(trace_id)
                    if old is not None:
                        self.pool.unplug(old, port_id)  # the VM left its old host
                    self.host_of[trace_id] = host
                case ActivatePort(trace_id):
                    # the agent reports ACTIVE: its 2xx is the acknowledgement
                    acked = await self.pool.plug(self.host_of[trace_id], port_id)
                case DeletePort(trace_id):
                    await api.delete_port(port_id)
                    self.pool.unplug(self.host_of.pop(trace_id), port_id)
        except Exception as exc:  # recorded; one failed call must not end the run
            self._failed(change, action.port_id, f"{type(exc).__name__}: {exc}")
            return None
        change.t_ack = time.monotonic() if acked is None else acked
        return change

    async def _restart(self, host: str) -> None:
        self.ready[host].clear()
        try:
            await self.pool.restart(host)
        finally:
            self.ready[host].set()


async def _setup(run: SimRun, api: SimApi, pool: AgentPool) -> None:
    fabric = run.workload.fabric
    tokens: dict[str, str] = {}

    async def register(host: Host) -> None:
        tokens[host.name] = await api.register_host(host)

    await bounded([register(h) for h in fabric.hosts], SETUP_CONCURRENCY)
    for network in fabric.networks:
        run.net_ids[network.id] = await api.create_network(network)
    # One client per agent, the agent's own (HostApi), with the host's own token.
    members: list[Member] = [(host, tokens[host.name]) for host in fabric.hosts]
    await pool.start(api.base_url, members, api.ca_file)


def _split(workload: Workload) -> tuple[list[tuple[int, Action]], list[tuple[int, Action]]]:
    populate_len = 3 * workload.config.ports
    indexed = list(enumerate(workload.trace))
    return indexed[:populate_len], indexed[populate_len:]


async def _settle(run: SimRun, pool: AgentPool) -> None:
    """Wait (bounded) until every agent reached the newest revision any change got."""
    newest = max((c.revision or 0 for c in run.tracker.changes), default=0)
    await pool.settle(newest, run.config.settle_timeout_s)


async def _verify(run: SimRun, api: SimApi, pool: AgentPool) -> None:
    """Every agent's dataplane must equal the core's desired state for its host."""
    networks, hosts = await api.list_networks(), await api.list_hosts()
    ports = await api.list_ports()
    run.verified_hosts, run.verify_mismatches = await pool.verify(networks, hosts, ports)


async def simulate(
    config: SimConfig, server: ServerProcess, progress: Progress | None = None
) -> SimRun:
    """Run ``config`` against an already running ``server``."""
    workload = generate(config.workload)
    run = SimRun(config, workload, Tracker(), {}, {}, {})
    run.hosts = [h.name for h in workload.fabric.hosts]
    sampler = ProcSampler(server.pid)
    sampler.start()
    transport = FastTransport(shared=True, tls=_tls(server))
    pool = await open_pool(config.workers, run.tracker)
    try:
        async with frozen_heap():
            await _run(run, server, pool, transport, sampler, progress)
    finally:
        await pool.close()
        await transport.close()
        await sampler.stop()
    return run


async def _run(
    run: SimRun,
    server: ServerProcess,
    pool: AgentPool,
    transport: FastTransport,
    sampler: ProcSampler,
    progress: Progress | None,
) -> None:
    limits = httpx.Limits(max_connections=run.config.concurrency + 8)
    async with httpx.AsyncClient(
        base_url=server.url, limits=limits, timeout=httpx.Timeout(30.0), transport=transport
    ) as client:
        api = SimApi(client, server.admin_token, fast=transport)
        api.ca_file = str(server.ca_file) if server.ca_file else None
        await _play_all(run, api, pool, sampler, progress)
        await _settle(run, pool)
        run.server["rss_mib_end"] = sampler.rss() / MIB
        run.server["rss_mib_peak"] = sampler.peak_rss / MIB
        await _verify(run, api, pool)
        run.agents = await pool.stop()
        run.tracker.add_lines(run.agents.lines)
        run.tracker.bookmarks = run.agents.totals.get("bookmarks", 0)


def _cpu(samplers: Sequence[ProcSampler]) -> CpuMark:
    """The CPU time of several processes together."""
    marks = [s.mark() for s in samplers]
    return CpuMark(marks[0].wall, sum(m.cpu for m in marks))


async def _play_all(
    run: SimRun,
    api: SimApi,
    pool: AgentPool,
    sampler: ProcSampler,
    progress: Progress | None,
) -> None:
    config = run.config
    me = ProcSampler(os.getpid())
    workers = [ProcSampler(pid) for pid in pool.pids()]
    # Other work on the machine skews every figure: record how busy it was.
    run.sim_cpu["load_avg_1m_start"] = os.getloadavg()[0]
    run.sim_cpu["workers"] = len(workers)
    t0 = time.monotonic()
    await _setup(run, api, pool)
    run.timings["setup_s"] = time.monotonic() - t0
    driver = Driver(run, api, pool, progress)
    populate, churn = _split(run.workload)
    for phase, actions, rate in (
        ("populate", populate, config.populate_rate),
        ("churn", churn, config.rate),
    ):
        start, mine = sampler.mark(), me.mark()
        theirs = _cpu(workers) if workers else None
        await driver.play(phase, actions, rate)
        end, mine_end = sampler.mark(), me.mark()
        run.timings[f"{phase}_s"] = end.wall - start.wall
        run.server[f"{phase}_cpu_percent"] = ProcSampler.cpu_percent(start, end)
        driver_percent = ProcSampler.cpu_percent(mine, mine_end)
        workers_percent = 0.0
        if theirs is not None:
            workers_percent = ProcSampler.cpu_percent(theirs, _cpu(workers))
        # the simulator: the driver and its workers together
        run.sim_cpu[f"{phase}_cpu_percent"] = driver_percent + workers_percent
        run.sim_cpu[f"{phase}_driver_cpu_percent"] = driver_percent
        run.sim_cpu[f"{phase}_workers_cpu_percent"] = workers_percent
    run.skipped = driver.skipped
    run.sim_cpu["load_avg_1m_end"] = os.getloadavg()[0]


def _tls(server: ServerProcess) -> ssl.SSLContext | None:
    if server.ca_file is None:
        return None
    from l2pop.tlsclient import client_context

    return client_context(server.ca_file)


def run_simulation(config: SimConfig, progress: Progress | None = None) -> SimRun:
    """Start a server in a temporary directory, simulate, stop it."""
    with contextlib.ExitStack() as stack:
        workdir = config.workdir
        if workdir is None:
            where = TMPFS if config.tmpfs else None
            workdir = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="l2pop-sim-", dir=where))
            )
        server = stack.enter_context(running_server(workdir, config.server_args, tls=config.tls))
        coro = simulate(dataclasses.replace(config, workdir=workdir), server, progress)
        return asyncio.run(asyncio.wait_for(coro, config.time_limit_s))
    raise AssertionError("unreachable")  # pragma: no cover
