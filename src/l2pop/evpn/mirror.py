"""The gateway's copy of the server's records, stepped through the core.

Built from ``GET /v1/evpn/state`` and advanced by each line of
``/v1/evpn/watch``; the core's :class:`~l2pop.core.Snapshot` gives what
l2pop publishes per network (the routes to export), and the remote
endpoints this gateway holds are kept apart (what it imported before).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from l2pop.core import (
    AddressPair,
    Event,
    Host,
    HostDeleted,
    HostUpserted,
    Network,
    NetworkDeleted,
    NetworkUpserted,
    Port,
    PortDeleted,
    PortStatus,
    PortUpserted,
    RemoteEndpoint,
    Snapshot,
    step_all,
)
from l2pop.evpn.routes import MAX_RD_NUMBER, route_target

__all__ = ["Mirror"]

JSON = dict[str, Any]


def _network(rec: Mapping[str, Any]) -> Network:
    return Network(str(rec["id"]), int(rec["provider:segmentation_id"]))


def _host(rec: Mapping[str, Any]) -> Host:
    return Host(str(rec["name"]), str(rec["tunnel_ip"]))


def _port(rec: Mapping[str, Any]) -> Port:
    pairs = tuple(
        AddressPair(p["ip_address"], p.get("mac_address"))
        for p in rec.get("allowed_address_pairs", [])
    )
    return Port(
        id=str(rec["id"]),
        network_id=str(rec["network_id"]),
        mac_address=str(rec["mac_address"]),
        fixed_ips=tuple(ip["ip_address"] for ip in rec.get("fixed_ips", [])),
        allowed_address_pairs=pairs,
        host=str(rec.get("binding:host_id") or ""),
        status=PortStatus(rec["status"]),
        admin_state_up=bool(rec.get("admin_state_up", True)),
    )


@dataclass
class Mirror:
    """Records at ``revision`` as seen by gateway ``gateway``."""

    gateway: str
    revision: int = 0
    snapshot: Snapshot = field(default_factory=Snapshot)
    # port id -> network id: a deleted port's line carries no value.
    port_networks: dict[str, str] = field(default_factory=dict)
    # Remote endpoints this gateway holds (it imported them), by key.
    held: dict[str, RemoteEndpoint] = field(default_factory=dict)
    # network id -> its RD number, for networks whose VNI is over 65,535.
    rd_indexes: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_state(cls, state: Mapping[str, Any], gateway: str) -> Mirror:
        ports = [_port(p) for p in state["ports"]]
        snapshot = Snapshot.build(
            [_network(n) for n in state["networks"]], [_host(h) for h in state["hosts"]], ports
        )
        mirror = cls(gateway, int(state["revision"]), snapshot)
        mirror.port_networks = {p.id: p.network_id for p in ports}
        mirror._hold(state["remote_endpoints"])
        mirror.rd_indexes = {
            str(r["network_id"]): int(r["index"]) for r in state.get("rd_indexes", [])
        }
        return mirror

    def _hold(self, records: Iterable[Mapping[str, Any]]) -> None:
        for rec in records:
            if self.gateway in rec.get("gateways", ()):
                ep = RemoteEndpoint.from_record(rec)
                self.held[ep.key] = ep

    def apply(self, line: Mapping[str, Any]) -> set[str]:
        """Advance by one watch ``change`` line; the ids of networks whose routes may change
        (every network when a host changed)."""
        events: list[Event] = []
        touched: set[str] = set()
        for change in line["changes"]:
            kind, key, value = change["kind"], str(change["key"]), change["value"]
            if kind == "network":
                events.append(
                    NetworkDeleted(key) if value is None else NetworkUpserted(_network(value))
                )
                touched.add(key)
            elif kind == "port":
                net = self.port_networks.get(key) if value is None else str(value["network_id"])
                if value is None:
                    self.port_networks.pop(key, None)
                    if net is not None:
                        events.append(PortDeleted(net, key))
                else:
                    self.port_networks[key] = str(value["network_id"])
                    events.append(PortUpserted(_port(value)))
                if net is not None:
                    touched.add(net)
            elif kind == "host":
                events.append(HostDeleted(key) if value is None else HostUpserted(_host(value)))
                touched.update(self.snapshot.networks)
            elif kind == "remote":
                self.held.pop(key, None)
                if value is not None:
                    self._hold([value])
            elif kind == "evpn_rd":
                self.rd_indexes.pop(key, None)
                if value is not None:
                    self.rd_indexes[key] = int(value["index"])
                touched.add(key)
        self.snapshot, _ = step_all(self.snapshot, events)
        self.revision = int(line["revision"])
        return touched

    def targets(self, asn: int) -> dict[str, str]:
        """Route target -> network id, for every network l2pop knows."""
        return {
            route_target(asn, net.network.vni): net_id
            for net_id, net in self.snapshot.networks.items()
        }

    def without_rd_index(self) -> list[str]:
        """Networks whose VNI does not fit a type-1 RD and that have no RD index yet."""
        return sorted(
            net_id
            for net_id, net in self.snapshot.networks.items()
            if net.network.vni > MAX_RD_NUMBER and net_id not in self.rd_indexes
        )

    def own_vteps(self) -> frozenset[str]:
        return frozenset(h.tunnel_ip for h in self.snapshot.hosts.values())
