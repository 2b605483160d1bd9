"""``l2pop sim``: simulated agents against a real server, or the cost models alone."""

from __future__ import annotations

import dataclasses
import json
import logging
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def _write_json(path: Path | None, result: Mapping[str, object]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, sort_keys=False) + "\n")
    typer.echo(f"result written to {path}")


def register(app: typer.Typer) -> None:
    @app.command("sim")
    def sim(
        hosts: int = typer.Option(
            50, min=2, help="Simulated hosts, one agent (watch client) each."
        ),
        networks: int = typer.Option(20, min=1, help="VXLAN networks."),
        ports: int = typer.Option(
            1000, min=0, help="VMs booted in the populate phase (create, bind, ACTIVE each)."
        ),
        events: int = typer.Option(
            300,
            min=0,
            help="Churn operations after populate: boot, delete, migrate, agent restart.",
        ),
        span_alpha: float = typer.Option(
            1.2,
            min=0.01,
            help="Pareto shape of the hosts-per-network law (smaller: a heavier tail, "
            "a few networks on very many hosts; most networks stay on 1-3 hosts).",
        ),
        max_span: int = typer.Option(
            0, min=0, help="Cap on the hosts a network spans (0: no cap but the fabric)."
        ),
        weight_boot: float = typer.Option(4.0, min=0, help="Churn weight of a VM boot."),
        weight_delete: float = typer.Option(4.0, min=0, help="Churn weight of a VM delete."),
        weight_migrate: float = typer.Option(
            1.0, min=0, help="Churn weight of a migration to another host of the network."
        ),
        weight_restart: float = typer.Option(
            0.2, min=0, help="Churn weight of an agent restart (it lists its state again)."
        ),
        seed: int = typer.Option(1, help="Workload seed: the same seed, the same trace."),
        rate: float = typer.Option(
            200.0, min=0, help="Churn pace in API changes per second (0: as fast as possible)."
        ),
        populate_rate: float = typer.Option(
            0.0, min=0, help="Populate pace in changes per second (0: as fast as possible)."
        ),
        concurrency: int = typer.Option(32, min=1, help="API calls in flight at most."),
        workers: int = typer.Option(
            -1,
            min=-1,
            help="Processes running the simulated agents, hosts shared out round robin "
            "(0: all in the driver's process; -1: one per core, at most 4).",
        ),
        change_timeout: float = typer.Option(
            10.0, min=0.1, help="Seconds one change may take (answer + owner's watch line)."
        ),
        settle_timeout: float = typer.Option(
            30.0, min=0, help="Seconds agents get to catch up after the last change."
        ),
        time_limit: float = typer.Option(
            1800.0, min=1, help="Hard limit in seconds on the whole run, setup included."
        ),
        output: Annotated[
            Path | None,
            typer.Option(
                "--output", "-o", help="Write the JSON result here (small; fit to commit)."
            ),
        ] = None,
        workdir: Annotated[
            Path | None,
            typer.Option(help="Keep the server's database and log here (default: a temp dir)."),
        ] = None,
        server_arg: Annotated[
            list[str] | None,
            typer.Option(help="Extra argument for `l2pop server` (repeat for several)."),
        ] = None,
        tls: bool = typer.Option(
            False,
            "--tls",
            help="Run the server on HTTPS (a CA made for the run): every simulated agent "
            "and the driver speak TLS.",
        ),
        tmpfs: bool = typer.Option(
            False,
            help="Put the server's database on /dev/shm: fsync is free there, so the run "
            "measures the control plane's CPU rather than the disk's flush latency.",
        ),
        model_only: bool = typer.Option(
            False, help="Only count the three models on the trace; start no server."
        ),
        progress: bool = typer.Option(True, help="Show a progress bar while actions run."),
    ) -> None:
        """Simulate N hosts against a real `l2pop server` and measure convergence.

        Starts `l2pop server` on 127.0.0.1 (a free port, a temporary SQLite
        database), registers every host with its own token and runs one
        simulated agent per host: a real HTTP list + watch client with the fake
        dataplane and the reconciler. A seeded workload then boots VMs (create,
        bind, ACTIVE reported by the agent), deletes, migrates them and restarts
        agents. Reports, per port change, the time from API acknowledgement to
        every interested agent having applied it, messages and bytes per change,
        entries per host, server CPU and RSS, relists; and the same trace counted
        under l2pop, Neutron fan-out and flood-and-learn.
        """
        from l2pop.sim.workload import WorkloadConfig

        workload = WorkloadConfig(
            hosts=hosts,
            networks=networks,
            ports=ports,
            events=events,
            span_alpha=span_alpha,
            max_span=max_span or None,
            weight_boot=weight_boot,
            weight_delete=weight_delete,
            weight_migrate=weight_migrate,
            weight_restart=weight_restart,
            seed=seed,
        )
        command = shlex.join(["l2pop", *sys.argv[1:]])
        if model_only:
            _model_only(workload, output)
            return
        from l2pop.sim.runner import SimConfig, default_workers

        config = SimConfig(
            workload=workload,
            rate=rate,
            populate_rate=populate_rate,
            concurrency=concurrency,
            change_timeout_s=change_timeout,
            settle_timeout_s=settle_timeout,
            time_limit_s=time_limit,
            workdir=workdir,
            server_args=tuple(server_arg or ()),
            tmpfs=tmpfs,
            tls=tls,
            workers=default_workers() if workers < 0 else workers,
        )
        result = run_and_report(config, command, progress)
        _write_json(output, result)


def run_and_report(config: object, command: str, progress: bool) -> dict[str, object]:
    """Run one simulation with a progress bar; print and return its result."""
    from rich.progress import BarColumn, MofNCompleteColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    from l2pop.sim.report import build_result, print_summary
    from l2pop.sim.runner import SimConfig, run_simulation

    assert isinstance(config, SimConfig)
    # A simulated agent's client logs every keep-alive connection the server closed
    # under it (it retries at once); thousands of agents would flood the terminal.
    logging.getLogger("l2pop.agent").setLevel(logging.ERROR)
    with RichProgress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not progress,
        transient=False,
    ) as bar:
        tasks: dict[str, object] = {}

        def report(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done)  # type: ignore[arg-type]

        run = run_simulation(config, report)
    result = build_result(run, command)
    print_summary(result)
    return result


def _model_only(workload: object, output: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from l2pop.sim.models import evaluate
    from l2pop.sim.workload import WorkloadConfig, generate

    assert isinstance(workload, WorkloadConfig)
    generated = generate(workload)
    costs = evaluate(generated.fabric, generated.trace)
    result = {"config": dataclasses.asdict(workload), "models": costs.as_json()}
    table = Table(title=f"models on {len(generated.trace)} actions, {workload.hosts} hosts")
    for column in ("model", "messages", "entries", "messages per change"):
        table.add_column(column, justify="right")
    for model, totals in costs.totals.items():
        summary = totals.as_json()
        table.add_row(
            model, str(totals.messages), str(totals.entries), str(summary["messages_per_change"])
        )
    Console().print(table)
    _write_json(output, result)
