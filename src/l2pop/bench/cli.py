"""``l2pop bench``: one group; each benchmark module adds its sub-command.

A module that is not built yet is simply absent (as in ``l2pop.cli``).
"""

from __future__ import annotations

import importlib

import typer

__all__ = ["register"]

# Modules exposing ``register(bench: typer.Typer) -> None``.
BENCH_MODULES = (
    "l2pop.bench.server",
    "l2pop.bench.dataplane",
    "l2pop.bench.sim",
    "l2pop.bench.ipam",
    "l2pop.bench.core",
)


def register(app: typer.Typer) -> None:
    bench = typer.Typer(
        name="bench", help="Benchmarks: server, dataplane, sim, ipam, core.", no_args_is_help=True
    )
    for name in BENCH_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(bench)
    app.add_typer(bench, name="bench")
