"""``l2pop bench dataplane``: program N unicast + N neighbour entries into a fresh
namespace through the Linux dataplane, next to ``bridge -batch`` / ``ip -batch``
doing the same in the same run, and time the resync of an already-correct kernel.

Each repetition uses two fresh namespaces (one per contender) with the same
devices; only the entry programming is timed. Needs root.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any

import typer

from l2pop.core.state import Entries, HostState, Neigh, NetworkState, Unicast
from l2pop.dataplane.base import Mode, bridge_name, vxlan_name

__all__ = ["BenchConfig", "register", "run"]

JSON = dict[str, Any]
NETWORK_ID = "00000000-0000-4000-8000-0000000000be"
VNI = 4242
LOCAL = "192.0.2.1"


@dataclass(frozen=True)
class BenchConfig:
    entries: int = 10_000  # unicast entries, and as many neighbour entries
    mode: Mode = Mode.PROXY
    repeat: int = 3
    peers: int = 50  # distinct remote VTEPs


def desired_state(cfg: BenchConfig) -> HostState:
    peers = [f"192.0.2.{10 + i}" for i in range(cfg.peers)]
    macs = [
        f"fa:16:3e:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}" for i in range(cfg.entries)
    ]
    unicast = frozenset(Unicast(mac, peers[i % len(peers)]) for i, mac in enumerate(macs))
    neigh = frozenset(Neigh(_vm_ip(i), mac) for i, mac in enumerate(macs))
    return HostState(
        {NETWORK_ID: NetworkState(VNI, 1450, Entries(frozenset(peers), unicast, neigh))}
    )


def _vm_ip(i: int) -> str:
    return f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"


def _ip(netns: str, *argv: str) -> None:
    subprocess.run(["ip", "-n", netns, *argv], check=True, capture_output=True, timeout=60)


@contextmanager
def fresh_namespace(tag: str) -> Iterator[str]:
    """A namespace with an underlay veth holding LOCAL; always deleted."""
    netns = f"l2p{os.urandom(3).hex()}{tag}"
    subprocess.run(["ip", "netns", "add", netns], check=True, timeout=60)
    try:
        _ip(netns, "link", "add", "ul0", "type", "veth", "peer", "name", "ul1")
        _ip(netns, "addr", "add", f"{LOCAL}/24", "dev", "ul0")
        _ip(netns, "link", "set", "ul0", "up")
        yield netns
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False, timeout=60)


def bench_l2pop(cfg: BenchConfig, state: HostState) -> JSON:
    """Program ``state`` from an empty namespace, then resync it with a fresh agent."""
    from l2pop.agent.reconcile import plan
    from l2pop.dataplane.linux import LinuxDataplane

    with fresh_namespace("bl") as netns:
        dp = LinuxDataplane(cfg.mode, LOCAL, netns=netns)
        try:
            t0 = time.perf_counter()
            ops = plan(state, dp.read(), mode=cfg.mode)
            t1 = time.perf_counter()
            dp.apply(ops)
            t2 = time.perf_counter()
        finally:
            dp.close()
        agent = LinuxDataplane(cfg.mode, LOCAL, netns=netns)  # a restarted agent
        try:
            c3, t3 = time.process_time(), time.perf_counter()
            actual = agent.read()
            t4 = time.perf_counter()
            again = plan(state, actual, mode=cfg.mode)
            c5, t5 = time.process_time(), time.perf_counter()
            held = len(actual[VNI].entries) if VNI in actual else 0
        finally:
            agent.close()
    return {
        "ops": len(ops),
        "plan_s": t1 - t0,
        "program_s": t2 - t0,
        "resync_read_s": t4 - t3,
        "resync_s": t5 - t3,
        # CPU (user + system) of this process: what the resync costs without contention.
        "resync_cpu_s": c5 - c3,
        "resync_ops": len(again),
        "entries_read_back": held,
    }


def bench_iproute2(cfg: BenchConfig, state: HostState) -> JSON:
    """The same entries through one ``bridge -batch`` and one ``ip -batch`` process."""
    net = state.networks[NETWORK_ID]
    vx, br = vxlan_name(VNI), bridge_name(NETWORK_ID)
    fdb = [
        f"fdb append 00:00:00:00:00:00 dev {vx} dst {vtep} self permanent"
        for vtep in sorted(net.flood)
    ]
    for u in sorted(net.unicast):
        fdb.append(f"fdb replace {u.mac} dev {vx} dst {u.vtep} self permanent")
        if cfg.mode is Mode.SUPPRESS:
            fdb.append(f"fdb replace {u.mac} dev {vx} master static")
    neigh_dev = vx if cfg.mode is Mode.PROXY else br
    neigh = [
        f"neigh replace {n.ip} lladdr {n.mac} dev {neigh_dev} nud permanent"
        for n in sorted(net.neigh)
    ]
    with fresh_namespace("bi") as netns, tempfile.TemporaryDirectory() as tmp:
        proxy = ["proxy"] if cfg.mode is Mode.PROXY else []
        _ip(netns, "link", "add", br, "type", "bridge")
        _ip(netns, "link", "add", vx, "type", "vxlan", "id", str(VNI), "dstport", "4789",
            "local", LOCAL, "nolearning", *proxy)  # fmt: skip
        _ip(netns, "link", "set", vx, "master", br, "up")
        _ip(netns, "link", "set", br, "up")
        fdb_file, neigh_file = Path(tmp, "fdb"), Path(tmp, "neigh")
        fdb_file.write_text("\n".join(fdb) + "\n")
        neigh_file.write_text("\n".join(neigh) + "\n")
        t0 = time.perf_counter()
        subprocess.run(["bridge", "-n", netns, "-batch", str(fdb_file)], check=True, timeout=300)
        t1 = time.perf_counter()
        subprocess.run(["ip", "-n", netns, "-batch", str(neigh_file)], check=True, timeout=300)
        t2 = time.perf_counter()
    return {"bridge_batch_s": t1 - t0, "ip_batch_s": t2 - t1, "program_s": t2 - t0}


def machine() -> JSON:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    iproute2 = subprocess.run(["ip", "-V"], capture_output=True, text=True).stdout.strip()
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pyroute2": version("pyroute2"),
        "iproute2": iproute2,
        # Other work on the machine skews both contenders alike; the ratio is the robust number.
        "loadavg_1m_at_start": round(os.getloadavg()[0], 2),
    }


def run(cfg: BenchConfig) -> JSON:
    """All repetitions, their medians, and the goals (ratio >= 0.25, resync < 1 s)."""
    state = desired_state(cfg)
    entries = 2 * cfg.entries  # unicast + neighbour entries
    runs = []
    for _ in range(cfg.repeat):
        ours, theirs = bench_l2pop(cfg, state), bench_iproute2(cfg, state)
        runs.append({"l2pop": ours, "iproute2": theirs})
    ours_s = statistics.median(r["l2pop"]["program_s"] for r in runs)
    theirs_s = statistics.median(r["iproute2"]["program_s"] for r in runs)
    resync_s = statistics.median(r["l2pop"]["resync_s"] for r in runs)
    resync_cpu_s = statistics.median(r["l2pop"]["resync_cpu_s"] for r in runs)
    ratio = theirs_s / ours_s
    return {
        "config": asdict(cfg) | {"mode": str(cfg.mode)},
        "machine": machine(),
        "entries": entries,
        "l2pop_entries_per_s": entries / ours_s,
        "iproute2_entries_per_s": entries / theirs_s,
        "ratio": ratio,
        "resync_s": resync_s,
        "resync_cpu_s": resync_cpu_s,
        "resync_ops": max(r["l2pop"]["resync_ops"] for r in runs),
        "goal_ratio_met": ratio >= 0.25,
        "goal_resync_met": resync_s < 1.0 and all(r["l2pop"]["resync_ops"] == 0 for r in runs),
        "runs": runs,
    }


def register(bench: typer.Typer) -> None:
    """Add ``dataplane`` to the ``l2pop bench`` group."""

    @bench.command("dataplane")
    def dataplane(
        entries: Annotated[
            int, typer.Option(min=1, max=1_000_000, help="Unicast entries, and as many neighbours.")
        ] = 10_000,
        mode: Annotated[Mode, typer.Option(help="proxy or suppress.")] = Mode.PROXY,
        repeat: Annotated[int, typer.Option(min=1, max=20, help="Repetitions (medians).")] = 3,
        results_dir: Annotated[Path, typer.Option(help="Where dataplane-<mode>.json goes.")] = Path(
            "bench/results"
        ),
    ) -> None:
        """Linux dataplane vs bridge/ip -batch in fresh namespaces, and resync time. Root only."""
        if os.geteuid() != 0:
            typer.echo("l2pop bench dataplane needs root (it creates network namespaces)", err=True)
            raise typer.Exit(2)
        result = run(BenchConfig(entries=entries, mode=mode, repeat=repeat))
        result["command"] = " ".join(["l2pop", "bench", "dataplane", *sys.argv[3:]])
        results_dir.mkdir(parents=True, exist_ok=True)
        out = results_dir / f"dataplane-{mode}.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        typer.echo(summary(result, out))


def summary(result: JSON, out: Path) -> str:
    return (
        f"{result['entries']} entries, mode {result['config']['mode']}: "
        f"l2pop {result['l2pop_entries_per_s']:,.0f}/s, "
        f"bridge+ip -batch {result['iproute2_entries_per_s']:,.0f}/s, "
        f"ratio {result['ratio']:.2f} (goal >= 0.25); resync of a correct kernel "
        f"{result['resync_s'] * 1000:.0f} ms (CPU {result['resync_cpu_s'] * 1000:.0f} ms), "
        f"{result['resync_ops']} ops (goal < 1 s, 0 ops)"
        f" -> {out}"
    )
