"""The lab's default control plane is HTTPS with client certificates: agents reach the
server over the underlay with their host's certificate, VMs ping with no ARP in VXLAN,
and an agent holding another host's certificate is refused until it gets its own."""

from __future__ import annotations

import shutil
import time

import pytest

from l2pop.dataplane.base import bridge_name, vxlan_name
from l2pop.lab.controlplane import ControlPlane
from l2pop.lab.measure import measure_ping
from l2pop.lab.procs import wait_until
from l2pop.pki import issue

from .conftest import MakeFabric

pytestmark = pytest.mark.netns

VNI = 100
REFUSED_FOR_S = 2.0


def test_agents_over_https_with_their_own_certificates_only(make_fabric: MakeFabric) -> None:
    fabric = make_fabric(2)
    cp = ControlPlane.start(fabric)
    try:
        assert cp.inner_url.startswith("https://")
        assert cp.pki is not None
        net = cp.create_network("tls", VNI)
        cp.start_agent("host1")
        a = cp.boot_vm("a", "host1", net, ipv4="198.51.100.1")
        # host2's agent starts with its own token but host1's certificate.
        cp.register_host("host2")
        for suffix in (".pem", ".key"):
            shutil.copy(cp.pki / f"host1{suffix}", cp.pki / f"host2{suffix}")
        cp.start_agent("host2")
        port = cp.create_port(str(net["id"]), "host2", ["198.51.100.2"], name="b")
        fabric.add_vm(
            "b", "host2", port_id=port["id"], mac=port["mac_address"], ipv4="198.51.100.2"
        )
        log = fabric.workdir / "agent-host2.log"
        # Until the agent has been refused at least once (its start is slow on a busy
        # machine), then a little longer: the port never goes ACTIVE meanwhile.
        wait_until(lambda: "403" in log.read_text(), timeout=30, what="the agent refused")
        time.sleep(REFUSED_FOR_S)
        assert cp.port_statuses(str(net["id"]))[port["id"]] == "BUILD", log.read_text()[-2000:]
        # Its own certificate: the agent (restarted, as a rotation needs) gets in.
        cp.stop_agent("host2")
        issue(cp.pki, "host2", ["host2"], server=False)
        cp.start_agent("host2")
        cp.wait_ports(str(net["id"]), [port["id"]], "ACTIVE", timeout=15)
        b = fabric.vm("b")
        fabric.wait_vm_link_up("a")
        fabric.wait_vm_link_up("b")
        result = measure_ping(
            fabric, a, b, ipv6=False, name="tls", vxlan=vxlan_name(VNI),
            bridge=bridge_name(str(net["id"])),
        )  # fmt: skip
        assert result.ping_ok, result
        assert result.arp_broadcasts == 0
        assert result.hosts_reached_by_pinger == ["host2"]
        server_log = (fabric.workdir / "server.log").read_text()
        assert "serving at revision" in server_log
        assert "https://" in server_log
    finally:
        cp.close()
