"""Reconciler behaviour, applied to the fake dataplane: read back equals desired,
the second plan is empty, and correct entries are never deleted."""

from __future__ import annotations

import pytest

from l2pop.agent.reconcile import LocalPort, effective, plan
from l2pop.core.state import Entries, HostState, Neigh, NetworkState, Unicast
from l2pop.dataplane.base import (
    AddNeigh,
    AddUnicast,
    AttachTap,
    DelFlood,
    DelNeigh,
    DelUnicast,
    EnsureNetwork,
    Mode,
    Op,
    RemoveNetwork,
    bridge_name,
    tap_name,
)
from l2pop.dataplane.fake import FakeDataplane, FakeLink

LOCAL = "192.0.2.1"
NET_A = "aaaaaaaa-1111-4111-8111-000000000001"
NET_B = "bbbbbbbb-2222-4222-8222-000000000002"
PORT_A = "cccccccc-3333-4333-8333-000000000003"
MAC1, MAC2, MAC3 = "fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "fa:16:3e:00:00:03"
V2, V3, V4 = "192.0.2.2", "192.0.2.3", "192.0.2.4"


def net(
    vni: int, *, flood: set[str], unicast: set[Unicast], neigh: set[Neigh], mtu: int = 1450
) -> NetworkState:
    return NetworkState(vni, mtu, Entries(frozenset(flood), frozenset(unicast), frozenset(neigh)))


def state_a(mtu: int = 1450) -> HostState:
    return HostState(
        {
            NET_A: net(
                100,
                mtu=mtu,
                flood={V2, V3},
                unicast={Unicast(MAC1, V2), Unicast(MAC2, V3)},
                neigh={Neigh("198.51.100.1", MAC1), Neigh("2001:db8:100::2", MAC2)},
            )
        }
    )


def held(dp: FakeDataplane) -> dict[int, Entries]:
    return {vni: k.entries for vni, k in dp.read().items()}


def wanted(state: HostState, ports: list[LocalPort] | None = None) -> dict[int, Entries]:
    return {n.vni: n.entries for n in effective(state, ports or []).networks.values()}


def converge(dp: FakeDataplane, state: HostState, **kw: object) -> list[Op]:
    ops = plan(state, dp.read(), mode=dp.mode, local_ip=dp.local_ip, **kw)  # type: ignore[arg-type]
    dp.apply(ops)
    return ops


@pytest.fixture(params=[Mode.PROXY, Mode.SUPPRESS])
def dp(request: pytest.FixtureRequest) -> FakeDataplane:
    return FakeDataplane(request.param, LOCAL)


def test_fresh_kernel_converges_and_second_plan_is_empty(dp: FakeDataplane) -> None:
    ops = converge(dp, state_a())
    assert ops[0] == EnsureNetwork(NET_A, 100, 1450)
    assert held(dp) == wanted(state_a())
    assert dp.read()[100].bridge == bridge_name(NET_A)
    assert plan(state_a(), dp.read(), mode=dp.mode, local_ip=LOCAL) == []


def test_restart_on_a_correct_kernel_plans_nothing(dp: FakeDataplane) -> None:
    converge(dp, state_a())
    restarted = FakeDataplane(dp.mode, LOCAL, dp.kernel)
    assert plan(state_a(), restarted.read(), mode=dp.mode, local_ip=LOCAL) == []


def test_one_new_entry_adds_only_that_entry(dp: FakeDataplane) -> None:
    converge(dp, state_a())
    before = state_a().networks[NET_A]
    grown = HostState(
        {
            NET_A: NetworkState(
                100, 1450, before.entries | Entries(neigh=frozenset({Neigh("198.51.100.9", MAC1)}))
            )
        }
    )
    assert converge(dp, grown) == [AddNeigh(100, "198.51.100.9", MAC1)]


def test_migrated_mac_is_rewritten_in_place_without_a_delete(dp: FakeDataplane) -> None:
    converge(dp, state_a())
    moved = state_a().networks[NET_A]
    entries = Entries(moved.flood, frozenset({Unicast(MAC1, V4), Unicast(MAC2, V3)}), moved.neigh)
    target = HostState({NET_A: NetworkState(100, 1450, entries)})
    assert converge(dp, target) == [AddUnicast(100, MAC1, V4)]
    assert held(dp) == wanted(target)


