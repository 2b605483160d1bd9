"""Who may look at the fabric view: viewer tokens and browser sessions.

The browser never carries a token in a URL: the login form posts the admin
token or a viewer token once and gets a random session id in an HttpOnly,
SameSite=Strict cookie (``Secure`` over HTTPS). Viewer tokens are read-only:
they open the fabric view (and its explain panel), never the API.

Both live in this replica's memory, hashed like every token: a restart ends
the sessions and the viewer tokens (the admin issues new ones with
``POST /v1/viewer-tokens``). Expired entries are dropped as they are met and
whenever a new one is made, so the tables stay as small as their live use.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from l2pop.server.auth import AdminToken, hash_token, new_token

__all__ = ["COOKIE", "SESSION_TTL_S", "VIEWER_TTL_S", "Grant", "UiAuth"]

COOKIE = "l2pop_session"
SESSION_TTL_S = 12 * 3600.0
VIEWER_TTL_S = 7 * 24 * 3600.0
MAX_TTL_S = 365 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Grant:
    role: str  # "admin" or "viewer"
    expires: float


@dataclass
class UiAuth:
    admin: AdminToken
    clock: Callable[[], float] = time.time
    _viewers: dict[str, Grant] = field(default_factory=dict)  # token hash -> grant
    _sessions: dict[str, Grant] = field(default_factory=dict)  # session id hash -> grant

    def issue_viewer(self, ttl: float = VIEWER_TTL_S) -> tuple[str, float]:
        """A new read-only token; returns it and when it expires (epoch seconds)."""
        self._expire()
        token = new_token()
        grant = Grant("viewer", self.clock() + min(ttl, MAX_TTL_S))
        self._viewers[hash_token(token)] = grant
        return token, grant.expires

    def role_of_token(self, token: str) -> str | None:
        """'admin', 'viewer', or None for anything else (expired included)."""
        digest = hash_token(token)
        if self.admin.matches(digest):
            return "admin"
        return self._live(self._viewers, digest)

    def login(self, token: str) -> tuple[str, str] | None:
        """A session for a valid token: (session id, role); None otherwise."""
        role = self.role_of_token(token.strip())
        if role is None:
            return None
        self._expire()
        session = new_token()
        self._sessions[hash_token(session)] = Grant(role, self.clock() + SESSION_TTL_S)
        return session, role

    def role_of_session(self, session: str | None) -> str | None:
        if not session:
            return None
        return self._live(self._sessions, hash_token(session))

    def logout(self, session: str | None) -> None:
        if session:
            self._sessions.pop(hash_token(session), None)

    def _live(self, table: dict[str, Grant], digest: str) -> str | None:
        # Looked up by a hash of 256 random bits: timing tells nothing usable.
        grant = table.get(digest)
        if grant is None:
            return None
        if grant.expires <= self.clock():
            del table[digest]
            return None
        return grant.role

    def _expire(self) -> None:
        now = self.clock()
        for table in (self._viewers, self._sessions):
            for key in [k for k, g in table.items() if g.expires <= now]:
                del table[key]
