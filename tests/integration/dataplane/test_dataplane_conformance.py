"""One conformance suite, two dataplanes: the fake and Linux (in a fresh namespace).

Same expectations for both, in both modes, over an IPv4 and an IPv6 underlay:
read() after apply equals the intended state, applying is idempotent, foreign
devices and entries stay untouched, taps come and go as events.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dataplane_harness import UNDERLAYS, Hands, Underlay, fake_harness, linux_harness

from l2pop.agent.reconcile import LocalPort, effective, plan
from l2pop.core.state import Entries, HostState, Neigh, NetworkState, Unicast
from l2pop.dataplane.base import (
    AddFlood,
    AddUnicast,
    Dataplane,
    DelFlood,
    DelNeigh,
    DelUnicast,
    EnsureNetwork,
    Mode,
    RemoveNetwork,
    TapEvent,
    bridge_name,
    tap_name,
)
from l2pop.errors import DataplaneError

NET_A = "aaaaaaaa-1111-4111-8111-000000000001"
NET_B = "bbbbbbbb-2222-4222-8222-000000000002"
PORT = "cccccccc-3333-4333-8333-000000000003"
MAC1, MAC2, MAC3 = "fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "fa:16:3e:00:00:03"


@pytest.fixture(
    params=[
        pytest.param(("fake", mode, ul), id=f"fake-{mode}-{ul}")
        for mode in Mode
        for ul in UNDERLAYS
    ]
    + [
        pytest.param(("linux", mode, ul), id=f"linux-{mode}-{ul}", marks=pytest.mark.netns)
        for mode in Mode
        for ul in UNDERLAYS
    ]
)
def plane(request: pytest.FixtureRequest) -> Iterator[tuple[Dataplane, Hands, Underlay]]:
    kind, mode, ul = request.param
    harness = fake_harness if kind == "fake" else linux_harness
    with harness(Mode(mode), UNDERLAYS[ul]) as (dp, hands):
        yield dp, hands, UNDERLAYS[ul]


def desired(ul: Underlay, *, moved: bool = False, mtu: int = 1450) -> HostState:
    p1, p2 = ul.peers
    a = NetworkState(
        100,
        mtu,
        Entries(
            frozenset({p1, p2}),
            frozenset({Unicast(MAC1, p2 if moved else p1), Unicast(MAC2, p2)}),
            frozenset(
                {
                    Neigh("198.51.100.1", MAC1),
                    Neigh("2001:db8:100::1", MAC1),
                    Neigh("198.51.100.2", MAC3 if moved else MAC2),
                }
            ),
        ),
    )
    b = NetworkState(200, mtu, Entries(frozenset({p2}), frozenset({Unicast(MAC3, p2)})))
    return HostState({NET_A: a, NET_B: b})


def converge(dp: Dataplane, state: HostState, **kw: object) -> list[object]:
    ops = plan(state, dp.read(), mode=dp.mode, **kw)  # type: ignore[arg-type]
    dp.apply(ops)
    return list(ops)


def entries_of(dp: Dataplane) -> dict[int, Entries]:
    return {vni: k.entries for vni, k in dp.read().items()}


def wanted(state: HostState) -> dict[int, Entries]:
    return {n.vni: n.entries for n in effective(state).networks.values()}


def test_read_after_apply_is_the_intended_state(plane: tuple[Dataplane, Hands, Underlay]) -> None:
    dp, _hands, ul = plane
    assert dp.read() == {}
    converge(dp, desired(ul))
    read = dp.read()
    assert {vni: k.entries for vni, k in read.items()} == wanted(desired(ul))
    a = read[100]
    assert (a.bridge, a.mtu, a.local_ip) == (bridge_name(NET_A), 1450, ul.local)
    assert a.proxy == (dp.mode is Mode.PROXY)
    assert a.sound
    assert a.partial == frozenset()


def test_second_plan_is_empty_and_reapplying_changes_nothing(
    plane: tuple[Dataplane, Hands, Underlay],
) -> None:
    dp, _hands, ul = plane
    ops = plan(desired(ul), dp.read(), mode=dp.mode)
    dp.apply(ops)
    before = dp.read()
    assert plan(desired(ul), before, mode=dp.mode) == []
    dp.apply(ops)  # every op is idempotent: the same batch again is harmless
    assert dp.read() == before


def test_changes_are_applied_in_place(plane: tuple[Dataplane, Hands, Underlay]) -> None:
    dp, _hands, ul = plane
    converge(dp, desired(ul))
    ops = converge(dp, desired(ul, moved=True))
    assert not any(isinstance(op, DelUnicast | DelNeigh) for op in ops)
    assert entries_of(dp) == wanted(desired(ul, moved=True))


def test_entries_and_networks_are_removed(plane: tuple[Dataplane, Hands, Underlay]) -> None:
    dp, hands, ul = plane
    converge(dp, desired(ul))
    only_a = HostState({NET_A: NetworkState(100, 1450, Entries(frozenset({ul.peers[0]})))})
    converge(dp, only_a)
    assert entries_of(dp) == wanted(only_a)
    converge(dp, HostState())
    assert dp.read() == {}
    assert not {bridge_name(NET_A), bridge_name(NET_B), "vxlan-100"} & hands.link_names()


def test_foreign_devices_and_entries_are_left_alone(
    plane: tuple[Dataplane, Hands, Underlay],
) -> None:
    dp, hands, ul = plane
    hands.add_foreign_bridge("brforeign")
    converge(dp, desired(ul))
    hands.add_learned_fdb(100, "fa:16:3e:00:00:77")
    hands.add_reachable_neigh(100, "198.51.100.77", "fa:16:3e:00:00:77")
    foreign = hands.not_ours(100)
    assert {("fdb", "fa:16:3e:00:00:77"), ("neigh", "198.51.100.77")} <= foreign
    assert plan(desired(ul), dp.read(), mode=dp.mode) == []
    empty_a = HostState({NET_A: NetworkState(100, 1450)})
    converge(dp, empty_a)
    assert entries_of(dp) == {100: Entries()}
    assert hands.not_ours(100) == foreign
    converge(dp, HostState())
    assert "brforeign" in hands.link_names()


def test_entry_deleted_by_hand_is_seen_and_restored(
    plane: tuple[Dataplane, Hands, Underlay],
) -> None:
    dp, hands, ul = plane
    converge(dp, desired(ul))
    hands.delete_unicast(100, MAC2, ul.peers[1])
    assert converge(dp, desired(ul)) == [AddUnicast(100, MAC2, ul.peers[1])]
    assert entries_of(dp) == wanted(desired(ul))


def test_deleting_what_is_absent_succeeds(plane: tuple[Dataplane, Hands, Underlay]) -> None:
    dp, _hands, ul = plane
    converge(dp, desired(ul))
    dp.apply(
        [
            DelFlood(100, "192.0.2.99" if not ul.v6 else "2001:db8::99"),
            DelUnicast(100, "fa:16:3e:00:00:99", ul.peers[0]),
            DelNeigh(100, "198.51.100.99", MAC1),
            DelFlood(999, ul.peers[0]),
            RemoveNetwork(999, "brqdoesnotexist"),
        ]
    )
    assert entries_of(dp) == wanted(desired(ul))


def test_adding_to_a_missing_network_fails_naming_the_op(
    plane: tuple[Dataplane, Hands, Underlay],
) -> None:
    dp, _hands, ul = plane
    op = AddFlood(4242, ul.peers[0])
    with pytest.raises(DataplaneError, match="4242"):
        dp.apply([op])


def test_taps_come_as_events_and_attach_without_losing_entries(
    plane: tuple[Dataplane, Hands, Underlay],
) -> None:
    dp, hands, ul = plane
    converge(dp, desired(ul))
    tap = tap_name(PORT)
    dp.wait_tap_events(0)  # drain
    hands.plug_tap(tap)
    assert TapEvent(tap, True) in dp.wait_tap_events(5.0)
    assert tap in dp.taps()
    ports = [LocalPort(PORT, NET_A, frozenset({"fa:16:3e:00:00:aa"}))]
    converge(dp, desired(ul), ports=ports, taps=dp.taps())
    assert dp.read()[100].taps == {tap}
    # A port joining the bridge must not flush the bridge's neighbour table.
    assert entries_of(dp) == wanted(desired(ul))
    assert plan(desired(ul), dp.read(), mode=dp.mode, ports=ports, taps=dp.taps()) == []
    hands.unplug_tap(tap)
    assert TapEvent(tap, False) in dp.wait_tap_events(5.0)
    assert tap not in dp.taps()


def test_no_tap_event_times_out_empty(plane: tuple[Dataplane, Hands, Underlay]) -> None:
    dp, _hands, _ul = plane
    dp.wait_tap_events(0)
    assert dp.wait_tap_events(0.2) == []


def test_mtu_change_is_applied_to_devices_and_taps(
    plane: tuple[Dataplane, Hands, Underlay],
) -> None:
    dp, hands, ul = plane
    hands.plug_tap(tap_name(PORT))
    ports = [LocalPort(PORT, NET_A, frozenset())]
    converge(dp, desired(ul), ports=ports, taps=dp.taps())
    ops = converge(dp, desired(ul, mtu=1400), ports=ports, taps=dp.taps())
    assert EnsureNetwork(NET_A, 100, 1400) in ops
    read = dp.read()
    assert read[100].mtu == 1400
    assert read[100].taps == {tap_name(PORT)}
    assert {vni: k.entries for vni, k in read.items()} == wanted(desired(ul, mtu=1400))


def test_many_entries_in_one_batch(plane: tuple[Dataplane, Hands, Underlay]) -> None:
    dp, _hands, ul = plane
    unicast = frozenset(
        Unicast(f"fa:16:3e:01:{i >> 8:02x}:{i & 255:02x}", ul.peers[i % 2]) for i in range(1500)
    )
    neigh = frozenset(
        Neigh(f"198.51.{100 + (i >> 8)}.{i & 255}", u.mac) for i, u in enumerate(sorted(unicast))
    )
    state = HostState(
        {NET_A: NetworkState(100, 1450, Entries(frozenset(ul.peers), unicast, neigh))}
    )
    converge(dp, state)
    assert entries_of(dp) == wanted(state)
    assert plan(state, dp.read(), mode=dp.mode) == []


def test_a_foreign_device_with_our_name_is_refused_not_replaced(
    plane: tuple[Dataplane, Hands, Underlay],
) -> None:
    dp, hands, _ul = plane
    hands.add_foreign_bridge("vxlan-100")
    with pytest.raises(DataplaneError, match="vxlan-100"):
        dp.apply([EnsureNetwork(NET_A, 100, 1450)])
    assert "vxlan-100" in hands.link_names()


@pytest.mark.netns
def test_linux_without_an_interface_holding_the_tunnel_ip_fails_clearly() -> None:
    from l2pop.dataplane.linux import LinuxDataplane

    with linux_harness(Mode.PROXY, UNDERLAYS["ipv4"]) as (_dp, hands):
        with pytest.raises(DataplaneError, match=r"no interface holds the tunnel IP 192\.0\.2\.77"):
            LinuxDataplane(Mode.PROXY, "192.0.2.77", netns=hands.netns)  # type: ignore[attr-defined]
        with pytest.raises(DataplaneError, match="nosuchdev"):
            LinuxDataplane(Mode.PROXY, "192.0.2.1", interface="nosuchdev", netns=hands.netns)  # type: ignore[attr-defined]


@pytest.mark.netns
def test_linux_works_and_closes_on_a_thread_running_an_event_loop() -> None:
    """The agent calls it from its asyncio thread too (e.g. close on SIGTERM)."""
    import asyncio

    from l2pop.dataplane.linux import LinuxDataplane

    ul = UNDERLAYS["ipv4"]
    with linux_harness(Mode.SUPPRESS, ul) as (_dp, hands):
        netns: str = hands.netns  # type: ignore[attr-defined]

        async def agent_like() -> dict[int, Entries]:
            dp = LinuxDataplane(Mode.SUPPRESS, ul.local, netns=netns)
            try:
                converge(dp, desired(ul))
                assert dp.taps() == frozenset()
                return entries_of(dp)
            finally:
                dp.close()
                dp.close()  # idempotent

        assert asyncio.run(agent_like()) == wanted(desired(ul))


def test_a_refused_entry_is_named_and_a_replan_converges_around_it(
    plane: tuple[Dataplane, Hands, Underlay],
) -> None:
    dp, _hands, ul = plane
    other_family = "192.0.2.50" if ul.v6 else "2001:db8::50"
    bad = HostState(
        {
            NET_A: NetworkState(
                100,
                1450,
                Entries(
                    frozenset(ul.peers),
                    frozenset({Unicast(MAC1, ul.peers[0]), Unicast(MAC2, other_family)}),
                    frozenset({Neigh("198.51.100.1", MAC1)}),
                ),
            )
        }
    )
    with pytest.raises(DataplaneError, match=f"AddUnicast.*{MAC2}"):
        converge(dp, bad)
    with pytest.raises(DataplaneError, match=f"AddUnicast.*{MAC2}"):
        converge(dp, bad)  # the re-plan holds only the refused entry
    good = wanted(bad)[100] - Entries(unicast=frozenset({Unicast(MAC2, other_family)}))
    assert entries_of(dp) == {100: good}
