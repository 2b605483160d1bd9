"""A renewed host certificate is used without a restart: the agent re-reads its
``--cert``/``--key`` (and ``--ca-file``) when the files change and on SIGHUP.

The agent talks to a TLS endpoint of the test's own that requires a client
certificate, notes the serial number of the one each handshake presents, and
answers every request 503 with ``Connection: close``: the agent retries, so
every retry is a new handshake that shows which certificate it holds now.
"""

from __future__ import annotations

import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from harness.agents import wait_for
from harness.procs import L2POP, stop_process
from l2pop.pki import issue, make_ca
from l2pop.tlsclient import ClientTls, LiveClientTls, httpx_verify

_503 = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@contextmanager
def recorder(pki: Path) -> Iterator[tuple[int, list[int]]]:
    """A TLS listener on 127.0.0.1 that requires a client certificate of ``pki``'s CA;
    yields (port, serials of the certificates presented, in order)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki / "ca.pem"))
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(str(pki / "server.pem"), str(pki / "server.key"))
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    serials: list[int] = []
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            raw.settimeout(5)
            try:
                with context.wrap_socket(raw, server_side=True) as conn:
                    cert = conn.getpeercert()
                    serials.append(int(str(cert["serialNumber"]), 16))
                    conn.recv(65536)
                    conn.sendall(_503)
            except (OSError, ssl.SSLError):
                raw.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], serials
    finally:
        done.set()
        thread.join(timeout=5)
        listener.close()


def _issue_h1(pki: Path, into: Path) -> int:
    """A new certificate and key for host h1, copied to ``into``.pem/.key; its serial."""
    issue(pki, "h1", ["h1"], server=False)
    shutil.copy(pki / "h1.pem", into.with_suffix(".pem"))
    shutil.copy(pki / "h1.key", into.with_suffix(".key"))
    return x509.load_pem_x509_certificate(into.with_suffix(".pem").read_bytes()).serial_number


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    out = tmp_path / "pki"
    out.mkdir()
    make_ca(out)
    issue(out, "server", ["127.0.0.1"], server=True)
    return out


def test_the_live_context_presents_the_renewed_certificate_from_the_next_handshake(
    pki: Path, tmp_path: Path
) -> None:
    files = tmp_path / "h1"
    first = _issue_h1(pki, files)
    tls = ClientTls(pki / "ca.pem", files.with_suffix(".pem"), files.with_suffix(".key"))
    live = LiveClientTls(tls)
    with recorder(pki) as (port, serials), httpx.Client(verify=httpx_verify(live)) as client:
        url = f"https://127.0.0.1:{port}/"
        assert client.get(url).status_code == 503
        second = _issue_h1(pki, files)
        assert live.reload()
        assert client.get(url).status_code == 503
        # Half-way through a renewal (a new certificate, the old key): refused, and
        # the previous pair stays in use.
        _issue_h1(pki, tmp_path / "other")
        shutil.copy(tmp_path / "other.pem", files.with_suffix(".pem"))
        assert not live.reload()
        assert client.get(url).status_code == 503
    assert serials == [first, second, second]


def test_a_running_agent_picks_up_its_renewed_certificate(pki: Path, tmp_path: Path) -> None:
    files = tmp_path / "h1"
    first = _issue_h1(pki, files)
    token = tmp_path / "h1.token"
    token.write_text("t0\n")
    with recorder(pki) as (port, serials):
        argv = [*L2POP, "agent", "--host", "h1", "--tunnel-ip", "192.0.2.1", "--dataplane",
                "fake", "--server", f"https://127.0.0.1:{port}", "--token-file", str(token),
                "--ca-file", str(pki / "ca.pem"), "--cert", str(files.with_suffix(".pem")),
                "--key", str(files.with_suffix(".key"))]  # fmt: skip
        log = tmp_path / "agent.log"
        with log.open("wb") as out:
            agent = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: first in serials, 20, "a handshake with the first certificate")
            second = _issue_h1(pki, files)  # renewed on disk: noticed within a poll
            wait_for(lambda: second in serials, 20, "a handshake with the renewed certificate")
            third = _issue_h1(pki, files)
            agent.send_signal(signal.SIGHUP)  # and on SIGHUP (the poll would too)
            wait_for(lambda: third in serials, 20, "a handshake after SIGHUP")
            time.sleep(0.5)
            assert agent.poll() is None, log.read_text()
        finally:
            code = stop_process(agent)
    assert code == 0, log.read_text()[-3000:]
    # Never the old certificate once the new one was in use.
    assert serials[serials.index(second) :].count(first) == 0
    assert serials[serials.index(third) :].count(second) == 0
    assert "TLS files reloaded" in log.read_text()
