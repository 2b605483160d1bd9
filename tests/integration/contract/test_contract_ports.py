"""DESIGN §5 ports: shapes, MAC generation, conflicts, filters, paging, address pairs."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from contract_support import Api, ContractServer, assert_neutron_error, unique

PORT_FIELDS = {
    "id",
    "network_id",
    "mac_address",
    "fixed_ips",
    "allowed_address_pairs",
    "binding:host_id",
    "status",
    "device_owner",
    "device_id",
    "admin_state_up",
    "revision_number",
}


def test_create_answers_201_with_the_port_shape_and_a_generated_fa163e_mac(admin: Api) -> None:
    net = admin.network()
    port = admin.port(net["id"], fixed_ips=[{"ip_address": "198.51.100.7"}])
    assert set(port) >= PORT_FIELDS, PORT_FIELDS - set(port)
    assert uuid.UUID(port["id"])
    assert re.fullmatch(r"fa:16:3e(:[0-9a-f]{2}){3}", port["mac_address"]), port["mac_address"]
    assert port["network_id"] == net["id"]
    assert port["fixed_ips"][0]["ip_address"] == "198.51.100.7"
    assert port["status"] == "DOWN", "a new unbound port is DOWN"
    assert port["admin_state_up"] is True
    assert admin.get(f"/v2.0/ports/{port['id']}") == {"port": port}
    assert set(admin.get(f"/v2.0/ports?network_id={net['id']}")) == {"ports"}


def test_binding_a_port_makes_it_build_and_unbinding_makes_it_down(admin: Api) -> None:
    net = admin.network()
    port = admin.port(net["id"])
    path = f"/v2.0/ports/{port['id']}"
    bound = admin.put(path, {"port": {"binding:host_id": unique("anyhost")}})["port"]
    assert bound["status"] == "BUILD"
    assert admin.put(path, {"port": {"binding:host_id": ""}})["port"]["status"] == "DOWN"


def test_ipv4_and_ipv6_fixed_ips_are_kept(admin: Api) -> None:
    net = admin.network()
    ips = [{"ip_address": "198.51.100.9"}, {"ip_address": "2001:db8:100::9"}]
    port = admin.port(net["id"], fixed_ips=ips)
    assert [item["ip_address"] for item in port["fixed_ips"]] == [
        "198.51.100.9",
        "2001:db8:100::9",
    ]


@pytest.mark.parametrize(
    "fixed_ips",
    [[{"subnet_id": "x"}], [{}], [{"ip_address": "not-an-ip"}], "198.51.100.1"],
)
def test_a_fixed_ips_item_without_a_valid_ip_address_is_400(admin: Api, fixed_ips: Any) -> None:
    net = admin.network()
    body = {"port": {"network_id": net["id"], "fixed_ips": fixed_ips}}
    assert_neutron_error(admin.http.post("/v2.0/ports", json=body), 400)
    assert admin.get(f"/v2.0/ports?network_id={net['id']}")["ports"] == []


def test_duplicate_mac_and_duplicate_ip_in_a_network_are_409(admin: Api) -> None:
    net = admin.network()
    port = admin.port(net["id"], fixed_ips=[{"ip_address": "198.51.100.20"}])
    same_mac = {"port": {"network_id": net["id"], "mac_address": port["mac_address"]}}
    assert_neutron_error(admin.http.post("/v2.0/ports", json=same_mac), 409)
    same_ip = {"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "198.51.100.20"}]}}
    assert_neutron_error(admin.http.post("/v2.0/ports", json=same_ip), 409)
    other = admin.network()
    admin.port(other["id"], mac_address=port["mac_address"])  # unique per network only


@pytest.mark.parametrize("mac", ["01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "zz:16:3e:00:00:01"])
def test_a_multicast_or_malformed_mac_is_400(admin: Api, mac: str) -> None:
    net = admin.network()
    body = {"port": {"network_id": net["id"], "mac_address": mac}}
    assert_neutron_error(admin.http.post("/v2.0/ports", json=body), 400)


def test_a_port_on_an_unknown_network_is_rejected_without_500(admin: Api) -> None:
    body = {"port": {"network_id": "00000000-0000-4000-8000-000000000000"}}
    response = admin.http.post("/v2.0/ports", json=body)
    assert response.status_code in (400, 404), response.text
    assert_neutron_error(response, response.status_code)


def test_the_mac_may_change_while_not_active_but_not_once_active(
    server: ContractServer, admin: Api
) -> None:
    host = unique("hm")
    admin.host(host, server.tunnel_ip())
    net = admin.network()
    port = admin.port(net["id"], **{"binding:host_id": host})
    path = f"/v2.0/ports/{port['id']}"
    changed = admin.put(path, {"port": {"mac_address": "fa:16:3e:12:34:56"}})["port"]
    assert changed["mac_address"] == "fa:16:3e:12:34:56"
    admin.report(host, port["id"], "ACTIVE")
    body = {"port": {"mac_address": "fa:16:3e:65:43:21"}}
    assert_neutron_error(admin.http.put(path, json=body), 409)
    assert admin.get(path)["port"]["mac_address"] == "fa:16:3e:12:34:56"


def test_list_filters_select_ports(server: ContractServer, admin: Api) -> None:
    host = unique("hf")
    admin.host(host, server.tunnel_ip())
    net = admin.network()
    unbound = admin.port(net["id"], device_id="vm-1")
    bound = admin.port(net["id"], **{"binding:host_id": host}, device_id="vm-2")
    active = admin.port(net["id"], **{"binding:host_id": host})
    admin.report(host, active["id"], "ACTIVE")
    nid = net["id"]

    def ids(query: str) -> set[str]:
        return {p["id"] for p in admin.get(f"/v2.0/ports?{query}")["ports"]}

    assert ids(f"network_id={nid}") == {unbound["id"], bound["id"], active["id"]}
    assert ids(f"binding:host_id={host}") == {bound["id"], active["id"]}
    assert ids(f"binding%3Ahost_id={host}") == {bound["id"], active["id"]}, "as requests sends it"
    assert ids(f"network_id={nid}&status=ACTIVE") == {active["id"]}
    assert ids(f"network_id={nid}&status=BUILD") == {bound["id"]}
    assert ids(f"network_id={nid}&status=DOWN") == {unbound["id"]}
    assert ids(f"mac_address={bound['mac_address']}&network_id={nid}") == {bound["id"]}
    assert ids(f"device_id=vm-1&network_id={nid}") == {unbound["id"]}


@pytest.mark.parametrize("query", ["colour=blue", "binding_host_id=x", "network=abc"])
def test_an_unknown_port_list_filter_is_400(admin: Api, query: str) -> None:
    assert_neutron_error(admin.http.get(f"/v2.0/ports?{query}"), 400)


def test_ports_page_with_limit_marker_and_a_next_link(admin: Api) -> None:
    net = admin.network()
    made = [admin.port(net["id"])["id"] for _ in range(5)]
    everything = [p["id"] for p in admin.get(f"/v2.0/ports?network_id={net['id']}")["ports"]]
    assert sorted(everything) == sorted(made)
    first = admin.get(f"/v2.0/ports?network_id={net['id']}&limit=2")
    assert [p["id"] for p in first["ports"]] == everything[:2]
    [link] = [link for link in first["ports_links"] if link["rel"] == "next"]
    query = parse_qs(urlsplit(link["href"]).query)
    assert query["limit"] == ["2"]
    assert query["marker"] == [everything[1]]
    assert query["network_id"] == [net["id"]]
    seen = [p["id"] for p in first["ports"]]
    href: str | None = link["href"]
    for _ in range(5):
        if href is None:
            break
        page = admin.get(href)
        seen += [p["id"] for p in page["ports"]]
        nexts = [x["href"] for x in page.get("ports_links", []) if x["rel"] == "next"]
        href = nexts[0] if nexts else None
    assert href is None
    assert seen == everything
    marker = admin.get(f"/v2.0/ports?network_id={net['id']}&marker={everything[2]}")
    assert [p["id"] for p in marker["ports"]] == everything[3:]


def test_allowed_address_pairs_default_their_mac_to_the_port_mac(admin: Api) -> None:
    net = admin.network()
    pairs = [
        {"ip_address": "198.51.100.50"},
        {"ip_address": "198.51.100.51", "mac_address": "fa:16:3e:aa:bb:cc"},
        {"ip_address": "198.51.100.64/28"},
    ]
    port = admin.port(net["id"], allowed_address_pairs=pairs)
    stored = port["allowed_address_pairs"]
    assert {"ip_address": "198.51.100.50", "mac_address": port["mac_address"]} in stored
    assert {"ip_address": "198.51.100.51", "mac_address": "fa:16:3e:aa:bb:cc"} in stored
    assert {"ip_address": "198.51.100.64/28", "mac_address": port["mac_address"]} in stored


def test_a_port_delete_is_204_then_404(admin: Api) -> None:
    net = admin.network()
    port = admin.port(net["id"])
    admin.delete(f"/v2.0/ports/{port['id']}")
    assert_neutron_error(admin.http.get(f"/v2.0/ports/{port['id']}"), 404)
    assert_neutron_error(admin.http.put(f"/v2.0/ports/{port['id']}", json={"port": {}}), 404)
