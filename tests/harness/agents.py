"""Agents for tests: an admin client that builds a small world on a real server
(:mod:`harness.servers`), and agents running in-process (own thread and event loop) on
the fake dataplane, so a test can read back exactly what each agent programmed."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import httpx

from harness.servers import ServerProc
from l2pop.agent.agent import Agent
from l2pop.agent.config import AgentConfig, BackoffPolicy
from l2pop.agent.reconcile import LocalPort, effective
from l2pop.core.state import Entries
from l2pop.core.wire import decode_state
from l2pop.dataplane.base import Mode, tap_name
from l2pop.dataplane.fake import FakeDataplane, FakeKernel

STARTUP_S = 20.0
JSON = dict[str, Any]
FAST_BACKOFF = BackoffPolicy(initial=0.05, factor=2.0, maximum=0.5, jitter=0.5)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll until ``predicate`` holds; the seconds it took. AssertionError on timeout."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


class Admin:
    """The admin side of the API (what Nova/Neutron users would do)."""

    def __init__(self, server: ServerProc) -> None:
        self.server = server
        self.tokens: dict[str, str] = {}

    def _call(self, method: str, path: str, body: JSON | None = None, token: str = "") -> JSON:
        headers = {"X-Auth-Token": token or self.server.token}
        response = httpx.request(
            method, self.server.url + path, json=body, headers=headers, timeout=10
        )
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        return response.json() if response.content else {}

    def network(self, name: str, vni: int, mtu: int = 1450) -> str:
        body = {"name": name, "provider:network_type": "vxlan", "provider:segmentation_id": vni}
        net = self._call("POST", "/v2.0/networks", {"network": {**body, "mtu": mtu}})
        return str(net["network"]["id"])

    def host(self, name: str, tunnel_ip: str) -> str:
        answer = self._call("POST", "/v1/hosts", {"name": name, "tunnel_ip": tunnel_ip})
        self.tokens[name] = str(answer["token"])
        return self.tokens[name]

    def port(self, net: str, host: str, ips: Sequence[str], mac: str | None = None) -> JSON:
        body: JSON = {"network_id": net, "fixed_ips": [{"ip_address": ip} for ip in ips]}
        if host:
            body["binding:host_id"] = host
        if mac:
            body["mac_address"] = mac
        return self._call("POST", "/v2.0/ports", {"port": body})["port"]  # type: ignore[no-any-return]

    def update_port(self, port_id: str, **fields: Any) -> JSON:
        body = {"port": fields}
        return self._call("PUT", f"/v2.0/ports/{port_id}", body)["port"]  # type: ignore[no-any-return]

    def delete_port(self, port_id: str) -> None:
        self._call("DELETE", f"/v2.0/ports/{port_id}")

    def report(self, host: str, port_id: str, status: str) -> None:
        """A status report as ``host``'s agent would send it (for hosts without an agent)."""
        path = f"/v1/hosts/{host}/ports/{port_id}/status"
        self._call("PUT", path, {"status": status}, token=self.tokens[host])

    def status(self, port_id: str) -> str:
        return str(self._call("GET", f"/v2.0/ports/{port_id}")["port"]["status"])

    def revision(self) -> int:
        return int(self._call("GET", "/healthz")["revision"])

    def wanted(self, host: str) -> dict[int, Entries]:
        """What ``host``'s kernel should hold now, per VNI (the reconciler's view of /state)."""
        _, state, ports = decode_state(self._call("GET", f"/v1/hosts/{host}/state"))
        local = [LocalPort.from_host_port(p) for p in ports]
        return {n.vni: n.entries for n in effective(state, local).networks.values()}


class AgentThread:
    """An :class:`Agent` on a :class:`FakeDataplane`, run in its own thread and loop."""

    def __init__(self, config: AgentConfig, kernel: FakeKernel | None = None) -> None:
        self.config = config
        self.dataplane = FakeDataplane(config.mode, config.tunnel_ip, kernel)
        self.agent = Agent(config, self.dataplane)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"agent-{config.host}")
        self._thread.start()

    def _run(self) -> None:
        try:
            asyncio.run(self.agent.run())
        except BaseException as exc:  # surfaced by stop()
            self.error = exc

    @property
    def kernel(self) -> FakeKernel:
        return self.dataplane.kernel

    def held(self) -> dict[int, Entries]:
        """What the fake kernel holds, per VNI."""
        return {vni: k.entries for vni, k in self.dataplane.read().items()}

    def plug(self, port_id: str) -> None:
        """What Nova does: create the VM's tap in the host's namespace."""
        self.kernel.add_tap(tap_name(port_id))

    def unplug(self, port_id: str) -> None:
        self.kernel.delete_link(tap_name(port_id))

    def metric(self, name: str, **labels: str) -> float:
        value = self.agent.metrics.registry.get_sample_value(name, labels or None)
        return 0.0 if value is None else value

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        # Wait until run() has set up its loop, or the stop request is lost.
        wait_for(lambda: self.agent._loop is not None, 10, "agent loop")
        self.agent.request_stop()
        self._thread.join(timeout=15)
        assert not self._thread.is_alive(), "agent did not stop"
        if self.error is not None:
            raise self.error


def agent_config(
    host: str, tunnel_ip: str, servers: Sequence[str], token: str, **overrides: Any
) -> AgentConfig:
    base = AgentConfig(
        host=host,
        tunnel_ip=tunnel_ip,
        servers=tuple(servers),
        token=token,
        mode=Mode.PROXY,
        resync_interval=60.0,
        backoff=FAST_BACKOFF,
        watch_idle_timeout=8.0,
        request_timeout=2.0,
        tap_poll=0.2,
    )
    return replace(base, **overrides)


@contextlib.contextmanager
def running_agent(config: AgentConfig, kernel: FakeKernel | None = None) -> Iterator[AgentThread]:
    agent = AgentThread(config, kernel)
    try:
        yield agent
    finally:
        agent.stop()
