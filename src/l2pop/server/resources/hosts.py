"""Hosts and the agent API: registration, tokens, /state, status reports.

The watch streams are :mod:`l2pop.server.watch`'s.
"""

from __future__ import annotations

from l2pop.core import Port, PortEvent, desired
from l2pop.core.wire import encode_state
from l2pop.errors import ConflictError, ForbiddenError
from l2pop.server.auth import Principal, hash_token, new_token
from l2pop.server.ratelimit import StatusRateLimit
from l2pop.server.records import HOST, PORT, HostNotFound, host_view
from l2pop.server.resources.ports import PortNotFound, PortOps
from l2pop.server.resources.validate import parse_host, parse_status
from l2pop.server.service import Service, utc_iso, utc_now
from l2pop.server.store.base import ABSENT, INDEX, JSON, Delete, Liveness, Op, Put

__all__ = ["HostNotFound", "HostOps"]


class HostInUse(ConflictError):
    neutron_type = "HostInUse"


class HostOps:
    def __init__(self, service: Service, ports: PortOps) -> None:
        self.service = service
        self.ports = ports
        config = service.config
        self.status_limit = StatusRateLimit(
            config.status_rate, config.status_burst, service.metrics.registry
        )

    def _stored(self, name: str) -> JSON:
        stored = self.service.view.get(HOST, name)
        if stored is None:
            raise HostNotFound(f"Host {name} is not registered.")
        return stored.value

    def show(self, name: str) -> JSON:
        return self._decorate(self._stored(name))

    def all(self) -> list[JSON]:
        hosts = sorted(self.service.view.values(HOST), key=lambda h: str(h["name"]))
        return [self._decorate(h) for h in hosts]

    def _decorate(self, record: JSON) -> JSON:
        out = host_view(record)
        seen = self.service.last_seen.get(record["name"])
        out["last_seen"] = None if seen is None else utc_iso(seen)
        liveness = self._liveness()
        if liveness is not None:
            out["alive"] = liveness.alive(record["name"])
        else:  # one replica: alive while its agent's watch stream is open here
            out["alive"] = self.service.hub.watching(record["name"])
        return out

    def _liveness(self) -> Liveness | None:
        """The store's host liveness (etcd leases), or None (SQLite: one replica)."""
        shared = self.service.store.shared
        return None if shared is None else shared.liveness

    async def register(self, body: object) -> tuple[JSON, str]:
        name, tunnel_ip = parse_host(body)
        token = new_token()

        def build() -> list[Op]:
            view = self.service.view
            if view.get(HOST, name) is not None:
                raise HostInUse(f"Host {name} is already registered.")
            for other in view.values(HOST):
                if other["tunnel_ip"] == tunnel_ip:
                    raise HostInUse(f"Tunnel IP {tunnel_ip} is already used by {other['name']}.")
            record = {
                "name": name,
                "tunnel_ip": tunnel_ip,
                "token_hash": hash_token(token),
                "created_at": utc_now(),
            }
            return [
                Put(HOST, name, record, ABSENT),
                Put(INDEX, f"tunnel_ip/{tunnel_ip}", {"owner": f"host/{name}"}, ABSENT),
            ]

        await self.service.write(build)
        return self.show(name), token

    async def new_token(self, name: str) -> tuple[JSON, str]:
        token = new_token()

        def build() -> list[Op]:
            stored = self.service.view.get(HOST, name)
            if stored is None:
                raise HostNotFound(f"Host {name} is not registered.")
            record = {**stored.value, "token_hash": hash_token(token)}
            return [Put(HOST, name, record, stored.mod_revision)]

        await self.service.write(build)
        return self.show(name), token

    async def delete(self, name: str) -> None:
        """Unregister: the token stops working, bound ports go DOWN (still bound)."""

        def build() -> list[Op]:
            view = self.service.view
            stored = view.get(HOST, name)
            if stored is None:
                raise HostNotFound(f"Host {name} is not registered.")
            ops: list[Op] = [
                Delete(HOST, name, stored.mod_revision),
                Delete(INDEX, f"tunnel_ip/{stored.value['tunnel_ip']}"),
            ]
            for port in self._bound_ports(name):
                rec = view.records[PORT][port.id]
                if rec.value["status"] != "DOWN":
                    new = {**rec.value, "status": "DOWN", "updated_at": utc_now()}
                    new["revision_number"] = rec.value["revision_number"] + 1
                    ops.append(Put(PORT, port.id, new, rec.mod_revision))
            return ops

        await self.service.write(build)

    def _bound_ports(self, name: str) -> list[Port]:
        snapshot = self.service.view.snapshot
        out: list[Port] = []
        for net in snapshot.networks.values():
            for port_id in net.bound.get(name, ()):
                out.append(net.ports[port_id])
        return out

    def state(self, principal: Principal, name: str) -> JSON:
        principal.require_host(name)
        self._stored(name)
        view = self.service.view
        ports = sorted(self._bound_ports(name), key=lambda p: p.id)
        return encode_state(name, view.revision, desired(view.snapshot, name), ports)

    async def report_status(
        self, principal: Principal, name: str, port_id: str, body: object
    ) -> JSON:
        principal.require_host(name)
        if not principal.admin:
            self.status_limit.take(name)
        status = parse_status(body)
        liveness = self._liveness()
        if liveness is not None and not principal.admin:
            await liveness.seen(name)
        stored = self.service.view.get(PORT, port_id)
        if stored is None:
            raise PortNotFound(f"Port {port_id} could not be found.")
        bound_to = stored.value["binding:host_id"]
        if bound_to != name:
            raise ForbiddenError(f"Port {port_id} is not bound to host {name}.")
        event = PortEvent.DEVICE_UP if status == "ACTIVE" else PortEvent.DEVICE_DOWN
        record = await self.ports.set_status(port_id, event)
        if record["binding:host_id"] != name:
            raise ForbiddenError(f"Port {port_id} is not bound to host {name}.")
        return record
