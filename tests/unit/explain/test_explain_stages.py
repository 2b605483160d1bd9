"""The explain stage logic on hand-made facts: every failure it tells apart, and the ok cases."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pytest

from l2pop.core.state import Entries, Neigh, NetworkState, Unicast
from l2pop.dataplane.base import KernelNetwork
from l2pop.errors import ValidationError
from l2pop.explain.facts import (
    AgentHeld,
    Ambiguous,
    DesiredFacts,
    Facts,
    NetworkFacts,
    PortFacts,
    Probe,
    parse_target,
    resolve,
)
from l2pop.explain.stages import explain
from l2pop.explain.wire import decode_held, decode_kernel, encode_held, encode_kernel

NET = NetworkFacts("11111111-2222-3333-4444-555555555555", "demo", 100)
MAC = "fa:16:3e:00:00:07"
IP = "198.51.100.7"
IP6 = "2001:db8:100::7"
VTEP = "192.0.2.4"
WANT = Entries(frozenset({VTEP}), frozenset({Unicast(MAC, VTEP)}), frozenset({Neigh(IP, MAC)}))
TUNNELS = {"host1": "192.0.2.1", "host3": "192.0.2.3", "host4": VTEP}


def port(**changes: Any) -> PortFacts:
    base = PortFacts(
        id="aaaaaaaa-0000-0000-0000-000000000007",
        network_id=NET.id,
        mac=MAC,
        ips=(IP, IP6),
        pairs=(),
        host="host4",
        status="ACTIVE",
    )
    return dataclasses.replace(base, **changes)


def kernel(entries: Entries = WANT, **changes: Any) -> Probe[Mapping[int, KernelNetwork]]:
    net = KernelNetwork(
        vni=100, bridge="brq11111111-22", mtu=1450, local_ip="192.0.2.1", proxy=True,
        entries=entries,
    )  # fmt: skip
    return Probe("local", {100: dataclasses.replace(net, **changes)})


def facts(target: str = IP, **changes: Any) -> Facts:
    base = Facts(
        host="host1",
        target=parse_target(target),
        host_tunnel_ip="192.0.2.1",
        tunnel_ips=TUNNELS,
        port=port(),
        network=NET,
        desired=DesiredFacts(57, {NET.id: NetworkState(100, 1450, WANT)}),
        agent=Probe("http://a", AgentHeld(60, {NET.id: WANT})),
        kernel=kernel(),
    )
    return dataclasses.replace(base, **changes)


def verdict(f: Facts) -> tuple[str, str | None, str]:
    report = explain(f)
    data = report.to_json()
    failed = report.first_failure
    return data["verdict"], data["first_failure"], failed.detail if failed else report.line


def test_healthy_ipv4_every_stage_ok() -> None:
    report = explain(facts())
    assert [s.ok for s in report.stages] == [True] * 5
    assert [s.name for s in report.stages] == ["server", "scope", "desired", "agent", "kernel"]
    assert report.line == "REACHABLE via vxlan-100 -> 192.0.2.4"
    assert report.to_json()["first_failure"] is None


def test_healthy_ipv6_and_mac_targets() -> None:
    want6 = WANT | Entries(neigh=frozenset({Neigh(IP6, MAC)}))
    both = {NET.id: NetworkState(100, 1450, want6)}
    f = facts(IP6, desired=DesiredFacts(57, both), agent=Probe("a", AgentHeld(57, {NET.id: want6})))
    f = dataclasses.replace(f, kernel=kernel(want6))
    assert verdict(f)[:2] == ("ok", None)
    assert verdict(dataclasses.replace(f, target=parse_target(MAC.upper())))[:2] == ("ok", None)


def test_not_asked_stages_are_null_and_verdict_rests_on_the_others() -> None:
    report = explain(facts(agent=None, kernel=None))
    assert [s.ok for s in report.stages] == [True, True, True, None, None]
    assert report.verdict == "ok"


def test_unknown_target_is_broken_at_server() -> None:
    v, stage, detail = verdict(facts("198.51.100.99", port=None, network=None))
    assert (v, stage) == ("broken", "server")
    assert "no port owns 198.51.100.99" in detail


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"status": "BUILD"}, "port is BUILD: its host host4 has not reported the tap"),
        ({"status": "DOWN"}, "port is DOWN: its tap is gone"),
        ({"status": "DOWN", "admin_state_up": False}, "admin_state_up is false"),
        ({"status": "DOWN", "host": ""}, "is not bound to a host"),
        ({"status": "BUILD", "host": "host9"}, "bound to host9, not registered"),
    ],
)
def test_port_not_active(changes: dict[str, Any], expected: str) -> None:
    v, stage, detail = verdict(facts(port=port(**changes)))
    assert (v, stage) == ("broken", "server")
    assert expected in detail


def test_host_without_a_port_on_the_network() -> None:
    f = facts(host="host3", desired=DesiredFacts(57, {}), host_tunnel_ip="192.0.2.3")
    assert verdict(f) == (
        "broken", "scope", "host3 has no port on network demo, so it is told nothing about it"
    )  # fmt: skip
    assert [s.ok for s in explain(f).stages[2:]] == [None, None, None]


def test_unregistered_host() -> None:
    v, stage, detail = verdict(facts(host="nohost", host_tunnel_ip=None, desired=None))
    assert (v, stage, detail) == ("broken", "scope", "host nohost is not registered")


def test_desired_state_missing_an_entry() -> None:
    partial = WANT - Entries(neigh=WANT.neigh)
    f = facts(desired=DesiredFacts(57, {NET.id: NetworkState(100, 1450, partial)}))
    v, stage, detail = verdict(f)
    assert (v, stage) == ("broken", "desired")
    assert f"lacks neigh {IP} lladdr {MAC}" in detail


def test_agent_behind_the_stream() -> None:
    v, stage, detail = verdict(facts(agent=Probe("http://a", AgentHeld(41, {NET.id: WANT}))))
    assert (v, stage, detail) == ("broken", "agent", "agent at revision 41 < 57: stream behind")


def test_agent_not_answering_and_agent_missing_entries() -> None:
    _, stage, detail = verdict(facts(agent=Probe("http://a:9100", error="connection refused")))
    assert (stage, detail) == ("agent", "agent at http://a:9100 did not answer: connection refused")
    _, stage, detail = verdict(facts(agent=Probe("http://a", AgentHeld(60, {}))))
    assert stage == "agent"
    assert f"does not hold flood 00:00:00:00:00:00 -> {VTEP}" in detail


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (WANT - Entries(unicast=WANT.unicast), f"has no FDB entry {MAC} -> {VTEP} on vxlan-100"),
        (WANT - Entries(flood=WANT.flood), f"no flood entry 00:00:00:00:00:00 -> {VTEP}"),
        (WANT - Entries(neigh=WANT.neigh), f"no permanent neigh entry {IP} lladdr {MAC}"),
        (
            Entries(WANT.flood, frozenset({Unicast(MAC, "192.0.2.9")}), WANT.neigh),
            f"has FDB entry {MAC} -> 192.0.2.9 on vxlan-100, expected dst {VTEP}",
        ),
        (
            Entries(WANT.flood, WANT.unicast, frozenset({Neigh(IP, "fa:16:3e:00:00:99")})),
            f"neigh entry {IP} lladdr fa:16:3e:00:00:99 on vxlan-100, expected lladdr {MAC}",
        ),
    ],
)
def test_kernel_differs(entries: Entries, expected: str) -> None:
    v, stage, detail = verdict(facts(kernel=kernel(entries)))
    assert (v, stage) == ("broken", "kernel")
    assert expected in detail
    assert detail.startswith("host1's kernel")


def test_kernel_half_entry_missing_device_unreadable_and_wrong_bridge() -> None:
    half = kernel(WANT - Entries(unicast=WANT.unicast), partial=frozenset({Unicast(MAC, "")}))
    assert "only half of FDB entry" in verdict(facts(kernel=half))[2]
    gone: Probe[Mapping[int, KernelNetwork]] = Probe("local", {})
    assert verdict(facts(kernel=gone))[1:] == (
        "kernel",
        "host1's kernel has no VXLAN device vxlan-100",
    )
    broken: Probe[Mapping[int, KernelNetwork]] = Probe("local", error="permission denied")
    assert verdict(facts(kernel=broken))[2] == "cannot read host1's kernel: permission denied"
    assert "is not a port of bridge" in verdict(facts(kernel=kernel(bridge=None)))[2]


def test_suppress_mode_neigh_lives_on_the_bridge() -> None:
    probe = kernel(WANT - Entries(neigh=WANT.neigh), proxy=False)
    assert "lladdr fa:16:3e:00:00:07 on brq11111111-22" in verdict(facts(kernel=probe))[2]


def test_later_stages_are_judged_after_a_failure() -> None:
    report = explain(facts(agent=Probe("a", AgentHeld(41, {NET.id: WANT}))))
    assert [s.ok for s in report.stages] == [True, True, True, False, True]


def test_local_target() -> None:
    report = explain(facts(host="host4", host_tunnel_ip=VTEP))
    assert report.verdict == "ok"
    assert [s.detail for s in report.stages[1:]] == ["local"] * 4
    assert report.line == f"REACHABLE: local ({IP} is on host4 itself)"


def test_detailed_lists_entries_compared() -> None:
    data = explain(facts(kernel=kernel(WANT - Entries(flood=WANT.flood)))).to_json(detailed=True)
    kernel_stage = data["stages"][4]
    assert f"flood 00:00:00:00:00:00 -> {VTEP}: MISSING" in kernel_stage["compared"]
    assert f"unicast {MAC} -> {VTEP}: held" in kernel_stage["compared"]
    assert "compared" not in explain(facts()).to_json()["stages"][0]


def test_pairs() -> None:
    paired = port(pairs=(("198.51.100.50", "fa:16:3e:00:00:50"), ("198.51.100.64/26", MAC)))
    target = parse_target("198.51.100.50")
    assert paired.owns(target)
    assert paired.mac_for(target) == "fa:16:3e:00:00:50"
    assert paired.ips_for(parse_target("fa:16:3e:00:00:50")) == ("198.51.100.50",)
    assert paired.ips_for(parse_target(MAC)) == (IP, IP6)
    assert PortFacts.from_record(
        {"id": "p", "network_id": "n", "mac_address": MAC, "status": "DOWN",
         "allowed_address_pairs": [{"ip_address": "10.0.0.1"}]}
    ).pairs == (("10.0.0.1", MAC),)  # fmt: skip


def test_parse_target() -> None:
    assert parse_target("FA-16-3E-00-00-07").value == MAC
    assert parse_target("2001:DB8:100:0::7").value == IP6
    with pytest.raises(ValidationError):
        parse_target("not-an-address")


def test_resolve_ambiguous_needs_network() -> None:
    other = port(id="b", network_id="other-net")
    with pytest.raises(Ambiguous) as caught:
        resolve(parse_target(IP), [port(), other], None, {"other-net": "blue (other-net)"})
    assert "blue (other-net)" in str(caught.value)
    assert "--network" in str(caught.value)
    assert resolve(parse_target(IP), [port(), other], "other-net") == other
    assert resolve(parse_target("198.51.100.1"), [port()], None) is None
    # Same network, two owners: the ACTIVE one is the one published.
    standby = port(id="0", status="DOWN")
    assert resolve(parse_target(IP), [standby, port()], None) == port()


def test_wire_round_trip() -> None:
    held = encode_held("host1", 60, "proxy", {NET.id: NetworkState(100, 1450, WANT)})
    assert decode_held(held) == AgentHeld(60, {NET.id: WANT})
    probe = kernel(partial=frozenset({Unicast("fa:16:3e:00:00:01", "")}))
    assert probe.value is not None
    assert decode_kernel(encode_kernel("host1", "proxy", probe.value)) == probe.value
    with pytest.raises(ValidationError):
        decode_held({"revision": "x"})
    with pytest.raises(ValidationError):
        decode_kernel({"networks": {"vx": {}}})
