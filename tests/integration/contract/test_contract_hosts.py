"""DESIGN §5 host and agent API: registration, tokens, /state, status reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from contract_support import Api, ContractServer, assert_neutron_error, unique

STATE_PORT_FIELDS = {"id", "network_id", "mac_address", "fixed_ips", "status", "admin_state_up"}
MISSING_PORT = "00000000-0000-4000-8000-000000000000"


@dataclass
class Pair:
    """Two registered hosts with one port each on one network."""

    net: dict[str, Any]
    hosts: list[str]
    ips: list[str]
    tokens: list[str]
    ports: list[dict[str, Any]]


def _pair(server: ContractServer, admin: Api, pairs: Any = None) -> Pair:
    net = admin.network()
    hosts = [unique("h1"), unique("h2")]
    ips = [server.tunnel_ip(), server.tunnel_ip()]
    tokens = [admin.host(h, ip) for h, ip in zip(hosts, ips, strict=True)]
    extra = {"allowed_address_pairs": pairs} if pairs else {}
    ports = [
        admin.port(
            net["id"],
            **{"binding:host_id": host},
            fixed_ips=[{"ip_address": f"198.51.100.{i + 1}"}],
            **(extra if i == 1 else {}),
        )
        for i, host in enumerate(hosts)
    ]
    return Pair(net, hosts, ips, tokens, ports)


def test_register_answers_201_with_host_and_token(server: ContractServer, admin: Api) -> None:
    name, ip = unique("reg"), server.tunnel_ip()
    response = admin.http.post("/v1/hosts", json={"name": name, "tunnel_ip": ip})
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"host", "token"}
    assert body["host"]["name"] == name
    assert body["host"]["tunnel_ip"] == ip
    assert isinstance(body["token"], str)
    assert len(body["token"]) >= 16
    assert body["token"] not in str(admin.get("/v1/hosts")), "tokens are never listed"
    assert name in {h["name"] for h in admin.get("/v1/hosts")["hosts"]}


def test_an_ipv6_tunnel_ip_registers(admin: Api) -> None:
    name = unique("v6")
    answer = admin.post("/v1/hosts", {"name": name, "tunnel_ip": "2001:db8::ab:cd"})
    assert answer["host"]["tunnel_ip"] == "2001:db8::ab:cd"


def test_a_duplicate_name_or_tunnel_ip_is_409(server: ContractServer, admin: Api) -> None:
    name, ip = unique("dup"), server.tunnel_ip()
    admin.host(name, ip)
    again = {"name": name, "tunnel_ip": server.tunnel_ip()}
    assert_neutron_error(admin.http.post("/v1/hosts", json=again), 409)
    same_ip = {"name": unique("dup"), "tunnel_ip": ip}
    assert_neutron_error(admin.http.post("/v1/hosts", json=same_ip), 409)


@pytest.mark.parametrize(
    "body",
    [{"name": "x"}, {"tunnel_ip": "192.0.2.250"}, {"name": "x", "tunnel_ip": "nope"}, []],
)
def test_a_bad_host_body_is_400(admin: Api, body: Any) -> None:
    assert_neutron_error(admin.http.post("/v1/hosts", json=body), 400)


def test_a_new_token_revokes_the_old_one(server: ContractServer, admin: Api) -> None:
    name = unique("rot")
    old = admin.host(name, server.tunnel_ip())
    answer = admin.post(f"/v1/hosts/{name}/token", None, 200)
    new = answer["token"]
    assert new != old
    assert_neutron_error(server.as_token(old).http.get(f"/v1/hosts/{name}/state"), 401)
    assert server.as_token(new).state(name)["host"] == name


def test_only_the_admin_issues_tokens(server: ContractServer, admin: Api) -> None:
    name = unique("self")
    token = admin.host(name, server.tunnel_ip())
    assert_neutron_error(server.as_token(token).http.post(f"/v1/hosts/{name}/token"), 403)


def test_state_has_exactly_the_documented_shape(server: ContractServer, admin: Api) -> None:
    pair = _pair(server, admin)
    admin.report(pair.hosts[1], pair.ports[1]["id"], "ACTIVE")
    state = server.as_token(pair.tokens[0]).state(pair.hosts[0])
    assert set(state) == {"host", "revision", "ports", "networks"}
    assert state["host"] == pair.hosts[0]
    assert isinstance(state["revision"], int)
    assert state["revision"] > 0
    [port] = state["ports"]
    assert set(port) >= STATE_PORT_FIELDS
    mine = pair.ports[0]
    assert {k: port[k] for k in STATE_PORT_FIELDS} == {
        "id": mine["id"],
        "network_id": pair.net["id"],
        "mac_address": mine["mac_address"],
        "fixed_ips": [{"ip_address": "198.51.100.1"}],
        "status": "BUILD",
        "admin_state_up": True,
    }
    peer = pair.ports[1]["mac_address"]
    assert state["networks"] == {
        pair.net["id"]: {
            "vni": pair.net["provider:segmentation_id"],
            "mtu": 1450,
            "flood": [pair.ips[1]],
            "unicast": [{"mac": peer, "vtep": pair.ips[1]}],
            "neigh": [{"ip": "198.51.100.2", "mac": peer}],
        }
    }


def test_state_lists_bound_ports_of_any_status_and_no_foreign_network(
    server: ContractServer, admin: Api
) -> None:
    pair = _pair(server, admin)
    other = admin.network()
    admin.port(other["id"], **{"binding:host_id": pair.hosts[1]})
    down = admin.port(pair.net["id"], **{"binding:host_id": pair.hosts[0]})
    admin.put(f"/v2.0/ports/{down['id']}", {"port": {"admin_state_up": False}})
    state = admin.state(pair.hosts[0])
    statuses = {p["id"]: (p["status"], p["admin_state_up"]) for p in state["ports"]}
    assert statuses == {pair.ports[0]["id"]: ("BUILD", True), down["id"]: ("DOWN", False)}
    assert set(state["networks"]) == {pair.net["id"]}, "h1 has no port on the other network"
    assert state["networks"][pair.net["id"]]["flood"] == [], "nothing ACTIVE yet"


def test_a_host_reads_only_its_own_state(server: ContractServer, admin: Api) -> None:
    pair = _pair(server, admin)
    h1 = server.as_token(pair.tokens[0])
    assert_neutron_error(h1.http.get(f"/v1/hosts/{pair.hosts[1]}/state"), 403)
    assert_neutron_error(h1.http.get(f"/v1/hosts/{pair.hosts[1]}/watch?revision=0"), 403)
    assert_neutron_error(h1.http.get("/v1/hosts/never-registered/state"), 403)
    assert admin.state(pair.hosts[1])["host"] == pair.hosts[1], "the admin reads any"


def test_a_status_report_answers_200_with_the_port(server: ContractServer, admin: Api) -> None:
    pair = _pair(server, admin)
    h1 = server.as_token(pair.tokens[0])
    answer = h1.report(pair.hosts[0], pair.ports[0]["id"], "ACTIVE")
    assert set(answer) == {"port"}
    assert answer["port"]["id"] == pair.ports[0]["id"]
    assert answer["port"]["status"] == "ACTIVE"
    assert h1.report(pair.hosts[0], pair.ports[0]["id"], "DOWN")["port"]["status"] == "DOWN"


def test_the_admin_may_report_status(server: ContractServer, admin: Api) -> None:
    pair = _pair(server, admin)
    answer = admin.report(pair.hosts[1], pair.ports[1]["id"], "ACTIVE")
    assert answer["port"]["status"] == "ACTIVE"


def test_a_host_token_naming_another_host_is_403_before_any_lookup(
    server: ContractServer, admin: Api
) -> None:
    pair = _pair(server, admin)
    h1 = server.as_token(pair.tokens[0])
    for host, port in (
        (pair.hosts[1], pair.ports[1]["id"]),
        (pair.hosts[1], MISSING_PORT),
        ("never-registered", MISSING_PORT),
        (pair.hosts[1], "not-a-uuid"),
    ):
        path = f"/v1/hosts/{host}/ports/{port}/status"
        assert_neutron_error(h1.http.put(path, json={"status": "ACTIVE"}), 403)
    bad_body = f"/v1/hosts/{pair.hosts[1]}/ports/{MISSING_PORT}/status"
    assert_neutron_error(h1.http.put(bad_body, json={"status": "WHATEVER"}), 403)
    assert admin.get(f"/v2.0/ports/{pair.ports[1]['id']}")["port"]["status"] == "BUILD"


def test_reporting_a_port_bound_to_another_host_under_ones_own_name_is_403(
    server: ContractServer, admin: Api
) -> None:
    pair = _pair(server, admin)
    h1 = server.as_token(pair.tokens[0])
    path = f"/v1/hosts/{pair.hosts[0]}/ports/{pair.ports[1]['id']}/status"
    assert_neutron_error(h1.http.put(path, json={"status": "ACTIVE"}), 403)
    assert admin.get(f"/v2.0/ports/{pair.ports[1]['id']}")["port"]["status"] == "BUILD"


def test_reporting_an_unbound_port_is_403(server: ContractServer, admin: Api) -> None:
    pair = _pair(server, admin)
    loose = admin.port(pair.net["id"])
    path = f"/v1/hosts/{pair.hosts[0]}/ports/{loose['id']}/status"
    assert_neutron_error(
        server.as_token(pair.tokens[0]).http.put(path, json={"status": "ACTIVE"}), 403
    )
    assert admin.get(f"/v2.0/ports/{loose['id']}")["port"]["status"] == "DOWN"


def test_an_unknown_port_on_ones_own_host_is_404(server: ContractServer, admin: Api) -> None:
    pair = _pair(server, admin)
    h1 = server.as_token(pair.tokens[0])
    path = f"/v1/hosts/{pair.hosts[0]}/ports/{MISSING_PORT}/status"
    assert_neutron_error(h1.http.put(path, json={"status": "ACTIVE"}), 404)


@pytest.mark.parametrize("body", [{"status": "BUILD"}, {"status": "active"}, {}, {"state": "UP"}])
def test_a_bad_status_report_is_400(server: ContractServer, admin: Api, body: Any) -> None:
    pair = _pair(server, admin)
    path = f"/v1/hosts/{pair.hosts[0]}/ports/{pair.ports[0]['id']}/status"
    response = server.as_token(pair.tokens[0]).http.put(path, json=body)
    assert_neutron_error(response, 400)


def test_active_on_an_admin_down_port_leaves_it_down(server: ContractServer, admin: Api) -> None:
    pair = _pair(server, admin)
    port = pair.ports[1]
    admin.put(f"/v2.0/ports/{port['id']}", {"port": {"admin_state_up": False}})
    answer = server.as_token(pair.tokens[1]).report(pair.hosts[1], port["id"], "ACTIVE")
    assert answer["port"]["status"] == "DOWN"
    assert admin.state(pair.hosts[0])["networks"][pair.net["id"]]["unicast"] == []


def test_deleting_a_host_takes_its_ports_down_keeps_them_bound_and_kills_its_token(
    server: ContractServer, admin: Api
) -> None:
    pair = _pair(server, admin)
    admin.report(pair.hosts[1], pair.ports[1]["id"], "ACTIVE")
    assert admin.state(pair.hosts[0])["networks"][pair.net["id"]]["flood"] == [pair.ips[1]]
    response = admin.http.delete(f"/v1/hosts/{pair.hosts[1]}")
    assert response.status_code in (200, 204), response.text
    port = admin.get(f"/v2.0/ports/{pair.ports[1]['id']}")["port"]
    assert (port["status"], port["binding:host_id"]) == ("DOWN", pair.hosts[1])
    network = admin.state(pair.hosts[0])["networks"][pair.net["id"]]
    assert (network["flood"], network["unicast"], network["neigh"]) == ([], [], [])
    gone = server.as_token(pair.tokens[1])
    assert_neutron_error(gone.http.get(f"/v1/hosts/{pair.hosts[1]}/state"), 401)
    assert pair.hosts[1] not in {h["name"] for h in admin.get("/v1/hosts")["hosts"]}
    assert_neutron_error(admin.http.delete(f"/v1/hosts/{pair.hosts[1]}"), 404)


def test_binding_to_an_unregistered_host_is_build_and_published_only_once_reported(
    server: ContractServer, admin: Api
) -> None:
    pair = _pair(server, admin)
    ghost = unique("ghost")
    port = admin.port(
        pair.net["id"], **{"binding:host_id": ghost}, fixed_ips=[{"ip_address": "198.51.100.9"}]
    )
    assert port["status"] == "BUILD"

    def published() -> bool:
        unicast = admin.state(pair.hosts[0])["networks"][pair.net["id"]]["unicast"]
        return any(entry["mac"] == port["mac_address"] for entry in unicast)

    assert not published()
    ip = server.tunnel_ip()
    token = admin.host(ghost, ip)
    assert not published(), "registering alone publishes nothing"
    assert admin.get(f"/v2.0/ports/{port['id']}")["port"]["status"] == "BUILD"
    server.as_token(token).report(ghost, port["id"], "ACTIVE")
    assert published()
    assert ip in admin.state(pair.hosts[0])["networks"][pair.net["id"]]["flood"]


def test_allowed_address_pairs_publish_neigh_and_extra_unicast_but_no_cidr_neigh(
    server: ContractServer, admin: Api
) -> None:
    pairs = [
        {"ip_address": "198.51.100.50"},
        {"ip_address": "198.51.100.51", "mac_address": "fa:16:3e:aa:bb:cc"},
        {"ip_address": "198.51.100.64/28"},
    ]
    pair = _pair(server, admin, pairs)
    admin.report(pair.hosts[1], pair.ports[1]["id"], "ACTIVE")
    network = admin.state(pair.hosts[0])["networks"][pair.net["id"]]
    mac, vtep = pair.ports[1]["mac_address"], pair.ips[1]
    assert sorted(network["unicast"], key=str) == sorted(
        [{"mac": mac, "vtep": vtep}, {"mac": "fa:16:3e:aa:bb:cc", "vtep": vtep}], key=str
    )
    assert sorted(network["neigh"], key=str) == sorted(
        [
            {"ip": "198.51.100.2", "mac": mac},
            {"ip": "198.51.100.50", "mac": mac},
            {"ip": "198.51.100.51", "mac": "fa:16:3e:aa:bb:cc"},
        ],
        key=str,
    )
    assert network["flood"] == [vtep]
