"""Subnets and IPAM through the API (real SQLite): Neutron's shapes, rules and errors."""

from __future__ import annotations

from typing import Any

import pytest
from srvapi import Api


def _subnet(api: Api, network_id: str, cidr: str, **fields: Any) -> dict[str, Any]:
    body = {"subnet": {"network_id": network_id, "cidr": cidr, **fields}}
    subnet: dict[str, Any] = api.ok("POST", "/v2.0/subnets", body)["subnet"]
    return subnet


def _error(api: Api, method: str, path: str, body: Any, status: int) -> dict[str, Any]:
    before = api.dump()
    got, answer = api.call(method, path, body)
    assert got == status, answer
    assert api.dump() == before, "a refused write changed the store"
    error: dict[str, Any] = answer["NeutronError"]
    return error


def test_subnet_shape_defaults_and_network_lists_it(api: Api) -> None:
    net = api.network(name="n", **{"provider:segmentation_id": "1500"})  # numeric string
    assert net["provider:segmentation_id"] == 1500
    s4 = _subnet(api, net["id"], "10.0.0.0/24", name="s4")
    assert s4["gateway_ip"] == "10.0.0.1"
    assert s4["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.0.254"}]
    assert s4["ip_version"] == 4
    assert s4["enable_dhcp"] is True
    assert s4["subnetpool_id"] is None
    assert s4["revision_number"] == 1
    for key in ("dns_nameservers", "host_routes", "ipv6_address_mode", "created_at", "updated_at"):
        assert key in s4
    s6 = _subnet(api, net["id"], "fd00::/64", ip_version=6, gateway_ip=None)
    assert s6["gateway_ip"] is None
    shown = api.ok("GET", f"/v2.0/networks/{net['id']}")["network"]
    assert shown["subnets"] == [s4["id"], s6["id"]]
    listed = api.ok("GET", f"/v2.0/subnets?network_id={net['id']}&ip_version=6")["subnets"]
    assert [s["id"] for s in listed] == [s6["id"]]
    names = api.ok("GET", "/v2.0/subnets?name=s4&fields=id&fields=cidr")["subnets"]
    assert names == [{"id": s4["id"], "cidr": "10.0.0.0/24"}]
    one = api.ok("GET", f"/v2.0/subnets/{s4['id']}?fields=gateway_ip")["subnet"]
    assert one == {"gateway_ip": "10.0.0.1"}


def test_subnet_refusals_change_nothing(api: Api) -> None:
    net = api.network(name="n")
    s4 = _subnet(api, net["id"], "10.0.0.0/24")
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"cidr": "10.0.0.5/24"}, 400, "host bits"),
        ({"cidr": "10.0.0.0/16"}, 400, "overlaps"),
        ({"cidr": "10.1.0.0/24", "gateway_ip": "10.2.0.1"}, 400, "outside"),
        (
            {"cidr": "10.1.0.0/24", "allocation_pools": [{"start": "10.1.1.1", "end": "10.1.1.2"}]},
            400,
            "outside",
        ),
        ({"cidr": "10.1.0.0/24", "ip_version": 6}, 400, "ip_version"),
        ({"cidr": "10.1.0.0/24", "subnetpool_id": "x"}, 400, "subnet pools"),
        ({"cidr": "10.1.0.0/24", "bogus": 1}, 400, "bogus"),
    ]
    for fields, status, needle in cases:
        body = {"subnet": {"network_id": net["id"], **fields}}
        assert needle in _error(api, "POST", "/v2.0/subnets", body, status)["message"]
    missing = {"subnet": {"network_id": "nope", "cidr": "10.5.0.0/24"}}
    assert _error(api, "POST", "/v2.0/subnets", missing, 404)["type"] == "NetworkNotFound"
    for field, value in (("cidr", "10.0.0.0/25"), ("ip_version", 6)):
        _error(api, "PUT", f"/v2.0/subnets/{s4['id']}", {"subnet": {field: value}}, 400)
    gone = _error(api, "GET", "/v2.0/subnets/nope", None, 404)
    assert gone["type"] == "SubnetNotFound"
    conflict = {"subnet": {"allocation_pools": [{"start": "10.0.0.1", "end": "10.0.0.9"}]}}
    got = _error(api, "PUT", f"/v2.0/subnets/{s4['id']}", conflict, 409)
    assert got["type"] == "GatewayConflictWithAllocationPools"


