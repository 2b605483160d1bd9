"""The per-host rate limit of status reports (issue #17, item 7).

One host token, with many connections, could otherwise push status changes
as fast as the store commits them (1,430/s were measured) and so push the
retained change log (10,000 revisions) past every other agent in seconds:
they would all have to list their whole state again (410).

A token bucket per host: ``burst`` reports at once, then ``rate`` per
second. The defaults (100/s, burst 2,000) bound one host to 2,000 + 60 x 100
= 8,000 revisions in its first minute, under the 10,000 of the retained log
(SQLite even keeps 10 % more before it compacts): a single host needs more
than a minute to push the oldest revision out. An agent needs far less: a
hypervisor booting 200 VMs reports 200 statuses; the benchmark's 2,400
changes/s spread over 1,000 hosts are 2.4/s each. Over the limit the answer
is ``429`` with ``Retry-After`` (the agent waits that long), counted in
``l2pop_status_reports_rate_limited_total``. The admin is not limited; each
replica keeps its own buckets (per replica is enough: a host's agent talks
to one replica at a time).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from l2pop.errors import L2popError

__all__ = ["RateLimitedError", "StatusRateLimit"]

DEFAULT_RATE = 100.0
DEFAULT_BURST = 2000


class RateLimitedError(L2popError):
    """Too many requests from one host: answered ``429`` with ``Retry-After``."""

    neutron_type = "OverQuota"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class StatusRateLimit:
    """Token buckets by host name (a host has one valid token at a time)."""

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self.limited = Counter(
            "l2pop_status_reports_rate_limited",
            "Status reports answered 429: over the host's rate limit",
            registry=registry,
        )

    def take(self, host: str) -> None:
        """Count one report of ``host``; RateLimitedError when its bucket is empty."""
        if self.rate <= 0:  # --status-rate 0: no limit
            return
        now = self._clock()
        bucket = self._buckets.get(host)
        if bucket is None:
            bucket = self._buckets[host] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return
        self.limited.inc()
        wait = max(1, math.ceil((1.0 - bucket.tokens) / self.rate))
        raise RateLimitedError(
            f"host {host} is over {self.rate:g} status reports per second "
            f"(burst {self.burst}): retry after {wait} s",
            wait,
        )
