"""A small test harness around ``step``: one mutable snapshot plus builders.

Every ``World.step`` also checks the core's central property for every host it
knows of (``apply(desired before, delta) == desired after``), so a scenario
test cannot pass on a delta that disagrees with recomputation.
"""

from __future__ import annotations

import dataclasses

from l2pop.core import (
    AddressPair,
    Delta,
    Event,
    Host,
    HostState,
    Network,
    Port,
    PortDeleted,
    PortStatus,
    PortUpserted,
    Snapshot,
    apply,
    desired,
    diff,
    step,
)

__all__ = ["World", "mac", "tip"]


def mac(n: int) -> str:
    """The n-th port MAC: fa:16:3e:00:00:<n>."""
    return f"fa:16:3e:00:00:{n:02x}"


def tip(n: int) -> str:
    """The tunnel IP of host h<n>."""
    return f"192.0.2.{n}"


class World:
    """Networks n1.., registered hosts h1.., and ports added by the test."""

    def __init__(self, networks: int = 1, hosts: int = 3) -> None:
        nets = [Network(f"n{i}", 100 + i) for i in range(1, networks + 1)]
        registered = [Host(f"h{i}", tip(i)) for i in range(1, hosts + 1)]
        self.snap = Snapshot.build(nets, registered, [])
        # Hosts the consistency check looks at even when not registered.
        self.watched: set[str] = {h.name for h in registered} | {"idle"}

    def state(self, host: str) -> HostState:
        return desired(self.snap, host)

    def step(self, event: Event) -> dict[str, Delta]:
        hosts = self.watched | set(self.snap.hosts) | _bound_hosts(self.snap)
        before = {h: desired(self.snap, h) for h in hosts}
        self.snap, deltas = step(self.snap, event)
        hosts |= _bound_hosts(self.snap)
        for host in hosts:
            got = deltas.get(host, Delta())
            after = desired(self.snap, host)
            old = before.get(host, HostState())
            assert apply(old, got) == after, host
            assert got == diff(old, after), host
        assert all(deltas.values()), "an empty Delta was sent"
        return deltas

    def port(
        self,
        pid: str,
        host: str,
        n: int,
        *ips: str,
        net: str = "n1",
        status: PortStatus = PortStatus.ACTIVE,
        pairs: tuple[AddressPair, ...] = (),
    ) -> dict[str, Delta]:
        """Create (or overwrite) port ``pid`` with MAC ``mac(n)``."""
        port = Port(pid, net, mac(n), ips, allowed_address_pairs=pairs, host=host, status=status)
        return self.step(PortUpserted(port))

    def get(self, pid: str) -> Port:
        for port in self.snap.all_ports():
            if port.id == pid:
                return port
        raise KeyError(pid)

    def update(self, pid: str, **changes: object) -> dict[str, Delta]:
        port = dataclasses.replace(self.get(pid), **changes)  # type: ignore[arg-type]
        return self.step(PortUpserted(port))

    def delete(self, pid: str) -> dict[str, Delta]:
        port = self.get(pid)
        return self.step(PortDeleted(port.network_id, pid))


def _bound_hosts(snap: Snapshot) -> set[str]:
    return {h for net in snap.networks.values() for h in net.bound}