def test_ipam_picks_next_free_v4_and_v6_and_frees_on_delete(api: Api) -> None:
    net = api.network(name="n")
    pools = [{"start": "10.0.0.10", "end": "10.0.0.12"}]
    s4 = _subnet(api, net["id"], "10.0.0.0/24", allocation_pools=pools)
    s6 = _subnet(api, net["id"], "fd00::/64", ip_version=6)
    a = api.port(net["id"])
    assert a["fixed_ips"] == [
        {"subnet_id": s4["id"], "ip_address": "10.0.0.10"},
        {"subnet_id": s6["id"], "ip_address": "fd00::2"},
    ]
    b = api.port(net["id"], fixed_ips=[{"subnet_id": s4["id"]}])
    assert b["fixed_ips"] == [{"subnet_id": s4["id"], "ip_address": "10.0.0.11"}]
    # Explicit: inside the subnet, outside the pool is allowed (as Neutron).
    c = api.port(net["id"], fixed_ips=[{"ip_address": "10.0.0.200"}])
    assert c["fixed_ips"] == [{"subnet_id": s4["id"], "ip_address": "10.0.0.200"}]
    api.port(net["id"], fixed_ips=[{"subnet_id": s4["id"]}])  # .12, the last
    body = {"port": {"network_id": net["id"], "fixed_ips": [{"subnet_id": s4["id"]}]}}
    assert _error(api, "POST", "/v2.0/ports", body, 409)["type"] == "IpAddressGenerationFailure"
    body = {"port": {"network_id": net["id"]}}
    assert _error(api, "POST", "/v2.0/ports", body, 409)["type"] == "IpAddressGenerationFailure"
    api.ok("DELETE", f"/v2.0/ports/{b['id']}")
    again = api.port(net["id"], fixed_ips=[{"subnet_id": s4["id"]}])
    assert again["fixed_ips"][0]["ip_address"] == "10.0.0.11"


def test_explicit_address_rules(api: Api) -> None:
    net = api.network(name="n")
    other = api.network(name="o")
    s4 = _subnet(api, net["id"], "10.0.0.0/24")
    s_other = _subnet(api, other["id"], "10.9.0.0/24")
    taken = api.port(net["id"], fixed_ips=[{"ip_address": "10.0.0.5"}])
    cases: list[tuple[list[dict[str, str]], int, str]] = [
        ([{"ip_address": "10.0.0.5"}], 409, "IpAddressAlreadyAllocated"),
        ([{"ip_address": "10.0.0.1"}], 409, "IpAddressAlreadyAllocated"),  # the gateway
        ([{"ip_address": "192.0.2.5"}], 400, "InvalidIpForNetwork"),
        ([{"subnet_id": s4["id"], "ip_address": "10.0.1.5"}], 400, "InvalidIpForNetwork"),
        ([{"ip_address": "10.0.0.255"}], 400, "InvalidIpForNetwork"),
        ([{"subnet_id": s_other["id"]}], 400, "InvalidIpForNetwork"),
    ]
    for fixed_ips, status, type_ in cases:
        body = {"port": {"network_id": net["id"], "fixed_ips": fixed_ips}}
        assert _error(api, "POST", "/v2.0/ports", body, status)["type"] == type_, fixed_ips
    router = api.port(
        net["id"], fixed_ips=[{"ip_address": "10.0.0.1"}], device_owner="network:router_interface"
    )
    assert router["fixed_ips"][0]["ip_address"] == "10.0.0.1"
    filtered = api.ok("GET", "/v2.0/ports?fixed_ips=ip_address%3D10.0.0.5")["ports"]
    assert [p["id"] for p in filtered] == [taken["id"]]
    by_subnet = api.ok("GET", f"/v2.0/ports?fixed_ips=subnet_id%3D{s4['id']}&fields=id")["ports"]
    assert sorted(p["id"] for p in by_subnet) == sorted([taken["id"], router["id"]])


