"""TLS for every l2pop client: one place that turns ``--ca-file``/``--cert``/``--key``
into the ``ssl.SSLContext`` an httpx client (or a raw asyncio connection) uses.

The agent, the admin CLI, ``l2pop explain``, the EVPN gateway, the bench and the
simulator all build their connections through :func:`client_context` /
:func:`httpx_verify`, so a new client gets the same rules: a CA file pins the
server's issuer (no system trust store then), a client certificate goes with
its key, and a plain ``http://`` URL ignores all of it.

A long-running client (the agent) keeps one context for its life and
re-reads its files into it (:class:`LiveClientTls`, driven by
:class:`l2pop.reloader.Reloader`): a renewed host certificate is used from the
next handshake on, and the connections already open keep theirs.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from l2pop.errors import ValidationError
from l2pop.secretfile import warn_if_loose

__all__ = [
    "CaFileOption",
    "CertOption",
    "ClientTls",
    "KeyOption",
    "LiveClientTls",
    "client_context",
    "httpx_verify",
]

CaFileOption = Annotated[
    Path | None,
    typer.Option(
        "--ca-file",
        envvar="L2POP_CA_FILE",
        dir_okay=False,
        help="CA certificate(s) (PEM) that the server's certificate must chain to; "
        "https URLs only [system trust store].",
    ),
]
CertOption = Annotated[
    Path | None,
    typer.Option(
        "--cert", dir_okay=False, help="Client certificate (PEM) for servers run with --client-ca."
    ),
]
log = logging.getLogger(__name__)

KeyOption = Annotated[
    Path | None, typer.Option("--key", dir_okay=False, help="Private key (PEM) of --cert.")
]


@dataclass(frozen=True, slots=True)
class ClientTls:
    """What a client was told about TLS; empty means "system trust, no client certificate"."""

    ca_file: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            shown = str(self.cert or self.key)
            raise ValidationError("--cert/--key", shown, "give both or neither")

    def context(self) -> ssl.SSLContext:
        return client_context(self.ca_file, self.cert, self.key)

    @property
    def paths(self) -> list[Path]:
        return [p for p in (self.ca_file, self.cert, self.key) if p is not None]


class LiveClientTls:
    """One client context for a process's life, its files re-read in place.

    :meth:`reload` first loads the files into a scratch context: a certificate
    that does not match its key (a renewal caught half-way) is refused and the
    previous pair stays in use. A CA file read again *adds* its CAs: OpenSSL
    cannot remove a CA from a live context, so retiring one takes a restart.
    """

    def __init__(self, tls: ClientTls) -> None:
        self.tls = tls
        self.context = tls.context()

    def reload(self) -> bool:
        """Re-read the files; False (the previous ones kept) when they fail."""
        tls = self.tls
        try:
            tls.context()  # the check: nothing live changes if it raises
            if tls.cert is not None:
                self.context.load_cert_chain(str(tls.cert), str(tls.key) if tls.key else None)
            if tls.ca_file is not None:
                self.context.load_verify_locations(cafile=str(tls.ca_file))
        except (ValidationError, OSError, ssl.SSLError) as exc:
            log.error("TLS files not reloaded, the previous ones stay in use: %s", exc)
            return False
        log.info("TLS files reloaded: %s", ", ".join(str(p) for p in tls.paths))
        return True


def client_context(
    ca_file: Path | None = None, cert: Path | None = None, key: Path | None = None
) -> ssl.SSLContext:
    """A verifying client context: the server's certificate must chain to ``ca_file``
    (the system's CAs when None) and name the host of the URL; TLS 1.2 at least."""
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if cert is not None:
            warn_if_loose(key or cert, "TLS key")
            context.load_cert_chain(str(cert), str(key) if key else None)
    except (OSError, ssl.SSLError) as exc:
        names = ", ".join(str(p) for p in (ca_file, cert, key) if p is not None)
        raise ValidationError("TLS files", names, f"cannot load them: {exc}") from None
    return context


def httpx_verify(tls: ClientTls | LiveClientTls | None) -> ssl.SSLContext | bool:
    """The ``verify=`` argument of an httpx client: our context, or httpx's default."""
    if isinstance(tls, LiveClientTls):
        return tls.context
    if tls is None or tls == ClientTls():
        return True
    return tls.context()
