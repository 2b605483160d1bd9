"""HTTPS end to end against a real ``l2pop server --tls-cert --tls-key --client-ca``:
plain HTTP and untrusted CAs refused, host tokens bound to their host's client
certificate, certificates and the admin token re-read live, openstacksdk with a CA
file, and no token in any log line or error body."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openstack
import pytest

from harness.servers import ServerProc, running
from l2pop.pki import issue, make_ca

pytestmark = pytest.mark.slow
RELOAD_WAIT_S = 5.0  # the server polls its files every second


def server_args(pki: Path) -> list[str]:
    return [
        "--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server.key"),
        "--client-ca", str(pki / "ca.pem"), "--access-log", "--log-level", "debug",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pki")
    make_ca(out)
    issue(out, "server", ["127.0.0.1", "localhost"], server=True)
    issue(out, "h1", ["h1"], server=False)
    issue(out, "h2", ["h2"], server=False)
    # A CA the server does not know, and a "h1" certificate from it.
    make_ca(out / "rogue", "rogue CA")
    issue(out / "rogue", "h1", ["h1"], server=False)
    return out


@pytest.fixture(scope="module")
def live(pki: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    workdir = tmp_path_factory.mktemp("tls-server")
    # JSON log lines: the audit test reads them (the default is human lines).
    args = [*server_args(pki), "--log-format", "json"]
    with running(workdir, args, ca_file=pki / "ca.pem") as server:
        yield server


@pytest.fixture(scope="module")
def h1_token(live: ServerProc) -> str:
    with live.client() as api:
        answer = api.post("/v1/hosts", json={"name": "h1", "tunnel_ip": "192.0.2.1"})
        assert answer.status_code == 201, answer.text
        token: str = answer.json()["token"]
        return token


def client_as(live: ServerProc, pki: Path, token: str, cert: str | None) -> httpx.Client:
    context = ssl.create_default_context(cafile=pki / "ca.pem")
    if cert is not None:
        context.load_cert_chain(pki / f"{cert}.pem", pki / f"{cert}.key")
    return httpx.Client(
        base_url=live.url, headers={"X-Auth-Token": token}, verify=context, timeout=10
    )


def served_serial(live: ServerProc, pki: Path) -> int:
    """The serial number of the certificate a new handshake gets."""
    context = ssl.create_default_context(cafile=pki / "ca.pem")
    with (
        socket.create_connection(("127.0.0.1", live.port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        cert = tls.getpeercert()
    assert cert is not None
    return int(str(cert["serialNumber"]), 16)


def file_serial(path: Path) -> int:
    from cryptography import x509

    return int(x509.load_pem_x509_certificate(path.read_bytes()).serial_number)


def test_plain_http_gets_no_answer(live: ServerProc) -> None:
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = sock.recv(4096)
    assert b"HTTP/1.1 200" not in answer
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{live.port}/healthz", timeout=5)


def test_a_server_certificate_from_an_unknown_ca_is_refused(live: ServerProc, pki: Path) -> None:
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{live.url}/healthz", timeout=5)  # the system's CAs only
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(
            f"{live.url}/healthz",
            timeout=5,
            verify=ssl.create_default_context(cafile=pki / "rogue" / "ca.pem"),
        )


def test_a_client_certificate_from_an_unknown_ca_fails_the_handshake(
    live: ServerProc, pki: Path, h1_token: str
) -> None:
    context = ssl.create_default_context(cafile=pki / "ca.pem")
    context.load_cert_chain(pki / "rogue" / "h1.pem", pki / "rogue" / "h1.key")
    with pytest.raises(httpx.TransportError):
        httpx.get(
            f"{live.url}/v1/hosts/h1/state",
            headers={"X-Auth-Token": h1_token},
            verify=context,
            timeout=5,
        )


@pytest.mark.parametrize(
    ("cert", "status"), [(None, 401), ("h2", 403), ("h1", 200)], ids=["none", "other", "own"]
)
def test_a_host_token_needs_its_own_hosts_certificate(
    live: ServerProc, pki: Path, h1_token: str, cert: str | None, status: int
) -> None:
    with client_as(live, pki, h1_token, cert) as api:
        state = api.get("/v1/hosts/h1/state")
        assert state.status_code == status, state.text
        # The agents' fast paths too: the status report and the watch.
        report = api.put("/v1/hosts/h1/ports/nope/status", json={"status": "ACTIVE"})
        assert report.status_code == (404 if status == 200 else status), report.text
        if status != 200:
            watch = api.get("/v1/hosts/h1/watch?revision=0")
            assert watch.status_code == status
            assert set(state.json()["NeutronError"]) == {"type", "message", "detail"}


def test_the_admin_token_needs_no_certificate(live: ServerProc) -> None:
    with live.client() as api:
        assert api.get("/v2.0/networks").status_code == 200
        assert api.get("/v1/hosts/h1/state").status_code == 200


def test_openstacksdk_works_over_https_with_a_ca_file(live: ServerProc, pki: Path) -> None:
    conn = openstack.connect(
        auth_type="admin_token",
        auth={"endpoint": live.url, "token": live.token},
        network_endpoint_override=f"{live.url}/v2.0/",
        region_name="RegionOne",
        cacert=str(pki / "ca.pem"),
    )
    net = conn.network.create_network(name="over-tls", provider_segmentation_id=3100)
    assert conn.network.get_network(net.id).name == "over-tls"
    conn.network.delete_network(net)


def test_the_openstack_cli_works_over_https_with_os_cacert(
    live: ServerProc, pki: Path, tmp_path: Path
) -> None:
    openstack_cli = Path(sys.executable).with_name("openstack")
    if not openstack_cli.exists():
        pytest.skip("python-openstackclient is not installed (pip install -e .[dev])")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["HOME"] = str(tmp_path)
    base = [
        str(openstack_cli), "--os-auth-type", "admin_token", "--os-endpoint", live.url,
        "--os-token", live.token,
    ]  # fmt: skip

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [*base, *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)

    made = run("--os-cacert", str(pki / "ca.pem"), "network", "create", "cli-tls", "-f", "json")
    assert made.returncode == 0, made.stderr
    listed = run("--os-cacert", str(pki / "ca.pem"), "network", "list", "-f", "json")
    assert "cli-tls" in [n["Name"] for n in json.loads(listed.stdout)], listed.stderr
    untrusted = run("network", "list")  # the system's CAs do not know the server's
    assert untrusted.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr or "SSL" in untrusted.stderr
    deleted = run("--os-cacert", str(pki / "ca.pem"), "network", "delete", "cli-tls")
    assert deleted.returncode == 0, deleted.stderr


def test_new_certificates_reach_new_handshakes_and_open_streams_keep_running(
    live: ServerProc, pki: Path, h1_token: str
) -> None:
    before = served_serial(live, pki)
    assert before == file_serial(pki / "server.pem")
    with (
        client_as(live, pki, h1_token, "h1") as agent,
        live.client() as admin,
        agent.stream("GET", "/v1/hosts/h1/watch?revision=0") as stream,
    ):
        assert stream.status_code == 200
        lines = stream.iter_lines()
        # 1. The file changes: picked up without a signal.
        issue(pki, "server", ["127.0.0.1", "localhost"], server=True)
        wanted = file_serial(pki / "server.pem")
        deadline = time.monotonic() + RELOAD_WAIT_S
        while served_serial(live, pki) != wanted:
            assert time.monotonic() < deadline, "new certificate not served"
            time.sleep(0.2)
        # 2. SIGHUP, with files whose size and mtime look unchanged to the poller.
        rewrite_unnoticed(pki)
        assert served_serial(live, pki) == wanted
        assert live.process is not None
        live.process.send_signal(signal.SIGHUP)
        wanted = file_serial(pki / "server.pem")
        deadline = time.monotonic() + RELOAD_WAIT_S
        while served_serial(live, pki) != wanted:
            assert time.monotonic() < deadline, "SIGHUP did not reload"
            time.sleep(0.1)
        # The stream opened before both reloads still delivers.
        net = admin.post("/v2.0/networks", json={"network": {"name": "n"}}).json()["network"]
        admin.post("/v2.0/ports", json={"port": {"network_id": net["id"], "binding:host_id": "h1"}})
        for line in lines:
            change = json.loads(line)
            if change["type"] == "change" and change["ports"]:
                break
        else:
            pytest.fail("the stream ended")


def rewrite_unnoticed(pki: Path) -> None:
    """New server files with the old files' sizes, inode and mtimes (ECDSA signatures vary
    in length: issue until they match)."""
    old = {name: (pki / name).stat() for name in ("server.pem", "server.key")}
    contents = {name: (pki / name).read_bytes() for name in old}
    scratch = pki / "scratch"
    scratch.mkdir(exist_ok=True)
    (scratch / "ca.pem").write_bytes((pki / "ca.pem").read_bytes())
    (scratch / "ca.key").write_bytes((pki / "ca.key").read_bytes())
    for _ in range(50):
        issue(scratch, "server", ["127.0.0.1", "localhost"], server=True)
        new = {name: (scratch / name).read_bytes() for name in old}
        if all(len(new[n]) == len(contents[n]) for n in old):
            break
    else:
        pytest.fail("no same-size certificate in 50 tries")
    for name, st in old.items():
        with (pki / name).open("r+b") as out:  # in place: same inode
            out.write(new[name])
        os.utime(pki / name, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_the_admin_token_file_is_reread(live: ServerProc) -> None:
    token_file = live.workdir / "admin.token"
    old, new = live.token, "rotated-" + os.urandom(8).hex()
    token_file.write_text(new + "\n")
    try:
        deadline = time.monotonic() + RELOAD_WAIT_S
        while live.client(new).get("/v2.0/networks").status_code != 200:
            assert time.monotonic() < deadline, "new admin token not accepted"
            time.sleep(0.1)
        assert live.client(old).get("/v2.0/networks").status_code == 401
        token_file.write_text("")  # a rotation caught half-way keeps the current token
        time.sleep(2.5)
        assert live.client(new).get("/v2.0/networks").status_code == 200
    finally:
        token_file.write_text(old + "\n")
        deadline = time.monotonic() + RELOAD_WAIT_S
        while live.client(old).get("/v2.0/networks").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_admin_writes_are_audited_and_tokens_appear_in_no_log_or_error(
    live: ServerProc, pki: Path, h1_token: str
) -> None:
    bodies: list[Any] = []
    wrong = "not-a-token-" + os.urandom(8).hex()
    with live.client() as admin:
        net = admin.post("/v2.0/networks", json={"network": {"name": "audited"}}).json()["network"]
        bodies.append(admin.put(f"/v2.0/networks/{net['id']}", json={"network": {"vni": 1}}))
        bodies.append(admin.get("/v2.0/ports/nope"))
        bodies.append(admin.post("/v2.0/ports", content=b"{not json"))
        admin.delete(f"/v2.0/networks/{net['id']}")
    with client_as(live, pki, wrong, "h1") as anyone:
        bodies.append(anyone.get("/v2.0/networks"))
        bodies.append(anyone.get("/v1/hosts/h1/watch?revision=0"))
    with client_as(live, pki, h1_token, "h1") as agent:
        bodies.append(agent.get("/v1/hosts/h2/state"))
        bodies.append(agent.get("/v2.0/networks"))
        bodies.append(agent.put("/v1/hosts/h1/ports/x/status", json={"status": "UP"}))
    with client_as(live, pki, h1_token, "h2") as thief:
        bodies.append(thief.get("/v1/hosts/h1/state"))
    assert all(b.status_code >= 400 for b in bodies), [b.status_code for b in bodies]
    time.sleep(0.5)  # the log lines of the last requests
    log = (live.workdir / "server.log").read_text()
    for secret in (live.token, h1_token, wrong):
        assert secret not in log
        for body in bodies:
            assert secret not in body.text, body.text
    audit = [json.loads(x)["msg"] for x in log.splitlines() if '"l2pop.audit"' in x]
    created = [m for m in audit if m.startswith("admin write: POST /v2.0/networks -> 201")]
    assert created, audit
    assert "revision " in created[-1]
    assert f"DELETE /v2.0/networks/{net['id']} -> 204" in "\n".join(audit)
    assert any("-> 400, revision -" in m for m in audit), audit
