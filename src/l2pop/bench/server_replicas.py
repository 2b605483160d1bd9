"""``l2pop bench server --store etcd --replicas N``: the load spread over N replicas.

N ``l2pop server --etcd`` replicas on one fresh etcd cluster, plus one more
replica that serves nothing (no streams, no writers): it only applies the
change stream, so its CPU per change is what *every* replica pays for
applying it (etcd watch decode, view, core step). A serving replica's CPU
per change minus that is its fan-out and API work, which N replicas split.

Watch streams go where agents would put them: each host to the first
replica of its rendezvous ranking (:func:`~l2pop.agent.servers.rank_servers`);
writer ``w`` talks to replica ``w mod N``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections import Counter
from pathlib import Path
from typing import Any

from l2pop.bench.server import latency_ms, run_on_uvloop

__all__ = ["run_replicas_on_etcd"]

CATCH_UP_S = 60.0


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) of a server and its children."""
    import psutil

    from l2pop.bench.server import cpu_seconds

    return cpu_seconds(psutil.Process(pid))[1]


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


async def _revision(url: str, token: str) -> int:
    from l2pop.bench.server_http import Connection

    conn = await Connection.open(*_address(url))
    try:
        return int((await conn.call("GET", "/healthz", token))[1]["revision"])
    finally:
        await conn.close()


async def _caught_up(servers: list[Any], revision: int) -> None:
    """Every replica's view reached ``revision`` (a watch at it is then accepted)."""
    deadline = time.monotonic() + CATCH_UP_S
    for server in servers:
        while await _revision(server.url, server.admin_token) < revision:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{server.url} did not catch up to revision {revision}")
            await asyncio.sleep(0.1)


async def _bench(serving: list[Any], observer: Any, cfg: Any) -> dict[str, Any]:
    from l2pop.agent.servers import rank_servers
    from l2pop.bench.server_load import Tracker, populate, run_load, watch_all

    first = serving[0]
    host, port = _address(first.url)
    fabric = await populate(host, port, first.admin_token, cfg)
    revision = await _revision(first.url, first.admin_token)
    await _caught_up([*serving, observer], revision)
    urls = [s.url for s in serving]
    home = {name: rank_servers(urls, name)[0] for name in fabric.tokens}
    tracker = Tracker()
    streams = await watch_all(
        host, port, fabric, revision, tracker, server_of=lambda name: _address(home[name])
    )
    gc.collect()
    gc.freeze()
    everyone = [*serving, observer]
    before = [_cpu(s.pid) for s in everyone]
    load = await run_load(
        host, port, fabric, cfg, tracker,
        writer_server=lambda w: _address(urls[w % len(urls)]),
    )  # fmt: skip
    after = [_cpu(s.pid) for s in everyone]
    drain_deadline = time.perf_counter() + 10
    while tracker.pending and time.perf_counter() < drain_deadline:
        await asyncio.sleep(0.05)
    for stream in streams:
        stream.close()
    acked, elapsed = max(1, load["acked"]), load["elapsed_s"]
    per_change = [1000 * (a - b) / acked for a, b in zip(after, before, strict=True)]
    apply_ms = per_change[-1]
    streams_on = Counter(home.values())
    replicas = [
        {
            "url": server.url,
            "streams": streams_on[server.url],
            "writers": sum(1 for w in range(cfg.concurrency) if w % len(urls) == i),
            "cpu_percent": round(100 * (after[i] - before[i]) / elapsed, 1),
            "cpu_ms_per_change": round(per_change[i], 3),
            # What every replica pays (measured on the replica serving nothing) ...
            "apply_cpu_ms_per_change": round(apply_ms, 3),
            # ... and what this one pays for its share of streams and writers.
            "fanout_and_api_cpu_ms_per_change": round(per_change[i] - apply_ms, 3),
        }
        for i, server in enumerate(serving)
    ]
    return {
        "replicas": len(serving),
        "changes_acked": load["acked"],
        "changes_per_s": round(load["acked"] / elapsed, 1),
        "ack_to_all_streams_ms": latency_ms(tracker.ack_latency),
        "send_to_all_streams_ms": latency_ms(tracker.send_latency),
        "undelivered_after_10s": len(tracker.pending),
        "per_replica": replicas,
        "observer_cpu_ms_per_change": round(apply_ms, 3),
        "all_replicas_cpu_ms_per_change": round(sum(per_change[:-1]), 3),
    }


def run_replicas_on_etcd(
    cfg: Any, workdir: Path, server_args: list[str], members: int, replicas: int
) -> dict[str, Any]:
    """N serving replicas and one observer on a fresh ``members``-member etcd."""
    import dataclasses

    from l2pop.lab.etcd import etcd_cluster
    from l2pop.sim.server_proc import running_server

    with etcd_cluster(workdir / "etcd", size=members) as cluster, contextlib.ExitStack() as stack:
        etcd_args = ["--etcd", cluster.endpoints, "--etcd-prefix", "/bench/"]
        servers = [
            stack.enter_context(running_server(workdir / f"replica{i}", [*etcd_args, *server_args]))
            for i in range(replicas + 1)
        ]
        result = run_on_uvloop(_bench(servers[:-1], servers[-1], cfg))
    return {"config": dataclasses.asdict(cfg), "store": f"etcd x{members}", **result}
