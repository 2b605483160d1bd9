"""Re-run the adversarial probe of issue #17 against a real ``l2pop server``.

    .venv/bin/python bench/probe_hardening.py [--src DIR] [--only NAME,...]

``--src`` runs the server from another checkout's ``src`` (e.g. the commit
before the fixes) with this environment. Each attack gets a fresh server and
database on 127.0.0.1 (default flags), as the probe had; the results are one
JSON object on stdout. Numbers: RSS from /proc (MiB), server CPU from
/proc/PID/stat (user + system, s), wall delays (s).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

TOKEN = "probe-admin-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, src: str | None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="l2pop-probe-"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (self.dir / "admin.token").write_text(TOKEN + "\n")
        env = dict(os.environ)
        if src:
            env["PYTHONPATH"] = src
        command = [sys.executable, "-c", "from l2pop.cli import main; main()", "server",
                   "--db", str(self.dir / "l2pop.db"), "--listen", f"127.0.0.1:{self.port}",
                   "--admin-token-file", str(self.dir / "admin.token")]  # fmt: skip
        log = (self.dir / "server.log").open("wb")
        self.proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError("server did not start")

    def api(self, token: str = TOKEN) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-Auth-Token": token}, timeout=30)

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
        return float("nan")

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@contextlib.contextmanager
def server(src: str | None) -> Iterator[Server]:
    srv = Server(src)
    try:
        yield srv
    finally:
        srv.stop()


def store_kill(srv: Server) -> dict[str, Any]:
    body = b'{"network": {"name": "\\ud800"}}'
    started = time.monotonic()
    bad = httpx.post(srv.url + "/v2.0/networks", content=body,
                     headers={"X-Auth-Token": TOKEN}, timeout=30)  # fmt: skip
    took = time.monotonic() - started
    with srv.api() as api:
        after = api.post("/v2.0/networks", json={"network": {"name": "ok"}}).status_code
        health = api.get("/healthz").status_code
    return {"lone_surrogate": bad.status_code, "answer_s": round(took, 3),
            "next_write": after, "healthz": health}  # fmt: skip


def header_flood(srv: Server) -> dict[str, Any]:
    rss0 = srv.rss_mib()
    peak = rss0
    sock = socket.create_connection(("127.0.0.1", srv.port))
    line = b"X-A: " + b"a" * 1000 + b"\r\n"
    sent = 0
    answer = b""
    with contextlib.suppress(OSError):
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        while sent < 300 * 1024 * 1024:
            sock.sendall(line * 256)
            sent += len(line) * 256
            if sent % (16 * 1024 * 1024) < len(line) * 256:
                peak = max(peak, srv.rss_mib())
    with contextlib.suppress(OSError):
        sock.settimeout(2)
        answer = sock.recv(200)
    sock.close()
    peak = max(peak, srv.rss_mib())
    time.sleep(2)
    return {"sent_mib": round(sent / 2**20, 1), "answer": answer[:40].decode(errors="replace"),
            "rss_before": rss0, "rss_peak": peak, "rss_after_close": srv.rss_mib()}  # fmt: skip


def _open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1 << 16) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


def slow_and_silent(srv: Server) -> dict[str, Any]:
    silent = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(20)]
    slow = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(20)]
    stop = threading.Event()

    def drip(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            for byte in b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 60:
                if stop.wait(1):
                    return
                sock.send(bytes([byte]))

    for sock in slow:
        threading.Thread(target=drip, args=(sock,), daemon=True).start()
    short = socket.create_connection(("127.0.0.1", srv.port))
    short.sendall(b"POST /v2.0/networks HTTP/1.1\r\nHost: x\r\nX-Auth-Token: " + TOKEN.encode()
                  + b"\r\nContent-Length: 100\r\n\r\n{\"network\"")  # fmt: skip
    started = time.monotonic()
    short_closed = None
    while time.monotonic() - started < 25:
        if short_closed is None and not _open(short):
            short_closed = round(time.monotonic() - started, 1)
        time.sleep(0.5)
    result = {"silent_open_after_25s": sum(_open(s) for s in silent),
              "slow_open_after_25s": sum(_open(s) for s in slow),
              "short_body_closed_after_s": short_closed}  # fmt: skip
    stop.set()
    for sock in [*silent, *slow, short]:
        sock.close()
    return result


def fd_cap(srv: Server) -> dict[str, Any]:
    resource.prlimit(srv.proc.pid, resource.RLIMIT_NOFILE, (256, 256))
    silent = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(260)]
    time.sleep(0.5)
    try:
        with srv.api() as api:
            status: Any = api.post("/v2.0/networks", json={"network": {}}).status_code
    except httpx.HTTPError as exc:
        status = type(exc).__name__
    for sock in silent:
        sock.close()
    return {"new_request_with_260_silent_at_256_fds": status}


def _flip(srv: Server, host: str, ports: list[str], count: int) -> None:
    def run(port_id: str) -> None:
        with srv.api() as admin:
            for i in range(count // len(ports)):
                status = "ACTIVE" if i % 2 == 0 else "DOWN"
                admin.put(f"/v1/hosts/{host}/ports/{port_id}/status", json={"status": status})

    threads = [threading.Thread(target=run, args=(p,)) for p in ports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _until_bookmark(srv: Server, host: str, token: str, revision: int) -> float:
    started = time.monotonic()
    with (
        srv.api(token) as client,
        client.stream("GET", f"/v1/hosts/{host}/watch?revision={revision}") as watch,
    ):
        for line in watch.iter_lines():
            if '"bookmark"' in line:
                return time.monotonic() - started
    return float("nan")


def far_behind(srv: Server) -> dict[str, Any]:
    with srv.api() as api:
        net = api.post("/v2.0/networks", json={"network": {}}).json()["network"]
        quiet = api.post("/v1/hosts", json={"name": "quiet", "tunnel_ip": "192.0.2.70"}).json()
        busy = api.post("/v1/hosts", json={"name": "busy", "tunnel_ip": "192.0.2.71"}).json()
        body = {"port": {"network_id": net["id"], "binding:host_id": "busy"}}
        ports = [api.post("/v2.0/ports", json=body).json()["port"]["id"] for _ in range(8)]
        start = api.get("/healthz").json()["revision"]
    _flip(srv, "busy", ports, 8000)
    cpu = srv.cpu_s()
    one = _until_bookmark(srv, "quiet", quiet["token"], start)
    one_cpu = srv.cpu_s() - cpu
    # Ten at once, while another host's line latency is measured.
    delays: list[float] = []
    peak = [srv.rss_mib()]
    done = threading.Event()

    def other() -> None:
        with srv.api() as admin, srv.api(busy["token"]) as agent:
            head = admin.get("/healthz").json()["revision"]
            with agent.stream("GET", f"/v1/hosts/busy/watch?revision={head}") as watch:
                lines = watch.iter_lines()
                next(lines)  # its bookmark
                i = 0
                while not done.is_set():
                    status = "ACTIVE" if i % 2 == 0 else "DOWN"
                    i += 1
                    sent = time.monotonic()
                    path = f"/v1/hosts/busy/ports/{ports[0]}/status"
                    admin.put(path, json={"status": status})
                    for line in lines:
                        if '"change"' in line:
                            delays.append(time.monotonic() - sent)
                            break
                    peak[0] = max(peak[0], srv.rss_mib())
                    time.sleep(0.2)

    watcher = threading.Thread(target=other)
    watcher.start()
    time.sleep(1)
    cpu = srv.cpu_s()
    waits: list[float] = []
    threads = [threading.Thread(target=lambda: waits.append(
        _until_bookmark(srv, "quiet", quiet["token"], start))) for _ in range(10)]  # fmt: skip
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ten_wall = time.monotonic() - began
    ten_cpu = srv.cpu_s() - cpu
    time.sleep(1)
    done.set()
    watcher.join()
    return {"revisions_behind": 8000, "one_watch_cpu_s": round(one_cpu, 3),
            "one_watch_to_bookmark_s": round(one, 3), "ten_watches_cpu_s": round(ten_cpu, 3),
            "ten_watches_wall_s": round(ten_wall, 3),
            "other_host_line_delay_max_s": round(max(delays, default=float("nan")), 3),
            "rss_peak": peak[0]}  # fmt: skip


def rate(srv: Server) -> dict[str, Any]:
    with srv.api() as api:
        net = api.post("/v2.0/networks", json={"network": {}}).json()["network"]
        host = api.post("/v1/hosts", json={"name": "noisy", "tunnel_ip": "192.0.2.80"}).json()
        body = {"port": {"network_id": net["id"], "binding:host_id": "noisy"}}
        ports = [api.post("/v2.0/ports", json=body).json()["port"]["id"] for _ in range(16)]
        start = api.get("/healthz").json()["revision"]
    counts = {"ok": 0, "429": 0, "other": 0}
    stop = time.monotonic() + 40
    lock = threading.Lock()

    def run(port_id: str) -> None:
        with srv.api(host["token"]) as agent:
            i = 0
            while time.monotonic() < stop:
                status = "ACTIVE" if i % 2 == 0 else "DOWN"
                answer = agent.put(f"/v1/hosts/noisy/ports/{port_id}/status",
                                   json={"status": status})  # fmt: skip
                key = {200: "ok", 429: "429"}.get(answer.status_code, "other")
                with lock:
                    counts[key] += 1
                if answer.status_code == 200:
                    i += 1
                else:  # the agent obeys Retry-After
                    time.sleep(float(answer.headers.get("retry-after", "1")))

    threads = [threading.Thread(target=run, args=(p,)) for p in ports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with srv.api() as api:
        gained = api.get("/healthz").json()["revision"] - start
    return {"seconds": 40, "connections": 16, **counts, "revisions": gained}


ATTACKS: dict[str, Callable[[Server], dict[str, Any]]] = {
    "store_kill": store_kill,
    "header_flood": header_flood,
    "slow_and_silent": slow_and_silent,
    "fd_cap": fd_cap,
    "far_behind": far_behind,
    "rate": rate,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--src", help="run the server from this src directory")
    parser.add_argument("--only", help="comma-separated attacks", default=",".join(ATTACKS))
    args = parser.parse_args()
    results: dict[str, Any] = {}
    for name in args.only.split(","):
        with server(args.src) as srv:
            try:
                results[name] = ATTACKS[name](srv)
            except Exception as exc:  # the probe reports, it does not stop
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        print(name, json.dumps(results[name]), file=sys.stderr, flush=True)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
