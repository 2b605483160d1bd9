"""Every error as Neutron shapes it: ``{"NeutronError": {"type", "message", "detail"}}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from l2pop.errors import (
    AuthError,
    BodyTooLargeError,
    ConflictError,
    ForbiddenError,
    GoneError,
    L2popError,
    NotFoundError,
    StoreUnavailableError,
    ValidationError,
)

__all__ = ["error_response", "install_error_handlers", "internal_error", "neutron_error"]

log = logging.getLogger(__name__)

# (class, HTTP status, Neutron type when the exception carries none)
_MAPPING: tuple[tuple[type[L2popError], int, str], ...] = (
    (ValidationError, 400, "InvalidInput"),
    (AuthError, 401, "NotAuthenticated"),
    (ForbiddenError, 403, "NotAuthorized"),
    (NotFoundError, 404, "NotFound"),
    (ConflictError, 409, "Conflict"),
    (GoneError, 410, "RevisionCompacted"),
    (BodyTooLargeError, 413, "RequestEntityTooLarge"),
    (StoreUnavailableError, 503, "ServiceUnavailable"),
)
_HTTP_TYPES = {404: "HTTPNotFound", 405: "HTTPMethodNotAllowed", 400: "HTTPBadRequest"}


def neutron_error(status: int, type_: str, message: str, detail: str = "") -> JSONResponse:
    headers = {"Retry-After": "5"} if status == 503 else None
    body = {"NeutronError": {"type": type_, "message": message, "detail": detail}}
    return JSONResponse(body, status_code=status, headers=headers)


def error_response(exc: L2popError) -> JSONResponse:
    for cls, status, default_type in _MAPPING:
        if isinstance(exc, cls):
            type_ = str(getattr(exc, "neutron_type", default_type))
            return neutron_error(status, type_, str(exc))
    log.error("unmapped error %r", exc)
    return neutron_error(500, "InternalError", "internal error")


def internal_error(method: str, path: str) -> JSONResponse:
    """The last resort for a bug in any handler: logged with its traceback, a plain 500.

    Call it from an ``except`` block. Every handler ends here, the FastAPI
    routes' and the fast dispatcher's alike; the client never sees a traceback.
    """
    log.exception("unexpected error on %s %s", method, path)
    return neutron_error(500, "InternalError", "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    async def on_l2pop(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, L2popError)
        return error_response(exc)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return neutron_error(400, "InvalidInput", f"invalid {where}: {first.get('msg', '')}")

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        type_ = _HTTP_TYPES.get(exc.status_code, "HTTPError")
        return neutron_error(exc.status_code, type_, str(exc.detail))

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        return internal_error(request.method, request.url.path)

    app.add_exception_handler(L2popError, on_l2pop)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
