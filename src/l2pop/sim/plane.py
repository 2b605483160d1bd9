"""The kernel side of a simulated agent: the project's fake dataplane, driven by the
agent's own cached kernel view and reconciler (``l2pop.agent.kernel`` / ``reconcile``).

A real agent reconciles only the networks a watch line touches against a cached
view of the kernel; this does the same, so the simulator costs what an agent
costs. Taps are plugged and unplugged the way Nova does it: create the device,
nothing else; the reconciler attaches it.
"""

from __future__ import annotations

from l2pop.agent.desired import Held
from l2pop.agent.kernel import KernelView, Scope
from l2pop.agent.metrics import AgentMetrics
from l2pop.core import Entries, Host, HostState
from l2pop.core.wire import HostPort
from l2pop.dataplane.base import Mode, tap_name
from l2pop.dataplane.fake import FakeDataplane

__all__ = ["AgentPlane", "by_vni"]


def by_vni(state: HostState) -> dict[int, tuple[int, Entries]]:
    """A host state keyed the way the kernel is: VNI -> (MTU, entries)."""
    return {net.vni: (net.mtu, net.entries) for net in state.networks.values()}


class AgentPlane:
    """One host's fake kernel and the agent's view of it."""

    def __init__(self, host: Host, metrics: AgentMetrics, mode: Mode = Mode.PROXY) -> None:
        self.dataplane = FakeDataplane(mode, host.tunnel_ip)
        self.view = KernelView(self.dataplane, mode=mode, local_ip=host.tunnel_ip, metrics=metrics)

    async def full(self, held: Held) -> int:
        """After a list: read the kernel, reconcile everything; the ops applied."""
        self.view.stale = True
        return len(await self.view.reconcile(held, None))

    async def change(self, held: Held, networks: set[str], vnis: set[int]) -> int:
        """After ``held.advance`` of a batch of lines: reconcile only what they touched."""
        return len(await self.view.reconcile(held, Scope(frozenset(networks), frozenset(vnis))))

    async def plug(self, held: Held, port: HostPort) -> int:
        """A VM's tap appears for ``port``: attach it (a scoped reconcile)."""
        tap = tap_name(port.id)
        if tap not in self.dataplane.kernel.links:
            self.dataplane.kernel.add_tap(tap)
        self.view.taps.add(tap)
        return len(await self.view.reconcile(held, Scope(frozenset({port.network_id}))))

    def unplug(self, port_id: str) -> None:
        """The VM left (deleted or migrated away): its tap goes."""
        tap = tap_name(port_id)
        self.dataplane.kernel.delete_link(tap)
        self.view.tap_gone(tap)

    def held_by_vni(self) -> dict[int, tuple[int, Entries]]:
        """What the fake kernel holds, read back through the dataplane."""
        return {vni: (k.mtu, k.entries) for vni, k in self.dataplane.read().items()}

    def entry_count(self) -> int:
        return sum(len(k.entries) for k in self.dataplane.read().values())
