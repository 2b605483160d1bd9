"""The outermost ASGI layer: host tokens bound to client certificates, and the audit log.

It sits directly under uvicorn, so ``send`` is still uvicorn's own and leads to
the connection (and its TLS session) through the adapter
(:func:`~l2pop.server.process.uvicorn_adapter.peer_certificate`).

* With ``--client-ca`` a host token is accepted only on a connection whose
  verified client certificate names that host (CN or DNS subjectAltName):
  no certificate is ``401``, another host's is ``403``. The admin token needs
  no certificate (operators and openstacksdk do not carry one).
* Every write by the admin (POST/PUT/PATCH/DELETE) leaves one line on the
  ``l2pop.audit`` logger: who, from where, what, the answer, the revision.

GETs pass untouched when certificates are not checked: the watch and list
paths pay nothing for the audit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from l2pop.errors import AuthError, ForbiddenError, L2popError
from l2pop.server.api.context import BARRIER_TIMEOUT_S, Context, catch_up
from l2pop.server.api.errors import error_response
from l2pop.server.audit import recording
from l2pop.server.auth import Principal
from l2pop.server.process.tls import certificate_names
from l2pop.server.process.uvicorn_adapter import peer_certificate

__all__ = ["Guard"]

audit_log = logging.getLogger("l2pop.audit")
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_TOKEN_HEADERS = (b"x-auth-token", b"authorization")
ContextOf = Callable[[], Context | None]


def _has_token(scope: Scope) -> bool:
    return any(name in _TOKEN_HEADERS for name, _ in scope["headers"])


class Guard:
    """``bind``: the server runs with ``--client-ca`` (host tokens need their certificate)."""

    def __init__(self, app: ASGIApp, context_of: ContextOf, *, bind: bool) -> None:
        self.app = app
        self.context_of = context_of
        self.bind = bind

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        context = self.context_of() if scope["type"] == "http" else None
        write = scope.get("method") not in _READS
        if context is None or not (self.bind or write) or not _has_token(scope):
            await self.app(scope, receive, send)
            return
        principal = await _principal(context, scope)
        if principal is not None and not principal.admin and self.bind:
            refusal = _certificate_refusal(principal, send)
            if refusal is not None:
                await error_response(refusal)(scope, receive, send)
                return
        if principal is None or not principal.admin or not write:
            await self.app(scope, receive, send)
            return
        await self._audited(scope, receive, send)

    async def _audited(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = [0]

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        with recording() as revisions:
            try:
                await self.app(scope, receive, capture)
            finally:
                client = scope.get("client")
                names = certificate_names(peer_certificate(send))
                audit_log.info(
                    "admin write: %s %s -> %s, revision %s (from %s, certificate %s)",
                    scope["method"],
                    scope["path"],
                    status[0] or "no answer",
                    revisions[-1] if revisions else "-",
                    f"{client[0]}:{client[1]}" if client else "?",
                    ",".join(sorted(names)) or "none",
                )


async def _principal(context: Context, scope: Scope) -> Principal | None:
    """Who the token is, or None when it is not valid (the route answers 401 itself)."""
    headers = Headers(scope=scope)
    service = context.service
    try:
        return service.authenticate(headers)
    except AuthError:
        # A token issued on another replica a moment ago: catch up once, as the
        # route would, so a host token is never let past unbound.
        await catch_up(service, BARRIER_TIMEOUT_S)
    try:
        return service.authenticate(headers)
    except L2popError:
        return None


def _certificate_refusal(principal: Principal, send: Send) -> L2popError | None:
    names = certificate_names(peer_certificate(send))
    if not names:
        return AuthError(
            f"a token of host {principal.host!r} is accepted only with that host's client "
            "certificate (this server runs with --client-ca)"
        )
    if principal.host not in names:
        return ForbiddenError(
            f"the client certificate names {', '.join(sorted(names))}, "
            f"not host {principal.host!r}: a host token goes with its own host's certificate"
        )
    return None
