"""``l2pop server --etcd https://... --etcd-ca/--etcd-cert/--etcd-key --etcd-user
--etcd-password-file`` against a real etcd with client-certificate TLS and auth on."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from aetcd import rpc

from harness.etcd import EtcdCluster, Tls, etcd_cluster
from harness.servers import Replica

pytestmark = pytest.mark.etcd

PASSWORD = "s3cret-for-tests"


def make_tls(workdir: Path) -> Tls:
    """A throwaway CA and one certificate for 127.0.0.1 (server and client use)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    workdir.mkdir(parents=True, exist_ok=True)
    ca, ca_key = workdir / "ca.pem", workdir / "ca.key"
    cert, key, csr = workdir / "node.pem", workdir / "node.key", workdir / "node.csr"
    ext = workdir / "ext.cnf"
    ext.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for command in (
        ["openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "1",
         "-subj", "/CN=l2pop-test-ca"],
        ["openssl", "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert, "-days", "1", "-extfile", ext],
    ):  # fmt: skip
        subprocess.run([str(c) for c in command], check=True, capture_output=True, timeout=30)
    return Tls(ca, cert, key)


def enable_auth(cluster: EtcdCluster, tls: Tls) -> None:
    """root user with the root role, then auth on (what etcdctl would do)."""
    credentials = grpc.ssl_channel_credentials(
        tls.ca.read_bytes(), tls.key.read_bytes(), tls.cert.read_bytes()
    )
    target = cluster.endpoints.split(",")[0].removeprefix("https://")
    with grpc.secure_channel(target, credentials) as channel:
        auth = rpc.AuthStub(channel)
        auth.RoleAdd(rpc.AuthRoleAddRequest(name="root"), timeout=5)
        auth.UserAdd(rpc.AuthUserAddRequest(name="root", password=PASSWORD), timeout=5)
        auth.UserGrantRole(rpc.AuthUserGrantRoleRequest(user="root", role="root"), timeout=5)
        auth.AuthEnable(rpc.AuthEnableRequest(), timeout=5)


@pytest.fixture
def secure(tmp_path: Path) -> Iterator[tuple[EtcdCluster, Tls]]:
    tls = make_tls(tmp_path / "pki")
    with etcd_cluster(tmp_path / "etcd", size=1, tls=tls) as cluster:
        enable_auth(cluster, tls)
        yield cluster, tls


def secure_args(tls: Tls, password_file: Path) -> list[str]:
    return [
        "--etcd-ca", str(tls.ca), "--etcd-cert", str(tls.cert), "--etcd-key", str(tls.key),
        "--etcd-user", "root", "--etcd-password-file", str(password_file),
    ]  # fmt: skip


def test_a_replica_with_tls_and_credentials_serves_and_writes(
    tmp_path: Path, secure: tuple[EtcdCluster, Tls]
) -> None:
    cluster, tls = secure
    password = tmp_path / "etcd.password"
    password.write_text(PASSWORD + "\n")
    replica = Replica(tmp_path / "r", cluster.endpoints, "/secure/", "admin-token-secure")
    replica.start(secure_args(tls, password))
    try:
        body = {"network": {"name": "n", "provider:segmentation_id": 42}}
        with replica.client() as client:
            answer = client.post("/v2.0/networks", json=body)
            assert answer.status_code == 201, answer.text
            assert len(client.get("/v2.0/networks").json()["networks"]) == 1
    finally:
        replica.stop()


def test_a_wrong_password_stops_the_replica_at_start_with_a_clear_error(
    tmp_path: Path, secure: tuple[EtcdCluster, Tls]
) -> None:
    cluster, tls = secure
    password = tmp_path / "etcd.password"
    password.write_text("not-the-password\n")
    replica = Replica(tmp_path / "r", cluster.endpoints, "/secure/", "admin-token-secure")
    with pytest.raises(RuntimeError, match="authentication failed"):
        replica.start(secure_args(tls, password))
    replica.stop()
