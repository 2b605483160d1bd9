"""Subnets: create, update, delete, list, show (Neutron's shapes and rules).

A subnet write also rewrites its network's record (``subnets``: the ids, as
Neutron shows them) guarded by the revision it read: two subnet writes on
one network are thereby serialised by the store, which is what makes the
"no two subnets of a network overlap" check hold across replicas, and a
network delete racing a subnet create retries and sees the new subnet.
"""

from __future__ import annotations

import ipaddress
import uuid

from l2pop.core.ipam import parse_subnet, pools_json
from l2pop.errors import ConflictError, NotFoundError, ValidationError
from l2pop.server.records import NETWORK, SUBNET
from l2pop.server.resources.networks import NetworkNotFound
from l2pop.server.resources.subnet_fields import parse_subnet_fields
from l2pop.server.resources.validate import unwrap
from l2pop.server.service import Service, utc_now
from l2pop.server.store.base import ABSENT, INDEX, JSON, CheckNone, Delete, Op, Put, StoredRecord

__all__ = ["SubnetInUse", "SubnetNotFound", "SubnetOps"]


class SubnetNotFound(NotFoundError):
    neutron_type = "SubnetNotFound"


class SubnetInUse(ConflictError):
    neutron_type = "SubnetInUse"


class GatewayIpInUse(ConflictError):
    neutron_type = "GatewayIpInUse"


class SubnetOps:
    def __init__(self, service: Service) -> None:
        self.service = service

    def stored(self, subnet_id: str) -> StoredRecord:
        stored = self.service.view.get(SUBNET, subnet_id)
        if stored is None:
            raise SubnetNotFound(f"Subnet {subnet_id} could not be found.")
        return stored

    def get(self, subnet_id: str) -> JSON:
        return self.stored(subnet_id).value

    def all(self) -> list[JSON]:
        return sorted(self.service.view.values(SUBNET), key=lambda s: str(s["id"]))

    def _network(self, network_id: str) -> StoredRecord:
        stored = self.service.view.get(NETWORK, network_id)
        if stored is None:
            raise NetworkNotFound(f"Network {network_id} could not be found.")
        return stored

    def _check_overlap(self, network_id: str, cidr: str) -> None:
        net = ipaddress.ip_network(cidr)
        for other in self.service.view.subnets.of_network(network_id):
            other_net = ipaddress.ip_network(other["cidr"])
            if other_net.version == net.version and other_net.overlaps(net):
                raise ValidationError(
                    "cidr",
                    cidr,
                    f"overlaps with subnet {other['id']} ({other['cidr']}) of network {network_id}",
                )

    async def create(self, body: object) -> JSON:
        fields = parse_subnet_fields(unwrap(body, "subnet"), create=True)
        spec = parse_subnet(
            fields["cidr"],
            fields.get("ip_version"),
            fields.get("gateway_ip", ""),
            fields.get("allocation_pools"),
        )
        if spec.ip_version == 4 and (fields.get("ipv6_address_mode") or fields.get("ipv6_ra_mode")):
            raise ValidationError("ipv6_address_mode", fields.get("ipv6_address_mode"),
                                  "only IPv6 subnets take IPv6 modes")  # fmt: skip
        subnet_id = str(uuid.uuid4())

        def build() -> list[Op]:
            network = self._network(fields["network_id"])
            self._check_overlap(fields["network_id"], spec.cidr)
            now = utc_now()
            project = fields.get("project_id", fields.get("tenant_id", ""))
            record: JSON = {
                "id": subnet_id,
                "name": fields.get("name", ""),
                "description": fields.get("description", ""),
                "network_id": fields["network_id"],
                "ip_version": spec.ip_version,
                "cidr": spec.cidr,
                "gateway_ip": spec.gateway_ip,
                "allocation_pools": pools_json(spec.pools, spec.ip_version),
                "enable_dhcp": fields.get("enable_dhcp", True),
                "dns_nameservers": fields.get("dns_nameservers", []),
                "host_routes": fields.get("host_routes", []),
                "ipv6_address_mode": fields.get("ipv6_address_mode"),
                "ipv6_ra_mode": fields.get("ipv6_ra_mode"),
                "subnetpool_id": None,
                "segment_id": None,
                "service_types": [],
                "tags": [],
                "project_id": project,
                "tenant_id": project,
                "revision_number": 1,
                "created_at": now,
                "updated_at": now,
            }
            subnets = [*network.value.get("subnets", []), subnet_id]
            return [
                _network_put(network, subnets),
                Put(SUBNET, subnet_id, record, ABSENT),
            ]

        await self.service.write(build)
        return self.get(subnet_id)

    async def update(self, subnet_id: str, body: object) -> JSON:
        fields = parse_subnet_fields(unwrap(body, "subnet"), create=False)

        def build() -> list[Op]:
            stored = self.stored(subnet_id)
            current = stored.value
            new = {**current, **fields}
            if "gateway_ip" in fields or "allocation_pools" in fields:
                spec = parse_subnet(
                    current["cidr"],
                    current["ip_version"],
                    new["gateway_ip"],
                    new["allocation_pools"],
                )
                new["gateway_ip"] = spec.gateway_ip
                new["allocation_pools"] = pools_json(spec.pools, spec.ip_version)
                self._check_gateway(current, spec.gateway_ip)
            if new == current:
                return []
            new["revision_number"] = current["revision_number"] + 1
            new["updated_at"] = utc_now()
            return [Put(SUBNET, subnet_id, new, stored.mod_revision)]

        await self.service.write(build)
        return self.get(subnet_id)

    def _check_gateway(self, current: JSON, gateway: str | None) -> None:
        if gateway is None or gateway == current["gateway_ip"]:
            return
        owner = self.service.view.port_with_ip(current["network_id"], gateway)
        if owner is not None:
            raise GatewayIpInUse(f"Gateway ip {gateway} is in use by port {owner}.")

    async def delete(self, subnet_id: str) -> None:
        def build() -> list[Op]:
            stored = self.stored(subnet_id)
            in_use = self.service.view.subnets.in_use(subnet_id)
            if in_use:
                raise SubnetInUse(
                    f"Unable to complete operation on subnet {subnet_id}: "
                    f"{in_use} port address(es) are allocated from it."
                )
            network = self._network(stored.value["network_id"])
            subnets = [s for s in network.value.get("subnets", []) if s != subnet_id]
            return [
                CheckNone(INDEX, f"ipam/{subnet_id}/"),
                Delete(SUBNET, subnet_id, stored.mod_revision),
                _network_put(network, subnets),
            ]

        await self.service.write(build)


def _network_put(network: StoredRecord, subnets: list[str]) -> Put:
    record = {
        **network.value,
        "subnets": subnets,
        "revision_number": network.value["revision_number"] + 1,
        "updated_at": utc_now(),
    }
    return Put(NETWORK, network.value["id"], record, network.mod_revision)
