"""The real ``openstack`` CLI (python-openstackclient), unmodified, against a real server.

Every command runs as a subprocess with ``--os-auth-type admin_token`` and an
endpoint, as an operator types it. One server, a few dozen calls (the CLI takes
1-2 s to start). Each refusal is checked to leave networks, subnets and ports
exactly as they were.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.servers import ServerProc, ok, running

pytestmark = pytest.mark.slow

OPENSTACK = Path(sys.executable).with_name("openstack")


@dataclass
class Cli:
    server: ServerProc
    home: Path

    def run(self, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
        command = [
            str(OPENSTACK), "--os-auth-type", "admin_token", "--os-endpoint", self.server.url,
            # "=": a token may start with "-" (urlsafe base64), which argparse
            # would take for an option.
            f"--os-token={token or self.server.token}", *args,
        ]  # fmt: skip
        # No clouds.yaml or OS_* of the machine may leak in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["HOME"] = str(self.home)
        # Generous: on a loaded machine the CLI alone takes seconds to start.
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=180)

    def json(self, *args: str) -> Any:
        done = self.run(*args, "-f", "json")
        assert done.returncode == 0, (args, done.stderr)
        return json.loads(done.stdout)

    def quiet(self, *args: str) -> None:
        done = self.run(*args)
        assert done.returncode == 0, (args, done.stderr)

    def refused(self, *args: str, needle: str, token: str | None = None) -> str:
        """The command fails with ``needle`` in its message and changes nothing."""
        before = self.everything()
        done = self.run(*args, token=token)
        assert done.returncode != 0, (args, done.stdout)
        assert needle in done.stderr, (args, done.stderr)
        assert self.everything() == before, f"{args} changed the store"
        return done.stderr

    def everything(self) -> dict[str, Any]:
        with httpx.Client(
            base_url=self.server.url, headers={"X-Auth-Token": self.server.token}, timeout=60
        ) as http:
            return {c: ok(http.get(f"/v2.0/{c}"))[c] for c in ("networks", "subnets", "ports")}


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    if not OPENSTACK.exists():
        pytest.skip("python-openstackclient is not installed (pip install -e .[dev])")
    (tmp_path / "home").mkdir()
    with running(tmp_path) as server:
        yield Cli(server, tmp_path / "home")


def _ips(port: dict[str, Any]) -> list[str]:
    return [ip["ip_address"] for ip in port["fixed_ips"]]


def test_the_openstack_cli_drives_networks_subnets_and_ports(cli: Cli) -> None:
    net = cli.json(
        "network",
        "create",
        "--provider-network-type",
        "vxlan",
        "--provider-segment",
        "1500",
        "net1",
    )
    assert net["provider:segmentation_id"] == 1500
    cli.quiet("network", "set", "--mtu", "1400", "--description", "blue", "net1")
    shown = cli.json("network", "show", "net1")
    assert (shown["mtu"], shown["description"], shown["id"]) == (1400, "blue", net["id"])
    assert [n["Name"] for n in cli.json("network", "list")] == ["net1"]

    s4 = cli.json(
        "subnet", "create", "--network", "net1", "--subnet-range", "10.10.0.0/24",
        "--allocation-pool", "start=10.10.0.10,end=10.10.0.11", "s4",
    )  # fmt: skip
    assert s4["allocation_pools"] == [{"start": "10.10.0.10", "end": "10.10.0.11"}]
    assert s4["gateway_ip"] == "10.10.0.1"
    s6 = cli.json(
        "subnet", "create", "--network", "net1", "--ip-version", "6",
        "--subnet-range", "fd00:10::/64", "--gateway", "none", "s6",
    )  # fmt: skip
    assert s6["gateway_ip"] is None
    assert s6["ip_version"] == 6

    p1 = cli.json("port", "create", "--network", "net1", "--host", "h1", "p1")
    assert _ips(p1) == ["10.10.0.10", "fd00:10::1"]
    assert p1["status"] == "BUILD"
    assert p1["binding_host_id"] == "h1"
    p2 = cli.json(
        "port", "create", "--network", "net1", "--host", "h2",
        "--fixed-ip", "subnet=s4,ip-address=10.10.0.50", "--mac-address", "fa:16:3e:00:00:50",
        "--allowed-address", "ip-address=10.10.0.99", "p2",
    )  # fmt: skip
    assert _ips(p2) == ["10.10.0.50"]
    assert p2["mac_address"] == "fa:16:3e:00:00:50"
    assert p2["allowed_address_pairs"] == [
        {"ip_address": "10.10.0.99", "mac_address": "fa:16:3e:00:00:50"}
    ]
    assert {p["Name"] for p in cli.json("port", "list", "--network", "net1")} == {"p1", "p2"}
    long = cli.json("port", "list", "--host", "h1", "--long")
    assert [(p["Name"], p["Status"]) for p in long] == [("p1", "BUILD")]

    # set / unset by name; --disable takes the port DOWN; --host migrates it.
    cli.quiet("port", "set", "--disable", "--description", "off", "p1")
    p1 = cli.json("port", "show", "p1")
    assert (p1["status"], p1["admin_state_up"], p1["description"]) == ("DOWN", False, "off")
    cli.quiet("port", "set", "--host", "h3", "p2")
    # As with Neutron, which stores a pair's MAC (the port's when none is given),
    # the CLI removes only a pair given exactly as shown: with its MAC.
    pair = "ip-address=10.10.0.99,mac-address=fa:16:3e:00:00:50"
    cli.quiet("port", "unset", "--allowed-address", pair, "p2")
    p2 = next(p for p in cli.everything()["ports"] if p["name"] == "p2")
    assert (p2["binding:host_id"], p2["status"]) == ("h3", "BUILD")
    assert p2["allowed_address_pairs"] == []

    aliases = {e["Alias"] for e in cli.json("extension", "list", "--network")}
    assert {"binding", "provider", "allowed-address-pairs"} <= aliases

    # Refusals: each one changes nothing.
    cli.refused(
        "port", "create", "--network", "net1", "--fixed-ip", "ip-address=10.10.0.50", "px",
        needle="already allocated",
    )  # fmt: skip
    cli.refused(
        "port", "create", "--network", "net1", "--fixed-ip", "ip-address=192.0.2.9", "px",
        needle="not in any subnet",
    )  # fmt: skip
    p3 = cli.json("port", "create", "--network", "net1", "--fixed-ip", "subnet=s4", "p3")
    assert _ips(p3) == ["10.10.0.11"]
    cli.refused(
        "port", "create", "--network", "net1", "--fixed-ip", "subnet=s4", "px",
        needle="No more IP addresses",
    )  # fmt: skip
    cli.refused("subnet", "delete", "s4", needle="Failed to delete subnet")
    cli.refused("network", "delete", "net1", needle="Failed to delete network")
    headers = {"X-Auth-Token": cli.server.token}
    with httpx.Client(base_url=cli.server.url, headers=headers, timeout=60) as http:
        answer = ok(http.post("/v1/hosts", json={"name": "h1", "tunnel_ip": "192.0.2.1"}), 201)
    cli.refused("network", "create", "rogue", needle="403", token=answer["token"])

    # Deletes: ports, a subnet, then the network takes its last subnet along.
    cli.quiet("port", "delete", "p1", "p2", "p3")
    cli.quiet("subnet", "delete", "s6")
    cli.quiet("network", "delete", "net1")
    assert cli.everything() == {"networks": [], "subnets": [], "ports": []}
