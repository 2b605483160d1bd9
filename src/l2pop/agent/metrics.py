"""The agent's Prometheus metrics, in a registry of its own (no process globals)."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from l2pop.dataplane.base import Op

__all__ = ["AgentMetrics"]


class AgentMetrics:
    """Every metric the agent exports; names start with ``l2pop_agent_``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.entries = Gauge(
            "l2pop_agent_entries_programmed",
            "Flood, unicast and neighbour entries the agent holds in the kernel",
            registry=r,
        )
        self.networks = Gauge(
            "l2pop_agent_networks", "Networks (bridge + VXLAN device) the agent holds", registry=r
        )
        self.ops = Counter(
            "l2pop_agent_ops_applied", "Dataplane operations applied", ["op"], registry=r
        )
        self.reconcile_seconds = Histogram(
            "l2pop_agent_reconcile_seconds",
            "Time to plan and apply one reconcile",
            ["kind"],
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0),
            registry=r,
        )
        self.watch_reconnects = Counter(
            "l2pop_agent_watch_reconnects", "Watch streams opened again after the first", registry=r
        )
        self.relists = Counter(
            "l2pop_agent_relists", "Lists of the host's whole state", ["reason"], registry=r
        )
        self.last_revision = Gauge(
            "l2pop_agent_last_revision", "Revision of the held desired state", registry=r
        )
        self.bad_input = Counter(
            "l2pop_agent_bad_input", "Server answers or watch lines rejected", ["kind"], registry=r
        )
        self.dataplane_errors = Counter(
            "l2pop_agent_dataplane_errors", "Dataplane applies that failed", registry=r
        )
        self.status_reports = Counter(
            "l2pop_agent_port_status_reports",
            "Port status reports sent",
            ["status", "result"],
            registry=r,
        )
        self.server_connected = Gauge(
            "l2pop_agent_server_connected", "1 while a watch stream is open", registry=r
        )
        self.drift_repairs = Counter(
            "l2pop_agent_drift_repairs",
            "Periodic resyncs that found the kernel differing and fixed it",
            registry=r,
        )

    def count_ops(self, ops: Sequence[Op]) -> None:
        for op in ops:
            self.ops.labels(type(op).__name__).inc()
