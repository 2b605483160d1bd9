"""What the agents report (applied revision, endpoint) and R, each host's last change.

R, the revision of the last change that concerned a host (its delta or its
ports), is what ``l2pop explain`` and the fabric view compare an agent's
applied revision with: the global head moves with every other host's changes
too. It is tracked from the change stream this replica applies; before the
first change after a start it is the revision the replica loaded (an upper
bound: any earlier change is at or below it, and an agent that watches gets
a bookmark at least that high within seconds).

Reports and R live in this replica's memory: an agent reports to the server
it is connected to, and a restart forgets them until the agents' next report
(at most their heartbeat later). Listeners (the fabric view's live stream)
hear of every applied change and every report.

The server fetches a reported endpoint (the fabric view's explain panel), so
a host's token must not be able to point it anywhere: an endpoint is taken
only at an IP address of that host -- its tunnel IP, or the address its
report comes from (:func:`check_endpoint_address`). Anything else, a name, a
metadata service, another host's agent, is a 400.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from l2pop.errors import ValidationError
from l2pop.server.view import Applied

__all__ = ["AgentBook", "AgentReport", "check_endpoint_address", "parse_agent_report"]

JSON = dict[str, Any]
MAX_ENDPOINT = 255


@dataclass(frozen=True, slots=True)
class AgentReport:
    revision: int
    endpoint: str | None
    reported_at: float


def parse_agent_report(body: object) -> tuple[int, str | None]:
    """``{"revision": R, "endpoint": URL | null}``; anything else is a 400."""
    if not isinstance(body, dict):
        raise ValidationError("body", body, 'expected {"revision": N, "endpoint": URL}')
    unknown = set(body) - {"revision", "endpoint"}
    if unknown:
        raise ValidationError("body", sorted(unknown), "unknown attributes")
    revision = body.get("revision")
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 0:
        raise ValidationError("revision", revision, "must be an integer >= 0")
    endpoint = body.get("endpoint")
    if endpoint is not None:
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            raise ValidationError("endpoint", endpoint, "must be an http(s) URL or null")
        if len(endpoint) > MAX_ENDPOINT or any(c.isspace() for c in endpoint):
            raise ValidationError("endpoint", endpoint[:60], "not a usable URL")
    return revision, endpoint


def check_endpoint_address(endpoint: str, host: str, allowed: Iterable[str | None]) -> None:
    """ValidationError unless ``endpoint``'s address is one of ``allowed`` (see the module)."""
    try:
        literal = urlsplit(endpoint).hostname or ""
        address = ipaddress.ip_address(literal)
    except ValueError:
        raise ValidationError(
            "endpoint", endpoint[:60], "must name an IP address, not a host name"
        ) from None
    addresses = set()
    for text in allowed:
        try:
            addresses.add(ipaddress.ip_address(text or ""))
        except ValueError:
            continue  # the test client's peer "testclient", a unix socket
    if address not in addresses:
        shown = ", ".join(sorted(str(a) for a in addresses)) or "none"
        raise ValidationError(
            "endpoint",
            endpoint[:60],
            f"must be at an address of host {host} (its tunnel IP or the address "
            f"this report comes from: {shown})",
        )


Listener = Callable[[str, object], None]


@dataclass
class AgentBook:
    floor: int = 0  # R of a host without a change since this replica started
    reports: dict[str, AgentReport] = field(default_factory=dict)
    last_change: dict[str, int] = field(default_factory=dict)
    listeners: list[Listener] = field(default_factory=list)

    def changed(self, applied: Applied) -> None:
        """One applied revision (called for every change this replica applies)."""
        for host in applied.hosts():
            self.last_change[host] = applied.revision
        for listener in self.listeners:
            listener("change", applied)

    def report(self, host: str, revision: int, endpoint: str | None) -> AgentReport:
        report = self.reports[host] = AgentReport(revision, endpoint, time.time())
        for listener in self.listeners:
            listener("agent", host)
        return report

    def forget(self, host: str) -> None:
        self.reports.pop(host, None)

    def r_of(self, host: str) -> int:
        return self.last_change.get(host, self.floor)

    def show(self, host: str, alive: bool) -> JSON:
        """The agent as the API and the fabric view show it."""
        report = self.reports.get(host)
        wanted = self.r_of(host)
        return {
            "host": host,
            "alive": alive,
            "revision": None if report is None else report.revision,
            "endpoint": None if report is None else report.endpoint,
            "reported_at": None if report is None else report.reported_at,
            "last_change": wanted,
            "in_sync": report is not None and report.revision >= wanted,
        }
