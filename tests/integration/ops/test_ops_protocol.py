"""``L2pop-Protocol`` on real processes: the server serves one version older and newer,
refuses a wider skew with 426 (NeutronError naming both versions, a log line, a metric);
no header is the oldest version; the agent sends its version."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from pathlib import Path

import httpx

from harness.procs import L2POP, stop_process
from harness.servers import running
from l2pop.protocol import PROTOCOL_VERSION


def get(url: str, token: str, version: str | None) -> httpx.Response:
    headers = {"X-Auth-Token": token}
    if version is not None:
        headers["L2pop-Protocol"] = version
    return httpx.get(url, headers=headers, timeout=10)


def test_the_server_serves_a_skew_of_one_and_refuses_more(tmp_path: Path) -> None:
    with running(tmp_path) as srv:
        made = httpx.post(
            f"{srv.url}/v1/hosts",
            json={"name": "h1", "tunnel_ip": "192.0.2.1"},
            headers={"X-Auth-Token": srv.token},
        )
        assert made.status_code == 201, made.text
        host_token = made.json()["token"]
        served = {}
        for version in (None, str(PROTOCOL_VERSION - 1), str(PROTOCOL_VERSION),
                        str(PROTOCOL_VERSION + 1), "0", str(PROTOCOL_VERSION + 2)):  # fmt: skip
            for path in ("/v1/hosts/h1/state", "/v1/hosts/h1/watch?revision=0"):
                if path.endswith("revision=0"):
                    with httpx.stream(
                        "GET", srv.url + path, timeout=10,
                        headers={"X-Auth-Token": host_token,
                                 **({"L2pop-Protocol": version} if version else {})},
                    ) as answer:  # fmt: skip
                        status = answer.status_code
                        header = answer.headers.get("L2pop-Protocol")
                        body = answer.read() if status != 200 else b""
                else:
                    answer = get(srv.url + path, host_token, version)
                    status, header, body = (
                        answer.status_code,
                        answer.headers.get("L2pop-Protocol"),
                        answer.content,
                    )
                # Every answer, served or refused, says the server's version.
                assert header == str(PROTOCOL_VERSION), (version, path)
                served[(version, path.split("?")[0])] = status
                if status == 426:
                    error = json.loads(body)["NeutronError"]
                    assert error["type"] == "ProtocolVersionUnsupported"
                    assert f"protocol {version} " in error["message"]
                    assert f"server's {PROTOCOL_VERSION}" in error["message"]
        for (version, path), status in served.items():
            ok = version is None or abs(int(version) - PROTOCOL_VERSION) <= 1
            assert status == (200 if ok else 426), (version, path, status)
        bad = get(f"{srv.url}/v2.0/networks", srv.token, "two")
        assert bad.status_code == 400
        metrics = httpx.get(f"{srv.url}/metrics", timeout=10).text
        too_new = PROTOCOL_VERSION + 2
        assert f'l2pop_protocol_refused_total{{version="{too_new}"}} 2.0' in metrics
        assert 'l2pop_protocol_refused_total{version="0"} 2.0' in metrics
    assert f"l2pop protocol {too_new} is newer" in srv.log_text()


def test_the_agent_sends_its_protocol_version(tmp_path: Path) -> None:
    """A listener of the test's own reads the agent's first request as it arrives."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(30)
    port = listener.getsockname()[1]
    heads: list[bytes] = []

    def accept() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            heads.append(data)

    reader = threading.Thread(target=accept, daemon=True)
    reader.start()
    token = tmp_path / "host.token"
    token.write_text("t0\n")
    agent = subprocess.Popen(
        [*L2POP, "agent", "--host", "h1", "--tunnel-ip", "192.0.2.1", "--dataplane", "fake",
         "--server", f"http://127.0.0.1:{port}", "--token-file", str(token)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        reader.join(30)
    finally:
        stop_process(agent)
        listener.close()
    assert heads, "the agent sent no request"
    lines = heads[0].decode("latin-1").lower().split("\r\n")
    assert f"l2pop-protocol: {PROTOCOL_VERSION}" in lines
