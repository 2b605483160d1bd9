"""DESIGN §3/§5 lifecycle seen through the API: rebinding, unbinding, admin down, updates
of published ports, and what open watches see of them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
from contract_support import Api, ContractServer, Watch, assert_neutron_error, unique


@dataclass
class Trio:
    """Three registered hosts; h1 and h2 have a port each on ``net``, h2's is ACTIVE."""

    net: dict[str, Any]
    hosts: list[str]
    ips: list[str]
    tokens: list[str]
    mine: dict[str, Any]
    peer: dict[str, Any]


def _trio(server: ContractServer, admin: Api) -> Trio:
    net = admin.network()
    hosts = [unique("l1"), unique("l2"), unique("l3")]
    ips = [server.tunnel_ip() for _ in hosts]
    tokens = [admin.host(h, ip) for h, ip in zip(hosts, ips, strict=True)]
    mine = admin.port(net["id"], **{"binding:host_id": hosts[0]})
    peer = admin.port(
        net["id"], **{"binding:host_id": hosts[1]}, fixed_ips=[{"ip_address": "198.51.100.2"}]
    )
    admin.report(hosts[1], peer["id"], "ACTIVE")
    return Trio(net, hosts, ips, tokens, mine, peer)


def _published(admin: Api, trio: Trio) -> list[str]:
    """The VTEPs h1 floods to on the trio's network."""
    return list(admin.state(trio.hosts[0])["networks"][trio.net["id"]]["flood"])


def test_rebinding_an_active_port_makes_it_build_and_unpublishes_it(
    server: ContractServer, admin: Api
) -> None:
    trio = _trio(server, admin)
    assert _published(admin, trio) == [trio.ips[1]]
    path = f"/v2.0/ports/{trio.peer['id']}"
    moved = admin.put(path, {"port": {"binding:host_id": trio.hosts[2]}})["port"]
    assert moved["status"] == "BUILD"
    assert _published(admin, trio) == []
    admin.report(trio.hosts[2], trio.peer["id"], "ACTIVE")
    assert _published(admin, trio) == [trio.ips[2]]


def test_unbinding_or_admin_down_makes_an_active_port_down_and_unpublished(
    server: ContractServer, admin: Api
) -> None:
    trio = _trio(server, admin)
    path = f"/v2.0/ports/{trio.peer['id']}"
    down = admin.put(path, {"port": {"admin_state_up": False}})["port"]
    assert (down["status"], down["admin_state_up"]) == ("DOWN", False)
    assert _published(admin, trio) == []
    other = _trio(server, admin)
    unbound = admin.put(f"/v2.0/ports/{other.peer['id']}", {"port": {"binding:host_id": ""}})
    assert unbound["port"]["status"] == "DOWN"
    assert _published(admin, other) == []


def test_a_device_gone_report_makes_the_port_down_and_a_new_up_active_again(
    server: ContractServer, admin: Api
) -> None:
    trio = _trio(server, admin)
    agent = server.as_token(trio.tokens[1])
    assert agent.report(trio.hosts[1], trio.peer["id"], "DOWN")["port"]["status"] == "DOWN"
    assert _published(admin, trio) == []
    assert agent.report(trio.hosts[1], trio.peer["id"], "ACTIVE")["port"]["status"] == "ACTIVE"
    assert _published(admin, trio) == [trio.ips[1]]


def test_duplicate_mac_or_ip_by_update_is_409_and_changes_nothing(
    server: ContractServer, admin: Api
) -> None:
    trio = _trio(server, admin)
    path = f"/v2.0/ports/{trio.mine['id']}"
    same_ip = {"port": {"fixed_ips": [{"ip_address": "198.51.100.2"}]}}
    assert_neutron_error(admin.http.put(path, json=same_ip), 409)
    same_mac = {"port": {"mac_address": trio.peer["mac_address"]}}
    assert_neutron_error(admin.http.put(path, json=same_mac), 409)
    after = admin.get(path)["port"]
    assert (after["mac_address"], after["fixed_ips"]) == (
        trio.mine["mac_address"],
        trio.mine["fixed_ips"],
    )


def test_watches_see_mtu_and_address_changes_of_published_ports(
    server: ContractServer, admin: Api
) -> None:
    trio = _trio(server, admin)
    start = admin.state(trio.hosts[0])["revision"]
    watch = Watch(server.url, trio.hosts[0], trio.tokens[0], start)
    try:
        admin.put(f"/v2.0/networks/{trio.net['id']}", {"network": {"mtu": 1400}})
        [mtu] = watch.changes_until(admin.state(trio.hosts[0])["revision"])
        assert mtu["networks"][trio.net["id"]]["mtu"] == 1400
        body = {"port": {"fixed_ips": [{"ip_address": "198.51.100.22"}]}}
        admin.put(f"/v2.0/ports/{trio.peer['id']}", body)
        [moved] = watch.changes_until(admin.state(trio.hosts[0])["revision"])
        delta = moved["networks"][trio.net["id"]]
        mac = trio.peer["mac_address"]
        assert delta["add"]["neigh"] == [{"ip": "198.51.100.22", "mac": mac}]
        assert delta["remove"]["neigh"] == [{"ip": "198.51.100.2", "mac": mac}]
        assert delta["add"]["unicast"] == delta["remove"]["unicast"] == []
    finally:
        watch.close()


