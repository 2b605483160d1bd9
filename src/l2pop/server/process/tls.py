"""The server's TLS: the listening socket's ``ssl.SSLContext``, re-loadable.

uvicorn gets one context for the life of the socket. Its server-name
callback, which OpenSSL runs for every ClientHello (with or without SNI),
hands each new connection the *current* context; a reload builds a complete
new context from the files and makes it current. So every handshake from
then on uses the new certificate, key and client CA, the connections
already open (the agents' watch streams) keep the session they have, and a
client CA taken out of the file is no longer trusted: a CA can be retired
without a restart. A new set of files that does not load (a certificate
that does not match its key: a rotation caught half-way) is refused, and
the current context stays.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from l2pop.errors import ValidationError
from l2pop.secretfile import warn_if_loose

__all__ = ["ServerTls", "TlsFiles", "certificate_names"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TlsFiles:
    cert: Path
    key: Path
    client_ca: Path | None = None

    @property
    def paths(self) -> list[Path]:
        return [p for p in (self.cert, self.key, self.client_ca) if p is not None]


def _load(context: ssl.SSLContext, files: TlsFiles) -> None:
    context.load_cert_chain(str(files.cert), str(files.key))
    if files.client_ca is not None:
        context.load_verify_locations(cafile=str(files.client_ca))


def _new_context(files: TlsFiles) -> ssl.SSLContext:
    warn_if_loose(files.key, "TLS key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if files.client_ca is not None:
        # Optional, not required: the admin token needs no certificate. A
        # certificate that is presented must chain to the client CA, or the
        # handshake fails; whether a *host* token came with the right one is
        # checked per request (ClientCertBinding).
        context.verify_mode = ssl.CERT_OPTIONAL
    _load(context, files)
    return context


class ServerTls:
    """The listening socket's context (``context``, for uvicorn) and how to re-read
    its files (``reload``); ``current`` is what new handshakes use."""

    def __init__(self, files: TlsFiles) -> None:
        self.files = files
        try:
            self.context = _new_context(files)
        except (OSError, ssl.SSLError) as exc:
            shown = ", ".join(str(p) for p in files.paths)
            raise ValidationError("--tls-cert/--tls-key/--client-ca", shown, str(exc)) from None
        self.current = self.context
        self.context.sni_callback = self._hand_over

    def _hand_over(
        self, connection: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: ssl.SSLContext
    ) -> None:
        """Every ClientHello: the connection continues with the current context."""
        del server_name
        connection.context = self.current

    @property
    def client_certificates(self) -> bool:
        return self.files.client_ca is not None

    def reload(self) -> bool:
        """Re-read the files into the live context; False (old files kept) when they fail."""
        try:
            fresh = _new_context(self.files)  # nothing live changes if it raises
        except (OSError, ssl.SSLError) as exc:
            log.error("TLS files not reloaded, the previous ones stay in use: %s", exc)
            return False
        self.current = fresh
        log.info("TLS certificate, key and client CA reloaded from %s", self.files.cert)
        return True


def certificate_names(peer: Mapping[str, Any] | None) -> frozenset[str]:
    """The names a verified peer certificate (``SSLObject.getpeercert()``) gives its
    holder: its subject's common name(s) and its DNS subjectAltNames."""
    if not peer:
        return frozenset()
    names: set[str] = set()
    subject: Sequence[Sequence[tuple[str, str]]] = peer.get("subject", ())
    for rdn in subject:
        names.update(value for key, value in rdn if key == "commonName")
    names.update(value for kind, value in peer.get("subjectAltName", ()) if kind == "DNS")
    return frozenset(names)
