from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The agent tests' harness (Admin, in-process agents on the fake dataplane).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "agent"))

from etcdcluster import EtcdCluster, etcd_cluster
from replicas import Replica, running_replicas


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[EtcdCluster]:
    with etcd_cluster(tmp_path / "etcd", size=3) as started:
        yield started


@pytest.fixture
def replicas(tmp_path: Path, cluster: EtcdCluster) -> Iterator[list[Replica]]:
    with running_replicas(tmp_path, cluster.endpoints, count=2) as started:
        yield started
