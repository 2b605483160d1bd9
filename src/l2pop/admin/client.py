"""A small synchronous client of the server's admin API, with readable errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from l2pop.tlsclient import ClientTls, httpx_verify

__all__ = ["AdminClient", "AdminError"]

JSON = dict[str, Any]


class AdminError(Exception):
    """Something the user should read: the server's NeutronError, or why it was unreachable."""


@dataclass
class AdminClient:
    url: str
    token: str
    timeout: float = 10.0
    tls: ClientTls | None = None

    def call(
        self, method: str, path: str, body: JSON | None = None, params: JSON | None = None
    ) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = httpx.request(
                method,
                self.url.rstrip("/") + path,
                json=body,
                params=query,
                headers={"X-Auth-Token": self.token},
                timeout=self.timeout,
                verify=httpx_verify(self.tls),
            )
        except httpx.HTTPError as exc:
            raise AdminError(f"cannot reach the server at {self.url}: {exc}") from None
        if response.status_code >= 400:
            raise AdminError(_describe(response))
        return response.json() if response.content else None

    # Networks -------------------------------------------------------------
    def networks(self) -> list[JSON]:
        out: list[JSON] = self.call("GET", "/v2.0/networks")["networks"]
        return out

    def network(self, network_id: str) -> JSON:
        out: JSON = self.call("GET", f"/v2.0/networks/{network_id}")["network"]
        return out

    def create_network(self, fields: JSON) -> JSON:
        out: JSON = self.call("POST", "/v2.0/networks", {"network": fields})["network"]
        return out

    def delete_network(self, network_id: str) -> None:
        self.call("DELETE", f"/v2.0/networks/{network_id}")

    # Ports ----------------------------------------------------------------
    def ports(self, **filters: str | None) -> list[JSON]:
        out: list[JSON] = self.call("GET", "/v2.0/ports", params=dict(filters))["ports"]
        return out

    def port(self, port_id: str) -> JSON:
        out: JSON = self.call("GET", f"/v2.0/ports/{port_id}")["port"]
        return out

    def create_port(self, fields: JSON) -> JSON:
        out: JSON = self.call("POST", "/v2.0/ports", {"port": fields})["port"]
        return out

    def update_port(self, port_id: str, fields: JSON) -> JSON:
        out: JSON = self.call("PUT", f"/v2.0/ports/{port_id}", {"port": fields})["port"]
        return out

    def delete_port(self, port_id: str) -> None:
        self.call("DELETE", f"/v2.0/ports/{port_id}")

    # Hosts ----------------------------------------------------------------
    def hosts(self) -> list[JSON]:
        out: list[JSON] = self.call("GET", "/v1/hosts")["hosts"]
        return out

    def add_host(self, name: str, tunnel_ip: str) -> JSON:
        out: JSON = self.call("POST", "/v1/hosts", {"name": name, "tunnel_ip": tunnel_ip})
        return out

    def delete_host(self, name: str) -> None:
        self.call("DELETE", f"/v1/hosts/{name}")

    def state(self, host: str) -> JSON:
        out: JSON = self.call("GET", f"/v1/hosts/{host}/state")
        return out


def _describe(response: httpx.Response) -> str:
    try:
        error = response.json()["NeutronError"]
        return f"{response.status_code} {error['type']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code}: {response.text[:200]}"
