"""A port's fixed IPs, resolved against its network's subnets (Neutron's IPAM).

A port write asks for addresses (``{"subnet_id"}``, ``{"ip_address"}``,
both, or nothing at all) and gets ``[{"subnet_id", "ip_address"}]`` back,
chosen from the view. Writes race: concurrent creates on one replica would
all see the same lowest free address, so each keeps the addresses it picked
*held* until its write is committed or failed, and the others skip them.
Across replicas the store's ``ip/`` and ``ipam/`` index records (put with
``expect=ABSENT``) decide, and the loser re-resolves against its refreshed view.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from l2pop.errors import ConflictError, ValidationError
from l2pop.server.records import SUBNET
from l2pop.server.store.base import JSON, Check, Op
from l2pop.server.view import View

__all__ = [
    "Allocator",
    "Held",
    "InvalidIpForNetwork",
    "IpAddressAlreadyAllocated",
    "IpAddressGenerationFailure",
    "subnet_guards",
]

# Router ports may take a subnet's gateway address; other ports may not (Neutron).
_ROUTER_OWNERS = ("network:router_interface", "network:router_gateway", "network:ha_router")


class IpAddressGenerationFailure(ConflictError):
    neutron_type = "IpAddressGenerationFailure"


class IpAddressAlreadyAllocated(ConflictError):
    neutron_type = "IpAddressAlreadyAllocated"


class InvalidIpForNetwork(ValidationError):
    neutron_type = "InvalidIpForNetwork"


class Held:
    """The addresses one port write picked, held until the write is over."""

    def __init__(self, allocator: Allocator) -> None:
        self._allocator = allocator
        self.addresses: list[tuple[str, int]] = []

    def hold(self, subnet_id: str, address: int) -> None:
        self._allocator.pending.setdefault(subnet_id, set()).add(address)
        self.addresses.append((subnet_id, address))

    def release(self) -> None:
        pending = self._allocator.pending
        for subnet_id, address in self.addresses:
            held = pending.get(subnet_id)
            if held is not None:
                held.discard(address)
                if not held:
                    del pending[subnet_id]
        self.addresses.clear()


class _Skip:
    """Held addresses of a subnet plus those this pick already found taken."""

    def __init__(self, held: set[int], tried: set[int]) -> None:
        self.held, self.tried = held, tried

    def __contains__(self, address: object) -> bool:
        return address in self.held or address in self.tried


class Allocator:
    def __init__(self, view: View) -> None:
        self.view = view
        self.pending: dict[str, set[int]] = {}

    def _pick(
        self, network_id: str, subnet: JSON, held: Held, avoid: set[str] | None = None
    ) -> str | None:
        """The subnet's lowest free pool address, held for this write; None: none left."""
        free = self.view.subnets.free(subnet["id"])
        tried = {int(ipaddress.ip_address(ip)) for ip in avoid or ()}
        skip = _Skip(self.pending.get(subnet["id"], set()), tried)
        while (address := free.first_free(skip)) is not None:
            text = str(ipaddress.ip_address(address))
            # An address of a port stored without a subnet_id (made before the
            # subnet existed) is in the network's index, not the subnet's.
            if self.view.port_with_ip(network_id, text) is None:
                held.hold(subnet["id"], address)
                return text
            tried.add(address)
        return None

    def _subnet(self, network_id: str, subnet_id: object) -> JSON:
        if not isinstance(subnet_id, str):
            raise ValidationError("fixed_ips.subnet_id", subnet_id, "must be a subnet id")
        subnet = self.view.subnets.get(subnet_id)
        # 400, not 404: the port is the resource asked for; its input names a bad subnet.
        if subnet is None or subnet["network_id"] != network_id:
            raise InvalidIpForNetwork(
                "fixed_ips.subnet_id", subnet_id, f"no such subnet on network {network_id}"
            )
        return subnet

    def _owning_subnet(self, network_id: str, ip: str, subnets: Sequence[JSON]) -> JSON:
        address = ipaddress.ip_address(ip)
        for subnet in subnets:
            if address in ipaddress.ip_network(subnet["cidr"]):
                return subnet
        raise InvalidIpForNetwork(
            "fixed_ips.ip_address", ip, f"not in any subnet of network {network_id}"
        )

    def resolve(
        self,
        port: JSON,
        requested: list[JSON] | None,
        current: Sequence[JSON],
        held: Held,
    ) -> list[JSON]:
        """The fixed IPs ``port`` gets; ``requested`` None: one per IP version."""
        network_id = port["network_id"]
        subnets = self.view.subnets.of_network(network_id)
        if requested is None:
            return self._automatic(network_id, subnets, held)
        if not subnets:
            for item in requested:
                if "subnet_id" in item:
                    self._subnet(network_id, item["subnet_id"])
            # A network without subnets keeps the old rule: any explicit address.
            return [{"ip_address": item["ip_address"]} for item in requested]
        mine = {item["ip_address"]: item for item in current}
        explicit = {item["ip_address"] for item in requested if "ip_address" in item}
        out: list[JSON] = []
        for item in requested:
            ip = item.get("ip_address")
            subnet = (
                self._subnet(network_id, item["subnet_id"])
                if "subnet_id" in item
                else self._owning_subnet(network_id, str(ip), subnets)
            )
            if ip is None:
                ip = self._keep_or_pick(network_id, subnet, mine, explicit, out, held)
            else:
                self._check_explicit(port, subnet, ip, mine)
            out.append({"subnet_id": subnet["id"], "ip_address": ip})
        return out

    def _automatic(self, network_id: str, subnets: Sequence[JSON], held: Held) -> list[JSON]:
        out: list[JSON] = []
        for version in (4, 6):
            candidates = [s for s in subnets if s["ip_version"] == version]
            if not candidates:
                continue
            for subnet in candidates:
                ip = self._pick(network_id, subnet, held)
                if ip is not None:
                    out.append({"subnet_id": subnet["id"], "ip_address": ip})
                    break
            else:
                raise IpAddressGenerationFailure(
                    f"No more IP addresses available on network {network_id}."
                )
        return out

    def _keep_or_pick(
        self,
        network_id: str,
        subnet: JSON,
        mine: dict[str, JSON],
        explicit: set[str],
        out: list[JSON],
        held: Held,
    ) -> str:
        """``{"subnet_id"}`` alone: the port's address there if it has one, else the next."""
        chosen = {item["ip_address"] for item in out}
        for ip, item in mine.items():
            if item.get("subnet_id") == subnet["id"] and ip not in explicit | chosen:
                return ip
        picked = self._pick(network_id, subnet, held, explicit | chosen)
        if picked is None:
            raise IpAddressGenerationFailure(
                f"No more IP addresses available for subnet {subnet['id']}."
            )
        return picked

    def _check_explicit(self, port: JSON, subnet: JSON, ip: str, mine: dict[str, JSON]) -> None:
        net = ipaddress.ip_network(subnet["cidr"])
        address = ipaddress.ip_address(ip)
        if address not in net:
            raise InvalidIpForNetwork(
                "fixed_ips.ip_address", ip, f"not in subnet {subnet['id']} ({net})"
            )
        if address == net.network_address or (
            net.version == 4 and address == net.broadcast_address
        ):
            raise InvalidIpForNetwork(
                "fixed_ips.ip_address", ip, f"the network or broadcast address of {net}"
            )
        if ip in mine:
            return  # the port's own address stays its own
        if ip == subnet["gateway_ip"] and port.get("device_owner") not in _ROUTER_OWNERS:
            raise IpAddressAlreadyAllocated(
                f"IP address {ip} already allocated in subnet {subnet['id']} (the gateway)"
            )
        if self.view.port_with_ip(port["network_id"], ip) is not None:
            raise IpAddressAlreadyAllocated(
                f"IP address {ip} already allocated in subnet {subnet['id']}"
            )


def subnet_guards(view: View, fixed_ips: Sequence[JSON]) -> list[Op]:
    """Checks that every subnet a port's addresses come from still exists as read."""
    ops: list[Op] = []
    for subnet_id in sorted({item["subnet_id"] for item in fixed_ips if "subnet_id" in item}):
        stored = view.get(SUBNET, subnet_id)
        if stored is not None:
            ops.append(Check(SUBNET, subnet_id, stored.mod_revision))
    return ops
