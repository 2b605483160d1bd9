"""The server benchmark's workload: populate, watch every host, flip port statuses.

Latency of one change = time from the API acknowledgement (and, separately,
from sending the request) until the delta reached *every* interested stream:
each host bound on the port's network, but the port's own host.
"""

from __future__ import annotations

import asyncio
import random
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from l2pop.bench.server_http import Connection, open_ndjson

__all__ = ["Fabric", "LoadConfig", "Tracker", "populate", "run_load", "watch_all"]

_UNICAST_MAC = re.compile(rb'"mac":"([0-9a-f:]{17})","vtep"')


@dataclass(frozen=True, slots=True)
class LoadConfig:
    hosts: int = 1000
    networks: int = 100
    ports: int = 20_000
    hosts_per_network: int = 20  # 0: every port on a random host
    duration: float = 20.0
    concurrency: int = 64
    rate: float = 0.0  # changes/s offered; 0: as fast as the server acknowledges
    seed: int = 1


@dataclass
class Fabric:
    tokens: dict[str, str] = field(default_factory=dict)
    # port id -> (host, mac, network id); bound hosts per network
    ports: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    bound: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class Change:
    expected: int
    t_send: float
    t_slot: float  # when the pace wanted it sent (= t_send without --rate)
    t_ack: float = 0.0
    received: int = 0
    t_last: float = 0.0


@dataclass
class Tracker:
    pending: dict[str, Change] = field(default_factory=dict)  # by MAC
    ack_latency: list[float] = field(default_factory=list)
    send_latency: list[float] = field(default_factory=list)
    # From the paced slot: the queueing of a writer that could not keep the
    # pace is counted (no coordinated omission).
    slot_latency: list[float] = field(default_factory=list)
    lines: int = 0
    waiters: dict[str, asyncio.Future[None]] = field(default_factory=dict)

    def on_lines(self, lines: bytes, now: float) -> None:
        self.lines += lines.count(b"\n")
        for mac in _UNICAST_MAC.findall(lines):
            change = self.pending.get(mac.decode())
            if change is not None:
                change.received += 1
                change.t_last = now
                self._maybe_done(mac.decode(), change)

    def _maybe_done(self, mac: str, change: Change) -> None:
        if change.t_ack and change.received >= change.expected:
            last = max(change.t_last, change.t_ack)
            self.ack_latency.append(last - change.t_ack)
            self.send_latency.append(last - change.t_send)
            self.slot_latency.append(last - change.t_slot)
            del self.pending[mac]
            waiter = self.waiters.pop(mac, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def acked(self, mac: str, now: float) -> None:
        change = self.pending.get(mac)
        if change is not None:
            change.t_ack = now
            self._maybe_done(mac, change)


async def _pool(
    host: str,
    port: int,
    jobs: Sequence[Callable[[Connection], Awaitable[None]]],
    width: int,
    tls: ssl.SSLContext | None = None,
) -> None:
    queue: asyncio.Queue[Callable[[Connection], Awaitable[None]]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    async def worker() -> None:
        conn = await Connection.open(host, port, tls)
        try:
            while not queue.empty():
                await queue.get_nowait()(conn)
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(min(width, len(jobs)) or 1)))


def _host_for(cfg: LoadConfig, rng: random.Random, net_index: int, nth: int) -> int:
    if cfg.hosts_per_network <= 0:
        return rng.randrange(cfg.hosts)
    start = net_index * cfg.hosts // cfg.networks
    return (start + nth % cfg.hosts_per_network) % cfg.hosts


