"""The host API as the agent uses it: list, watch, report port status; with failover.

Several server URLs may be given; the agent ranks them by a stable hash of
its host name (:mod:`l2pop.agent.servers`, so agents spread over replicas);
requests go to the current one, and a transport failure or a ``5xx`` moves
to the next in that ranking. A watch resumes from the
last revision on whichever server answers (they share one store, so one
revision means the same state everywhere). Answers are decoded with
:mod:`l2pop.core.wire`; anything that does not decode is a ValidationError.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from l2pop.agent.servers import rank_servers
from l2pop.core.model import PortStatus
from l2pop.core.state import HostState
from l2pop.core.wire import (
    Bookmark,
    HostPort,
    UnknownLine,
    WatchLine,
    decode_line,
    decode_state,
)
from l2pop.errors import (
    AuthError,
    ForbiddenError,
    GoneError,
    L2popError,
    NotFoundError,
    ServerUnreachableError,
    ValidationError,
)
from l2pop.protocol import HEADER, PROTOCOL_VERSION
from l2pop.tlsclient import ClientTls, LiveClientTls, httpx_verify

__all__ = [
    "Bookmark",
    "HostApi",
    "Listing",
    "RateLimited",
    "UnknownLine",
    "WatchLine",
    "WatchLineTooLong",
    "line_batches",
    "parse_line",
]

KEEPALIVE_EXPIRY_S = 2.0
# The longest watch line the agent buffers. A change line carries one revision's
# delta for this host (a few KiB; a network's whole state at most): a line
# growing past this without its newline is a broken or hostile server, and the
# agent lists again instead of buffering without bound.
MAX_LINE_BYTES = 16 * 1024 * 1024
# The longest wait a 429's Retry-After may ask for (a garbled header: 1 s).
MAX_RETRY_AFTER_S = 60.0

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Listing:
    """A ``/state`` answer."""

    revision: int
    state: HostState
    ports: tuple[HostPort, ...]


class WatchLineTooLong(ValidationError):
    """A watch line over :data:`MAX_LINE_BYTES`: the stream cannot be trusted."""


class RateLimited(L2popError):
    """``429``: the server asks this host to wait ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retry_after_of(response: httpx.Response) -> float:
    """The ``Retry-After`` of an answer in seconds (delta form), bounded."""
    raw = response.headers.get("retry-after", "")
    try:
        seconds = float(raw)
    except ValueError:
        return 1.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S) if seconds == seconds else 1.0


def parse_line(text: str) -> WatchLine:
    """One NDJSON watch line (:func:`l2pop.core.wire.decode_line`); ValidationError when
    it is not one the agent can trust."""
    return decode_line(text)


def _error_for(response: httpx.Response) -> L2popError:
    """The project error for a non-2xx answer (the NeutronError message when present)."""
    detail = response.text[:300]
    status = response.status_code
    where = f"{response.request.method} {response.request.url}"
    if status == 410:
        return GoneError(f"{where}: 410 {detail}")
    if status == 404:
        return NotFoundError(f"{where}: 404 {detail}")
    if status == 401:
        return AuthError(f"{where}: 401 {detail}")
    if status == 403:
        return ForbiddenError(f"{where}: 403 {detail}")
    if status == 429:
        return RateLimited(f"{where}: 429 {detail}", retry_after_of(response))
    if status >= 500:
        return ServerUnreachableError(f"{where}: {status} {detail}")
    return ValidationError("request", where, f"server answered {status}: {detail}")


