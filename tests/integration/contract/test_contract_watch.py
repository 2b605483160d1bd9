"""DESIGN §5 watch: NDJSON change lines, bookmarks, fan-out scope, 400 ahead, 410 compacted."""

from __future__ import annotations

import ipaddress
import json
import queue
import time
from typing import Any

import httpx
import pytest
from contract_support import (
    Api,
    ContractServer,
    Watch,
    assert_neutron_error,
    unique,
)

CHANGE_KEYS = {"type", "revision", "networks", "ports"}
SETS = {"flood", "unicast", "neigh"}


def _host(server: ContractServer, admin: Api) -> tuple[str, str, str]:
    name, ip = unique("w"), server.tunnel_ip()
    return name, ip, admin.host(name, ip)


def _revision(admin: Api, host: str) -> int:
    return int(admin.state(host)["revision"])


def test_a_watch_is_ndjson_and_delivers_a_peer_activation_as_a_change_line(
    server: ContractServer, admin: Api
) -> None:
    net = admin.network()
    (h1, _, t1), (h2, ip2, t2) = _host(server, admin), _host(server, admin)
    admin.port(net["id"], **{"binding:host_id": h1})
    peer = admin.port(
        net["id"], **{"binding:host_id": h2}, fixed_ips=[{"ip_address": "198.51.100.2"}]
    )
    start = _revision(admin, h1)
    watch = Watch(server.url, h1, t1, start)
    try:
        assert watch.status == 200
        assert watch.headers is not None
        assert watch.headers["content-type"].split(";")[0] == "application/x-ndjson"
        done = server.as_token(t2).report(h2, peer["id"], "ACTIVE")
        assert done["port"]["status"] == "ACTIVE"
        now = _revision(admin, h1)
        [change] = watch.changes_until(now)
        assert set(change) == CHANGE_KEYS
        assert change["type"] == "change"
        assert start < change["revision"] <= now
        assert change["ports"] == [], "no port of h1 changed"
        delta = change["networks"][net["id"]]
        assert set(delta) == {"vni", "mtu", "add", "remove"}
        assert (delta["vni"], delta["mtu"]) == (net["provider:segmentation_id"], 1450)
        mac = peer["mac_address"]
        assert delta["add"] == {
            "flood": [ip2],
            "unicast": [{"mac": mac, "vtep": ip2}],
            "neigh": [{"ip": "198.51.100.2", "mac": mac}],
        }
        assert delta["remove"] == {"flood": [], "unicast": [], "neigh": []}
    finally:
        watch.close()


def test_a_change_of_an_own_port_carries_its_record_and_a_leaving_network_is_removed(
    server: ContractServer, admin: Api
) -> None:
    net = admin.network()
    h1, _, t1 = _host(server, admin)
    start = _revision(admin, h1)
    watch = Watch(server.url, h1, t1, start)
    try:
        port = admin.port(net["id"], **{"binding:host_id": h1})
        [joined] = watch.changes_until(_revision(admin, h1))
        assert [p["id"] for p in joined["ports"]] == [port["id"]]
        record = joined["ports"][0]
        assert set(record) >= {"id", "network_id", "mac_address", "fixed_ips", "status"}
        assert record["admin_state_up"] is True
        assert (record["status"], record["mac_address"]) == ("BUILD", port["mac_address"])
        assert net["id"] in joined["networks"]
        admin.delete(f"/v2.0/ports/{port['id']}")
        [left] = watch.changes_until(_revision(admin, h1))
        assert left["revision"] > joined["revision"]
        delta = left["networks"][net["id"]]
        assert delta["removed"] is True
        assert "add" not in delta
        assert "remove" not in delta
    finally:
        watch.close()


