"""``l2pop store copy --from sqlite:PATH --to etcd:HOSTS`` on real processes: a SQLite
server's state moves to etcd and an etcd replica serves the same thing."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.agents import Admin
from harness.etcd import EtcdCluster, etcd_cluster
from harness.procs import L2POP
from harness.servers import running, running_replicas

pytestmark = pytest.mark.etcd


def l2pop(*args: str) -> subprocess.CompletedProcess[str]:
    command = [*L2POP, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def single(tmp_path: Path) -> Iterator[EtcdCluster]:
    with etcd_cluster(tmp_path / "etcd", size=1) as started:
        yield started


def snapshot(url: str, token: str) -> dict[str, object]:
    """What the API shows, minus liveness (each server's own observation, not stored)."""
    headers = {"X-Auth-Token": token}
    shown = {
        path: httpx.get(url + path, headers=headers, timeout=10).json()
        for path in ("/v2.0/networks", "/v2.0/ports", "/v1/hosts")
    }
    for host in shown["/v1/hosts"]["hosts"]:
        host.pop("last_seen")
    return shown


def test_copy_moves_every_record_and_the_replica_serves_the_same_state(
    tmp_path: Path, single: EtcdCluster
) -> None:
    with running(tmp_path / "sqlite") as server:
        admin = Admin(server)
        net = admin.network("a", 100)
        admin.host("h1", "192.0.2.1")
        port = admin.port(net, "h1", ["198.51.100.1"], mac="fa:16:3e:00:00:01")
        admin.report("h1", port["id"], "ACTIVE")
        before = snapshot(server.url, server.token)
        old_revision = admin.revision()
        token, db = server.token, server.db
    prefix = "/migrated/"
    done = l2pop("store", "copy", "--from", f"sqlite:{db}", "--to", f"etcd:{single.endpoints}",
                 "--etcd-prefix", prefix)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "copied 1 host, 4 index, 1 network, 1 port" in done.stdout
    with running_replicas(tmp_path, single.endpoints, 1, prefix=prefix, token=token) as (replica,):
        assert snapshot(replica.url, token) == before
        h1 = {"X-Auth-Token": admin.tokens["h1"]}  # the host's token survives (hash copied)
        state = httpx.get(f"{replica.url}/v1/hosts/h1/state", headers=h1, timeout=10)
        assert state.status_code == 200, state.text
        # The index records came along: the MAC is still taken.
        body = {"port": {"network_id": net, "mac_address": "fa:16:3e:00:00:01"}}
        with replica.client() as client:
            assert client.post("/v2.0/ports", json=body).status_code == 409
        # An agent's SQLite revision is not resumed in etcd's numbering.
        watch = httpx.get(
            f"{replica.url}/v1/hosts/h1/watch?revision={old_revision - 1}", headers=h1, timeout=10
        )
        assert watch.status_code in (400, 410)

    again = l2pop("store", "copy", "--from", f"sqlite:{db}", "--to", f"etcd:{single.endpoints}",
                  "--etcd-prefix", prefix)  # fmt: skip
    assert again.returncode == 2
    assert "not empty" in again.stderr


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        ("sqlite:/nonexistent/l2pop.db", "etcd:127.0.0.1:1", "no such file"),
        ("mysql:/x", "etcd:127.0.0.1:1", "expected sqlite:PATH"),
        ("sqlite:/x", "127.0.0.1:2379", "expected etcd:HOST:PORT"),
    ],
)
def test_copy_refuses_bad_arguments_with_a_clear_message(
    source: str, target: str, message: str
) -> None:
    done = l2pop("store", "copy", "--from", source, "--to", target)
    assert done.returncode == 2
    assert message in done.stderr
