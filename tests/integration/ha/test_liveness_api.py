"""Host liveness (etcd leases) as the API and metrics show it, across replicas."""

from __future__ import annotations

import time

import httpx
import pytest
from test_replicas import make_host, ok

from harness.servers import Replica

pytestmark = pytest.mark.etcd


def _alive(replica: Replica, host: str) -> bool | None:
    with replica.client() as admin:
        hosts = ok(admin.get("/v1/hosts"))["hosts"]
    return next(h.get("alive") for h in hosts if h["name"] == host)


def test_an_agent_watching_one_replica_is_alive_on_both(replicas: list[Replica]) -> None:
    first, second = replicas
    with first.client() as admin:
        token = make_host(admin, "h1", "192.0.2.1")
    assert _alive(second, "h1") is False
    url = f"{first.url}/v1/hosts/h1/watch?revision=0"
    with httpx.stream("GET", url, headers={"X-Auth-Token": token}, timeout=10) as stream:
        assert stream.status_code == 200
        deadline = time.monotonic() + 10
        while not _alive(second, "h1"):
            assert time.monotonic() < deadline, "the watching host never showed up alive"
            time.sleep(0.1)
        metrics = httpx.get(f"{second.url}/metrics", timeout=10).text
        assert "l2pop_hosts_up 1.0" in metrics
