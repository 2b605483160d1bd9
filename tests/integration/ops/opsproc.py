"""Real ``l2pop`` processes for the operations tests (127.0.0.1, free ports)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

L2POP = [sys.executable, "-c", "from l2pop.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Proc:
    process: subprocess.Popen[bytes]
    log: Path
    url: str = ""
    token: str = ""

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        raise


@contextlib.contextmanager
def server(workdir: Path, extra: Sequence[str] = ()) -> Iterator[Proc]:
    """A server on a fresh SQLite database; stopped (SIGTERM) at the end."""
    workdir.mkdir(parents=True, exist_ok=True)
    port, token = free_port(), "admin-" + os.urandom(8).hex()
    (workdir / "admin.token").write_text(token + "\n")
    log = workdir / "server.log"
    command = [*L2POP, "server", "--db", str(workdir / "l2pop.db"),
               "--listen", f"127.0.0.1:{port}",
               "--admin-token-file", str(workdir / "admin.token"), *extra]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    proc = Proc(process, log, f"http://127.0.0.1:{port}", token)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, proc.log_text()[-3000:]
            assert time.monotonic() < deadline, proc.log_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{proc.url}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.05)
        yield proc
    finally:
        stop(process)
