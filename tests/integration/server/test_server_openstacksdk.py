"""openstacksdk, unmodified, drives a real server exactly as DESIGN.md §5 shows."""

from __future__ import annotations

import openstack
import pytest

from harness.servers import ServerProc


def _connect(server: ServerProc) -> openstack.connection.Connection:
    return openstack.connect(
        auth_type="admin_token",
        auth={"endpoint": server.url, "token": server.token},
        network_endpoint_override=f"{server.url}/v2.0/",
        region_name="RegionOne",
    )


def test_openstacksdk_creates_updates_lists_and_deletes(server: ServerProc) -> None:
    conn = _connect(server)
    net = conn.network.create_network(
        name="demo", provider_network_type="vxlan", provider_segmentation_id=100
    )
    assert net.provider_segmentation_id == 100
    assert net.mtu == 1450
    port = conn.network.create_port(
        network_id=net.id, fixed_ips=[{"ip_address": "198.51.100.7"}], binding_host_id="h4"
    )
    assert port.status == "BUILD"
    assert port.mac_address.startswith("fa:16:3e:")
    assert port.fixed_ips == [{"ip_address": "198.51.100.7"}]
    port = conn.network.update_port(port, name="vm-g", binding_host_id="")
    assert (port.name, port.status, port.binding_host_id) == ("vm-g", "DOWN", "")
    assert [p.id for p in conn.network.ports(network_id=net.id)] == [port.id]
    assert list(conn.network.ports(status="ACTIVE")) == []
    conn.network.delete_port(port)
    assert list(conn.network.ports()) == []
    conn.network.delete_network(net)
    assert list(conn.network.networks()) == []


def test_openstacksdk_sees_neutron_errors(server: ServerProc) -> None:
    conn = _connect(server)
    net = conn.network.create_network(name="a", provider_segmentation_id=200)
    with pytest.raises(openstack.exceptions.ConflictException, match="VNI 200"):
        conn.network.create_network(name="b", provider_segmentation_id=200)
    with pytest.raises(openstack.exceptions.ResourceNotFound):
        conn.network.get_port("no-such-port")
    with pytest.raises(openstack.exceptions.BadRequestException, match="subnet"):
        conn.network.create_port(network_id=net.id, fixed_ips=[{"subnet_id": "x"}])


def test_openstacksdk_pages_with_limit_and_marker(server: ServerProc) -> None:
    conn = _connect(server)
    net = conn.network.create_network(name="paged")
    created = {conn.network.create_port(network_id=net.id).id for _ in range(5)}
    listed = [p.id for p in conn.network.ports(limit=2)]
    assert sorted(listed) == sorted(created)
    assert len(listed) == 5
