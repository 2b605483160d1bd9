"""Stateful property test of ``step``: random event sequences, invariants after every event.

The machine keeps the plain records (networks, hosts, ports) beside the stepped
snapshot and, per host, the state obtained by applying every delta that host
received since the start. After each event, for every host (registered or not):

* incremental == recomputed: ``apply(previous, delta) == desired(new snapshot)``;
* the delta is exactly ``diff(desired before, desired after)`` and never empty;
* a delta never names the host's own VTEP or the MAC of one of its own ports;
* a host hears only about networks it has a bound port on (before or after);
* ``Snapshot.build(records)`` equals the stepped snapshot;
* the wire encoding of the host's state and delta decodes back to the same value.
"""

from __future__ import annotations

import dataclasses
import json
import os

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from l2pop.core import (
    AddressPair,
    Delta,
    Event,
    Host,
    HostDeleted,
    HostState,
    HostUpserted,
    Network,
    NetworkDeleted,
    NetworkUpserted,
    Port,
    PortDeleted,
    PortEvent,
    PortStatus,
    PortUpserted,
    RemoteDeleted,
    RemoteEndpoint,
    RemoteKind,
    RemoteUpserted,
    Snapshot,
    apply,
    desired,
    diff,
    next_status,
    step,
)
from l2pop.core.wire import decode_change, decode_state, encode_change, encode_state
from l2pop.errors import NotFoundError

# "ghost" is bound to but never registers; "idle" never gets a port at all.
REGISTRABLE = ("h0", "h1", "h2")
HOSTS = (*REGISTRABLE, "ghost")
WATCHED = (*HOSTS, "idle")
# Each host draws its tunnel IPs from its own pool, so a VTEP names one host.
TUNNEL_IPS = {
    "h0": ("192.0.2.10", "2001:db8::10"),
    "h1": ("192.0.2.11", "192.0.2.111"),
    "h2": ("2001:db8::12", "192.0.2.12"),
}
NETWORKS = ("n0", "n1", "n2")
MTUS = (1450, 1400, 8950)
PORT_IDS = tuple(f"p{i}" for i in range(7))
FIXED_IPS = ("10.0.0.1", "10.0.0.2", "10.0.0.3", "2001:db8:1::1", "2001:db8:1::2")
VMAC = "00:00:5e:00:01:01"  # VRRP virtual MACs: never a port's own MAC
VMAC2 = "00:00:5e:00:01:02"
PAIRS = (
    AddressPair("10.0.0.100", VMAC),  # shared VRRP-style when two hosts carry it
    AddressPair("10.0.0.100"),  # same IP, the port's own MAC
    AddressPair("10.0.0.2"),  # collides with a fixed IP of another port
    AddressPair("10.9.0.0/29", VMAC2),  # CIDR: unicast, no neigh
    AddressPair("2001:db8:9::/64"),
    AddressPair("10.0.0.9/32"),
)


# Remote VTEPs (FRR, switches) never share an address with an l2pop host; their MACs
# sometimes collide with a port's (p0's first MAC) or a pair's: l2pop's own wins.
REMOTE_VTEPS = ("198.18.0.1", "198.18.0.2", "2001:db8:ff::1")
REMOTE_MACS = ("52:54:00:00:00:01", "52:54:00:00:00:02", "fa:16:3e:00:00:00", VMAC)
REMOTE_IPS = (None, "10.0.0.50", "10.0.0.1", "2001:db8:1::50")


def port_macs(pid: str) -> tuple[str, str]:
    """Two MACs a port may use; no other port ever uses them."""
    i = int(pid[1:])
    return f"fa:16:3e:00:{i:02x}:00", f"fa:16:3e:00:{i:02x}:01"


def network(net_id: str, mtu: int = 1450, name: str = "") -> Network:
    return Network(net_id, 100 + NETWORKS.index(net_id), name=name, mtu=mtu)


class CoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.networks: dict[str, Network] = {}
        self.hosts: dict[str, Host] = {}
        self.ports: dict[str, Port] = {}
        self.remotes: dict[str, RemoteEndpoint] = {}
        self.snap = Snapshot()
        self.applied: dict[str, HostState] = {h: HostState() for h in WATCHED}
        self.revision = 0
        self.most_publishers = 0

    # --- the checks every event goes through ---------------------------------

    def run(self, event: Event) -> None:
        old = self.snap
        self.snap, deltas = step(old, event)
        self.revision += 1
        assert set(deltas) <= set(HOSTS), f"delta for a host nobody bound: {set(deltas)}"
        assert all(deltas.values()), "an empty Delta was sent"
        for host in WATCHED:
            delta = deltas.get(host, Delta())
            before, after = desired(old, host), desired(self.snap, host)
            assert delta == diff(before, after), host
            self.applied[host] = apply(self.applied[host], delta)
            assert self.applied[host] == after, f"incremental != recomputed for {host}"
            self.check_only_interested(old, host, delta)
            self.check_nothing_own(old, host, delta)
            self.check_wire(host, delta, after)

    def check_only_interested(self, old: Snapshot, host: str, delta: Delta) -> None:
        for net_id in delta.networks:
            was = net_id in old.networks and host in old.networks[net_id].bound
            now = net_id in self.snap.networks and host in self.snap.networks[net_id].bound
            assert was or now, f"{host} heard about {net_id} without a bound port there"

    def check_nothing_own(self, old: Snapshot, host: str, delta: Delta) -> None:
        own_vteps = {old.vtep(host), self.snap.vtep(host)} - {None}
        for net_id, change in delta.networks.items():
            for snap, entries in ((self.snap, change.add), (old, change.remove)):
                net = snap.networks.get(net_id)
                ids = net.bound.get(host, frozenset()) if net else frozenset()
                own_macs = {net.ports[i].mac_address for i in ids} if net else set()
                assert not entries.flood & own_vteps, f"{host} got its own VTEP"
                assert not {u.vtep for u in entries.unicast} & own_vteps, host
                assert not {u.mac for u in entries.unicast} & own_macs, host
                assert not {n.mac for n in entries.neigh} & own_macs, host

    def check_wire(self, host: str, delta: Delta, after: HostState) -> None:
        if not delta:  # the state did not change: it was checked when it did
            return
        state_line = json.loads(json.dumps(encode_state(host, self.revision, after, [])))
        assert decode_state(state_line) == (self.revision, after, ())
        line = json.loads(json.dumps(encode_change(self.revision, delta, [])))
        assert decode_change(line).delta == delta

    @invariant()
    def snapshot_equals_a_fresh_build_from_the_records(self) -> None:
        built = Snapshot.build(
            self.networks.values(), self.hosts.values(), self.ports.values(), self.remotes.values()
        )
        assert built == self.snap
        for host in WATCHED:
            assert desired(built, host) == self.applied[host]
        for net in self.snap.networks.values():
            self.most_publishers = max(self.most_publishers, len(net.published))

    def teardown(self) -> None:
        # Visible with --hypothesis-show-statistics: how rich the runs get.
        event(f"most hosts publishing on one network at once: {self.most_publishers}")

    # --- a populated start, so that short runs already exercise peers ---------

    @initialize(
        mtus=st.lists(st.sampled_from(MTUS), min_size=2, max_size=2),
        ips=st.lists(st.sampled_from((0, 1)), min_size=3, max_size=3),
        placements=st.lists(
            st.tuples(st.sampled_from(NETWORKS[:2]), st.sampled_from(HOSTS)),
            min_size=2,
            max_size=5,
        ),
        pairs=st.lists(st.sampled_from(PAIRS), max_size=2, unique=True),
    )
    def start_populated(
        self,
        mtus: list[int],
        ips: list[int],
        placements: list[tuple[str, str]],
        pairs: list[AddressPair],
    ) -> None:
        """Two networks, three registered hosts and some ACTIVE ports, every one an event."""
        for net_id, mtu in zip(NETWORKS, mtus, strict=False):
            self.upsert_network(net_id, mtu, "")
        for name, which in zip(REGISTRABLE, ips, strict=True):
            self.register_or_reip_host(name, which)
        for i, (net_id, host) in enumerate(placements):
            pid = PORT_IDS[i]
            ip = (FIXED_IPS[i % len(FIXED_IPS)],)
            port = Port(pid, net_id, port_macs(pid)[0], ip, tuple(pairs), host, PortStatus.ACTIVE)
            self.put(port)

    # --- networks -------------------------------------------------------------

    @rule(net_id=st.sampled_from(NETWORKS), mtu=st.sampled_from(MTUS), name=st.sampled_from("ab"))
    def upsert_network(self, net_id: str, mtu: int, name: str) -> None:
        self.networks[net_id] = network(net_id, mtu, name)
        self.run(NetworkUpserted(self.networks[net_id]))

    @rule(net_id=st.sampled_from(NETWORKS))
    def delete_network(self, net_id: str) -> None:
        self.networks.pop(net_id, None)
        self.ports = {pid: p for pid, p in self.ports.items() if p.network_id != net_id}
        # The server never reuses a network id: its remote endpoints are gone for good.
        self.remotes = {k: r for k, r in self.remotes.items() if r.network_id != net_id}
        self.run(NetworkDeleted(net_id))

    # --- hosts ----------------------------------------------------------------

    @rule(name=st.sampled_from(REGISTRABLE), which=st.sampled_from((0, 1)))
    def register_or_reip_host(self, name: str, which: int) -> None:
        self.hosts[name] = Host(name, TUNNEL_IPS[name][which])
        self.run(HostUpserted(self.hosts[name]))

    @rule(name=st.sampled_from(HOSTS))
    def delete_host(self, name: str) -> None:
        self.hosts.pop(name, None)
        self.run(HostDeleted(name))

    # --- ports ----------------------------------------------------------------

    @rule(
        pid=st.sampled_from(PORT_IDS),
        net_id=st.sampled_from(NETWORKS),
        host=st.sampled_from(("", *HOSTS)),
        status=st.sampled_from(PortStatus),
        ips=st.lists(st.sampled_from(FIXED_IPS), max_size=2, unique=True),
        pairs=st.lists(st.sampled_from(PAIRS), max_size=2, unique=True),
    )
    def create_port(
        self,
        pid: str,
        net_id: str,
        host: str,
        status: PortStatus,
        ips: list[str],
        pairs: list[AddressPair],
    ) -> None:
        if pid in self.ports:  # a port never changes network: overwrite in place
            net_id = self.ports[pid].network_id
        port = Port(pid, net_id, port_macs(pid)[0], tuple(ips), tuple(pairs), host, status)
        if net_id not in self.networks:
            with pytest.raises(NotFoundError):
                step(self.snap, PortUpserted(port))
            return
        self.put(port)

    def put(self, port: Port) -> None:
        self.ports[port.id] = port
        self.run(PortUpserted(port))

    def existing(self, data: st.DataObject) -> Port:
        return self.ports[data.draw(st.sampled_from(sorted(self.ports)), label="port")]

    def lifecycle(self, port: Port, event: PortEvent, **changes: object) -> None:
        changed = dataclasses.replace(port, **changes)  # type: ignore[arg-type]
        self.put(dataclasses.replace(changed, status=next_status(changed, event)))

    @precondition(lambda self: self.ports)
    @rule(data=st.data(), host=st.sampled_from(HOSTS))
    def bind_or_migrate(self, data: st.DataObject, host: str) -> None:
        self.lifecycle(self.existing(data), PortEvent.BIND, host=host)

    @precondition(lambda self: self.ports)
    @rule(data=st.data())
    def unbind(self, data: st.DataObject) -> None:
        self.lifecycle(self.existing(data), PortEvent.UNBIND, host="")

    @precondition(lambda self: self.ports)
    @rule(data=st.data(), event=st.sampled_from((PortEvent.DEVICE_UP, PortEvent.DEVICE_DOWN)))
    def device_report(self, data: st.DataObject, event: PortEvent) -> None:
        self.lifecycle(self.existing(data), event)

    @precondition(lambda self: self.ports)
    @rule(data=st.data(), up=st.booleans())
    def set_admin_state(self, data: st.DataObject, up: bool) -> None:
        event = PortEvent.ADMIN_UP if up else PortEvent.ADMIN_DOWN
        self.lifecycle(self.existing(data), event, admin_state_up=up)

    @precondition(lambda self: self.ports)
    @rule(data=st.data(), status=st.sampled_from(PortStatus))
    def force_status(self, data: st.DataObject, status: PortStatus) -> None:
        # What a store may hold after host re-registration or a lost report.
        self.put(dataclasses.replace(self.existing(data), status=status))

    @precondition(lambda self: self.ports)
    @rule(data=st.data(), ips=st.lists(st.sampled_from(FIXED_IPS), max_size=3, unique=True))
    def set_fixed_ips(self, data: st.DataObject, ips: list[str]) -> None:
        self.put(dataclasses.replace(self.existing(data), fixed_ips=tuple(ips)))

    @precondition(lambda self: self.ports)
    @rule(data=st.data(), pairs=st.lists(st.sampled_from(PAIRS), max_size=3, unique=True))
    def set_address_pairs(self, data: st.DataObject, pairs: list[AddressPair]) -> None:
        self.put(dataclasses.replace(self.existing(data), allowed_address_pairs=tuple(pairs)))

    @precondition(lambda self: self.ports)
    @rule(data=st.data(), which=st.sampled_from((0, 1)))
    def change_mac_unless_active(self, data: st.DataObject, which: int) -> None:
        port = self.existing(data)
        if port.status is not PortStatus.ACTIVE:
            self.put(dataclasses.replace(port, mac_address=port_macs(port.id)[which]))

    @precondition(lambda self: self.ports)
    @rule(data=st.data())
    def update_with_nothing_new(self, data: st.DataObject) -> None:
        old = self.snap
        self.put(self.existing(data))
        assert self.snap is old

    @precondition(lambda self: self.ports)
    @rule(data=st.data())
    def delete_port(self, data: st.DataObject) -> None:
        port = self.ports.pop(self.existing(data).id)
        self.run(PortDeleted(port.network_id, port.id))

    # --- remote endpoints (imported EVPN routes) --------------------------------

    @rule(
        net_id=st.sampled_from(NETWORKS),
        vtep=st.sampled_from(REMOTE_VTEPS),
        mac=st.sampled_from((None, *REMOTE_MACS)),
        ip=st.sampled_from(REMOTE_IPS),
    )
    def import_route(self, net_id: str, vtep: str, mac: str | None, ip: str | None) -> None:
        if mac is None:
            endpoint = RemoteEndpoint(net_id, RemoteKind.FLOOD, vtep)
        else:
            endpoint = RemoteEndpoint(net_id, RemoteKind.MAC, vtep, mac, ip)
        if net_id not in self.networks:
            old = self.snap
            self.run(RemoteUpserted(endpoint))
            assert self.snap is old  # a route of an unknown network programs nothing
            return
        self.remotes[endpoint.key] = endpoint
        self.run(RemoteUpserted(endpoint))

    @precondition(lambda self: self.remotes)
    @rule(data=st.data())
    def withdraw_route(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.remotes)), label="route")
        endpoint = self.remotes.pop(key)
        self.run(RemoteDeleted(endpoint.network_id, key))


CoreMachine.TestCase.settings = settings(stateful_step_count=40, deadline=None)
TestCoreStateMachine = CoreMachine.TestCase


def test_stateful_run_honours_the_ci_example_count() -> None:
    """The class settings inherit the loaded profile: CI's 300 examples are not cut down."""
    profile = settings.default
    assert profile is not None
    count = TestCoreStateMachine.settings.max_examples
    assert count == profile.max_examples
    if os.environ.get("CI"):
        assert count >= 200
