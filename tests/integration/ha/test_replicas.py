"""Two ``l2pop server --etcd`` replicas on a real three-member etcd cluster."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.etcd import EtcdCluster
from harness.servers import Replica, ok, running_replicas
from harness.watchlines import WatchReader

pytestmark = pytest.mark.etcd

JSON = dict[str, Any]


def make_network(client: httpx.Client, vni: int) -> str:
    body = {"network": {"name": f"n{vni}", "provider:network_type": "vxlan",
                        "provider:segmentation_id": vni}}  # fmt: skip
    return str(ok(client.post("/v2.0/networks", json=body), 201)["network"]["id"])


def make_host(client: httpx.Client, name: str, tunnel_ip: str) -> str:
    answer = ok(client.post("/v1/hosts", json={"name": name, "tunnel_ip": tunnel_ip}), 201)
    return str(answer["token"])


def make_port(client: httpx.Client, net: str, host: str, ip: str, mac: str | None = None) -> JSON:
    body: JSON = {"network_id": net, "binding:host_id": host, "fixed_ips": [{"ip_address": ip}]}
    if mac is not None:
        body["mac_address"] = mac
    return ok(client.post("/v2.0/ports", json={"port": body}), 201)["port"]  # type: ignore[no-any-return]


def report(replica: Replica, host: str, token: str, port_id: str, status: str) -> None:
    path = f"/v1/hosts/{host}/ports/{port_id}/status"
    headers = {"X-Auth-Token": token}
    ok(httpx.put(replica.url + path, json={"status": status}, headers=headers, timeout=10))


def test_a_write_on_one_replica_reaches_a_watch_stream_on_the_other(
    replicas: list[Replica],
) -> None:
    first, second = replicas
    with first.client() as admin:
        net = make_network(admin, 100)
        tokens = {
            h: make_host(admin, h, ip) for h, ip in (("h1", "192.0.2.1"), ("h2", "192.0.2.2"))
        }
        make_port(admin, net, "h2", "198.51.100.2")
        port = make_port(admin, net, "h1", "198.51.100.1")
    state = ok(httpx.get(f"{second.url}/v1/hosts/h2/state", headers={"X-Auth-Token": tokens["h2"]}))
    reader = WatchReader(second.url, "h2", tokens["h2"], state["revision"])
    try:
        report(first, "h1", tokens["h1"], port["id"], "ACTIVE")
        with first.client() as admin:
            head = int(ok(admin.get("/healthz"))["revision"])
        change = next(x for x in reader.changes_until(head) if x["networks"])
    finally:
        reader.close()
    added = change["networks"][net]["add"]
    assert added["unicast"] == [{"mac": port["mac_address"], "vtep": "192.0.2.1"}]
    assert added["flood"] == ["192.0.2.1"]


class Writer(threading.Thread):
    """Creates ports on one replica as fast as it is acknowledged; records every answer."""

    def __init__(self, replica: Replica, net: str, tag: str) -> None:
        super().__init__(daemon=True, name=f"writer-{tag}")
        self.replica, self.net, self.tag = replica, net, tag
        self.acked: list[tuple[float, str]] = []
        self.failed: list[tuple[float, int]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        with self.replica.client(timeout=15) as client:
            for i in range(100_000):
                if self.halt.is_set():
                    return
                body = {"port": {"network_id": self.net, "name": f"{self.tag}-{i}"}}
                try:
                    answer = client.post("/v2.0/ports", json=body)
                except httpx.HTTPError:
                    self.failed.append((time.monotonic(), 0))
                    continue
                if answer.status_code == 201:
                    self.acked.append((time.monotonic(), answer.json()["port"]["id"]))
                else:
                    self.failed.append((time.monotonic(), answer.status_code))


def port_ids(replica: Replica) -> set[str]:
    with replica.client() as client:
        return {p["id"] for p in ok(client.get("/v2.0/ports"))["ports"]}


def test_killing_an_etcd_member_under_write_load_loses_no_acknowledged_write(
    cluster: EtcdCluster, replicas: list[Replica]
) -> None:
    with replicas[0].client() as admin:
        net = make_network(admin, 200)
    writers = [Writer(replica, net, f"w{i}") for i, replica in enumerate(replicas)]
    for writer in writers:
        writer.start()
    time.sleep(1.0)
    killed_at = time.monotonic()
    cluster.kill(cluster.leader())  # an election follows
    time.sleep(4.0)
    for writer in writers:
        writer.halt.set()
    for writer in writers:
        writer.join(timeout=20)
    for writer in writers:
        after = [t for t, _ in writer.acked if t > killed_at + 2.0]
        assert after, f"{writer.tag}: no write acknowledged after the election: {writer.failed}"
        assert {code for _, code in writer.failed} <= {503}, writer.failed
    for writer in writers:
        times = [t for t, _ in writer.acked]
        gap = max(b - a for a, b in itertools.pairwise(times))
        print(f"{writer.tag}: {len(times)} acked, longest pause {gap * 1000:.0f} ms")
    acked = {port for writer in writers for _, port in writer.acked}
    for replica in replicas:
        assert acked <= port_ids(replica)


def race_create(clients: list[httpx.Client], net: str, mac: str) -> list[int]:
    """The same port (MAC) created on every client at once; the status codes."""
    barrier = threading.Barrier(len(clients))
    codes: list[int] = []

    def create(client: httpx.Client, tag: str) -> None:
        body = {"port": {"network_id": net, "mac_address": mac, "name": tag}}
        barrier.wait(timeout=10)
        codes.append(client.post("/v2.0/ports", json=body).status_code)

    threads = [threading.Thread(target=create, args=(c, f"r{i}")) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    return sorted(codes)


def test_concurrent_creates_of_one_mac_on_two_replicas_have_exactly_one_winner(
    replicas: list[Replica],
) -> None:
    with replicas[0].client() as admin:
        net = make_network(admin, 300)
    clients = [replica.client() for replica in replicas]
    try:
        for round_ in range(15):
            codes = race_create(clients, net, f"fa:16:3e:00:03:{round_:02x}")
            assert codes == [201, 409], (round_, codes)
        for client in clients:
            ports = ok(client.get("/v2.0/ports", params={"network_id": net}))["ports"]
            assert len({p["mac_address"] for p in ports}) == len(ports) == 15
    finally:
        for client in clients:
            client.close()


def test_a_write_acknowledged_on_one_replica_is_read_on_the_other(
    replicas: list[Replica],
) -> None:
    first, second = replicas
    with first.client() as one, second.client() as two:
        net = make_network(one, 400)
        for i in range(20):
            body = {"port": {"network_id": net, "name": f"p{i}"}}
            port = ok(one.post("/v2.0/ports", json=body), 201)["port"]
            assert ok(two.get(f"/v2.0/ports/{port['id']}"))["port"]["name"] == f"p{i}"


def test_a_whole_cluster_restart_keeps_every_acknowledged_write(
    tmp_path: Path, cluster: EtcdCluster, replicas: list[Replica]
) -> None:
    with replicas[0].client() as admin:
        net = make_network(admin, 500)
    acked = set()
    for i in range(20):
        with replicas[i % 2].client() as client:
            body = {"port": {"network_id": net, "name": f"p{i}"}}
            acked.add(ok(client.post("/v2.0/ports", json=body), 201)["port"]["id"])
    for index in range(cluster.size):
        cluster.kill(index)
    # Store gone: writes wait about 5 s, then 503 with Retry-After; /healthz is 503.
    with replicas[1].client() as client:
        began = time.monotonic()
        answer = client.post("/v2.0/ports", json={"port": {"network_id": net}})
        waited = time.monotonic() - began
    assert answer.status_code == 503, answer.text
    assert "Retry-After" in answer.headers
    assert 3.0 < waited < 9.0
    assert answer.json()["NeutronError"]["message"]
    assert replicas[0].healthz() == 503
    for index in range(cluster.size):
        cluster.start_member(index)
    cluster.wait_healthy()
    wait_until(lambda: all(r.healthz() == 200 for r in replicas), 15, "replicas healthy")
    for replica in replicas:
        assert acked <= port_ids(replica)
    with running_replicas(tmp_path / "late", cluster.endpoints, 1, prefix=replicas[0].prefix,
                          token=replicas[0].token) as (late,):  # fmt: skip
        assert acked <= port_ids(late)
        with late.client() as client:
            ok(client.post("/v2.0/ports", json={"port": {"network_id": net}}), 201)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
