"""The etcd cluster of the HA tests: ``l2pop.lab.etcd``, skipping when etcd is absent."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from l2pop.lab import etcd as _etcd
from l2pop.lab.etcd import ETCD, EtcdCluster, Member, Tls, free_ports

__all__ = ["ETCD", "EtcdCluster", "Member", "Tls", "etcd_cluster", "free_ports", "require_etcd"]


def require_etcd() -> None:
    if not os.path.exists(ETCD):
        pytest.skip("etcd is not installed (Debian package etcd-server)")


@contextlib.contextmanager
def etcd_cluster(workdir: Path, size: int = 3, tls: Tls | None = None) -> Iterator[EtcdCluster]:
    """A started cluster, stopped (every member) whatever happens."""
    require_etcd()
    with _etcd.etcd_cluster(workdir, size, tls) as cluster:
        yield cluster
