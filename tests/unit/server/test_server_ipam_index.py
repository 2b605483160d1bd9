"""The view's per-subnet IPAM state equals what the records say, after random operations.

Random creates (automatic, by subnet, explicit), fixed-IP updates, deletes and
subnet creates/deletes, some of them concurrent, on a real SQLite store; after
each batch, a :class:`SubnetIndex` rebuilt from the records must agree with
the live one (taken addresses and the next free address of every subnet),
and a reopened service must agree too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from pathlib import Path
from typing import Any

import pytest

from l2pop.errors import L2popError
from l2pop.server.auth import AdminToken
from l2pop.server.metrics import Metrics
from l2pop.server.resources.networks import NetworkOps
from l2pop.server.resources.ports import PortOps
from l2pop.server.resources.subnets import SubnetOps
from l2pop.server.service import Service, ServiceConfig
from l2pop.server.store.sqlite import SQLiteStore
from l2pop.server.subnet_index import SubnetIndex


def _assert_index_matches_records(service: Service) -> None:
    view = service.view
    rebuilt = SubnetIndex(view.values("subnet"), view.values("port"))
    held: dict[str, set[int]] = {}
    for port in view.values("port"):
        for item in port["fixed_ips"]:
            if "subnet_id" in item:
                address = int(ipaddress.ip_address(item["ip_address"]))
                assert address not in held.setdefault(item["subnet_id"], set()), "duplicate"
                held[item["subnet_id"]].add(address)
    for subnet in view.values("subnet"):
        live, fresh = view.subnets.free(subnet["id"]), rebuilt.free(subnet["id"])
        assert live.taken == fresh.taken == held.get(subnet["id"], set())
        assert live.first_free() == fresh.first_free()


async def _step(rng: random.Random, nets: list[str], subs: SubnetOps, ports: PortOps) -> None:
    net = rng.choice(nets)
    subnets = [s for s in subs.all() if s["network_id"] == net]
    mine = [p for p in ports.all() if p["network_id"] == net]
    choice = rng.random()
    body: dict[str, Any] = {"network_id": net}
    if choice < 0.35:
        await ports.create({"port": body})
    elif choice < 0.5 and subnets:
        body["fixed_ips"] = [{"subnet_id": rng.choice(subnets)["id"]}]
        await ports.create({"port": body})
    elif choice < 0.6 and subnets:
        subnet = rng.choice(subnets)
        start = int(ipaddress.ip_network(subnet["cidr"]).network_address)
        address = str(ipaddress.ip_address(start + rng.randrange(1, 14)))
        body["fixed_ips"] = [{"ip_address": address}]
        await ports.create({"port": body})
    elif choice < 0.75 and mine and subnets:
        fixed = [{"subnet_id": rng.choice(subnets)["id"]} for _ in range(rng.randrange(3))]
        await ports.update(rng.choice(mine)["id"], {"port": {"fixed_ips": fixed}})
    elif choice < 0.9 and mine:
        await ports.delete(rng.choice(mine)["id"])
    elif choice < 0.95 and subnets:
        await subs.delete(rng.choice(subnets)["id"])
    else:
        cidr = f"10.{nets.index(net)}.{rng.randrange(8)}.0/28"
        await subs.create({"subnet": {"network_id": net, "cidr": cidr}})


async def _scenario(db: Path, seed: int) -> None:
    rng = random.Random(seed)

    async def open_service() -> Service:
        return await Service.open(SQLiteStore(db), AdminToken("a"), ServiceConfig(), Metrics())

    service = await open_service()
    networks, subs, ports = NetworkOps(service), SubnetOps(service), PortOps(service)
    nets = [(await networks.create({"network": {"name": f"n{i}"}}))["id"] for i in range(2)]
    for i, net in enumerate(nets):
        await subs.create({"subnet": {"network_id": net, "cidr": f"10.{i}.0.0/28"}})
    for _ in range(25):
        results = await asyncio.gather(
            *(_step(rng, nets, subs, ports) for _ in range(rng.randrange(1, 6))),
            return_exceptions=True,
        )
        for result in results:
            # Refusals (pool exhausted, address taken, subnet in use) are expected.
            if isinstance(result, BaseException) and not isinstance(result, L2popError):
                raise result
        _assert_index_matches_records(service)
    assert any("subnet_id" in ip for p in ports.all() for ip in p["fixed_ips"]), "vacuous run"
    await service.close()
    reopened = await open_service()
    _assert_index_matches_records(reopened)
    await reopened.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ipam_index_equals_the_records_after_random_operations(tmp_path: Path, seed: int) -> None:
    asyncio.run(_scenario(tmp_path / "l2pop.db", seed))
