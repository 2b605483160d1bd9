"""The schema marker of an etcd store: the key ``<prefix>schema`` (JSON).

Outside ``<prefix>r/``, so release 0.1.0 neither loads it nor turns its
writes into changes. Written with a compare on the revision it was read at,
so that two replicas starting at once cannot lower each other's marker.
"""

from __future__ import annotations

from typing import Any

from aetcd import rpc

from l2pop.server.store.schema import Marker, upgrade

__all__ = ["migrate_etcd", "schema_key"]

TIMEOUT_S = 10.0


def schema_key(prefix: str) -> bytes:
    return f"{prefix}schema".encode()


async def migrate_etcd(client: Any, prefix: str) -> None:
    """Check the marker and migrate; SchemaError when refused. ``client`` is the
    store's :class:`~l2pop.server.store.etcd_client.EtcdClient`."""
    key = schema_key(prefix)
    for _ in range(5):  # lost races with another replica: read again
        got = await client.call("kv", "Range", rpc.RangeRequest(key=key), within=TIMEOUT_S)
        stored = Marker.decode(bytes(got.kvs[0].value)) if got.kvs else None
        mod = int(got.kvs[0].mod_revision) if got.kvs else 0
        marker = upgrade(stored, f"etcd {prefix}")
        if marker is None:
            return
        txn = rpc.TxnRequest(
            compare=[
                rpc.Compare(
                    result=rpc.Compare.EQUAL, target=rpc.Compare.MOD, key=key, mod_revision=mod
                )
            ],
            success=[rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=marker.encode()))],
        )
        reply = await client.call("kv", "Txn", txn, within=TIMEOUT_S)
        if reply.succeeded:
            return
