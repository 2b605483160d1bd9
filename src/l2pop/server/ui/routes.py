"""The fabric view at ``/ui/``: login, the page, its JSON, its event stream, explain.

``/ui/`` without a session answers the login form and nothing else; every
``/ui/api/*`` answers 401 without one. The page is static HTML plus one
small script (no build step) from this package's ``static`` directory.
``POST /v1/viewer-tokens`` (admin token) issues a read-only token for it.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import Any
from urllib.parse import parse_qs

import httpx
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from l2pop.errors import BodyTooLargeError, L2popError, ValidationError
from l2pop.explain.facts import Ambiguous
from l2pop.server.api.bodies import parse_json_body
from l2pop.server.api.context import ctx
from l2pop.server.api.errors import error_response
from l2pop.server.service import Service
from l2pop.server.ui.explainer import explain_on_server
from l2pop.server.ui.fabric import (
    hosts_page,
    matrix_page,
    page_of,
    ports_page,
    remote_page,
    summary,
)
from l2pop.server.ui.feed import Feed
from l2pop.server.ui.sessions import COOKIE, SESSION_TTL_S, UiAuth

__all__ = ["UiState", "install_ui", "ui_state"]

MAX_FORM = 4096
STATIC = {"app.js": "text/javascript", "style.css": "text/css"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass
class UiState:
    service: Service
    auth: UiAuth
    feed: Feed


def ui_state(request: Request) -> UiState:
    """This app's UI state, made on first use for the service the app runs."""
    service = ctx(request).service
    state: UiState | None = getattr(request.app.state, "ui", None)
    if state is None or state.service is not service:
        state = UiState(service, UiAuth(service.admin), Feed(service))
        request.app.state.ui = state
    return state


def _static(name: str) -> str:
    return (resources.files("l2pop.server.ui") / "static" / name).read_text(encoding="utf-8")


def _page(name: str, status: int = 200, **values: str) -> Response:
    body = Template(_static(name)).safe_substitute({k: html.escape(v) for k, v in values.items()})
    return Response(body, status, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)


def _role(request: Request) -> str | None:
    return ui_state(request).auth.role_of_session(request.cookies.get(COOKIE))


def _refused() -> JSONResponse:
    return JSONResponse({"error": "not logged in"}, 401, headers=SECURITY_HEADERS)


def _json(body: Any) -> JSONResponse:
    return JSONResponse(body, headers=SECURITY_HEADERS)


async def index(request: Request) -> Response:
    role = _role(request)
    if role is None:
        return _page("login.html", message="")
    return _page("index.html", role=role)


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in STATIC:
        return Response("not found", 404)
    return Response(_static(name), media_type=STATIC[name], headers=SECURITY_HEADERS)


async def _small_body(request: Request) -> bytes | None:
    """The body, or None when it is over ``MAX_FORM`` (a token, a host and a target are
    short: nothing here needs the API's megabyte)."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_FORM:
            return None
    return raw


def _too_large() -> Response:
    return error_response(BodyTooLargeError(f"request body is over {MAX_FORM} bytes"))


async def login(request: Request) -> Response:
    raw = await _small_body(request)
    if raw is None:
        return _page("login.html", 413, message="That is not a token.")
    token = parse_qs(raw.decode(errors="replace")).get("token", [""])[0]
    granted = ui_state(request).auth.login(token) if token else None
    if granted is None:
        return _page("login.html", 401, message="This token is not accepted.")
    session, _ = granted
    answer = RedirectResponse("/ui/", status_code=303)
    answer.set_cookie(
        COOKIE, session, max_age=int(SESSION_TTL_S), path="/ui", httponly=True,
        samesite="strict", secure=request.url.scheme == "https",
    )  # fmt: skip
    return answer


async def logout(request: Request) -> Response:
    ui_state(request).auth.logout(request.cookies.get(COOKIE))
    answer = RedirectResponse("/ui/", status_code=303)
    answer.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
    return answer


async def fabric(request: Request) -> Response:
    if _role(request) is None:
        return _refused()
    service, q = ui_state(request).service, request.query_params
    try:
        body = {
            "summary": summary(service),
            "matrix": matrix_page(
                service, page_of(q, "net_", 20), page_of(q, "host_", 25), q.get("net_q", "")
            ),
            "hosts": hosts_page(service, page_of(q, "hosts_", 25), q.get("hosts_q", "")),
            "ports": ports_page(service, page_of(q, "ports_", 50), _port_filters(q)),
            "remote": remote_page(service, page_of(q, "remote_", 50)),
        }
    except L2popError as exc:
        return error_response(exc)
    return _json(body)


def _port_filters(q: Any) -> dict[str, str]:
    keys = {"ports_network": "network", "ports_host": "host", "ports_status": "status"}
    out = {name: q.get(key, "") for key, name in keys.items()}
    out["q"] = q.get("ports_q", "")
    return out


async def events(request: Request) -> Response:
    if _role(request) is None:
        return _refused()
    headers = {**SECURITY_HEADERS, "X-Accel-Buffering": "no"}
    stream = ui_state(request).feed.stream()
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


async def explain_panel(request: Request) -> Response:
    if _role(request) is None:
        return _refused()
    raw = await _small_body(request)
    if raw is None:
        return _too_large()
    try:
        body = parse_json_body(raw)
        if not isinstance(body, dict):
            raise ValidationError("body", body, 'expected {"host", "target", "network"}')
        host, target = str(body.get("host", "")).strip(), str(body.get("target", ""))
        if not host:
            raise ValidationError("host", host, "pick a host")
        async with httpx.AsyncClient() as client:
            report = await explain_on_server(
                ui_state(request).service, host, target, body.get("network") or None, client
            )
    except Ambiguous as exc:
        return JSONResponse({"error": str(exc), "networks": list(exc.networks)}, 400)
    except L2popError as exc:
        return error_response(exc)
    return _json({**report.to_json(detailed=True), "line": report.line})


async def viewer_token(request: Request) -> Response:
    c = ctx(request)
    try:
        c.service.authenticate(request.headers).require_admin()
        raw = await _small_body(request)
        if raw is None:
            return _too_large()
        body = parse_json_body(raw) if raw.strip() else {}
        ttl = body.get("ttl_seconds", 7 * 24 * 3600) if isinstance(body, dict) else None
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
            raise ValidationError("ttl_seconds", ttl, "must be a positive integer")
    except L2popError as exc:
        return error_response(exc)
    token, expires = ui_state(request).auth.issue_viewer(float(ttl))
    answer = {"token": token, "role": "viewer", "expires_at": int(expires)}
    return Response(json.dumps(answer), 201, media_type="application/json")


def install_ui(app: FastAPI) -> None:
    async def to_slash(request: Request) -> Response:
        return RedirectResponse("/ui/", status_code=307)

    app.router.routes.extend(
        [
            Route("/ui", to_slash, methods=["GET"]),
            Route("/ui/", index, methods=["GET"]),
            Route("/ui/login", login, methods=["POST"]),
            Route("/ui/logout", logout, methods=["POST"]),
            Route("/ui/static/{name}", static, methods=["GET"]),
            Route("/ui/api/fabric", fabric, methods=["GET"]),
            Route("/ui/api/events", events, methods=["GET"]),
            Route("/ui/api/explain", explain_panel, methods=["POST"]),
            Route("/v1/viewer-tokens", viewer_token, methods=["POST"]),
        ]
    )
