"""The gateway's pure route computation: exports, gobgp arguments, parsing received paths."""

from __future__ import annotations

import json
from typing import Any

from l2pop.core import (
    AddressPair,
    Host,
    Network,
    Port,
    PortStatus,
    RemoteEndpoint,
    RemoteKind,
    RemoteUpserted,
    Snapshot,
    step,
)
from l2pop.evpn.routes import (
    MacRoute,
    MulticastRoute,
    export_routes,
    gobgp_add_args,
    gobgp_del_args,
    imported_endpoints,
    parse_gobgp_path,
    route_target,
)

MAC1 = "fa:16:3e:00:00:01"
VMAC = "00:00:5e:00:01:01"

# A type-3 and a type-2 route as FRR 8.4 sends them, from `gobgp monitor global rib -a evpn -j`.
FRR_TYPE3 = json.loads(
    '{"nlri":{"type":3,"value":{"rd":{"type":1,"admin":"10.99.0.2","assigned":2},"etag":0,'
    '"ip":"10.99.0.2"}},"age":1,"best":false,"attrs":[{"type":1,"value":0},{"type":2,'
    '"as_paths":[]},{"type":5,"value":100},{"type":16,"value":[{"type":3,"subtype":12,'
    '"tunnel_type":8},{"type":0,"subtype":2,"value":"65000:100"}]},{"type":22,'
    '"is-leaf-info-required":false,"tunnel-type":6,"label":100,"tunnel-id":"10.99.0.2"},'
    '{"type":14,"nexthop":"10.99.0.2","afi":25,"safi":70,"value":[]}],"stale":false,'
    '"source-id":"10.99.0.2","neighbor-ip":"10.99.0.2"}'
)
FRR_TYPE2 = json.loads(
    '{"nlri":{"type":2,"value":{"rd":{"type":1,"admin":"10.99.0.2","assigned":2},'
    '"esi":"single-homed","etag":0,"mac":"52:54:00:00:00:09","ip":"\\u003cnil\\u003e",'
    '"labels":[100]}},"age":1,"best":false,"attrs":[{"type":1,"value":0},{"type":16,"value":'
    '[{"type":3,"subtype":12,"tunnel_type":8},{"type":0,"subtype":2,"value":"65000:100"}]},'
    '{"type":14,"nexthop":"10.99.0.2","afi":25,"safi":70,"value":[]}],"stale":false,'
    '"source-id":"10.99.0.2","neighbor-ip":"10.99.0.2"}'
)


def snapshot() -> Snapshot:
    nets = [Network("n1", 100), Network("big", 70_000)]
    hosts = [Host("h1", "192.0.2.1"), Host("h6", "2001:db8::6")]
    ports = [
        Port("p1", "n1", MAC1, ("198.51.100.1", "2001:db8:1::1"), (), "h1", PortStatus.ACTIVE),
        Port("p2", "n1", "fa:16:3e:00:00:02", ("198.51.100.2",), (), "h1", PortStatus.BUILD),
        Port("p6", "n1", "fa:16:3e:00:00:06", (), (), "h6", PortStatus.ACTIVE),
        Port("pb", "big", "fa:16:3e:00:00:0b", (), (), "h1", PortStatus.ACTIVE),
        Port(
            "pv",
            "n1",
            "fa:16:3e:00:00:0c",
            (),
            (AddressPair("198.51.100.9", VMAC),),
            "h1",
            PortStatus.ACTIVE,
        ),
    ]
    return Snapshot.build(nets, hosts, ports)


def test_exports_follow_design_per_active_port_and_per_host_vni() -> None:
    routes, skipped = export_routes(snapshot())
    assert routes == {
        MulticastRoute(100, "192.0.2.1"),
        MacRoute(100, "192.0.2.1", MAC1),
        MacRoute(100, "192.0.2.1", MAC1, "198.51.100.1"),
        MacRoute(100, "192.0.2.1", MAC1, "2001:db8:1::1"),
        MacRoute(100, "192.0.2.1", "fa:16:3e:00:00:0c"),
        MacRoute(100, "192.0.2.1", VMAC),
        MacRoute(100, "192.0.2.1", VMAC, "198.51.100.9"),
    }
    # IPv6 VTEPs and VNIs without a type-1 RD number are left out (and said so).
    assert skipped == {"2001:db8::6 (VNI 100)", "192.0.2.1 (VNI 70000)"}