class HostApi:
    """The agent's HTTP client. One per agent; ``aclose`` when done."""

    def __init__(
        self,
        urls: Sequence[str],
        host: str,
        token: str,
        *,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        tls: ClientTls | LiveClientTls | None = None,
    ) -> None:
        if not urls:
            raise ValueError("at least one server URL")
        self._urls = rank_servers(urls, host)
        self._index = 0
        self._host = host
        self._timeout = timeout
        self._client = httpx.AsyncClient(
            headers={"X-Auth-Token": token, HEADER: str(PROTOCOL_VERSION)},
            timeout=timeout,
            transport=transport,
            verify=httpx_verify(tls),
            # uvicorn closes idle keep-alive connections after 5 s: drop ours
            # first, or a report may go out on a socket the server just closed.
            limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY_S),
        )

    @property
    def url(self) -> str:
        """The server currently in use."""
        return self._urls[self._index]

    @property
    def url_count(self) -> int:
        return len(self._urls)

    def set_token(self, token: str) -> None:
        """Use a new token from now on (a rotated one)."""
        self._client.headers["X-Auth-Token"] = token

    def fail_over(self) -> str:
        """Move to the next server URL (round robin); return it."""
        self._index = (self._index + 1) % len(self._urls)
        return self.url

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """One request, trying each server once from the current one; 2xx or an error."""
        last: str = ""
        for _ in range(len(self._urls)):
            url = self.url + path
            try:
                response = await self._client.request(method, url, json=body)
            except httpx.TransportError as exc:
                last = f"{method} {url}: {type(exc).__name__}: {exc}"
                log.warning("server %s unreachable (%s), trying the next", self.url, last)
                self.fail_over()
                continue
            if response.status_code >= 500:
                last = f"{method} {url}: {response.status_code} {response.text[:200]}"
                log.warning("server %s failed (%s), trying the next", self.url, last)
                self.fail_over()
                continue
            if response.is_success:
                return response
            raise _error_for(response)
        raise ServerUnreachableError(f"no server answered; last: {last}")

    async def list_state(self) -> Listing:
        """``GET /v1/hosts/{host}/state``, decoded."""
        response = await self._request("GET", f"/v1/hosts/{self._host}/state")
        try:
            body = response.json()
        except ValueError:
            raise ValidationError("state", response.text[:200], "not JSON") from None
        revision, state, ports = decode_state(body)
        return Listing(revision, state, ports)

    async def report_status(self, port_id: str, status: PortStatus) -> None:
        """``PUT /v1/hosts/{host}/ports/{id}/status``."""
        path = f"/v1/hosts/{self._host}/ports/{port_id}/status"
        await self._request("PUT", path, {"status": status.value})

    async def report_agent(self, revision: int, endpoint: str | None) -> None:
        """``PUT /v1/hosts/{host}/agent``: the revision applied and the endpoint's URL."""
        body = {"revision": revision, "endpoint": endpoint}
        await self._request("PUT", f"/v1/hosts/{self._host}/agent", body)

    @asynccontextmanager
    async def watch(self, revision: int, idle_timeout: float) -> AsyncIterator[AsyncIterator[str]]:
        """Like :meth:`watch_batches`, one line at a time."""
        async with self.watch_batches(revision, idle_timeout) as batches:
            yield _one_by_one(batches)

    @asynccontextmanager
    async def watch_batches(
        self, revision: int, idle_timeout: float
    ) -> AsyncIterator[AsyncIterator[list[str]]]:
        """Open ``watch?revision=R`` on the current server; yields its lines in batches:
        every complete line that one network read brought (a catch-up after a reconnect
        brings hundreds at once, and the agent reconciles once per batch).

        Raises GoneError (410), ServerUnreachableError (transport, 5xx), or the
        error of another non-200 answer. Silence for ``idle_timeout`` s ends the
        stream with ServerUnreachableError (a dead peer sends no FIN).
        """
        url = f"{self.url}/v1/hosts/{self._host}/watch"
        timeout = httpx.Timeout(self._timeout, read=idle_timeout)
        try:
            async with self._client.stream(
                "GET", url, params={"revision": str(revision)}, timeout=timeout
            ) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise _error_for(response)
                yield line_batches(response.aiter_bytes())
        except httpx.TransportError as exc:
            raise ServerUnreachableError(f"watch {url}: {type(exc).__name__}: {exc}") from exc


async def _one_by_one(batches: AsyncIterator[list[str]]) -> AsyncIterator[str]:
    async for lines in batches:
        for line in lines:
            yield line


async def line_batches(chunks: AsyncIterator[bytes]) -> AsyncIterator[list[str]]:
    """Complete NDJSON lines, grouped by the chunk that completed them; blank lines dropped.
    A last line without its newline is still delivered when the stream ends."""
    parts: list[bytes] = []  # the unfinished line, joined only once its newline came
    pending = 0  # bytes in parts
    async for chunk in chunks:
        parts.append(chunk)
        pending += len(chunk)
        if b"\n" not in chunk:
            if pending > MAX_LINE_BYTES:
                raise WatchLineTooLong("watch line", f"{pending} bytes", "no newline: too long")
            continue
        *complete, rest = b"".join(parts).split(b"\n")
        parts = [rest] if rest else []
        pending = len(rest)
        if pending > MAX_LINE_BYTES:
            raise WatchLineTooLong("watch line", f"{pending} bytes", "no newline: too long")
        lines = [line.decode(errors="replace") for line in complete if line.strip()]
        if lines:
            yield lines
    tail = b"".join(parts)
    if tail.strip():
        yield [tail.decode(errors="replace")]
