"""A real ``l2pop server`` process on 127.0.0.1, a free port and a temporary database.

The simulator and the benchmarks measure the server as users run it: a
separate process started through the ``l2pop`` command, so its CPU time and
RSS can be read from its pid and nothing of the simulator's own work is
counted against it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from l2pop.secretfile import write_secret

__all__ = ["ServerProcess", "free_port", "running_server"]

STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class ServerProcess:
    url: str
    admin_token: str
    pid: int
    db_path: Path
    log_path: Path
    ca_file: Path | None = None  # HTTPS: the CA of the server's certificate


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_healthy(
    url: str, process: subprocess.Popen[bytes], log_path: Path, ca_file: Path | None
) -> None:
    verify = ssl.create_default_context(cafile=ca_file) if ca_file else True
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"l2pop server exited with {process.returncode}:\n{tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=1.0, verify=verify).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"l2pop server did not answer /healthz within {STARTUP_TIMEOUT_S} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


@contextlib.contextmanager
def running_server(
    workdir: Path, extra_args: Sequence[str] = (), *, tls: bool = False
) -> Iterator[ServerProcess]:
    """Start ``l2pop server`` with its database and logs in ``workdir``; stop it on exit.
    ``tls``: HTTPS, with a certificate from a CA made in ``workdir/pki``."""
    workdir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    token_file = workdir / "admin.token"
    write_secret(token_file, token)
    ca_file = None
    if tls:
        from l2pop.pki import issue, make_ca

        pki = workdir / "pki"
        ca_file = make_ca(pki).cert
        served = issue(pki, "server", ["127.0.0.1"], server=True)
        extra_args = [*extra_args, "--tls-cert", str(served.cert), "--tls-key", str(served.key)]
    db_path = workdir / "l2pop.db"
    log_path = workdir / "server.log"
    listen = f"127.0.0.1:{free_port()}"
    command = [
        sys.executable,
        "-c",
        "from l2pop.cli import main; main()",
        "server",
        # A server on etcd (``--etcd`` in extra_args) takes no --db.
        *([] if "--etcd" in extra_args else ["--db", str(db_path)]),
        "--listen",
        listen,
        "--admin-token-file",
        str(token_file),
        *extra_args,
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        url = f"{'https' if tls else 'http'}://{listen}"
        _wait_healthy(url, process, log_path, ca_file)
        yield ServerProcess(url, token, process.pid, db_path, log_path, ca_file)
    finally:
        _stop(process)
