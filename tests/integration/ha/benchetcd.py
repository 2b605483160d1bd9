"""etcd benchmarks (not a test; run by hand).

``server``: ``l2pop bench server`` starts a SQLite server itself; this starts
a real etcd cluster (``MEMBERS``, default 3) and one ``l2pop server --etcd``
replica, then runs the same bench against it with ``--url``.
``store``: commits/s and latency of the store alone, etcd and SQLite, for
1, 16 and 64 concurrent writers::

    .venv/bin/python tests/integration/ha/benchetcd.py server /tmp/bench-etcd [bench options]
    .venv/bin/python tests/integration/ha/benchetcd.py store /tmp/bench-store
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

# Run as a script: the test harness (tests/) on the path, as pytest has it.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from harness.etcd import etcd_cluster
from harness.procs import L2POP
from harness.servers import Replica
from l2pop.server.store.base import Put, Store
from l2pop.server.store.etcd import EtcdStore
from l2pop.server.store.sqlite import SQLiteStore

WRITES = 2000


def bench_server(workdir: Path, bench_args: list[str]) -> int:
    members = int(os.environ.get("MEMBERS", "3"))
    with etcd_cluster(workdir / "etcd", size=members) as cluster:
        token = "admin-" + os.urandom(8).hex()
        replica = Replica(workdir / "replica", cluster.endpoints, "/bench/", token)
        replica.start(["--log-level", "warning"])
        try:
            assert replica.process is not None
            command = [
                *L2POP, "bench", "server",
                "--url", replica.url, "--token-file", str(replica.workdir / "admin.token"),
                "--pid", str(replica.process.pid), *bench_args,
            ]  # fmt: skip
            return subprocess.run(command, check=False).returncode
        finally:
            replica.stop()


async def commits(store: Store, writers: int, total: int) -> str:
    await store.start()
    await store.load()
    latencies: list[float] = []

    async def writer(w: int) -> None:
        for i in range(total // writers):
            began = time.perf_counter()
            await store.commit([Put("port", f"p{w}-{i}", {"i": i, "pad": "x" * 400})])
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    elapsed = time.perf_counter() - began
    await store.close()
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    rate = len(latencies) / elapsed
    times = f"p50 {p50 * 1e3:6.1f} ms  p99 {p99 * 1e3:6.1f} ms"
    return f"{writers:3d} writers: {rate:6.0f} commits/s  {times}"


def bench_store(workdir: Path) -> int:
    for members in (3, 1):
        with etcd_cluster(workdir / f"etcd{members}", size=members) as cluster:
            for writers in (1, 16, 64):
                store = EtcdStore(cluster.endpoints, prefix=f"/bench{writers}/")
                line = asyncio.run(commits(store, writers, WRITES if writers > 1 else 300))
                print(f"etcd x{members}  {line}", flush=True)
    for writers in (1, 16, 64):
        store = SQLiteStore(workdir / f"sqlite{writers}.db")
        line = asyncio.run(commits(store, writers, WRITES if writers > 1 else 300))
        print(f"sqlite    {line}", flush=True)
    return 0


if __name__ == "__main__":
    mode, workdir = sys.argv[1], Path(sys.argv[2])
    workdir.mkdir(parents=True, exist_ok=True)
    raise SystemExit(
        bench_server(workdir, sys.argv[3:]) if mode == "server" else bench_store(workdir)
    )
