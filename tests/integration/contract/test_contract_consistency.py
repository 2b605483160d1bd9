"""DESIGN §5 decisions: read your writes, revisions (strictly increasing, kept across a
restart), tokens surviving restarts, and 410 for a compacted revision."""

from __future__ import annotations

import itertools

import httpx
from contract_support import (
    Api,
    ContractServer,
    Watch,
    assert_neutron_error,
    compact_log,
    fresh_vni,
    unique,
)


def test_every_acknowledged_write_is_already_in_state_with_a_higher_revision(
    server: ContractServer, admin: Api
) -> None:
    net = admin.network()
    h1, h2 = unique("ryw1"), unique("ryw2")
    admin.host(h1, server.tunnel_ip())
    ip2 = server.tunnel_ip()
    t2 = admin.host(h2, ip2)
    admin.port(net["id"], **{"binding:host_id": h1})
    peer = admin.port(net["id"], **{"binding:host_id": h2})
    agent = server.as_token(t2)
    revisions = [admin.state(h1)["revision"]]
    for i in range(10):
        status = "ACTIVE" if i % 2 == 0 else "DOWN"
        agent.report(h2, peer["id"], status)
        state = admin.state(h1)
        flood = state["networks"][net["id"]]["flood"]
        assert flood == ([ip2] if status == "ACTIVE" else []), (i, status, flood)
        revisions.append(state["revision"])
        ip = f"198.51.100.{100 + i}"
        admin.put(f"/v2.0/ports/{peer['id']}", {"port": {"fixed_ips": [{"ip_address": ip}]}})
        neigh = admin.state(h1)["networks"][net["id"]]["neigh"]
        assert neigh == ([{"ip": ip, "mac": peer["mac_address"]}] if status == "ACTIVE" else [])
    assert all(a < b for a, b in itertools.pairwise(revisions)), revisions


def test_network_mtu_updates_reach_state_at_once(server: ContractServer, admin: Api) -> None:
    net = admin.network()
    host = unique("mtu")
    admin.host(host, server.tunnel_ip())
    admin.port(net["id"], **{"binding:host_id": host})
    admin.put(f"/v2.0/networks/{net['id']}", {"network": {"mtu": 1400}})
    assert admin.state(host)["networks"][net["id"]]["mtu"] == 1400


def test_revisions_and_tokens_survive_a_restart(special: ContractServer) -> None:
    api = special.admin()
    try:
        name = unique("keep")
        token = api.host(name, special.tunnel_ip())
        net = api.network(**{"provider:segmentation_id": fresh_vni()})
        port = api.port(net["id"], **{"binding:host_id": name})
        before = api.state(name)["revision"]
        special.stop()
        for stored in special.workdir.glob(special.db.name + "*"):
            assert token.encode() not in stored.read_bytes(), f"token in clear in {stored}"
        special.start()
        agent = special.as_token(token)
        assert agent.state(name)["revision"] == before, "no write happened in between"
        agent.report(name, port["id"], "ACTIVE")
        assert agent.state(name)["revision"] > before
        watch = Watch(special.url, name, token, before)
        try:
            assert watch.status == 200, "a revision from before the restart is still retained"
            [change] = watch.changes_until(agent.state(name)["revision"])
            assert [p["status"] for p in change["ports"]] == ["ACTIVE"]
        finally:
            watch.close()
    finally:
        api.close()


def test_a_compacted_revision_is_410_with_a_neutron_error(special: ContractServer) -> None:
    api = special.admin()
    try:
        name = unique("gone")
        token = api.host(name, special.tunnel_ip())
        net = api.network(**{"provider:segmentation_id": fresh_vni()})
        port = api.port(net["id"], **{"binding:host_id": name})
        old = api.state(name)["revision"]
        api.report(name, port["id"], "ACTIVE")
        special.stop()
        compact_log(special.db)
        special.start()
        response = httpx.get(
            f"{special.url}/v1/hosts/{name}/watch?revision={old}",
            headers={"X-Auth-Token": token},
            timeout=10,
        )
        assert_neutron_error(response, 410)
        current = api.state(name)["revision"]
        fresh = Watch(special.url, name, token, current)
        try:
            assert fresh.status == 200, "the revision /state answers is always watchable"
        finally:
            fresh.close()
    finally:
        api.close()


def test_acknowledged_writes_survive_a_kill_9(special: ContractServer) -> None:
    api = special.admin()
    try:
        name = unique("k9")
        token = api.host(name, special.tunnel_ip())
        net = api.network(mtu=1400, **{"provider:segmentation_id": fresh_vni()})
        port = api.port(net["id"], **{"binding:host_id": name})
        api.report(name, port["id"], "ACTIVE")
        before = api.state(name)
        special.kill()
        special.start()
        assert special.as_token(token).state(name) == before
        assert api.get(f"/v2.0/ports/{port['id']}")["port"]["status"] == "ACTIVE"
    finally:
        api.close()


def test_bad_input_changes_nothing(server: ContractServer, admin: Api) -> None:
    host = unique("bad")
    token = admin.host(host, server.tunnel_ip())
    net = admin.network()
    port = admin.port(net["id"], **{"binding:host_id": host})
    networks, ports = admin.get("/v2.0/networks"), admin.get("/v2.0/ports")
    before = admin.state(host)
    bad: list[tuple[str, str, object]] = [
        ("POST", "/v2.0/networks", {"network": {"provider:segmentation_id": "seven"}}),
        ("POST", "/v2.0/networks", {"network": {"mtu": -1}}),
        ("PUT", f"/v2.0/networks/{net['id']}", {"network": {"provider:segmentation_id": 9}}),
        ("POST", "/v2.0/ports", {"port": {"network_id": net["id"], "fixed_ips": [{}]}}),
        ("POST", "/v2.0/ports", {"port": {"network_id": net["id"], "mac_address": "x"}}),
        ("PUT", f"/v2.0/ports/{port['id']}", {"port": {"admin_state_up": "no"}}),
        ("PUT", f"/v2.0/ports/{port['id']}", {"port": {"fixed_ips": [{"ip_address": "1"}]}}),
        ("POST", "/v1/hosts", {"name": host, "tunnel_ip": "not an ip"}),
        ("PUT", f"/v1/hosts/{host}/ports/{port['id']}/status", {"status": "UP"}),
    ]
    for method, path, body in bad:
        response = admin.http.request(method, path, json=body)
        assert 400 <= response.status_code < 500, (method, path, response.text)
    agent = server.as_token(token)
    response = agent.http.put(f"/v1/hosts/{host}/ports/{port['id']}/status", json=[])
    assert_neutron_error(response, 400)
    assert admin.get("/v2.0/networks") == networks
    assert admin.get("/v2.0/ports") == ports
    assert admin.state(host) == before, "not even the revision moved"
