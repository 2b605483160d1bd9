"""Lease renewals share one LeaseKeepAlive stream (real etcd, shared cluster)."""

from __future__ import annotations

import asyncio

import pytest
from aetcd import rpc

from harness.etcd import EtcdCluster
from l2pop.server.store.etcd_client import EtcdClient, EtcdCredentials
from l2pop.server.store.etcd_keepalive import KeepAlives

pytestmark = pytest.mark.etcd


def test_many_leases_are_renewed_on_one_stream_and_a_revoked_one_reads_0(
    cluster: EtcdCluster,
) -> None:
    async def body() -> None:
        client = EtcdClient(cluster.endpoints, EtcdCredentials())
        keepalives = KeepAlives(client)
        try:
            leases = []
            for _ in range(20):
                granted = await client.call(
                    "lease", "LeaseGrant", rpc.LeaseGrantRequest(TTL=30), within=5.0
                )
                leases.append(int(granted.ID))
            ttls = await asyncio.gather(*(keepalives.renew(lease, 5.0) for lease in leases))
            assert all(25 <= ttl <= 30 for ttl in ttls), ttls
            # Two callers of one lease at once share its one request.
            twice = await asyncio.gather(*(keepalives.renew(leases[0], 5.0) for _ in "ab"))
            assert min(twice) >= 25
            assert keepalives.streams_opened == 1  # one stream carried them all
            await client.call(
                "lease", "LeaseRevoke", rpc.LeaseRevokeRequest(ID=leases[1]), within=5.0
            )
            assert await keepalives.renew(leases[1], 5.0) == 0
        finally:
            await keepalives.close()
            await client.close()

    asyncio.run(body())