def test_idle_watches_get_bookmarks_every_5_s_and_no_change_for_foreign_networks(
    server: ContractServer, admin: Api
) -> None:
    busy, quiet = admin.network(), admin.network()
    (h1, _, _), (h2, _, t2), (h3, _, t3) = (_host(server, admin) for _ in range(3))
    admin.port(busy["id"], **{"binding:host_id": h1})
    peer = admin.port(busy["id"], **{"binding:host_id": h2})
    admin.port(quiet["id"], **{"binding:host_id": h3})
    start = _revision(admin, h3)
    watch = Watch(server.url, h3, t3, start)
    try:
        server.as_token(t2).report(h2, peer["id"], "ACTIVE")  # news on `busy` only
        assert _revision(admin, h3) > start
        bookmarks: list[tuple[float, dict[str, Any]]] = []
        last = watch.opened
        deadline = time.monotonic() + 12
        while len(bookmarks) < 2 and time.monotonic() < deadline:
            try:
                at, line = watch.next_line(timeout=0.2)
            except queue.Empty:
                continue
            assert line["type"] != "change", f"h3 has no port on that network: {line}"
            assert line == {"type": "bookmark", "revision": line["revision"]}
            assert at - last <= 5.5, f"{at - last:.1f} s without a line while idle"
            bookmarks.append((at, line))
            last = at
        assert len(bookmarks) == 2, "two bookmarks within 12 s of idle"
        assert bookmarks[-1][1]["revision"] >= _revision(admin, h1)
    finally:
        watch.close()


@pytest.mark.parametrize("ahead", [1, 1000])
def test_a_revision_ahead_of_the_store_is_400(
    server: ContractServer, admin: Api, ahead: int
) -> None:
    h1, _, t1 = _host(server, admin)
    now = _revision(admin, h1)
    response = httpx.get(
        f"{server.url}/v1/hosts/{h1}/watch?revision={now + ahead}",
        headers={"X-Auth-Token": t1},
        timeout=10,
    )
    assert_neutron_error(response, 400)


@pytest.mark.parametrize("revision", ["-1", "abc", ""])
def test_a_malformed_watch_revision_is_400(
    server: ContractServer, admin: Api, revision: str
) -> None:
    h1, _, t1 = _host(server, admin)
    response = httpx.get(
        f"{server.url}/v1/hosts/{h1}/watch?revision={revision}",
        headers={"X-Auth-Token": t1},
        timeout=10,
    )
    assert_neutron_error(response, 400)


def test_revisions_that_do_not_change_a_hosts_state_produce_no_change_line(
    server: ContractServer, admin: Api
) -> None:
    net = admin.network()
    (h1, _, t1), (h2, ip2, t2) = _host(server, admin), _host(server, admin)
    admin.port(net["id"], **{"binding:host_id": h1})
    start = _revision(admin, h1)
    watch = Watch(server.url, h1, t1, start)
    try:
        peer = admin.port(net["id"], **{"binding:host_id": h2})  # BUILD: not published
        admin.put(f"/v2.0/networks/{net['id']}", {"network": {"name": unique("renamed")}})
        admin.put(f"/v2.0/ports/{peer['id']}", {"port": {"name": "vm-name"}})
        quiet = _revision(admin, h1)
        assert quiet > start, "three writes happened"
        server.as_token(t2).report(h2, peer["id"], "ACTIVE")
        now = _revision(admin, h1)
        changes = watch.changes_until(now)
        assert [c["revision"] for c in changes] == [now], changes
        assert changes[0]["networks"][net["id"]]["add"]["flood"] == [ip2]
    finally:
        watch.close()


def test_change_revisions_increase_strictly_along_a_stream(
    server: ContractServer, admin: Api
) -> None:
    net = admin.network()
    (h1, _, t1), (h2, _, t2) = _host(server, admin), _host(server, admin)
    admin.port(net["id"], **{"binding:host_id": h1})
    peer = admin.port(net["id"], **{"binding:host_id": h2})
    watch = Watch(server.url, h1, t1, _revision(admin, h1))
    try:
        agent = server.as_token(t2)
        for i in range(6):
            agent.report(h2, peer["id"], "ACTIVE" if i % 2 == 0 else "DOWN")
        changes = watch.changes_until(_revision(admin, h1))
        revisions = [c["revision"] for c in changes]
        assert len(revisions) == 6
        assert revisions == sorted(set(revisions)), revisions
    finally:
        watch.close()


