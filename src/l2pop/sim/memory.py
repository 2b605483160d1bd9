"""Server memory at scale: load many hosts and ports through the API, read the RSS.

The ports are created bound (``BUILD``) and reported ``ACTIVE`` with the
admin token, so the server holds every published entry. Optionally every
host also keeps a watch stream open (lines are read and dropped), as 1,000
real agents would.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from l2pop.core import Host, Network
from l2pop.sim.api import ApiError, SimApi
from l2pop.sim.procstats import MIB, ProcSampler
from l2pop.sim.server_proc import ServerProcess, running_server
from l2pop.sim.transport import FastTransport
from l2pop.sim.workload import host_name, tunnel_ip

__all__ = ["MemoryConfig", "measure_memory"]

_VM_BASE = ipaddress.IPv4Address("10.0.0.0")
CURVE_POINTS = 20
BUSY_RETRIES = 6
MAX_FAILURES = 200  # ports that could not be loaded before the load stops
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class MemoryConfig:
    hosts: int = 1000
    ports: int = 100_000
    networks: int = 1000
    watchers: bool = True
    concurrency: int = 32
    time_limit_s: float = 3600.0
    tmpfs: bool = True  # the RSS does not depend on where the file is; loading does
    load_time_limit_s: float = 1800.0  # stop loading then, report the RSS curve so far


async def _watch_and_drop(
    client: httpx.AsyncClient, host: str, token: str, stop: asyncio.Event
) -> None:
    """What an agent does: list ``/state``, then keep a watch open from its revision
    until ``stop``; its lines are read and dropped."""
    headers = {"X-Auth-Token": token}
    timeout = httpx.Timeout(30.0, read=None)
    with contextlib.suppress(httpx.HTTPError):
        state = await client.get(f"/v1/hosts/{host}/state", headers=headers)
        revision = str(state.json()["revision"])
        async with client.stream(
            "GET",
            f"/v1/hosts/{host}/watch",
            params={"revision": revision},
            headers=headers,
            timeout=timeout,
        ) as response:
            async for _ in response.aiter_lines():
                if stop.is_set():
                    return


async def _busy_retry(call: Callable[[], Awaitable[T]]) -> T:
    """``call``, again after a pause while the server answers 503 (store busy)."""
    for attempt in range(BUSY_RETRIES):
        try:
            return await call()
        except (ApiError, httpx.TimeoutException) as exc:
            busy = isinstance(exc, httpx.TimeoutException) or exc.status == 503
            if not busy or attempt == BUSY_RETRIES - 1:
                raise
            await asyncio.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


async def _create(api: SimApi, net: str, mac: str, ip: str, host: str) -> str:
    """Create a bound port. A 503 may still commit later: a retry that then finds the
    MAC taken looks the port up instead of failing."""
    try:
        return await _busy_retry(lambda: api.create_port(net, mac, (ip,), host))
    except ApiError as exc:
        if exc.status != 409:
            raise
        found = await api.find_port(net, mac)
        if found is None:
            raise
        return found


async def _load(config: MemoryConfig, server: ServerProcess, progress: Any) -> dict[str, Any]:
    sampler = ProcSampler(server.pid)
    rss_idle = sampler.rss()
    sampler.start()
    stop = asyncio.Event()
    deadline = time.perf_counter() + config.load_time_limit_s
    # Two clients: httpx scans every connection of its pool on each request, so the
    # loaders must not share a pool with a thousand open watch streams.
    watch_limits = httpx.Limits(max_connections=config.hosts + 8)
    load_limits = httpx.Limits(max_connections=config.concurrency + 8)
    # The simulator's light transport: httpx's default pool costs the loader more CPU
    # per request than the server spends on it.
    async with (
        httpx.AsyncClient(
            base_url=server.url, limits=watch_limits, timeout=30.0, transport=FastTransport()
        ) as watch_client,
        httpx.AsyncClient(
            base_url=server.url, limits=load_limits, timeout=30.0, transport=FastTransport()
        ) as client,
    ):
        api = SimApi(client, server.admin_token)
        gate = asyncio.Semaphore(config.concurrency)
        hosts = [Host(host_name(i), tunnel_ip(i)) for i in range(config.hosts)]

        async def register(host: Host) -> tuple[str, str]:
            async with gate:
                return host.name, await api.register_host(host)

        tokens = dict(await asyncio.gather(*(register(h) for h in hosts)))
        nets = [
            await api.create_network(Network("x", 20_000 + i, f"memnet{i}"))
            for i in range(config.networks)
        ]
        watchers = (
            [
                asyncio.create_task(_watch_and_drop(watch_client, name, token, stop))
                for name, token in tokens.items()
            ]
            if config.watchers
            else []
        )
        t0 = time.perf_counter()
        loaded = 0
        curve: list[list[float]] = []
        step = max(1, config.ports // CURVE_POINTS)

        async def boot(i: int) -> None:
            nonlocal loaded
            host = hosts[i % config.hosts].name
            net = nets[(i * 7919) % len(nets)]
            mac = "fa:16:3e:" + ":".join(f"{b:02x}" for b in (i + 1).to_bytes(3, "big"))
            # created bound (BUILD), then the ACTIVE report: two writes per port
            port_id = await _create(api, net, mac, str(_VM_BASE + i + 1), host)
            await _busy_retry(
                lambda: api.report_status(host, server.admin_token, port_id, "ACTIVE")
            )
            loaded += 1
            if loaded % step == 0:
                curve.append([loaded, round(sampler.rss() / MIB, 1)])
            progress(loaded)

        failures: list[str] = []

        async def worker(first: int) -> None:
            for i in range(first, config.ports, config.concurrency):
                if time.perf_counter() > deadline or len(failures) >= MAX_FAILURES:
                    return  # out of time (or the server gives up): report what was loaded
                try:
                    await boot(i)
                except (ApiError, httpx.HTTPError) as exc:
                    failures.append(f"port {i}: {type(exc).__name__}: {exc}"[:200])

        await asyncio.gather(*(worker(w) for w in range(config.concurrency)))
        load_s = time.perf_counter() - t0
        await asyncio.sleep(2.0)  # let the watch fan-out drain before reading
        rss_loaded = sampler.rss()
        stop.set()
        for task in watchers:
            task.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
    await sampler.stop()
    per_port = (rss_loaded - rss_idle) / loaded if loaded else 0.0
    return {
        "hosts": config.hosts,
        "ports_target": config.ports,
        "ports_loaded": loaded,
        "networks": config.networks,
        "watch_streams": len(watchers),
        "load_s": round(load_s, 1),
        "api_writes_per_s": round(2 * loaded / load_s, 1) if load_s else None,
        "server_rss_mib_idle": round(rss_idle / MIB, 1),
        "server_rss_mib_loaded": round(rss_loaded / MIB, 1),
        "server_rss_mib_peak": round(sampler.peak_rss / MIB, 1),
        "rss_kib_per_port": round(per_port / 1024, 2),
        "server_rss_mib_at_target_linear": round((rss_idle + per_port * config.ports) / MIB, 1),
        "rss_curve_ports_mib": curve,
        "failures": len(failures),
        "failure_examples": failures[:5],
        "db_mib": round(server.db_path.stat().st_size / MIB, 1),
    }


def measure_memory(
    config: MemoryConfig, workdir: Path | None = None, progress: Any = None
) -> dict[str, Any]:
    """Start a server, load it, return the RSS figures (bounded by ``time_limit_s``)."""
    with contextlib.ExitStack() as stack:
        if workdir is None:
            where = "/dev/shm" if config.tmpfs else None
            workdir = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="l2pop-mem-", dir=where))
            )
        server = stack.enter_context(running_server(workdir))
        coro = _load(config, server, progress or (lambda _: None))
        return asyncio.run(asyncio.wait_for(coro, config.time_limit_s))
    raise AssertionError("unreachable")  # pragma: no cover
