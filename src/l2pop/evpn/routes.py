"""EVPN routes as values: what l2pop exports, and what an imported route means.

Pure: no I/O. Encodings (DESIGN.md §5, EVPN gateway):

* route target ``(asn & 0xFFFF):<vni>`` -- FRR's automatic RT (2-byte-AS
  type, 4-byte value), so an FRR VTEP with ``advertise-all-vni`` imports
  l2pop's routes and l2pop imports FRR's without any RT configuration;
* RD type 1 ``<tunnel IPv4>:<n>``, ``n`` = the VNI below 65,536, else the
  network's RD index (kept by the server, ``/v1/evpn/rd-indexes``; a network
  without one yet is not exported); IPv6 VTEPs are not exported;
* label = VNI, extended community encapsulation VXLAN, next hop / originator =
  the host's tunnel IP, type-3 with PMSI ingress replication.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from l2pop.core import REMOTE_PUBLISHER, RemoteEndpoint, RemoteKind, Snapshot
from l2pop.errors import ValidationError

__all__ = [
    "MAX_RD_NUMBER",
    "ImportedRoute",
    "MacRoute",
    "MulticastRoute",
    "Route",
    "export_routes",
    "gobgp_add_args",
    "gobgp_del_args",
    "imported_endpoints",
    "parse_gobgp_path",
    "route_target",
]

MAX_RD_NUMBER = 0xFFFF


def route_target(asn: int, vni: int) -> str:
    return f"{asn & 0xFFFF}:{vni}"


@dataclass(frozen=True, slots=True)
class MacRoute:
    """EVPN type 2: ``mac`` (with ``ip`` or alone) behind ``vtep`` on ``vni``;
    ``rd_number`` 0 means the VNI (the RD's assigned number)."""

    vni: int
    vtep: str
    mac: str
    ip: str | None = None
    rd_number: int = 0

    @property
    def rd(self) -> str:
        return f"{self.vtep}:{self.rd_number or self.vni}"


@dataclass(frozen=True, slots=True)
class MulticastRoute:
    """EVPN type 3: ``vtep`` floods (ingress replication) for ``vni``."""

    vni: int
    vtep: str
    rd_number: int = 0

    @property
    def rd(self) -> str:
        return f"{self.vtep}:{self.rd_number or self.vni}"


Route = MacRoute | MulticastRoute


def _is_ipv4(address: str) -> bool:
    return ipaddress.ip_address(address).version == 4


def export_routes(
    snapshot: Snapshot, rd_indexes: Mapping[str, int] | None = None
) -> tuple[set[Route], set[str]]:
    """The routes l2pop's own state gives, and the VTEPs left out (IPv6, or a VNI
    over 65,535 whose network has no RD index in ``rd_indexes`` yet). Remote
    endpoints are never exported back."""
    routes: set[Route] = set()
    skipped: set[str] = set()
    for net_id, net in snapshot.networks.items():
        vni = net.network.vni
        rd = 0 if vni <= MAX_RD_NUMBER else (rd_indexes or {}).get(net_id, -1)
        for host, entries in net.published.items():
            if host == REMOTE_PUBLISHER:
                continue
            vtep = snapshot.vtep(host)
            if vtep is None:  # pragma: no cover - a host without a VTEP publishes nothing
                continue
            if not _is_ipv4(vtep) or rd < 0:
                skipped.add(f"{vtep} (VNI {vni})")
                continue
            routes.add(MulticastRoute(vni, vtep, rd))
            own = {u.mac for u in entries.unicast if u.vtep == vtep}
            routes.update(MacRoute(vni, vtep, mac, None, rd) for mac in own)
            routes.update(
                MacRoute(vni, vtep, n.mac, n.ip, rd) for n in entries.neigh if n.mac in own
            )
    return routes, skipped


def _common(route: Route, asn: int) -> list[str]:
    return [
        *("etag", "0", "label", str(route.vni)),
        *("rd", route.rd, "rt", route_target(asn, route.vni)),
    ]


def gobgp_add_args(route: Route, asn: int) -> list[str]:
    """``gobgp global rib -a evpn add ...`` arguments (after ``add``)."""
    if isinstance(route, MulticastRoute):
        rd = route.rd
        rt = route_target(asn, route.vni)
        return [
            *("multicast", route.vtep, "etag", "0", "rd", rd, "rt", rt, "encap", "vxlan"),
            *("pmsi", "ingress-repl", str(route.vni), route.vtep, "nexthop", route.vtep),
        ]
    ip = route.ip or "0.0.0.0"
    return ["macadv", route.mac, ip, *_common(route, asn), "encap", "vxlan", "nexthop", route.vtep]


def gobgp_del_args(route: Route) -> list[str]:
    """``gobgp global rib -a evpn del ...`` arguments (the NLRI is enough)."""
    rd = route.rd
    if isinstance(route, MulticastRoute):
        return ["multicast", route.vtep, "etag", "0", "rd", rd]
    ip = route.ip or "0.0.0.0"
    return ["macadv", route.mac, ip, "etag", "0", "label", str(route.vni), "rd", rd]


@dataclass(frozen=True, slots=True)
class ImportedRoute:
    """A route a peer announced: its NLRI key, what it says, and its route targets."""

    key: str
    kind: RemoteKind
    vtep: str
    mac: str | None
    ip: str | None
    targets: frozenset[str]


def _attr(attrs: Iterable[Mapping[str, Any]], kind: int) -> Mapping[str, Any] | None:
    return next((a for a in attrs if a.get("type") == kind), None)


def parse_gobgp_path(path: Mapping[str, Any]) -> tuple[ImportedRoute, bool] | None:
    """A path of ``gobgp ... -j`` output: (route, withdrawn), or None for a path
    that is not a received type-2/3 route (our own local routes among them)."""
    if "neighbor-ip" not in path:
        return None
    nlri = path.get("nlri", {})
    value = nlri.get("value", {})
    attrs = path.get("attrs", [])
    rd = value.get("rd", {})
    comms = _attr(attrs, 16)
    targets = frozenset(
        str(c["value"])
        for c in (comms or {}).get("value", [])
        if c.get("subtype") == 2 and "value" in c
    )
    reach = _attr(attrs, 14)
    nexthop = (reach or {}).get("nexthop")
    withdrawn = bool(path.get("withdrawal", False))
    rd_text = f"{rd.get('admin')}:{rd.get('assigned')}"
    try:
        if nlri.get("type") == 3:
            pmsi = _attr(attrs, 22)
            vtep = str((pmsi or {}).get("tunnel-id") or value["ip"])
            key = f"3|{rd_text}|{value['ip']}"
            route = ImportedRoute(key, RemoteKind.FLOOD, vtep, None, None, targets)
        elif nlri.get("type") == 2:
            ip = value.get("ip")
            ip = None if ip in (None, "", "<nil>", "0.0.0.0", "::") else str(ip)
            key = f"2|{rd_text}|{value['mac']}|{ip or ''}"
            vtep = str(nexthop)
            route = ImportedRoute(key, RemoteKind.MAC, vtep, str(value["mac"]), ip, targets)
        else:
            return None
    except KeyError:
        return None
    return route, withdrawn


def imported_endpoints(
    routes: Iterable[ImportedRoute], networks: Mapping[str, str], own_vteps: frozenset[str]
) -> set[RemoteEndpoint]:
    """Remote endpoints of the received ``routes``: ``networks`` maps a route target
    to its network id; routes from l2pop's own VTEPs (``own_vteps``) are never imported
    (l2pop knows its own ports), nor routes a network does not accept."""
    out: set[RemoteEndpoint] = set()
    for route in routes:
        if route.vtep in own_vteps:
            continue
        for target in route.targets:
            net = networks.get(target)
            if net is None:
                continue
            try:
                out.add(RemoteEndpoint(net, route.kind, route.vtep, route.mac, route.ip))
            except ValidationError:
                continue  # e.g. a multicast MAC or a link-local oddity: not programmable
    return out
