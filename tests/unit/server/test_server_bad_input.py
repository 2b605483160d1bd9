# ruff: noqa: E501  (a table of cases reads best one case per line)
"""Every bad input of issue 5 gets its 4xx with a NeutronError naming the problem,
and leaves the store exactly as it was (records, index records and revision)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from srvapi import ADMIN, Api, make_api


@dataclass
class World:
    api: Api
    net: dict[str, Any]
    other_net: dict[str, Any]
    active: dict[str, Any]  # bound to h1, ACTIVE
    on_h2: dict[str, Any]
    tokens: dict[str, str]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    for api in make_api(tmp_path, max_body=4096):
        net = api.network(name="n", **{"provider:segmentation_id": 100})
        other = api.network(name="o", **{"provider:segmentation_id": 101})
        tokens = {"h1": api.host("h1", "192.0.2.1"), "h2": api.host("h2", "192.0.2.2")}
        active = api.port(
            net["id"],
            mac_address="fa:16:3e:00:00:01",
            fixed_ips=[{"ip_address": "10.0.0.1"}],
            **{"binding:host_id": "h1"},
        )
        api.ok(
            "PUT", f"/v1/hosts/h1/ports/{active['id']}/status", {"status": "ACTIVE"}, tokens["h1"]
        )
        on_h2 = api.port(net["id"], **{"binding:host_id": "h2"})
        yield World(api, net, other, active, on_h2, tokens)


def _net(w: World, **fields: Any) -> tuple[str, str, Any]:
    return "POST", "/v2.0/networks", {"network": fields}


def _port(w: World, **fields: Any) -> tuple[str, str, Any]:
    return "POST", "/v2.0/ports", {"port": {"network_id": w.net["id"], **fields}}


# (case id, request builder, status, words the message must contain)
CASES: list[tuple[str, Any, int, str]] = [
    ("malformed json", lambda w: ("POST", "/v2.0/networks", b'{"network": {'), 400, "malformed JSON"),
    ("empty body", lambda w: ("POST", "/v2.0/ports", b""), 400, "body"),
    ("json not an object", lambda w: ("POST", "/v2.0/networks", [1, 2]), 400, "body"),
    ("no wrapper", lambda w: ("POST", "/v2.0/networks", {"name": "x"}), 400, "network"),
    ("name not a string", lambda w: _net(w, name=5), 400, "name"),
    ("admin_state_up not bool", lambda w: _net(w, admin_state_up="yes"), 400, "admin_state_up"),
    ("vni not numeric", lambda w: _net(w, **{"provider:segmentation_id": "3x0"}), 400, "segmentation_id"),
    ("vni zero", lambda w: _net(w, **{"provider:segmentation_id": 0}), 400, "VNI"),
    ("vni too big", lambda w: _net(w, **{"provider:segmentation_id": 16777216}), 400, "VNI"),
    ("vni bool", lambda w: _net(w, **{"provider:segmentation_id": True}), 400, "integer"),
    ("mtu not numeric", lambda w: _net(w, mtu="14x0"), 400, "mtu"),
    ("not vxlan", lambda w: _net(w, **{"provider:network_type": "vlan"}), 400, "vxlan"),
    ("unknown network field", lambda w: _net(w, colour="red"), 400, "colour"),
    ("duplicate vni", lambda w: _net(w, **{"provider:segmentation_id": 100}), 409, "VNI 100"),
    ("vni change", lambda w: ("PUT", f"/v2.0/networks/{w.net['id']}", {"network": {"provider:segmentation_id": 7}}), 400, "VNI"),
    ("network not found", lambda w: ("PUT", "/v2.0/networks/nope", {"network": {"name": "x"}}), 404, "nope"),
    ("delete network with ports", lambda w: ("DELETE", f"/v2.0/networks/{w.net['id']}", None), 409, "ports"),
    ("bad mac", lambda w: _port(w, mac_address="zz:16:3e:00:00:01"), 400, "mac_address"),
    ("multicast mac", lambda w: _port(w, mac_address="01:00:5e:00:00:01"), 400, "multicast"),
    ("bad ip", lambda w: _port(w, fixed_ips=[{"ip_address": "300.1.1.1"}]), 400, "ip_address"),
    ("fixed ip of an unknown subnet", lambda w: _port(w, fixed_ips=[{"subnet_id": "s"}]), 400, "subnet"),
    ("fixed_ips not a list", lambda w: _port(w, fixed_ips="10.0.0.9"), 400, "fixed_ips"),
    ("repeated ip", lambda w: _port(w, fixed_ips=[{"ip_address": "10.0.0.9"}] * 2), 400, "repeated"),
    ("bad pair", lambda w: _port(w, allowed_address_pairs=[{"mac_address": "fa:16:3e:00:00:09"}]), 400, "allowed_address_pairs"),
    ("status is read-only", lambda w: _port(w, status="ACTIVE"), 400, "status"),
    ("unknown port field", lambda w: _port(w, flavour="x"), 400, "flavour"),
    ("duplicate mac", lambda w: _port(w, mac_address="FA:16:3E:00:00:01"), 409, "fa:16:3e:00:00:01"),
    ("duplicate ip", lambda w: _port(w, fixed_ips=[{"ip_address": "10.0.0.1"}]), 409, "10.0.0.1"),
    ("port on unknown network", lambda w: ("POST", "/v2.0/ports", {"port": {"network_id": "nope"}}), 404, "nope"),
    ("port without network", lambda w: ("POST", "/v2.0/ports", {"port": {}}), 400, "network_id"),
    ("mac change on active port", lambda w: ("PUT", f"/v2.0/ports/{w.active['id']}", {"port": {"mac_address": "fa:16:3e:00:00:99"}}), 409, "ACTIVE"),
    ("network_id change", lambda w: ("PUT", f"/v2.0/ports/{w.active['id']}", {"port": {"network_id": w.other_net["id"]}}), 400, "network_id"),
    ("body too large", lambda w: _net(w, name="x" * 5000), 413, "limit"),
    ("unknown list filter", lambda w: ("GET", "/v2.0/ports?colour=red", None), 400, "colour"),
    ("bad limit", lambda w: ("GET", "/v2.0/ports?limit=-1", None), 400, "limit"),
    ("host bad name", lambda w: ("POST", "/v1/hosts", {"name": "a/b", "tunnel_ip": "192.0.2.9"}), 400, "name"),
    ("host bad tunnel ip", lambda w: ("POST", "/v1/hosts", {"name": "h9", "tunnel_ip": "192.0.2"}), 400, "tunnel_ip"),
    ("host duplicate name", lambda w: ("POST", "/v1/hosts", {"name": "h1", "tunnel_ip": "192.0.2.9"}), 409, "h1"),
    ("host duplicate tunnel ip", lambda w: ("POST", "/v1/hosts", {"name": "h9", "tunnel_ip": "192.0.2.1"}), 409, "192.0.2.1"),
    ("status bad value", lambda w: ("PUT", f"/v1/hosts/h1/ports/{w.active['id']}/status", {"status": "BUILD"}), 400, "status"),
    ("status unknown port", lambda w: ("PUT", "/v1/hosts/h1/ports/nope/status", {"status": "DOWN"}), 404, "nope"),
    ("watch revision ahead", lambda w: ("GET", "/v1/hosts/h1/watch?revision=999999", None), 400, "ahead"),
    ("watch revision not a number", lambda w: ("GET", "/v1/hosts/h1/watch?revision=x", None), 400, "revision"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "build", "status", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_and_changes_nothing(
    world: World, case: str, build: Any, status: int, words: str
) -> None:
    before = world.api.dump()
    method, path, body = build(world)
    got, answer = world.api.call(method, path, body)
    assert got == status, answer
    error = answer["NeutronError"]
    assert set(error) == {"type", "message", "detail"}
    assert words in error["message"]
    assert world.api.dump() == before


AUTH_CASES: list[tuple[str, Any, str | None, int]] = [
    ("no token", lambda w: ("GET", "/v2.0/networks", None), None, 401),
    ("wrong token", lambda w: ("POST", "/v2.0/networks", {"network": {}}), "nope", 401),
    ("host token on admin api", lambda w: ("POST", "/v2.0/networks", {"network": {}}), "h1", 403),
    ("host token registers host", lambda w: ("POST", "/v1/hosts", {"name": "h9", "tunnel_ip": "192.0.2.9"}), "h1", 403),
    ("other host's state", lambda w: ("GET", "/v1/hosts/h2/state", None), "h1", 403),
    ("other host's watch", lambda w: ("GET", "/v1/hosts/h2/watch?revision=0", None), "h1", 403),
    ("other host's status report", lambda w: ("PUT", f"/v1/hosts/h2/ports/{w.on_h2['id']}/status", {"status": "ACTIVE"}), "h1", 403),
    ("403 before lookup", lambda w: ("PUT", "/v1/hosts/h2/ports/nope/status", {"status": "ACTIVE"}), "h1", 403),
    ("port bound elsewhere", lambda w: ("PUT", f"/v1/hosts/h1/ports/{w.on_h2['id']}/status", {"status": "ACTIVE"}), "h1", 403),
    ("bearer wrong token", lambda w: ("GET", "/v1/hosts", None), "Bearer-nope", 401),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "build", "who", "status"), AUTH_CASES, ids=[c[0] for c in AUTH_CASES]
)
def test_auth_failures_are_refused_and_change_nothing(
    world: World, case: str, build: Any, who: str | None, status: int
) -> None:
    before = world.api.dump()
    method, path, body = build(world)
    token = world.tokens.get(who or "", who)
    if who == "Bearer-nope":
        response = world.api.client.request(method, path, headers={"Authorization": "Bearer x"})
        got, answer = response.status_code, response.json()
    else:
        got, answer = world.api.call(method, path, body, token=token)
    assert got == status, answer
    assert answer["NeutronError"]["message"]
    assert world.api.dump() == before


def test_bearer_token_works_like_x_auth_token(world: World) -> None:
    response = world.api.client.get("/v1/hosts", headers={"Authorization": f"Bearer {ADMIN}"})
    assert response.status_code == 200
    assert [h["name"] for h in response.json()["hosts"]] == ["h1", "h2"]
    assert all("token_hash" not in h for h in response.json()["hosts"])
