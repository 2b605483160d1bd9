"""``l2pop bench sim --plots-only`` redraws the figures from the committed results."""

from __future__ import annotations

import shutil
from pathlib import Path

from l2pop.bench.sim import replot

RESULTS = Path(__file__).resolve().parents[3] / "bench" / "results"


def test_replot_draws_every_figure_with_the_target_run_in_the_cdf(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    for name in ("sim-scale.json", "sim-100-hosts.json", "sim-1000-hosts-20000-ports.json"):
        shutil.copy(RESULTS / name, results / name)
    paths = replot(results, tmp_path / "plots")
    names = {p.name for p in paths}
    for figure in ("convergence_cdf", "messages_per_change", "entries_per_host"):
        assert {f"{figure}.png", f"{figure}.svg"} <= names
    svg = (tmp_path / "plots" / "convergence_cdf.svg").read_text()
    assert "1,000 hosts, 20,000 ports" in svg
    assert "100 hosts" in svg
