"""The systemd units verify, and the real processes speak sd_notify in order: READY=1
once they serve (server: store open and listening; agent: kernel read, with no server
reachable), STOPPING=1 on SIGTERM. NOTIFY_SOCKET is a datagram socket of the test's."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.net import free_port
from harness.procs import L2POP, stop_process

ROOT = Path(__file__).resolve().parents[3]
UNITS = sorted((ROOT / "packaging" / "systemd").glob("*.service"))


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """Run where systemd is not PID 1 too; the ExecStart binary must exist, so the copies
    point at this environment's ``l2pop``; any warning (an unknown key) fails."""
    assert {u.name for u in UNITS} == {
        "l2pop-server.service", "l2pop-agent.service", "l2pop-evpn.service",
    }  # fmt: skip
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: scripts/setup.sh installs the systemd package"
    l2pop = Path(sys.executable).with_name("l2pop")
    assert l2pop.exists(), l2pop
    for unit in UNITS:
        text = unit.read_text()
        assert "Type=notify" in text
        (tmp_path / unit.name).write_text(text.replace("/usr/local/bin/l2pop", str(l2pop)))
    done = subprocess.run(
        [analyze, "verify", *(str(tmp_path / u.name) for u in UNITS)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr
    agent = (ROOT / "packaging/systemd/l2pop-agent.service").read_text()
    assert "CapabilityBoundingSet=CAP_NET_ADMIN\n" in agent
    server = (ROOT / "packaging/systemd/l2pop-server.service").read_text()
    assert "CapabilityBoundingSet=\n" in server


@contextlib.contextmanager
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.settimeout(30)
    try:
        yield sock
    finally:
        sock.close()


def receive(sock: socket.socket) -> dict[str, str]:
    data = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.splitlines() if line)


def test_server_notifies_ready_once_serving_then_stopping(tmp_path: Path) -> None:
    port = free_port()
    conf = tmp_path / "server.toml"
    conf.write_text(
        f'db = "{tmp_path / "l2pop.db"}"\nlisten = "127.0.0.1:{port}"\n'
        f'admin-token-file = "{tmp_path / "admin.token"}"\n'
    )
    with notify_socket(tmp_path) as sock:
        env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock")}
        log = (tmp_path / "server.log").open("wb")
        process = subprocess.Popen([*L2POP, "server", "--config", str(conf)], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            ready = receive(sock)
            # READY=1 means serving: the very next request is answered.
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            assert ready["READY"] == "1", ready
            assert ready["MAINPID"] == str(process.pid)
            assert "serving on" in ready["STATUS"]
            assert health.status_code == 200
            process.send_signal(signal.SIGTERM)
            stopping = receive(sock)
            assert stopping.get("STOPPING") == "1", stopping
        finally:
            assert stop_process(process) == 0, (tmp_path / "server.log").read_text()[-2000:]


def test_agent_notifies_ready_after_its_kernel_read_with_no_server(tmp_path: Path) -> None:
    """No server answers: the agent is ready all the same (fail static), then stops."""
    token = tmp_path / "host.token"
    token.write_text("t0\n")
    conf = tmp_path / "agent.toml"
    conf.write_text(
        f'host = "h1"\ntunnel-ip = "192.0.2.1"\nserver = ["http://127.0.0.1:{free_port()}"]\n'
        f'token-file = "{token}"\ndataplane = "fake"\n'
    )
    with notify_socket(tmp_path) as sock:
        env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock")}
        log = (tmp_path / "agent.log").open("wb")
        process = subprocess.Popen([*L2POP, "agent", "--config", str(conf)], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            started = time.monotonic()
            ready = receive(sock)
            assert ready["READY"] == "1", ready
            assert ready["MAINPID"] == str(process.pid)
            assert "kernel read" in ready["STATUS"]
            assert time.monotonic() - started < 25
            assert process.poll() is None
            process.send_signal(signal.SIGTERM)
            assert receive(sock).get("STOPPING") == "1"
        finally:
            assert stop_process(process) == 0, (tmp_path / "agent.log").read_text()[-2000:]


@pytest.mark.skipif(shutil.which("gobgpd") is None, reason="needs gobgpd (scripts/setup.sh)")
def test_evpn_notifies_ready_once_gobgpd_is_up_then_stopping(tmp_path: Path) -> None:
    """No server answers and no peer exists: gobgpd up is ready (fail static)."""
    token = tmp_path / "gateway.token"
    token.write_text("g0\n")
    cmd = [*L2POP, "evpn", "--server", f"http://127.0.0.1:{free_port()}", "--token-file",
           str(token), "--asn", "65000", "--router-id", "127.0.0.1", "--peer", "127.0.0.2",
           "--bgp-port", str(free_port()), "--workdir", str(tmp_path / "gobgp")]  # fmt: skip
    with notify_socket(tmp_path) as sock:
        env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock")}
        log = (tmp_path / "evpn.log").open("wb")
        process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            ready = receive(sock)
            assert ready["READY"] == "1", ready
            assert ready["MAINPID"] == str(process.pid)
            assert "gobgpd up" in ready["STATUS"]
            assert process.poll() is None
            process.send_signal(signal.SIGTERM)
            assert receive(sock).get("STOPPING") == "1"
        finally:
            stop_process(process)
    assert "Traceback" not in (tmp_path / "evpn.log").read_text()


def test_without_notify_socket_nothing_is_sent(tmp_path: Path) -> None:
    from l2pop.sdnotify import Notifier

    assert not Notifier({}).ready("x")
    with notify_socket(tmp_path) as sock:
        assert Notifier({"NOTIFY_SOCKET": str(tmp_path / "notify.sock")}).send(ready=1)
        assert receive(sock) == {"READY": "1"}
    # A socket that is gone: logged, never raised (readiness must not stop a service).
    assert not Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}).stopping()


@pytest.mark.parametrize("name", ["server", "agent"])
def test_unit_execstart_uses_the_example_config(name: str) -> None:
    unit = (ROOT / f"packaging/systemd/l2pop-{name}.service").read_text()
    assert f"l2pop {name} --config /etc/l2pop/{name}.toml" in unit
    assert (ROOT / f"etc/l2pop/{name}.toml").is_file()
