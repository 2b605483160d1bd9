"""The real l2pop processes on a fabric: the server in the control namespace, one agent per
host, and an admin client (through the root-namespace forwarder) speaking the DESIGN.md §5 API.

TLS by default, as a deployment should run: a fresh CA per run (``l2pop.pki``),
the server on HTTPS with ``--client-ca``, every agent with its host's client
certificate. ``tls=False`` runs the plain-HTTP server instead.
"""

from __future__ import annotations

import shutil
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from l2pop.lab.fabric import Fabric
from l2pop.lab.procs import ManagedProcess, wait_http_ok, wait_until
from l2pop.lab.shell import LabError
from l2pop.lab.topology import LabVM
from l2pop.secretfile import write_secret
from l2pop.tlsclient import ClientTls, httpx_verify

__all__ = ["AGENT_PORT", "SERVER_PORT", "ControlPlane", "l2pop_command", "port_addresses"]

SERVER_PORT = 9696
# Each agent's /metrics, /held and /kernel (explain, the fabric view), on its underlay address.
AGENT_PORT = 9100
SERVER_READY_TIMEOUT_S = 30.0
JSON = dict[str, Any]


def l2pop_command() -> list[str]:
    """How to run ``l2pop``: the script beside this Python, else the one on PATH."""
    beside = Path(sys.executable).parent / "l2pop"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("l2pop")
    return [found] if found else [sys.executable, "-c", "from l2pop.cli import main; main()"]


