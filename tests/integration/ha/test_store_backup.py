"""``l2pop store backup`` / ``restore`` on real processes, both stores, both ways:
a store restored from an online backup into an empty store serves the same state."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from harness.agents import Admin
from harness.etcd import EtcdCluster
from harness.procs import L2POP
from harness.servers import running, running_replicas

pytestmark = pytest.mark.etcd

Shown = dict[str, object]


def l2pop(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [*L2POP, *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def shown(url: str, token: str, host_tokens: dict[str, str]) -> Shown:
    """The lists and every host's /state (its revision aside: numbering restarts)."""
    out: Shown = {}
    for path in ("/v2.0/networks", "/v2.0/subnets", "/v2.0/ports", "/v1/hosts"):
        answer = httpx.get(url + path, headers={"X-Auth-Token": token}, timeout=10)
        if answer.status_code == 404 and path == "/v2.0/subnets":
            continue  # a server without subnets yet
        assert answer.status_code == 200, (path, answer.text)
        out[path] = answer.json()
    for host in out["/v1/hosts"]["hosts"]:  # type: ignore[index]
        host.pop("last_seen", None)  # each server's own observation, not stored
    for name, token_of_host in sorted(host_tokens.items()):
        state = httpx.get(
            f"{url}/v1/hosts/{name}/state", headers={"X-Auth-Token": token_of_host}, timeout=10
        )
        assert state.status_code == 200, state.text
        body = state.json()
        body.pop("revision")
        out[f"state {name}"] = body
    return out


def test_backup_and_restore_through_both_stores_serve_the_same_state(
    tmp_path: Path, cluster: EtcdCluster
) -> None:
    with running(tmp_path / "a") as server:
        admin = Admin(server)
        net = admin.network("a", 100)
        other = admin.network("b", 200)
        admin.host("h1", "192.0.2.1")
        admin.host("h2", "192.0.2.2")
        p1 = admin.port(net, "h1", ["198.51.100.1"], mac="fa:16:3e:00:00:01")
        admin.port(net, "h2", ["198.51.100.2"])
        admin.port(other, "h2", ["198.51.100.3"])
        admin.report("h1", p1["id"], "ACTIVE")
        before = shown(server.url, server.token, admin.tokens)
        # Online: the server keeps serving (and writing) while the backup reads.
        done = l2pop("store", "backup", tmp_path / "a.bak", "--db", server.db)
        assert done.returncode == 0, done.stderr
        assert "backed up" in done.stdout
        assert shown(server.url, server.token, admin.tokens) == before

    # SQLite -> SQLite.
    (tmp_path / "b").mkdir()
    done = l2pop("store", "restore", tmp_path / "a.bak", "--db", tmp_path / "b" / "l2pop.db")
    assert done.returncode == 0, done.stderr
    with running(tmp_path / "b") as restored:
        assert shown(restored.url, restored.token, admin.tokens) == before
        # The index came along: the MAC is still taken.
        body = {"port": {"network_id": net, "mac_address": "fa:16:3e:00:00:01"}}
        taken = httpx.post(
            f"{restored.url}/v2.0/ports", json=body, headers={"X-Auth-Token": restored.token}
        )
        assert taken.status_code == 409, taken.text
    again = l2pop("store", "restore", tmp_path / "a.bak", "--db", tmp_path / "b" / "l2pop.db")
    assert again.returncode == 2
    assert "empty" in again.stderr

    # SQLite backup -> etcd, then an online etcd backup -> SQLite.
    prefix = "/l2pop-backup-test/"
    etcd = ("--etcd", cluster.endpoints, "--etcd-prefix", prefix)
    done = l2pop("store", "restore", tmp_path / "a.bak", *etcd)
    assert done.returncode == 0, done.stderr
    with running_replicas(tmp_path, cluster.endpoints, 1, prefix=prefix) as (replica,):
        assert shown(replica.url, replica.token, admin.tokens) == before
        done = l2pop("store", "backup", tmp_path / "e.bak", *etcd)
        assert done.returncode == 0, done.stderr
    (tmp_path / "d").mkdir()
    done = l2pop("store", "restore", tmp_path / "e.bak", "--db", tmp_path / "d" / "l2pop.db")
    assert done.returncode == 0, done.stderr
    with running(tmp_path / "d") as last:
        assert shown(last.url, last.token, admin.tokens) == before
