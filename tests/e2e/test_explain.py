"""``l2pop explain`` on a real fabric, breaking things on purpose (one lab for all cases).

Hosts: host1, host2 (proxy mode), host3 (no port on demo), host4 (suppress mode).
VMs on network demo (VNI 100): a on host1, b on host2, d on host4. Network blue
(VNI 200), made by the ambiguity test, an unbound port with b's IPv4 address.
The tests run in file order: healthy first, then each breakage, the agent
stopped last (the kernel is changed by hand while no agent repairs it).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from l2pop.lab import Fabric, LabVM
from l2pop.lab.controlplane import AGENT_PORT, ControlPlane, l2pop_command
from l2pop.lab.procs import wait_until
from l2pop.lab.shell import run

pytestmark = [pytest.mark.netns, pytest.mark.slow]

JSON = dict[str, Any]
B4, B6 = "198.51.100.2", "2001:db8:100::2"


@dataclass
class Lab:
    fabric: Fabric
    cp: ControlPlane
    demo: JSON
    vms: dict[str, LabVM]
    agents: dict[str, str]  # host -> its endpoint, forwarded to this namespace
    token_file: Path

    def explain(self, *args: str, local_on: str | None = None) -> tuple[int, JSON, str]:
        """Run the CLI; on a host's namespace (``--local``) when ``local_on`` is given."""
        url = self.cp.inner_url if local_on else self.cp.url
        argv = [*l2pop_command(), "explain", *args, "--json"]
        argv += ["--url", url, "--token-file", str(self.token_file)]
        if self.cp.ca_file is not None:  # the lab serves HTTPS with its own CA
            argv += ["--ca-file", str(self.cp.ca_file)]
        if local_on:
            argv = ["ip", "netns", "exec", self.fabric.host(local_on).netns, *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        body = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
        return done.returncode, body, done.stderr

    def stage(self, body: JSON, name: str) -> JSON:
        found: JSON = next(s for s in body["stages"] if s["name"] == name)
        return found

    def sh(self, host: str, argv: Sequence[str]) -> None:
        run(argv, netns=self.fabric.host(host).netns)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    workdir = tmp_path_factory.mktemp("explain-lab")
    with Fabric(4, workdir=workdir) as fabric:
        cp = ControlPlane.start(fabric)
        try:
            for host in ("host1", "host2", "host3"):
                cp.start_agent(host)
            cp.start_agent("host4", mode="suppress")
            demo = cp.create_network("demo", 100)
            vms = {
                "a": cp.boot_vm("a", "host1", demo, ipv4="198.51.100.1", ipv6="2001:db8:100::1"),
                "b": cp.boot_vm("b", "host2", demo, ipv4=B4, ipv6=B6),
                "d": cp.boot_vm("d", "host4", demo, ipv4="198.51.100.4"),
            }
            agents = {
                h: "http://" + fabric.forward(fabric.host(h).netns, fabric.host(h).ipv4, AGENT_PORT)
                for h in ("host1", "host4")
            }
            token_file = fabric.workdir / "admin.token"
            lab = Lab(fabric, cp, demo, vms, agents, token_file)
            # The agents have programmed each other's VMs.
            wait_until(lambda: lab.explain("host1", B4, "--agent", agents["host1"])[0] == 0,
                       timeout=20, what="host1 programmed for b")  # fmt: skip
            yield lab
        finally:
            cp.close()


def test_healthy_ipv4_and_ipv6_through_the_agent(lab: Lab) -> None:
    for target in (B4, B6, lab.vms["b"].mac):
        code, body, _ = lab.explain("host1", target, "--agent", lab.agents["host1"])
        assert code == 0, body
        assert body["verdict"] == "ok"
        assert body["first_failure"] is None
        assert [s["ok"] for s in body["stages"]] == [True] * 5
    assert "host2 (192.0.2.2), ACTIVE" in lab.stage(body, "server")["detail"]


def test_healthy_local_in_proxy_and_suppress_mode(lab: Lab) -> None:
    for host, target in (("host1", B6), ("host4", B4), ("host4", B6)):
        code, body, err = lab.explain(host, target, "--local", local_on=host)
        assert code == 0, (body, err)
        assert [s["ok"] for s in body["stages"]] == [True, True, True, None, True]
        assert "local" in lab.stage(body, "kernel")["detail"]
    code, body, _ = lab.explain("host4", B4, "--agent", lab.agents["host4"])
    assert code == 0, body
    # The human form: one line per stage and the verdict.
    tls = ["--ca-file", str(lab.cp.ca_file)] if lab.cp.ca_file else []
    done = subprocess.run(
        [*l2pop_command(), "explain", "host1", B4, "--url", lab.cp.url,
         "--token-file", str(lab.token_file), *tls],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0
    assert "REACHABLE via vxlan-100 -> 192.0.2.2" in done.stdout
    assert "desired" in done.stdout


def test_local_target(lab: Lab) -> None:
    code, body, _ = lab.explain("host2", B4)
    assert code == 0
    assert lab.stage(body, "kernel")["detail"] == "local"


def test_unknown_target_is_broken_at_server(lab: Lab) -> None:
    code, body, _ = lab.explain("host1", "198.51.100.99")
    assert code == 1
    assert body["first_failure"] == "server"
    assert "no port owns 198.51.100.99" in lab.stage(body, "server")["detail"]


def test_ambiguous_ip_needs_network(lab: Lab) -> None:
    # An unbound port on network blue with b's address: both own the IP.
    blue = lab.cp.create_network("blue", 200)
    twin = lab.cp.create_port(str(blue["id"]), "", [B4], name="twin")
    code, body, err = lab.explain("host1", B4)
    assert code == 2
    assert body == {}
    assert "several networks" in err
    assert "demo (" in err
    assert "blue (" in err
    code, body, _ = lab.explain("host1", B4, "--network", "demo")
    assert code == 0
    lab.cp.delete_port(str(twin["id"]))


def test_host_without_a_port_on_the_network(lab: Lab) -> None:
    code, body, _ = lab.explain("host3", B4, "--network", "demo")
    assert code == 1
    assert body["first_failure"] == "scope"
    assert lab.stage(body, "scope")["detail"] == (
        "host3 has no port on network demo, so it is told nothing about it"
    )


def test_port_not_active(lab: Lab) -> None:
    port = lab.cp.create_port(str(lab.demo["id"]), "host2", ["198.51.100.5"], name="unplugged")
    assert port["status"] == "BUILD"
    code, body, _ = lab.explain("host1", "198.51.100.5")
    assert code == 1
    assert body["first_failure"] == "server"
    assert (
        "port is BUILD: its host host2 has not reported the tap"
        in (lab.stage(body, "server")["detail"])
    )
    lab.cp.delete_port(str(port["id"]))


def test_agent_behind_the_stream(lab: Lab) -> None:
    cp = lab.cp
    # Rotate host1's token without telling its agent: its stream ends and it cannot
    # watch again, so it keeps its last revision (fail static) while the server moves on.
    new_token = cp.new_host_token("host1")
    vm = cp.boot_vm("e", "host2", lab.demo, ipv4="198.51.100.6")
    code, body, _ = lab.explain("host1", "198.51.100.6", "--agent", lab.agents["host1"])
    assert code == 1
    assert body["first_failure"] == "agent"
    detail = lab.stage(body, "agent")["detail"]
    assert " < " in detail
    assert detail.endswith(": stream behind")
    # The admin writes the new token where the agent reads it: it catches up.
    cp.host_tokens["host1"].write_text(new_token + "\n")
    wait_until(
        lambda: lab.explain("host1", vm.ipv4 or "", "--agent", lab.agents["host1"])[0] == 0,
        timeout=30,
        what="host1's agent caught up",
    )


def test_agent_not_answering(lab: Lab) -> None:
    lab.cp.stop_agent("host1")
    code, body, _ = lab.explain("host1", B4, "--agent", lab.agents["host1"])
    assert code == 1
    assert body["first_failure"] == "agent"
    assert "did not answer" in lab.stage(body, "agent")["detail"]


@pytest.mark.parametrize(
    ("breaks", "repairs", "expected"),
    [
        (
            "bridge fdb del {mac} dev vxlan-100 dst 192.0.2.2 self",
            "bridge fdb replace {mac} dev vxlan-100 dst 192.0.2.2 self permanent",
            "host1's kernel has no FDB entry {mac} -> 192.0.2.2 on vxlan-100",
        ),
        (
            "bridge fdb replace {mac} dev vxlan-100 dst 192.0.2.9 self permanent",
            "bridge fdb replace {mac} dev vxlan-100 dst 192.0.2.2 self permanent",
            "host1's kernel has FDB entry {mac} -> 192.0.2.9 on vxlan-100, expected dst 192.0.2.2",
        ),
        (
            "bridge fdb del 00:00:00:00:00:00 dev vxlan-100 dst 192.0.2.2 self",
            "bridge fdb append 00:00:00:00:00:00 dev vxlan-100 dst 192.0.2.2 self permanent",
            "host1's kernel has no flood entry 00:00:00:00:00:00 -> 192.0.2.2 on vxlan-100",
        ),
        (
            f"ip neigh del {B4} dev vxlan-100",
            f"ip neigh replace {B4} lladdr {{mac}} dev vxlan-100 nud permanent",
            f"host1's kernel has no permanent neigh entry {B4} lladdr {{mac}} on vxlan-100",
        ),
    ],
    ids=["fdb-missing", "wrong-dst", "flood-missing", "neigh-missing"],
)
def test_kernel_changed_by_hand(lab: Lab, breaks: str, repairs: str, expected: str) -> None:
    if "host1" in lab.cp.agents:
        lab.cp.stop_agent("host1")  # nobody repairs the kernel now
    mac = lab.vms["b"].mac
    lab.sh("host1", breaks.format(mac=mac).split())
    try:
        code, body, err = lab.explain("host1", B4, "--local", local_on="host1")
        assert code == 1, (body, err)
        assert body["first_failure"] == "kernel"
        assert lab.stage(body, "kernel")["detail"] == expected.format(mac=mac)
    finally:
        lab.sh("host1", repairs.format(mac=mac).split())
    assert lab.explain("host1", B4, "--local", local_on="host1")[0] == 0
