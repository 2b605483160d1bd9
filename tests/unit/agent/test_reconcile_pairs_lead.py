from __future__ import annotations

from l2pop.agent.reconcile import LocalPort, programmable
from l2pop.core import Entries, NetworkState, PortStatus, Unicast
from l2pop.core.wire import HostPort

VMAC = "00:00:5e:00:01:01"


def test_a_peer_publishing_our_vrrp_mac_is_not_programmed_here() -> None:
    local = HostPort(
        "p1", "n1", "fa:16:3e:00:00:01", (), PortStatus.ACTIVE, True, pair_macs=frozenset({VMAC})
    )
    peer = Unicast(VMAC, "192.0.2.2")
    other = Unicast("fa:16:3e:00:00:02", "192.0.2.2")
    state = NetworkState(100, 1450, Entries(frozenset({"192.0.2.2"}), frozenset({peer, other})))
    macs = LocalPort.from_host_port(local).macs
    assert programmable(state, macs).unicast == {other}
