"""A small simulation against a real `l2pop server` process, checking correctness, not speed.

50 hosts, 1,000 ports, a few hundred churn operations (boots, deletes,
migrations, agent restarts). At the end every simulated agent's fake
dataplane must equal the core's desired state for its host (computed from
the server's own listing), every watch line must be exactly the core's
delta for that host at that revision, and no host may hear about a network
it has no port on. It runs twice: with the agents in the driver's own process,
and spread over two worker processes (their apply times come back over a pipe)
talking HTTPS to a server on TLS.
"""

from __future__ import annotations

from typing import Any

import pytest

from l2pop.sim.report import build_result
from l2pop.sim.runner import SimConfig, SimRun, run_simulation
from l2pop.sim.workload import WorkloadConfig

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

CONFIG = WorkloadConfig(hosts=50, networks=15, ports=1000, events=300, seed=3)


@pytest.fixture(scope="module", params=[0, 2], ids=["in-process", "2-workers-tls"])
def small_run(request: pytest.FixtureRequest) -> tuple[SimRun, dict[str, Any]]:
    config = SimConfig(
        workers=request.param,
        tls=request.param == 2,
        workload=CONFIG,
        rate=0.0,
        concurrency=16,
        tmpfs=True,
        change_timeout_s=15.0,
        settle_timeout_s=20.0,
        time_limit_s=180.0,
    )
    run = run_simulation(config)
    return run, build_result(run, "pytest")


def test_every_change_was_accepted_and_traced(small_run: tuple[SimRun, dict[str, Any]]) -> None:
    run, result = small_run
    assert result["correctness"]["failed_examples"] == []
    assert result["changes"]["failed"] == 0
    assert result["changes"]["sent"] == run.workload.changes()
    # every change but unbound creates got its revision from its owner's line
    assert result["changes"]["unresolved"] <= sum(r.reason != "start" for r in run.tracker.relists)
    assert result["config"]["workers"] == run.config.workers


def test_every_dataplane_equals_the_cores_desired_state(
    small_run: tuple[SimRun, dict[str, Any]],
) -> None:
    run, _ = small_run
    assert run.verified_hosts == CONFIG.hosts
    assert run.verify_mismatches == []


def test_watch_lines_are_exactly_the_cores_deltas_and_reach_only_interested_hosts(
    small_run: tuple[SimRun, dict[str, Any]],
) -> None:
    _, result = small_run
    correctness = result["correctness"]
    assert correctness["foreign_network_deltas"] == 0
    assert correctness["unexpected_deliveries"] == 0
    assert correctness["missing_deliveries"] == 0
    assert correctness["deltas_differing_from_core"] == 0
    assert correctness["misfit_lines"] == 0
    assert correctness["owner_line_conflicts"] == 0


def test_an_activation_costs_exactly_the_hosts_of_its_network(
    small_run: tuple[SimRun, dict[str, Any]],
) -> None:
    _, result = small_run
    messages = result["messages"]
    assert messages["activations"] >= CONFIG.ports
    assert messages["activations_reaching_exactly_network_hosts"] == messages["activations"]
    # the same trace under Neutron's fan-out reaches every agent for every change
    assert messages["model_per_change"]["neutron"] > 5 * messages["model_per_change"]["l2pop"]


def test_restarted_agents_listed_again_and_latencies_were_measured(
    small_run: tuple[SimRun, dict[str, Any]],
) -> None:
    run, result = small_run
    restarts = sum(1 for a in run.workload.trace if type(a).__name__ == "RestartAgent")
    assert result["relists"].get("start") == CONFIG.hosts
    assert result["relists"].get("restart", 0) == restarts
    assert result["latency"]["populate"]["count"] > 0
    assert result["latency"]["churn"]["count"] > 0
    # every line the agents applied came back to the driver, wherever they ran
    assert sum(len(by_rev) for by_rev in run.tracker.lines.values()) == run.agents.totals["lines"]
    assert len(run.agents.entry_counts) == CONFIG.hosts
