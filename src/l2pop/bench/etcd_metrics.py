"""etcd's own counters around a bench run: raft proposals and WAL fsyncs.

Read from every member's ``/metrics`` (plain HTTP on the client URL, as the
bench's local cluster serves it). Proposals are counted on the member that
reports the most (every member applies every committed proposal, the leader
also counts its own); fsyncs and their time are summed over the members.
"""

from __future__ import annotations

import httpx

__all__ = ["EtcdCounters", "etcd_counters", "per_write"]

_NAMES = {
    "etcd_server_proposals_committed_total": "proposals",
    "etcd_disk_wal_fsync_duration_seconds_count": "fsyncs",
    "etcd_disk_wal_fsync_duration_seconds_sum": "fsync_s",
}

EtcdCounters = dict[str, float]


def etcd_counters(endpoints: str) -> EtcdCounters:
    """Current totals over the members of ``endpoints`` (``host:port,...``)."""
    totals: EtcdCounters = {"proposals": 0.0, "fsyncs": 0.0, "fsync_s": 0.0}
    for endpoint in endpoints.split(","):
        text = httpx.get(f"http://{endpoint}/metrics", timeout=5).text
        member: EtcdCounters = {}
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name in _NAMES:
                member[_NAMES[name]] = float(value)
        totals["proposals"] = max(totals["proposals"], member.get("proposals", 0.0))
        totals["fsyncs"] += member.get("fsyncs", 0.0)
        totals["fsync_s"] += member.get("fsync_s", 0.0)
    return totals


def per_write(before: EtcdCounters, after: EtcdCounters, writes: int) -> dict[str, float]:
    """etcd's work per write between two readings."""
    delta = {name: after[name] - before[name] for name in before}
    fsyncs = max(1.0, delta["fsyncs"])
    return {
        "proposals": int(delta["proposals"]),
        "proposals_per_write": round(delta["proposals"] / max(1, writes), 3),
        "wal_fsyncs_all_members": int(delta["fsyncs"]),
        "wal_fsync_mean_ms": round(1000 * delta["fsync_s"] / fsyncs, 2),
    }
