"""The fabric view stays usable at 1,000 hosts / 300 networks / 20,000 ports: every page
the browser gets is small, and building it costs a bounded multiple of one pass over the
ports (the yardstick, measured in the same run; best of three)."""

from __future__ import annotations

import json
import time
from typing import Any, cast

import pytest

from l2pop.server.auth import AdminToken
from l2pop.server.metrics import Metrics
from l2pop.server.records import HOST, NETWORK, PORT
from l2pop.server.service import Service, ServiceConfig
from l2pop.server.store.base import Loaded, Store, StoredRecord
from l2pop.server.ui.fabric import Page, hosts_page, matrix_page, ports_page, summary
from l2pop.server.view import View
from l2pop.server.watch import Hub

HOSTS, NETWORKS, PORTS = 1000, 300, 20_000


def _port(i: int) -> dict[str, Any]:
    return {
        "id": f"{i:08d}-0000-0000-0000-000000000000",
        "name": f"p{i}",
        "network_id": f"net-{i % NETWORKS:04d}",
        "mac_address": f"fa:16:3e:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
        "fixed_ips": [{"ip_address": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"}],
        "allowed_address_pairs": [],
        "binding:host_id": f"h{i * 7 % HOSTS:04d}",
        "status": "ACTIVE" if i % 10 else "BUILD",
        "admin_state_up": True,
        "device_owner": "",
        "device_id": "",
    }


@pytest.fixture(scope="module")
def service() -> Service:
    networks = {
        f"net-{n:04d}": {"id": f"net-{n:04d}", "name": f"n{n}", "provider:segmentation_id": n + 1,
                         "mtu": 1450, "admin_state_up": True}
        for n in range(NETWORKS)
    }  # fmt: skip
    hosts = {
        f"h{h:04d}": {"name": f"h{h:04d}", "tunnel_ip": f"192.0.{h >> 8}.{h & 255}",
                      "token_hash": f"{h:064x}"}
        for h in range(HOSTS)
    }  # fmt: skip
    ports = {p["id"]: p for p in map(_port, range(PORTS))}

    def stored(table: dict[str, dict[str, Any]]) -> dict[str, StoredRecord]:
        return {k: StoredRecord(v, 1) for k, v in table.items()}

    loaded = Loaded(1, 0, {NETWORK: stored(networks), HOST: stored(hosts), PORT: stored(ports)})
    return Service(
        cast(Store, object()),
        View(loaded),
        AdminToken("x"),
        ServiceConfig(),
        Hub(),
        Metrics(),
    )


def _timed(build: Any) -> tuple[float, int]:
    """Best of three (the machine is shared): seconds, and the JSON size of the answer."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        body = build()
        best = min(best, time.perf_counter() - started)
    return best, len(json.dumps(body))


def test_pages_stay_small_and_cheap(service: Service) -> None:
    # Yardstick: one pass over every port record, reading its status (best of three).
    yardstick, _ = _timed(lambda: sum(1 for r in service.view.records[PORT].values()
                                      if r.value["status"] == "ACTIVE"))  # fmt: skip
    results = {
        "summary": _timed(lambda: summary(service)),
        "matrix": _timed(lambda: matrix_page(service, Page(0, 20), Page(0, 25))),
        "hosts": _timed(lambda: hosts_page(service, Page(0, 25))),
        "ports": _timed(lambda: ports_page(service, Page(0, 50), {"status": "BUILD"})),
    }
    print(f"yardstick {yardstick * 1000:.1f} ms; " + "; ".join(
        f"{name} {t * 1000:.1f} ms ({t / yardstick:.1f}x), {size} bytes"
        for name, (t, size) in results.items()
    ))  # fmt: skip
    for name, (seconds, size) in results.items():
        assert size < 64 * 1024, name  # a page, never the fabric
        # Interactive: a bounded multiple of one pass over the ports, not O(hosts x ports).
        assert seconds < 60 * yardstick + 0.1, name
    matrix = matrix_page(service, Page(20, 20), Page(975, 25))
    assert len(matrix["networks"]) == 20
    assert matrix["hosts_total"] == HOSTS
    assert matrix["networks_total"] == NETWORKS
