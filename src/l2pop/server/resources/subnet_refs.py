"""The store ops that remove a network's subnets along with the network."""

from __future__ import annotations

from l2pop.server.records import SUBNET
from l2pop.server.service import Service
from l2pop.server.store.base import Delete, Op

__all__ = ["network_subnet_ops"]


def network_subnet_ops(service: Service, network_id: str) -> list[Op]:
    """A network's delete takes its subnets along (it has no ports by then)."""
    ops: list[Op] = []
    for subnet in service.view.subnets.of_network(network_id):
        stored = service.view.get(SUBNET, subnet["id"])
        if stored is not None:
            ops.append(Delete(SUBNET, subnet["id"], stored.mod_revision))
    return ops
