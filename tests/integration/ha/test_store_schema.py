"""The stores' schema marker: written at start, migrated from release 0.1.0's stores
(no marker), never lowered by an older server, and a store of an unreadable newer
schema refused with a clear message; SQLite and etcd."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from aetcd import rpc

from harness.etcd import EtcdCluster
from harness.procs import L2POP
from l2pop.server.store.etcd import EtcdStore
from l2pop.server.store.etcd_client import EtcdClient, EtcdCredentials
from l2pop.server.store.schema import CURRENT, SCHEMA_VERSION, Marker, SchemaError
from l2pop.server.store.sqlite import SCHEMA, SQLiteStore
from l2pop.server.store.sqlite_schema import read_marker


def sqlite_marker(path: Path) -> Marker | None:
    conn = sqlite3.connect(path)
    try:
        return read_marker(conn)
    finally:
        conn.close()


def old_sqlite(path: Path, marker: Marker | None) -> None:
    """A store as release 0.1.0 left it (no marker), or with the marker given."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(SCHEMA)
    if marker is not None:
        conn.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            [("schema", marker.version), ("schema_readable_from", marker.readable_from)],
        )
    conn.close()


async def open_close(store: SQLiteStore | EtcdStore) -> None:
    await store.start()
    await store.close()


def test_sqlite_marker_migration_and_refusal(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.db"
    asyncio.run(open_close(SQLiteStore(fresh)))
    assert sqlite_marker(fresh) == CURRENT

    old = tmp_path / "old.db"
    old_sqlite(old, None)
    asyncio.run(open_close(SQLiteStore(old)))
    assert sqlite_marker(old) == CURRENT  # migrated from 0.1.0's layout

    newer = tmp_path / "newer.db"
    readable = Marker(SCHEMA_VERSION + 1, SCHEMA_VERSION)  # an additive migration of N+1
    old_sqlite(newer, readable)
    asyncio.run(open_close(SQLiteStore(newer)))
    assert sqlite_marker(newer) == readable  # served, and not lowered

    refused = tmp_path / "refused.db"
    unreadable = Marker(SCHEMA_VERSION + 5, SCHEMA_VERSION + 1)
    old_sqlite(refused, unreadable)
    with pytest.raises(SchemaError, match=f"schema {SCHEMA_VERSION + 5}"):
        asyncio.run(open_close(SQLiteStore(refused)))
    assert sqlite_marker(refused) == unreadable
    done = subprocess.run(
        [*L2POP, "server", "--db",
         str(refused), "--listen", "127.0.0.1:1", "--admin-token-file", str(tmp_path / "t")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"knows schema {SCHEMA_VERSION}: upgrade l2pop" in done.stderr


@pytest.mark.etcd
def test_etcd_marker_migration_and_refusal(cluster: EtcdCluster) -> None:
    async def scenario() -> None:
        prefix = f"/l2pop-schema-{os.urandom(3).hex()}/"
        key = f"{prefix}schema".encode()
        client = EtcdClient(cluster.endpoints, EtcdCredentials())

        async def marker() -> Marker | None:
            got = await client.call("kv", "Range", rpc.RangeRequest(key=key), within=10)
            return Marker.decode(bytes(got.kvs[0].value)) if got.kvs else None

        async def put(value: Marker) -> None:
            request = rpc.PutRequest(key=key, value=value.encode())
            await client.call("kv", "Put", request, within=10)

        try:
            await open_close(EtcdStore(cluster.endpoints, prefix=prefix))
            assert await marker() == CURRENT
            store = EtcdStore(cluster.endpoints, prefix=prefix)
            await store.start()
            assert await store.count_keys() == 0  # the marker is no record: still empty
            await store.close()
            readable = Marker(SCHEMA_VERSION + 1, SCHEMA_VERSION)
            await put(readable)
            await open_close(EtcdStore(cluster.endpoints, prefix=prefix))
            assert await marker() == readable
            await put(Marker(SCHEMA_VERSION + 5, SCHEMA_VERSION + 1))
            store = EtcdStore(cluster.endpoints, prefix=prefix)
            with pytest.raises(SchemaError, match="upgrade l2pop"):
                await store.start()
            await store.close()
        finally:
            await client.close()

    asyncio.run(scenario())
