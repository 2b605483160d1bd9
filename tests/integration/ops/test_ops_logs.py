"""``--log-format json``: one JSON object per line, with revision and host where they
apply; the default stays human."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from harness.net import free_port
from harness.procs import L2POP, stop_process
from harness.servers import running


def json_lines(text: str) -> list[dict[str, object]]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # any other line fails here


def test_server_json_logs_and_human_default(tmp_path: Path) -> None:
    with running(tmp_path / "json", ("--log-format", "json")) as srv:
        pass
    records = json_lines(srv.log_text())
    serving = [r for r in records if str(r["msg"]).startswith("serving at revision")]
    assert serving, records
    assert serving[0]["revision"] == 0
    assert {"ts", "level", "logger", "msg"} <= set(serving[0])
    with running(tmp_path / "human") as srv:
        pass
    assert "INFO l2pop.server.process.runner: serving at revision 0" in srv.log_text()


def test_agent_json_logs_name_the_host(tmp_path: Path) -> None:
    token = tmp_path / "host.token"
    token.write_text("t0\n")
    log = tmp_path / "agent.log"
    with log.open("wb") as out:
        agent = subprocess.Popen(
            [*L2POP, "agent", "--host", "h7", "--tunnel-ip", "192.0.2.7", "--dataplane", "fake",
             "--server", f"http://127.0.0.1:{free_port()}", "--token-file", str(token),
             "--log-format", "json"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        # It cannot reach the server: it says so, and keeps the kernel as it is.
        deadline_lines: list[dict[str, object]] = []
        for _ in range(200):
            deadline_lines = json_lines(log.read_text())
            if any("cannot list state" in str(r["msg"]) for r in deadline_lines):
                break
            subprocess.run(["sleep", "0.05"], check=True)
    finally:
        agent.send_signal(signal.SIGTERM)
        assert stop_process(agent) == 0
    records = json_lines(log.read_text())
    assert any("cannot list state" in str(r["msg"]) for r in records), records
    assert all(r.get("host") == "h7" for r in records), records


def test_evpn_json_logs(tmp_path: Path) -> None:
    """The gateway with no server and no peer: gobgpd comes up, the server cannot be
    reached (fail static); every line of its log is a JSON object."""
    token = tmp_path / "gateway.token"
    token.write_text("g0\n")
    log = tmp_path / "evpn.log"
    with log.open("wb") as out:
        gateway = subprocess.Popen(
            [*L2POP, "evpn", "--server", f"http://127.0.0.1:{free_port()}", "--token-file",
             str(token), "--asn", "65000", "--router-id", "127.0.0.1", "--peer", "127.0.0.2",
             "--bgp-port", str(free_port()), "--workdir", str(tmp_path / "gobgp"),
             "--log-format", "json"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        for _ in range(400):
            if "server unreachable" in log.read_text():
                break
            subprocess.run(["sleep", "0.05"], check=True)
    finally:
        assert stop_process(gateway) == 0
    records = json_lines(log.read_text())
    assert any(str(r["msg"]).startswith("gobgpd up") for r in records), records
    unreachable = [r for r in records if "server unreachable" in str(r["msg"])]
    assert unreachable, records
    assert unreachable[0]["level"] == "warning", unreachable
    assert all(str(r["logger"]).startswith("l2pop") for r in records), records
