"""The view's IPAM state: subnets per network and each subnet's free addresses.

Fed by the view with every committed subnet and port record (its own writes
included), so an allocation looks up "the lowest free address" of a subnet
in O(1) amortised instead of scanning the network's ports.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from l2pop.core.ipam import FreeAddresses, Pool
from l2pop.server.store.base import JSON

__all__ = ["SubnetIndex", "pools_of"]


def pools_of(record: JSON) -> list[Pool]:
    return [
        (int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"])))
        for p in record["allocation_pools"]
    ]


class SubnetIndex:
    """Subnet records by network (creation order) and free addresses by subnet."""

    def __init__(self, subnets: Iterable[JSON], ports: Iterable[JSON]) -> None:
        self._records: dict[str, JSON] = {}
        self._by_network: dict[str, list[str]] = {}
        self._free: dict[str, FreeAddresses] = {}
        ordered = sorted(subnets, key=lambda s: (str(s.get("created_at", "")), str(s["id"])))
        for record in ordered:
            self.put_subnet(record)
        for port in ports:
            self.put_port(None, port)

    def get(self, subnet_id: str) -> JSON | None:
        return self._records.get(subnet_id)

    def of_network(self, network_id: str) -> list[JSON]:
        """The network's subnets, oldest first (the order Neutron tries them in)."""
        return [self._records[s] for s in self._by_network.get(network_id, ())]

    def free(self, subnet_id: str) -> FreeAddresses:
        return self._free[subnet_id]

    def in_use(self, subnet_id: str) -> int:
        """How many port addresses are allocated from the subnet."""
        free = self._free.get(subnet_id)
        return 0 if free is None else len(free.taken)

    def put_subnet(self, record: JSON) -> None:
        subnet_id = record["id"]
        old = self._free.get(subnet_id)
        taken = old.taken if old is not None else set()
        self._free[subnet_id] = FreeAddresses(pools_of(record), taken)
        if subnet_id not in self._records:
            self._by_network.setdefault(record["network_id"], []).append(subnet_id)
        self._records[subnet_id] = record

    def delete_subnet(self, record: JSON) -> None:
        subnet_id = record["id"]
        self._records.pop(subnet_id, None)
        self._free.pop(subnet_id, None)
        ids = self._by_network.get(record["network_id"], [])
        if subnet_id in ids:
            ids.remove(subnet_id)
        if not ids:
            self._by_network.pop(record["network_id"], None)

    def put_port(self, before: JSON | None, after: JSON | None) -> None:
        """Release what ``before`` held, take what ``after`` holds."""
        if not self._free or (
            before is not None and after is not None and before["fixed_ips"] == after["fixed_ips"]
        ):
            return  # no subnets at all, or a status/binding change: nothing moves
        if before is not None:
            for item in before["fixed_ips"]:
                free = self._free.get(item.get("subnet_id", ""))
                if free is not None:
                    free.release(int(ipaddress.ip_address(item["ip_address"])))
        if after is not None:
            for item in after["fixed_ips"]:
                free = self._free.get(item.get("subnet_id", ""))
                if free is not None:
                    free.take(int(ipaddress.ip_address(item["ip_address"])))
