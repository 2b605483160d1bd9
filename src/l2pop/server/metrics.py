"""Prometheus metrics of one server, on its own registry (no process globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "l2pop_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.revision = Gauge("l2pop_revision", "Current store revision", registry=r)
        self.watchers = Gauge("l2pop_watchers", "Open watch streams", registry=r)
        self.deltas_sent = Counter(
            "l2pop_deltas_sent", "Watch change lines queued to hosts", registry=r
        )
        # A gauge read from the hub (it only grows): lines / writes = lines per write.
        self.watch_writes = Gauge(
            "l2pop_watch_writes",
            "Chunks written to watch streams since start (under load one carries several lines)",
            registry=r,
        )
        self.fanout = Histogram(
            "l2pop_change_fanout_hosts",
            "Hosts whose state one revision changed",
            buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000),
            registry=r,
        )
        self.write_retries = Counter(
            "l2pop_write_retries", "Writes rebuilt after losing a race", registry=r
        )
        self.watch_dropped = Counter(
            "l2pop_watch_dropped",
            "Watch streams cut for falling behind (over --watch-max-queued bytes queued)",
            registry=r,
        )
        self.watch_replaced = Counter(
            "l2pop_watch_replaced",
            "Watch streams ended because their host opened a third one",
            registry=r,
        )

        self.hosts_up = Gauge(
            "l2pop_hosts_up",
            "Hosts alive: a live etcd lease, or (SQLite) an open watch stream",
            registry=r,
        )

        self.protocol_refused = Counter(
            "l2pop_protocol_refused",
            "Requests refused for their L2pop-Protocol version (426; 'invalid': 400)",
            ["version"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
