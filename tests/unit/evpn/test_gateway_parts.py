"""The gateway's mirror of the server's records and gobgpd's configuration."""

from __future__ import annotations

from typing import Any

import pytest
import typer

from l2pop.evpn.cli import parse_peers
from l2pop.evpn.mirror import Mirror
from l2pop.evpn.routes import MacRoute, export_routes
from l2pop.evpn.speaker import SpeakerConfig, render_config

NET = {"id": "n1", "provider:segmentation_id": 100}
HOST = {"name": "h1", "tunnel_ip": "192.0.2.1"}


def port(status: str = "ACTIVE", host: str = "h1") -> dict[str, Any]:
    return {
        "id": "p1",
        "network_id": "n1",
        "mac_address": "fa:16:3e:00:00:01",
        "fixed_ips": [{"ip_address": "198.51.100.1"}],
        "allowed_address_pairs": [],
        "binding:host_id": host,
        "status": status,
        "admin_state_up": True,
    }


def remote(gateways: list[str]) -> dict[str, Any]:
    return {
        "id": "n1|flood|198.18.0.7||",
        "network_id": "n1",
        "type": "flood",
        "vtep": "198.18.0.7",
        "mac_address": None,
        "ip_address": None,
        "gateways": gateways,
    }


def test_mirror_follows_the_feed_and_knows_what_it_holds() -> None:
    state = {
        "revision": 5,
        "networks": [NET],
        "hosts": [HOST],
        "ports": [port()],
        "remote_endpoints": [remote(["gw1"]), {**remote(["gw2"]), "id": "other"}],
    }
    mirror = Mirror.from_state(state, "gw1")
    assert list(mirror.held) == ["n1|flood|198.18.0.7||"]
    assert MacRoute(100, "192.0.2.1", "fa:16:3e:00:00:01") in export_routes(mirror.snapshot)[0]
    assert mirror.targets(65000) == {"65000:100": "n1"}
    assert mirror.own_vteps() == {"192.0.2.1"}
    # The port goes down: nothing to export; the gateway's hold is released.
    touched = mirror.apply(
        {
            "revision": 6,
            "changes": [
                {"kind": "port", "key": "p1", "value": port("DOWN")},
                {"kind": "remote", "key": "n1|flood|198.18.0.7||", "value": None},
            ],
        }
    )
    assert touched == {"n1"}
    assert mirror.without_rd_index() == []
    mirror.apply(
        {
            "revision": 7,
            "changes": [{"kind": "network", "key": "nb", "value": {"id": "nb",
                         "provider:segmentation_id": 70_000}}],
        }
    )  # fmt: skip
    assert mirror.without_rd_index() == ["nb"]
    rd = {"network_id": "nb", "index": 65535}
    mirror.apply({"revision": 7, "changes": [{"kind": "evpn_rd", "key": "nb", "value": rd}]})
    assert mirror.rd_indexes == {"nb": 65535}
    assert mirror.without_rd_index() == []
    assert export_routes(mirror.snapshot)[0] == set()
    assert mirror.held == {}
    assert mirror.revision == 7
    # Delete the port, then the host and the network.
    mirror.apply({"revision": 7, "changes": [{"kind": "port", "key": "p1", "value": None}]})
    mirror.apply(
        {
            "revision": 8,
            "changes": [
                {"kind": "host", "key": "h1", "value": None},
                {"kind": "network", "key": "n1", "value": None},
                {"kind": "port", "key": "unknown", "value": None},
            ],
        }
    )
    assert list(mirror.snapshot.networks) == ["nb"]
    assert mirror.snapshot.hosts == {}


def test_gobgpd_config_is_ibgp_evpn_from_the_router_id_with_md5() -> None:
    text = render_config(SpeakerConfig(65000, "192.0.2.254", ("192.0.2.3", "192.0.2.4"), 'a"b'))
    assert 'router-id = "192.0.2.254"' in text
    assert text.count("peer-as = 65000") == 2
    assert text.count('afi-safi-name = "l2vpn-evpn"') == 2
    assert 'auth-password = "a\\"b"' in text  # quoted: the password cannot break the TOML
    assert 'local-address = "192.0.2.254"' in text
    assert "auth-password" not in render_config(SpeakerConfig(1, "192.0.2.1", ("192.0.2.3",)))


def test_peers_are_checked() -> None:
    assert parse_peers("192.0.2.3, 192.0.2.4") == ("192.0.2.3", "192.0.2.4")
    with pytest.raises(typer.BadParameter):
        parse_peers(" , ")
