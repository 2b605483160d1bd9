"""``l2pop bench ipam``: server CPU per port create, IPAM-chosen vs explicit address.

A real ``l2pop server`` (temporary SQLite file) on 127.0.0.1. Two networks:
one without subnets, where every port names its address (the yardstick),
and one with a /16 subnet, where the server picks the address (IPAM). Short
chunks of creates alternate between them, at the start and again once both
networks hold ``--ports`` ports, so the ratio is measured in the same run,
under the same machine load, at equal network sizes. The server's CPU (user +
system, psutil) is read around each round.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register", "run_ipam_bench"]

SUBNET = "10.0.0.0/16"
EXPLICIT_BASE = int(ipaddress.ip_address("10.128.0.0"))


async def _creates(
    host: str, port: int, admin: str, bodies: list[Any], concurrency: int
) -> list[Any]:
    """POST every body (``concurrency`` connections); the created ports, in no order."""
    from l2pop.bench.server_http import Connection

    queue: asyncio.Queue[Any] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    created: list[Any] = []

    async def worker() -> None:
        conn = await Connection.open(host, port)
        try:
            while not queue.empty():
                body = queue.get_nowait()
                status, answer = await conn.call("POST", "/v2.0/ports", admin, body)
                if status != 201:
                    raise RuntimeError(f"port create answered {status}: {answer}")
                created.append(answer["port"])
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return created


async def _bench(url: str, admin: str, pid: int, ports: int, sample: int, conc: int) -> Any:
    import psutil

    from l2pop.bench.server import cpu_seconds
    from l2pop.bench.server_http import Connection

    host, port_text = url.removeprefix("http://").rsplit(":", 1)
    port = int(port_text)
    conn = await Connection.open(host, port)
    _, explicit_net = await conn.call("POST", "/v2.0/networks", admin, {"network": {"name": "e"}})
    _, ipam_net = await conn.call("POST", "/v2.0/networks", admin, {"network": {"name": "i"}})
    subnet = {"subnet": {"network_id": ipam_net["network"]["id"], "cidr": SUBNET}}
    await conn.call("POST", "/v2.0/subnets", admin, subnet)
    await conn.close()
    server = psutil.Process(pid)
    counter = iter(range(10**9))

    def explicit() -> Any:
        address = str(ipaddress.ip_address(EXPLICIT_BASE + next(counter)))
        fixed = [{"ip_address": address}]
        return {"port": {"network_id": explicit_net["network"]["id"], "fixed_ips": fixed}}

    def automatic() -> Any:
        return {"port": {"network_id": ipam_net["network"]["id"]}}

    addresses: list[str] = []

    async def timed(make: Callable[[], Any], count: int) -> float:
        """Server CPU ms per create over ``count`` creates."""
        _, before = cpu_seconds(server)
        created = await _creates(host, port, admin, [make() for _ in range(count)], conc)
        _, after = cpu_seconds(server)
        if make is automatic:
            addresses.extend(p["fixed_ips"][0]["ip_address"] for p in created)
        return 1000 * (after - before) / count

    rounds: dict[str, Any] = {}

    async def measure(label: str) -> None:
        # Short alternating chunks, ABBA order: both kinds see the same share of
        # the machine's load drift (the 2 cores are shared and noisy).
        chunks, cpu = 10, {"e": 0.0, "i": 0.0}
        chunk = max(1, sample // chunks)
        before = len(addresses)
        for index in range(chunks):
            order = (("e", explicit), ("i", automatic))
            for key, make in order if index % 2 == 0 else order[::-1]:
                cpu[key] += await timed(make, chunk) / chunks
        e, i = cpu["e"], cpu["i"]
        rounds[label] = {
            "ipam_ports_before": before,
            "explicit_cpu_ms_per_create": round(e, 3),
            "ipam_cpu_ms_per_create": round(i, 3),
            # None: too few creates for the CPU clock's 10 ms ticks.
            "ipam_over_explicit": round(i / e, 3) if e else None,
        }

    await measure("start")
    fill_started = time.perf_counter()
    fill = ports - len(addresses) - (sample // 10) * 10
    if fill > 0:
        await timed(automatic, fill)
        # The yardstick network grows as much: a port write costs the core a copy
        # of its network's port map, so both networks must be the same size.
        await timed(explicit, fill)
    fill_s = time.perf_counter() - fill_started
    await measure(f"at_{ports}_ports")
    if len(set(addresses)) != len(addresses):
        raise RuntimeError("IPAM handed out an address twice")
    return {
        "subnet": SUBNET,
        "ipam_ports": len(addresses),
        "distinct_addresses": len(set(addresses)),
        "fill_creates_per_s": round(2 * max(fill, 0) / fill_s, 1) if fill_s else None,
        "rounds": rounds,
        "machine_load_average_1m": round(psutil.getloadavg()[0], 2),
    }


def run_ipam_bench(workdir: Path, ports: int, sample: int, concurrency: int) -> Any:
    from l2pop.bench.server import run_on_uvloop
    from l2pop.sim.server_proc import running_server

    with running_server(workdir, ["--no-stream-writer"]) as server:
        coro = _bench(server.url, server.admin_token, server.pid, ports, sample, concurrency)
        return run_on_uvloop(coro)


def register(bench: typer.Typer) -> None:
    @bench.command("ipam")
    def ipam(
        ports: Annotated[
            int, typer.Option(min=100, max=60_000, help="Ports in the /16 at the last round.")
        ] = 10_000,
        sample: Annotated[
            int, typer.Option(min=20, max=10_000, help="Creates per kind and round.")
        ] = 1000,
        concurrency: Annotated[int, typer.Option(min=1, max=256, help="Connections.")] = 16,
        out: Annotated[Path | None, typer.Option(help="Write the result JSON here.")] = None,
    ) -> None:
        """Server CPU per port create: IPAM-chosen vs explicit address, at 0 and N ports."""
        if sample * 2 > ports:
            raise typer.BadParameter("--ports must be at least twice --sample")
        with tempfile.TemporaryDirectory(prefix="l2pop-bench-ipam-") as tmp:
            result = run_ipam_bench(Path(tmp), ports, sample, concurrency)
        result["command"] = "l2pop bench ipam " + shlex.join(sys.argv[3:])
        text = json.dumps(result, indent=2)
        typer.echo(text)
        if out is not None:
            out.write_text(text + "\n")
