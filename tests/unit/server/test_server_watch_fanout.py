"""Watch fan-out through the real service (SQLite in tmp_path), random operations.

For every host with an open stream and every revision:
* a change line names only networks the host has a bound port on (before or after);
* the host's state built from its first /state plus the lines equals /state now;
* a stream resumed from any earlier revision gets exactly the same lines.
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import pytest

from l2pop.core import PortEvent, apply, desired
from l2pop.core.wire import decode_change, decode_state
from l2pop.errors import L2popError
from l2pop.server.auth import AdminToken, Principal
from l2pop.server.metrics import Metrics
from l2pop.server.resources.hosts import HostOps
from l2pop.server.resources.networks import NetworkOps
from l2pop.server.resources.ports import PortOps
from l2pop.server.service import Service, ServiceConfig
from l2pop.server.store.sqlite import SQLiteStore
from l2pop.server.watch import Watcher, Watches

ADMIN = Principal(admin=True)
HOSTS = [f"h{i}" for i in range(5)]


def _collect(watcher: Watcher) -> list[bytes]:
    """What the hub hands ``watcher`` from now on, chunk by chunk."""
    chunks: list[bytes] = []
    watcher.attach(lambda chunk: chunks.append(chunk) is None)
    return chunks


def _drain(chunks: list[bytes]) -> list[dict[str, Any]]:
    lines = [json.loads(line) for chunk in chunks for line in chunk.splitlines() if line]
    chunks.clear()
    return lines


async def _random_op(rng: random.Random, nets: NetworkOps, ports: PortOps, hosts: HostOps) -> None:
    networks = [n["id"] for n in nets.all()]
    all_ports = ports.all()
    choice = rng.random()
    if choice < 0.1 or not networks:
        await nets.create({"network": {"name": "n"}})
    elif choice < 0.35 or not all_ports:
        host = rng.choice([*HOSTS, "", "unregistered"])
        ip = f"10.{rng.randrange(4)}.{rng.randrange(250)}.{rng.randrange(1, 250)}"
        body = {"network_id": rng.choice(networks), "fixed_ips": [{"ip_address": ip}]}
        await ports.create({"port": {**body, "binding:host_id": host}})
    elif choice < 0.7:
        port = rng.choice(all_ports)
        if port["binding:host_id"]:
            event = rng.choice([PortEvent.DEVICE_UP, PortEvent.DEVICE_UP, PortEvent.DEVICE_DOWN])
            await ports.set_status(port["id"], event)
    elif choice < 0.8:
        port = rng.choice(all_ports)
        pair = {"ip_address": "192.168.0.1", "mac_address": "fa:16:3e:aa:00:01"}
        update = rng.choice(
            [
                {"binding:host_id": rng.choice(HOSTS)},
                {"binding:host_id": ""},
                {"admin_state_up": rng.random() < 0.5},
                {"allowed_address_pairs": [pair]},
            ]
        )
        await ports.update(port["id"], {"port": update})
    elif choice < 0.9:
        await ports.delete(rng.choice(all_ports)["id"])
    elif choice < 0.95:
        await nets.update(rng.choice(networks), {"network": {"mtu": rng.choice([1400, 1450])}})
    else:
        name = rng.choice(HOSTS[1:])
        if any(h["name"] == name for h in hosts.all()):
            await hosts.delete(name)
        else:
            await hosts.register({"name": name, "tunnel_ip": f"192.0.2.{HOSTS.index(name) + 1}"})


def _assert_address_index_matches_records(service: Service) -> None:
    """The view's MAC/IP -> port index equals what the port records say."""
    view = service.view
    by_network: dict[str, int] = {}
    for port in view.values("port"):
        net = port["network_id"]
        by_network[net] = by_network.get(net, 0) + 1
        assert view.port_with_mac(net, port["mac_address"]) == port["id"]
        for item in port["fixed_ips"]:
            assert view.port_with_ip(net, item["ip_address"]) == port["id"]
    for net in {n["id"] for n in view.values("network")}:
        assert len(view.macs_in_use(net)) == by_network.get(net, 0)


async def _scenario(db: Path, seed: int, steps: int) -> None:
    service = await Service.open(SQLiteStore(db), AdminToken("a"), ServiceConfig(), Metrics())
    nets, ports = NetworkOps(service), PortOps(service)
    hosts = HostOps(service, ports)
    for i, name in enumerate(HOSTS):
        await hosts.register({"name": name, "tunnel_ip": f"192.0.2.{i + 1}"})
    start = service.view.revision
    states = {h: decode_state(hosts.state(ADMIN, h))[1] for h in HOSTS}
    watches = Watches(service)
    watchers = {h: (await watches.open(ADMIN, h, str(start), "admin")).watcher for h in HOSTS}
    received = {h: _collect(watchers[h]) for h in HOSTS}
    lines: dict[str, list[dict[str, Any]]] = {h: [] for h in HOSTS}
    rng = random.Random(seed)
    try:
        for _ in range(steps):
            before = service.view.snapshot
            try:
                await _random_op(rng, nets, ports, hosts)
            except L2popError:
                continue  # a refused op (duplicate IP, ...) must change nothing
            after = service.view.snapshot
            for host in HOSTS:
                allowed = set(desired(before, host).networks) | set(desired(after, host).networks)
                for line in _drain(received[host]):
                    assert set(line["networks"]) <= allowed, (host, line)
                    states[host] = apply(states[host], decode_change(line).delta)
                    lines[host].append(line)
        _assert_address_index_matches_records(service)
        for host in HOSTS:
            assert states[host] == desired(service.view.snapshot, host), host
            if service.view.get("host", host) is None:
                continue  # unregistered by the scenario: nothing to resume
            again = await watches.open(ADMIN, host, str(start), "admin")
            got = [json.loads(x) for chunk in again.history for x in chunk.splitlines() if x]
            assert [g for g in got if g["type"] == "change"] == lines[host]
            watches.close(again)
    finally:
        await service.close()


@pytest.mark.parametrize("seed", range(6))
def test_streams_carry_only_interested_networks_and_add_up_to_state(
    tmp_path: Path, seed: int
) -> None:
    asyncio.run(_scenario(tmp_path / "l2pop.db", seed, steps=150))
