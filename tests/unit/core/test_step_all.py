from __future__ import annotations

from dataclasses import replace

from l2pop.core import (
    Delta,
    Event,
    Host,
    HostDeleted,
    Network,
    Port,
    PortStatus,
    PortUpserted,
    Snapshot,
    apply,
    desired,
    step_all,
)


def _fabric() -> Snapshot:
    hosts = [Host(f"h{i}", f"192.0.2.{i}") for i in (1, 2, 3)]
    ports = [
        Port(
            f"p{i}",
            "n1",
            f"fa:16:3e:00:00:0{i}",
            (f"198.51.100.{i}",),
            host=f"h{i}",
            status=PortStatus.ACTIVE,
        )
        for i in (1, 2, 3)
    ]
    return Snapshot.build([Network("n1", 100)], hosts, ports)


def test_host_deleted_with_its_ports_down_gives_peers_one_net_delta() -> None:
    before = _fabric()
    p3 = before.port("n1", "p3")
    assert p3 is not None
    events: list[Event] = [HostDeleted("h3"), PortUpserted(replace(p3, status=PortStatus.DOWN))]
    after, deltas = step_all(before, events)
    for host in ("h1", "h2", "h3"):
        assert apply(desired(before, host), deltas.get(host, _empty())) == desired(after, host)
    assert "192.0.2.3" in deltas["h1"].networks["n1"].remove.flood


def test_events_that_cancel_out_send_nothing() -> None:
    before = _fabric()
    p2 = before.port("n1", "p2")
    assert p2 is not None
    events = [PortUpserted(replace(p2, status=PortStatus.DOWN)), PortUpserted(p2)]
    _, deltas = step_all(before, events)
    assert deltas == {}


def _empty() -> Delta:
    return Delta()


def test_a_group_commit_of_many_changes_over_several_networks_gives_exact_deltas() -> None:
    """Hosts in several networks, touched by several events of one revision (an etcd
    group commit): each host's delta turns its old desired state into the new one."""
    import random

    rng = random.Random(7)
    hosts = [Host(f"h{i}", f"192.0.2.{i}") for i in range(1, 7)]
    networks = [Network(f"n{n}", 100 + n) for n in range(3)]
    ports = [
        Port(
            f"p{n}-{i}",
            f"n{n}",
            f"fa:16:3e:00:0{n}:{i:02x}",
            (f"10.{n}.0.{i}",),
            host=f"h{1 + (i + n) % 6}",
            status=PortStatus.ACTIVE,
        )
        for n in range(3)
        for i in range(8)
    ]
    before = Snapshot.build(networks, hosts, ports)
    for _ in range(30):
        chosen = rng.sample(ports, 6)
        events: list[Event] = [
            PortUpserted(replace(p, status=rng.choice([PortStatus.ACTIVE, PortStatus.DOWN])))
            for p in chosen
        ]
        after, deltas = step_all(before, events)
        for host in hosts:
            got = apply(desired(before, host.name), deltas.get(host.name, _empty()))
            assert got == desired(after, host.name)
        before = after
