"""Remote endpoints over the API (real SQLite): who may write them, convergence of
several gateways, what hosts get, and the gateways' list + watch feed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from srvapi import ADMIN, Api

from l2pop.server.auth import AdminToken
from l2pop.server.evpnfeed import EvpnFeed
from l2pop.server.metrics import Metrics
from l2pop.server.resources.hosts import HostOps
from l2pop.server.resources.ports import PortOps
from l2pop.server.resources.remote import GatewayOps, RemoteOps
from l2pop.server.service import Service, ServiceConfig
from l2pop.server.store.sqlite import SQLiteStore

FRR = "198.18.0.7"
FRR_MAC = "52:54:00:00:00:07"


def gateway(api: Api, name: str) -> str:
    answer = api.ok("POST", "/v1/gateways", {"name": name})
    token: str = answer["token"]
    return token


def route(net: str, mac: str | None = FRR_MAC, ip: str | None = None) -> dict[str, Any]:
    if mac is None:
        return {"network_id": net, "type": "flood", "vtep": FRR}
    return {"network_id": net, "type": "mac", "vtep": FRR, "mac_address": mac, "ip_address": ip}


@pytest.fixture
def world(api: Api) -> tuple[str, str]:
    """A network with an ACTIVE port on h1; returns (network id, h1's token)."""
    net = api.network(name="n", **{"provider:segmentation_id": 100})["id"]
    token = api.host("h1", "192.0.2.1")
    port = api.port(net, **{"binding:host_id": "h1", "fixed_ips": [{"ip_address": "10.0.0.1"}]})
    api.ok("PUT", f"/v1/hosts/h1/ports/{port['id']}/status", {"status": "ACTIVE"}, token)
    return net, token


def test_only_a_gateway_token_writes_remote_endpoints(api: Api, world: tuple[str, str]) -> None:
    net, host_token = world
    body = {"add": [route(net, None)]}
    assert api.call("POST", "/v1/remote-endpoints", body)[0] == 403  # the admin
    assert api.call("POST", "/v1/remote-endpoints", body, host_token)[0] == 403
    assert api.call("POST", "/v1/remote-endpoints", body, None)[0] == 401
    assert api.call("POST", "/v1/remote-endpoints", body, "forged")[0] == 401
    assert api.call("POST", "/v1/gateways", {"name": "gw1"}, host_token)[0] == 403
    token = gateway(api, "gw1")
    assert api.call("POST", "/v1/gateways", {"name": "gw1"})[0] == 409
    assert api.call("GET", "/v1/gateways", token=token)[0] == 403
    api.ok("POST", "/v1/remote-endpoints", body, token)
    assert len(api.ok("GET", "/v1/remote-endpoints")["remote_endpoints"]) == 1
    # A new token revokes the old one at once.
    new = api.ok("POST", "/v1/gateways/gw1/token")["token"]
    assert api.call("POST", "/v1/remote-endpoints", body, token)[0] == 401
    api.ok("POST", "/v1/remote-endpoints", body, new)


def test_two_gateways_converge_on_one_record_and_hosts_get_it(
    api: Api, world: tuple[str, str]
) -> None:
    net, host_token = world
    gw1, gw2 = gateway(api, "gw1"), gateway(api, "gw2")
    routes = [route(net, None), route(net), route(net, ip="10.0.0.7")]
    for token in (gw1, gw2, gw1):  # the third is a no-op: idempotent
        api.ok("POST", "/v1/remote-endpoints", {"add": routes}, token)
    listed = api.ok("GET", f"/v1/remote-endpoints?network_id={net}")["remote_endpoints"]
    assert len(listed) == 3
    assert all(r["gateways"] == ["gw1", "gw2"] for r in listed)
    assert api.ok("GET", "/v1/remote-endpoints?network_id=other")["remote_endpoints"] == []
    assert api.call("GET", "/v1/remote-endpoints?vtep=x")[0] == 400
    state = api.ok("GET", "/v1/hosts/h1/state", token=host_token)["networks"][net]
    assert state["flood"] == [FRR]
    assert state["unicast"] == [{"mac": FRR_MAC, "vtep": FRR}]
    assert state["neigh"] == [{"ip": "10.0.0.7", "mac": FRR_MAC}]
    # One gateway withdraws: the other still holds them.
    api.ok("POST", "/v1/remote-endpoints", {"remove": routes}, gw1)
    listed = api.ok("GET", "/v1/remote-endpoints")["remote_endpoints"]
    assert [r["gateways"] for r in listed] == [["gw2"]] * 3
    # Deleting gw2 releases its holds: nothing is left, h1 forgets the VTEP.
    api.ok("DELETE", "/v1/gateways/gw2")
    assert api.ok("GET", "/v1/remote-endpoints")["remote_endpoints"] == []
    state = api.ok("GET", "/v1/hosts/h1/state", token=host_token)["networks"][net]
    assert state["flood"] == []


def test_an_own_port_wins_over_a_remote_endpoint_with_its_mac(
    api: Api, world: tuple[str, str]
) -> None:
    net, host_token = world
    gw = gateway(api, "gw1")
    api.ok("POST", "/v1/remote-endpoints", {"add": [route(net, ip="10.0.0.9")]}, gw)
    port = api.port(net, mac_address=FRR_MAC, **{"binding:host_id": "h2"})
    state = api.ok("GET", "/v1/hosts/h1/state", token=host_token)["networks"][net]
    assert state["unicast"] == []
    api.ok("DELETE", f"/v2.0/ports/{port['id']}")
    state = api.ok("GET", "/v1/hosts/h1/state", token=host_token)["networks"][net]
    assert state["unicast"] == [{"mac": FRR_MAC, "vtep": FRR}]


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"add": "x"},
        {"add": [{"network_id": "n"}]},
        {"add": [{"network_id": "n", "type": "type5", "vtep": FRR}]},
        {"add": [{"network_id": "n", "type": "mac", "vtep": FRR, "mac_address": "nope"}]},
        {"add": [{"network_id": "n", "type": "flood", "vtep": FRR, "extra": 1}]},
        {"bogus": []},
    ],
)
def test_bad_batches_are_400_and_change_nothing(
    api: Api, world: tuple[str, str], body: object
) -> None:
    gw = gateway(api, "gw1")
    before = api.dump()
    status, answer = api.call("POST", "/v1/remote-endpoints", body, gw)
    assert status == 400, answer
    assert "NeutronError" in answer
    assert api.dump() == before


