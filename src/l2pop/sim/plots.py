"""The three figures of the scale study, PNG and SVG (matplotlib, Agg backend).

* ``convergence_cdf``: cumulative distribution of the time from API
  acknowledgement to every interested agent having applied a change;
* ``messages_per_change``: messages per port change against fabric size,
  for l2pop, Neutron fan-out and flood-and-learn (model lines; simulated
  points where a real server and agents ran);
* ``entries_per_host``: forwarding entries a host holds against fabric size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_all", "plot_cdf", "plot_entries", "plot_messages"]

JSON = dict[str, Any]
COLORS = {"l2pop": "#1b7837", "neutron": "#b2182b", "flood": "#2166ac"}
LABELS = {
    "l2pop": "l2pop (this project)",
    "neutron": "Neutron fan-out (model)",
    "flood": "flood-and-learn: frame copies (model)",
}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, out_dir: Path, name: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.png", out_dir / f"{name}.svg"]
    for path in paths:
        fig.savefig(path, dpi=120, bbox_inches="tight", metadata=_metadata(path))
    _pyplot().close(fig)
    return paths


def _metadata(path: Path) -> dict[str, Any]:
    # No creation date, so re-running the bench does not rewrite unchanged figures.
    if path.suffix == ".svg":
        return {"Date": None}
    return {"Software": "l2pop bench sim"}


Cdf = Mapping[str, Mapping[str, Sequence[Sequence[float]]]]


def plot_cdf(runs: Cdf, out_dir: Path) -> list[Path]:
    """``runs``: label -> phase -> [[fraction, ms], ...] (a result's ``latency_cdf_ms``)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, phases in runs.items():
        for phase, points in phases.items():
            if points:
                ax.plot(
                    [p[1] for p in points],
                    [p[0] for p in points],
                    label=f"{label}, {phase}",
                    drawstyle="steps-post",
                )
    ax.axvline(100, color="grey", linestyle="--", linewidth=1)
    ax.text(100, 0.02, " 100 ms target", color="grey", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("API acknowledgement -> every interested agent applied (ms, log)")
    ax.set_ylabel("fraction of port changes")
    ax.set_title("Convergence latency (real server, simulated agents)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, out_dir, "convergence_cdf")


def plot_messages(points: Sequence[JSON], out_dir: Path) -> list[Path]:
    """``points``: dicts with ``hosts``, ``model`` {model: per change}, optional ``measured``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    hosts = [p["hosts"] for p in points]
    for model in ("neutron", "flood", "l2pop"):
        ax.plot(
            hosts,
            [p["model"][model] for p in points],
            marker="o",
            color=COLORS[model],
            label=LABELS[model],
        )
    simulated = [p for p in points if p.get("measured") is not None]
    if simulated:
        ax.scatter(
            [p["hosts"] for p in simulated],
            [p["measured"] for p in simulated],
            marker="x",
            s=80,
            color="black",
            zorder=5,
            label="l2pop measured (real server, simulated agents)",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("hosts in the fabric")
    ax.set_ylabel("messages per port change")
    ax.set_title("Messages per port change vs fabric size (same workload law)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, out_dir, "messages_per_change")


def plot_entries(points: Sequence[JSON], out_dir: Path) -> list[Path]:
    """``points``: dicts with ``hosts`` and ``entries`` {mean, max}, optional ``measured_mean``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    counted = [p for p in points if p.get("entries")]
    hosts = [p["hosts"] for p in counted]
    ax.plot(hosts, [p["entries"]["mean"] for p in counted], marker="o", label="mean per host")
    ax.plot(hosts, [p["entries"]["p99"] for p in counted], marker="^", label="p99 per host")
    ax.plot(hosts, [p["entries"]["max"] for p in counted], marker="s", label="busiest host")
    simulated = [p for p in points if p.get("measured_mean") is not None]
    if simulated:
        ax.scatter(
            [p["hosts"] for p in simulated],
            [p["measured_mean"] for p in simulated],
            marker="x",
            s=80,
            color="black",
            zorder=5,
            label="mean measured in the fake dataplanes",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("hosts in the fabric")
    ax.set_ylabel("flood + unicast + neigh entries")
    ax.set_title("Forwarding entries per host (l2pop: only networks the host serves)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, out_dir, "entries_per_host")


def plot_all(
    cdf_runs: Cdf,
    points: Sequence[JSON],
    out_dir: Path,
) -> list[Path]:
    paths: list[Path] = []
    if cdf_runs:
        paths += plot_cdf(cdf_runs, out_dir)
    if points:
        paths += plot_messages(points, out_dir)
        paths += plot_entries(points, out_dir)
    return paths
