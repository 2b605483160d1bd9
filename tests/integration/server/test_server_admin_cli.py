"""The admin CLI (``l2pop network|port|host|state``) against a real server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from harness.servers import ServerProc
from l2pop.cli import build_app


def _cli(server: ServerProc, *args: str) -> Any:
    # Wide enough that rich never folds an id across lines.
    env = {"L2POP_URL": server.url, "L2POP_TOKEN": server.token, "COLUMNS": "250"}
    result = CliRunner().invoke(build_app(), list(args), env=env)
    assert result.exit_code == 0, result.output
    # stdout only: a log line on stderr must not break the JSON.
    return json.loads(result.stdout) if "--json" in args else result.output


def test_admin_cli_drives_networks_ports_hosts_and_state(
    server: ServerProc, tmp_path: Path
) -> None:
    net = _cli(server, "network", "create", "--name", "demo", "--vni", "100", "--json")
    assert net["provider:segmentation_id"] == 100
    assert [n["id"] for n in _cli(server, "network", "list", "--json")] == [net["id"]]
    assert "demo" in _cli(server, "network", "list")
    token_file = tmp_path / "h1.token"
    _cli(server, "host", "add", "h1", "192.0.2.1", "--save-token", str(token_file))
    assert token_file.stat().st_mode & 0o777 == 0o600
    port = _cli(server, "port", "create", "--network", net["id"], "--ip", "198.51.100.7",
                "--pair", "198.51.100.100,fa:16:3e:00:00:64", "--json")  # fmt: skip
    assert port["status"] == "DOWN"
    bound = _cli(server, "port", "bind", port["id"], "h1", "--json")
    assert (bound["binding:host_id"], bound["status"]) == ("h1", "BUILD")
    state = _cli(server, "state", "h1", "--json")
    assert [p["id"] for p in state["ports"]] == [port["id"]]
    assert port["id"] in _cli(server, "state", "h1")
    assert _cli(server, "port", "unbind", port["id"], "--json")["status"] == "DOWN"
    assert [h["name"] for h in _cli(server, "host", "list", "--json")] == ["h1"]
    _cli(server, "port", "delete", port["id"])
    _cli(server, "host", "delete", "h1")
    _cli(server, "network", "delete", net["id"])
    assert _cli(server, "port", "list", "--json") == []


def test_admin_cli_prints_the_server_error_and_exits_1(server: ServerProc) -> None:
    env = {"L2POP_URL": server.url, "L2POP_TOKEN": server.token}
    runner = CliRunner()
    runner.invoke(build_app(), ["network", "create", "--vni", "100"], env=env)
    result = runner.invoke(build_app(), ["network", "create", "--vni", "100"], env=env)
    assert result.exit_code == 1
    assert "409" in result.output
    assert "VNI 100" in result.output
    wrong = runner.invoke(build_app(), ["network", "list"], env={**env, "L2POP_TOKEN": "x"})
    assert wrong.exit_code == 1
    assert "401" in wrong.output


def test_admin_cli_subnets_and_port_create_with_subnet(server: ServerProc) -> None:
    net = _cli(server, "network", "create", "--name", "ipam", "--json")
    s4 = _cli(server, "subnet", "create", "--network", net["id"], "--cidr", "10.4.0.0/24",
              "--pool", "10.4.0.10,10.4.0.20", "--name", "s4", "--json")  # fmt: skip
    assert (s4["gateway_ip"], s4["allocation_pools"]) == (
        "10.4.0.1",
        [{"start": "10.4.0.10", "end": "10.4.0.20"}],
    )
    s6 = _cli(server, "subnet", "create", "--network", net["id"], "--cidr", "fd00:4::/64",
              "--gateway", "none", "--json")  # fmt: skip
    assert s6["gateway_ip"] is None
    assert "10.4.0.0/24" in _cli(server, "subnet", "list", "--network", net["id"])
    both = _cli(server, "port", "create", "--network", net["id"], "--json")
    assert [ip["ip_address"] for ip in both["fixed_ips"]] == ["10.4.0.10", "fd00:4::1"]
    one = _cli(server, "port", "create", "--network", net["id"], "--subnet", s4["id"], "--json")
    assert one["fixed_ips"] == [{"subnet_id": s4["id"], "ip_address": "10.4.0.11"}]
    assert _cli(server, "subnet", "show", s6["id"], "--json")["cidr"] == "fd00:4::/64"
    for port in (both, one):
        _cli(server, "port", "delete", port["id"])
    assert "deleted subnet" in _cli(server, "subnet", "delete", s6["id"])