def _canonical(networks: dict[str, Any]) -> dict[str, Any]:
    """Networks of a /state with each entry list as a sorted list (order is not contract)."""
    return {
        nid: {
            "vni": n["vni"],
            "mtu": n["mtu"],
            **{key: sorted(n[key], key=json.dumps) for key in sorted(SETS)},
        }
        for nid, n in networks.items()
    }


def _apply(networks: dict[str, Any], change: dict[str, Any]) -> None:
    """Apply one change line's network deltas to a /state ``networks`` map, in place."""
    for nid, delta in change["networks"].items():
        if delta.get("removed"):
            networks.pop(nid, None)
            continue
        entry = networks.setdefault(nid, {"flood": [], "unicast": [], "neigh": []})
        entry["vni"], entry["mtu"] = delta["vni"], delta["mtu"]
        for key in SETS:
            kept = [x for x in entry[key] if x not in delta["remove"][key]]
            entry[key] = kept + [x for x in delta["add"][key] if x not in kept]


def test_state_at_r_plus_the_watch_from_r_equals_the_state_now_replayed_or_live(
    server: ContractServer, admin: Api
) -> None:
    nets = [admin.network(), admin.network()]
    (h1, _, t1), (h2, _, t2) = _host(server, admin), _host(server, admin)
    h3 = unique("w6")
    ip3 = str(ipaddress.ip_address(f"2001:db8::{h3.split('-')[1][:4]}"))  # canonical form
    t3 = admin.host(h3, ip3)
    admin.port(nets[0]["id"], **{"binding:host_id": h1})
    before = admin.state(h1)
    live = Watch(server.url, h1, t1, before["revision"])
    try:
        p2 = admin.port(
            nets[0]["id"], **{"binding:host_id": h2}, fixed_ips=[{"ip_address": "198.51.100.2"}]
        )
        p3 = admin.port(
            nets[0]["id"], **{"binding:host_id": h3}, fixed_ips=[{"ip_address": "2001:db8:100::3"}]
        )
        server.as_token(t2).report(h2, p2["id"], "ACTIVE")
        server.as_token(t3).report(h3, p3["id"], "ACTIVE")
        mine = admin.port(nets[1]["id"], **{"binding:host_id": h1})
        admin.put(
            f"/v2.0/ports/{p2['id']}", {"port": {"fixed_ips": [{"ip_address": "198.51.100.12"}]}}
        )
        admin.put(f"/v2.0/networks/{nets[0]['id']}", {"network": {"mtu": 1380}})
        server.as_token(t2).report(h2, p2["id"], "DOWN")
        admin.delete(f"/v2.0/ports/{mine['id']}")
        after = admin.state(h1)
        replayed = Watch(server.url, h1, t1, before["revision"])
        try:
            for watch in (live, replayed):
                networks = json.loads(json.dumps(before["networks"]))
                for change in watch.changes_until(after["revision"]):
                    _apply(networks, change)
                assert _canonical(networks) == _canonical(after["networks"])
        finally:
            replayed.close()
    finally:
        live.close()
    assert after["networks"][nets[0]["id"]]["flood"] == [ip3]


def test_an_admin_down_of_an_own_port_is_a_change_carrying_its_record(
    server: ContractServer, admin: Api
) -> None:
    net = admin.network()
    h1, _, t1 = _host(server, admin)
    port = admin.port(net["id"], **{"binding:host_id": h1})
    watch = Watch(server.url, h1, t1, _revision(admin, h1))
    try:
        admin.put(f"/v2.0/ports/{port['id']}", {"port": {"admin_state_up": False}})
        [change] = watch.changes_until(_revision(admin, h1))
        [record] = change["ports"]
        assert (record["id"], record["status"], record["admin_state_up"]) == (
            port["id"],
            "DOWN",
            False,
        )
    finally:
        watch.close()
