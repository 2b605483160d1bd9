"""The agent against a real ``l2pop server`` process, on the fake dataplane: list + watch
converge, tap events become status reports, 410 leads to a new list, failover between
server URLs, fail static while no server answers."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from harness.agents import Admin, AgentThread, agent_config, running_agent, wait_for
from harness.net import free_port
from harness.servers import ServerProc, running
from l2pop.dataplane.base import tap_name

CONVERGE_S = 10.0  # generous: CI runs the whole suite with CPU contention


@dataclass
class World:
    server: ServerProc
    admin: Admin
    net_a: str
    net_b: str
    ports: dict[str, str]  # name -> port id


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """Hosts h1..h3; network A (VNI 100) on all three, B (VNI 200) on h3 only.
    p2 (h2) and p3 (h3) are ACTIVE on A; p1 is bound to h1, not plugged yet."""
    with running(tmp_path / "server") as server:
        admin = Admin(server)
        net_a, net_b = admin.network("a", 100), admin.network("b", 200)
        for i in (1, 2, 3):
            admin.host(f"h{i}", f"192.0.2.{i}")
        ports = {
            "p1": admin.port(net_a, "h1", ["198.51.100.1", "2001:db8:100::1"])["id"],
            "p2": admin.port(net_a, "h2", ["198.51.100.2"])["id"],
            "p3": admin.port(net_a, "h3", ["198.51.100.3", "2001:db8:100::3"])["id"],
            "p4": admin.port(net_b, "h3", ["198.51.100.4"])["id"],
        }
        for name, host in (("p2", "h2"), ("p3", "h3"), ("p4", "h3")):
            admin.report(host, ports[name], "ACTIVE")
        yield World(server, admin, net_a, net_b, ports)


def h1_agent(world: World, servers: list[str] | None = None, **overrides: object) -> AgentThread:
    config = agent_config(
        "h1", "192.0.2.1", servers or [world.server.url], world.admin.tokens["h1"], **overrides
    )
    return AgentThread(config)


def converged(world: World, agent: AgentThread, host: str = "h1") -> bool:
    return agent.held() == world.admin.wanted(host)


def test_agent_lists_watches_and_reports_its_ports(world: World) -> None:
    agent = h1_agent(world)
    try:
        wait_for(lambda: converged(world, agent), CONVERGE_S, "first convergence")
        held = agent.held()
        assert set(held) == {100}, "h1 has no port on B and must not get B"
        assert held[100].flood == {"192.0.2.2", "192.0.2.3"}
        assert len(held[100].unicast) == 2
        assert len(held[100].neigh) == 3
        assert world.admin.status(world.ports["p1"]) == "BUILD", "no tap yet: stays BUILD"

        agent.plug(world.ports["p1"])
        took = wait_for(
            lambda: world.admin.status(world.ports["p1"]) == "ACTIVE", CONVERGE_S, "p1 ACTIVE"
        )
        print(f"tap appeared -> ACTIVE on the server in {took * 1000:.0f} ms")
        assert tap_name(world.ports["p1"]) in agent.dataplane.read()[100].taps

        # Changes on other hosts arrive through the watch.
        world.admin.delete_port(world.ports["p2"])
        p5 = world.admin.port(world.net_a, "h2", ["198.51.100.5"])["id"]
        world.admin.report("h2", p5, "ACTIVE")
        took = wait_for(lambda: converged(world, agent), CONVERGE_S, "delta convergence")
        print(f"delta convergence in {took * 1000:.0f} ms")
        assert any(n.ip == "198.51.100.5" for n in agent.held()[100].neigh)
        assert not any(n.ip == "198.51.100.2" for n in agent.held()[100].neigh)
        assert agent.metric("l2pop_agent_relists_total", reason="start") == 1
        assert agent.metric("l2pop_agent_relists_total", reason="gone") == 0

        agent.unplug(world.ports["p1"])
        wait_for(lambda: world.admin.status(world.ports["p1"]) == "DOWN", CONVERGE_S, "p1 DOWN")
    finally:
        agent.stop()


def test_stopping_the_agent_leaves_ports_and_kernel_as_they_are(world: World) -> None:
    agent = h1_agent(world)
    agent.plug(world.ports["p1"])
    wait_for(lambda: world.admin.status(world.ports["p1"]) == "ACTIVE", CONVERGE_S, "ACTIVE")
    wait_for(lambda: converged(world, agent), CONVERGE_S, "convergence")
    before = agent.dataplane.read()
    agent.stop()
    assert agent.dataplane.read() == before
    assert world.admin.status(world.ports["p1"]) == "ACTIVE"


def test_a_restarted_agent_reports_an_active_port_without_tap_down(world: World) -> None:
    agent = h1_agent(world)
    agent.plug(world.ports["p1"])
    wait_for(lambda: world.admin.status(world.ports["p1"]) == "ACTIVE", CONVERGE_S, "ACTIVE")
    agent.stop()
    kernel = agent.kernel
    kernel.delete_link(tap_name(world.ports["p1"]))  # the VM went away while no agent ran
    config = agent_config("h1", "192.0.2.1", [world.server.url], world.admin.tokens["h1"])
    with running_agent(config, kernel) as again:
        wait_for(lambda: world.admin.status(world.ports["p1"]) == "DOWN", CONVERGE_S, "DOWN")
        wait_for(lambda: converged(world, again), CONVERGE_S, "convergence")


def test_fail_static_while_the_server_is_down_then_catch_up(world: World) -> None:
    agent = h1_agent(world, resync_interval=0.2)
    try:
        wait_for(lambda: converged(world, agent), CONVERGE_S, "convergence")
        before = agent.dataplane.read()
        world.server.stop()
        wait_for(
            lambda: agent.metric("l2pop_agent_server_connected") == 0, CONVERGE_S, "disconnect"
        )
        # A stream the stopping server ended may have been reopened against it in its
        # last moments; once it is down, no reconnect succeeds. Several drift repairs
        # and reconnect attempts later, nothing changed.
        down = agent.metric("l2pop_agent_watch_reconnects_total")
        wait_for(
            lambda: (
                agent.metric("l2pop_agent_watch_reconnects_total") == down
                and agent.metric("l2pop_agent_reconcile_seconds_count", kind="full") >= 4
            ),
            CONVERGE_S,
            "drift repairs while down",
        )
        assert agent.dataplane.read() == before
        assert agent.alive()
        world.server.start()
        p6 = world.admin.port(world.net_a, "h3", ["198.51.100.6"])["id"]
        world.admin.report("h3", p6, "ACTIVE")
        took = wait_for(lambda: converged(world, agent), CONVERGE_S, "catch up")
        print(f"caught up {took * 1000:.0f} ms after the change")
        assert any(n.ip == "198.51.100.6" for n in agent.held()[100].neigh)
        assert agent.metric("l2pop_agent_watch_reconnects_total") >= down + 1
        # The revision was still retained: resumed, not listed again.
        assert agent.metric("l2pop_agent_relists_total", reason="gone") == 0
    finally:
        agent.stop()


def _compact_all(db: Path) -> None:
    """What the server's compaction does after 10,000 more revisions, done at once."""
    with sqlite3.connect(db) as conn:
        revision = conn.execute("SELECT value FROM meta WHERE name = 'revision'").fetchone()[0]
        conn.execute("DELETE FROM changes")
        conn.execute("UPDATE meta SET value = ? WHERE name = 'compacted'", (revision,))