def test_update_fixed_ips_frees_and_allocates_in_one_write(api: Api) -> None:
    net = api.network(name="n")
    s4 = _subnet(api, net["id"], "10.0.0.0/29")  # pool .2 - .6
    port = api.port(net["id"])
    assert port["fixed_ips"][0]["ip_address"] == "10.0.0.2"
    revision = api.dump()[0]
    body = {"port": {"fixed_ips": [{"subnet_id": s4["id"], "ip_address": "10.0.0.6"}]}}
    moved = api.ok("PUT", f"/v2.0/ports/{port['id']}", body)["port"]
    assert moved["fixed_ips"] == [{"subnet_id": s4["id"], "ip_address": "10.0.0.6"}]
    assert api.dump()[0] > revision
    # .2 is free again: the next port gets it.
    assert api.port(net["id"])["fixed_ips"][0]["ip_address"] == "10.0.0.2"
    # subnet_id alone keeps the port's address in that subnet.
    keep = {"port": {"fixed_ips": [{"subnet_id": s4["id"]}]}}
    same = api.ok("PUT", f"/v2.0/ports/{port['id']}", keep)["port"]
    assert same["fixed_ips"] == moved["fixed_ips"]
    add = {"port": {"fixed_ips": [*moved["fixed_ips"], {"subnet_id": s4["id"]}]}}
    two = api.ok("PUT", f"/v2.0/ports/{port['id']}", add)["port"]
    assert [ip["ip_address"] for ip in two["fixed_ips"]] == ["10.0.0.6", "10.0.0.3"]


def test_subnet_in_use_and_network_delete_takes_subnets(api: Api) -> None:
    net = api.network(name="n")
    s4 = _subnet(api, net["id"], "10.0.0.0/24")
    port = api.port(net["id"])
    assert _error(api, "DELETE", f"/v2.0/subnets/{s4['id']}", None, 409)["type"] == "SubnetInUse"
    assert _error(api, "DELETE", f"/v2.0/networks/{net['id']}", None, 409)["type"] == "NetworkInUse"
    api.ok("DELETE", f"/v2.0/ports/{port['id']}")
    s6 = _subnet(api, net["id"], "fd00::/64")
    api.ok("DELETE", f"/v2.0/subnets/{s6['id']}")
    assert api.ok("GET", f"/v2.0/networks/{net['id']}")["network"]["subnets"] == [s4["id"]]
    api.ok("DELETE", f"/v2.0/networks/{net['id']}")
    assert api.ok("GET", "/v2.0/subnets")["subnets"] == []
    _, rows = api.dump()
    assert not [r for r in rows if r[0] == "index" and str(r[1]).startswith("ipam/")]


def test_network_without_subnets_keeps_the_old_rules(api: Api) -> None:
    net = api.network(name="n", mtu="1400")
    assert net["mtu"] == 1400
    port = api.port(net["id"], fixed_ips=[{"ip_address": "198.51.100.7"}])
    assert port["fixed_ips"] == [{"ip_address": "198.51.100.7"}]
    assert api.port(net["id"])["fixed_ips"] == []


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v2.0/extensions", 200),
        ("/v2.0/extensions/binding", 200),
        ("/v2.0/extensions/tag-ports-during-bulk-creation", 404),
    ],
)
def test_extensions(api: Api, path: str, status: int) -> None:
    got, answer = api.call("GET", path)
    assert got == status
    if path == "/v2.0/extensions":
        aliases = {e["alias"] for e in answer["extensions"]}
        assert {"binding", "provider", "allowed-address-pairs"} <= aliases
        assert all(
            set(e) == {"alias", "name", "description", "updated", "links"}
            for e in answer["extensions"]
        )


def test_lists_sort_and_filter_and_refuse_unknown(api: Api) -> None:
    for name in ("b", "a", "c"):
        api.network(name=name, admin_state_up=name != "c")
    names = api.ok("GET", "/v2.0/networks?sort_key=name&sort_dir=desc&fields=name")["networks"]
    assert names == [{"name": "c"}, {"name": "b"}, {"name": "a"}]
    down = api.ok("GET", "/v2.0/networks?admin_state_up=False")["networks"]
    assert [n["name"] for n in down] == ["c"]
    assert api.call("GET", "/v2.0/networks?sort_dir=up")[0] == 400
    assert api.call("GET", "/v2.0/subnets?colour=red")[0] == 400
    assert api.call("GET", "/v2.0/ports?fixed_ips=mac=x")[0] == 400
