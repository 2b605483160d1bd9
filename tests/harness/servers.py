"""Real ``l2pop server`` processes on 127.0.0.1: SQLite in a work directory, or
replicas sharing an etcd prefix. Every start waits until *this* process answers
with *its* admin token (a port picked free may be taken by someone else)."""

from __future__ import annotations

import contextlib
import os
import signal
import ssl
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness.net import free_port
from harness.procs import L2POP, stop_process

__all__ = [
    "Replica",
    "ServerProc",
    "etcd_store",
    "new_admin_token",
    "ok",
    "running",
    "running_replicas",
]

STARTUP_S = 20.0


def new_admin_token() -> str:
    return "admin-" + os.urandom(8).hex()


def etcd_store(endpoints: str, prefix: str) -> tuple[str, ...]:
    """The store arguments of a replica on ``prefix`` of the etcd at ``endpoints``."""
    return ("--etcd", endpoints, "--etcd-prefix", prefix)


@dataclass
class ServerProc:
    """One server process; ``stop``/``start`` keep its store (and the arguments given)."""

    workdir: Path
    token: str = field(default_factory=new_admin_token)
    port: int = field(default_factory=free_port)
    store: tuple[str, ...] = ()  # () is SQLite at ``db``
    process: subprocess.Popen[bytes] | None = None
    extra: tuple[str, ...] = ()  # arguments of every start (a restart keeps them)
    ca_file: Path | None = None  # set: the server runs HTTPS with a certificate from this CA
    address: str = "127.0.0.1"  # any of 127.0.0.0/8 (a test that needs fixed URLs)

    @property
    def url(self) -> str:
        return f"{'https' if self.ca_file else 'http'}://{self.address}:{self.port}"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=self.ca_file) if self.ca_file else True

    @property
    def db(self) -> Path:
        return self.workdir / "l2pop.db"

    def start(self, extra: Sequence[str] | None = None) -> None:
        self.spawn(extra)
        self.wait_ready()

    def spawn(self, extra: Sequence[str] | None = None) -> None:
        """Start the process without waiting for it (replicas start side by side)."""
        if extra is not None:
            self.extra = tuple(extra)
        self.workdir.mkdir(parents=True, exist_ok=True)
        token_file = self.workdir / "admin.token"
        token_file.write_text(self.token + "\n")
        command = [
            *L2POP, "server",
            *(self.store or ("--db", str(self.db))),
            "--listen", f"{self.address}:{self.port}", "--admin-token-file", str(token_file),
            *self.extra,
        ]  # fmt: skip
        with (self.workdir / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
            )

    def wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_tail()}")
            # Our token, not only /healthz: a foreign server that took the port in
            # between would answer /healthz too.
            if self.healthz() == 200 and self.answers_as_admin() and self.process.poll() is None:
                return
            time.sleep(0.05)
        raise RuntimeError(f"server did not start: {self.log_tail()}")

    def healthz(self) -> int:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{self.url}/healthz", timeout=2, verify=self.verify).status_code
        return 0

    def answers_as_admin(self) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            headers = {"X-Auth-Token": self.token}
            answer = httpx.get(
                f"{self.url}/v1/hosts", headers=headers, timeout=2, verify=self.verify
            )
            return answer.status_code == 200
        return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Signal the process and wait; its exit code (killed after ``timeout``)."""
        return 0 if self.process is None else stop_process(self.process, sig, timeout)

    def log_text(self) -> str:
        path = self.workdir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tail(self) -> str:
        return self.log_text()[-3000:]

    def client(self, token: str | None = None, timeout: float = 10.0) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"X-Auth-Token": token or self.token},
            timeout=timeout,
            verify=self.verify,
        )


class Replica(ServerProc):
    """A server on ``prefix`` of the etcd at ``endpoints`` (one of several sharing it)."""

    def __init__(self, workdir: Path, endpoints: str, prefix: str, token: str) -> None:
        super().__init__(workdir, token=token, store=etcd_store(endpoints, prefix))
        self.endpoints = endpoints
        self.prefix = prefix


@contextlib.contextmanager
def running(
    workdir: Path, extra: Sequence[str] = (), ca_file: Path | None = None
) -> Iterator[ServerProc]:
    """A SQLite server in ``workdir``; always stopped. ``ca_file``: ``extra`` make it
    serve HTTPS with a certificate of that CA."""
    server = ServerProc(workdir, ca_file=ca_file)
    server.start(extra)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def running_replicas(
    workdir: Path,
    endpoints: str,
    count: int = 2,
    *,
    prefix: str | None = None,
    token: str | None = None,
    listen: Sequence[tuple[str, int]] = (),
) -> Iterator[list[Replica]]:
    """``count`` replicas on one prefix (fresh by default) with one admin token; always
    stopped. ``listen``: fixed (address, port) per replica instead of free ports."""
    prefix = prefix or f"/l2pop-ha-{os.urandom(3).hex()}/"
    token = token or new_admin_token()
    replicas = [Replica(workdir / f"replica{i}", endpoints, prefix, token) for i in range(count)]
    for replica, (address, port) in zip(replicas, listen, strict=False):
        replica.address, replica.port = address, port
    try:
        for replica in replicas:  # started side by side, then awaited
            replica.spawn()
        for replica in replicas:
            replica.wait_ready()
        yield replicas
    finally:
        for replica in replicas:
            replica.stop(signal.SIGKILL)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None
