"""Real agents on real kernels: restart under traffic, drift repair, port migration,
server outage. Every test runs the real server and ``l2pop agent`` processes."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from harness.agents import wait_for
from l2pop.lab import ManagedProcess
from l2pop.lab.measure import measure_ping
from l2pop.lab.shell import run
from l2pop.lab.topology import parse_ping

from .conftest import MakeFabric
from .test_agent_overlay import CONVERGE_S, AgentLab, start_agent_lab

pytestmark = pytest.mark.netns


@pytest.fixture
def proxy_overlay(make_fabric: MakeFabric) -> Iterator[AgentLab]:
    overlay = start_agent_lab(make_fabric(3), "proxy")
    try:
        yield overlay
    finally:
        overlay.cp.close()


@pytest.fixture(params=["proxy", "suppress"])
def any_overlay(request: pytest.FixtureRequest, make_fabric: MakeFabric) -> Iterator[AgentLab]:
    overlay = start_agent_lab(make_fabric(3), request.param)
    try:
        yield overlay
    finally:
        overlay.cp.close()


def two_vms(overlay: AgentLab, far: str = "host3") -> None:
    """VM a on host1, VM c on ``far``; both programmed and linked up."""
    overlay.boot("a", "host1", 1)
    overlay.boot("c", far, 3)
    overlay.wait_remote("host1", "c", far, CONVERGE_S)
    overlay.fabric.wait_vm_link_up("a")
    overlay.fabric.wait_vm_link_up("c")


def start_ping(overlay: AgentLab, target: str, count: int, interval: float) -> ManagedProcess:
    argv = ["ping", "-n", "-q", "-c", str(count), "-i", str(interval), "-W", "1", target]
    return overlay.fabric.start("ping", overlay.vms["a"].netns, argv)


def ping_result(process: ManagedProcess, timeout: float) -> tuple[int, int]:
    process.popen.wait(timeout=timeout)
    result = parse_ping(process.log_tail(5000))
    return result.transmitted, result.received


def agent_log(overlay: AgentLab, host: str) -> str:
    return overlay.fabric.workdir.joinpath(f"agent-{host}.log").read_text(errors="replace")


def test_agent_restart_under_10ms_ping_loses_nothing_and_deletes_no_entry(
    any_overlay: AgentLab,
) -> None:
    overlay = any_overlay
    two_vms(overlay)
    netns = overlay.fabric.host("host1").netns
    monitors = [
        overlay.fabric.start("mon-fdb", netns, ["bridge", "monitor", "fdb"]),
        overlay.fabric.start("mon-neigh", netns, ["ip", "monitor", "neigh"]),
    ]
    time.sleep(0.3)  # the monitors subscribe
    ping = start_ping(overlay, "198.51.100.3", count=400, interval=0.01)
    time.sleep(0.5)
    stopped = overlay.cp.agents.pop("host1").stop()  # SIGTERM
    assert stopped == 0, "SIGTERM is a clean stop: exit code 0"
    overlay.cp.start_agent("host1", mode=overlay.mode)
    log = overlay.fabric.workdir / "agent-host1.log"
    wait_for(lambda: log.read_text().count("watching ") >= 2, 10, "restarted agent watching")
    sent, received = ping_result(ping, timeout=30)
    for monitor in monitors:
        monitor.stop()
    events = "".join(m.log_tail(100_000) for m in monitors)
    deleted = [line for line in events.splitlines() if line.startswith("Deleted")]
    second_run = log.read_text().split("starting;")[-1]
    applied = re.findall(r"applied \d+ ops.*", second_run)
    print(f"[{overlay.mode}] ping {received}/{sent} across the restart; ops {applied}")
    print(f"[{overlay.mode}] netlink events during the restart:\n{events}")
    assert sent == 400
    assert received == sent, "a packet was lost across the agent restart"
    assert deleted == [], "the restart deleted an entry"
    assert applied == [], "a restart on a correct kernel applies nothing"


def test_entries_deleted_by_hand_are_restored_by_drift_repair(any_overlay: AgentLab) -> None:
    overlay = any_overlay
    two_vms(overlay)
    netns = overlay.fabric.host("host1").netns
    mac = overlay.vms["c"].mac
    host3 = overlay.vtep("host3")
    neigh_dev = overlay.vxlan if overlay.mode == "proxy" else overlay.bridge
    before_fdb, before_neigh = sorted(overlay.fdb("host1")), sorted(overlay.neigh("host1"))
    run(["bridge", "fdb", "del", mac, "dev", overlay.vxlan, "dst", host3, "self"], netns=netns)
    run(["ip", "neigh", "del", "198.51.100.3", "dev", neigh_dev], netns=netns)
    run(["bridge", "fdb", "del", "00:00:00:00:00:00", "dev", overlay.vxlan, "dst", host3],
        netns=netns)  # fmt: skip
    assert overlay.remote_of("host1", mac) == []
    took = wait_for(
        lambda: (
            sorted(overlay.fdb("host1")) == before_fdb
            and sorted(overlay.neigh("host1")) == before_neigh
        ),
        5.0,
        "drift repair",
    )
    print(f"[{overlay.mode}] drift repaired {took * 1000:.0f} ms after the deletes (resync 1 s)")
    assert "drift repair" in agent_log(overlay, "host1")
    ping = overlay.fabric.ping("a", "198.51.100.3", count=2, interval=0.1)
    assert ping.received == 2


def test_port_migrating_from_host2_to_host3_is_followed_within_a_second(
    proxy_overlay: AgentLab,
) -> None:
    overlay = proxy_overlay
    two_vms(overlay, far="host2")
    port = overlay.ports["c"]
    old = overlay.vms["c"]
    # Nova: bind the port to the destination, plug the VM there, then remove the source.
    overlay.cp.bind_port(port["id"], "host3")
    overlay.wait_remote("host1", "c", None, 5.0)  # BUILD: unpublished, nothing stale
    overlay.fabric.add_vm(
        "c3", "host3", port_id=port["id"], mac=old.mac, ipv4=old.ipv4, ipv6=old.ipv6
    )
    plugged = time.monotonic()  # the tap is in host3's namespace
    overlay.vms["c3"] = overlay.fabric.vm("c3")
    active = wait_for(
        lambda: overlay.cp.port_statuses(overlay.net)[port["id"]] == "ACTIVE", 5.0, "ACTIVE"
    )
    overlay.wait_remote("host1", "c3", "host3", 5.0)
    took = time.monotonic() - plugged
    overlay.fabric.remove_vm("c")
    print(f"tap on host3 -> ACTIVE on the server {active * 1000:.0f} ms, -> host1 sends to host3"
          f" {took * 1000:.0f} ms")  # fmt: skip
    assert took < 1.0
    overlay.fabric.wait_vm_link_up("c3")
    result = measure_ping(
        overlay.fabric,
        overlay.vms["a"],
        overlay.vms["c3"],
        ipv6=False,
        name="after-migration",
        vxlan=overlay.vxlan,
        bridge=overlay.bridge,
    )
    assert result.ping_ok, result
    assert result.hosts_reached_by_pinger == ["host3"]
    stale = [line for line in overlay.fdb("host1") if line.startswith(old.mac + " ")]
    assert stale == [f"{old.mac} dst {overlay.vtep('host3')} self permanent"]


def test_server_down_10s_keeps_traffic_then_later_changes_apply(proxy_overlay: AgentLab) -> None:
    overlay = proxy_overlay
    two_vms(overlay)
    fdb_before = sorted(overlay.fdb("host1"))
    ping = start_ping(overlay, "198.51.100.3", count=120, interval=0.1)
    overlay.restart_server(down_for=10.0)
    sent, received = ping_result(ping, timeout=30)
    print(f"ping {received}/{sent} while the server was down for 10 s")
    assert sent == 120
    assert received == sent
    assert sorted(overlay.fdb("host1")) == fdb_before, "fail static: kernel untouched"
    for host in overlay.fabric.hosts:
        overlay.cp.agents[host].check_running()
    started = time.monotonic()
    overlay.boot("d", "host2", 4)
    overlay.wait_remote("host1", "d", "host2", CONVERGE_S)
    print(f"a change after the outage reached host1 in {time.monotonic() - started:.1f} s")
    overlay.fabric.wait_vm_link_up("d")
    assert overlay.fabric.ping("a", "198.51.100.4", count=2, interval=0.1).received == 2