async def populate(
    host: str, port: int, admin: str, cfg: LoadConfig, tls: ssl.SSLContext | None = None
) -> Fabric:
    """Register hosts, create networks and bound ports (BUILD) through the API."""
    fabric = Fabric()
    rng = random.Random(cfg.seed)

    def add_host(i: int) -> Callable[[Connection], Awaitable[None]]:
        async def job(conn: Connection) -> None:
            body = {"name": f"h{i:05d}", "tunnel_ip": f"198.18.{(i + 1) // 256}.{(i + 1) % 256}"}
            status, answer = await conn.call("POST", "/v1/hosts", admin, body)
            assert status == 201, answer
            fabric.tokens[body["name"]] = answer["token"]

        return job

    await _pool(host, port, [add_host(i) for i in range(cfg.hosts)], 32, tls)
    conn = await Connection.open(host, port, tls)
    networks = []
    for _ in range(cfg.networks):
        status, answer = await conn.call("POST", "/v2.0/networks", admin, {"network": {}})
        assert status == 201, answer
        networks.append(answer["network"]["id"])
    await conn.close()

    def add_port(j: int) -> Callable[[Connection], Awaitable[None]]:
        net_index, nth = j % cfg.networks, j // cfg.networks
        host_name = f"h{_host_for(cfg, rng, net_index, nth):05d}"
        ip = f"10.{(nth + 1) >> 16 & 255}.{(nth + 1) >> 8 & 255}.{(nth + 1) & 255}"
        net_id = networks[net_index]
        body = {"network_id": net_id, "fixed_ips": [{"ip_address": ip}]}

        async def job(conn: Connection) -> None:
            status, answer = await conn.call(
                "POST", "/v2.0/ports", admin, {"port": {**body, "binding:host_id": host_name}}
            )
            assert status == 201, answer
            fabric.ports[answer["port"]["id"]] = (host_name, answer["port"]["mac_address"], net_id)
            fabric.bound.setdefault(net_id, set()).add(host_name)

        return job

    await _pool(host, port, [add_port(j) for j in range(cfg.ports)], 32, tls)
    return fabric


Address = tuple[str, int]


async def watch_all(
    host: str,
    port: int,
    fabric: Fabric,
    revision: int,
    tracker: Tracker,
    tls: ssl.SSLContext | None = None,
    server_of: Callable[[str], Address] | None = None,
) -> list[asyncio.Transport]:
    """One stream per host from ``revision`` (on ``server_of(host)``, default the one
    server); returns once every stream answered."""
    opened = []
    for name, token in fabric.tokens.items():
        path = f"/v1/hosts/{name}/watch?revision={revision}"
        where = (host, port) if server_of is None else server_of(name)
        opened.append(await open_ndjson(*where, path, token, tracker.on_lines, tls))
    await asyncio.wait_for(asyncio.gather(*(p.first for _, p in opened)), timeout=120)
    return [transport for transport, _ in opened]


async def run_load(
    host: str,
    port: int,
    fabric: Fabric,
    cfg: LoadConfig,
    tracker: Tracker,
    tls: ssl.SSLContext | None = None,
    writer_server: Callable[[int], Address] | None = None,
) -> dict[str, Any]:
    """Flip port statuses from ``concurrency`` connections for ``duration`` seconds
    (writer ``w`` talks to ``writer_server(w)``, default the one server)."""
    rng = random.Random(cfg.seed + 1)
    idle = list(fabric.ports)
    status = dict.fromkeys(fabric.ports, "BUILD")
    start = time.perf_counter()
    deadline = start + cfg.duration
    acked = [0]
    sent = [0]

    async def pace() -> float:
        """With ``rate``, the n-th change leaves at start + n / rate; its slot."""
        if cfg.rate <= 0:
            return time.perf_counter()
        slot = start + sent[0] / cfg.rate
        sent[0] += 1
        delay = slot - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        return slot

    async def worker(w: int) -> None:
        address = (host, port) if writer_server is None else writer_server(w)
        conn = await Connection.open(*address, tls)
        try:
            while time.perf_counter() < deadline and idle:
                slot = await pace()
                if slot >= deadline or not idle:
                    break  # a slot past the run (or no free port): not sent
                port_id = idle.pop(rng.randrange(len(idle)))
                host_name, mac, net_id = fabric.ports[port_id]
                new = "DOWN" if status[port_id] == "ACTIVE" else "ACTIVE"
                expected = len(fabric.bound[net_id] - {host_name})
                now = time.perf_counter()
                tracker.pending[mac] = Change(expected, now, min(slot, now))
                done = asyncio.get_running_loop().create_future()
                tracker.waiters[mac] = done
                path = f"/v1/hosts/{host_name}/ports/{port_id}/status"
                code, answer = await conn.call(
                    "PUT", path, fabric.tokens[host_name], {"status": new}
                )
                assert code == 200, answer
                status[port_id] = new
                acked[0] += 1
                tracker.acked(mac, time.perf_counter())
                # The port goes back to the pool once every stream has its delta.
                asyncio.get_running_loop().create_task(_release(done, idle, port_id))
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(cfg.concurrency)))
    elapsed = time.perf_counter() - started
    return {"acked": acked[0], "elapsed_s": elapsed}


async def _release(done: asyncio.Future[None], idle: list[str], port_id: str) -> None:
    try:
        await asyncio.wait_for(done, timeout=30)
    except TimeoutError:
        return
    idle.append(port_id)
