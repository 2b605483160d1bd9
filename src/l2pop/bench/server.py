"""``l2pop bench server``: status changes/s and delivery latency with N open watches.

A real ``l2pop server`` process on 127.0.0.1 (temporary database); this
process populates it, opens one watch stream per host and flips port
statuses from many connections. Bounded by ``--duration`` and the sizes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import json
import shlex
import ssl
import sys
import tempfile
import time
from collections.abc import Coroutine
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from l2pop.tlsclient import CaFileOption

__all__ = [
    "cpu_seconds",
    "latency_ms",
    "percentile",
    "register",
    "run_bench",
    "run_on_uvloop",
    "run_plain_and_tls",
]

MAX_DURATION_S = 300.0
RAW_DURATION_S = 10.0


class StoreKind(StrEnum):
    SQLITE = "sqlite"
    ETCD = "etcd"
    BOTH = "both"  # SQLite, then etcd, back to back: ratios from one invocation


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _bench(
    url: str, admin: str, cfg: Any, pid: int, ca_file: Path | None = None
) -> dict[str, Any]:
    import psutil

    from l2pop.bench.server_http import Connection
    from l2pop.bench.server_load import Tracker, populate, run_load, watch_all
    from l2pop.tlsclient import client_context

    tls = client_context(ca_file) if url.startswith("https://") else None
    host, port = url.split("://", 1)[-1].rsplit(":", 1)
    started = time.perf_counter()
    fabric = await populate(host, int(port), admin, cfg, tls)
    populate_s = time.perf_counter() - started
    conn = await Connection.open(host, int(port), tls)
    revision = (await conn.call("GET", "/healthz", admin))[1]["revision"]
    await conn.close()
    tracker = Tracker()
    streams = await watch_all(host, int(port), fabric, revision, tracker, tls)
    # This process's own full GC passes would delay lines it reads and count
    # as server latency: what populate built is frozen out of them.
    gc.collect()
    gc.freeze()
    server = psutil.Process(pid)
    main_before, cpu_before = cpu_seconds(server)
    client_before = time.process_time()
    sent_before = await _stream_counters(host, int(port), admin, tls)
    load = await run_load(host, int(port), fabric, cfg, tracker, tls)
    main_after, cpu_after = cpu_seconds(server)
    sent_after = await _stream_counters(host, int(port), admin, tls)
    lines, writes = (after - before for after, before in zip(sent_after, sent_before, strict=True))
    cpu_load, main_load = cpu_after - cpu_before, main_after - main_before
    client_cpu = time.process_time() - client_before
    drain_deadline = time.perf_counter() + 10
    while tracker.pending and time.perf_counter() < drain_deadline:
        await asyncio.sleep(0.05)
    for stream in streams:
        stream.close()
    fanout = [len(b) - 1 for b in fabric.bound.values()]
    return {
        "populate_s": round(populate_s, 1),
        "changes_acked": load["acked"],
        "changes_per_s": round(load["acked"] / load["elapsed_s"], 1),
        "deliveries_per_s": round(tracker.lines / load["elapsed_s"], 1),
        "ack_to_all_streams_ms": latency_ms(tracker.ack_latency),
        "send_to_all_streams_ms": latency_ms(tracker.send_latency),
        # With --rate: from the moment the pace wanted the change sent.
        "scheduled_to_all_streams_ms": latency_ms(tracker.slot_latency),
        "undelivered_after_10s": len(tracker.pending),
        "mean_fanout_hosts": round(sum(fanout) / max(1, len(fanout)), 1),
        # The server joins the lines a stream gets in one loop turn into one write.
        "server_lines_per_stream_write": round(lines / max(1, writes), 2),
        # The server's processes together (it and any children), then its
        # main process alone: its one Python thread is what saturates first.
        "server_cpu_percent_during_load": round(100 * cpu_load / load["elapsed_s"], 1),
        "server_main_process_cpu_percent": round(100 * main_load / load["elapsed_s"], 1),
        # CPU the server spent per acknowledged change (all its work: HTTP,
        # store, core step, fan-out, the socket writes).
        "server_cpu_ms_per_change": round(1000 * cpu_load / max(1, load["acked"]), 3),
        "server_main_process_cpu_ms_per_change": round(1000 * main_load / max(1, load["acked"]), 3),
        "server_rss_mib": round(server.memory_info().rss / 2**20, 1),
        # The load generator shares the machine: near 100 % it is the bottleneck.
        "bench_client_cpu_percent": round(100 * client_cpu / load["elapsed_s"], 1),
        "machine_load_average_1m": round(psutil.getloadavg()[0], 2),
    }


async def _stream_counters(
    host: str, port: int, admin: str, tls: ssl.SSLContext | None
) -> tuple[float, float]:
    """Watch lines queued and stream writes so far, from the server's /metrics."""
    from l2pop.bench.server_http import Connection

    conn = await Connection.open(host, port, tls)
    try:
        text = (await conn.raw("GET", "/metrics", admin)).decode()
    finally:
        await conn.close()
    values = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("l2pop_deltas_sent_total", "l2pop_watch_writes"):
            values[name] = float(value)
    return values.get("l2pop_deltas_sent_total", 0.0), values.get("l2pop_watch_writes", 0.0)