def test_a_route_of_an_unknown_network_is_404_and_a_double_route_400(
    api: Api, world: tuple[str, str]
) -> None:
    net, _ = world
    gw = gateway(api, "gw1")
    before = api.dump()
    body = {"add": [route(net, None), route("no-such-net", None)]}
    assert api.call("POST", "/v1/remote-endpoints", body, gw)[0] == 404
    both = {"add": [route(net, None)], "remove": [route(net, None)]}
    assert api.call("POST", "/v1/remote-endpoints", both, gw)[0] == 400
    assert api.dump() == before


def test_the_feed_lists_and_streams_records_without_token_hashes(tmp_path: Path) -> None:
    async def main() -> None:
        service = await Service.open(
            SQLiteStore(tmp_path / "db"), AdminToken(ADMIN), ServiceConfig(), Metrics()
        )
        try:
            feed = EvpnFeed(service, bookmark_interval=0.05)
            hosts = HostOps(service, PortOps(service))
            await hosts.register({"name": "h1", "tunnel_ip": "192.0.2.1"})
            start = service.view.revision
            stream = await feed.open(str(start))
            first = json.loads(await anext(stream))
            assert first == {"type": "bookmark", "revision": start}
            await GatewayOps(service).register({"name": "gw"})  # gateways never leave
            await hosts.register({"name": "h2", "tunnel_ip": "192.0.2.2"})
            line = json.loads(await anext(stream))
            assert line["type"] == "change"
            assert line["changes"][0]["value"]["name"] == "h2"
            assert "token_hash" not in line["changes"][0]["value"]
            assert json.loads(await anext(stream))["type"] == "bookmark"
            # Resume from the start: the backlog again, then live.
            again = await feed.open(str(start))
            lines = (await anext(again)).splitlines()
            assert [json.loads(x)["type"] for x in lines] == ["change", "bookmark"]
            with pytest.raises(Exception, match="ahead"):
                await feed.open(str(service.view.revision + 5))
            assert RemoteOps(service).list() == []
            feed.close()
            await stream.aclose()
            await again.aclose()
        finally:
            await service.close()

    asyncio.run(main())


def test_rd_indexes_for_big_vnis_are_allocated_once_and_kept(api: Api) -> None:
    small = api.network(name="s", **{"provider:segmentation_id": 65535})["id"]
    big1 = api.network(name="b1", **{"provider:segmentation_id": 70_000})["id"]
    big2 = api.network(name="b2", **{"provider:segmentation_id": 16_000_000})["id"]
    gw = gateway(api, "gw1")
    path = "/v1/evpn/rd-indexes"
    assert api.call("POST", path, {"network_id": big1})[0] == 403  # the admin: gateways only
    first = api.ok("POST", path, {"network_id": big1}, gw)["rd_index"]
    assert first == {"network_id": big1, "index": 65534}  # 65535 is a VNI in use
    assert api.ok("POST", path, {"network_id": big1}, gw)["rd_index"] == first
    assert api.ok("POST", path, {"network_id": big2}, gw)["rd_index"]["index"] == 65533
    assert api.call("POST", path, {"network_id": small}, gw)[0] == 400
    assert api.call("POST", path, {"network_id": "nope"}, gw)[0] == 404
    assert api.call("POST", path, {"network": big1}, gw)[0] == 400
    state = api.ok("GET", "/v1/evpn/state", token=gw)
    assert state["gateway"] == "gw1"
    assert sorted(r["index"] for r in state["rd_indexes"]) == [65533, 65534]