def test_neighbour_with_a_new_mac_is_replaced_not_deleted(dp: FakeDataplane) -> None:
    converge(dp, state_a())
    old = state_a().networks[NET_A]
    neigh = frozenset({Neigh("198.51.100.1", MAC3), Neigh("2001:db8:100::2", MAC2)})
    target = HostState({NET_A: NetworkState(100, 1450, Entries(old.flood, old.unicast, neigh))})
    assert converge(dp, target) == [AddNeigh(100, "198.51.100.1", MAC3)]
    assert held(dp) == wanted(target)


def test_entries_no_longer_wanted_are_deleted(dp: FakeDataplane) -> None:
    converge(dp, state_a())
    target = HostState({NET_A: net(100, flood={V2}, unicast={Unicast(MAC1, V2)}, neigh=set())})
    ops = converge(dp, target)
    assert set(ops) == {
        DelFlood(100, V3),
        DelUnicast(100, MAC2, V3),
        DelNeigh(100, "198.51.100.1", MAC1),
        DelNeigh(100, "2001:db8:100::2", MAC2),
    }
    assert held(dp) == wanted(target)


def test_ip_wanted_with_two_macs_programs_neither(dp: FakeDataplane) -> None:
    vrrp = "198.51.100.50"
    target = HostState(
        {
            NET_A: net(
                100,
                flood={V2, V3},
                unicast={Unicast(MAC1, V2), Unicast(MAC2, V3)},
                neigh={Neigh(vrrp, MAC1), Neigh(vrrp, MAC2)},
            )
        }
    )
    converge(dp, target)
    assert held(dp)[100].neigh == frozenset()
    assert held(dp)[100].unicast == {Unicast(MAC1, V2), Unicast(MAC2, V3)}


def test_mac_wanted_behind_two_vteps_programs_neither_and_drops_the_held_one(
    dp: FakeDataplane,
) -> None:
    converge(dp, state_a())
    old = state_a().networks[NET_A]
    both = old.unicast | {Unicast(MAC1, V4)}
    target = HostState({NET_A: NetworkState(100, 1450, Entries(old.flood, both, old.neigh))})
    ops = converge(dp, target)
    assert ops == [DelUnicast(100, MAC1, V2)]
    assert held(dp)[100].unicast == {Unicast(MAC2, V3)}


def test_plan_is_deterministic_whatever_the_set_order(dp: FakeDataplane) -> None:
    first = plan(state_a(), {}, mode=dp.mode)
    again = plan(HostState(dict(state_a().networks)), {}, mode=dp.mode)
    assert first == again


def test_no_unicast_for_macs_of_own_ports(dp: FakeDataplane) -> None:
    mine = [LocalPort(PORT_A, NET_A, frozenset({MAC1}))]
    converge(dp, state_a(), ports=mine)
    assert held(dp)[100].unicast == {Unicast(MAC2, V3)}
    assert held(dp) == wanted(state_a(), mine)


def test_network_that_left_the_host_is_removed_and_foreign_devices_stay(dp: FakeDataplane) -> None:
    dp.kernel.add_link(FakeLink("vxlan0", "vxlan", vni=7))
    dp.kernel.add_link(FakeLink("br-foreign", "bridge"))
    both = HostState(
        {**state_a().networks, NET_B: net(200, flood={V2}, unicast=set(), neigh=set())}
    )
    converge(dp, both)
    assert set(dp.read()) == {100, 200}
    ops = converge(dp, state_a())
    assert ops == [RemoveNetwork(200, bridge_name(NET_B))]
    assert set(dp.read()) == {100}
    assert {"vxlan0", "br-foreign"} <= set(dp.kernel.links)
    assert bridge_name(NET_B) not in dp.kernel.links


def test_present_tap_of_a_bound_port_is_attached_once(dp: FakeDataplane) -> None:
    tap = tap_name(PORT_A)
    dp.kernel.add_tap(tap)
    dp.kernel.add_tap(tap_name("dddddddd-not-ours"))
    ports = [LocalPort(PORT_A, NET_A, frozenset({"fa:16:3e:00:00:aa"}))]
    ops = converge(dp, state_a(), ports=ports, taps=dp.taps())
    assert ops[-1] == AttachTap(tap, NET_A, 1450)
    assert sum(isinstance(op, AttachTap) for op in ops) == 1
    assert dp.kernel.links[tap].master == bridge_name(NET_A)
    assert dp.read()[100].taps == {tap}
    assert plan(state_a(), dp.read(), mode=dp.mode, ports=ports, taps=dp.taps()) == []


