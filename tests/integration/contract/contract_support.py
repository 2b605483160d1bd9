"""Black-box helpers for the DESIGN §5 contract suite: a real ``l2pop server``, HTTP, watch.

Only the public surface is used (the ``l2pop`` executable, HTTP on 127.0.0.1); the one
exception, ``compact_log``, is marked where it is defined.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "L2POP",
    "SMALL_MAX_BODY",
    "VNI_HIGH",
    "VNI_LOW",
    "Api",
    "ContractServer",
    "Watch",
    "assert_neutron_error",
    "compact_log",
    "free_port",
    "fresh_vni",
    "running_server",
    "unique",
]

# The console script of the venv these tests run in (not a fixed path: a run
# from another checkout must test its own code).
L2POP = Path(sys.executable).with_name("l2pop")
if not L2POP.exists():  # an interpreter outside a venv: the venv next to this checkout
    L2POP = Path(__file__).resolve().parents[3] / ".venv" / "bin" / "l2pop"
STARTUP_S = 20.0
# The special server's flags: a tiny VNI range and body limit (DESIGN --vni-range, --max-body).
VNI_LOW, VNI_HIGH = 5000, 5003
SMALL_MAX_BODY = 4096


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fresh_vni() -> int:
    """An explicit VNI far from every ``--vni-range`` of the suite, almost surely unused."""
    return 100_000 + uuid.uuid4().int % 16_000_000


def unique(prefix: str) -> str:
    """A name no other test of the shared server uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def assert_neutron_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """``status`` with exactly ``{"NeutronError": {"type", "message", "detail"}}``."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"NeutronError"}, body
    error = body["NeutronError"]
    assert set(error) == {"type", "message", "detail"}, error
    for key in ("type", "message"):
        assert isinstance(error[key], str), error
        assert error[key], error
    assert isinstance(error["detail"], str), error
    return dict(error)


class Api:
    """An httpx client with a token and small JSON helpers."""

    def __init__(self, url: str, token: str | None, header: str = "X-Auth-Token") -> None:
        headers = {}
        if token is not None:
            headers = {header: token if header == "X-Auth-Token" else f"Bearer {token}"}
        self.http = httpx.Client(base_url=url, headers=headers, timeout=10)

    def call(self, method: str, path: str, status: int, body: Any = None) -> Any:
        response = self.http.request(method, path, json=body)
        assert response.status_code == status, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    def get(self, path: str, status: int = 200) -> Any:
        return self.call("GET", path, status)

    def post(self, path: str, body: Any, status: int = 201) -> Any:
        return self.call("POST", path, status, body)

    def put(self, path: str, body: Any, status: int = 200) -> Any:
        return self.call("PUT", path, status, body)

    def delete(self, path: str, status: int = 204) -> Any:
        return self.call("DELETE", path, status)

    # Shorthands for the objects most tests need.
    def network(self, **fields: Any) -> dict[str, Any]:
        fields.setdefault("name", unique("net"))
        return dict(self.post("/v2.0/networks", {"network": fields})["network"])

    def port(self, network_id: str, **fields: Any) -> dict[str, Any]:
        fields["network_id"] = network_id
        return dict(self.post("/v2.0/ports", {"port": fields})["port"])

    def host(self, name: str, tunnel_ip: str) -> str:
        answer = self.post("/v1/hosts", {"name": name, "tunnel_ip": tunnel_ip})
        return str(answer["token"])

    def state(self, host: str) -> dict[str, Any]:
        return dict(self.get(f"/v1/hosts/{host}/state"))

    def report(self, host: str, port_id: str, status: str, expect: int = 200) -> Any:
        path = f"/v1/hosts/{host}/ports/{port_id}/status"
        return self.put(path, {"status": status}, expect)

    def close(self) -> None:
        self.http.close()


@dataclass
class ContractServer:
    """One ``l2pop server`` process on 127.0.0.1 with its own db and admin token file."""

    workdir: Path
    extra: Sequence[str] = ()
    default_db: bool = False  # no --db: the server's default ./l2pop.db in its cwd (workdir)
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: "admin-" + os.urandom(8).hex())
    process: subprocess.Popen[bytes] | None = None
    _tail_ip: int = 0
    _clients: list[Api] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db(self) -> Path:
        return self.workdir / ("l2pop.db" if self.default_db else "contract.db")

    def start(self) -> None:
        token_file = self.workdir / "admin.token"
        token_file.write_text(self.token + "\n")
        db = [] if self.default_db else ["--db", str(self.db)]
        command = [
            str(L2POP), "server", *db, "--listen", f"127.0.0.1:{self.port}",
            "--admin-token-file", str(token_file), *self.extra,
        ]  # fmt: skip
        with (self.workdir / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"server did not start: {self.log_tail()}")

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (DESIGN §6: acknowledged writes survive it)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_tail(self) -> str:
        return (self.workdir / "server.log").read_text(errors="replace")[-3000:]

    def admin(self, header: str = "X-Auth-Token") -> Api:
        return self._keep(Api(self.url, self.token, header))

    def as_token(self, token: str | None) -> Api:
        return self._keep(Api(self.url, token))

    def _keep(self, api: Api) -> Api:
        """Clients are closed with the server (``running_server``), tests need not."""
        self._clients.append(api)
        return api

    def close_clients(self) -> None:
        for api in self._clients:
            api.close()
        self._clients.clear()

    def tunnel_ip(self) -> str:
        """A tunnel IP (documentation range 192.0.2.0/24, then 2001:db8::/64) not used yet."""
        self._tail_ip += 1
        if self._tail_ip < 255:
            return f"192.0.2.{self._tail_ip}"
        return f"2001:db8::{self._tail_ip:x}"


@contextlib.contextmanager
def running_server(
    workdir: Path, extra: Sequence[str] = (), default_db: bool = False
) -> Iterator[ContractServer]:
    workdir.mkdir(parents=True, exist_ok=True)
    server = ContractServer(workdir, extra, default_db)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.close_clients()


class Watch:
    """``GET /v1/hosts/{host}/watch?revision=R`` read by a thread, lines parsed and timed."""

    def __init__(self, url: str, host: str, token: str, revision: int) -> None:
        self.lines: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self.status: int | None = None
        self.headers: httpx.Headers | None = None
        self.error_body: bytes = b""
        self.raw_lines: list[str] = []
        self.opened = 0.0
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._client = httpx.Client(base_url=url, headers={"X-Auth-Token": token}, timeout=30)
        self._path = f"/v1/hosts/{host}/watch?revision={revision}"
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise TimeoutError("watch did not answer")

    def _run(self) -> None:
        try:
            with self._client.stream("GET", self._path) as response:
                self.status, self.headers = response.status_code, response.headers
                self.opened = time.monotonic()
                if response.status_code != 200:
                    self.error_body = response.read()
                    return
                self._ready.set()
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    if line:
                        self.raw_lines.append(line)
                        self.lines.put((time.monotonic(), json.loads(line)))
        except httpx.HTTPError:
            pass
        finally:
            self._ready.set()

    def next_line(self, timeout: float) -> tuple[float, dict[str, Any]]:
        return self.lines.get(timeout=timeout)

    def changes_until(self, revision: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Change lines until a line (change or bookmark) at ``revision`` or later arrived."""
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                _, line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line["type"] == "change":
                out.append(line)
            if line["revision"] >= revision:
                return out
        raise TimeoutError(f"no line at revision {revision} in {timeout} s; got {out}")

    def ended(self) -> bool:
        """The server closed the stream (or it failed)."""
        return not self._thread.is_alive()

    def close(self) -> None:
        self._stop.set()
        self._client.close()


def compact_log(db: Path) -> None:
    """GREY BOX: what the server's own compaction leaves after 10,000 more revisions.

    ``--retain`` cannot go below 10,000 (DESIGN: "keeps at least the last 10,000"), and
    10,000 writes over HTTP take ~35 s here, so the retained log is emptied in the stopped
    server's SQLite file instead (the same technique the agent's 410 test uses).
    """
    with sqlite3.connect(db) as conn:
        revision = conn.execute("SELECT value FROM meta WHERE name = 'revision'").fetchone()[0]
        conn.execute("DELETE FROM changes")
        conn.execute("UPDATE meta SET value = ? WHERE name = 'compacted'", (revision,))
