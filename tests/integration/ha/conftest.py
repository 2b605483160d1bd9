from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.etcd import EtcdCluster, etcd_cluster
from harness.servers import Replica, running_replicas


@pytest.fixture(scope="session")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdCluster]:
    """One three-member cluster for the session (each test writes under its own prefix)."""
    with etcd_cluster(tmp_path_factory.mktemp("etcd3"), size=3) as started:
        yield started


@pytest.fixture
def cluster(shared_cluster: EtcdCluster) -> Iterator[EtcdCluster]:
    """The shared cluster, all members up; members a test killed are started again."""
    yield shared_cluster
    for index, member in enumerate(shared_cluster.members):
        if not member.running:
            shared_cluster.start_member(index)
    shared_cluster.wait_healthy()


@pytest.fixture
def replicas(tmp_path: Path, cluster: EtcdCluster) -> Iterator[list[Replica]]:
    with running_replicas(tmp_path, cluster.endpoints, count=2) as started:
        yield started