def test_absent_tap_is_not_attached(dp: FakeDataplane) -> None:
    ports = [LocalPort(PORT_A, NET_A, frozenset())]
    ops = converge(dp, state_a(), ports=ports, taps=dp.taps())
    assert not any(isinstance(op, AttachTap) for op in ops)


def test_mtu_change_repairs_devices_and_taps_without_touching_entries(dp: FakeDataplane) -> None:
    dp.kernel.add_tap(tap_name(PORT_A))
    ports = [LocalPort(PORT_A, NET_A, frozenset())]
    converge(dp, state_a(), ports=ports, taps=dp.taps())
    ops = converge(dp, state_a(mtu=1400), ports=ports, taps=dp.taps())
    assert ops[0] == EnsureNetwork(NET_A, 100, 1400)
    assert not any(isinstance(op, DelUnicast | DelFlood | DelNeigh) for op in ops)
    assert ops[-1] == AttachTap(tap_name(PORT_A), NET_A, 1400)
    assert dp.kernel.links[tap_name(PORT_A)].mtu == 1400
    assert plan(state_a(1400), dp.read(), mode=dp.mode, ports=ports, taps=dp.taps()) == []


def test_entry_deleted_by_hand_is_restored_alone(dp: FakeDataplane) -> None:
    converge(dp, state_a())
    del dp.kernel.remotes["vxlan-100"][MAC2]
    assert converge(dp, state_a()) == [AddUnicast(100, MAC2, V3)]
    assert held(dp) == wanted(state_a())


def test_device_bounced_by_hand_is_repaired(dp: FakeDataplane) -> None:
    converge(dp, state_a())
    dp.kernel.links["vxlan-100"].up = False
    ops = converge(dp, state_a())
    assert ops[0] == EnsureNetwork(NET_A, 100, 1450)
    assert not any(isinstance(op, DelUnicast | DelFlood | DelNeigh) for op in ops)
    assert plan(state_a(), dp.read(), mode=dp.mode) == []


def test_switching_mode_recreates_the_network() -> None:
    proxy = FakeDataplane(Mode.PROXY, LOCAL)
    converge(proxy, state_a())
    suppress = FakeDataplane(Mode.SUPPRESS, LOCAL, proxy.kernel)
    ops = converge(suppress, state_a())
    assert ops[:2] == [RemoveNetwork(100, bridge_name(NET_A)), EnsureNetwork(NET_A, 100, 1450)]
    assert held(suppress) == wanted(state_a())
    assert not suppress.read()[100].proxy


def test_other_tunnel_ip_recreates_the_vxlan_device(dp: FakeDataplane) -> None:
    converge(dp, state_a())
    moved = FakeDataplane(dp.mode, "192.0.2.9", dp.kernel)
    ops = converge(moved, state_a())
    assert isinstance(ops[0], RemoveNetwork)
    assert moved.read()[100].local_ip == "192.0.2.9"


def test_half_unicast_entries_are_completed_or_removed() -> None:
    dp = FakeDataplane(Mode.SUPPRESS, LOCAL)
    converge(dp, state_a())
    del dp.kernel.bridge_fdb["vxlan-100"][MAC1]  # self remote left without its master twin
    dp.kernel.bridge_fdb["vxlan-100"][MAC3] = "static"  # master entry without a remote
    ops = converge(dp, state_a())
    assert ops == [DelUnicast(100, MAC3, ""), AddUnicast(100, MAC1, V2)]
    assert dp.read()[100].partial == frozenset()
    assert held(dp) == wanted(state_a())


def test_kernel_own_and_learned_master_entries_are_left_alone(dp: FakeDataplane) -> None:
    converge(dp, state_a())
    fdb = dp.kernel.bridge_fdb["vxlan-100"]
    fdb["fa:16:3e:00:00:77"] = "dynamic"
    own = dict(fdb)
    converge(dp, HostState({NET_A: net(100, flood=set(), unicast=set(), neigh=set())}))
    assert {m: k for m, k in dp.kernel.bridge_fdb["vxlan-100"].items() if k != "static"} == {
        m: k for m, k in own.items() if k != "static"
    }
