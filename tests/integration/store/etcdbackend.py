"""The etcd store for the conformance suite: a real one-member etcd per test.

(The failover tests in tests/integration/ha use a three-member cluster; the
store contract does not depend on the cluster size.)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from harness.etcd import etcd_cluster
from l2pop.server.store.base import Store
from l2pop.server.store.etcd import EtcdStore

__all__ = ["etcd_backend"]


def etcd_backend(tmp_path: Path) -> Iterator[object]:
    """``open_store(retain)`` over one prefix of a fresh etcd (a restart reopens it)."""
    prefix = f"/l2pop-test-{os.urandom(3).hex()}/"
    with etcd_cluster(tmp_path, size=1) as cluster:

        def open_store(retain: int) -> Store:
            return EtcdStore(cluster.endpoints, prefix=prefix, retain=retain)

        yield open_store
