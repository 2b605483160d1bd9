"""Check the ``L2pop-Protocol`` header of every request, in one place.

An ASGI wrapper in front of the whole app: a request whose protocol version
is more than one away from the server's is answered ``426`` with a
NeutronError naming both versions, logged and counted; anything else passes
through untouched (``send`` is not wrapped, so the watch streams keep their
direct transport path). The answers' own header is added by the HTTP server
(uvicorn's default headers, see :data:`RESPONSE_HEADERS`), so it costs nothing
per chunk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from l2pop.protocol import HEADER, PROTOCOL_VERSION, parse_version, skew_refusal
from l2pop.server.api.errors import neutron_error

__all__ = ["RESPONSE_HEADERS", "ProtocolGate"]

log = logging.getLogger(__name__)

RESPONSE_HEADERS = [(HEADER, str(PROTOCOL_VERSION))]
_NAME = HEADER.lower().encode()


class ProtocolGate:
    """Refuses requests of a protocol version the server cannot serve."""

    def __init__(self, app: ASGIApp, on_refusal: Callable[[int | None], None]) -> None:
        self.app = app
        self._on_refusal = on_refusal  # the metric: called with the version (None: garbage)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            value = next((v for k, v in scope["headers"] if k == _NAME), None)
            if value is not None:  # no header: the oldest version, which is served
                theirs = parse_version(value.decode("latin-1"))
                if theirs is None:
                    why = f"{HEADER} must be an integer, got {value[:20]!r}"
                    await self._refuse(400, "InvalidInput", why, None, scope, receive, send)
                    return
                refusal = skew_refusal(theirs)
                if refusal is not None:
                    await self._refuse(
                        426, "ProtocolVersionUnsupported", refusal, theirs, scope, receive, send
                    )
                    return
        await self.app(scope, receive, send)

    async def _refuse(
        self,
        status: int,
        type_: str,
        why: str,
        theirs: int | None,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        client = scope.get("client") or ("?", 0)
        log.warning(
            "refused %s %s from %s: %s",
            scope["method"],
            scope["path"],
            client[0],
            why,
            extra={"protocol": theirs},
        )
        self._on_refusal(theirs)
        await neutron_error(status, type_, why)(scope, receive, send)