def cpu_seconds(server: Any) -> tuple[float, float]:
    """CPU seconds (user + system) of the server's main process, and with its children."""
    main = sum(server.cpu_times()[:2])
    children = 0.0
    for child in server.children(recursive=True):
        with contextlib.suppress(Exception):  # a child that just ended
            children += sum(child.cpu_times()[:2])
    return main, main + children


def latency_ms(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(1000 * percentile(values, 0.50), 2),
        "p99": round(1000 * percentile(values, 0.99), 2),
        "max": round(1000 * max(values, default=float("nan")), 2),
    }


def run_on_uvloop(coro: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """On uvloop, as the server: the load generator shares the 2 cores with what it measures."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def run_bench(
    cfg: Any, workdir: Path, server_args: list[str], *, tls: bool = False
) -> dict[str, Any]:
    from l2pop.sim.server_proc import running_server

    with running_server(workdir, server_args, tls=tls) as server:
        result = run_on_uvloop(
            _bench(server.url, server.admin_token, cfg, server.pid, server.ca_file)
        )
    return {"config": dataclasses.asdict(cfg), "tls": tls, **result}


def run_plain_and_tls(cfg: Any, workdir: Path, server_args: list[str]) -> dict[str, Any]:
    """The same load on plain HTTP, then on HTTPS (each on a fresh server), and the
    cost of TLS as ratios of the two runs (the yardstick: plain HTTP, same run)."""
    plain = run_bench(cfg, workdir / "plain", server_args)
    tls = run_bench(cfg, workdir / "tls", server_args, tls=True)

    def ratio(key: str, *sub: str) -> float | None:
        a, b = tls[key], plain[key]
        for name in sub:
            a, b = a[name], b[name]
        return round(float(a) / float(b), 3) if b else None

    return {
        "plain": plain,
        "tls": tls,
        "tls_over_plain": {
            "changes_per_s": ratio("changes_per_s"),
            "server_cpu_ms_per_change": ratio("server_cpu_ms_per_change"),
            "send_to_all_streams_p50": ratio("send_to_all_streams_ms", "p50"),
            "send_to_all_streams_p99": ratio("send_to_all_streams_ms", "p99"),
            "bench_client_cpu_percent": ratio("bench_client_cpu_percent"),
            "server_rss_mib": ratio("server_rss_mib"),
            "populate_s": ratio("populate_s"),
        },
    }


def run_bench_on_etcd(
    cfg: Any, workdir: Path, server_args: list[str], members: int
) -> dict[str, Any]:
    """The same bench against one replica on a fresh ``members``-member etcd (127.0.0.1)."""
    from l2pop.bench.etcd_metrics import etcd_counters, per_write
    from l2pop.bench.etcd_raw import raw_etcd_txns, sample_value_size
    from l2pop.lab.etcd import etcd_cluster

    with etcd_cluster(workdir / "etcd", size=members) as cluster:
        etcd_args = ["--etcd", cluster.endpoints, "--etcd-prefix", "/bench/"]
        counted = etcd_counters(cluster.endpoints)
        result = run_bench(cfg, workdir / "server", [*etcd_args, *server_args])
        # Every l2pop write of the run: populate's (one per host, network, port), the load's.
        writes = cfg.hosts + cfg.networks + cfg.ports + result["changes_acked"]
        after_l2pop = etcd_counters(cluster.endpoints)
        result["etcd_work"] = per_write(counted, after_l2pop, writes)
        # The yardstick: the same cluster, value size and concurrency, no l2pop.
        size = asyncio.run(sample_value_size(cluster.endpoints, "/bench/"))
        raw = asyncio.run(
            raw_etcd_txns(
                cluster.endpoints,
                concurrency=cfg.concurrency,
                duration=min(cfg.duration, RAW_DURATION_S),
                value_size=size,
            )
        )
        raw["etcd_work"] = per_write(after_l2pop, etcd_counters(cluster.endpoints), raw["txns"])
    fraction = result["changes_per_s"] / max(1.0, raw["txns_per_s"])
    return {
        **result,
        "store": f"etcd x{members}",
        "raw_etcd": raw,
        "changes_per_s_vs_raw_etcd": round(fraction, 3),
    }


def run_external(
    cfg: Any, url: str, token: str, pid: int, ca_file: Path | None = None
) -> dict[str, Any]:
    """Against a server someone else started (e.g. under a profiler); it must be empty."""
    return {
        "config": dataclasses.asdict(cfg),
        **run_on_uvloop(_bench(url, token, cfg, pid, ca_file)),
    }


def register(bench: typer.Typer) -> None:
    @bench.command("server")
    def server(
        hosts: Annotated[int, typer.Option(min=1, max=5000, help="Hosts, one stream each.")] = 1000,
        networks: Annotated[int, typer.Option(min=1, max=2000)] = 100,
        ports: Annotated[int, typer.Option(min=1, max=100_000)] = 20_000,
        hosts_per_network: Annotated[
            int, typer.Option(min=0, help="Hosts a network spans (0: ports on random hosts).")
        ] = 20,
        duration: Annotated[float, typer.Option(min=1, max=MAX_DURATION_S)] = 20.0,
        concurrency: Annotated[int, typer.Option(min=1, max=1000, help="Writers.")] = 64,
        rate: Annotated[
            float, typer.Option(min=0, help="Offered changes/s (0: as fast as acknowledged).")
        ] = 0.0,
        out: Annotated[Path | None, typer.Option(help="Write the result JSON here.")] = None,
        url: Annotated[
            str | None, typer.Option(help="Use this (empty) server instead of starting one.")
        ] = None,
        token_file: Annotated[Path | None, typer.Option(help="Admin token of --url.")] = None,
        pid: Annotated[int | None, typer.Option(help="Server pid of --url (CPU, RSS).")] = None,
        server_arg: Annotated[
            list[str] | None, typer.Option(help="Extra argument for the started server.")
        ] = None,
        store: Annotated[
            StoreKind,
            typer.Option(
                help="sqlite: the started server uses a temporary SQLite file; "
                "etcd: it uses a fresh local etcd cluster (Debian etcd-server) and raw etcd "
                "is measured on it as a yardstick; both: SQLite, then etcd, with ratios."
            ),
        ] = StoreKind.SQLITE,
        etcd_members: Annotated[
            int, typer.Option(min=1, max=5, help="Members of the etcd cluster (--store etcd).")
        ] = 3,
        replicas: Annotated[
            int,
            typer.Option(
                min=0,
                max=5,
                help="--store etcd: spread streams and writers over N replicas, plus one "
                "replica serving nothing whose CPU is the cost of applying the change stream "
                "(per-replica CPU split into applying and fan-out). 0: one replica as usual.",
            ),
        ] = 0,
        tls: Annotated[
            bool,
            typer.Option(
                "--tls",
                help="Run twice, on plain HTTP then on HTTPS (fresh server each), and report "
                "both and their ratios (sqlite store).",
            ),
        ] = False,
        ca_file: CaFileOption = None,
    ) -> None:
        """Status changes/s and ack-to-delivery latency against a real server (loopback)."""
        from l2pop.bench.server_load import LoadConfig

        cfg = LoadConfig(hosts, networks, ports, hosts_per_network, duration, concurrency, rate)
        if url is not None:
            if token_file is None or pid is None:
                raise typer.BadParameter("--url needs --token-file and --pid")
            result = run_external(cfg, url, token_file.read_text().strip(), pid, ca_file)
        else:
            with tempfile.TemporaryDirectory(prefix="l2pop-bench-") as tmp:
                if replicas:
                    from l2pop.bench.server_replicas import run_replicas_on_etcd

                    if store is not StoreKind.ETCD:
                        raise typer.BadParameter("--replicas needs --store etcd")
                    args = server_arg or []
                    result = run_replicas_on_etcd(cfg, Path(tmp), args, etcd_members, replicas)
                elif tls:
                    if store is not StoreKind.SQLITE:
                        raise typer.BadParameter("--tls runs on the sqlite store")
                    result = run_plain_and_tls(cfg, Path(tmp), server_arg or [])
                elif store is StoreKind.BOTH:
                    from l2pop.bench.server_compare import compare

                    sqlite = {**run_bench(cfg, Path(tmp) / "sqlite", server_arg or [])}
                    etcd = run_bench_on_etcd(cfg, Path(tmp), server_arg or [], etcd_members)
                    result = compare({**sqlite, "store": "sqlite"}, etcd)
                elif store is StoreKind.ETCD:
                    result = run_bench_on_etcd(cfg, Path(tmp), server_arg or [], etcd_members)
                else:
                    result = {**run_bench(cfg, Path(tmp), server_arg or []), "store": "sqlite"}
        result["command"] = "l2pop bench server " + shlex.join(sys.argv[3:])
        text = json.dumps(result, indent=2)
        typer.echo(text)
        if out is not None:
            out.write_text(text + "\n")
