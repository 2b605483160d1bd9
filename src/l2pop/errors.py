"""Every exception l2pop raises, in one place.

::

    L2popError
    ├── ValidationError      bad input: a field has a value it cannot take (HTTP 400)
    ├── ConflictError        input is valid but clashes with stored state (HTTP 409)
    ├── NotFoundError        the named resource does not exist (HTTP 404)
    ├── AuthError            no token, or a token nobody issued (HTTP 401)
    ├── ForbiddenError       a valid token asking for what it may not touch (HTTP 403)
    ├── GoneError            a watch revision older than the retained log (HTTP 410)
    ├── BodyTooLargeError    request body over the limit (HTTP 413)
    ├── StoreUnavailableError  the store cannot be reached in time, or the server
    │                          is stopping (HTTP 503 + Retry-After)
    ├── DataplaneError       the kernel refused an operation (agent side)
    └── ServerUnreachableError  no configured server answered (agent side)

The HTTP status beside each class is the one the API maps it to; the mapping
lives in the server, not here, so the core stays free of HTTP.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "BodyTooLargeError",
    "ConflictError",
    "DataplaneError",
    "ForbiddenError",
    "GoneError",
    "L2popError",
    "NotFoundError",
    "ServerUnreachableError",
    "StoreUnavailableError",
    "ValidationError",
]


class L2popError(Exception):
    """Base class of every error raised on purpose by l2pop."""


class ValidationError(L2popError, ValueError):
    """A field holds a value it cannot take. The message names both."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {field} {value!r}: {reason}")


class ConflictError(L2popError):
    """Valid input that clashes with what is stored (duplicate VNI, MAC, IP...)."""


class NotFoundError(L2popError, LookupError):
    """The named resource does not exist."""


class AuthError(L2popError):
    """The request carries no token, or one that nobody issued."""


class ForbiddenError(L2popError):
    """The token is valid but may not act on this resource."""


class GoneError(L2popError):
    """A watch asked for a revision older than the retained change log."""


class BodyTooLargeError(L2popError):
    """The request body is over the configured limit."""


class StoreUnavailableError(L2popError):
    """The store did not answer in time (no quorum, unreachable), or the server is stopping."""


class DataplaneError(L2popError):
    """The kernel refused a dataplane operation; carries the netlink reason."""


class ServerUnreachableError(L2popError):
    """None of the configured servers answered."""
