"""``step_all`` composes the deltas of a revision's events: for any batch of events,
every host's delta equals ``diff`` of its desired state before and after, exactly
(the property the old whole-state diff gave by construction)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from l2pop.core import (
    Delta,
    Event,
    Host,
    HostDeleted,
    HostUpserted,
    Network,
    Port,
    PortDeleted,
    PortStatus,
    PortUpserted,
    RemoteDeleted,
    RemoteEndpoint,
    RemoteKind,
    RemoteUpserted,
    Snapshot,
    desired,
    diff,
    step_all,
)
from l2pop.core.step import NetworkUpserted

NETS = ("n1", "n2")
HOSTS = ("h1", "h2", "h3", "h4")
PORTS = {f"p{i}": NETS[i % 2] for i in range(8)}  # a port stays in its network
VTEPS = ("192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::9")


def _port(pid: str, host: str, status: PortStatus, ip: int) -> Port:
    n = int(pid[1:])  # a MAC per port; two ports may share an IP
    return Port(pid, PORTS[pid], f"fa:16:3e:00:00:{n:02x}", (f"10.0.0.{ip}",), host=host,
                status=status)  # fmt: skip


ports = st.builds(
    _port,
    st.sampled_from(sorted(PORTS)),
    st.sampled_from(["", *HOSTS]),
    st.sampled_from(list(PortStatus)),
    st.integers(1, 3),
)
remotes = st.one_of(
    st.builds(RemoteEndpoint, st.sampled_from(NETS), st.just(RemoteKind.FLOOD),
              st.sampled_from(VTEPS[2:])),
    st.builds(RemoteEndpoint, st.sampled_from(NETS), st.just(RemoteKind.MAC),
              st.sampled_from(VTEPS[2:]),
              st.sampled_from(["fa:16:3e:00:00:01", "52:54:00:00:00:09"]),
              st.sampled_from([None, "10.0.0.1", "10.0.0.9"])),
)  # fmt: skip
events: st.SearchStrategy[Event] = st.one_of(
    ports.map(PortUpserted),
    st.sampled_from(sorted(PORTS)).map(lambda pid: PortDeleted(PORTS[pid], pid)),
    st.builds(Host, st.sampled_from(HOSTS), st.sampled_from(VTEPS)).map(HostUpserted),
    st.sampled_from(HOSTS).map(HostDeleted),
    st.builds(Network, st.sampled_from(NETS), st.just(100), mtu=st.sampled_from([1450, 8950])).map(
        lambda net: NetworkUpserted(Network(net.id, 100 + NETS.index(net.id), mtu=net.mtu))
    ),
    remotes.map(RemoteUpserted),
    remotes.map(lambda r: RemoteDeleted(r.network_id, r.key)),
)


def _start() -> Snapshot:
    hosts = [Host(h, VTEPS[i % 3]) for i, h in enumerate(HOSTS)]
    start = [_port(pid, HOSTS[i % 4], PortStatus.ACTIVE, 1 + i % 3) for i, pid in enumerate(PORTS)]
    return Snapshot.build([Network(n, 100 + i) for i, n in enumerate(NETS)], hosts, start)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(events, min_size=2, max_size=12), min_size=1, max_size=4))
def test_every_hosts_delta_is_the_diff_of_its_states(revisions: list[list[Event]]) -> None:
    snapshot = _start()
    for batch in revisions:
        after, deltas = step_all(snapshot, batch)
        for host in (*HOSTS, "unbound"):
            want = diff(desired(snapshot, host), desired(after, host))
            assert deltas.get(host, Delta()) == want, (host, batch)
        assert all(deltas.values()), "an empty delta was sent"
        snapshot = after
