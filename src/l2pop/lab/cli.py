"""``l2pop lab``: lab housekeeping (``clean``; ``up``/``down``/``status`` come with the demo)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]

DEFAULT_STATE_DIR = Path("/run/l2pop-lab")  # = l2pop.lab.registry's; not imported for speed


def register(app: typer.Typer) -> None:
    lab = typer.Typer(
        name="lab",
        help="The namespace lab: hosts and VMs as network namespaces on one underlay.",
        no_args_is_help=True,
    )

    @lab.command("clean")
    def clean(
        all_runs: Annotated[
            bool,
            typer.Option("--all", help="Also remove runs whose owner is alive and labs kept up."),
        ] = False,
        state_dir: Annotated[
            Path, typer.Option(help="Where lab runs record their owner.")
        ] = DEFAULT_STATE_DIR,
    ) -> None:
        """Remove the namespaces, links and processes left behind by crashed lab runs."""
        from l2pop.lab.registry import clean as clean_runs

        report = clean_runs(state_dir, include_live=all_runs)
        for prefix in report.prefixes:
            typer.echo(f"removed lab run {prefix}")
        typer.echo(
            f"removed {len(report.namespaces)} namespace(s), {len(report.links)} root link(s), "
            f"killed {report.killed} process(es)"
        )
        for prefix in report.skipped_live:
            typer.echo(f"kept {prefix}: its owner is alive or it was kept up (use --all)")

    app.add_typer(lab)
