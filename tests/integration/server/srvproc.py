"""Real ``l2pop server`` processes for integration tests (127.0.0.1, free port, tmp db)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

STARTUP_S = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProc:
    workdir: Path
    token: str
    port: int
    process: subprocess.Popen[bytes] | None = None
    extra: tuple[str, ...] = ()  # arguments of every start (a restart keeps them)
    ca_file: Path | None = None  # set: the server runs HTTPS with a certificate from this CA

    @property
    def url(self) -> str:
        return f"{'https' if self.ca_file else 'http'}://127.0.0.1:{self.port}"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=self.ca_file) if self.ca_file else True

    @property
    def db(self) -> Path:
        return self.workdir / "l2pop.db"

    def start(self, extra: Sequence[str] | None = None) -> None:
        if extra is not None:
            self.extra = tuple(extra)
        token_file = self.workdir / "admin.token"
        token_file.write_text(self.token + "\n")
        command = [
            sys.executable, "-c", "from l2pop.cli import main; main()", "server",
            "--db", str(self.db), "--listen", f"127.0.0.1:{self.port}",
            "--admin-token-file", str(token_file), *self.extra,
        ]  # fmt: skip
        log = (self.workdir / "server.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                healthz = httpx.get(f"{self.url}/healthz", timeout=1, verify=self.verify)
                if healthz.status_code == 200:
                    # The port was free when picked; make sure the server answering
                    # is ours (our admin token works, our process still runs).
                    mine = httpx.get(
                        f"{self.url}/v2.0/networks",
                        headers={"X-Auth-Token": self.token},
                        timeout=1,
                        verify=self.verify,
                    )
                    if mine.status_code == 200 and self.process.poll() is None:
                        return
            time.sleep(0.05)
        raise RuntimeError(f"server did not start: {self.log_tail()}")

    def log_tail(self) -> str:
        return (self.workdir / "server.log").read_text(errors="replace")[-3000:]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        process = self.process
        if process is None or process.poll() is not None:
            return 0 if process is None else int(process.returncode)
        process.send_signal(sig)
        try:
            return int(process.wait(timeout=timeout))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)
            raise

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"X-Auth-Token": token or self.token},
            timeout=10,
            verify=self.verify,
        )


@contextlib.contextmanager
def running(
    workdir: Path, extra: Sequence[str] = (), ca_file: Path | None = None
) -> Iterator[ServerProc]:
    """``ca_file``: the server's ``extra`` make it serve HTTPS with a certificate of that CA."""
    server = ServerProc(workdir, "admin-" + os.urandom(8).hex(), free_port(), ca_file=ca_file)
    server.start(extra)
    try:
        yield server
    finally:
        server.stop()


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None
