"""A small etcd v3 client: several endpoints, TLS, user/password, bounded retries.

aetcd's ``Client`` talks to one ``host:port`` over plaintext only, so the store
uses aetcd's generated gRPC stubs (``aetcd.rpc``, etcd's own protobufs) over
``grpc.aio`` channels it builds itself: one channel per endpoint, TLS when the
endpoint is ``https://`` or a CA is given, and an auth token as call metadata.

A call that fails because the member is gone or has no leader moves the client
on to the next endpoint (once per failed endpoint, however many calls saw it).
Only idempotent requests are retried here (:meth:`EtcdClient.call`); a write
transaction is sent once per :meth:`EtcdClient.once`, and the store decides
(:mod:`l2pop.server.store.etcd`) whether a failed attempt may have landed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from aetcd import rpc

from l2pop.errors import StoreUnavailableError, ValidationError

__all__ = ["Endpoint", "EtcdClient", "EtcdCredentials", "is_retryable", "parse_endpoints"]

log = logging.getLogger(__name__)

# One attempt against one member; a dead member fails fast (connection
# refused), a member without quorum hangs until this runs out.
ATTEMPT_S = 1.5
RETRY_PAUSE_S = 0.05
# etcd refuses pings more often than --grpc-keepalive-min-time (default 5 s).
KEEPALIVE_MS = 10_000
# Ask etcd to cancel watches on a member that lost its leader (etcd's
# "WithRequireLeader"), so a partitioned member cannot silently stall a watch.
REQUIRE_LEADER = ("hasleader", "true")
_STUBS = {"kv": rpc.KVStub, "lease": rpc.LeaseStub, "maintenance": rpc.MaintenanceStub}
_RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.UNKNOWN,
}


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    tls: bool

    @property
    def target(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class EtcdCredentials:
    """Files and names given on the command line (``--etcd-ca`` ...)."""

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    user: str | None = None
    password_file: Path | None = None


def parse_endpoints(text: str, *, tls_default: bool = False) -> list[Endpoint]:
    """``host:port`` or ``http(s)://host:port``, comma-separated."""
    endpoints = []
    for raw in (part.strip() for part in text.split(",")):
        if not raw:
            continue
        scheme, sep, rest = raw.partition("://")
        if not sep:
            scheme, rest = "", raw
        if scheme not in ("", "http", "https"):
            raise ValidationError("--etcd", raw, "scheme must be http:// or https://")
        host, colon, port = rest.rstrip("/").rpartition(":")
        host = host.strip("[]")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValidationError("--etcd", raw, "expected host:port, e.g. 127.0.0.1:2379")
        tls = scheme == "https" or (scheme == "" and tls_default)
        endpoints.append(Endpoint(host, int(port), tls))
    if not endpoints:
        raise ValidationError("--etcd", text, "no endpoint given")
    return endpoints


def is_retryable(exc: grpc.aio.AioRpcError) -> bool:
    """The member is gone, unreachable or without leader: another may answer."""
    details = (exc.details() or "").lower()
    return exc.code() in _RETRYABLE or "no leader" in details or "timed out" in details


def _is_auth_expired(exc: grpc.aio.AioRpcError) -> bool:
    return "invalid auth token" in (exc.details() or "").lower()


def _read(path: Path | None) -> bytes | None:
    return None if path is None else path.read_bytes()