def _ends_within(watch: Watch, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if watch.ended():
            return True
        time.sleep(0.1)
    return False


def test_an_open_watch_ends_when_its_host_is_deleted(server: ContractServer, admin: Api) -> None:
    trio = _trio(server, admin)
    watch = Watch(server.url, trio.hosts[0], trio.tokens[0], admin.state(trio.hosts[0])["revision"])
    try:
        admin.delete(f"/v1/hosts/{trio.hosts[0]}")
        assert _ends_within(watch, 8), "a deleted host's token stops working, streams too"
    finally:
        watch.close()


def test_an_open_watch_ends_when_its_token_is_replaced(server: ContractServer, admin: Api) -> None:
    trio = _trio(server, admin)
    watch = Watch(server.url, trio.hosts[0], trio.tokens[0], admin.state(trio.hosts[0])["revision"])
    try:
        admin.post(f"/v1/hosts/{trio.hosts[0]}/token", None, 200)
        assert _ends_within(watch, 8), "the revoked token stops working, streams too"
    finally:
        watch.close()


def test_a_revoked_token_receives_no_change_on_its_open_watch(
    server: ContractServer, admin: Api
) -> None:
    trio = _trio(server, admin)
    watch = Watch(server.url, trio.hosts[0], trio.tokens[0], admin.state(trio.hosts[0])["revision"])
    try:
        # Within ~1 s of the open (the first idle bookmark is 5 s away): revoke, then change.
        admin.post(f"/v1/hosts/{trio.hosts[0]}/token", None, 200)
        revoked_at = admin.state(trio.hosts[0])["revision"]
        admin.report(trio.hosts[1], trio.peer["id"], "DOWN")
        assert _ends_within(watch, 8)
        leaked = []
        while not watch.lines.empty():
            line = watch.lines.get_nowait()[1]
            if line["type"] == "change" and line["revision"] > revoked_at:
                leaked.append(line)
        assert leaked == [], "a revoked token got data"
    finally:
        watch.close()


def test_a_watch_without_a_token_is_401(server: ContractServer, admin: Api) -> None:
    trio = _trio(server, admin)
    response = httpx.get(f"{server.url}/v1/hosts/{trio.hosts[0]}/watch?revision=0", timeout=10)
    assert_neutron_error(response, 401)


def test_only_the_admin_deletes_hosts(server: ContractServer, admin: Api) -> None:
    trio = _trio(server, admin)
    h1 = server.as_token(trio.tokens[0])
    assert_neutron_error(h1.http.delete(f"/v1/hosts/{trio.hosts[0]}"), 403)
    assert_neutron_error(h1.http.delete(f"/v1/hosts/{trio.hosts[1]}"), 403)


def test_uniqueness_compares_addresses_not_spellings(server: ContractServer, admin: Api) -> None:
    trio = _trio(server, admin)
    net = trio.net["id"]
    upper = {"port": {"network_id": net, "mac_address": trio.peer["mac_address"].upper()}}
    assert_neutron_error(admin.http.post("/v2.0/ports", json=upper), 409)
    v6 = admin.port(net, fixed_ips=[{"ip_address": "2001:DB8:100::A"}])
    assert v6["fixed_ips"] == [{"ip_address": "2001:db8:100::a"}]
    other_form = {"port": {"network_id": net, "fixed_ips": [{"ip_address": "2001:db8:100:0::a"}]}}
    assert_neutron_error(admin.http.post("/v2.0/ports", json=other_form), 409)
    name = unique("v6dup")
    admin.post("/v1/hosts", {"name": name, "tunnel_ip": "2001:DB8::FE:1"})
    again = {"name": unique("v6dup"), "tunnel_ip": "2001:db8::fe:1"}
    assert_neutron_error(admin.http.post("/v1/hosts", json=again), 409)


def test_restating_the_mac_of_an_active_port_is_not_a_change(
    server: ContractServer, admin: Api
) -> None:
    trio = _trio(server, admin)
    path = f"/v2.0/ports/{trio.peer['id']}"
    same = {"port": {"mac_address": trio.peer["mac_address"].upper()}}
    assert admin.put(path, same)["port"]["status"] == "ACTIVE"
