"""``l2pop bench sim``: the scale study behind docs/sim.md and its figures.

1. *model sweep*: the cost models on the same workload law at growing fabric
   sizes (ports and networks grow with the hosts), far past what one machine
   can simulate;
2. *simulated runs*: a real server and one simulated agent per host at the
   sizes the machine allows: convergence latency, measured messages, entries;
3. *memory*: server RSS with many ports and hosts loaded through the API;
4. the figures (PNG + SVG) and one small JSON per part.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["ScaleLaw", "model_point", "register"]

JSON = dict[str, Any]


class ScaleLaw:
    """How the workload grows with the number of hosts."""

    def __init__(
        self, ports_per_host: float, networks_per_host: float, events_per_host: float, seed: int
    ) -> None:
        self.ports_per_host = ports_per_host
        self.networks_per_host = networks_per_host
        self.events_per_host = events_per_host
        self.seed = seed

    def config(self, hosts: int) -> Any:
        from l2pop.sim.workload import WorkloadConfig

        return WorkloadConfig(
            hosts=hosts,
            networks=max(1, round(hosts * self.networks_per_host)),
            ports=round(hosts * self.ports_per_host),
            events=round(hosts * self.events_per_host),
            seed=self.seed,
        )


def model_point(hosts: int, law: ScaleLaw) -> JSON:
    """The three models and the l2pop entries per host at one fabric size."""
    from l2pop.core import desired
    from l2pop.sim.analysis import percentile
    from l2pop.sim.models import evaluate
    from l2pop.sim.workload import generate

    workload = generate(law.config(hosts))
    costs = evaluate(workload.fabric, workload.trace)
    assert costs.final is not None
    counts = sorted(desired(costs.final, h.name).entry_count() for h in workload.fabric.hosts)
    per = {m: t.as_json()["messages_per_change"] for m, t in costs.totals.items()}
    return {
        "hosts": hosts,
        "ports": workload.config.ports,
        "networks": workload.config.networks,
        "changes": costs.totals["l2pop"].changes,
        "model": per,
        "ratio_l2pop_to_neutron": costs.as_json()["ratio_l2pop_to_neutron"],
        "entries": {
            "mean": round(sum(counts) / len(counts), 2),
            "p99": percentile(counts, 99),
            "max": counts[-1],
        },
    }


def _sizes(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _write(path: Path, data: JSON) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")
    typer.echo(f"wrote {path}")


def _simulate(
    hosts: int, law: ScaleLaw, rate: float, tmpfs: bool, progress: bool, command: str
) -> JSON:
    from l2pop.sim.cli import run_and_report
    from l2pop.sim.runner import SimConfig

    config = SimConfig(workload=law.config(hosts), rate=rate, time_limit_s=3600.0, tmpfs=tmpfs)
    return run_and_report(config, command, progress)


def run_bench(
    model_sizes: Sequence[int],
    sim_sizes: Sequence[int],
    law: ScaleLaw,
    rate: float,
    tmpfs: bool,
    results_dir: Path,
    plots_dir: Path,
    progress: bool,
) -> None:
    from l2pop.sim.plots import plot_all
    from l2pop.sim.report import machine

    command = shlex.join(["l2pop", *sys.argv[1:]])
    points = []
    for hosts in model_sizes:
        started = time.perf_counter()
        points.append(model_point(hosts, law))
        typer.echo(
            f"model at {hosts} hosts: {points[-1]['model']} ({time.perf_counter() - started:.1f} s)"
        )
    by_hosts = {p["hosts"]: p for p in points}
    if points:  # written now too: the simulated runs may take long
        _write(results_dir / "sim-scale.json", {"command": command, "points": points})
    cdf: dict[str, Any] = {}
    for hosts in sim_sizes:
        result = _simulate(hosts, law, rate, tmpfs, progress, command)
        _write(results_dir / f"sim-{hosts}-hosts.json", result)
        cdf[f"{hosts} hosts"] = {"churn": result["latency_cdf_ms"]["churn"]}
        point = by_hosts.get(hosts)
        if point is not None:
            point["measured"] = result["messages"]["measured_per_change"]
            point["measured_mean"] = result["entries_per_host"].get("mean")
    if not points:
        return  # nothing modelled (a memory-only run): keep the last scale study
    _write(
        results_dir / "sim-scale.json", {"command": command, "machine": machine(), "points": points}
    )
    for path in plot_all(cdf, points, plots_dir):
        typer.echo(f"plotted {path}")


def replot(results_dir: Path, plots_dir: Path) -> list[Path]:
    """Redraw the figures from the JSON results already written (no run)."""
    from l2pop.sim.plots import plot_all

    scale = json.loads((results_dir / "sim-scale.json").read_text())
    points = scale["points"]
    by_hosts = {p["hosts"]: p for p in points}
    cdf: dict[str, Any] = {}
    runs = sorted(results_dir.glob("sim-*-hosts.json"), key=lambda p: int(p.name.split("-")[1]))
    for path in runs:
        result = json.loads(path.read_text())
        hosts = result["fabric"]["hosts"]
        cdf[f"{hosts} hosts"] = {"churn": result["latency_cdf_ms"]["churn"]}
        point = by_hosts.get(hosts)
        if point is not None:
            point["measured"] = result["messages"]["measured_per_change"]
            point["measured_mean"] = result["entries_per_host"].get("mean")
    target = results_dir / "sim-1000-hosts-20000-ports.json"
    if target.exists():  # the target run (1,000 hosts, 20,000 ports, 500/s asked)
        result = json.loads(target.read_text())
        cdf["1,000 hosts, 20,000 ports"] = {"churn": result["latency_cdf_ms"]["churn"]}
    return plot_all(cdf, points, plots_dir)


def register(bench: typer.Typer) -> None:
    """Add ``sim`` to the ``l2pop bench`` group."""

    @bench.command("sim")
    def sim(
        model_sizes: str = typer.Option(
            "100,300,1000,3000,10000",
            help="Fabric sizes (hosts, comma-separated) counted with the models only.",
        ),
        sim_sizes: str = typer.Option(
            "100,300,1000",
            help="Fabric sizes run for real: a server and one simulated agent per host.",
        ),
        ports_per_host: float = typer.Option(20.0, min=0, help="VMs per host at every size."),
        networks_per_host: float = typer.Option(
            0.3, min=0.001, help="Networks per host at every size (1,000 hosts: 300 networks)."
        ),
        events_per_host: float = typer.Option(
            2.0, min=0, help="Churn operations per host after populate, at every size."
        ),
        rate: float = typer.Option(500.0, min=0, help="Churn pace in changes per second."),
        tmpfs: bool = typer.Option(
            False, help="Server database on /dev/shm (fsync free: measures CPU, not the disk)."
        ),
        seed: int = typer.Option(1, help="Workload seed."),
        memory: bool = typer.Option(
            False, help="Also load --memory-ports ports on --memory-hosts hosts and read the RSS."
        ),
        memory_hosts: int = typer.Option(1000, min=1, help="Hosts for the memory run."),
        memory_ports: int = typer.Option(100_000, min=1, help="Ports for the memory run."),
        memory_networks: int = typer.Option(1000, min=1, help="Networks for the memory run."),
        memory_watchers: bool = typer.Option(
            True, help="Keep one watch stream per host open during the memory run."
        ),
        memory_concurrency: int = typer.Option(
            32, min=1, help="Port creations in flight during the memory load."
        ),
        memory_time_limit: float = typer.Option(
            1800.0,
            min=10,
            help="Seconds of loading at most; then the RSS so far and its per-port slope "
            "(linear projection to --memory-ports) are reported.",
        ),
        results_dir: Annotated[Path, typer.Option(help="Where the JSON results go.")] = Path(
            "bench/results"
        ),
        plots_dir: Annotated[Path, typer.Option(help="Where the figures go.")] = Path("docs/plots"),
        progress: bool = typer.Option(True, help="Show progress bars."),
        plots_only: bool = typer.Option(
            False, help="Only redraw the figures from the JSON results already written."
        ),
    ) -> None:
        """Scale study: models to 10,000 hosts, real runs where the machine allows, memory.

        Writes bench/results/sim-*.json and docs/plots/{convergence_cdf,
        messages_per_change,entries_per_host}.{png,svg}.
        """
        if plots_only:
            for path in replot(results_dir, plots_dir):
                typer.echo(f"plotted {path}")
            return
        law = ScaleLaw(ports_per_host, networks_per_host, events_per_host, seed)
        run_bench(
            _sizes(model_sizes),
            _sizes(sim_sizes),
            law,
            rate,
            tmpfs,
            results_dir,
            plots_dir,
            progress,
        )
        if memory:
            from l2pop.sim.memory import MemoryConfig, measure_memory

            config = MemoryConfig(
                memory_hosts,
                memory_ports,
                memory_networks,
                memory_watchers,
                concurrency=memory_concurrency,
                load_time_limit_s=memory_time_limit,
                time_limit_s=memory_time_limit + 600,
            )
            result = measure_memory(config)
            typer.echo(json.dumps(result, indent=1))
            command = shlex.join(["l2pop", *sys.argv[1:]])
            _write(results_dir / "sim-memory.json", {"command": command, **result})
