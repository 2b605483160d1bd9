"""What the agent believes the kernel holds, and reconciling it toward the held state.

Reading the whole kernel for every watch line would cost O(all entries) per
change; instead the view keeps the last read and, after a successful apply,
records what the touched networks now hold (exactly what the plan made them
hold). Drift repair re-reads the kernel periodically and corrects the view
along with the kernel. After a failed apply the view is marked stale and the
next reconcile reads the kernel first.

The dataplane is synchronous: every call runs in a worker thread, one at a
time (the agent serializes reconciles).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from l2pop.agent.desired import Held
from l2pop.agent.metrics import AgentMetrics
from l2pop.agent.reconcile import LocalPort, plan, programmable
from l2pop.core.state import HostState, NetworkState
from l2pop.dataplane.base import (
    AttachTap,
    Dataplane,
    KernelNetwork,
    Mode,
    Op,
    bridge_name,
)

__all__ = ["KernelView", "Scope"]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Scope:
    """The part of the host a reconcile looks at: networks by id, devices by VNI."""

    networks: frozenset[str]
    vnis: frozenset[int] = frozenset()


class KernelView:
    def __init__(
        self, dataplane: Dataplane, *, mode: Mode, local_ip: str, metrics: AgentMetrics
    ) -> None:
        self._dp = dataplane
        self._mode = mode
        self._local_ip = local_ip
        self._metrics = metrics
        self.actual: dict[int, KernelNetwork] = {}
        self.taps: set[str] = set()
        self.stale = True
        self._inflight: asyncio.Future[object] | None = None

    async def _call(self, fn: Callable[[], T]) -> T:
        """Run a dataplane call in a worker thread. Cancelling the caller does not abandon
        the call: :meth:`drain` waits for it (the kernel must not be closed under it)."""
        future: asyncio.Future[T] = asyncio.ensure_future(asyncio.to_thread(fn))
        self._inflight = future  # type: ignore[assignment]
        return await asyncio.shield(future)

    async def drain(self) -> None:
        """Wait for a dataplane call still running (at shutdown)."""
        if self._inflight is not None:
            await asyncio.wait({self._inflight})

    async def read(self) -> None:
        """Read the devices the agent owns and the taps present."""
        self.actual = await self._call(self._dp.read)
        self.taps = set(await self._call(self._dp.taps))
        self.stale = False
        self._export()

    async def live(self) -> dict[int, KernelNetwork]:
        """A fresh read of the kernel, not recorded (explain's ``/kernel``: the view is
        what the agent believes, this is what is there)."""
        return await self._call(self._dp.read)

    async def reconcile(self, held: Held, scope: Scope | None = None) -> list[Op]:
        """Make the kernel hold ``held`` (all of it, or the part in ``scope``); return the
        ops applied. Raises DataplaneError (the view is then stale)."""
        started = time.perf_counter()
        if self.stale:
            await self.read()
            scope = None
        desired, actual = self._select(held.state, scope)
        ports = held.local_ports()
        ops = plan(
            desired,
            actual,
            mode=self._mode,
            ports=ports,
            taps=frozenset(self.taps),
            local_ip=self._local_ip,
        )
        if ops:
            try:
                await self._call(lambda: self._dp.apply(ops))
            except Exception:
                self.stale = True
                self._metrics.dataplane_errors.inc()
                raise
            self._metrics.count_ops(ops)
        self._record(desired, actual, ops, ports)
        kind = "full" if scope is None else "delta"
        self._metrics.reconcile_seconds.labels(kind).observe(time.perf_counter() - started)
        return ops

    def tap_gone(self, tap: str) -> None:
        self.taps.discard(tap)
        for vni, net in list(self.actual.items()):
            if tap in net.taps:
                self.actual[vni] = dataclasses.replace(net, taps=net.taps - {tap})

    def _select(
        self, state: HostState, scope: Scope | None
    ) -> tuple[HostState, dict[int, KernelNetwork]]:
        if scope is None:
            return state, dict(self.actual)
        nets = {n: state.networks[n] for n in scope.networks if n in state.networks}
        bridges = {bridge_name(n) for n in scope.networks}
        vnis = set(scope.vnis) | {net.vni for net in nets.values()}
        vnis |= {vni for vni, k in self.actual.items() if k.bridge in bridges}
        return HostState(nets), {v: self.actual[v] for v in vnis if v in self.actual}

    def _record(
        self,
        desired: HostState,
        actual: Mapping[int, KernelNetwork],
        ops: Iterable[Op],
        ports: list[LocalPort],
    ) -> None:
        """After a successful apply, the selected devices hold exactly the plan's target."""
        attached: dict[str, set[str]] = {}
        for op in ops:
            if isinstance(op, AttachTap):
                attached.setdefault(op.network_id, set()).add(op.tap)
        for vni in actual:
            self.actual.pop(vni, None)
        for net_id, net in desired.networks.items():
            old = actual.get(net.vni)
            kept = old.taps & self.taps if old is not None and old.mtu == net.mtu else set()
            self.actual[net.vni] = self._expected(
                net_id, net, ports, frozenset(kept | attached.get(net_id, set()))
            )
        self._export()

    def _expected(
        self, net_id: str, net: NetworkState, ports: list[LocalPort], taps: frozenset[str]
    ) -> KernelNetwork:
        local_macs = frozenset(m for p in ports if p.network_id == net_id for m in p.macs)
        return KernelNetwork(
            vni=net.vni,
            bridge=bridge_name(net_id),
            mtu=net.mtu,
            local_ip=self._local_ip,
            proxy=self._mode is Mode.PROXY,
            entries=programmable(net, local_macs),
            taps=taps,
        )

    def _export(self) -> None:
        self._metrics.entries.set(sum(len(k.entries) for k in self.actual.values()))
        self._metrics.networks.set(len(self.actual))