@dataclass
class ControlPlane:
    """``ControlPlane.start(fabric)`` runs ``l2pop server`` in the control namespace,
    listening on its underlay address; agents reach it over the underlay (``inner_url``),
    this process through a forwarder (``url``)."""

    fabric: Fabric
    server: ManagedProcess
    url: str
    inner_url: str
    admin_token: str
    client: httpx.Client
    agents: dict[str, ManagedProcess] = field(default_factory=dict)
    host_tokens: dict[str, Path] = field(default_factory=dict)
    # The agent program; ``l2pop agent`` unless a developer points it elsewhere.
    agent_command: list[str] = field(default_factory=lambda: [*l2pop_command(), "agent"])
    # The run's CA directory (ca.pem, server.pem, <host>.pem); None: plain HTTP.
    pki: Path | None = None

    @classmethod
    def start(
        cls,
        fabric: Fabric,
        *,
        server_args: Sequence[str] = (),
        tls: bool = True,
        command: Sequence[str] | None = None,
        name: str = "server",
    ) -> ControlPlane:
        """``command``: the ``l2pop`` to run (another release, in the upgrade tests)."""
        from l2pop.server.auth import new_token

        control = fabric.control
        if control is None:
            raise LabError("the fabric has no control namespace")
        token = new_token()
        token_file = fabric.workdir / "admin.token"
        write_secret(token_file, token)
        argv = [*(command or l2pop_command()), "server", "--db", str(fabric.workdir / "l2pop.db")]
        argv += ["--listen", f"{control.ipv4}:{SERVER_PORT}", "--admin-token-file", str(token_file)]
        pki = _make_pki(fabric.workdir / "pki", control.ipv4) if tls else None
        if pki is not None:
            argv += ["--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server.key")]
            argv += ["--client-ca", str(pki / "ca.pem")]
        scheme = "https" if tls else "http"
        server = fabric.start(name, control.netns, [*argv, *server_args])
        url = f"{scheme}://" + fabric.forward(control.netns, control.ipv4, SERVER_PORT)
        verify = httpx_verify(ClientTls(pki / "ca.pem") if pki else None)
        ready = SERVER_READY_TIMEOUT_S
        wait_http_ok(url + "/healthz", timeout=ready, process=server, verify=verify)
        client = httpx.Client(
            base_url=url, headers={"X-Auth-Token": token}, timeout=10.0, verify=verify
        )
        inner = f"{scheme}://{control.ipv4}:{SERVER_PORT}"
        return cls(fabric, server, url, inner, token, client, pki=pki)

    @property
    def ca_file(self) -> Path | None:
        return None if self.pki is None else self.pki / "ca.pem"

    def close(self) -> None:
        self.client.close()

    # --- admin API ------------------------------------------------------------------

    def _call(self, method: str, path: str, body: JSON | None = None) -> JSON:
        response = self.client.request(method, path, json=body)
        if response.status_code >= 400:
            raise LabError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else {}

    def register_host(self, host: str, *, ipv6_underlay: bool = False) -> Path:
        """``POST /v1/hosts``; the host's token goes to a 0600 file for its agent."""
        tunnel_ip = self.fabric.host(host).tunnel_ip(ipv6_underlay)
        answer = self._call("POST", "/v1/hosts", {"name": host, "tunnel_ip": tunnel_ip})
        path = self.fabric.workdir / f"{host}.token"
        write_secret(path, str(answer["token"]))
        self.host_tokens[host] = path
        if self.pki is not None:
            from l2pop.pki import issue

            issue(self.pki, host, [host], server=False)
        return path

    def new_host_token(self, host: str) -> str:
        """``POST /v1/hosts/{host}/token``: a new token (the old one stops working); it is
        returned, not written where the host's agent reads it."""
        return str(self._call("POST", f"/v1/hosts/{host}/token")["token"])

    def create_network(self, name: str, vni: int, mtu: int = 1450) -> JSON:
        body = {
            "name": name,
            "provider:network_type": "vxlan",
            "provider:segmentation_id": vni,
            "mtu": mtu,
        }
        network: JSON = self._call("POST", "/v2.0/networks", {"network": body})["network"]
        return network

    def create_subnet(
        self, network_id: str, cidr: str, pool: tuple[str, str] | None = None, name: str = ""
    ) -> JSON:
        """A subnet of ``network_id`` (its pool: ``pool`` or Neutron's default)."""
        body: JSON = {"network_id": network_id, "cidr": cidr, "name": name}
        body["ip_version"] = 6 if ":" in cidr else 4
        if pool is not None:
            body["allocation_pools"] = [{"start": pool[0], "end": pool[1]}]
        subnet: JSON = self._call("POST", "/v2.0/subnets", {"subnet": body})["subnet"]
        return subnet

    def create_port(
        self, network_id: str, host: str, ips: Sequence[str] | None, name: str = ""
    ) -> JSON:
        """A port on ``network_id``, bound to ``host`` unless ``host`` is empty (``DOWN``);
        ``ips`` None: the server picks one address per subnet IP version (IPAM)."""
        body: JSON = {"network_id": network_id, "name": name}
        if ips is not None:
            body["fixed_ips"] = [{"ip_address": ip} for ip in ips]
        if host:
            body["binding:host_id"] = host
        port: JSON = self._call("POST", "/v2.0/ports", {"port": body})["port"]
        return port

    def bind_port(self, port_id: str, host: str) -> JSON:
        """Bind a port to a host (``DOWN`` -> ``BUILD``), as Nova does before plugging."""
        body = {"port": {"binding:host_id": host}}
        port: JSON = self._call("PUT", f"/v2.0/ports/{port_id}", body)["port"]
        return port

    def delete_port(self, port_id: str) -> None:
        self._call("DELETE", f"/v2.0/ports/{port_id}")

    def port_statuses(self, network_id: str) -> dict[str, str]:
        ports = self._call("GET", f"/v2.0/ports?network_id={network_id}")["ports"]
        return {str(p["id"]): str(p["status"]) for p in ports}

    # --- agents ---------------------------------------------------------------------

    def start_agent(self, host: str, *, mode: str = "proxy", ipv6_underlay: bool = False) -> None:
        """Run ``l2pop agent`` in the host's namespace (registering the host first if needed)."""
        lab_host = self.fabric.host(host)
        token = self.host_tokens.get(host) or self.register_host(host, ipv6_underlay=ipv6_underlay)
        tunnel_ip = lab_host.tunnel_ip(ipv6_underlay)
        argv = [*self.agent_command, "--host", host]
        argv += ["--tunnel-ip", tunnel_ip, "--server", self.inner_url]
        argv += ["--token-file", str(token), "--mode", mode, "--interface", lab_host.uplink]
        argv += ["--metrics-port", str(AGENT_PORT), "--metrics-addr", tunnel_ip]
        if self.pki is not None:
            pki = self.pki
            argv += ["--ca-file", str(pki / "ca.pem")]
            argv += ["--cert", str(pki / f"{host}.pem"), "--key", str(pki / f"{host}.key")]
        self.agents[host] = self.fabric.start(f"agent-{host}", lab_host.netns, argv)

    def stop_agent(self, host: str) -> None:
        self.agents.pop(host).stop()

    def stop_agents(self) -> None:
        """SIGTERM every agent at once (they leave the kernel as it is), then wait for each."""
        agents = list(self.agents.values())
        self.agents.clear()
        for agent in agents:
            agent.send_signal(signal.SIGTERM)
        for agent in agents:
            agent.stop()

    def boot_vm(
        self,
        name: str,
        host: str,
        network: JSON,
        *,
        ipv4: str | None = None,
        ipv6: str | None = None,
        timeout: float = 20.0,
    ) -> LabVM:
        """Boot a VM as Nova would: a port bound to ``host``, then the tap plugged; returns
        once the agent reported the port ``ACTIVE`` and the VM's link carries frames.
        Without ``ipv4``/``ipv6`` the addresses are the ones IPAM gave the port."""
        ips = [ip for ip in (ipv4, ipv6) if ip]
        port = self.create_port(str(network["id"]), host, ips or None, name=name)
        if not ips:
            ipv4, ipv6 = port_addresses(port)
        vm = self.fabric.add_vm(
            name,
            host,
            port_id=str(port["id"]),
            mac=str(port["mac_address"]),
            ipv4=ipv4,
            ipv6=ipv6,
            mtu=int(network.get("mtu", 1450)),
        )
        self.wait_ports(str(network["id"]), [str(port["id"])], "ACTIVE", timeout)
        self.fabric.wait_vm_link_up(name)
        return vm

    def wait_ports(
        self, network_id: str, port_ids: Sequence[str], status: str, timeout: float
    ) -> None:
        """Until every port in ``port_ids`` has ``status``; fail early if an agent died."""

        def reached() -> bool:
            for agent in self.agents.values():
                agent.check_running()
            statuses = self.port_statuses(network_id)
            return all(statuses.get(p) == status for p in port_ids)

        wait_until(reached, timeout=timeout, what=f"ports {status}", interval=0.1)


def port_addresses(port: JSON) -> tuple[str | None, str | None]:
    """(the first IPv4, the first IPv6) fixed address of a port."""
    ips = [str(item["ip_address"]) for item in port["fixed_ips"]]
    return (
        next((ip for ip in ips if ":" not in ip), None),
        next((ip for ip in ips if ":" in ip), None),
    )


def _make_pki(directory: Path, server_ip: str) -> Path:
    """A CA and the server's certificate for its underlay address and the forwarder's."""
    from l2pop.pki import issue, make_ca

    make_ca(directory, "l2pop lab CA")
    issue(directory, "server", [server_ip, "127.0.0.1", "localhost"], server=True)
    return directory
