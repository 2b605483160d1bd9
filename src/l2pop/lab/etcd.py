"""A real etcd cluster on 127.0.0.1 (tests, benchmarks): free ports, temporary data dirs.

Members are Debian's ``/usr/bin/etcd`` (package etcd-server) processes; a
member can be killed with SIGKILL and started again on its data dir; the
whole cluster is always stopped by the context manager, also on failure.
"""

from __future__ import annotations

__all__ = ["ETCD", "EtcdCluster", "Member", "Tls", "etcd_cluster", "free_ports", "require_etcd"]

import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
from aetcd import rpc

from l2pop.lab.shell import LabError

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
STARTUP_S = 20.0


def free_ports(count: int) -> list[int]:
    """Distinct free ports (held open together, so they cannot repeat)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass(frozen=True)
class Tls:
    """PEM files: the CA, and one certificate + key used by servers and clients."""

    ca: Path
    cert: Path
    key: Path


@dataclass
class Member:
    name: str
    client_port: int
    peer_port: int
    data_dir: Path
    tls: Tls | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def client_url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def healthy(self) -> bool:
        verify: ssl.SSLContext | bool = True
        if self.tls is not None:
            verify = ssl.create_default_context(cafile=self.tls.ca)
            verify.load_cert_chain(self.tls.cert, self.tls.key)
        with contextlib.suppress(httpx.HTTPError, ValueError):
            answer = httpx.get(f"{self.client_url}/health", timeout=1, verify=verify)
            return bool(answer.status_code == 200 and answer.json().get("health") == "true")
        return False


@dataclass
class EtcdCluster:
    workdir: Path
    size: int = 3
    tls: Tls | None = None
    members: list[Member] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        ports = free_ports(2 * self.size)
        token = "l2pop-test-" + os.urandom(4).hex()
        self._token = token
        for i in range(self.size):
            name = f"m{i}"
            data = self.workdir / f"etcd-{name}"
            self.members.append(Member(name, ports[2 * i], ports[2 * i + 1], data, self.tls))

    @property
    def endpoints(self) -> str:
        return ",".join(m.client_url.removeprefix("http://") for m in self.members)

    def _command(self, member: Member) -> list[str]:
        initial = ",".join(f"{m.name}={m.peer_url}" for m in self.members)
        return [
            ETCD, "--name", member.name, "--data-dir", str(member.data_dir),
            "--listen-client-urls", member.client_url,
            "--advertise-client-urls", member.client_url,
            "--listen-peer-urls", member.peer_url,
            "--initial-advertise-peer-urls", member.peer_url,
            "--initial-cluster", initial, "--initial-cluster-token", self._token,
            "--initial-cluster-state", "new",
            # Fast elections for tests; big transactions (a host's ports in one).
            "--heartbeat-interval", "50", "--election-timeout", "500",
            "--max-txn-ops", "10000",
            *self._tls_args(),
        ]  # fmt: skip

    def _tls_args(self) -> list[str]:
        if self.tls is None:
            return []
        return [
            "--cert-file", str(self.tls.cert), "--key-file", str(self.tls.key),
            "--trusted-ca-file", str(self.tls.ca), "--client-cert-auth",
        ]  # fmt: skip

    def start_member(self, index: int) -> None:
        member = self.members[index]
        log = (self.workdir / f"etcd-{member.name}.log").open("ab")
        member.process = subprocess.Popen(
            self._command(member), stdout=log, stderr=subprocess.STDOUT
        )

    def start(self) -> None:
        for index in range(self.size):
            self.start_member(index)
        self.wait_healthy()

    def wait_healthy(self, members: list[int] | None = None) -> None:
        chosen = [self.members[i] for i in (members or range(self.size))]
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            for member in chosen:
                if member.process is not None and member.process.poll() is not None:
                    raise RuntimeError(f"etcd {member.name} exited: {self.log_tail(member)}")
            if all(m.healthy() for m in chosen):
                return
            time.sleep(0.1)
        raise RuntimeError(f"etcd cluster not healthy: {self.log_tail(chosen[0])}")

    def leader(self) -> int:
        """Index of the member that is the raft leader now."""
        for index, member in enumerate(self.members):
            if not member.running:
                continue
            target = f"127.0.0.1:{member.client_port}"
            with contextlib.suppress(grpc.RpcError), grpc.insecure_channel(target) as channel:
                status = rpc.MaintenanceStub(channel).Status(rpc.StatusRequest(), timeout=2)
                if status.leader == status.header.member_id:
                    return index
        raise RuntimeError("no member is the leader")

    def kill(self, index: int, sig: int = signal.SIGKILL) -> None:
        member = self.members[index]
        if member.process is not None and member.process.poll() is None:
            member.process.send_signal(sig)
            member.process.wait(timeout=10)

    def stop(self) -> None:
        for index in range(self.size):
            self.kill(index, signal.SIGTERM)

    def log_tail(self, member: Member) -> str:
        path = self.workdir / f"etcd-{member.name}.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""


def require_etcd() -> None:
    if not os.path.exists(ETCD):
        raise LabError("etcd is not installed (Debian package etcd-server; scripts/setup.sh)")


@contextlib.contextmanager
def etcd_cluster(workdir: Path, size: int = 3, tls: Tls | None = None) -> Iterator[EtcdCluster]:
    """A started cluster, stopped (every member) whatever happens."""
    require_etcd()
    cluster = EtcdCluster(workdir, size, tls)
    try:
        cluster.start()
        yield cluster
    finally:
        for index in range(cluster.size):
            with contextlib.suppress(Exception):
                cluster.kill(index, signal.SIGKILL)
