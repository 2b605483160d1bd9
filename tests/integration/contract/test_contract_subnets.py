"""DESIGN §5 subnets and IPAM, extensions, ``fields=``/``name=`` and Neutron error types."""

from __future__ import annotations

from typing import Any

import pytest
from contract_support import Api, ContractServer, assert_neutron_error, unique

SUBNET_FIELDS = {
    "id", "name", "network_id", "ip_version", "cidr", "gateway_ip", "allocation_pools",
    "enable_dhcp", "dns_nameservers", "host_routes", "ipv6_address_mode", "ipv6_ra_mode",
    "subnetpool_id", "revision_number", "created_at", "updated_at", "project_id", "tenant_id",
}  # fmt: skip


def _subnet(admin: Api, network_id: str, cidr: str, **fields: Any) -> dict[str, Any]:
    body = {"subnet": {"network_id": network_id, "cidr": cidr, **fields}}
    return dict(admin.post("/v2.0/subnets", body)["subnet"])


def test_subnet_shape_show_list_update_delete(admin: Api) -> None:
    net = admin.network()
    name = unique("s")
    subnet = _subnet(admin, net["id"], "192.0.2.0/24", name=name, dns_nameservers=["192.0.2.53"])
    assert set(subnet) >= SUBNET_FIELDS, SUBNET_FIELDS - set(subnet)
    assert subnet["subnetpool_id"] is None
    assert subnet["gateway_ip"] == "192.0.2.1"
    assert admin.get(f"/v2.0/subnets/{subnet['id']}") == {"subnet": subnet}
    assert admin.get(f"/v2.0/subnets?name={name}")["subnets"] == [subnet]
    updated = admin.put(
        f"/v2.0/subnets/{subnet['id']}", {"subnet": {"name": name + "x", "gateway_ip": None}}
    )["subnet"]
    assert updated["gateway_ip"] is None
    assert updated["revision_number"] == 2
    for field, value in (("cidr", "192.0.2.0/25"), ("ip_version", 6), ("network_id", "x")):
        body = {"subnet": {field: value}}
        assert_neutron_error(admin.http.put(f"/v2.0/subnets/{subnet['id']}", json=body), 400)
    admin.delete(f"/v2.0/subnets/{subnet['id']}")
    error = assert_neutron_error(admin.http.get(f"/v2.0/subnets/{subnet['id']}"), 404)
    assert error["type"] == "SubnetNotFound"


def test_ipam_addresses_are_published_in_the_hosts_state(
    server: ContractServer, admin: Api
) -> None:
    host = unique("ipam")
    admin.host(host, server.tunnel_ip())
    net = admin.network()
    s4 = _subnet(admin, net["id"], "203.0.113.0/24")
    s6 = _subnet(admin, net["id"], "2001:db8:77::/64", ip_version=6)
    port = admin.port(net["id"], **{"binding:host_id": host})
    assert port["fixed_ips"] == [
        {"subnet_id": s4["id"], "ip_address": "203.0.113.2"},
        {"subnet_id": s6["id"], "ip_address": "2001:db8:77::2"},
    ]
    state = admin.state(host)
    assert [p["fixed_ips"] for p in state["ports"]] == [
        [{"ip_address": "203.0.113.2"}, {"ip_address": "2001:db8:77::2"}]
    ]
    shown = admin.get(f"/v2.0/ports/{port['id']}?fields=id&fields=fixed_ips")["port"]
    assert shown == {"id": port["id"], "fixed_ips": port["fixed_ips"]}
    found = admin.get("/v2.0/ports?fixed_ips=ip_address%3D203.0.113.2")["ports"]
    assert [p["id"] for p in found] == [port["id"]]


@pytest.mark.parametrize(
    ("fixed_ips", "status", "type_"),
    [
        ([{"ip_address": "203.0.114.9"}], 400, "InvalidIpForNetwork"),
        ([{"ip_address": "198.18.0.10"}], 409, "IpAddressAlreadyAllocated"),
        ([{"subnet_id": "SUBNET"}, {"subnet_id": "SUBNET"}], 409, "IpAddressGenerationFailure"),
    ],
)
def test_ipam_refusals_have_neutron_types_and_change_nothing(
    admin: Api, fixed_ips: list[dict[str, str]], status: int, type_: str
) -> None:
    net = admin.network()
    pool = [{"start": "198.18.0.10", "end": "198.18.0.10"}]
    subnet = _subnet(admin, net["id"], "198.18.0.0/24", allocation_pools=pool)
    admin.port(net["id"])  # takes .10, the whole pool
    before = admin.get(f"/v2.0/ports?network_id={net['id']}")
    items = [{k: subnet["id"] if v == "SUBNET" else v for k, v in i.items()} for i in fixed_ips]
    body = {"port": {"network_id": net["id"], "fixed_ips": items}}
    assert assert_neutron_error(admin.http.post("/v2.0/ports", json=body), status)["type"] == type_
    assert admin.get(f"/v2.0/ports?network_id={net['id']}") == before
    error = assert_neutron_error(admin.http.delete(f"/v2.0/subnets/{subnet['id']}"), 409)
    assert error["type"] == "SubnetInUse"


def test_extensions_list_and_show(admin: Api) -> None:
    listed = admin.get("/v2.0/extensions")["extensions"]
    aliases = {e["alias"] for e in listed}
    assert {"binding", "provider", "allowed-address-pairs"} <= aliases
    for extension in listed:
        assert set(extension) == {"alias", "name", "description", "updated", "links"}
        assert admin.get(f"/v2.0/extensions/{extension['alias']}") == {"extension": extension}
    assert_neutron_error(admin.http.get("/v2.0/extensions/tag-ports-during-bulk-creation"), 404)


def test_network_delete_takes_its_subnets_and_fields_on_network_show(admin: Api) -> None:
    net = admin.network()
    subnet = _subnet(admin, net["id"], "100.64.0.0/24")
    shown = admin.get(f"/v2.0/networks/{net['id']}?fields=subnets")
    assert shown == {"network": {"subnets": [subnet["id"]]}}
    admin.delete(f"/v2.0/networks/{net['id']}")
    assert_neutron_error(admin.http.get(f"/v2.0/subnets/{subnet['id']}"), 404)
