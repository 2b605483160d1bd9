"""Remote endpoints on etcd: a gateway writes through one replica, the other serves them."""

from __future__ import annotations

import httpx
import pytest
from test_replicas import make_host, make_network, make_port, ok, report

from harness.servers import Replica

pytestmark = pytest.mark.etcd

FRR = "198.18.0.7"


def test_a_gateways_route_written_on_one_replica_is_state_on_the_other(
    replicas: list[Replica],
) -> None:
    first, second = replicas
    with first.client() as admin:
        net = make_network(admin, 4100)
        token = make_host(admin, "h1", "192.0.2.1")
        port = make_port(admin, net, "h1", "198.51.100.1")
        gw = ok(admin.post("/v1/gateways", json={"name": "gw1"}), 201)["token"]
    report(first, "h1", token, port["id"], "ACTIVE")
    route = {"network_id": net, "type": "mac", "vtep": FRR, "mac_address": "52:54:00:00:00:07",
             "ip_address": "198.51.100.7"}  # fmt: skip
    flood = {"network_id": net, "type": "flood", "vtep": FRR}
    headers = {"X-Auth-Token": gw}
    with httpx.Client(base_url=first.url, headers=headers, timeout=10) as gateway:
        ok(gateway.post("/v1/remote-endpoints", json={"add": [route, flood]}))
    # Read your writes across replicas: the other one serves them at once.
    with httpx.Client(base_url=second.url, headers={"X-Auth-Token": token}, timeout=10) as h1:
        state = ok(h1.get("/v1/hosts/h1/state"))["networks"][net]
    assert state["flood"] == [FRR]
    assert state["neigh"] == [{"ip": "198.51.100.7", "mac": "52:54:00:00:00:07"}]
    with httpx.Client(base_url=second.url, headers=headers, timeout=10) as gateway:
        listed = ok(gateway.get("/v1/remote-endpoints"))["remote_endpoints"]
        assert len(listed) == 2
        ok(gateway.post("/v1/remote-endpoints", json={"remove": [route, flood]}))
    with httpx.Client(base_url=first.url, headers={"X-Auth-Token": token}, timeout=10) as h1:
        assert ok(h1.get("/v1/hosts/h1/state"))["networks"][net]["flood"] == []
