"""Tokens: the admin token (from a file) and per-host tokens (stored hashed).

Tokens are 256-bit random strings, so a plain SHA-256 is a sound hash: there
is nothing to brute-force that a slow KDF would protect.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from l2pop.errors import AuthError, ForbiddenError
from l2pop.secretfile import read_secret, write_secret

__all__ = [
    "AdminToken",
    "Principal",
    "hash_token",
    "load_admin_token",
    "new_token",
    "reload_admin_token",
    "token_from_headers",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the admin, or one host."""

    admin: bool
    host: str | None = None

    def require_admin(self) -> None:
        if not self.admin:
            raise ForbiddenError("this call needs the admin token")

    def require_host(self, name: str) -> None:
        """Admin, or the host ``name`` itself; checked before any lookup."""
        if not self.admin and self.host != name:
            raise ForbiddenError(f"a token of host {self.host!r} cannot act for host {name!r}")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_from_headers(headers: Mapping[str, str]) -> str:
    """``X-Auth-Token: T`` (openstacksdk) or ``Authorization: Bearer T``."""
    token = headers.get("x-auth-token")
    if not token:
        auth = headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer":
            token = value.strip()
    if not token:
        raise AuthError("no token: send X-Auth-Token or Authorization: Bearer")
    return token


class AdminToken:
    """Compares a token with the admin token's hash in constant time."""

    def __init__(self, token: str) -> None:
        self._hash = hash_token(token)

    def matches(self, token_hash: str) -> bool:
        return hmac.compare_digest(self._hash, token_hash)

    def replace(self, token: str) -> None:
        """Accept ``token`` from now on, and no longer the previous one."""
        self._hash = hash_token(token)


def load_admin_token(path: Path | None, db_path: Path | None) -> tuple[AdminToken, Path | None]:
    """Read the admin token, or create one (0600) next to the database.

    Returns the token checker and, when a token was generated, the file written.
    """
    if path is not None and path.exists():
        token = read_secret(path, "admin token")
        if not token:
            raise AuthError(f"admin token file {path} is empty")
        return AdminToken(token), None
    target = path or (db_path.parent if db_path else Path.cwd()) / "admin.token"
    token = new_token()
    write_secret(target, token)
    log.warning("generated an admin token in %s", target)
    return AdminToken(token), target


def reload_admin_token(path: Path, admin: AdminToken) -> bool:
    """Re-read the admin token file into ``admin``; an unreadable or empty file keeps
    the current token (a rotation caught half-way must not lock the admin out)."""
    try:
        token = read_secret(path, "admin token")
    except OSError as exc:
        log.error("admin token not reloaded from %s: %s", path, exc)
        return False
    if not token:
        log.error("admin token not reloaded: %s is empty", path)
        return False
    admin.replace(token)
    log.info("admin token reloaded from %s", path)
    return True
