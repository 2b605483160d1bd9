"""A run's result as JSON (small enough to commit) and as a summary table."""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from l2pop.sim.analysis import RunAnalysis, analyse, percentile, summarize_ms
from l2pop.sim.models import TraceCosts, evaluate
from l2pop.sim.runner import SimRun
from l2pop.sim.trace import ActivatePort

__all__ = ["build_result", "machine", "print_summary"]

CDF_POINTS = 200
JSON = dict[str, Any]


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages: other work on the machine shows here."""
    return [round(v, 2) for v in os.getloadavg()]


def machine() -> JSON:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if "model name" in ln), "")
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "load_average_at_report": load_average(),
    }


def _cdf(latencies_s: Sequence[float]) -> list[list[float]]:
    values = sorted(v * 1000 for v in latencies_s)
    if not values:
        return []
    return [
        [round(q, 4), round(percentile(values, q * 100), 3)]
        for q in (i / CDF_POINTS for i in range(1, CDF_POINTS + 1))
    ]


def _entries(run: SimRun) -> JSON:
    counts = sorted(run.agents.entry_counts)
    if not counts:
        return {}
    return {
        "mean": round(sum(counts) / len(counts), 2),
        "p50": percentile(counts, 50),
        "p99": percentile(counts, 99),
        "max": counts[-1],
    }


def _messages(analysis: RunAnalysis, costs: TraceCosts) -> JSON:
    """Measured against modelled, over the same changes: every API change of the trace
    (creates of unbound ports included: they cost no message in any model)."""
    measured = analysis.outcomes
    n = costs.totals["l2pop"].changes or 1
    per = {m: t.as_json()["messages_per_change"] for m, t in costs.totals.items()}
    activations = [o for o in measured if o.change.kind == ActivatePort.__name__]
    equal = sum(o.applied_hosts == o.network_hosts for o in activations)
    return {
        "measured_per_change": round(sum(o.messages for o in measured) / n, 3),
        "bytes_per_change": round(sum(o.nbytes for o in measured) / n, 1),
        "measured_lines": sum(o.messages for o in measured),
        "model_l2pop_lines": costs.totals["l2pop"].messages,
        "model_per_change": per,
        "ratio_l2pop_to_neutron": costs.as_json()["ratio_l2pop_to_neutron"],
        "activations": len(activations),
        "activations_reaching_exactly_network_hosts": equal,
    }


def build_result(run: SimRun, command: str) -> JSON:
    workload = run.workload
    analysis = analyse(
        workload.fabric, workload.trace, run.tracker, run.port_ids, run.net_ids, run.phase_of
    )
    costs = evaluate(workload.fabric, workload.trace)
    latencies = {
        phase: [
            o.latency_s for o in analysis.outcomes if o.phase == phase and o.latency_s is not None
        ]
        for phase in ("populate", "churn")
    }
    from_send: dict[str, list[float]] = {"populate": [], "churn": []}
    for o in analysis.outcomes:
        if o.from_send_s is not None and o.phase in from_send:
            from_send[o.phase].append(o.from_send_s)
    # request sent -> its 2xx came back (the API round trip, the server's queue included)
    answered: dict[str, list[float]] = {"populate": [], "churn": []}
    for c in run.tracker.changes:
        phase = run.phase_of.get(c.index)
        if c.t_ack is not None and phase in answered:
            answered[phase].append(c.t_ack - c.t_send)
    changes = Counter(run.phase_of[c.index] for c in run.tracker.changes if c.index in run.phase_of)
    throughput: JSON = {}
    for phase in ("populate", "churn"):
        seconds = run.timings.get(f"{phase}_s")
        if not seconds or not changes[phase]:
            continue
        throughput[f"{phase}_changes_per_s"] = round(changes[phase] / seconds, 1)
        # CPU time per change: what each process spent, spread over the phase's changes
        for who, figures in (("server", run.server), ("sim", run.sim_cpu)):
            percent = figures.get(f"{phase}_cpu_percent")
            if percent is not None:
                ms = percent / 100 * seconds * 1000 / changes[phase]
                throughput[f"{phase}_{who}_cpu_ms_per_change"] = round(ms, 2)
    relists = Counter(r.reason for r in run.tracker.relists)
    totals = run.agents.totals
    return {
        "command": command,
        "machine": machine(),
        "config": {
            "workload": dataclasses.asdict(workload.config),
            "rate": run.config.rate,
            "populate_rate": run.config.populate_rate,
            "concurrency": run.config.concurrency,
            "workers": run.config.workers,
        },
        "fabric": {
            "hosts": len(workload.fabric.hosts),
            "networks": len(workload.fabric.networks),
            "largest_network_hosts": max((len(s) for s in workload.spans.values()), default=0),
            "ports_at_end": sum(
                len(n.ports) for n in (costs.final.networks.values() if costs.final else [])
            ),
        },
        "timings_s": {k: round(v, 3) for k, v in run.timings.items()},
        "throughput": throughput,
        "changes": {
            "sent": len(run.tracker.changes),
            "failed": analysis.failed,
            "late": sum(c.late for c in run.tracker.changes),
            "skipped": run.skipped,
            "unresolved": analysis.unresolved,
            "measured": len(analysis.outcomes),
        },
        "latency": {phase: summarize_ms(values) for phase, values in latencies.items()},
        "latency_from_send": {phase: summarize_ms(values) for phase, values in from_send.items()},
        "api_answer": {phase: summarize_ms(values) for phase, values in answered.items()},
        "latency_cdf_ms": {phase: _cdf(values) for phase, values in latencies.items()},
        "messages": _messages(analysis, costs),
        "correctness": {
            "verified_hosts": run.verified_hosts,
            "dataplane_mismatches": len(run.verify_mismatches),
            "mismatch_examples": run.verify_mismatches[:5],
            "missing_deliveries": analysis.missing,
            "unexpected_deliveries": analysis.unexpected,
            "deltas_differing_from_core": analysis.mismatched,
            "fault_examples": analysis.examples,
            "owner_line_conflicts": run.tracker.owner_conflicts,
            "foreign_network_deltas": totals.get("foreign_deltas", 0),
            "watch_errors": totals.get("watch_errors", 0),
            "status_report_retries": totals.get("report_retries", 0),
            "misfit_lines": totals.get("misfits", 0),
            "failed_examples": [c.error for c in run.tracker.changes if c.error][:5],
            "late_owner_lines": sum(c.late for c in run.tracker.changes),
        },
        "entries_per_host": _entries(run),
        "server": {k: round(v, 1) for k, v in run.server.items()},
        "sim_process": {k: round(v, 1) for k, v in run.sim_cpu.items()},
        "relists": dict(relists),
        "bookmarks": run.tracker.bookmarks,
        "models": costs.as_json(),
    }


def print_summary(result: JSON, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title="l2pop sim", show_header=True)
    table.add_column("measure")
    table.add_column("value", justify="right")
    fabric = result["fabric"]
    table.add_row(
        "hosts / networks / ports at end",
        f"{fabric['hosts']} / {fabric['networks']} / {fabric['ports_at_end']}",
    )
    for phase, stats in result["latency"].items():
        if stats.get("count"):
            table.add_row(
                f"{phase} apply latency p50/p95/p99/max (ms)",
                f"{stats['p50_ms']} / {stats['p95_ms']} / {stats['p99_ms']} / {stats['max_ms']}",
            )
    for phase, stats in result.get("latency_from_send", {}).items():
        if stats.get("count"):
            table.add_row(
                f"{phase} request sent -> applied p50/p95/p99/max (ms)",
                f"{stats['p50_ms']} / {stats['p95_ms']} / {stats['p99_ms']} / {stats['max_ms']}",
            )
    for phase, stats in result.get("api_answer", {}).items():
        if stats.get("count"):
            table.add_row(
                f"{phase} request sent -> 2xx p50/p95/p99/max (ms)",
                f"{stats['p50_ms']} / {stats['p95_ms']} / {stats['p99_ms']} / {stats['max_ms']}",
            )
    for key, value in result["throughput"].items():
        table.add_row(key.replace("_", " "), str(value))
    messages = result["messages"]
    table.add_row("messages per change (measured)", str(messages["measured_per_change"]))
    table.add_row("bytes per change (measured)", str(messages["bytes_per_change"]))
    for model, per in messages["model_per_change"].items():
        table.add_row(f"model {model}: messages per change", str(per))
    table.add_row("ratio l2pop / Neutron fan-out", str(messages["ratio_l2pop_to_neutron"]))
    table.add_row(
        "activations reaching exactly the network's hosts",
        f"{messages['activations_reaching_exactly_network_hosts']} / {messages['activations']}",
    )
    entries = result["entries_per_host"]
    if entries:
        table.add_row(
            "entries per host mean/p99/max",
            f"{entries['mean']} / {entries['p99']} / {entries['max']}",
        )
    for key, value in result["server"].items():
        table.add_row(f"server {key.replace('_', ' ')}", str(value))
    for key, value in result["sim_process"].items():
        table.add_row(f"simulator {key.replace('_', ' ')}", str(value))
    table.add_row("relists", ", ".join(f"{k}: {v}" for k, v in result["relists"].items()))
    for key, value in result["correctness"].items():
        if not isinstance(value, list):
            table.add_row(key.replace("_", " "), str(value))
    console.print(table)