def test_a_compacted_revision_makes_the_agent_list_again(world: World) -> None:
    agent = h1_agent(world)
    try:
        wait_for(lambda: converged(world, agent), CONVERGE_S, "convergence")
        world.server.stop()
        # A change the agent misses (the server runs elsewhere for a moment), then the log
        # is compacted past the agent's revision.
        home = world.server.port
        world.server.port = free_port()
        world.server.start()
        world.admin.report("h3", world.ports["p3"], "DOWN")
        world.server.stop()
        _compact_all(world.server.db)
        world.server.port = home
        world.server.start()
        wait_for(
            lambda: agent.metric("l2pop_agent_relists_total", reason="gone") >= 1,
            CONVERGE_S * 2,
            "relist after 410",
        )
        wait_for(lambda: converged(world, agent), CONVERGE_S, "convergence after relist")
        assert agent.held()[100].flood == {"192.0.2.2"}
    finally:
        agent.stop()


def test_the_agent_fails_over_to_the_next_url_and_resumes_the_watch(
    world: World, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    spare_port = free_port()
    spare = f"http://127.0.0.1:{spare_port}"
    agent = h1_agent(world, [dead, world.server.url, spare])
    try:
        wait_for(lambda: converged(world, agent), CONVERGE_S, "convergence via the 2nd URL")
        # The server moves to the third URL (same database): the watch resumes there.
        world.server.stop()
        world.server.port = spare_port
        world.server.start()
        world.admin.report("h2", world.ports["p2"], "DOWN")
        took = wait_for(lambda: converged(world, agent), CONVERGE_S * 2, "failover")
        print(f"failed over and converged {took * 1000:.0f} ms after the change")
        assert agent.held()[100].flood == {"192.0.2.3"}
        assert agent.metric("l2pop_agent_relists_total", reason="start") == 1
        assert (
            sum(
                agent.metric("l2pop_agent_relists_total", reason=r)
                for r in ("gone", "rejected", "bad_line", "bad_delta")
            )
            == 0
        ), "a retained revision is resumed, never listed again"
    finally:
        agent.stop()


def test_an_agent_started_while_no_server_answers_keeps_the_kernel(world: World) -> None:
    first = h1_agent(world)
    wait_for(lambda: converged(world, first), CONVERGE_S, "convergence")
    first.stop()
    programmed = first.dataplane.read()
    world.server.stop()
    again = AgentThread(replace(first.config, resync_interval=0.1), first.kernel)
    try:
        time.sleep(1.0)  # ten resync periods and many list attempts, all failing
        assert again.alive()
        assert again.dataplane.read() == programmed, "nothing listed: nothing touched"
        world.server.start()
        wait_for(lambda: converged(world, again), CONVERGE_S * 2, "convergence once it is up")
    finally:
        again.stop()


def test_a_port_record_arriving_for_a_plugged_tap_is_reported_active(world: World) -> None:
    unbound = world.admin.port(world.net_a, "", ["198.51.100.7"])["id"]
    agent = h1_agent(world)
    try:
        agent.plug(unbound)  # the tap exists before the port is bound here
        wait_for(lambda: converged(world, agent), CONVERGE_S, "convergence")
        assert world.admin.status(unbound) == "DOWN"
        world.admin.update_port(unbound, **{"binding:host_id": "h1"})
        wait_for(lambda: world.admin.status(unbound) == "ACTIVE", CONVERGE_S, "bound -> ACTIVE")
        assert tap_name(unbound) in agent.dataplane.read()[100].taps

        world.admin.update_port(unbound, admin_state_up=False)
        wait_for(lambda: world.admin.status(unbound) == "DOWN", CONVERGE_S, "admin down")
        time_down = world.admin.revision()
        wait_for(lambda: agent.metric("l2pop_agent_last_revision") >= time_down, 5, "seen")
        assert world.admin.status(unbound) == "DOWN", "no ACTIVE report for an admin-down port"
        world.admin.update_port(unbound, admin_state_up=True)
        wait_for(lambda: world.admin.status(unbound) == "ACTIVE", CONVERGE_S, "admin up")
    finally:
        agent.stop()


def test_a_rotated_token_is_picked_up_from_the_token_file(
    world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token_file = tmp_path / "h1.token"
    token_file.write_text(world.admin.tokens["h1"] + "\n")
    agent = h1_agent(world, token_file=token_file)
    try:
        wait_for(lambda: converged(world, agent), CONVERGE_S, "convergence")
        answer = world.admin._call("POST", "/v1/hosts/h1/token")
        token_file.write_text(str(answer["token"]) + "\n")
        world.admin.report("h2", world.ports["p2"], "DOWN")
        took = wait_for(lambda: converged(world, agent), CONVERGE_S, "convergence, new token")
        print(f"converged with the new token {took * 1000:.0f} ms after the change")
        assert "using the new token" in caplog.text
    finally:
        agent.stop()


def test_missed_changes_are_replayed_in_batches_on_resume(world: World) -> None:
    agent = h1_agent(world)
    try:
        wait_for(lambda: converged(world, agent), CONVERGE_S, "convergence")
        world.server.stop()
        home = world.server.port
        world.server.port = free_port()  # the agent cannot reach it while changes happen
        world.server.start()
        peers = [
            world.admin.port(world.net_a, "h2", [f"198.51.100.{i}"])["id"] for i in range(10, 70)
        ]
        for port_id in peers:
            world.admin.report("h2", port_id, "ACTIVE")
        for port_id in peers[::2]:
            world.admin.report("h2", port_id, "DOWN")
        missed = 2 * len(peers) + len(peers) // 2
        world.server.stop()
        world.server.port = home
        deltas_before = agent.metric("l2pop_agent_reconcile_seconds_count", kind="delta")
        world.server.start()
        took = wait_for(lambda: converged(world, agent), CONVERGE_S, "catch up")
        passes = agent.metric("l2pop_agent_reconcile_seconds_count", kind="delta") - deltas_before
        print(f"{missed} missed revisions replayed: converged {took * 1000:.0f} ms after the "
              f"server returned, in {passes:.0f} reconcile passes")  # fmt: skip
        assert passes < missed / 10, "lines of one read are reconciled together"
        assert agent.metric("l2pop_agent_relists_total", reason="gone") == 0
    finally:
        agent.stop()