def test_remote_endpoints_are_never_exported_back() -> None:
    snap = snapshot()
    remote = RemoteEndpoint("n1", RemoteKind.MAC, "198.18.0.7", "52:54:00:00:00:07", "10.0.0.7")
    snap, _ = step(snap, RemoteUpserted(remote))
    assert export_routes(snap) == export_routes(snapshot())


def test_gobgp_arguments_carry_the_design_encodings() -> None:
    mac = MacRoute(100, "192.0.2.1", MAC1, "198.51.100.1")
    assert gobgp_add_args(mac, 4_200_000_000) == [
        *("macadv", MAC1, "198.51.100.1", "etag", "0", "label", "100"),
        *("rd", "192.0.2.1:100", "rt", f"{4_200_000_000 & 0xFFFF}:100"),
        *("encap", "vxlan", "nexthop", "192.0.2.1"),
    ]
    assert gobgp_add_args(MacRoute(100, "192.0.2.1", MAC1), 65000)[2] == "0.0.0.0"
    assert gobgp_add_args(MulticastRoute(100, "192.0.2.1"), 65000) == [
        *("multicast", "192.0.2.1", "etag", "0", "rd", "192.0.2.1:100", "rt", "65000:100"),
        *("encap", "vxlan", "pmsi", "ingress-repl", "100", "192.0.2.1", "nexthop", "192.0.2.1"),
    ]
    assert gobgp_del_args(mac) == [
        *("macadv", MAC1, "198.51.100.1", "etag", "0", "label", "100", "rd", "192.0.2.1:100")
    ]
    assert gobgp_del_args(MulticastRoute(100, "192.0.2.1"))[:2] == ["multicast", "192.0.2.1"]
    assert route_target(65000, 100) == "65000:100"


def test_received_paths_parse_and_local_ones_are_skipped() -> None:
    parsed = parse_gobgp_path(FRR_TYPE3)
    assert parsed is not None
    route, withdrawn = parsed
    assert (route.kind, route.vtep, route.targets, withdrawn) == (
        RemoteKind.FLOOD,
        "10.99.0.2",
        frozenset({"65000:100"}),
        False,
    )
    parsed = parse_gobgp_path({**FRR_TYPE2, "withdrawal": True})
    assert parsed is not None
    route, withdrawn = parsed
    assert (route.kind, route.mac, route.ip, withdrawn) == (
        RemoteKind.MAC,
        "52:54:00:00:00:09",
        None,
        True,
    )
    local: dict[str, Any] = {k: v for k, v in FRR_TYPE2.items() if k != "neighbor-ip"}
    assert parse_gobgp_path(local) is None
    assert parse_gobgp_path({"neighbor-ip": "x", "nlri": {"type": 5, "value": {}}}) is None
    assert parse_gobgp_path({"neighbor-ip": "x", "nlri": {"type": 2, "value": {}}}) is None


def test_imports_keep_known_targets_and_drop_own_vteps() -> None:
    t3 = parse_gobgp_path(FRR_TYPE3)
    t2 = parse_gobgp_path(FRR_TYPE2)
    assert t3 is not None
    assert t2 is not None
    routes = [t3[0], t2[0]]
    got = imported_endpoints(routes, {"65000:100": "n1"}, frozenset())
    assert got == {
        RemoteEndpoint("n1", RemoteKind.FLOOD, "10.99.0.2"),
        RemoteEndpoint("n1", RemoteKind.MAC, "10.99.0.2", "52:54:00:00:00:09"),
    }
    assert imported_endpoints(routes, {"65000:200": "n2"}, frozenset()) == set()
    assert imported_endpoints(routes, {"65000:100": "n1"}, frozenset({"10.99.0.2"})) == set()


def test_a_vni_over_65535_is_exported_with_its_networks_rd_index() -> None:
    routes, skipped = export_routes(snapshot(), {"big": 65535})
    assert MulticastRoute(70_000, "192.0.2.1", 65535) in routes
    assert skipped == {"2001:db8::6 (VNI 100)"}
    big = MacRoute(70_000, "192.0.2.1", "fa:16:3e:00:00:0b", None, 65535)
    assert big in routes
    assert "192.0.2.1:65535" in gobgp_add_args(big, 65000)
    assert f"{70_000}" in gobgp_add_args(big, 65000)  # label and RT keep the VNI
    assert gobgp_del_args(MulticastRoute(70_000, "192.0.2.1", 65535))[5] == "192.0.2.1:65535"
