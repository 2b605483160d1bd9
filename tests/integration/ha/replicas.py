"""Real ``l2pop server --etcd`` replica processes on 127.0.0.1 (free ports)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from etcdcluster import free_ports

STARTUP_S = 20.0
JSON = dict[str, Any]


@dataclass
class Replica:
    """One server replica; ``url`` and ``token`` as the agent tests' Admin expects."""

    workdir: Path
    endpoints: str
    prefix: str
    token: str
    port: int = field(default_factory=lambda: free_ports(1)[0])
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, extra: Sequence[str] = ()) -> None:
        self.spawn(extra)
        self.wait_ready()

    def spawn(self, extra: Sequence[str] = ()) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        token_file = self.workdir / "admin.token"
        token_file.write_text(self.token + "\n")
        command = [
            sys.executable, "-c", "from l2pop.cli import main; main()", "server",
            "--etcd", self.endpoints, "--etcd-prefix", self.prefix,
            "--listen", f"127.0.0.1:{self.port}", "--admin-token-file", str(token_file),
            *extra,
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
                raise RuntimeError(f"replica exited: {self.log_tail()}")
            # Our token, not only /healthz: a foreign server that took the port in
            # between would answer /healthz too.
            if self.healthz() == 200 and self.answers_as_admin():
                return
            time.sleep(0.05)
        raise RuntimeError(f"replica did not start: {self.log_tail()}")

    def healthz(self) -> int:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code
        return 0

    def answers_as_admin(self) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            headers = {"X-Auth-Token": self.token}
            return httpx.get(f"{self.url}/v1/hosts", headers=headers, timeout=2).status_code == 200
        return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def log_tail(self) -> str:
        path = self.workdir / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def client(self, timeout: float = 10.0) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"X-Auth-Token": self.token}, timeout=timeout
        )


@contextlib.contextmanager
def running_replicas(
    workdir: Path,
    endpoints: str,
    count: int = 2,
    *,
    prefix: str | None = None,
    token: str | None = None,
) -> Iterator[list[Replica]]:
    """``count`` replicas on one prefix (fresh by default) with one admin token; always
    stopped."""
    prefix = prefix or f"/l2pop-ha-{os.urandom(3).hex()}/"
    token = token or "admin-" + os.urandom(8).hex()
    replicas = [Replica(workdir / f"replica{i}", endpoints, prefix, token) for i in range(count)]
    try:
        for replica in replicas:  # started side by side, then awaited
            replica.spawn()
        for replica in replicas:
            replica.wait_ready()
        yield replicas
    finally:
        for replica in replicas:
            replica.stop(signal.SIGKILL)
