"""The TLS and secrets building blocks: certificate names, reloads that refuse a bad
pair, the file poller, token files, and the uvicorn adapter over a real TLS socket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from l2pop.errors import ValidationError
from l2pop.pki import issue, make_ca
from l2pop.reloader import Reloader
from l2pop.secretfile import read_secret, write_secret
from l2pop.server.auth import AdminToken, hash_token, reload_admin_token
from l2pop.server.process.tls import ServerTls, TlsFiles, certificate_names
from l2pop.server.process.uvicorn_adapter import connection_transport, peer_certificate
from l2pop.tlsclient import ClientTls, client_context, httpx_verify


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pki")
    make_ca(out)
    issue(out, "server", ["127.0.0.1", "localhost"], server=True)
    issue(out, "h1", ["h1", "h1.example"], server=False)
    return out


def test_certificate_names_are_the_common_name_and_dns_alt_names() -> None:
    peer = {
        "subject": ((("organizationName", "l2pop"),), (("commonName", "h1"),)),
        "subjectAltName": (("DNS", "h1.example"), ("IP Address", "192.0.2.1")),
    }
    assert certificate_names(peer) == {"h1", "h1.example"}
    assert certificate_names(None) == frozenset()
    assert certificate_names({}) == frozenset()


def test_a_reload_with_a_key_that_does_not_match_keeps_the_old_pair(
    pki: Path, tmp_path: Path
) -> None:
    cert, key = tmp_path / "s.pem", tmp_path / "s.key"
    cert.write_bytes((pki / "server.pem").read_bytes())
    key.write_bytes((pki / "server.key").read_bytes())
    tls = ServerTls(TlsFiles(cert, key, pki / "ca.pem"))
    assert tls.context.verify_mode == ssl.CERT_OPTIONAL
    assert tls.reload()
    key.write_bytes((pki / "h1.key").read_bytes())  # half-way through a rotation
    assert not tls.reload()
    with pytest.raises(ValidationError, match="tls-cert"):
        ServerTls(TlsFiles(cert, key))


def test_client_tls_needs_cert_and_key_together(pki: Path) -> None:
    with pytest.raises(ValidationError, match="both or neither"):
        ClientTls(cert=pki / "h1.pem")
    assert httpx_verify(None) is True
    assert httpx_verify(ClientTls()) is True
    context = httpx_verify(ClientTls(pki / "ca.pem", pki / "h1.pem", pki / "h1.key"))
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    with pytest.raises(ValidationError, match="cannot load"):
        client_context(pki / "missing.pem")


def test_the_poller_reloads_what_changed_and_waits_for_a_file_being_swapped(
    tmp_path: Path,
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("1")
    b.write_text("1")
    calls: list[str] = []
    reloader = Reloader([([a], lambda: calls.append("a")), ([b], lambda: calls.append("b"))])
    reloader.poll()
    assert calls == []
    a.write_text("22")
    reloader.poll()
    assert calls == ["a"]
    b.unlink()
    reloader.poll()
    assert calls == ["a"]  # missing: not now
    b.write_text("3")
    reloader.poll()
    assert calls == ["a", "b"]
    reloader.reload_all()
    assert calls == ["a", "b", "a", "b"]


def test_token_files_are_written_0600_and_loose_ones_are_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "t"
    path.write_text("old")
    path.chmod(0o644)
    write_secret(path, "s3cret")
    assert path.stat().st_mode & 0o777 == 0o600
    with caplog.at_level(logging.WARNING):
        assert read_secret(path) == "s3cret"
    assert caplog.records == []
    path.chmod(0o640)
    with caplog.at_level(logging.WARNING):
        assert read_secret(path, "host token") == "s3cret"
    assert "group-readable" in caplog.text
    assert "s3cret" not in caplog.text


def test_the_admin_token_file_is_reread_but_an_empty_one_is_not_taken(tmp_path: Path) -> None:
    path = tmp_path / "admin.token"
    admin = AdminToken("one")
    write_secret(path, "two")
    assert reload_admin_token(path, admin)
    assert admin.matches(hash_token("two"))
    assert not admin.matches(hash_token("one"))
    path.write_text("\n")
    assert not reload_admin_token(path, admin)
    assert not reload_admin_token(tmp_path / "gone", admin)
    assert admin.matches(hash_token("two"))


def test_uvicorn_adapter_finds_the_tls_session_and_serves_a_reloaded_certificate(
    pki: Path, tmp_path: Path
) -> None:
    """Fails when uvicorn stops keeping the transport where the adapter looks, or
    stops using the context ``ssl_context_factory`` returns."""
    seen: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        seen.append((connection_transport(send) is not None, peer_certificate(send)))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    cert, key = tmp_path / "s.pem", tmp_path / "s.key"
    cert.write_bytes((pki / "server.pem").read_bytes())
    key.write_bytes((pki / "server.key").read_bytes())
    tls = ServerTls(TlsFiles(cert, key, pki / "ca.pem"))

    async def main() -> list[int]:
        serials = []
        async with _uvicorn(app, tls) as port:
            url = f"https://127.0.0.1:{port}/"
            verify = client_context(pki / "ca.pem", pki / "h1.pem", pki / "h1.key")
            async with httpx.AsyncClient(verify=verify) as client:
                assert (await client.get(url)).status_code == 200
            async with httpx.AsyncClient(verify=client_context(pki / "ca.pem")) as client:
                assert (await client.get(url)).status_code == 200
            for _ in range(2):
                serials.append(await _served_serial(port, pki))
                _reissue(pki, cert, key)
                assert tls.reload()
        return serials

    serials = asyncio.run(main())
    assert seen[0][0] is True
    assert certificate_names(seen[0][1]) == {"h1", "h1.example"}
    assert seen[1] == (True, None)
    assert serials[0] != serials[1]


@contextlib.asynccontextmanager
async def _uvicorn(app: Any, tls: ServerTls) -> AsyncIterator[int]:
    """Real uvicorn on 127.0.0.1 with ``tls``'s context (as the runner gives it); its port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="off",
        ssl_context_factory=lambda _c, _d: tls.context,
    )  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


