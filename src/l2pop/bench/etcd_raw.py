"""The yardstick of ``l2pop bench server --store etcd``: raw etcd on the same cluster.

``concurrency`` writers, each in a loop: one etcd Txn of one compare
(``mod_revision`` of its own key as last written) and one put of a value as
large as an l2pop port record, from this process over one gRPC channel (as
the l2pop server talks to etcd). No l2pop code in the path but the client;
l2pop's changes/s are reported as a fraction of these Txns/s.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aetcd import rpc

from l2pop.server.store.etcd_client import EtcdClient, EtcdCredentials

__all__ = ["raw_etcd_txns", "sample_value_size"]

ATTEMPT_S = 5.0


async def sample_value_size(endpoints: str, prefix: str) -> int:
    """Bytes of one l2pop port record under ``prefix`` (0 when there is none)."""
    client = EtcdClient(endpoints, EtcdCredentials())
    try:
        key = f"{prefix}r/port/".encode()
        end = key[:-1] + bytes([key[-1] + 1])
        request = rpc.RangeRequest(key=key, range_end=end, limit=1)
        response = await client.call("kv", "Range", request, within=ATTEMPT_S)
        return len(response.kvs[0].value) if response.kvs else 0
    finally:
        await client.close()


async def raw_etcd_txns(
    endpoints: str, *, concurrency: int, duration: float, value_size: int, prefix: str = "/raw/"
) -> dict[str, Any]:
    """Txns/s of ``concurrency`` writers for ``duration`` seconds, and the client's CPU."""
    client = EtcdClient(endpoints, EtcdCredentials())
    value = b"x" * max(1, value_size)
    done = [0]
    deadline = time.perf_counter() + duration

    async def writer(w: int) -> None:
        key = f"{prefix}{w}".encode()
        mod = 0  # absent
        while time.perf_counter() < deadline:
            request = rpc.TxnRequest(
                compare=[
                    rpc.Compare(
                        result=rpc.Compare.EQUAL, target=rpc.Compare.MOD, key=key, mod_revision=mod
                    )
                ],
                success=[rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=value))],
            )
            response = await client.once("kv", "Txn", request, ATTEMPT_S)
            assert response.succeeded, "a raw writer's own key moved"
            mod = int(response.header.revision)
            done[0] += 1

    cpu_before = time.process_time()
    started = time.perf_counter()
    try:
        await asyncio.gather(*(writer(w) for w in range(concurrency)))
    finally:
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
        await client.close()
    return {
        "txns": done[0],
        "txns_per_s": round(done[0] / elapsed, 1),
        "value_bytes": len(value),
        "concurrency": concurrency,
        "client_cpu_ms_per_txn": round(1000 * cpu / max(1, done[0]), 3),
    }
