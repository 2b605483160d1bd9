"""Ports: create, update (binding, addresses, admin state), delete, list, show.

The status is never taken from the client: :func:`l2pop.core.next_status`
decides it from what changed.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from l2pop.core import PortEvent, PortStatus, next_status
from l2pop.errors import ConflictError, NotFoundError
from l2pop.server.records import NETWORK, PORT, index_keys, port_of
from l2pop.server.resources.ipam import Allocator, Held, subnet_guards
from l2pop.server.resources.networks import NetworkNotFound
from l2pop.server.resources.validate import parse_port, unwrap
from l2pop.server.service import Service, utc_now
from l2pop.server.store.base import ABSENT, INDEX, JSON, Check, Delete, Op, Put, StoredRecord

__all__ = ["PortNotFound", "PortOps", "status_after"]


class PortNotFound(NotFoundError):
    neutron_type = "PortNotFound"


class MacAddressInUse(ConflictError):
    neutron_type = "MacAddressInUse"


class IpAddressInUse(ConflictError):
    neutron_type = "IpAddressInUse"


def status_after(old: JSON | None, new: JSON) -> str:
    """The lifecycle status of ``new`` (which carries the old status)."""
    port = port_of(new)
    if old is None or old["binding:host_id"] != new["binding:host_id"]:
        event = PortEvent.BIND if port.bound else PortEvent.UNBIND
    elif old["admin_state_up"] != new["admin_state_up"]:
        event = PortEvent.ADMIN_UP if port.admin_state_up else PortEvent.ADMIN_DOWN
    else:
        return str(port.status.value)
    return str(next_status(port, event).value)


class PortOps:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.allocator = Allocator(service.view)

    def stored(self, port_id: str) -> StoredRecord:
        stored = self.service.view.get(PORT, port_id)
        if stored is None:
            raise PortNotFound(f"Port {port_id} could not be found.")
        return stored

    def get(self, port_id: str) -> JSON:
        return self.stored(port_id).value

    def all(self) -> list[JSON]:
        return sorted(self.service.view.values(PORT), key=lambda p: str(p["id"]))

    def _check_unique(self, record: JSON, skip: str | None) -> None:
        """Duplicate MAC or fixed IP in the network -> 409 naming it (from the view's index)."""
        view, net_id = self.service.view, record["network_id"]
        owner = view.port_with_mac(net_id, record["mac_address"])
        if owner is not None and owner != skip:
            raise MacAddressInUse(
                f"Unable to complete operation for network {net_id}. "
                f"The mac address {record['mac_address']} is in use."
            )
        for ip in sorted({item["ip_address"] for item in record["fixed_ips"]}):
            owner = view.port_with_ip(net_id, ip)
            if owner is not None and owner != skip:
                raise IpAddressInUse(
                    f"Unable to complete operation for network {net_id}. "
                    f"The IP address {ip} is in use."
                )

    def _free_mac(self, network_id: str) -> str:
        used = self.service.view.macs_in_use(network_id)
        for _ in range(1000):
            mac = "fa:16:3e:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))
            if mac not in used:
                return mac
        raise ConflictError(f"no free MAC address found for network {network_id}")

    async def create(self, body: object) -> JSON:
        fields = parse_port(unwrap(body, "port"), create=True)
        port_id = str(uuid.uuid4())
        mac = fields.get("mac_address")
        held = Held(self.allocator)

        def build() -> list[Op]:
            held.release()  # a retry picks again, from the refreshed view
            network_id = fields["network_id"]
            network = self.service.view.get(NETWORK, network_id)
            if network is None:
                raise NetworkNotFound(f"Network {network_id} could not be found.")
            chosen_mac = mac or self._free_mac(network_id)
            record = _new_record(port_id, {**fields, "mac_address": chosen_mac})
            record["fixed_ips"] = self.allocator.resolve(record, fields.get("fixed_ips"), [], held)
            record["status"] = status_after(None, record)
            self._check_unique(record, skip=None)
            ops: list[Op] = [
                Check(NETWORK, network_id, network.mod_revision),
                *subnet_guards(self.service.view, record["fixed_ips"]),
                Put(PORT, port_id, record, ABSENT),
            ]
            ops += _claims(index_keys(PORT, record), port_id)
            return ops

        try:
            await self.service.write(build)
        finally:
            held.release()
        return self.get(port_id)

    async def update(self, port_id: str, body: object) -> JSON:
        fields = parse_port(unwrap(body, "port"), create=False)
        held = Held(self.allocator)

        def build() -> list[Op]:
            held.release()
            stored = self.stored(port_id)
            current = stored.value
            new = {**current, **fields}
            if "fixed_ips" in fields:  # freed and allocated in this one write
                new["fixed_ips"] = self.allocator.resolve(
                    new, fields["fixed_ips"], current["fixed_ips"], held
                )
            if "allowed_address_pairs" in fields:
                new["allowed_address_pairs"] = _default_pair_macs(
                    fields["allowed_address_pairs"], new["mac_address"]
                )
            if new["mac_address"] != current["mac_address"] and current["status"] == "ACTIVE":
                raise ConflictError(
                    f"Port {port_id} is ACTIVE: its MAC address cannot change "
                    "(unbind it or take it admin down first)."
                )
            new["status"] = status_after(current, new)
            if new == current:
                return []
            new["revision_number"] = current["revision_number"] + 1
            new["updated_at"] = utc_now()
            self._check_unique(new, skip=port_id)
            # Only newly used subnets need a guard: one the port already uses cannot go.
            added = [ip for ip in new["fixed_ips"] if ip not in current["fixed_ips"]]
            return [
                *subnet_guards(self.service.view, added),
                Put(PORT, port_id, new, stored.mod_revision),
                *_reindex(current, new, port_id),
            ]

        try:
            await self.service.write(build)
        finally:
            held.release()
        return self.get(port_id)

    async def delete(self, port_id: str) -> None:
        def build() -> list[Op]:
            stored = self.stored(port_id)
            ops: list[Op] = [Delete(PORT, port_id, stored.mod_revision)]
            ops += [Delete(INDEX, key) for key in index_keys(PORT, stored.value)]
            return ops

        await self.service.write(build)

    async def set_status(self, port_id: str, event: PortEvent) -> JSON:
        """Apply an agent's report (DEVICE_UP / DEVICE_DOWN); no write if nothing changes."""

        def build() -> list[Op]:
            stored = self.stored(port_id)
            current = stored.value
            status = next_status(self.service.view.port(port_id) or port_of(current), event)
            if status == PortStatus(current["status"]):
                return []
            new = {
                **current,
                "status": status.value,
                "revision_number": current["revision_number"] + 1,
                "updated_at": utc_now(),
            }
            return [Put(PORT, port_id, new, stored.mod_revision)]

        await self.service.write(build)
        return self.get(port_id)


def _claims(keys: Iterable[str], port_id: str) -> list[Op]:
    return [Put(INDEX, key, {"owner": f"port/{port_id}"}, ABSENT) for key in keys]


def _reindex(old: JSON, new: JSON, port_id: str) -> list[Op]:
    before = set(index_keys(PORT, old))
    after = set(index_keys(PORT, new))
    ops: list[Op] = [Delete(INDEX, key) for key in sorted(before - after)]
    return ops + _claims(sorted(after - before), port_id)


def _default_pair_macs(pairs: list[JSON], mac: str) -> list[JSON]:
    """A pair without a MAC takes the port's MAC, as Neutron stores it."""
    return [
        {"ip_address": p["ip_address"], "mac_address": p.get("mac_address", mac)} for p in pairs
    ]


def _new_record(port_id: str, fields: Mapping[str, Any]) -> JSON:
    now = utc_now()
    project = fields.get("project_id", fields.get("tenant_id", ""))
    mac = fields["mac_address"]
    return {
        "id": port_id,
        "name": fields.get("name", ""),
        "description": fields.get("description", ""),
        "network_id": fields["network_id"],
        "mac_address": mac,
        "fixed_ips": fields.get("fixed_ips", []),
        "allowed_address_pairs": _default_pair_macs(fields.get("allowed_address_pairs", []), mac),
        "binding:host_id": fields.get("binding:host_id", ""),
        "binding:vif_type": "bridge",
        "binding:vnic_type": "normal",
        "binding:profile": {},
        "binding:vif_details": {},
        "admin_state_up": fields.get("admin_state_up", True),
        "status": "DOWN",
        "device_owner": fields.get("device_owner", ""),
        "device_id": fields.get("device_id", ""),
        "security_groups": [],
        "tags": [],
        "project_id": project,
        "tenant_id": project,
        "revision_number": 1,
        "created_at": now,
        "updated_at": now,
    }
