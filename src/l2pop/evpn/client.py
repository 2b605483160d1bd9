"""The server API as a gateway uses it: its token, the feed, remote endpoint writes."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from l2pop.core import RemoteEndpoint
from l2pop.errors import AuthError, ForbiddenError, GoneError, ServerUnreachableError
from l2pop.tlsclient import ClientTls, httpx_verify

__all__ = ["GatewayApi", "endpoint_body"]

log = logging.getLogger(__name__)

JSON = dict[str, Any]


def endpoint_body(ep: RemoteEndpoint) -> JSON:
    body: JSON = {"network_id": ep.network_id, "type": str(ep.kind), "vtep": ep.vtep}
    if ep.mac is not None:
        body["mac_address"] = ep.mac
        body["ip_address"] = ep.ip
    return body


class GatewayApi:
    def __init__(self, url: str, token: str, ca_file: Path | None = None) -> None:
        verify = httpx_verify(ClientTls(ca_file))
        timeout = httpx.Timeout(10.0, read=None)
        self.token = token
        self.client = httpx.AsyncClient(base_url=url.rstrip("/"), verify=verify, timeout=timeout)

    async def close(self) -> None:
        await self.client.aclose()

    def _headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.token}

    async def _call(self, method: str, path: str, body: JSON | None = None) -> Any:
        try:
            response = await self.client.request(method, path, json=body, headers=self._headers())
        except httpx.HTTPError as exc:
            raise ServerUnreachableError(f"{method} {path}: {exc!r}") from None
        _raise_for(response, f"{method} {path}")
        return response.json() if response.content else None

    async def state(self) -> JSON:
        answer: JSON = await self._call("GET", "/v1/evpn/state")
        return answer

    async def become_gateway(self, name: str) -> None:
        """Given the admin token: register gateway ``name`` (or issue it a new token,
        which revokes the old) and use its token from now on."""
        try:
            answer = await self._call("POST", "/v1/gateways", {"name": name})
        except _Conflict:
            answer = await self._call("POST", f"/v1/gateways/{name}/token")
        self.token = str(answer["token"])

    async def write(self, add: Iterable[RemoteEndpoint], remove: Iterable[RemoteEndpoint]) -> int:
        body = {
            "add": [endpoint_body(e) for e in add],
            "remove": [endpoint_body(e) for e in remove],
        }
        answer = await self._call("POST", "/v1/remote-endpoints", body)
        return int(answer["revision"])

    async def rd_index(self, network_id: str) -> int:
        """The RD number of a network whose VNI is over 65,535 (allocated once, kept)."""
        answer = await self._call("POST", "/v1/evpn/rd-indexes", {"network_id": network_id})
        return int(answer["rd_index"]["index"])

    @asynccontextmanager
    async def watch(self, revision: int) -> AsyncIterator[AsyncIterator[JSON]]:
        """The feed's lines after ``revision``; GoneError when it is too old."""
        path = f"/v1/evpn/watch?revision={revision}"
        try:
            async with self.client.stream("GET", path, headers=self._headers()) as response:
                if response.status_code >= 400:
                    await response.aread()
                    _raise_for(response, f"GET {path}")
                yield _lines(response)
        except httpx.HTTPError as exc:
            raise ServerUnreachableError(f"watch: {exc!r}") from None


async def _lines(response: httpx.Response) -> AsyncIterator[JSON]:
    async for line in response.aiter_lines():
        if line.strip():
            yield json.loads(line)


class _Conflict(Exception):
    pass


def _raise_for(response: httpx.Response, what: str) -> None:
    status = response.status_code
    if status < 400:
        return
    text = response.text[:300]
    if status == 401:
        raise AuthError(f"{what}: {text}")
    if status == 403:
        raise ForbiddenError(f"{what}: {text}")
    if status == 409:
        raise _Conflict(text)
    if status == 410:
        raise GoneError(f"{what}: {text}")
    if status >= 500:
        raise ServerUnreachableError(f"{what}: {status} {text}")
    raise RuntimeError(f"{what}: {status} {text}")
