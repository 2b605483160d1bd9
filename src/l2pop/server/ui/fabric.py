"""The fabric view's data, in pages: a summary, hosts with their agents, a networks x
hosts matrix, ports.

Everything is paged or counted so that a browser never gets the whole fabric:
at 1,000 hosts and 300 networks a matrix page is ``net_limit`` x
``host_limit`` cells (20 x 25 by default), and a ports page 50 rows. Read
from this replica's view, never from the store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from l2pop.errors import ValidationError
from l2pop.server.records import HOST, NETWORK, PORT, REMOTE
from l2pop.server.service import Service

__all__ = [
    "Page",
    "alive",
    "hosts_page",
    "matrix_page",
    "page_of",
    "port_row",
    "ports_page",
    "remote_page",
    "summary",
]

JSON = dict[str, Any]
MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Page:
    offset: int
    limit: int

    def cut(self, items: list[Any]) -> list[Any]:
        return items[self.offset : self.offset + self.limit]


def page_of(query: Mapping[str, str], prefix: str, default: int) -> Page:
    """``<prefix>offset`` / ``<prefix>limit`` from a query string (400 if not numbers)."""
    values = []
    for name, fallback in (("offset", 0), ("limit", default)):
        raw = query.get(prefix + name)
        if raw is None:
            values.append(fallback)
            continue
        if not raw.isdigit() or len(raw) > 9:
            raise ValidationError(prefix + name, raw, "must be a non-negative integer")
        values.append(int(raw))
    return Page(values[0], max(1, min(values[1], MAX_LIMIT)))


def alive(service: Service, host: str) -> bool:
    liveness = getattr(service.store, "liveness", None)
    if liveness is not None:
        return bool(liveness.alive(host))
    return service.hub.watching(host)


def summary(service: Service) -> JSON:
    view = service.view
    statuses = Counter(str(r.value["status"]) for r in view.records[PORT].values())
    hosts = sorted(view.records[HOST])
    agents = [service.agents.show(h, alive(service, h)) for h in hosts]
    return {
        "revision": view.revision,
        "hosts": len(hosts),
        "networks": len(view.records[NETWORK]),
        "ports": sum(statuses.values()),
        "ports_by_status": {s: statuses.get(s, 0) for s in ("ACTIVE", "BUILD", "DOWN")},
        "agents_alive": sum(1 for a in agents if a["alive"]),
        "agents_in_sync": sum(1 for a in agents if a["in_sync"]),
    }


def _matches(text: str, *fields: object) -> bool:
    return not text or any(text in str(f).lower() for f in fields)


def hosts_page(service: Service, page: Page, search: str = "") -> JSON:
    view = service.view
    names = [
        name
        for name, rec in sorted(view.records[HOST].items())
        if _matches(search.lower(), name, rec.value["tunnel_ip"])
    ]
    shown = page.cut(names)
    # Counted for the hosts on the page only: (page size x networks) lookups.
    bound: Counter[str] = Counter()
    active: Counter[str] = Counter()
    nets: Counter[str] = Counter()
    for net in view.snapshot.networks.values():
        for host in shown:
            ids = net.bound.get(host)
            if ids:
                bound[host] += len(ids)
                active[host] += sum(1 for i in ids if net.ports[i].status.value == "ACTIVE")
                nets[host] += 1
    rows = []
    for name in shown:
        rec = view.records[HOST][name].value
        agent = service.agents.show(name, alive(service, name))
        rows.append(
            {
                "name": name,
                "tunnel_ip": rec["tunnel_ip"],
                "ports": bound[name],
                "active": active[name],
                "networks": nets[name],
                **{k: agent[k] for k in ("alive", "revision", "last_change", "in_sync")},
                "endpoint": agent["endpoint"],
            }
        )
    return {"total": len(names), "offset": page.offset, "limit": page.limit, "hosts": rows}


def matrix_page(service: Service, nets: Page, hosts: Page, search: str = "") -> JSON:
    """Networks (rows) x hosts (columns): per cell the host's ports there (bound, active)
    and how many VTEPs it floods to on that network. Hosts without any port are left out
    of the columns (they take part in nothing)."""
    snapshot = service.view.snapshot
    networks = sorted(
        (n for n in snapshot.networks.values() if _matches(search.lower(), n.network.name)),
        key=lambda n: (n.network.name, n.network.id),
    )
    shown = nets.cut(networks)
    with_ports = sorted({h for n in snapshot.networks.values() for h in n.bound})
    columns = hosts.cut(with_ports)
    rows = []
    for net in shown:
        publishers = set(net.published)
        cells: JSON = {}
        for host in columns:
            ids = net.bound.get(host)
            if not ids:
                continue
            cells[host] = {
                "ports": len(ids),
                "active": sum(1 for i in ids if net.ports[i].status.value == "ACTIVE"),
                "floods_to": sorted(
                    vtep
                    for other in publishers - {host}
                    if (vtep := snapshot.vtep(other)) is not None
                ),
            }
        rows.append(
            {
                "id": net.network.id,
                "name": net.network.name,
                "vni": net.network.vni,
                "ports": len(net.ports),
                "hosts": len(net.bound),
                "cells": cells,
            }
        )
    return {
        "networks_total": len(networks),
        "hosts_total": len(with_ports),
        "net_offset": nets.offset,
        "host_offset": hosts.offset,
        "net_limit": nets.limit,
        "host_limit": hosts.limit,
        "hosts": columns,
        "networks": rows,
    }


def port_row(rec: Mapping[str, Any], network_names: Mapping[str, str]) -> JSON:
    return {
        "id": rec["id"],
        "name": rec["name"],
        "network_id": rec["network_id"],
        "network": network_names.get(rec["network_id"], rec["network_id"]),
        "mac": rec["mac_address"],
        "ips": [ip["ip_address"] for ip in rec["fixed_ips"]],
        "host": rec["binding:host_id"],
        "status": rec["status"],
    }


def ports_page(service: Service, page: Page, filters: Mapping[str, str]) -> JSON:
    view = service.view
    names = {k: str(r.value["name"] or k) for k, r in view.records[NETWORK].items()}
    search = filters.get("q", "").lower()
    records: Iterable[JSON] = (r.value for r in view.records[PORT].values())
    picked = [
        r
        for r in records
        if filters.get("network") in (None, "", r["network_id"])
        and filters.get("host") in (None, "", r["binding:host_id"])
        and filters.get("status") in (None, "", r["status"])
        and _matches(
            search,
            r["name"],
            r["mac_address"],
            r["binding:host_id"],
            *(ip["ip_address"] for ip in r["fixed_ips"]),
        )
    ]
    picked.sort(key=lambda r: (names.get(r["network_id"], ""), r["binding:host_id"], r["name"]))
    rows = [port_row(r, names) for r in page.cut(picked)]
    return {"total": len(picked), "offset": page.offset, "limit": page.limit, "ports": rows}


def remote_page(service: Service, page: Page) -> JSON:
    """Remote endpoints (imported EVPN routes), paged: what the gateways told l2pop."""
    view = service.view
    names = {k: str(r.value["name"] or k) for k, r in view.records[NETWORK].items()}
    picked = [
        r.value
        for r in view.records.get(REMOTE, {}).values()
        if r.value["network_id"] in names  # a deleted network's records program nothing
    ]
    picked.sort(key=lambda r: (names[r["network_id"]], r["vtep"], r.get("mac_address") or ""))
    rows = [
        {
            "network_id": r["network_id"],
            "network": names[r["network_id"]],
            "type": r["type"],
            "vtep": r["vtep"],
            "mac": r.get("mac_address"),
            "ip": r.get("ip_address"),
            "gateways": list(r.get("gateways", [])),
        }
        for r in page.cut(picked)
    ]
    return {"total": len(picked), "offset": page.offset, "limit": page.limit, "remote": rows}