class EtcdClient:
    """Channels to the endpoints; ``call`` retries idempotent requests across them."""

    def __init__(self, endpoints: str, credentials: EtcdCredentials) -> None:
        self._creds = credentials
        self.endpoints = parse_endpoints(endpoints, tls_default=credentials.ca is not None)
        if (credentials.user is None) != (credentials.password_file is None):
            raise ValidationError(
                "--etcd-user", credentials.user, "--etcd-user and --etcd-password-file go together"
            )
        self._password = (
            None
            if credentials.password_file is None
            else credentials.password_file.read_text().rstrip("\r\n")
        )
        self._channels: dict[int, grpc.aio.Channel] = {}
        # Stubs per (endpoint, service): building one makes every method's callable.
        self._stubs: dict[tuple[int, str], Any] = {}
        self._current = 0
        self._token: str | None = None

    @property
    def endpoint(self) -> Endpoint:
        return self.endpoints[self._current]

    def _channel(self) -> grpc.aio.Channel:
        index = self._current
        channel = self._channels.get(index)
        if channel is None:
            endpoint = self.endpoints[index]
            options = [
                ("grpc.max_receive_message_length", 64 * 1024 * 1024),
                # A member that vanished without a reset (power loss, partition)
                # must not hold the watch forever: ping, and give up after 5 s.
                ("grpc.keepalive_time_ms", KEEPALIVE_MS),
                ("grpc.keepalive_timeout_ms", 5_000),
                ("grpc.keepalive_permit_without_calls", 1),
            ]
            if endpoint.tls:
                credentials = grpc.ssl_channel_credentials(
                    root_certificates=_read(self._creds.ca),
                    private_key=_read(self._creds.key),
                    certificate_chain=_read(self._creds.cert),
                )
                channel = grpc.aio.secure_channel(endpoint.target, credentials, options)
            else:
                channel = grpc.aio.insecure_channel(endpoint.target, options)
            self._channels[index] = channel
        return channel

    @property
    def current(self) -> int:
        return self._current

    def rotate(self, failed: int | None = None) -> None:
        """Use the next endpoint after a failure of endpoint ``failed`` (default: the
        current one); a no-op when another caller already moved past it."""
        if failed is None or failed == self._current:
            self._current = (self._current + 1) % len(self.endpoints)

    def metadata(self, *extra: tuple[str, str]) -> tuple[tuple[str, str], ...]:
        token = () if self._token is None else (("token", self._token),)
        return (*token, *extra)

    async def authenticate(self, timeout: float) -> None:
        if self._creds.user is None or self._password is None:
            return
        stub = rpc.AuthStub(self._channel())
        request = rpc.AuthenticateRequest(name=self._creds.user, password=self._password)
        response = await stub.Authenticate(request, timeout=timeout)
        self._token = str(response.token)

    async def ready(self, timeout: float) -> None:
        """Authenticate first when credentials are configured and no token is held."""
        if self._token is None:
            await self.authenticate(timeout)

    def _stub(self, service: str) -> Any:
        key = (self._current, service)
        stub = self._stubs.get(key)
        if stub is None:
            stub = self._stubs[key] = _STUBS[service](self._channel())
        return stub

    def channel(self) -> grpc.aio.Channel:
        """The channel to the current endpoint."""
        return self._channel()

    async def once(self, stub: str, method: str, request: Any, timeout: float) -> Any:
        """One attempt on the current endpoint (re-authenticating once if needed)."""
        for attempt in range(2):
            index = self._current
            try:
                await self.ready(timeout)
                fn = getattr(self._stub(stub), method)
                return await fn(request, timeout=timeout, metadata=self.metadata())
            except grpc.aio.AioRpcError as exc:
                if attempt == 0 and _is_auth_expired(exc):
                    self._token = None
                    continue
                if is_retryable(exc):
                    log.debug("etcd %s on %s failed: %s", method, self.endpoint.target, exc.code())
                    self.rotate(failed=index)
                raise
        raise AssertionError("unreachable")

    async def call(self, stub: str, method: str, request: Any, *, within: float) -> Any:
        """An idempotent request, retried on other endpoints for ``within`` seconds."""
        deadline = time.monotonic() + within
        last = "no attempt"
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                return await self.once(stub, method, request, min(ATTEMPT_S, remaining))
            except grpc.aio.AioRpcError as exc:
                if not is_retryable(exc):  # e.g. bad credentials: say it plainly
                    raise StoreUnavailableError(f"etcd {method}: {exc.details()}") from None
                last = f"{exc.code().name} {exc.details()}"
                await asyncio.sleep(min(RETRY_PAUSE_S, max(0.0, deadline - time.monotonic())))
        raise StoreUnavailableError(f"etcd did not answer within {within:g} s ({last})")

    def watch(self, requests: AsyncIterator[Any]) -> Any:
        """A bidirectional watch stream on the current endpoint (``current`` tells
        which, to pass to :meth:`rotate` when it fails)."""
        stub = rpc.WatchStub(self._channel())
        return stub.Watch(requests, metadata=self.metadata(REQUIRE_LEADER))

    async def close(self) -> None:
        channels, self._channels = self._channels, {}
        self._stubs.clear()
        for channel in channels.values():
            await channel.close()
