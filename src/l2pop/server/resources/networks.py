"""Networks: create (VNI given or allocated), update, delete, list, show."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any

from l2pop.core.model import DEFAULT_MTU
from l2pop.errors import ConflictError, NotFoundError, ValidationError
from l2pop.server.records import NETWORK
from l2pop.server.resources.subnet_refs import network_subnet_ops
from l2pop.server.resources.validate import parse_network, unwrap
from l2pop.server.service import Service, utc_now
from l2pop.server.store.base import ABSENT, INDEX, JSON, CheckNone, Delete, Op, Put

__all__ = ["NetworkOps"]


class NetworkNotFound(NotFoundError):
    neutron_type = "NetworkNotFound"


class NetworkInUse(ConflictError):
    neutron_type = "NetworkInUse"


class SegmentationIdInUse(ConflictError):
    neutron_type = "SegmentationIdInUse"


class NetworkOps:
    def __init__(self, service: Service) -> None:
        self.service = service
        # Creates without a VNI all race for the lowest free one; on one replica
        # they take turns, so only creates on other replicas can make one retry.
        self._allocating = asyncio.Lock()

    def get(self, network_id: str) -> JSON:
        stored = self.service.view.get(NETWORK, network_id)
        if stored is None:
            raise NetworkNotFound(f"Network {network_id} could not be found.")
        return stored.value

    def all(self) -> list[JSON]:
        return sorted(self.service.view.values(NETWORK), key=lambda n: str(n["id"]))

    def _used_vnis(self) -> set[int]:
        return {int(n["provider:segmentation_id"]) for n in self.service.view.values(NETWORK)}

    def _allocate_vni(self) -> int:
        low, high = self.service.config.vni_range
        used = self._used_vnis()
        for vni in range(low, high + 1):
            if vni not in used:
                return vni
        raise ConflictError(f"no free VNI left in {low}:{high}")

    async def create(self, body: object) -> JSON:
        fields = parse_network(unwrap(body, "network"), create=True)
        network_id = str(uuid.uuid4())

        def build() -> list[Op]:
            vni = fields.get("provider:segmentation_id") or self._allocate_vni()
            if vni in self._used_vnis():
                raise SegmentationIdInUse(f"VNI {vni} is already used by another network.")
            record = _new_record(network_id, vni, fields)
            return [
                Put(NETWORK, network_id, record, ABSENT),
                Put(INDEX, f"vni/{vni}", {"owner": f"network/{network_id}"}, ABSENT),
            ]

        if "provider:segmentation_id" in fields:
            await self.service.write(build)
        else:
            async with self._allocating:
                await self.service.write(build)
        return self.get(network_id)

    async def update(self, network_id: str, body: object) -> JSON:
        fields = parse_network(unwrap(body, "network"), create=False)

        def build() -> list[Op]:
            stored = self.service.view.get(NETWORK, network_id)
            if stored is None:
                raise NetworkNotFound(f"Network {network_id} could not be found.")
            current = stored.value
            vni = fields.get("provider:segmentation_id", current["provider:segmentation_id"])
            if vni != current["provider:segmentation_id"]:
                raise ValidationError(
                    "provider:segmentation_id", vni, "the VNI of a network cannot change"
                )
            changed = {
                k: v
                for k, v in fields.items()
                if k != "provider:segmentation_id" and current.get(k) != v
            }
            if not changed:
                return []
            record = {
                **current,
                **changed,
                "revision_number": current["revision_number"] + 1,
                "updated_at": utc_now(),
            }
            return [Put(NETWORK, network_id, record, stored.mod_revision)]

        await self.service.write(build)
        return self.get(network_id)

    async def delete(self, network_id: str) -> None:
        def build() -> list[Op]:
            stored = self.service.view.get(NETWORK, network_id)
            if stored is None:
                raise NetworkNotFound(f"Network {network_id} could not be found.")
            net = self.service.view.snapshot.networks.get(network_id)
            if net is not None and net.ports:
                raise NetworkInUse(
                    f"Unable to complete operation on network {network_id}: "
                    f"there are {len(net.ports)} ports on it."
                )
            vni = stored.value["provider:segmentation_id"]
            return [
                CheckNone(INDEX, f"mac/{network_id}/"),
                Delete(NETWORK, network_id, stored.mod_revision),
                Delete(INDEX, f"vni/{vni}"),
                # Neutron deletes a network's subnets with it when no port is left.
                *network_subnet_ops(self.service, network_id),
            ]

        await self.service.write(build)


def _new_record(network_id: str, vni: int, fields: Mapping[str, Any]) -> JSON:
    now = utc_now()
    project = fields.get("project_id", fields.get("tenant_id", ""))
    return {
        "id": network_id,
        "name": fields.get("name", ""),
        "description": fields.get("description", ""),
        "admin_state_up": fields.get("admin_state_up", True),
        "status": "ACTIVE",
        "mtu": fields.get("mtu", DEFAULT_MTU),
        "provider:network_type": "vxlan",
        "provider:physical_network": None,
        "provider:segmentation_id": vni,
        "shared": False,
        "router:external": False,
        "subnets": [],
        "tags": [],
        "availability_zones": [],
        "project_id": project,
        "tenant_id": project,
        "revision_number": 1,
        "created_at": now,
        "updated_at": now,
    }
