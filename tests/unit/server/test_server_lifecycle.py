"""Port lifecycle, hosts and tokens, lists and paging, through the HTTP API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from srvapi import Api, make_api


def _status(api: Api, port_id: str) -> str:
    status: str = api.ok("GET", f"/v2.0/ports/{port_id}")["port"]["status"]
    return status


def _report(api: Api, host: str, port_id: str, status: str, token: str) -> Any:
    return api.call("PUT", f"/v1/hosts/{host}/ports/{port_id}/status", {"status": status}, token)


def test_port_walks_down_build_active_and_back(api: Api) -> None:
    net = api.network()
    token = api.host("h1", "192.0.2.1")
    port = api.port(net["id"])
    assert port["status"] == "DOWN"
    api.ok("PUT", f"/v2.0/ports/{port['id']}", {"port": {"binding:host_id": "h1"}})
    assert _status(api, port["id"]) == "BUILD"
    assert _report(api, "h1", port["id"], "ACTIVE", token)[0] == 200
    assert _status(api, port["id"]) == "ACTIVE"
    api.ok("PUT", f"/v2.0/ports/{port['id']}", {"port": {"admin_state_up": False}})
    assert _status(api, port["id"]) == "DOWN"
    code, answer = _report(api, "h1", port["id"], "ACTIVE", token)
    assert (code, answer["port"]["status"]) == (200, "DOWN")  # admin down wins
    api.ok("PUT", f"/v2.0/ports/{port['id']}", {"port": {"admin_state_up": True}})
    assert _status(api, port["id"]) == "BUILD"
    _report(api, "h1", port["id"], "ACTIVE", token)
    api.ok("PUT", f"/v2.0/ports/{port['id']}", {"port": {"binding:host_id": "h2"}})
    assert _status(api, port["id"]) == "BUILD"  # migrated: waits for h2's agent
    api.ok("PUT", f"/v2.0/ports/{port['id']}", {"port": {"binding:host_id": ""}})
    assert _status(api, port["id"]) == "DOWN"


def test_status_report_that_changes_nothing_writes_nothing(api: Api) -> None:
    net = api.network()
    token = api.host("h1", "192.0.2.1")
    port = api.port(net["id"], **{"binding:host_id": "h1"})
    _report(api, "h1", port["id"], "ACTIVE", token)
    before = api.dump()
    assert _report(api, "h1", port["id"], "ACTIVE", token)[0] == 200
    assert api.dump() == before


def test_deleting_a_host_downs_its_ports_and_kills_its_token(api: Api) -> None:
    net = api.network()
    token = api.host("h1", "192.0.2.1")
    port = api.port(net["id"], **{"binding:host_id": "h1"})
    _report(api, "h1", port["id"], "ACTIVE", token)
    api.ok("DELETE", "/v1/hosts/h1")
    shown = api.ok("GET", f"/v2.0/ports/{port['id']}")["port"]
    assert (shown["status"], shown["binding:host_id"]) == ("DOWN", "h1")
    assert api.call("GET", "/v1/hosts/h1/state", token=token)[0] == 401
    new_token = api.host("h1", "192.0.2.1")
    assert _report(api, "h1", port["id"], "ACTIVE", new_token)[1]["port"]["status"] == "ACTIVE"


def test_new_token_revokes_the_old_one(api: Api) -> None:
    old = api.host("h1", "192.0.2.1")
    new = api.ok("POST", "/v1/hosts/h1/token")["token"]
    assert api.call("GET", "/v1/hosts/h1/state", token=old)[0] == 401
    assert api.call("GET", "/v1/hosts/h1/state", token=new)[0] == 200


def test_tokens_survive_a_restart(tmp_path: Path) -> None:
    for api in make_api(tmp_path):
        token = api.host("h1", "192.0.2.1")
    for api in make_api(tmp_path):
        assert api.call("GET", "/v1/hosts/h1/state", token=token)[0] == 200


def test_vni_is_the_lowest_free_one_of_the_range(api: Api) -> None:
    first = api.network()
    api.network(**{"provider:segmentation_id": 1001})
    third = api.network()
    assert (first["provider:segmentation_id"], third["provider:segmentation_id"]) == (1000, 1002)
    api.ok("DELETE", f"/v2.0/networks/{first['id']}")
    assert api.network()["provider:segmentation_id"] == 1000


def test_network_update_changes_name_and_mtu_and_bumps_revision(api: Api) -> None:
    net = api.network(name="a")
    body = {"network": {"name": "b", "mtu": 1400, "provider:segmentation_id": 1000}}
    updated = api.ok("PUT", f"/v2.0/networks/{net['id']}", body)["network"]
    assert (updated["name"], updated["mtu"], updated["revision_number"]) == ("b", 1400, 2)


def test_state_shows_bound_ports_and_peer_entries(api: Api) -> None:
    net = api.network(**{"provider:segmentation_id": 100})
    t1, t2 = api.host("h1", "192.0.2.1"), api.host("h2", "2001:db8::2")
    mine = api.port(net["id"], **{"binding:host_id": "h1"})
    peer = api.port(
        net["id"],
        fixed_ips=[{"ip_address": "198.51.100.7"}, {"ip_address": "2001:db8:100::7"}],
        allowed_address_pairs=[{"ip_address": "198.51.100.100"}],
        **{"binding:host_id": "h2"},
    )
    _report(api, "h2", peer["id"], "ACTIVE", t2)
    state = api.ok("GET", "/v1/hosts/h1/state", token=t1)
    assert [p["id"] for p in state["ports"]] == [mine["id"]]
    assert state["ports"][0]["admin_state_up"] is True
    network = state["networks"][net["id"]]
    mac = peer["mac_address"]
    assert network["flood"] == ["2001:db8::2"]
    assert network["unicast"] == [{"mac": mac, "vtep": "2001:db8::2"}]
    assert {n["ip"] for n in network["neigh"]} == {
        "198.51.100.7", "2001:db8:100::7", "198.51.100.100"
    }  # fmt: skip
    assert peer["allowed_address_pairs"] == [{"ip_address": "198.51.100.100", "mac_address": mac}]


def test_list_filters_and_pages(api: Api) -> None:
    net = api.network()
    other = api.network()
    ids = sorted(api.port(net["id"], device_id=f"vm{i}")["id"] for i in range(5))
    api.port(other["id"])
    listed = api.ok("GET", f"/v2.0/ports?network_id={net['id']}")["ports"]
    assert [p["id"] for p in listed] == ids
    assert len(api.ok("GET", "/v2.0/ports?device_id=vm3&device_id=vm4")["ports"]) == 2
    page = api.ok("GET", f"/v2.0/ports?network_id={net['id']}&limit=2")
    assert [p["id"] for p in page["ports"]] == ids[:2]
    next_href = page["ports_links"][0]["href"]
    page2 = api.ok("GET", next_href.split("testserver", 1)[1])
    assert [p["id"] for p in page2["ports"]] == ids[2:4]
    fields = api.ok("GET", "/v2.0/ports?fields=id&fields=status")["ports"]
    assert all(set(p) == {"id", "status"} for p in fields)


def test_compacted_watch_revision_is_410(tmp_path: Path) -> None:
    for api in make_api(tmp_path, retain=5):
        for _ in range(20):
            api.network()
        code, answer = api.call("GET", "/v1/hosts/h1/watch?revision=1")
        assert code in (404, 410)
        token = api.host("h1", "192.0.2.1")
        code, answer = api.call("GET", "/v1/hosts/h1/watch?revision=1", token=token)
        assert code == 410
        assert answer["NeutronError"]["type"] == "RevisionCompacted"


def test_discovery_health_and_metrics_need_no_token(api: Api) -> None:
    root = api.ok("GET", "/", token=None)
    version = api.ok("GET", "/v2.0/", token=None)["version"]
    assert root["versions"] == [version]
    assert version["links"][0] == {"rel": "self", "href": "http://testserver/v2.0/"}
    assert api.ok("GET", "/healthz", token=None)["status"] == "ok"
    metrics = api.client.get("/metrics").text
    for name in ("l2pop_requests_total", "l2pop_revision", "l2pop_watchers", "l2pop_deltas_sent"):
        assert name in metrics


def test_unknown_path_and_method_are_neutron_errors(api: Api) -> None:
    code, answer = api.call("GET", "/v2.0/routers")
    assert (code, answer["NeutronError"]["type"]) == (404, "HTTPNotFound")
    code, answer = api.call("PATCH", "/v2.0/networks")
    assert (code, answer["NeutronError"]["type"]) == (405, "HTTPMethodNotAllowed")


def test_metrics_count_requests_by_route_template(api: Api) -> None:
    net = api.network()
    token = api.host("h1", "192.0.2.1")
    port = api.port(net["id"], **{"binding:host_id": "h1"})
    _report(api, "h1", port["id"], "ACTIVE", token)
    metrics = api.client.get("/metrics").text
    status_route = 'route="/v1/hosts/{name}/ports/{port_id}/status",status="200"'
    assert f'l2pop_requests_total{{method="PUT",{status_route}}} 1.0' in metrics
    assert "l2pop_revision 4.0" in metrics


@pytest.mark.timeout(20)  # before the fix the stream opened, and the test client waits for its end
def test_once_the_streams_are_ended_for_shutdown_a_new_watch_is_503(api: Api) -> None:
    # Shutdown ends every stream; a kept-alive connection must not get a new
    # one from the stopping server (the agent would hold it until the process
    # dies instead of failing over).
    token = api.host("h1", "192.0.2.1")
    revision = api.ok("GET", "/healthz")["revision"]
    service = api.client.app.app.state.ctx.service  # type: ignore[attr-defined]
    service.hub.close_all()
    response = api.client.get(
        f"/v1/hosts/h1/watch?revision={revision}", headers={"X-Auth-Token": token}
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["NeutronError"]["type"] == "ServiceUnavailable"
    assert "shutting down" in response.json()["NeutronError"]["message"]
    # Everything else is still answered while the process stops.
    assert api.ok("GET", "/v2.0/networks")["networks"] == []
