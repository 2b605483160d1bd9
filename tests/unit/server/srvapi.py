"""An in-process server (real SQLite in tmp_path) behind Starlette's TestClient."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from l2pop.server.api.app import create_app
from l2pop.server.api.fastpath import AgentFastPath
from l2pop.server.auth import AdminToken
from l2pop.server.metrics import Metrics
from l2pop.server.service import Service, ServiceConfig
from l2pop.server.store.sqlite import SQLiteStore

ADMIN = "admin-secret"


@dataclass
class Api:
    client: TestClient
    db: Path

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = ADMIN, **kw: Any
    ) -> tuple[int, Any]:
        headers = {"X-Auth-Token": token} if token else {}
        if body is not None and not isinstance(body, bytes | str):
            kw["json"] = body
        elif body is not None:
            kw["content"] = body
        response = self.client.request(method, path, headers=headers, **kw)
        return response.status_code, response.json() if response.content else None

    def ok(self, method: str, path: str, body: Any = None, token: str | None = ADMIN) -> Any:
        status, answer = self.call(method, path, body, token)
        assert status in (200, 201, 204), (status, answer)
        return answer

    def dump(self) -> tuple[int, list[tuple[str, str, str, int]]]:
        """Everything the store holds: revision and all records (index records included)."""
        with sqlite3.connect(self.db) as conn:
            revision = conn.execute("SELECT value FROM meta WHERE name='revision'").fetchone()[0]
            rows = conn.execute("SELECT * FROM records ORDER BY kind, key").fetchall()
        return int(revision), rows

    def network(self, **fields: Any) -> dict[str, Any]:
        network: dict[str, Any] = self.ok("POST", "/v2.0/networks", {"network": fields})["network"]
        return network

    def port(self, network_id: str, **fields: Any) -> dict[str, Any]:
        body = {"port": {"network_id": network_id, **fields}}
        port: dict[str, Any] = self.ok("POST", "/v2.0/ports", body)["port"]
        return port

    def host(self, name: str, tunnel_ip: str) -> str:
        token: str = self.ok("POST", "/v1/hosts", {"name": name, "tunnel_ip": tunnel_ip})["token"]
        return token


def make_api(tmp_path: Path, max_body: int = 1024 * 1024, retain: int = 10_000) -> Iterator[Api]:
    db = tmp_path / "l2pop.db"

    async def open_service() -> Service:
        store = SQLiteStore(db, retain=retain)
        config = ServiceConfig(bookmark_interval=0.2)
        return await Service.open(store, AdminToken(ADMIN), config, Metrics())

    app = AgentFastPath(create_app(open_service, max_body))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, db)
