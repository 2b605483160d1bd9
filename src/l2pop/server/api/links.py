"""The base URL of every ``links``/``*_links`` href.

``--public-url`` when given (DESIGN.md §5: needed behind a wildcard listen
address or a proxy). Otherwise the address the request arrived at, i.e. the
socket's own address -- never the request's ``Host`` header, which any
client chooses freely and which would otherwise be reflected into the
answers (and into a cache, or a pager that follows ``next``).
"""

from __future__ import annotations

from fastapi import Request

__all__ = ["public_base"]


def public_base(request: Request) -> str:
    configured = getattr(request.app.state, "public_url", None)
    if isinstance(configured, str) and configured:
        return configured.rstrip("/")
    scheme = request.scope.get("scheme", "http")
    server = request.scope.get("server")
    if not server:  # no socket (an in-process test client): its own base
        return str(request.base_url).rstrip("/")
    host, port = server[0], server[1]
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" if port == default else f"{scheme}://{host}:{port}"
