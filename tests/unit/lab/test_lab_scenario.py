"""The demo's VM layout and its report, without a kernel."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from l2pop.lab.demo import DemoResult
from l2pop.lab.measure import PhaseResult
from l2pop.lab.report import print_report
from l2pop.lab.scenario import plan_vms


def test_classic_layout_puts_a_on_host1_g_on_host4_and_the_rest_on_2_3_5() -> None:
    plans, pinger, target = plan_vms(5)
    where = {p.name: p.host for p in plans}
    assert (pinger, target) == ("a", "g")
    assert sorted(where) == list("abcdefgh")
    assert where["a"] == "host1"
    assert where["g"] == "host4"
    assert {where[n] for n in "bcdefh"} == {"host2", "host3", "host5"}
    assert len({p.ipv4 for p in plans}) == len({p.ipv6 for p in plans}) == 8
    assert all(p.ipv4.startswith("198.51.100.") for p in plans)
    assert all(p.ipv6.startswith("2001:db8:100::") for p in plans)


def test_fewer_than_four_hosts_target_the_last_host() -> None:
    plans, _, target = plan_vms(3)
    assert {p.name: p.host for p in plans}[target] == "host3"


def test_vms_per_host_gives_every_host_that_many() -> None:
    plans, pinger, target = plan_vms(6, vms_per_host=2)
    assert len(plans) == 12
    assert {p.host for p in plans} == {f"host{i}" for i in range(1, 7)}
    assert (pinger, target) == ("h1v1", "h4v1")


@pytest.mark.parametrize(("hosts", "per_host"), [(1, None), (201, None), (5, 0), (5, 21)])
def test_nonsense_sizes_are_refused(hosts: int, per_host: int | None) -> None:
    with pytest.raises(ValueError, match=r"use|needs"):
        plan_vms(hosts, per_host)


def phase(broadcasts: int, reached: list[str]) -> PhaseResult:
    return PhaseResult(
        ping_ok=True,
        transmitted=3,
        received=3,
        first_reply_ms=0.5,
        arp_broadcasts=broadcasts,
        ns_multicasts=0,
        hosts_reached_by_broadcast=reached,
        broadcasts_received_by_host=dict.fromkeys(reached, 1),
        hosts_reached_by_pinger=["host4"],
        tunnels=["192.0.2.1 <-> 192.0.2.4"],
        vxlan_packets_by_vtep={"192.0.2.4": 3},
        vtep_fdb=["fa:16:3e:00:00:07 dst 192.0.2.4 self permanent"],
        vtep_neigh=[],
    )


def test_report_puts_l2pop_beside_the_baseline() -> None:
    result = DemoResult(
        config={"hosts": 5, "mode": "proxy", "ipv6": False},
        prefix="l2pl0000",
        pinger="a",
        target="g",
        l2pop=phase(0, []),
        baseline=phase(4, ["host2", "host3", "host4", "host5"]),
    )
    out = io.StringIO()
    print_report(result, Console(file=out, width=200))
    text = out.getvalue()
    assert "ARP broadcasts carried in VXLAN" in text
    row = next(line for line in text.splitlines() if "ARP broadcasts" in line)
    assert row.split("│")[2].strip() == "0"
    assert row.split("│")[3].strip() == "4"
    assert "host2, host3, host4, host5" in text
    assert result.ok
    assert result.to_json()["ok"] is True


def test_an_unfinished_demo_is_not_ok_and_says_so() -> None:
    result = DemoResult(config={"hosts": 5}, prefix="l2pl0000", pinger="a", target="g")
    out = io.StringIO()
    print_report(result, Console(file=out, width=120))
    assert "did not finish" in out.getvalue()
    assert not result.ok
