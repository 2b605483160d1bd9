"""A real ``l2pop server`` process: the thin loop end to end, restart, SIGTERM."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from harness.procs import L2POP
from harness.servers import ServerProc, ok, running
from harness.watchlines import WatchReader


def _setup(api: httpx.Client) -> dict[str, Any]:
    net_a = ok(api.post("/v2.0/networks", json={"network": {"name": "a"}}), 201)["network"]
    net_b = ok(api.post("/v2.0/networks", json={"network": {"name": "b"}}), 201)["network"]
    tokens = {}
    for i in (1, 2, 3):
        body = {"name": f"h{i}", "tunnel_ip": f"192.0.2.{i}"}
        tokens[f"h{i}"] = ok(api.post("/v1/hosts", json=body), 201)["token"]
    ports = {}
    for host, net, ip in (
        ("h1", net_a, "10.0.0.1"),
        ("h2", net_a, "10.0.0.2"),
        ("h3", net_b, "10.1.0.3"),
    ):
        body = {
            "port": {
                "network_id": net["id"],
                "fixed_ips": [{"ip_address": ip}],
                "binding:host_id": host,
            }
        }
        ports[host] = ok(api.post("/v2.0/ports", json=body), 201)["port"]
    return {"tokens": tokens, "ports": ports, "a": net_a, "b": net_b}  # fmt: skip


def _report(server: ServerProc, token: str, host: str, port_id: str, status: str) -> Any:
    with server.client(token) as agent:
        return ok(agent.put(f"/v1/hosts/{host}/ports/{port_id}/status", json={"status": status}))


def test_activation_reaches_the_peer_on_the_network_and_nobody_else(server: ServerProc) -> None:
    with server.client() as api:
        world = _setup(api)
        start = ok(api.get("/healthz"))["revision"]
    tokens, ports = world["tokens"], world["ports"]
    watch_h1 = WatchReader(server.url, "h1", tokens["h1"], start)
    watch_h3 = WatchReader(server.url, "h3", tokens["h3"], start)
    try:
        answer = _report(server, tokens["h2"], "h2", ports["h2"]["id"], "ACTIVE")
        assert answer["port"]["status"] == "ACTIVE"
        with server.client() as api:
            now = ok(api.get("/healthz"))["revision"]
        [change] = watch_h1.changes_until(now)
        added = change["networks"][world["a"]["id"]]["add"]
        assert added["flood"] == ["192.0.2.2"]
        assert added["neigh"] == [{"ip": "10.0.0.2", "mac": ports["h2"]["mac_address"]}]
        assert watch_h3.changes_until(now, timeout=8) == []
    finally:
        watch_h1.close()
        watch_h3.close()


def test_state_and_watch_survive_a_restart(server: ServerProc) -> None:
    with server.client() as api:
        world = _setup(api)
        start = ok(api.get("/healthz"))["revision"]
    tokens, ports = world["tokens"], world["ports"]
    _report(server, tokens["h2"], "h2", ports["h2"]["id"], "ACTIVE")
    with server.client(tokens["h1"]) as agent:
        before = ok(agent.get("/v1/hosts/h1/state"))
    assert server.stop(signal.SIGTERM) == 0
    server.start()
    with server.client(tokens["h1"]) as agent:
        after = ok(agent.get("/v1/hosts/h1/state"))
    assert after == before
    watch = WatchReader(server.url, "h1", tokens["h1"], start)
    try:
        [change] = watch.changes_until(before["revision"])
        assert change["networks"][world["a"]["id"]]["add"]["flood"] == ["192.0.2.2"]
    finally:
        watch.close()


def test_sigterm_ends_open_watch_streams_quickly(server: ServerProc) -> None:
    with server.client() as api:
        token = ok(api.post("/v1/hosts", json={"name": "h1", "tunnel_ip": "192.0.2.1"}), 201)
    watch = WatchReader(server.url, "h1", token["token"], 0)
    started = time.monotonic()
    try:
        assert server.stop(signal.SIGTERM) == 0
    finally:
        watch.close()
    assert time.monotonic() - started < 4.0


def test_without_a_token_file_the_server_writes_one_0600_next_to_the_db(tmp_path: Path) -> None:
    from harness.net import free_port

    port = free_port()
    command = [*L2POP, "server",
               "--db", str(tmp_path / "l2pop.db"), "--listen", f"127.0.0.1:{port}"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        token_file = tmp_path / "admin.token"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        assert token_file.stat().st_mode & 0o777 == 0o600
        headers = {"X-Auth-Token": token_file.read_text().strip()}
        answer = httpx.get(f"http://127.0.0.1:{port}/v2.0/networks", headers=headers)
        assert answer.status_code == 200
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert str(token_file) in err.decode()


def test_the_removed_stream_writer_flags_are_accepted_and_ignored(tmp_path: Path) -> None:
    # Service files written for the stream writer process keep working.
    with running(tmp_path, ("--no-stream-writer",)) as server:
        assert "--stream-writer/--no-stream-writer is ignored" in server.log_tail()


def test_an_agent_endpoint_is_taken_at_the_tcp_peer_not_a_forwarded_address(
    server: ServerProc,
) -> None:
    """The server fetches a reported endpoint (the explain panel): a host token on the
    server's own machine must not pass another address off as its own."""
    with server.client() as api:
        token = ok(api.post("/v1/hosts", json={"name": "h1", "tunnel_ip": "192.0.2.1"}), 201)
    with server.client(token["token"]) as agent:
        forged = {"X-Forwarded-For": "169.254.169.254"}
        body = {"revision": 0, "endpoint": "http://169.254.169.254/latest"}
        answer = agent.put("/v1/hosts/h1/agent", json=body, headers=forged)
        assert answer.status_code == 400, answer.text
        assert "127.0.0.1" in answer.json()["NeutronError"]["message"]
        body["endpoint"] = "http://127.0.0.1:9100"  # the real peer: taken
        assert (
            ok(agent.put("/v1/hosts/h1/agent", json=body))["agent"]["endpoint"] == body["endpoint"]
        )


def test_sigterm_ends_open_fabric_view_streams_quickly(server: ServerProc) -> None:
    """An open browser page (its Server-Sent Events) does not hold the stop up to the
    graceful timeout."""
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        assert browser.post("/ui/login", data={"token": server.token}).status_code in (200, 303)
        with browser.stream("GET", "/ui/api/events") as events:
            assert events.status_code == 200
            first = next(events.iter_lines())
            assert first.startswith("retry:") or first.startswith("event:")
            started = time.monotonic()
            assert server.stop(signal.SIGTERM) == 0
            took = time.monotonic() - started
    print(f"stopped after {took:.2f} s")
    assert took < 3.0, f"stopped after {took:.1f} s"
