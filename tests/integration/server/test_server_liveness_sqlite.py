"""Host liveness with one SQLite server: alive while the host's watch stream is open."""

from __future__ import annotations

import time

import httpx

from harness.servers import ServerProc, ok


def _alive(server: ServerProc, host: str) -> bool:
    with server.client() as admin:
        hosts = ok(admin.get("/v1/hosts"))["hosts"]
    return bool(next(h["alive"] for h in hosts if h["name"] == host))


def test_a_host_is_alive_while_its_watch_is_open(server: ServerProc) -> None:
    with server.client() as admin:
        token = ok(admin.post("/v1/hosts", json={"name": "h1", "tunnel_ip": "192.0.2.1"}), 201)
    assert _alive(server, "h1") is False
    url = f"{server.url}/v1/hosts/h1/watch?revision=0"
    with httpx.stream("GET", url, headers={"X-Auth-Token": token["token"]}, timeout=10) as s:
        assert s.status_code == 200
        deadline = time.monotonic() + 5
        while not _alive(server, "h1"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert "l2pop_hosts_up 1.0" in httpx.get(f"{server.url}/metrics").text
    deadline = time.monotonic() + 5
    while _alive(server, "h1"):
        assert time.monotonic() < deadline, "closing the stream should take the host down"
        time.sleep(0.05)
