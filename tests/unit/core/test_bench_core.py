"""``l2pop bench core`` on a tiny fabric: it runs both ways, checks they agree, and
reports per-change times and their ratio."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from l2pop.bench.core import CoreBenchConfig, run_core_bench
from l2pop.cli import build_app


def test_a_tiny_run_compares_step_all_with_the_yardstick() -> None:
    cfg = CoreBenchConfig(hosts=12, networks=3, ports=60, hosts_per_network=4, batch=16,
                          revisions=20)  # fmt: skip
    result = run_core_bench(cfg)
    assert result["config"]["batch"] == 16
    assert result["ms_per_change"]["step_all"] > 0
    assert result["ms_per_change"]["recompute"] > 0
    assert result["hosts_with_a_delta_per_revision"] > 0
    ratio = result["ms_per_change"]["step_all"] / result["ms_per_change"]["recompute"]
    assert abs(result["step_all_vs_recompute"] - ratio) < 0.01


def test_the_command_prints_json_and_refuses_a_batch_over_the_ports() -> None:
    runner = CliRunner()
    app = build_app()
    args = ["bench", "core", "--hosts", "8", "--networks", "2", "--ports", "30",
            "--hosts-per-network", "3", "--batch", "8", "--revisions", "5"]  # fmt: skip
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["config"]["revisions"] == 5
    refused = runner.invoke(app, [*args[:-4], "--batch", "31", "--revisions", "5"])
    assert refused.exit_code == 2
    assert "at most --ports" in refused.output
