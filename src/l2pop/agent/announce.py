"""Tell the server what this agent has applied, and where its endpoint is.

``PUT /v1/hosts/{name}/agent {"revision", "endpoint"}`` after the agent
applied a change or listed (at once when it was quiet, then at most every
``min_interval`` s while changes keep coming) and every ``heartbeat`` s
otherwise. The cap keeps the reports cheap at scale: 1,000 hosts under
constant churn send at most 1,000 / ``min_interval`` reports per second, and
a quiet fabric one per host per ``heartbeat``. A server without the route
(older) answers 404: the agent then reports only on the heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from l2pop.agent.client import HostApi
from l2pop.errors import L2popError, NotFoundError, ValidationError

__all__ = ["Announcer", "endpoint_url"]

log = logging.getLogger(__name__)

MIN_INTERVAL_S = 5.0
HEARTBEAT_S = 30.0


def endpoint_url(addr: str, port: int | None, tunnel_ip: str) -> str | None:
    """The URL of the agent's endpoint as others reach it: the bind address, or the
    tunnel IP when bound to a wildcard (the underlay is the usual management path)."""
    if port is None:
        return None
    host = tunnel_ip if addr in ("", "0.0.0.0", "::") else addr
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class Announcer:
    def __init__(
        self,
        api: HostApi,
        revision: Callable[[], int],
        endpoint: str | None,
        *,
        min_interval: float = MIN_INTERVAL_S,
        heartbeat: float = HEARTBEAT_S,
    ) -> None:
        self._api = api
        self._revision = revision
        self._endpoint = endpoint
        self._min_interval = min_interval
        self._heartbeat = heartbeat
        self._wake = asyncio.Event()
        self.sent = 0

    def poke(self) -> None:
        """Something was applied: report soon."""
        self._wake.set()

    async def run(self) -> None:
        told = False
        refused = ""  # the server's last 400, logged once: a configuration to fix
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._heartbeat)
            self._wake.clear()
            try:
                await self._api.report_agent(self._revision(), self._endpoint)
                self.sent += 1
            except NotFoundError as exc:
                if not told:
                    log.info("the server does not take agent reports (%s)", exc)
                    told = True
                await asyncio.sleep(self._heartbeat)  # an older server: the heartbeat only
                continue
            except ValidationError as exc:
                if self._endpoint is not None and "endpoint" in str(exc):
                    # An endpoint the server will not fetch (not at this host's
                    # addresses): keep reporting the revision, without it.
                    log.warning("the server refused this agent's endpoint: %s; reporting "
                                "without it (bind --metrics-addr to the tunnel IP or the "
                                "address that reaches the server)", exc)  # fmt: skip
                    self._endpoint = None
                    self._wake.set()
                elif str(exc) != refused:
                    refused = str(exc)
                    log.warning("the server refused this agent's report: %s", exc)
            except L2popError as exc:
                log.debug("agent report not sent: %s", exc)
            await asyncio.sleep(self._min_interval)
