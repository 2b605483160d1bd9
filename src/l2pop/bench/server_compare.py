"""SQLite and etcd benched back to back: the ratios the HA goals are stated in.

The machine is shared and noisy, so absolute figures move from run to run;
ratios of two runs made one right after the other move much less.
"""

from __future__ import annotations

from typing import Any

__all__ = ["GOALS", "compare"]

# Issue 16: etcd x3 >= 0.7x SQLite changes/s, >= 0.5x raw etcd, CPU <= 1.3x.
GOALS = {
    "etcd_vs_sqlite_changes_per_s": (">=", 0.7),
    "etcd_vs_raw_etcd_changes_per_s": (">=", 0.5),
    "etcd_vs_sqlite_cpu_ms_per_change": ("<=", 1.3),
}


def compare(sqlite: dict[str, Any], etcd: dict[str, Any]) -> dict[str, Any]:
    """Both results and their ratios, each with whether its goal is met."""
    ratios = {
        "etcd_vs_sqlite_changes_per_s": etcd["changes_per_s"] / max(1.0, sqlite["changes_per_s"]),
        "etcd_vs_raw_etcd_changes_per_s": etcd["changes_per_s_vs_raw_etcd"],
        "etcd_vs_sqlite_cpu_ms_per_change": etcd["server_cpu_ms_per_change"]
        / max(1e-9, sqlite["server_cpu_ms_per_change"]),
    }
    goals = {}
    for name, value in ratios.items():
        op, bound = GOALS[name]
        goals[name] = {
            "ratio": round(value, 3),
            "goal": f"{op} {bound}",
            "met": value >= bound if op == ">=" else value <= bound,
        }
    return {"sqlite": sqlite, "etcd": etcd, "ratios": goals}
