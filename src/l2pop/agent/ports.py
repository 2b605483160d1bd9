"""Port status: what to report for a port given its tap, and a reporter that sends it.

The rule (DESIGN.md §5): a bound port whose tap is present is ``ACTIVE``
(unless it is administratively down: the server would keep it ``DOWN``
anyway); an ``ACTIVE`` port whose tap is absent is ``DOWN``; a ``BUILD`` or
``DOWN`` port without a tap stays as it is (the VM is not plugged yet).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from l2pop.agent.backoff import Backoff
from l2pop.agent.client import HostApi, RateLimited
from l2pop.agent.config import BackoffPolicy
from l2pop.agent.metrics import AgentMetrics
from l2pop.core.model import PortStatus
from l2pop.core.wire import HostPort
from l2pop.dataplane.base import tap_name
from l2pop.errors import AuthError, L2popError, ServerUnreachableError

__all__ = ["StatusReporter", "status_to_report", "statuses_to_report"]

log = logging.getLogger(__name__)


def status_to_report(port: HostPort, taps: Iterable[str] | set[str]) -> PortStatus | None:
    """The status the agent should report for ``port``, or None if it is right."""
    present = tap_name(port.id) in taps
    if present and port.admin_state_up and port.status is not PortStatus.ACTIVE:
        return PortStatus.ACTIVE
    if not present and port.status is PortStatus.ACTIVE:
        return PortStatus.DOWN
    return None


def statuses_to_report(ports: Iterable[HostPort], taps: set[str]) -> dict[str, PortStatus]:
    wanted = {p.id: status_to_report(p, taps) for p in ports if not p.deleted}
    return {port_id: status for port_id, status in wanted.items() if status is not None}


class StatusReporter:
    """Sends status reports in the background; the newest wish per port wins, and a
    report that could not reach any server is retried with backoff."""

    def __init__(self, api: HostApi, metrics: AgentMetrics, backoff: BackoffPolicy) -> None:
        self._api = api
        self._metrics = metrics
        self._backoff = Backoff(backoff)
        self._pending: dict[str, PortStatus] = {}
        self._wake = asyncio.Event()

    def report(self, port_id: str, status: PortStatus) -> None:
        self._pending[port_id] = status
        self._wake.set()

    def pending(self) -> dict[str, PortStatus]:
        return dict(self._pending)

    async def run(self) -> None:
        """Forever: send what is pending. Cancel to stop (pending reports are dropped:
        the next start reports from what the kernel shows)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                port_id, status = next(iter(self._pending.items()))
                try:
                    done = await self._send(port_id, status)
                except RateLimited as exc:
                    # The server's rate limit (429): wait as long as it asks, then
                    # go on with the newest wishes (not a failure: no backoff).
                    self._metrics.status_reports.labels(status.value, "rate_limited").inc()
                    log.info("status reports rate-limited: waiting %.1f s", exc.retry_after)
                    await asyncio.sleep(exc.retry_after)
                    continue
                if done:
                    # A newer wish for the same port may have arrived meanwhile.
                    if self._pending.get(port_id) is status:
                        del self._pending[port_id]
                    self._backoff.reset()
                else:
                    await asyncio.sleep(self._backoff.next_delay())

    async def _send(self, port_id: str, status: PortStatus) -> bool:
        """True when the report is done with (sent, or refused for good); RateLimited."""
        try:
            await self._api.report_status(port_id, status)
        except RateLimited:
            raise
        except (ServerUnreachableError, AuthError) as exc:
            self._metrics.status_reports.labels(status.value, "retry").inc()
            log.warning("port %s: status %s not reported yet: %s", port_id, status.value, exc)
            return False
        except L2popError as exc:
            self._metrics.status_reports.labels(status.value, "refused").inc()
            log.warning("port %s: server refused status %s: %s", port_id, status.value, exc)
            return True
        self._metrics.status_reports.labels(status.value, "ok").inc()
        log.info("port %s reported %s", port_id, status.value)
        return True
