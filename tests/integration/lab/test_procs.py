"""Managed processes inside namespaces, readiness polling, and the root-namespace forwarder."""

from __future__ import annotations

import signal
import sys
import time

import httpx
import pytest

from l2pop.lab import Fabric, LabError, wait_http_ok
from l2pop.lab.shell import run

pytestmark = pytest.mark.netns

HTTP_PORT = 9696


def test_server_in_control_namespace_is_reached_by_agents_over_underlay_and_from_root(
    fabric3: Fabric,
) -> None:
    control = fabric3.control
    assert control is not None
    server = fabric3.start(
        "http",
        control.netns,
        [sys.executable, "-m", "http.server", "--bind", control.ipv4, str(HTTP_PORT)],
    )
    local = fabric3.forward(control.netns, control.ipv4, HTTP_PORT)
    wait_http_ok(f"http://{local}/", timeout=10, process=server)
    assert httpx.get(f"http://{local}/").status_code == 200
    # An agent on host2 reaches the same server over the underlay.
    probe = (
        f"import urllib.request as u; print(u.urlopen('http://{control.ipv4}:{HTTP_PORT}/').status)"
    )
    done = run([sys.executable, "-c", probe], netns=fabric3.host("host2").netns)
    assert done.stdout.strip() == "200"
    assert "GET / HTTP" in server.log_tail()


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(fabric3: Fabric) -> None:
    stubborn = fabric3.start(
        "stubborn", fabric3.host("host1").netns, ["sh", "-c", "trap '' TERM; echo ready; sleep 30"]
    )
    stubborn.wait_log("ready", timeout=5)
    started = time.monotonic()
    assert stubborn.stop(timeout=0.3) == -signal.SIGKILL
    assert time.monotonic() - started < 3


def test_a_polite_process_stops_on_sigterm_and_kill_is_immediate(fabric3: Fabric) -> None:
    polite = fabric3.start("polite", fabric3.host("host1").netns, ["sleep", "30"])
    assert polite.stop() == -signal.SIGTERM
    victim = fabric3.start("victim", fabric3.host("host1").netns, ["sleep", "30"])
    assert victim.kill() == -signal.SIGKILL
    assert not victim.running()


def test_waiting_for_a_process_that_died_fails_fast_with_its_log(fabric3: Fabric) -> None:
    dead = fabric3.start("dead", fabric3.host("host1").netns, ["sh", "-c", "echo oops; exit 3"])
    started = time.monotonic()
    with pytest.raises(LabError, match="exited with 3") as caught:
        wait_http_ok("http://127.0.0.1:9/", timeout=10, process=dead)
    assert "oops" in str(caught.value)
    assert time.monotonic() - started < 5


def test_processes_run_inside_their_namespace(fabric3: Fabric) -> None:
    host = fabric3.host("host2")
    shower = fabric3.start("addr", host.netns, ["sh", "-c", "ip -br addr; sleep 30"])
    shower.wait_log(host.ipv4, timeout=5)
    assert fabric3.host("host1").ipv4 not in shower.log_tail()
