"""The few API calls the simulator makes, over one shared ``httpx.AsyncClient``.

Admin calls (the "cloud": networks, ports, hosts) use the admin token; status
reports use the reporting host's own token, as a real agent does. Given the
client's :class:`~l2pop.sim.transport.FastTransport`, the calls skip httpx's
request and response models (half the driver's CPU at hundreds of changes a
second) and go straight to the transport; the agents keep their own client.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from l2pop.core import Host, Network, Port, PortStatus
from l2pop.sim.transport import FastTransport

__all__ = ["ApiError", "SimApi"]

TRANSPORT_RETRIES = 2

JSON = dict[str, Any]


class ApiError(RuntimeError):
    """The server answered a simulator call with an unexpected status."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} -> {status}: {body[:300]}")
        self.status = status


@dataclass(frozen=True, slots=True)
class _Answer:
    """What the calls read of an answer (``httpx.Response`` has the same names)."""

    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class SimApi:
    def __init__(
        self,
        client: httpx.AsyncClient,
        admin_token: str,
        fast: FastTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.client = client
        self.admin_token = admin_token
        self.retries = 0  # requests sent again after a closed keep-alive connection
        self.fast = fast
        self.timeout = timeout
        self.ca_file: str | None = None  # the server's CA, for the agents' own clients
        url = urlsplit(self.base_url)
        self._key = (url.hostname or "127.0.0.1", url.port or 80)
        self._prefix = url.path.rstrip("/")

    @property
    def base_url(self) -> str:
        return str(self.client.base_url).rstrip("/")

    async def _call(
        self, method: str, path: str, body: JSON | None = None, *, token: str | None = None
    ) -> JSON:
        headers = {"X-Auth-Token": token or self.admin_token}
        response = await self._send(method, path, body, headers)
        if response.status_code >= 300:
            raise ApiError(method, path, response.status_code, response.text)
        if response.status_code == 204 or not response.content:
            return {}
        data: JSON = response.json()
        return data

    async def _send(
        self, method: str, path: str, body: JSON | None, headers: dict[str, str]
    ) -> httpx.Response | _Answer:
        """One request; sent again when a pooled keep-alive connection turns out closed
        by the server (it closes idle ones): the request never reached it then."""
        for attempt in range(TRANSPORT_RETRIES + 1):
            try:
                if self.fast is not None:
                    return await self._exchange(self.fast, method, path, body, headers)
                return await self.client.request(method, path, json=body, headers=headers)
            except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError):
                if attempt == TRANSPORT_RETRIES:
                    raise
                self.retries += 1
        raise AssertionError("unreachable")  # pragma: no cover

    async def _exchange(
        self,
        fast: FastTransport,
        method: str,
        path: str,
        body: JSON | None,
        headers: dict[str, str],
    ) -> _Answer:
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        data = b""
        if body is not None:
            data = json.dumps(body).encode()
            lines += "Content-Type: application/json\r\n"
        status, content = await fast.exchange(
            self._key, method, self._prefix + path, lines.encode(), data, self.timeout
        )
        return _Answer(status, content)

    async def register_host(self, host: Host) -> str:
        """Register ``host``; return its token."""
        body = {"name": host.name, "tunnel_ip": host.tunnel_ip}
        answer = await self._call("POST", "/v1/hosts", body)
        token: str = answer["token"]
        return token

    async def create_network(self, network: Network) -> str:
        body = {
            "network": {
                "name": network.name,
                "provider:network_type": "vxlan",
                "provider:segmentation_id": network.vni,
                "mtu": network.mtu,
            }
        }
        answer = await self._call("POST", "/v2.0/networks", body)
        net_id: str = answer["network"]["id"]
        return net_id

    async def create_port(
        self, network_id: str, mac: str, ips: tuple[str, ...], host: str = ""
    ) -> str:
        port: JSON = {
            "network_id": network_id,
            "mac_address": mac,
            "fixed_ips": [{"ip_address": ip} for ip in ips],
        }
        if host:
            port["binding:host_id"] = host
        body = {"port": port}
        answer = await self._call("POST", "/v2.0/ports", body)
        port_id: str = answer["port"]["id"]
        return port_id

    async def find_port(self, network_id: str, mac: str) -> str | None:
        """The id of the port with ``mac`` on ``network_id``, if there is one."""
        path = f"/v2.0/ports?network_id={network_id}&mac_address={mac}"
        answer = await self._call("GET", path)
        ports = answer.get("ports", [])
        return str(ports[0]["id"]) if ports else None

    async def bind_port(self, port_id: str, host: str) -> None:
        await self._call("PUT", f"/v2.0/ports/{port_id}", {"port": {"binding:host_id": host}})

    async def delete_port(self, port_id: str) -> None:
        await self._call("DELETE", f"/v2.0/ports/{port_id}")

    async def report_status(self, host: str, token: str, port_id: str, status: str) -> None:
        path = f"/v1/hosts/{host}/ports/{port_id}/status"
        await self._call("PUT", path, {"status": status}, token=token)

    async def host_state(self, host: str, token: str) -> JSON:
        return await self._call("GET", f"/v1/hosts/{host}/state", token=token)

    async def list_networks(self) -> list[Network]:
        answer = await self._call("GET", "/v2.0/networks")
        return [
            Network(
                n["id"],
                n["provider:segmentation_id"],
                name=n.get("name", ""),
                mtu=n.get("mtu", 1450),
            )
            for n in answer["networks"]
        ]

    async def list_ports(self) -> list[Port]:
        answer = await self._call("GET", "/v2.0/ports")
        return [
            Port(
                p["id"],
                p["network_id"],
                p["mac_address"],
                tuple(ip["ip_address"] for ip in p.get("fixed_ips", [])),
                host=p.get("binding:host_id") or "",
                status=PortStatus(p["status"]),
                admin_state_up=p.get("admin_state_up", True),
            )
            for p in answer["ports"]
        ]

    async def list_hosts(self) -> list[Host]:
        answer = await self._call("GET", "/v1/hosts")
        return [Host(h["name"], h["tunnel_ip"]) for h in answer["hosts"]]
