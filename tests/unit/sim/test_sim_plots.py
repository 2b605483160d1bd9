"""The scale sweep's model points and the three figures, on a small fabric."""

from __future__ import annotations

from pathlib import Path

from l2pop.bench.sim import ScaleLaw, model_point
from l2pop.sim.plots import plot_all


def test_model_points_grow_neutron_with_the_fabric_and_l2pop_with_networks() -> None:
    law = ScaleLaw(ports_per_host=5, networks_per_host=0.3, events_per_host=1, seed=1)
    small, large = model_point(20, law), model_point(80, law)
    # Neutron reaches every agent: at least the fabric size per change (creates cost 0)
    assert large["model"]["neutron"] > 3 * small["model"]["neutron"]
    for point in (small, large):
        assert point["model"]["l2pop"] < point["model"]["neutron"] / 5
        assert point["entries"]["mean"] <= point["entries"]["p99"] <= point["entries"]["max"]


def test_plots_are_written_as_png_and_svg(tmp_path: Path) -> None:
    law = ScaleLaw(ports_per_host=3, networks_per_host=0.3, events_per_host=0, seed=1)
    points = [model_point(n, law) for n in (10, 20)]
    points[0]["measured"] = points[0]["model"]["l2pop"]
    points[0]["measured_mean"] = points[0]["entries"]["mean"]
    cdf = {"10 hosts": {"churn": [[0.5, 1.0], [1.0, 4.0]]}}
    paths = plot_all(cdf, points, tmp_path)
    names = sorted(p.name for p in paths)
    assert names == sorted(
        f"{stem}.{ext}"
        for stem in ("convergence_cdf", "messages_per_change", "entries_per_host")
        for ext in ("png", "svg")
    )
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG") if path.suffix == ".png" else b"<svg" in data[:2000]
