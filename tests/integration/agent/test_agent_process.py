"""``l2pop agent`` as a process: flags, metrics over HTTP, SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from harness.agents import Admin, wait_for
from harness.net import free_port
from harness.procs import L2POP
from harness.servers import running
from l2pop.dataplane.base import Mode


def metric(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def test_agent_process_serves_metrics_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    with running(tmp_path / "server") as server:
        admin = Admin(server)
        net = admin.network("a", 100)
        token_file = tmp_path / "h1.token"
        token_file.write_text(admin.host("h1", "192.0.2.1") + "\n")
        admin.host("h2", "192.0.2.2")
        admin.port(net, "h1", ["198.51.100.1"])
        peer = admin.port(net, "h2", ["198.51.100.2"])["id"]
        admin.report("h2", peer, "ACTIVE")
        revision = admin.revision()
        port = free_port()
        argv = [*L2POP, "agent", "--host", "h1", "--tunnel-ip", "192.0.2.1"]
        argv += ["--server", server.url, "--token-file", str(token_file), "--mode", Mode.SUPPRESS]
        argv += ["--dataplane", "fake", "--metrics-port", str(port), "--resync-interval", "1"]
        log_path = tmp_path / "agent.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        try:

            def programmed() -> bool:
                assert process.poll() is None, log_path.read_text()
                try:
                    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
                except httpx.HTTPError:
                    return False
                # flood + unicast + neigh of the one peer port
                return (metric(text, "l2pop_agent_last_revision") or 0) >= revision and metric(
                    text, "l2pop_agent_entries_programmed"
                ) == 3

            wait_for(programmed, 15, "entries programmed, seen in /metrics")
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
            print(f"SIGTERM -> exit in {(time.monotonic() - started) * 1000:.0f} ms")
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    text = log_path.read_text()
    assert "listed revision" in text
    assert "stopping" in text
    assert "Traceback" not in text


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--mode", "turbo"], "turbo"),
        (["--server", "ftp://example"], "must start with http"),
        (["--tunnel-ip", "192.0.2.300"], "tunnel_ip"),
    ],
)
def test_bad_flags_are_refused_with_a_clear_message(
    tmp_path: Path, flags: list[str], message: str
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("t\n")
    argv = [*L2POP, "agent", "--host", "h1", "--tunnel-ip", "192.0.2.1"]
    argv += ["--server", "http://127.0.0.1:1", "--token-file", str(token_file)]
    argv += ["--dataplane", "fake", *flags]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert message in done.stderr + done.stdout