def _reissue(pki: Path, cert: Path, key: Path) -> None:
    fresh = issue(pki, "fresh", ["127.0.0.1"], server=True)
    cert.write_bytes(fresh.cert.read_bytes())
    key.write_bytes(fresh.key.read_bytes())


async def _served_serial(port: int, pki: Path) -> int:
    context = ssl.create_default_context(cafile=pki / "ca.pem")
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    ssl_object = writer.get_extra_info("ssl_object")
    serial = int(ssl_object.getpeercert()["serialNumber"], 16)
    writer.close()
    return serial


def test_a_tls_key_readable_by_others_is_warned_about(
    pki: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cert, key = tmp_path / "s.pem", tmp_path / "s.key"
    cert.write_bytes((pki / "server.pem").read_bytes())
    key.write_bytes((pki / "server.key").read_bytes())
    key.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        ServerTls(TlsFiles(cert, key))
        client_context(pki / "ca.pem", cert, key)
    assert caplog.text.count("TLS key file") == 2
    assert "world-readable" in caplog.text
    assert "PRIVATE KEY" not in caplog.text


def test_a_client_ca_taken_out_of_the_file_is_retired_without_a_restart(
    pki: Path, tmp_path: Path
) -> None:
    """Through real uvicorn: after the reload, a certificate of the retired CA fails
    the handshake and one of the new CA is served."""
    other = tmp_path / "ca2"
    other.mkdir()
    make_ca(other, "second CA")
    issue(other, "h1", ["h1"], server=False)
    client_ca = tmp_path / "client-ca.pem"
    client_ca.write_bytes((pki / "ca.pem").read_bytes())
    tls = ServerTls(TlsFiles(pki / "server.pem", pki / "server.key", client_ca))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            names = sorted(certificate_names(peer_certificate(send)))
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": ",".join(names).encode()})

    async def get(port: int, issuer: Path) -> str:
        verify = client_context(pki / "ca.pem", issuer / "h1.pem", issuer / "h1.key")
        async with httpx.AsyncClient(verify=verify) as client:
            try:
                return (await client.get(f"https://127.0.0.1:{port}/")).text
            except httpx.HTTPError as exc:
                return f"refused: {type(exc).__name__}"

    async def main() -> list[str]:
        async with _uvicorn(app, tls) as port:
            answers = [await get(port, pki), await get(port, other)]
            client_ca.write_bytes((other / "ca.pem").read_bytes())
            assert tls.reload()
            answers += [await get(port, pki), await get(port, other)]
        return answers

    first, before_other, retired, served = asyncio.run(main())
    assert first == "h1,h1.example"
    assert before_other.startswith("refused")  # the second CA was not trusted yet
    assert retired.startswith("refused")
    assert served == "h1"
