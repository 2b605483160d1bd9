"""IPAM under concurrency: 50 parallel creates into a subnet with 40 free addresses.

Exactly 40 get distinct pool addresses, 10 get ``409 IpAddressGenerationFailure``,
on a real SQLite server process and on two replicas over a real 3-member etcd
(the creates alternate between them, so the store's index records decide).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections import Counter
from pathlib import Path

import httpx
import pytest

from harness.etcd import EtcdCluster
from harness.servers import running, running_replicas

CREATES = 50
POOL = {"start": "10.77.0.10", "end": "10.77.0.49"}  # 40 addresses


async def _race(urls: list[str], token: str) -> None:
    headers = {"X-Auth-Token": token}
    async with httpx.AsyncClient(headers=headers, timeout=30) as http:
        net = await http.post(f"{urls[0]}/v2.0/networks", json={"network": {"name": "race"}})
        net_id = net.json()["network"]["id"]
        body = {
            "subnet": {"network_id": net_id, "cidr": "10.77.0.0/24", "allocation_pools": [POOL]}
        }
        subnet = await http.post(f"{urls[0]}/v2.0/subnets", json=body)
        assert subnet.status_code == 201, subnet.text

        async def create(index: int) -> httpx.Response:
            port = {"port": {"network_id": net_id, "name": f"p{index}"}}
            return await http.post(f"{urls[index % len(urls)]}/v2.0/ports", json=port)

        answers = await asyncio.gather(*(create(i) for i in range(CREATES)))
        statuses = Counter(a.status_code for a in answers)
        assert statuses == {201: 40, 409: 10}, [a.text for a in answers if a.status_code >= 300]
        types = {a.json()["NeutronError"]["type"] for a in answers if a.status_code == 409}
        assert types == {"IpAddressGenerationFailure"}
        addresses = [
            a.json()["port"]["fixed_ips"][0]["ip_address"] for a in answers if a.status_code == 201
        ]
        assert len(set(addresses)) == 40
        first, last = (int(ipaddress.ip_address(POOL[k])) for k in ("start", "end"))
        assert all(first <= int(ipaddress.ip_address(a)) <= last for a in addresses)
        # Every replica lists the same 40 ports (read your writes across replicas).
        for url in urls:
            listed = await http.get(f"{url}/v2.0/ports", params={"network_id": net_id})
            assert sorted(
                p["fixed_ips"][0]["ip_address"] for p in listed.json()["ports"]
            ) == sorted(addresses)


def test_ipam_race_on_sqlite(tmp_path: Path) -> None:
    with running(tmp_path) as server:
        asyncio.run(_race([server.url], server.token))


@pytest.mark.etcd
def test_ipam_race_on_etcd_two_replicas(tmp_path: Path, cluster: EtcdCluster) -> None:
    assert len(cluster.members) == 3
    with running_replicas(tmp_path, cluster.endpoints, count=2) as replicas:
        asyncio.run(_race([r.url for r in replicas], replicas[0].token))
