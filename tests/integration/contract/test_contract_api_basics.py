"""DESIGN §5 server basics: version discovery, tokens, errors, body limit, open endpoints."""

from __future__ import annotations

import json

import httpx
import pytest
from contract_support import Api, ContractServer, assert_neutron_error, unique


def _version(server: ContractServer) -> dict[str, object]:
    return {
        "id": "v2.0",
        "status": "CURRENT",
        "links": [{"rel": "self", "href": f"{server.url}/v2.0/"}],
    }


def test_v2_discovery_needs_no_token_and_carries_version_with_self_link(
    server: ContractServer,
) -> None:
    response = httpx.get(f"{server.url}/v2.0/")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == _version(server)
    assert set(body) <= {"version", "resources"}


def test_root_discovery_lists_the_same_version_object(server: ContractServer) -> None:
    response = httpx.get(f"{server.url}/")
    assert response.status_code == 200, response.text
    assert response.json() == {"versions": [_version(server)]}


def test_healthz_and_metrics_need_no_token(server: ContractServer) -> None:
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    metrics = httpx.get(f"{server.url}/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "# TYPE" in metrics.text


@pytest.mark.parametrize("header", ["X-Auth-Token", "Authorization"])
def test_admin_token_works_in_either_header(server: ContractServer, header: str) -> None:
    api = server.admin(header)
    try:
        net = api.network()
        assert api.get(f"/v2.0/networks/{net['id']}")["network"]["id"] == net["id"]
    finally:
        api.close()


def test_host_token_works_as_bearer_too(server: ContractServer, admin: Api) -> None:
    name = unique("hb")
    token = admin.host(name, server.tunnel_ip())
    bearer = Api(server.url, token, header="Authorization")
    try:
        assert bearer.state(name)["host"] == name
    finally:
        bearer.close()


@pytest.mark.parametrize(
    "headers", [{}, {"X-Auth-Token": "wrong"}, {"Authorization": "Bearer wrong"}]
)
@pytest.mark.parametrize("path", ["/v2.0/networks", "/v2.0/ports", "/v1/hosts"])
def test_missing_or_wrong_token_is_401(
    server: ContractServer, headers: dict[str, str], path: str
) -> None:
    assert_neutron_error(httpx.get(f"{server.url}{path}", headers=headers), 401)


def test_host_token_cannot_use_the_admin_api(server: ContractServer, admin: Api) -> None:
    name = unique("hx")
    host = server.as_token(admin.host(name, server.tunnel_ip()))
    try:
        assert_neutron_error(host.http.get("/v2.0/networks"), 403)
        body = {"network": {"name": "nope"}}
        assert_neutron_error(host.http.post("/v2.0/networks", json=body), 403)
        assert_neutron_error(host.http.post("/v1/hosts", json={"name": "x"}), 403)
    finally:
        host.close()


def test_a_body_over_one_mib_is_413_and_creates_nothing(server: ContractServer, admin: Api) -> None:
    name = unique("big")
    body = {"network": {"name": name, "description": "x" * (1024 * 1024 + 16)}}
    assert_neutron_error(admin.http.post("/v2.0/networks", json=body), 413)
    assert name not in {n["name"] for n in admin.get("/v2.0/networks")["networks"]}


def test_a_body_just_under_one_mib_is_not_413(admin: Api) -> None:
    text = json.dumps({"network": {"name": unique("under")}})
    text += " " * (1024 * 1024 - len(text) - 8)
    response = admin.http.post(
        "/v2.0/networks", content=text, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "content",
    [b"not json", b"[]", b'{"port": {}}', b'{"network": []}', b'{"network": {"mtu": "big"}}'],
)
def test_bad_bodies_are_400_never_500(admin: Api, content: bytes) -> None:
    response = admin.http.post(
        "/v2.0/networks", content=content, headers={"Content-Type": "application/json"}
    )
    assert_neutron_error(response, 400)


def test_unknown_ids_are_404(admin: Api) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    for path in (f"/v2.0/networks/{missing}", f"/v2.0/ports/{missing}"):
        assert_neutron_error(admin.http.get(path), 404)
        assert_neutron_error(admin.http.delete(path), 404)


def test_the_documented_openstacksdk_snippet_works_unmodified(server: ContractServer) -> None:
    import openstack

    conn = openstack.connect(
        auth_type="admin_token",
        auth={"endpoint": server.url, "token": server.token},
        network_endpoint_override=f"{server.url}/v2.0/",
        region_name="RegionOne",
    )
    try:
        vni = 200_000 + int(unique("v").split("-")[1], 16) % 1_000_000
        net = conn.network.create_network(
            name=unique("demo"), provider_network_type="vxlan", provider_segmentation_id=vni
        )
        port = conn.network.create_port(
            network_id=net.id,
            fixed_ips=[{"ip_address": "198.51.100.7"}],
            binding_host_id=unique("h4"),
        )
        assert net.provider_segmentation_id == vni
        assert port.status == "BUILD", "bound to a host not registered: BUILD"
        assert [p.id for p in conn.network.ports(network_id=net.id)] == [port.id]
        by_host = conn.network.ports(binding_host_id=port.binding_host_id)
        assert [p.id for p in by_host] == [port.id]
        assert conn.network.get_network(net.id).provider_segmentation_id == vni
        found = conn.network.find_network(net.name)  # GET /networks/<name> 404, then ?name=
        assert found is not None
        assert found.id == net.id
        conn.network.update_port(port, name="renamed")
        conn.network.delete_port(port)
        conn.network.delete_network(net)
        assert conn.network.find_network(net.id) is None
    finally:
        conn.close()
